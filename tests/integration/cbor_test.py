"""The CBOR variant (application/x-amz-cbor-1.1, kinesis-protocol.md §1.5) against the real
shardcastd, sent the way the Java SDKs send it: SigV4-signed by botocore's signer, Jackson's
indefinite-length maps and arrays (written here byte by byte: cbor2 only writes definite ones),
Data as byte strings, timestamps as tag 1 + epoch milliseconds. Responses are decoded by cbor2's
reference decoder with tag 1 left raw, since Java's millis are not RFC 8949's seconds.

SubscribeToShard is read over HTTP/1.1 (chunked), h2c with prior knowledge and TLS h2 (Debian's
python3-h2), and the event stream decoded with botocore's EventStreamBuffer: every payload must
be CBOR, for catch-up (TRIM_HORIZON), the live tail next to a JSON subscriber (boto3) on the same
shard, heartbeats, the exception event and the shard-end event."""
import http.client
import io
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid

import cbor2
import cbor2.decoder
import cbor2.types
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.eventstream import EventStreamBuffer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, h2_subscribe_events, main, wait_for  # noqa: E402

CT_CBOR = "application/x-amz-cbor-1.1"
SHARD0 = "shardId-000000000000"
CREDS = Credentials(os.environ.get("AWS_ACCESS_KEY_ID", "AKIDSHARDCASTTEST"),
                    os.environ.get("AWS_SECRET_ACCESS_KEY", "shardcast-test-secret"))


# ---- CBOR as Java writes it -----------------------------------------------------------------

class Millis(int):
    """A timestamp: Java's SdkCborGenerator writes tag 1 + the epoch milliseconds."""


class Chunked(str):
    """A text string Jackson could also send in chunks (indefinite length)."""


def jackson(v):
    """Jackson's CBORGenerator shapes: objects and arrays of indefinite length (0xBF/0x9F .. 0xFF),
    strings and numbers as cbor2 writes them (definite, shortest head)."""
    if isinstance(v, dict):
        return b"\xbf" + b"".join(jackson(k) + jackson(x) for k, x in v.items()) + b"\xff"
    if isinstance(v, list):
        return b"\x9f" + b"".join(jackson(x) for x in v) + b"\xff"
    if isinstance(v, Millis):
        return b"\xc1" + cbor2.dumps(int(v))
    if isinstance(v, Chunked):
        half = len(v) // 2
        return b"\x7f" + cbor2.dumps(str(v[:half])) + cbor2.dumps(str(v[half:])) + b"\xff"
    return cbor2.dumps(v)


def definite(v):
    """The same value with definite lengths everywhere (cbor2), tag 1 kept."""
    def conv(x):
        if isinstance(x, dict):
            return {k: conv(y) for k, y in x.items()}
        if isinstance(x, list):
            return [conv(y) for y in x]
        if isinstance(x, Millis):
            return cbor2.CBORTag(1, int(x))
        return x
    return cbor2.dumps(conv(v))


# Tag 1 stays a CBORTag (the millis as sent) in every decode: removed once, here, because
# cbor2's table is global and subscription threads decode beside the main one.
cbor2.decoder.semantic_decoders.pop(1, None)


def cbor_loads(data):
    """cbor2's reference (pure Python) decoder with tag 1 left as a CBORTag; the whole input must
    be one item."""
    fp = io.BytesIO(data)
    v = cbor2.decoder.CBORDecoder(fp).decode()
    if fp.read():
        raise ValueError("trailing bytes after the CBOR item")
    return v


def now_ms():
    return int(time.time() * 1000)


def signed_headers(port, target, body):
    """Headers of a Java SDK v2 request, signed with SigV4 (botocore's signer)."""
    req = AWSRequest(method="POST", url="http://127.0.0.1:%d/" % port, data=body, headers={
        "Content-Type": CT_CBOR,
        "X-Amz-Target": "Kinesis_20131202." + target,
        "amz-sdk-invocation-id": str(uuid.uuid4()),
        "amz-sdk-request": "attempt=1; max=4",
        "User-Agent": "aws-sdk-java/2.25.0 (shardcast cbor_test)",
        "Content-Length": str(len(body)),
    })
    SigV4Auth(CREDS, "kinesis", "us-east-1").add_auth(req)
    return dict(req.headers.items())


