import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * shardcastd driven by the JVM's own CBOR codec (Jackson jackson-dataformat-cbor, the library the
 * AWS SDKs for Java v1/v2 use for Kinesis), request bodies written with the SDK's generator calls
 * (Cbor.java) and every response read with CBORParser as the SDK's unmarshallers read it.
 *
 * Usage: java JavaCborClient SCENARIO [ENDPOINT]  (credentials from AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY). Scenarios: selftest (no server: the checks reject wrong encodings),
 * control, data, errors, subscribe. Prints "ok: ..." per check and "PASS <scenario>" last; any
 * failed check prints "FAIL <scenario>: ..." and exits 1. A watchdog exits 2 after 120 s.
 */
public final class JavaCborClient {
    private static final long SLACK_MS = 2000; // clock reads here vs. in the server
    private static Kinesis k;

    private JavaCborClient() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: JavaCborClient selftest|control|data|errors|subscribe "
                    + "[ENDPOINT]");
            System.exit(64);
        }
        String scenario = args[0];
        Thread watchdog = new Thread(() -> {
            try {
                Thread.sleep(120_000);
            } catch (InterruptedException e) {
                return;
            }
            System.out.println("FAIL " + scenario + ": watchdog: still running after 120 s");
            System.out.flush();
            Runtime.getRuntime().halt(2);
        });
        watchdog.setDaemon(true);
        watchdog.start();
        if (args.length > 1)
            k = new Kinesis(args[1], env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"));
        else if (!scenario.equals("selftest"))
            throw new IllegalArgumentException(scenario + " needs an ENDPOINT");
        try {
            switch (scenario) {
            case "selftest": selftest(); break;
            case "control": control(); break;
            case "data": data(); break;
            case "errors": errors(); break;
            case "subscribe": subscribe(); break;
            default: throw new IllegalArgumentException("unknown scenario " + scenario);
            }
        } catch (Exception e) {
            System.out.println("FAIL " + scenario + ": " + e.getMessage());
            e.printStackTrace(System.out);
            System.exit(1);
        }
        System.out.println("PASS " + scenario);
        System.exit(0);
    }

    private static String env(String name) {
        String v = System.getenv(name);
        if (v == null || v.isEmpty())
            throw new IllegalStateException(name + " not set");
        return v;
    }

    static void ok(String fmt, Object... args) {
        System.out.println("ok: " + String.format(fmt, args));
    }

    static long now() {
        return System.currentTimeMillis();
    }

    /** Every byte value, then 0xFF..0x00 again: Data must come back byte for byte. */
    static byte[] allBytes() {
        byte[] b = new byte[512];
        for (int i = 0; i < 256; i++) {
            b[i] = (byte) i;
            b[511 - i] = (byte) i;
        }
        return b;
    }

    static byte[] random(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    // ---- helpers over the API ----------------------------------------------------------------

    /** CreateStream (empty 200 body, as the model has no output) then DescribeStreamSummary until
     *  ACTIVE; returns the summary. */
    static Map<String, Object> createActive(String name, int shards) throws Exception {
        Kinesis.Reply r = k.send("CreateStream", Cbor.obj("StreamName", name, "ShardCount",
                shards));
        Check.that(r.status == 200 && r.body == null, "CreateStream: status %d body %s",
                r.status, Cbor.show(r.body));
        long deadline = now() + 10_000;
        while (true) {
            Map<String, Object> s = Kinesis.describeSummary(k, name);
            if (Check.str(s, "StreamStatus").equals("ACTIVE"))
                return s;
            Check.that(now() < deadline, "stream %s not ACTIVE after 10 s", name);
            Thread.sleep(20);
        }
    }

    static String iterator(String stream, String shard, Map<String, Object> pos) throws Exception {
        Map<String, Object> req = Cbor.obj("StreamName", stream, "ShardId", shard);
        req.putAll(pos);
        return Check.str(k.ok("GetShardIterator", req), "ShardIterator");
    }

    /** Checks one Record of GetRecords or SubscribeToShardEvent against what was put. */
    static void checkRecord(Object rec, byte[] data, String pk, String seq, long lo, long hi) {
        Check.eq(data, Check.bytes(rec, "Data"), "Data of record " + seq);
        Check.eq(pk, Check.str(rec, "PartitionKey"), "PartitionKey of record " + seq);
        Check.eq(seq, Check.str(rec, "SequenceNumber"), "SequenceNumber");
        Check.millis(rec, "ApproximateArrivalTimestamp", lo, hi);
    }

    /** What a put returned, to compare against what is read back. */
    static final class Put {
        final byte[] data;
        final String pk;
        final String seq;

        Put(byte[] data, String pk, String seq) {
            this.data = data;
            this.pk = pk;
            this.seq = seq;
        }
    }

    static Put putRecord(String stream, byte[] data, String pk) throws Exception {
        Object r = k.ok("PutRecord", Cbor.obj("StreamName", stream, "Data", data,
                "PartitionKey", pk));
        Check.eq("shardId-000000000000", Check.str(r, "ShardId"), "PutRecord ShardId");
        return new Put(data, pk, Check.str(r, "SequenceNumber"));
    }

    static List<Put> putRecords(String stream, List<byte[]> datas, String pkPrefix)
            throws Exception {
        List<Object> recs = new ArrayList<>();
        for (int i = 0; i < datas.size(); i++)
            recs.add(Cbor.obj("Data", datas.get(i), "PartitionKey", pkPrefix + i));
        Object r = k.ok("PutRecords", Cbor.obj("StreamName", stream, "Records", recs));
        Check.eq(0L, Check.lng(r, "FailedRecordCount"), "PutRecords FailedRecordCount");
        List<?> out = Check.list(r, "Records");
        Check.eq(datas.size(), out.size(), "PutRecords result count");
        List<Put> puts = new ArrayList<>();
        for (int i = 0; i < out.size(); i++) {
            Check.eq("shardId-000000000000", Check.str(out.get(i), "ShardId"), "ShardId");
            puts.add(new Put(datas.get(i), pkPrefix + i, Check.str(out.get(i), "SequenceNumber")));
        }
        return puts;
    }

    // ---- selftest: the checks fail on wrong encodings ------------------------------------------

    static byte[] jacksonBytes(java.util.function.Consumer<com.fasterxml.jackson.dataformat.cbor
            .CBORGenerator> body) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (com.fasterxml.jackson.dataformat.cbor.CBORGenerator g =
                Cbor.FACTORY.createGenerator(out)) {
            body.accept(g);
        }
        return out.toByteArray();
    }

    static void mustFail(String what, Runnable r) {
        try {
            r.run();
        } catch (Check.CheckFailed e) {
            ok("rejects %s (%s)", what, e.getMessage());
            return;
        }
        throw Check.fail("the check accepted %s", what);
    }

    static void selftest() throws Exception {
        // What Jackson writes for the SDK's calls (the shapes the server must accept).
        long ts = 1700000000123L;
        byte[] w = Cbor.write(Cbor.obj("A", List.of("x"), "D", new byte[] {0, (byte) 0xff},
                "T", Instant.ofEpochMilli(ts), "L", "y".repeat(5000)));
        String hex = HexFormat.of().formatHex(w);
        Check.that(hex.startsWith("bf6141" + "9f6178ff" + "6144" + "4200ff"
                + "6154" + "c11b0000018bcfe5687b" + "614c" + "7f"), "Jackson wrote %s",
                hex.substring(0, 60));
        Check.that(hex.endsWith("ffff"), "indefinite text and map end with breaks");
        ok("Jackson: indefinite map/array, byte string, tag 1 + millis, chunked long string");
        Object back = Cbor.read(w);
        Check.eq("y".repeat(5000), Check.str(back, "L"), "chunked string read back");
        Check.millis(back, "T", ts, ts);

        // Jackson behaviour the READMEs cite (observed here, asserted so they stay true):
        // getBinaryValue refuses a text string, so Java v1 (ByteBufferCborUnmarshaller) needs Data
        // as a byte string, base64 text would fail it; getLongValue truncates a float under tag
        // 1 while its text ("1.7...E12") fails Long.parseLong, which SDK paths reading the text do.
        try (com.fasterxml.jackson.dataformat.cbor.CBORParser p =
                Cbor.FACTORY.createParser(Cbor.write("AAE="))) {
            p.nextToken();
            p.getBinaryValue();
            throw Check.fail("Jackson's getBinaryValue read base64 text");
        } catch (com.fasterxml.jackson.core.JsonParseException e) {
            ok("Jackson: getBinaryValue on a text string throws (%s)", e.getOriginalMessage());
        }
        byte[] asFloat = jacksonBytes(g -> io(() -> {
            g.writeStartObject();
            g.writeFieldName("T");
            g.writeTag(1);
            g.writeNumber(1.7e12);
            g.writeEndObject();
        }));
        try (com.fasterxml.jackson.dataformat.cbor.CBORParser p =
                Cbor.FACTORY.createParser(asFloat)) {
            p.nextToken();
            p.nextToken();
            Check.that(p.nextToken() == com.fasterxml.jackson.core.JsonToken.VALUE_NUMBER_FLOAT
                    && p.getCurrentTag() == 1, "tag 1 float token");
            Check.eq(1_700_000_000_000L, p.getLongValue(), "getLongValue of a float");
            String text = p.getText();
            try {
                Long.parseLong(text);
                throw Check.fail("Long.parseLong(%s) worked", text);
            } catch (NumberFormatException e) {
                ok("Jackson: tag 1 float -> getLongValue %d, text %s (Long.parseLong fails)",
                        p.getLongValue(), text);
            }
        }
        mustFail("a float under tag 1", () -> Check.millis(read(asFloat), "T", 0, Long.MAX_VALUE));
        long t = now();
        byte[] secs = Cbor.write(Cbor.obj("T", Instant.ofEpochMilli(t / 1000)));
        mustFail("epoch seconds under tag 1", () -> Check.millis(read(secs), "T", t - 1000, t));
        byte[] untagged = Cbor.write(Cbor.obj("T", t));
        mustFail("an untagged timestamp", () -> Check.millis(read(untagged), "T", t, t));
        byte[] b64 = Cbor.write(Cbor.obj("Data", "AAE="));
        mustFail("Data as base64 text", () -> Check.bytes(read(b64), "Data"));
        byte[] dbl = Cbor.write(Cbor.obj("N", "1"));
        mustFail("a long as text", () -> Check.lng(read(dbl), "N"));

        // Event-stream framing: the worked example of kinesis-protocol.md §6.5 (CRCs from an
        // independent encoder) decodes; one flipped bit anywhere fails its CRC.
        byte[] ex = HexFormat.of().parseHex("00000068000000564e681724"
                + "0d3a6d6573736167652d747970650700056576656e74"
                + "0b3a6576656e742d74797065070010696e697469616c2d726573706f6e7365"
                + "0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e"
                + "7b7dfe942c1d");
        EventStream.Message m = decode(ex);
        Check.eq("initial-response", m.header(":event-type"), "example :event-type");
        Check.eq("{}", new String(m.payload, "UTF-8"), "example payload");
        byte[] mine = EventStream.encode(new LinkedHashMap<>(Map.of(":message-type", "event")),
                new byte[] {(byte) 0xa0});
        decode(mine);
        for (int i : new int[] {1, 9, mine.length - 5, mine.length - 1}) {
            byte[] bad = mine.clone();
            bad[i] ^= 0x10;
            mustFail("a flipped bit at byte " + i, () -> io(() -> decode(bad)));
        }
        ok("event-stream decoder checks both CRCs");
    }

    interface IoAction {
        void run() throws IOException;
    }

    static void io(IoAction a) {
        try {
            a.run();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static Object read(byte[] b) {
        try {
            return Cbor.read(b);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static EventStream.Message decode(byte[] msg) throws IOException {
        DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(msg));
        byte[] prelude = new byte[12];
        in.readFully(prelude);
        EventStream.Message m = EventStream.decode(prelude, in);
        Check.that(in.read() == -1, "bytes after the message");
        return m;
    }

    // ---- control plane --------------------------------------------------------------------------

    static void control() throws Exception {
        long t0 = now();
        Map<String, Object> s = createActive("jc-control", 2);
        long created = Check.millis(s, "StreamCreationTimestamp", t0 - SLACK_MS, now() + SLACK_MS);
        ok("DescribeStreamSummary StreamCreationTimestamp %d: tag 1 + integer millis", created);
        Check.eq(2L, Check.lng(s, "OpenShardCount"), "OpenShardCount");
        Check.eq(24L, Check.lng(s, "RetentionPeriodHours"), "RetentionPeriodHours");
        Check.lng(s, "ConsumerCount");
        Check.eq("arn:aws:kinesis:us-east-1:000000000000:stream/jc-control",
                Check.str(s, "StreamARN"), "StreamARN");
        ok("DescribeStreamSummary integers and strings");

        Object d = k.ok("DescribeStream", Cbor.obj("StreamName", "jc-control"));
        Map<String, Object> desc = Check.map(d, "StreamDescription");
        Check.eq(created, Check.millis(desc, "StreamCreationTimestamp", created, created),
                "DescribeStream StreamCreationTimestamp");
        Check.eq(Boolean.FALSE, Check.member(desc, "HasMoreShards"), "HasMoreShards");
        ok("DescribeStream: same creation millis, boolean HasMoreShards");

        List<?> shards = Check.list(k.ok("ListShards", Cbor.obj("StreamName", "jc-control")),
                "Shards");
        Check.eq(2, shards.size(), "ListShards count");
        for (int i = 0; i < 2; i++) {
            Object sh = shards.get(i);
            Check.eq("shardId-00000000000" + i, Check.str(sh, "ShardId"), "ShardId");
            Map<String, Object> hk = Check.map(sh, "HashKeyRange");
            Check.str(hk, "StartingHashKey");
            Check.str(hk, "EndingHashKey");
            Check.str(Check.map(sh, "SequenceNumberRange"), "StartingSequenceNumber");
        }
        Check.eq("0", Check.str(Check.map(shards.get(0), "HashKeyRange"), "StartingHashKey"),
                "first StartingHashKey");
        Check.eq("340282366920938463463374607431768211455", Check.str(Check.map(shards.get(1),
                "HashKeyRange"), "EndingHashKey"), "last EndingHashKey");
        ok("ListShards: 2 shards, hash keys as strings");

        // Request timestamps as the SDK writes them: tag 1 + millis. The server matches
        // StreamCreationTimestamp to the stream's creation (to the second): read as seconds, it
        // would be ~50000 years off and match nothing.
        Object same = k.ok("ListShards", Cbor.obj("StreamName", "jc-control",
                "StreamCreationTimestamp", Instant.ofEpochMilli(created)));
        Check.eq(2, Check.list(same, "Shards").size(), "ListShards by creation time");
        k.error("ListShards", Cbor.obj("StreamName", "jc-control", "StreamCreationTimestamp",
                Instant.ofEpochMilli(created - 3_600_000)), "ResourceNotFoundException");
        ok("ListShards StreamCreationTimestamp (tag 1 millis) matched; an hour off is not found");
        Object flt = k.ok("ListShards", Cbor.obj("StreamName", "jc-control", "ShardFilter",
                Cbor.obj("Type", "AT_TIMESTAMP", "Timestamp", Instant.ofEpochMilli(now()))));
        Check.eq(2, Check.list(flt, "Shards").size(), "ListShards ShardFilter AT_TIMESTAMP");
        ok("ListShards ShardFilter Timestamp (nested tag 1 millis)");

        Object page = k.ok("ListShards", Cbor.obj("StreamName", "jc-control", "MaxResults", 1));
        Check.eq(1, Check.list(page, "Shards").size(), "ListShards page size");
        String token = Check.str(page, "NextToken");
        Object rest = k.ok("ListShards", Cbor.obj("NextToken", token));
        Check.eq("shardId-000000000001", Check.str(Check.list(rest, "Shards").get(0), "ShardId"),
                "second page");
        ok("ListShards paging with MaxResults and NextToken");

        Object streams = k.ok("ListStreams", Cbor.obj());
        Check.that(Check.list(streams, "StreamNames").contains("jc-control"), "ListStreams %s",
                Cbor.show(streams));
        Check.eq(Boolean.FALSE, Check.member(streams, "HasMoreStreams"), "HasMoreStreams");
        for (Object sum : Check.list(streams, "StreamSummaries"))
            if (Check.str(sum, "StreamName").equals("jc-control"))
                Check.eq(created, Check.millis(sum, "StreamCreationTimestamp", created, created),
                        "StreamSummaries StreamCreationTimestamp");
        ok("ListStreams with an empty (indefinite) request map");
    }

    // ---- data plane -----------------------------------------------------------------------------

    static void data() throws Exception {
        String stream = "jc-data";
        createActive(stream, 1);
        long t0 = now();
        Random rnd = new Random(20131202);
        List<Put> a = new ArrayList<>();
        a.add(putRecord(stream, allBytes(), "all-bytes"));
        a.add(putRecord(stream, new byte[] {0}, "nul"));
        // 1 MiB with the partition key: the largest record Kinesis takes.
        a.add(putRecord(stream, random(rnd, (1 << 20) - 8), "big-1mib"));
        List<byte[]> batch = new ArrayList<>();
        batch.add(new byte[0]);
        batch.add(allBytes());
        for (int i = 0; i < 20; i++)
            batch.add(random(rnd, 1 + rnd.nextInt(3000)));
        batch.add(random(rnd, 300_000));
        a.addAll(putRecords(stream, batch, "batch-"));
        ok("PutRecord x3 (every byte value, 1 MiB) and PutRecords x%d", batch.size());
        Thread.sleep(60); // B's arrival times are later than A's by at least this
        List<byte[]> later = List.of("after".getBytes("UTF-8"), allBytes(), random(rnd, 70_000));
        List<Put> b = putRecords(stream, later, "b-");
        long t1 = now();

        // TRIM_HORIZON: A (with a limit), then B, byte for byte.
        String it = iterator(stream, "shardId-000000000000", Cbor.obj("ShardIteratorType",
                "TRIM_HORIZON"));
        List<Object> got = new ArrayList<>();
        long behind = -1;
        for (int calls = 0; got.size() < a.size(); calls++) {
            Check.that(calls < 20, "A not read back in 20 GetRecords calls (%d)", got.size());
            Object r = k.ok("GetRecords", Cbor.obj("ShardIterator", it, "Limit",
                    a.size() - got.size()));
            got.addAll(Check.list(r, "Records"));
            behind = Check.lng(r, "MillisBehindLatest");
            it = Check.str(r, "NextShardIterator");
        }
        Check.eq(a.size(), got.size(), "records read with Limit");
        // The last call stopped at A's end with B after it: behind by B's lead over A.
        Check.that(behind >= 50 && behind <= t1 - t0 + SLACK_MS,
                "MillisBehindLatest %d after A (B arrived >= 60 ms later)", behind);
        Object r = k.ok("GetRecords", Cbor.obj("ShardIterator", it));
        got.addAll(Check.list(r, "Records"));
        Check.eq(0L, Check.lng(r, "MillisBehindLatest"), "MillisBehindLatest at the tip");
        List<Put> all = new ArrayList<>(a);
        all.addAll(b);
        Check.eq(all.size(), got.size(), "records read");
        long lastA = 0, firstB = 0;
        for (int i = 0; i < all.size(); i++) {
            Put p = all.get(i);
            checkRecord(got.get(i), p.data, p.pk, p.seq, t0 - SLACK_MS, now() + SLACK_MS);
            long ms = Check.millis(got.get(i), "ApproximateArrivalTimestamp", 0, Long.MAX_VALUE);
            if (i == a.size() - 1)
                lastA = ms;
            if (i == a.size())
                firstB = ms;
        }
        Check.that(firstB - lastA >= 50, "arrival millis A %d, B %d: not 60 ms apart", lastA,
                firstB);
        ok("GetRecords: %d records byte for byte (largest %d bytes), arrival tag 1 millis, "
                + "MillisBehindLatest %d then 0", got.size(), (1 << 20) - 8, behind);

        // AT_TIMESTAMP with the SDK's tag 1 + millis: B's first arrival starts at B.
        String at = iterator(stream, "shardId-000000000000", Cbor.obj("ShardIteratorType",
                "AT_TIMESTAMP", "Timestamp", Instant.ofEpochMilli(firstB)));
        List<?> fromB = Check.list(k.ok("GetRecords", Cbor.obj("ShardIterator", at)), "Records");
        Check.eq(b.size(), fromB.size(), "AT_TIMESTAMP records");
        for (int i = 0; i < b.size(); i++)
            checkRecord(fromB.get(i), b.get(i).data, b.get(i).pk, b.get(i).seq, firstB, t1
                    + SLACK_MS);
        String at2 = iterator(stream, "shardId-000000000000", Cbor.obj("ShardIteratorType",
                "AT_TIMESTAMP", "Timestamp", Instant.ofEpochMilli(lastA)));
        List<?> fromA = Check.list(k.ok("GetRecords", Cbor.obj("ShardIterator", at2)), "Records");
        Check.that(fromA.size() > b.size(), "AT_TIMESTAMP at A's last arrival: %d records",
                fromA.size());
        Check.eq(b.get(0).seq, Check.str(fromA.get(fromA.size() - b.size()), "SequenceNumber"),
                "B after A");
        ok("GetShardIterator AT_TIMESTAMP (tag 1 millis) starts at %d exactly", firstB);

        String after = iterator(stream, "shardId-000000000000", Cbor.obj("ShardIteratorType",
                "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber", a.get(a.size() - 1).seq));
        List<?> afterA = Check.list(k.ok("GetRecords", Cbor.obj("ShardIterator", after)),
                "Records");
        Check.eq(b.get(0).seq, Check.str(afterA.get(0), "SequenceNumber"), "AFTER_SEQUENCE_NUMBER");
        ok("GetShardIterator AFTER_SEQUENCE_NUMBER");
    }

    // ---- errors ---------------------------------------------------------------------------------

    static void errors() throws Exception {
        String msg = k.error("DescribeStreamSummary", Cbor.obj("StreamName", "jc-missing"),
                "ResourceNotFoundException");
        Check.that(msg.contains("jc-missing"), "message %s does not name the stream", msg);
        ok("ResourceNotFoundException: x-amzn-ErrorType header and CBOR {__type, message} (%s)",
                msg);
        k.error("GetShardIterator", Cbor.obj("StreamName", "jc-missing", "ShardId",
                "shardId-000000000000", "ShardIteratorType", "TRIM_HORIZON"),
                "ResourceNotFoundException");
        k.error("PutRecord", Cbor.obj("StreamName", "jc-missing", "Data", new byte[] {1},
                "PartitionKey", "k"), "ResourceNotFoundException");
        ok("ResourceNotFoundException from GetShardIterator and PutRecord");

        // A name Jackson writes as a chunked (indefinite) text string, multi-byte characters
        // included: decoded whole, it fails the model's length rule, not the CBOR decoder.
        // (Jackson 2.7.8, Debian's, throws when a chunk boundary would split a surrogate pair; a
        // 5-char unit puts its 3996-char boundary before a 'j'.)
        String longName = "jé€😀".repeat(1100);
        byte[] body = Cbor.write(Cbor.obj("StreamName", longName));
        Check.that((body[1 + 1 + "StreamName".length()] & 0xff) == 0x7f,
                "Jackson did not chunk a %d-char string", longName.length());
        String v = k.errorRaw("DescribeStreamSummary", body, "ValidationException");
        // (The server caps a message at 2047 bytes, so only the value's start is echoed.)
        Check.that(v.startsWith("1 validation error detected: Value '" + longName.substring(0,
                200)),
                "ValidationException message (%d chars) ...%s", v.length(),
                v.substring(Math.max(0, v.length() - 160)));
        ok("a chunked %d-char UTF-8 string is decoded (ValidationException on its length)",
                longName.length());

        createActive("jc-errors", 1);
        k.error("PutRecord", Cbor.obj("StreamName", "jc-errors", "Data", new byte[(1 << 20) + 1],
                "PartitionKey", "k"), "ValidationException");
        k.error("GetShardIterator", Cbor.obj("StreamName", "jc-errors", "ShardId",
                "shardId-000000000000", "ShardIteratorType", "AT_TIMESTAMP"),
                "InvalidArgumentException");
        ok("ValidationException (Data over 1 MiB), InvalidArgumentException (no Timestamp)");

        byte[] good = Cbor.write(Cbor.obj("StreamName", "jc-errors"));
        String ser = k.errorRaw("DescribeStreamSummary", Arrays.copyOf(good, good.length - 1),
                "SerializationException");
        ok("truncated CBOR -> SerializationException (%s)", ser);
    }

    // ---- SubscribeToShard over HTTP/1.1 ---------------------------------------------------------

    static String registerConsumer(String streamArn, String name, long t0) throws Exception {
        Object r = k.ok("RegisterStreamConsumer", Cbor.obj("StreamARN", streamArn,
                "ConsumerName", name));
        Map<String, Object> c = Check.map(r, "Consumer");
        Check.millis(c, "ConsumerCreationTimestamp", t0 - SLACK_MS, now() + SLACK_MS);
        String arn = Check.str(c, "ConsumerARN");
        long deadline = now() + 10_000;
        while (true) {
            Map<String, Object> d = Check.map(k.ok("DescribeStreamConsumer",
                    Cbor.obj("ConsumerARN", arn)), "ConsumerDescription");
            Check.millis(d, "ConsumerCreationTimestamp", t0 - SLACK_MS, now() + SLACK_MS);
            if (Check.str(d, "ConsumerStatus").equals("ACTIVE"))
                return arn;
            Check.that(now() < deadline, "consumer not ACTIVE after 10 s");
            Thread.sleep(20);
        }
    }

    /** Reads SubscribeToShardEvents until want records arrived; returns the events read. */
    static List<Object> readEvents(EventStream es, List<Object> records, int want, long t0)
            throws IOException {
        List<Object> events = new ArrayList<>();
        long deadline = now() + 20_000;
        while (records.size() < want) {
            Check.that(now() < deadline, "%d of %d records after 20 s", records.size(), want);
            EventStream.Message m = es.next();
            Check.that(m != null, "event stream ended with %d of %d records", records.size(),
                    want);
            Object ev = event(m);
            events.add(ev);
            for (Object rec : Check.list(ev, "Records")) {
                Check.millis(rec, "ApproximateArrivalTimestamp", t0 - SLACK_MS, now() + SLACK_MS);
                records.add(rec);
            }
        }
        return events;
    }

    /** One SubscribeToShardEvent message, payload decoded with CBORParser. */
    static Object event(EventStream.Message m) throws IOException {
        Check.eq("event", m.header(":message-type"), ":message-type of " + m);
        Check.eq("SubscribeToShardEvent", m.header(":event-type"), ":event-type");
        Check.eq(Kinesis.CT_CBOR, m.header(":content-type"), ":content-type");
        Object ev = Cbor.read(m.payload);
        Check.that(Check.lng(ev, "MillisBehindLatest") >= 0, "MillisBehindLatest < 0");
        Check.str(ev, "ContinuationSequenceNumber");
        Check.list(ev, "Records");
        return ev;
    }

    static void subscribe() throws Exception {
        String stream = "jc-sub";
        long t0 = now();
        Map<String, Object> s = createActive(stream, 1);
        String arn = registerConsumer(Check.str(s, "StreamARN"), "jc-consumer", t0);
        ok("consumer registered and ACTIVE (ConsumerCreationTimestamp tag 1 millis)");
        Random rnd = new Random(5);
        List<Put> puts = new ArrayList<>();
        puts.add(putRecord(stream, allBytes(), "all-bytes"));
        puts.add(putRecord(stream, random(rnd, (1 << 20) - 8), "big-1mib"));
        List<byte[]> batch = new ArrayList<>();
        for (int i = 0; i < 30; i++)
            batch.add(random(rnd, i * 97));
        puts.addAll(putRecords(stream, batch, "catchup-"));

        HttpResponse<InputStream> resp = k.stream("SubscribeToShard", Cbor.obj("ConsumerARN", arn,
                "ShardId", "shardId-000000000000", "StartingPosition",
                Cbor.obj("Type", "TRIM_HORIZON")));
        try (InputStream body = resp.body()) {
            Check.eq(200, resp.statusCode(), "SubscribeToShard status");
            Check.eq("application/vnd.amazon.eventstream",
                    resp.headers().firstValue("content-type").orElse(null), "Content-Type");
            Check.that(resp.headers().firstValue("content-length").isEmpty(),
                    "an event stream has no Content-Length");
            Check.eq("chunked", resp.headers().firstValue("transfer-encoding").orElse(null),
                    "Transfer-Encoding");
            EventStream es = new EventStream(body);
            EventStream.Message first = es.next();
            Check.that(first != null, "no initial-response");
            Check.eq("event", first.header(":message-type"), "first :message-type");
            Check.eq("initial-response", first.header(":event-type"), "first :event-type");
            Check.eq(Kinesis.CT_CBOR, first.header(":content-type"), "initial :content-type");
            Check.eq(Map.of(), Cbor.read(first.payload), "initial-response payload");
            ok("initial-response first, payload an empty CBOR map");

            List<Object> records = new ArrayList<>();
            List<Object> events = readEvents(es, records, puts.size(), t0);
            ok("catch-up: %d records in %d events", records.size(), events.size());

            List<byte[]> live = List.of(new byte[] {0, (byte) 0xff}, allBytes(),
                    random(rnd, 200_000));
            puts.add(putRecord(stream, live.get(0), "live-0"));
            puts.addAll(putRecords(stream, live.subList(1, 3), "live-"));
            events.addAll(readEvents(es, records, puts.size(), t0));
            Check.eq(puts.size(), records.size(), "records delivered");
            for (int i = 0; i < puts.size(); i++) {
                Put p = puts.get(i);
                checkRecord(records.get(i), p.data, p.pk, p.seq, t0 - SLACK_MS, now() + SLACK_MS);
            }
            Object last = events.get(events.size() - 1);
            Check.eq(puts.get(puts.size() - 1).seq, Check.str(last, "ContinuationSequenceNumber"),
                    "ContinuationSequenceNumber after the last record");
            ok("live tail: all %d records byte for byte, ContinuationSequenceNumber = last "
                    + "record's", records.size());

            // Idle: heartbeats (no records, caught up) keep coming.
            Object hb = event(es.next());
            Check.eq(0, Check.list(hb, "Records").size(), "idle event records");
            Check.eq(0L, Check.lng(hb, "MillisBehindLatest"), "idle MillisBehindLatest");
            Check.eq(puts.get(puts.size() - 1).seq, Check.str(hb, "ContinuationSequenceNumber"),
                    "idle ContinuationSequenceNumber");
            ok("heartbeat: empty Records, MillisBehindLatest 0");

            // Deregistering ends the stream: an exception message, CBOR payload, then the end.
            k.ok("DeregisterStreamConsumer", Cbor.obj("ConsumerARN", arn));
            EventStream.Message m;
            int skipped = 0;
            while ((m = es.next()) != null && "event".equals(m.header(":message-type"))) {
                event(m);
                Check.that(++skipped < 100, "no exception after 100 events");
            }
            Check.that(m != null, "stream ended without an exception message");
            Check.eq("exception", m.header(":message-type"), ":message-type");
            Check.eq("ResourceInUseException", m.header(":exception-type"), ":exception-type");
            Check.eq(Kinesis.CT_CBOR, m.header(":content-type"), "exception :content-type");
            Check.str(Cbor.read(m.payload), "message");
            Check.that(es.next() == null, "messages after the exception");
            ok("deregistration: ResourceInUseException event with a CBOR message, then the end");
        }
    }
}
