import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.cbor.CBORFactory;
import com.fasterxml.jackson.dataformat.cbor.CBORGenerator;
import com.fasterxml.jackson.dataformat.cbor.CBORParser;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * application/x-amz-cbor-1.1 bodies written and read with Jackson's CBOR codec, calling it the way
 * the AWS SDKs for Java do.
 *
 * Writing (aws/aws-sdk-java aws-java-sdk-core/.../protocol/json/SdkJsonGenerator.java and
 * SdkCborGenerator.java; aws/aws-sdk-java-v2 core/protocols/aws-cbor-protocol/.../internal/
 * SdkCborGenerator.java): a structure is writeStartObject() / writeFieldName() per member /
 * writeEndObject(), which Jackson writes as an INDEFINITE-length map (0xBF .. 0xFF); a list is
 * writeStartArray() (0x9F .. 0xFF); a blob is writeBinary(byte[]); a timestamp is
 * writeTag(1) then writeNumber(epoch millis) (v1: date.getTime(), v2: instant.toEpochMilli());
 * strings are writeString(), which Jackson sends as an indefinite (chunked) text string once
 * longer than its output buffer allows (~4000 chars).
 *
 * Reading mirrors the SDKs' unmarshallers: a blob is a VALUE_EMBEDDED_OBJECT token read with
 * getBinaryValue() (v1 SimpleTypeCborUnmarshallers.ByteBufferCborUnmarshaller; v2
 * JsonUnmarshallingParser reads getEmbeddedObject() for SDK_BYTES), a timestamp is
 * getLongValue() as epoch millis (v1 DateCborUnmarshaller: new Date(getLongValue()); v2
 * JsonUnmarshallingParser.instantValueFor: UNIX_TIMESTAMP_MILLIS -> Instant.ofEpochMilli(
 * parser.getLongValue()), the format AwsCborProtocolFactory sets for payloads). The reader builds
 * a tree that keeps what the checks need: the tag Jackson reports (getCurrentTag) and whether a
 * number was an integer or a float token.
 */
final class Cbor {
    static final CBORFactory FACTORY = new CBORFactory();

    private Cbor() {}

    /** A value Jackson reported under a CBOR tag (getCurrentTag() != -1). */
    static final class Tagged {
        final int tag;
        final Object value;

        Tagged(int tag, Object value) {
            this.tag = tag;
            this.value = value;
        }

        @Override
        public String toString() {
            return "tag(" + tag + ", " + Cbor.show(value) + ")";
        }
    }

    /** An ordered map, for request bodies written member by member as the SDK does. */
    static Map<String, Object> obj(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < kv.length; i += 2)
            m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Serializes a request value tree with the SDK's generator calls. */
    static byte[] write(Object value) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
        try (CBORGenerator g = FACTORY.createGenerator(out)) {
            writeValue(g, value);
        }
        return out.toByteArray();
    }

    private static void writeValue(CBORGenerator g, Object v) throws IOException {
        if (v instanceof Map) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                g.writeFieldName((String) e.getKey());
                writeValue(g, e.getValue());
            }
            g.writeEndObject();
        } else if (v instanceof List) {
            g.writeStartArray();
            for (Object x : (List<?>) v)
                writeValue(g, x);
            g.writeEndArray();
        } else if (v instanceof String) {
            g.writeString((String) v);
        } else if (v instanceof byte[]) {
            g.writeBinary((byte[]) v);
        } else if (v instanceof Instant) {
            g.writeTag(1);
            g.writeNumber(((Instant) v).toEpochMilli());
        } else if (v instanceof Integer) {
            g.writeNumber((Integer) v);
        } else if (v instanceof Long) {
            g.writeNumber((Long) v);
        } else if (v instanceof Boolean) {
            g.writeBoolean((Boolean) v);
        } else {
            throw new IllegalArgumentException("no SDK marshaller for " + v);
        }
    }

    /**
     * Parses one CBOR item with Jackson's CBORParser: maps (LinkedHashMap), lists, String,
     * byte[] (blobs), Long (integer tokens), Double (float tokens), Boolean, null, and Tagged
     * around any value Jackson reported a tag for. Trailing bytes after the item fail.
     */
    static Object read(byte[] body) throws IOException {
        try (CBORParser p = FACTORY.createParser(body)) {
            JsonToken t = p.nextToken();
            if (t == null)
                throw new IOException("empty CBOR body");
            Object v = readValue(p, t);
            if (p.nextToken() != null)
                throw new IOException("trailing bytes after the CBOR item");
            return v;
        }
    }

    private static Object readValue(CBORParser p, JsonToken t) throws IOException {
        int tag = p.getCurrentTag();
        Object v;
        switch (t) {
        case START_OBJECT: {
            Map<String, Object> m = new LinkedHashMap<>();
            for (JsonToken k = p.nextToken(); k != JsonToken.END_OBJECT; k = p.nextToken()) {
                if (k != JsonToken.FIELD_NAME)
                    throw new IOException("expected a field name, got " + k);
                String name = p.getCurrentName();
                if (m.containsKey(name))
                    throw new IOException("duplicate member " + name);
                m.put(name, readValue(p, p.nextToken()));
            }
            v = m;
            break;
        }
        case START_ARRAY: {
            List<Object> l = new ArrayList<>();
            for (JsonToken k = p.nextToken(); k != JsonToken.END_ARRAY; k = p.nextToken())
                l.add(readValue(p, k));
            v = l;
            break;
        }
        case VALUE_STRING:
            v = p.getText();
            break;
        case VALUE_EMBEDDED_OBJECT:
            v = p.getBinaryValue();
            break;
        case VALUE_NUMBER_INT:
            if (p.getNumberType() != JsonParser.NumberType.INT
                    && p.getNumberType() != JsonParser.NumberType.LONG)
                throw new IOException("integer out of long range: " + p.getText());
            v = p.getLongValue();
            break;
        case VALUE_NUMBER_FLOAT:
            v = p.getDoubleValue();
            break;
        case VALUE_TRUE:
        case VALUE_FALSE:
            v = p.getBooleanValue();
            break;
        case VALUE_NULL:
            v = null;
            break;
        default:
            throw new IOException("unexpected token " + t);
        }
        return tag == -1 ? v : new Tagged(tag, v);
    }

    /** A readable rendering for failure messages (byte strings by length and head). */
    static String show(Object v) {
        if (v instanceof byte[]) {
            byte[] b = (byte[]) v;
            StringBuilder s = new StringBuilder("bytes[" + b.length + "]");
            for (int i = 0; i < Math.min(b.length, 8); i++)
                s.append(String.format(" %02x", b[i] & 0xff));
            return s.toString();
        }
        if (v instanceof String)
            return "\"" + v + "\"";
        if (v instanceof Map) {
            StringBuilder s = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet())
                s.append(s.length() > 1 ? ", " : "").append(e.getKey()).append(": ")
                        .append(show(e.getValue()));
            return s.append("}").toString();
        }
        if (v instanceof List) {
            StringBuilder s = new StringBuilder("[");
            for (Object x : (List<?>) v)
                s.append(s.length() > 1 ? ", " : "").append(show(x));
            return s.append("]").toString();
        }
        return v == null ? "null" : v.getClass().getSimpleName() + " " + v;
    }
}