# ---- SubscribeToShard readers ----------------------------------------------------------------

class Subscription:
    """Reads one SubscribeToShard event stream in a thread: HTTP/1.1 chunked, h2c, or TLS h2.
    Messages are kept raw (headers, payload bytes); SubscribeToShardEvent payloads decoded."""

    def __init__(self, server, body, transport="h1"):
        self.server, self.body, self.transport = server, body, transport
        self.messages, self.events, self.records = [], [], []
        self.status = self.headers = self.error = None
        self.ended = False
        self.sock = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def feed(self, buf, data):
        buf.add_data(data)
        for m in buf:
            self.messages.append(m)
            if m.headers.get(":event-type") == "SubscribeToShardEvent":
                ev = cbor_loads(m.payload)
                self.events.append(ev)
                self.records.extend(ev["Records"])

    def run(self):
        try:
            getattr(self, "run_" + ("h1" if self.transport == "h1" else "h2"))()
        except Exception as exc:  # noqa: BLE001 — reported by the test
            if not self.ended:
                self.error = exc

    def run_h1(self):
        port = self.server.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.sock = conn
        conn.request("POST", "/", body=self.body,
                     headers=signed_headers(port, "SubscribeToShard", self.body))
        r = conn.getresponse()
        self.status, self.headers = r.status, {k.lower(): v for k, v in r.getheaders()}
        buf = EventStreamBuffer()
        while True:
            data = r.read1(65536)
            if not data:
                break
            self.feed(buf, data)
        self.ended = True

    def run_h2(self):
        import h2.config
        import h2.connection
        tls = self.transport == "h2-tls"
        port = self.server.tls_port if tls else self.server.port
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            if sock.selected_alpn_protocol() != "h2":
                raise AssertionError("ALPN did not pick h2")
        self.sock = sock
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        # Netty sends Host as :authority; the signature covers it as host.
        hdrs = [(":method", "POST"), (":scheme", "https" if tls else "http"), (":path", "/"),
                (":authority", "127.0.0.1:%d" % self.server.port)]
        hdrs += [(k.lower(), v) for k, v in signed_headers(self.server.port, "SubscribeToShard",
                                                             self.body).items()]
        conn.send_headers(sid, hdrs)
        conn.send_data(sid, self.body, end_stream=True)
        sock.sendall(conn.data_to_send())
        buf = EventStreamBuffer()
        while not self.ended:
            data = sock.recv(65536)
            if not data:
                raise AssertionError("connection closed before END_STREAM")
            h2_subscribe_events(self, conn, buf, conn.receive_data(data))
            sock.sendall(conn.data_to_send())

    def data(self):
        return [r["Data"] for r in self.records]

    def close(self):
        self.ended = True
        try:
            if self.sock is not None:
                self.sock.close()
        except OSError:
            pass
        self.thread.join(10)


