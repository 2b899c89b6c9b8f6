import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Map;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A Kinesis client over HTTP/1.1 with CBOR bodies, shaped like the Java SDKs' sync clients:
 * POST / with Content-Type application/x-amz-cbor-1.1, X-Amz-Target Kinesis_20131202.<Op>,
 * SigV4-signed (the server under test verifies signatures: --credentials). Errors are read as the
 * SDKs read them (aws-sdk-java-v2 .../protocols/json/internal/unmarshall/JsonErrorCodeParser:
 * the x-amzn-ErrorType header first, cut at ':', then the body's __type, cut after '#').
 */
final class Kinesis {
    static final String CT_CBOR = "application/x-amz-cbor-1.1";
    private static final String REGION = "us-east-1";
    private static final DateTimeFormatter AMZ_DATE =
            DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    private final URI endpoint;
    private final String host;
    private final String accessKey;
    private final String secretKey;
    private final HttpClient http;

    /** One exchange's outcome; body decoded with Cbor.read when not empty. */
    static final class Reply {
        final int status;
        final HttpResponse<byte[]> raw;
        final Object body;

        Reply(HttpResponse<byte[]> raw, Object body) {
            this.status = raw.statusCode();
            this.raw = raw;
            this.body = body;
        }

        String header(String name) {
            Optional<String> v = raw.headers().firstValue(name);
            return v.orElse(null);
        }
    }

    Kinesis(String endpoint, String accessKey, String secretKey) {
        this.endpoint = URI.create(endpoint.endsWith("/") ? endpoint : endpoint + "/");
        this.host = this.endpoint.getHost() + ":" + this.endpoint.getPort();
        this.accessKey = accessKey;
        this.secretKey = secretKey;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** A signed CBOR request for op with the given (already CBOR) body. */
    HttpRequest request(String op, byte[] body) {
        String target = "Kinesis_20131202." + op;
        String date = ZonedDateTime.now(ZoneOffset.UTC).format(AMZ_DATE);
        String day = date.substring(0, 8);
        String signed = "content-type;host;x-amz-date;x-amz-target";
        String canonical = "POST\n/\n\n" + "content-type:" + CT_CBOR + "\nhost:" + host
                + "\nx-amz-date:" + date + "\nx-amz-target:" + target + "\n\n" + signed + "\n"
                + hex(sha256(body));
        String scope = day + "/" + REGION + "/kinesis/aws4_request";
        String toSign = "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n"
                + hex(sha256(canonical.getBytes(StandardCharsets.UTF_8)));
        byte[] k = hmac(("AWS4" + secretKey).getBytes(StandardCharsets.UTF_8), day);
        k = hmac(hmac(hmac(k, REGION), "kinesis"), "aws4_request");
        String auth = "AWS4-HMAC-SHA256 Credential=" + accessKey + "/" + scope
                + ", SignedHeaders=" + signed + ", Signature=" + hex(hmac(k, toSign));
        return HttpRequest.newBuilder(endpoint).timeout(Duration.ofSeconds(60))
                .header("Content-Type", CT_CBOR).header("X-Amz-Target", target)
                .header("X-Amz-Date", date).header("Authorization", auth)
                .header("User-Agent", "shardcast-java-cbor-test (Jackson CBOR, not the AWS SDK)")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
    }

    /** Sends op with a request tree written by Cbor.write; any status. */
    Reply send(String op, Object request) throws IOException, InterruptedException {
        return sendRaw(op, Cbor.write(request));
    }

    Reply sendRaw(String op, byte[] body) throws IOException, InterruptedException {
        HttpResponse<byte[]> r =
                http.send(request(op, body), HttpResponse.BodyHandlers.ofByteArray());
        Optional<String> ct = r.headers().firstValue("content-type");
        Check.that(ct.isPresent() && ct.get().equals(CT_CBOR),
                "%s: reply Content-Type %s, want %s (status %d)", op, ct.orElse("none"), CT_CBOR,
                r.statusCode());
        Check.that(r.headers().firstValue("x-amzn-RequestId").isPresent(),
                "%s: no x-amzn-RequestId", op);
        byte[] b = r.body();
        return new Reply(r, b.length == 0 ? null : Cbor.read(b));
    }

    /** op must succeed (200); returns its decoded body (null when empty). */
    Object ok(String op, Object request) throws IOException, InterruptedException {
        Reply r = send(op, request);
        if (r.status != 200)
            throw Check.fail("%s: status %d, type %s, body %s", op, r.status,
                    r.header("x-amzn-ErrorType"), Cbor.show(r.body));
        return r.body;
    }

    /**
     * op must fail with HTTP 400 and error type code, read as the SDK reads it: the
     * x-amzn-ErrorType header (before any ':'), and the CBOR body's __type (after any '#') must
     * agree; message is a text string. Returns the message.
     */
    String error(String op, Object request, String code) throws IOException, InterruptedException {
        return errorRaw(op, Cbor.write(request), code);
    }

    String errorRaw(String op, byte[] body, String code) throws IOException, InterruptedException {
        Reply r = sendRaw(op, body);
        Check.that(r.status == 400, "%s: status %d, want 400 %s; body %s", op, r.status, code,
                Cbor.show(r.body));
        String h = r.header("x-amzn-ErrorType");
        Check.that(h != null, "%s: no x-amzn-ErrorType header", op);
        Check.eq(code, h.contains(":") ? h.substring(0, h.indexOf(':')) : h,
                op + " x-amzn-ErrorType");
        String type = Check.str(r.body, "__type");
        Check.eq(code, type.substring(type.indexOf('#') + 1), op + " body __type");
        String msg = Check.str(r.body, "message");
        Check.that(!msg.isEmpty(), "%s: empty error message", op);
        return msg;
    }

    /** Starts a streaming exchange (SubscribeToShard): returns once the status line and headers
     *  are in; the body is read by the caller. */
    HttpResponse<InputStream> stream(String op, Object request)
            throws IOException, InterruptedException {
        return http.send(request(op, Cbor.write(request)),
                HttpResponse.BodyHandlers.ofInputStream());
    }

    static Map<String, Object> describeSummary(Kinesis k, String stream)
            throws IOException, InterruptedException {
        return Check.map(k.ok("DescribeStreamSummary", Cbor.obj("StreamName", stream)),
                "StreamDescriptionSummary");
    }

    private static byte[] sha256(byte[] b) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(b);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b)
            s.append(String.format("%02x", x & 0xff));
        return s.toString();
    }
}
