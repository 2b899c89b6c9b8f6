import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32;

/**
 * A strict decoder of application/vnd.amazon.eventstream messages (kinesis-protocol.md §6.4):
 * 12-byte prelude (u32 total length, u32 headers length, u32 CRC32 of the first 8 bytes), the
 * headers, the payload, u32 CRC32 of everything before it. Both CRCs are checked with
 * java.util.zip.CRC32; lengths, header types and names are checked as the AWS decoders do.
 */
final class EventStream {
    /** The SDK decoders' ceilings (botocore, Java): 24 MiB a message, 128 KiB of headers. */
    static final int MAX_MESSAGE = 24 << 20;
    static final int MAX_HEADERS = 128 << 10;

    static final class Message {
        final Map<String, Object> headers;
        final byte[] payload;

        Message(Map<String, Object> headers, byte[] payload) {
            this.headers = headers;
            this.payload = payload;
        }

        String header(String name) {
            Object v = headers.get(name);
            if (v != null && !(v instanceof String))
                throw Check.fail("header %s is not a string: %s", name, v);
            return (String) v;
        }

        @Override
        public String toString() {
            return headers + " payload " + payload.length + " bytes";
        }
    }

    private final DataInputStream in;

    EventStream(InputStream in) {
        this.in = new DataInputStream(in);
    }

    /** The next message, or null at a clean end of stream (EOF between messages). */
    Message next() throws IOException {
        byte[] prelude = new byte[12];
        int got = 0;
        while (got < prelude.length) {
            int n = in.read(prelude, got, prelude.length - got);
            if (n < 0) {
                if (got == 0)
                    return null;
                throw new EOFException("stream ended inside a message prelude");
            }
            got += n;
        }
        return decode(prelude, in);
    }

    /** Decodes one message whose 12-byte prelude has been read; the rest comes from rest. */
    static Message decode(byte[] prelude, DataInputStream rest) throws IOException {
        ByteBuffer p = ByteBuffer.wrap(prelude);
        long total = p.getInt() & 0xffffffffL;
        long hlen = p.getInt() & 0xffffffffL;
        long preludeCrc = p.getInt() & 0xffffffffL;
        CRC32 crc = new CRC32();
        crc.update(prelude, 0, 8);
        Check.that(crc.getValue() == preludeCrc, "prelude CRC %08x, computed %08x", preludeCrc,
                crc.getValue());
        Check.that(total >= 16 && total <= MAX_MESSAGE, "message length %d", total);
        Check.that(hlen <= MAX_HEADERS && hlen <= total - 16, "headers length %d of %d", hlen,
                total);
        byte[] body = new byte[(int) total - 12];
        rest.readFully(body);
        crc.update(prelude, 8, 4);
        crc.update(body, 0, body.length - 4);
        long msgCrc = ByteBuffer.wrap(body, body.length - 4, 4).getInt() & 0xffffffffL;
        Check.that(crc.getValue() == msgCrc, "message CRC %08x, computed %08x", msgCrc,
                crc.getValue());
        Map<String, Object> headers = headers(ByteBuffer.wrap(body, 0, (int) hlen));
        byte[] payload = new byte[body.length - 4 - (int) hlen];
        System.arraycopy(body, (int) hlen, payload, 0, payload.length);
        return new Message(headers, payload);
    }

    private static Map<String, Object> headers(ByteBuffer b) {
        Map<String, Object> h = new LinkedHashMap<>();
        while (b.hasRemaining()) {
            int nlen = b.get() & 0xff;
            Check.that(nlen > 0 && nlen < b.remaining(), "header name length %d", nlen);
            String name = utf8(b, nlen);
            int type = b.get() & 0xff;
            Object v;
            switch (type) {
            case 0: v = Boolean.TRUE; break;
            case 1: v = Boolean.FALSE; break;
            case 2: v = b.get(); break;
            case 3: v = b.getShort(); break;
            case 4: v = b.getInt(); break;
            case 5: v = b.getLong(); break;
            case 6: {
                byte[] x = new byte[b.getShort() & 0xffff];
                b.get(x);
                v = x;
                break;
            }
            case 7: v = utf8(b, b.getShort() & 0xffff); break;
            case 8: v = java.time.Instant.ofEpochMilli(b.getLong()); break;
            case 9: v = new UUID(b.getLong(), b.getLong()); break;
            default: throw Check.fail("header %s: unknown value type %d", name, type);
            }
            Check.that(h.put(name, v) == null, "header %s twice", name);
        }
        return h;
    }

    private static String utf8(ByteBuffer b, int n) {
        byte[] x = new byte[n];
        b.get(x);
        return new String(x, StandardCharsets.UTF_8);
    }

    /** Encodes a message with string headers (the decoder's self-test builds inputs with it). */
    static byte[] encode(Map<String, String> headers, byte[] payload) {
        ByteArrayOutputStream h = new ByteArrayOutputStream();
        for (Map.Entry<String, String> e : headers.entrySet()) {
            byte[] n = e.getKey().getBytes(StandardCharsets.UTF_8);
            byte[] v = e.getValue().getBytes(StandardCharsets.UTF_8);
            h.write(n.length);
            h.writeBytes(n);
            h.write(7);
            h.write(v.length >> 8);
            h.write(v.length & 0xff);
            h.writeBytes(v);
        }
        byte[] hb = h.toByteArray();
        int total = 16 + hb.length + payload.length;
        ByteBuffer m = ByteBuffer.allocate(total);
        m.putInt(total).putInt(hb.length);
        CRC32 crc = new CRC32();
        crc.update(m.array(), 0, 8);
        m.putInt((int) crc.getValue());
        m.put(hb).put(payload);
        crc.update(m.array(), 8, total - 12);
        m.putInt((int) crc.getValue());
        return m.array();
    }
}