class CborTest(ServerTestCase):
    server_args = ("--limits", "off", "--heartbeat-ms", "300")
    server_tls = True

    # -- plumbing ---------------------------------------------------------------------------
    def call(self, op, body):
        """One signed HTTP/1.1 request with a CBOR body; (status, headers, raw body)."""
        port = self.server.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", "/", body=body, headers=signed_headers(port, op, body))
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def ok(self, op, obj, enc=jackson):
        status, headers, data = self.call(op, enc(obj))
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["content-type"], CT_CBOR)
        return cbor_loads(data) if data else None

    def err(self, op, body, code):
        status, headers, data = self.call(op, body)
        self.assertEqual(status, 400, data)
        self.assertEqual(headers.get("x-amzn-errortype"), code)
        self.assertEqual(headers["content-type"], CT_CBOR)
        obj = cbor_loads(data)
        self.assertEqual(obj["__type"], code)
        self.assertIsInstance(obj.get("message", ""), str)
        return obj

    def stats(self):
        status, _, data = self.server.raw(b"", method="GET", path="/stats", content_type=None)
        self.assertEqual(status, 200)
        return json.loads(data)

    def create_active(self, name, shards=1):
        self.assertIsNone(self.ok("CreateStream", {"StreamName": name, "ShardCount": shards}))
        wait_for(lambda: self.ok("DescribeStreamSummary", {"StreamName": name})
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        return self.ok("DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]

    def consumer(self, stream_arn, name):
        c = self.ok("RegisterStreamConsumer", {"StreamARN": stream_arn, "ConsumerName": name})
        arn = c["Consumer"]["ConsumerARN"]
        wait_for(lambda: self.ok("DescribeStreamConsumer", {"ConsumerARN": arn})
                 ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        return arn

    def assert_millis(self, v, lo, hi):
        """A Java timestamp: tag 1 around an integer count of milliseconds in [lo, hi]."""
        self.assertIsInstance(v, cbor2.types.CBORTag)
        self.assertEqual(v.tag, 1)
        self.assertIs(type(v.value), int)
        self.assertGreaterEqual(v.value, lo)
        self.assertLessEqual(v.value, hi)

    # -- unary operations -------------------------------------------------------------------
    def test_create_and_describe(self):
        t0 = now_ms()
        status, headers, data = self.call("CreateStream", jackson({"StreamName": "c1",
                                                                   "ShardCount": 2}))
        self.assertEqual((status, data), (200, b""))  # no output shape: empty body
        self.assertEqual(headers["content-type"], CT_CBOR)
        wait_for(lambda: self.ok("DescribeStreamSummary", {"StreamName": "c1"})
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        # Definite-length request this time; the answer's timestamp is Java's.
        d = self.ok("DescribeStreamSummary", {"StreamName": "c1"}, enc=definite)
        s = d["StreamDescriptionSummary"]
        self.assert_millis(s["StreamCreationTimestamp"], t0 - 1000, now_ms() + 1000)
        self.assertEqual(s["OpenShardCount"], 2)
        self.assertIs(type(s["RetentionPeriodHours"]), int)
        self.assertEqual(s["StreamARN"], "arn:aws:kinesis:us-east-1:000000000000:stream/c1")
        self.assertNotIn("StreamId", s)
        # Timestamps in requests are tag 1 + millis too, also nested (ShardFilter).
        shards = self.ok("ListShards", {
            "StreamName": "c1",
            "StreamCreationTimestamp": Millis(s["StreamCreationTimestamp"].value),
            "ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": Millis(now_ms())}})["Shards"]
        self.assertEqual([x["ShardId"] for x in shards], [SHARD0, "shardId-000000000001"])

    def test_put_and_get(self):
        self.create_active("c2")
        payloads = [b"\x00", b"\xff\xfe\x00\x80", bytes(range(256)), b"", b"\x00" * 1000,
                    os.urandom(5000)]
        t0 = now_ms()
        r = self.ok("PutRecord", {"StreamName": "c2", "Data": payloads[0],
                                  "PartitionKey": Chunked("pk-zero")})
        self.assertEqual(r["ShardId"], SHARD0)
        seqs = [r["SequenceNumber"]]
        r = self.ok("PutRecords", {"StreamName": "c2", "Records": [
            {"Data": d, "PartitionKey": "pk-%d" % i} for i, d in enumerate(payloads[1:])]})
        self.assertEqual(r["FailedRecordCount"], 0)
        seqs += [x["SequenceNumber"] for x in r["Records"]]
        t1 = now_ms()
        time.sleep(0.05)
        later = [b"later\x00\xff", b"\x01\x02"]
        r = self.ok("PutRecords", {"StreamARN": "arn:aws:kinesis:us-east-1:000000000000:stream/c2",
                                   "Records": [{"Data": d, "PartitionKey": "l"} for d in later]})
        seqs += [x["SequenceNumber"] for x in r["Records"]]
        it = self.ok("GetShardIterator", {"StreamName": "c2", "ShardId": SHARD0,
                                          "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        got = self.ok("GetRecords", {"ShardIterator": it, "Limit": 100})
        recs = got["Records"]
        self.assertEqual([x["Data"] for x in recs], payloads + later)  # byte strings, identical
        self.assertEqual([x["SequenceNumber"] for x in recs], seqs)
        self.assertEqual(recs[0]["PartitionKey"], "pk-zero")
        for x in recs[:len(payloads)]:
            self.assert_millis(x["ApproximateArrivalTimestamp"], t0 - 1000, t1 + 1000)
        self.assertIs(type(got["MillisBehindLatest"]), int)
        self.assertIsInstance(got["NextShardIterator"], str)
        # AT_TIMESTAMP with Java's tag 1 + millis: the first record at or after that instant.
        at = recs[len(payloads)]["ApproximateArrivalTimestamp"].value
        self.assertGreater(at, recs[len(payloads) - 1]["ApproximateArrivalTimestamp"].value)
        it = self.ok("GetShardIterator", {"StreamName": "c2", "ShardId": SHARD0,
                                          "ShardIteratorType": "AT_TIMESTAMP",
                                          "Timestamp": Millis(at)})["ShardIterator"]
        got = self.ok("GetRecords", {"ShardIterator": it}, enc=definite)
        self.assertEqual([x["Data"] for x in got["Records"]], later)

    def test_large_record(self):
        """A 10 MiB record over CBOR (a byte string, not base64) on a large-record stream, back
        byte for byte; the stream's maximum in DescribeStreamSummary and in the size error."""
        self.assertIsNone(self.ok("CreateStream", {"StreamName": "cl", "ShardCount": 1,
                                                   "MaxRecordSizeInKiB": 10240}))
        wait_for(lambda: self.ok("DescribeStreamSummary", {"StreamName": "cl"})
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        s = self.ok("DescribeStreamSummary", {"StreamName": "cl"})["StreamDescriptionSummary"]
        self.assertEqual(s["MaxRecordSizeInKiB"], 10240)
        tail_arn = self.consumer(s["StreamARN"], "lt")
        tail = Subscription(self.server, self.subscribe_body(tail_arn, Type="LATEST"), "h2c")
        wait_for(lambda: tail.events or tail.error, what="the tail pipe live")
        big = os.urandom(10 * 1024 * 1024 - 1)
        r = self.ok("PutRecord", {"StreamName": "cl", "Data": big, "PartitionKey": "k"},
                    enc=definite)
        e = self.err("PutRecord", definite({"StreamName": "cl", "Data": big + b"x",
                                            "PartitionKey": "k"}), "InvalidArgumentException")
        self.assertIn("maximum record size of 10485760 bytes", e["message"])
        it = self.ok("GetShardIterator", {"StreamName": "cl", "ShardId": SHARD0,
                                          "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        recs = self.ok("GetRecords", {"ShardIterator": it})["Records"]
        self.assertEqual([(x["SequenceNumber"], x["Data"]) for x in recs],
                         [(r["SequenceNumber"], big)])
        # SubscribeToShard in CBOR: the tail's twin of the shared frame (h2c) and a catch-up
        # pipe's own frame (HTTP/1.1) carry it as one byte string.
        catch = Subscription(self.server, self.subscribe_body(self.consumer(
            s["StreamARN"], "lc")), "h1")
        for sub in (tail, catch):
            wait_for(lambda: sub.records or sub.error, timeout=60, what="the record")
            self.assertIsNone(sub.error)
            self.assertEqual([(x["SequenceNumber"], x["Data"]) for x in sub.records],
                             [(r["SequenceNumber"], big)])
            sub.close()

    def test_consumers(self):
        s = self.create_active("c3")
        t0 = now_ms()
        c = self.ok("RegisterStreamConsumer", {"StreamARN": s["StreamARN"],
                                               "ConsumerName": "cc"})["Consumer"]
        self.assertEqual(c["ConsumerStatus"], "CREATING")
        self.assert_millis(c["ConsumerCreationTimestamp"], t0 - 1000, now_ms() + 1000)
        wait_for(lambda: self.ok("DescribeStreamConsumer", {"ConsumerARN": c["ConsumerARN"]})
                 ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        d = self.ok("DescribeStreamConsumer", {"StreamARN": s["StreamARN"],
                                               "ConsumerName": "cc"})["ConsumerDescription"]
        self.assertEqual(d["ConsumerARN"], c["ConsumerARN"])
        self.assertEqual(d["ConsumerCreationTimestamp"], c["ConsumerCreationTimestamp"])

    def test_errors_are_cbor(self):
        obj = self.err("DescribeStreamSummary", jackson({"StreamName": "nope"}),
                       "ResourceNotFoundException")
        self.assertEqual(obj["message"], "Stream nope under account 000000000000 not found.")
        self.err("Frobnicate", jackson({}), "UnknownOperationException")
        # Model validation still speaks in JSON paths and answers in CBOR.
        self.err("CreateStream", jackson({"StreamName": "a b", "ShardCount": 1}),
                 "ValidationException")
        # So do the auth checks before any operation: an unsigned CBOR request.
        status, headers, data = self.server.raw(jackson({}), target="ListStreams",
                                                content_type=CT_CBOR,
                                                headers={"Authorization": None})
        self.assertEqual((status, headers.get("x-amzn-errortype"), headers["content-type"]),
                         (400, "MissingAuthenticationTokenException", CT_CBOR), data)
        self.assertEqual(cbor_loads(data)["__type"], "MissingAuthenticationTokenException")

    def test_malformed_cbor(self):
        cases = [
            b"\xbf\x6aStreamName",                   # truncated inside a map
            b"\xbf\x01\x02\xff",                     # integer map key
            b"\xa1\x6aStreamName\x61s\x00",          # trailing byte
            b"\x7b" + b"\xff" * 8 + b"x",            # length beyond the body
            b"\xa1\x6aStreamName\x62\xc3\x28",       # not UTF-8
            b"\x81" * 40 + b"\x00",                  # nested too deep
            b"\x9f\x01",                             # indefinite array without its break
            b"{}",                                   # JSON sent as CBOR
        ]
        for body in cases:
            with self.subTest(body=body):
                obj = self.err("ListStreams", body, "SerializationException")
                self.assertIn("Invalid CBOR request body", obj["message"])
        # Well-formed CBOR of the wrong shape fails like its JSON twin would.
        self.err("ListStreams", cbor2.dumps([1]), "SerializationException")
        self.err("PutRecord", jackson({"StreamName": "x", "Data": 5, "PartitionKey": "k"}),
                 "SerializationException")

    # -- SubscribeToShard ---------------------------------------------------------------------
    def subscribe_body(self, arn, shard=SHARD0, **pos):
        return jackson({"ConsumerARN": arn, "ShardId": shard,
                        "StartingPosition": dict({"Type": "TRIM_HORIZON"}, **pos)})

    def check_stream(self, sub, t0):
        """Every message is CBOR: initial-response A0 first, then events whose records carry byte
        strings and tag 1 + millis."""
        self.assertEqual(sub.status, 200)
        self.assertEqual(sub.headers["content-type"], "application/vnd.amazon.eventstream")
        first = sub.messages[0]
        self.assertEqual(first.headers[":event-type"], "initial-response")
        self.assertEqual(first.payload, b"\xa0")
        for m in sub.messages:
            self.assertEqual(m.headers[":content-type"], CT_CBOR)
        for ev in sub.events:
            self.assertIs(type(ev["MillisBehindLatest"]), int)
            for r in ev["Records"]:
                self.assert_millis(r["ApproximateArrivalTimestamp"], t0 - 1000, now_ms() + 1000)
                self.assertIsInstance(r["Data"], bytes)

    def run_subscription(self, transport, name):
        s = self.create_active(name)
        arn = self.consumer(s["StreamARN"], "cb")
        t0 = now_ms()
        first = [bytes([i]) * (i * 29 + 1) + b"\x00\xff" for i in range(30)]
        self.ok("PutRecords", {"StreamName": name, "Records": [
            {"Data": d, "PartitionKey": "pk-%d" % i} for i, d in enumerate(first)]})
        sub = Subscription(self.server, self.subscribe_body(arn), transport)
        try:
            # Catch-up from TRIM_HORIZON.
            wait_for(lambda: len(sub.records) >= 30 or sub.error, what="catch-up records")
            self.assertIsNone(sub.error)
            # Live tail, one record at a time and a batch, then an idle heartbeat.
            live = [b"live-%d\x00\xff" % i for i in range(5)]
            for d in live[:3]:
                self.ok("PutRecord", {"StreamName": name, "Data": d, "PartitionKey": "t"})
            self.ok("PutRecords", {"StreamName": name, "Records": [
                {"Data": d, "PartitionKey": "t"} for d in live[3:]]})
            wait_for(lambda: len(sub.records) >= 35 or sub.error, what="tail records")
            n = len(sub.events)
            wait_for(lambda: any(not e["Records"] for e in sub.events[n:]) or sub.error,
                     what="a heartbeat")
            self.assertIsNone(sub.error)
            self.assertEqual(sub.data(), first + live)
            self.assertEqual([r["PartitionKey"] for r in sub.records[:30]],
                             ["pk-%d" % i for i in range(30)])
            conts = [e["ContinuationSequenceNumber"] for e in sub.events]
            self.assertEqual(conts[-1], sub.records[-1]["SequenceNumber"])
            self.check_stream(sub, t0)
            # Deregistering ends the stream with an exception event, its payload CBOR too.
            self.ok("DeregisterStreamConsumer", {"ConsumerARN": arn})
            wait_for(lambda: any(m.headers[":message-type"] == "exception"
                                 for m in sub.messages) or sub.error, timeout=5,
                     what="exception event")
            exc = [m for m in sub.messages if m.headers[":message-type"] == "exception"][0]
            self.assertEqual(exc.headers[":exception-type"], "ResourceInUseException")
            self.assertEqual(exc.headers[":content-type"], CT_CBOR)
            self.assertIsInstance(cbor_loads(exc.payload)["message"], str)
        finally:
            sub.close()

    def test_subscribe_http11(self):
        self.run_subscription("h1", "s1")

    def test_subscribe_h2c(self):
        self.run_subscription("h2", "s2")

    def test_subscribe_tls_h2(self):
        self.run_subscription("h2-tls", "s3")

    def test_subscribe_cbor_beside_json(self):
        """Four CBOR subscribers and a JSON (boto3) one on one shard's tail: all get every record
        once, in order; the JSON one still decodes through botocore's model (its frames
        unchanged); each shared frame is transcoded once for all CBOR pipes on both workers;
        KMS records say EncryptionType in CBOR too."""
        s = self.create_active("s4")
        arn_c = self.consumer(s["StreamARN"], "cbor")
        arn_j = self.consumer(s["StreamARN"], "json")
        k = self.server.boto3()
        jresp = k.subscribe_to_shard(ConsumerARN=arn_j, ShardId=SHARD0,
                                     StartingPosition={"Type": "LATEST"})
        jrecs, jerr = [], []

        def read_json():
            try:
                for ev in jresp["EventStream"]:
                    jrecs.extend(ev.get("SubscribeToShardEvent", {}).get("Records", []))
            except Exception as exc:  # noqa: BLE001
                jerr.append(exc)

        jt = threading.Thread(target=read_json, daemon=True)
        jt.start()
        sub = Subscription(self.server, self.subscribe_body(arn_c, Type="LATEST"), "h2")
        # Three more CBOR pipes, each on its own connection: connections go to the least loaded
        # worker, so with two workers the CBOR pipes are on both. Every one of them takes the one
        # CBOR twin of each shared frame.
        subs = [sub]
        try:
            for i, t in ((2, "h1"), (3, "h2"), (4, "h2")):
                arn = self.consumer(s["StreamARN"], "cbor%d" % i)
                subs.append(Subscription(self.server, self.subscribe_body(arn, Type="LATEST"), t))
            for x in subs:
                wait_for(lambda: len(x.events) >= 1 or x.error, what="CBOR pipe live")
            time.sleep(0.4)  # the pipes caught up: the tail frames are shared
            st0 = self.stats()
            data = [os.urandom(100 + i) for i in range(40)]
            for i in range(0, 40, 8):
                self.ok("PutRecords", {"StreamName": "s4", "Records": [
                    {"Data": d, "PartitionKey": "p%d" % j} for j, d in enumerate(data[i:i + 8])]})
            wait_for(lambda: (all(len(x.records) >= 40 for x in subs) and len(jrecs) >= 40)
                     or any(x.error for x in subs) or jerr, what="records on all five")
            st1 = self.stats()
            # The tail path: shared frames handed to every pipe, none fell back to reading for
            # itself, and each frame was transcoded to CBOR once for the four CBOR pipes and both
            # workers.
            built = st1["tail_frames_built"] - st0["tail_frames_built"]
            handed = st1["tail_frames_handed"] - st0["tail_frames_handed"]
            self.assertEqual(handed, 5 * built)
            self.assertEqual(st1["catchup_frames"], st0["catchup_frames"])
            self.assertEqual(st1["tail_cbor_twins"] - st0["tail_cbor_twins"], built)
            for x in subs:
                self.assertEqual(x.data(), data)
            self.assertEqual([r["Data"] for r in jrecs], data)
            self.assertEqual([r["SequenceNumber"] for r in sub.records],
                             [r["SequenceNumber"] for r in jrecs])
            self.assertEqual([r["ApproximateArrivalTimestamp"].value for r in sub.records],
                             [int(r["ApproximateArrivalTimestamp"].timestamp() * 1000 + 0.5)
                              for r in jrecs])
            k.start_stream_encryption(StreamName="s4", EncryptionType="KMS",
                                      KeyId="alias/aws/kinesis")
            wait_for(lambda: k.describe_stream_summary(StreamName="s4")
                     ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
            self.ok("PutRecord", {"StreamName": "s4", "Data": b"secret", "PartitionKey": "p"})
            wait_for(lambda: len(sub.records) >= 41 or sub.error, what="KMS record")
            self.assertEqual(sub.records[-1]["EncryptionType"], "KMS")
            self.assertEqual(sub.records[-1]["Data"], b"secret")
        finally:
            for x in subs:
                x.close()
            jresp["EventStream"].close()
            jt.join(10)

    def test_subscribe_shard_end(self):
        """A split ends a CBOR subscription with ChildShards and no continuation, then
        END_STREAM."""
        s = self.create_active("s5")
        arn = self.consumer(s["StreamARN"], "c")
        self.ok("PutRecord", {"StreamName": "s5", "Data": b"before", "PartitionKey": "p"})
        sub = Subscription(self.server, self.subscribe_body(arn), "h2")
        try:
            wait_for(lambda: sub.records or sub.error, what="record")
            self.ok("SplitShard", {"StreamName": "s5", "ShardToSplit": SHARD0,
                                   "NewStartingHashKey": str(1 << 127)})
            wait_for(lambda: sub.ended or sub.error, timeout=5, what="shard end")
            self.assertIsNone(sub.error)
            last = sub.events[-1]
            self.assertNotIn("ContinuationSequenceNumber", last)
            self.assertEqual(sorted(x["ShardId"] for x in last["ChildShards"]),
                             ["shardId-000000000001", "shardId-000000000002"])
            for x in last["ChildShards"]:
                self.assertEqual(x["ParentShards"], [SHARD0])
                self.assertIn("StartingHashKey", x["HashKeyRange"])
            self.assertEqual(sub.data(), [b"before"])
        finally:
            sub.close()


if __name__ == "__main__":
    main()
