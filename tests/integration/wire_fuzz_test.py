"""Mutation testing of the real shardcastd through its socket: what a careless or hostile client
can send, at three levels, with a fixed seed and bounded counts (WIRE_FUZZ_SEED, WIRE_FUZZ_SCALE
in the environment replay or widen a run).

1. Kinesis requests: valid calls of ~25 operations on a live stream, mutated in structure (values
   of every JSON type and size put anywhere, members dropped or added, containers swapped) and in
   bytes. Every answer must be 200, or 400 with an AWS error body whose __type matches the
   x-amzn-ErrorType header and which has a message; never 5xx, never a hang. Every record the server acknowledged for the
   stream must then be readable, exactly once.
2. HTTP/1.1 bytes: valid requests mutated at the byte level (request line, headers, lengths,
   chunking), sent raw. The server answers with a status line or closes; never hangs after we
   stop sending.
3. HTTP/2 frames: the preface, then random frames (every type, flags, stream ids, lengths,
   HPACK garbage), or real requests (SubscribeToShard among them) cut into DATA frames with
   resets, window updates, bad headers and random frames mixed in. A PING afterwards must be
   answered, or the connection closed (GOAWAY).

4. The Kinesis calls again as CBOR (`application/x-amz-cbor-1.1`), mutated in structure and bytes.

The server must stay up throughout, and exit cleanly (ASan leak check) when the class stops it.
"""
import base64
import json
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402

SEED = int(os.environ.get("WIRE_FUZZ_SEED", "1"))
SCALE = float(os.environ.get("WIRE_FUZZ_SCALE", "1"))
N_JSON = int(4000 * SCALE)
N_H1 = int(1000 * SCALE)
N_H2 = int(500 * SCALE)
DEADLINE_S = 240 * max(SCALE, 1)
STREAM = "fz"
BODY_MAX = 32 << 20  # shardcastd's default request body limit (config.c)
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def b64(data):
    return base64.b64encode(data).decode()


class Mutator:
    """Structure-aware JSON mutation, deterministic for a seed."""

    def __init__(self, rng):
        self.r = rng

    def value(self, depth=0):
        r = self.r
        pick = r.randrange(22)
        if pick == 0:
            return None
        if pick == 1:
            return r.choice([True, False])
        if pick == 2:
            return r.choice([0, -1, 1, 2**31, 2**63 - 1, -2**63, 2**64, 10**30, -10**30])
        if pick == 3:
            return r.choice([0.5, -1.5, 1e308, -1e-308, 1700000000.123, 1e21])
        if pick == 4:
            return ""
        if pick == 5:
            return "x" * r.choice([1, 127, 128, 129, 256, 257, 1000, 2049] +
                                  ([70000, 1 << 20] if depth < 99 else []))
        if pick == 6:
            return r.choice(["\u00e9\u0000", "\ud7ff\ue000", "\U0001F600" * 3, "\u2028", "a\\b\"c"])
        if pick == 7:
            return b64(r.randbytes(r.choice([0, 1, 100, 5000] if depth < 99 else [0, 1, 100])))
        if pick == 8:
            return r.choice(["shardId-000000000000", "shardId-000000000001", "shardId-999999999999",
                             "shardId-", "1", "-1", "000000000001"])
        if pick == 9:
            return str(r.randrange(10 ** r.choice([1, 20, 56, 57, 129, 300])))
        if pick == 10:
            return r.choice(["arn:aws:kinesis:us-east-1:000000000000:stream/" + STREAM,
                             "arn:aws:kinesis:us-east-1:000000000000:stream/%s/consumer/c1:1" % STREAM,
                             "arn:aws:kinesis:eu-west-1:111111111111:stream/x",
                             "arn:aws:kinesis:::", "arn:" + "a" * 3000])
        if pick == 11:
            return r.choice(["TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER",
                             "AT_TIMESTAMP", "AT_SHARD_ID", "AFTER_SHARD_ID", "FROM_TRIM_HORIZON",
                             "FROM_TIMESTAMP", "KMS", "NONE", "ALL", "ON_DEMAND", "PROVISIONED"])
        # Containers: a few elements of any kind, or many of scalars only (sizes stay bounded).
        if pick == 12 and depth < 4:
            n = r.choice([0, 1, 2, 5, 501])
            return [self.value(depth + 1 if n < 10 else 99) for _ in range(n)]
        if pick == 13 and depth < 4:
            n = r.choice([0, 1, 3, 51])
            return {self.key(): self.value(depth + 1 if n < 10 else 99) for _ in range(n)}
        if pick == 14 and depth < 99:
            nest = 0
            for _ in range(r.choice([10, 63, 64, 65, 200])):
                nest = [nest]
            return nest
        return r.choice(["fz", "fz-new", "c1", "k", "a" * 129, "bad name!", " ", "c2", "none"])

    def key(self):
        return self.r.choice(["StreamName", "StreamARN", "ShardId", "Data", "PartitionKey",
                              "Records", "Limit", "NextToken", "ConsumerName", "ConsumerARN",
                              "Tags", "TagKeys", "ShardIteratorType", "Timestamp", "Unknown",
                              "", "x" * 300])

    def mutate(self, obj, depth=0):
        """A changed copy of obj (a JSON object)."""
        r = self.r
        if not isinstance(obj, (dict, list)) or depth > 8:
            return self.value(depth)
        if isinstance(obj, dict):
            out = dict(obj)
            action = r.randrange(6)
            keys = list(out.keys())
            if action == 0 and keys:
                del out[r.choice(keys)]
            elif action == 1:
                out[self.key()] = self.value(depth)
            elif action == 2 and keys:
                k = r.choice(keys)
                out[k] = self.mutate(out[k], depth + 1)
            elif action == 3:
                return list(out.values())
            elif keys:
                out[r.choice(keys)] = self.value(depth)
            return out
        out = list(obj)
        action = r.randrange(4)
        if action == 0 and out:
            i = r.randrange(len(out))
            out[i] = self.mutate(out[i], depth + 1)
        elif action == 1:
            out.append(self.value(depth))
        elif action == 2 and out:
            out.pop(r.randrange(len(out)))
        else:
            # Many elements (PutRecords takes 500) only of small ones: sizes must not explode.
            small = len(json.dumps(out)) < 400
            out = out * r.choice([0, 2, 600] if small else [0, 2])
        return out

    def bytes_of(self, data):
        """Byte-level damage to serialised JSON."""
        r = self.r
        b = bytearray(data)
        for _ in range(r.randrange(1, 4)):
            if not b:
                break
            op = r.randrange(5)
            i = r.randrange(len(b))
            if op == 0:
                b[i] ^= 1 << r.randrange(8)
            elif op == 1:
                b[i] = r.choice(b'"{}[]:,\\\x00\x80\xff 0e-')
            elif op == 2:
                del b[i:i + r.randrange(1, 16)]
            elif op == 3:
                b[i:i] = bytes(r.randrange(256) for _ in range(r.randrange(1, 8)))
            else:
                del b[i:]
        return bytes(b)


class WireFuzzTest(ServerTestCase):
    server_args = ("--max-consumers", "5")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        st, _ = srv.call("CreateStream", {"StreamName": STREAM, "ShardCount": 2})
        assert st == 200
        wait_for(lambda: srv.call("DescribeStreamSummary", {"StreamName": STREAM})[1]
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        cls.arn = srv.call("DescribeStreamSummary", {"StreamName": STREAM})[1][
            "StreamDescriptionSummary"]["StreamARN"]
        st, out = srv.call("RegisterStreamConsumer", {"StreamARN": cls.arn, "ConsumerName": "c1"})
        assert st == 200, out
        cls.carn = out["Consumer"]["ConsumerARN"]
        cls.deadline = time.monotonic() + DEADLINE_S

    def left(self):
        return self.deadline - time.monotonic()

    # -- 1. Kinesis requests -------------------------------------------------------------------
    def seeds(self):
        srv = self.server
        st, put = srv.call("PutRecord", {"StreamName": STREAM, "Data": b64(b"seed"),
                                         "PartitionKey": "k"})
        self.assertEqual(st, 200, put)
        seq = put["SequenceNumber"]
        st, it = srv.call("GetShardIterator", {"StreamName": STREAM, "ShardId": put["ShardId"],
                                               "ShardIteratorType": "TRIM_HORIZON"})
        self.assertEqual(st, 200, it)
        st, ls = srv.call("ListShards", {"StreamName": STREAM, "MaxResults": 1})
        self.assertEqual(st, 200, ls)
        st, lc = srv.call("ListStreamConsumers", {"StreamARN": self.arn, "MaxResults": 1})
        self.assertEqual(st, 200, lc)
        recs = [{"Data": b64(bytes([i]) * 10), "PartitionKey": "p%d" % i} for i in range(5)]
        return [
            ("PutRecord", {"StreamName": STREAM, "Data": b64(b"hello"), "PartitionKey": "a",
                           "ExplicitHashKey": "1", "SequenceNumberForOrdering": seq}),
            ("PutRecords", {"StreamName": STREAM, "Records": recs}),
            ("PutRecords", {"StreamARN": self.arn, "Records": recs[:2]}),
            ("GetShardIterator", {"StreamName": STREAM, "ShardId": "shardId-000000000000",
                                  "ShardIteratorType": "AT_SEQUENCE_NUMBER",
                                  "StartingSequenceNumber": seq}),
            ("GetShardIterator", {"StreamARN": self.arn, "ShardId": "shardId-000000000001",
                                  "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": time.time()}),
            ("GetRecords", {"ShardIterator": it["ShardIterator"], "Limit": 10}),
            ("ListShards", {"StreamName": STREAM, "MaxResults": 1}),
            ("ListShards", {"NextToken": ls.get("NextToken", "x")}),
            ("ListShards", {"StreamName": STREAM, "ShardFilter": {"Type": "AT_TIMESTAMP",
                                                                  "Timestamp": 1.0}}),
            ("DescribeStream", {"StreamName": STREAM, "Limit": 1,
                                "ExclusiveStartShardId": "shardId-000000000000"}),
            ("DescribeStreamSummary", {"StreamARN": self.arn}),
            ("ListStreams", {"Limit": 1, "ExclusiveStartStreamName": "a"}),
            ("AddTagsToStream", {"StreamName": STREAM, "Tags": {"a": "1", "b": ""}}),
            ("ListTagsForStream", {"StreamName": STREAM, "Limit": 1}),
            ("RemoveTagsFromStream", {"StreamName": STREAM, "TagKeys": ["b"]}),
            ("TagResource", {"ResourceARN": self.arn, "Tags": {"c": "3"}}),
            ("ListTagsForResource", {"ResourceARN": self.carn}),
            ("RegisterStreamConsumer", {"StreamARN": self.arn, "ConsumerName": "c2"}),
            ("DescribeStreamConsumer", {"ConsumerARN": self.carn}),
            ("DescribeStreamConsumer", {"StreamARN": self.arn, "ConsumerName": "c1"}),
            ("ListStreamConsumers", {"StreamARN": self.arn, "MaxResults": 1}),
            ("ListStreamConsumers", {"StreamARN": self.arn,
                                     "NextToken": lc.get("NextToken", "x")}),
            ("IncreaseStreamRetentionPeriod", {"StreamName": STREAM, "RetentionPeriodHours": 48}),
            ("StartStreamEncryption", {"StreamName": STREAM, "EncryptionType": "KMS",
                                       "KeyId": "alias/aws/kinesis"}),
            ("StopStreamEncryption", {"StreamName": STREAM, "EncryptionType": "KMS",
                                      "KeyId": "alias/aws/kinesis"}),
            ("EnableEnhancedMonitoring", {"StreamName": STREAM, "ShardLevelMetrics": ["ALL"]}),
            ("DescribeLimits", {}),
            ("CreateStream", {"StreamName": "fz-new", "ShardCount": 1}),
            ("UpdateStreamMode", {"StreamARN": self.arn,
                                  "StreamModeDetails": {"StreamMode": "PROVISIONED"}}),
        ]

    def send(self, op, body, ctype="application/x-amz-json-1.1"):
        """One request on a fresh connection. Returns (status, headers, body), or None when the
        server closed without an answer we could read (allowed only past the body limit)."""
        import http.client
        head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
                "X-Amz-Target: Kinesis_20131202.%s\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (ctype, op, AUTH,
                                                 time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                                                 len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        try:
            try:
                s.sendall(head + body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered early (413) and closed: read the answer below
            r = http.client.HTTPResponse(s)
            try:
                r.begin()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            except (ConnectionResetError, http.client.RemoteDisconnected):
                return None
        finally:
            s.close()

    def answer(self, op, data, ctype="application/x-amz-json-1.1"):
        """send() with the checks every answer gets: it comes, and a close without one or a 413
        only past the body limit. Returns (status, headers, body), or None after those."""
        try:
            got = self.send(op, data, ctype)
        except (socket.timeout, TimeoutError) as e:
            self.fail("%s hung: %r body %r" % (op, e, data[:300]))
        if got is None or got[0] == 413:
            self.assertGreater(len(data), BODY_MAX, "closed or 413: %r" % data[:300])
            return None
        return got

    def test_1_kinesis_requests(self):
        rng = random.Random(SEED)
        mut = Mutator(rng)
        seeds = self.seeds()
        acked = set()  # (shard id, sequence number) the server acknowledged for STREAM
        bad = []
        statuses = {}
        for i in range(N_JSON):
            if self.left() < 60:
                break
            op, body = rng.choice(seeds)
            if rng.randrange(4) == 0:
                data = mut.bytes_of(json.dumps(body).encode())
            else:
                for _ in range(rng.randrange(1, 4)):
                    body = mut.mutate(body)
                data = json.dumps(body).encode()
            got = self.answer(op, data)
            if got is None:
                continue
            status, headers, resp = got
            statuses[status] = statuses.get(status, 0) + 1
            if status == 200:
                out = json.loads(resp) if resp else {}
                self.assertIsInstance(out, dict)
                try:
                    sent = json.loads(data)
                except ValueError:
                    sent = None
                names = (sent.get("StreamName"), sent.get("StreamARN")) \
                    if isinstance(sent, dict) else (None, None)
                ours = names[0] in (STREAM, None) and names[1] in (self.arn, None) and \
                    names != (None, None)
                if op == "PutRecord" and ours:
                    acked.add((out["ShardId"], out["SequenceNumber"]))
                elif op == "PutRecords" and ours:
                    for r in out["Records"]:
                        if "SequenceNumber" in r:
                            acked.add((r["ShardId"], r["SequenceNumber"]))
            elif status == 400:
                err = json.loads(resp)
                self.assertTrue(err.get("__type"), resp)
                self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0], err["__type"])
                # Every error of a known operation says why (a message quoting client text cut
                # inside a UTF-8 sequence used to vanish).
                self.assertTrue(err.get("message"), (op, data[:300], resp[:300]))
            else:
                bad.append((status, op, data[:300], resp[:300]))
            if i % 100 == 0:
                self.assertTrue(self.server.alive(), "shardcastd died at request %d" % i)
        sys.stderr.write("kinesis requests: %d sent, answers %s, %d acknowledged records\n"
                         % (i + 1, sorted(statuses.items()), len(acked)))
        self.assertEqual(bad, [], "answers other than 200/400 (status, op, body, answer)")
        self.assertGreater(statuses.get(200, 0), 50, statuses)
        self.assertGreater(statuses.get(400, 0), 50, statuses)
        self.check_acked_readable(acked)

    def check_acked_readable(self, acked):
        """Every acknowledged record of STREAM is in the log exactly once."""
        srv = self.server
        seen = {}
        st, ls = srv.call("ListShards", {"StreamName": STREAM})
        self.assertEqual(st, 200, ls)
        for sh in ls["Shards"]:
            st, it = srv.call("GetShardIterator", {"StreamName": STREAM, "ShardId": sh["ShardId"],
                                                   "ShardIteratorType": "TRIM_HORIZON"})
            self.assertEqual(st, 200, it)
            itr = it["ShardIterator"]
            for _ in range(10000):
                st, out = srv.call("GetRecords", {"ShardIterator": itr, "Limit": 10000})
                if st == 400 and out["__type"] == "ProvisionedThroughputExceededException":
                    time.sleep(0.25)  # 5 reads/s per shard under --limits aws
                    continue
                self.assertEqual(st, 200, out)
                for r in out["Records"]:
                    key = (sh["ShardId"], r["SequenceNumber"])
                    seen[key] = seen.get(key, 0) + 1
                itr = out.get("NextShardIterator")
                if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                    break
        missing = [k for k in acked if k not in seen]
        self.assertEqual(missing, [], "acknowledged records not readable")
        self.assertEqual([k for k, n in seen.items() if n != 1], [])
        self.assertGreater(len(acked), 20)

    # -- 2. HTTP/1.1 bytes ---------------------------------------------------------------------
    def h1_seeds(self):
        body = json.dumps({"StreamName": STREAM}).encode()
        head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
                "X-Amz-Target: Kinesis_20131202.DescribeStreamSummary\r\nAuthorization: %s\r\n"
                "X-Amz-Date: 20240101T000000Z\r\n" % AUTH).encode()
        chunked = head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + \
            b"\r\n0\r\n\r\n"
        return [
            head + b"Content-Length: %d\r\n\r\n" % len(body) + body,
            chunked,
            head + b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body) + body,
            b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /stats HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /health HTTP/1.0\r\n\r\n",
        ]

    def exchange(self, data, wait=5.0):
        """Sends data, half-closes, reads until the server closes. Returns the bytes read, or
        None if the server neither answered nor closed within `wait` seconds."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=wait)
        got = b""
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    return got
                except socket.timeout:
                    return None
                if not chunk:
                    return got
                got += chunk
            return None
        except (BrokenPipeError, ConnectionResetError):
            return got
        finally:
            s.close()

    def test_2_http1_bytes(self):
        rng = random.Random(SEED + 1)
        mut = Mutator(rng)
        seeds = self.h1_seeds()
        answered = 0
        for i in range(N_H1):
            if self.left() < 30:
                break
            data = mut.bytes_of(rng.choice(seeds)) if rng.randrange(8) else \
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
            got = self.exchange(data)
            self.assertIsNotNone(got, "no answer and no close for %r" % data[:300])
            if got:
                self.assertTrue(got.startswith(b"HTTP/1.1 ") or got.startswith(b"HTTP/1.0 "),
                                (data[:200], got[:200]))
                answered += 1
            if i % 50 == 0:
                self.assertTrue(self.server.alive(), "shardcastd died at h1 input %d" % i)
        sys.stderr.write("http/1.1 inputs: %d, answered %d (the rest: closed)\n" % (i + 1, answered))
        self.assertGreater(answered, N_H1 // 4)

    # -- 3. HTTP/2 frames ----------------------------------------------------------------------
    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    @staticmethod
    def frame(ftype, flags, sid, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
            struct.pack(">I", sid & 0xFFFFFFFF) + payload

    def random_frame(self, rng):
        ftype = rng.choice(list(range(10)) + [0x0a, 0xfe])
        flags = rng.choice([0, 1, 4, 5, 8, 0x20, 0x25, 0xff])
        sid = rng.choice([0, 1, 3, 5, 2, 0x7fffffff, 0x80000001])
        n = rng.choice([0, 1, 4, 5, 8, 9, 16, 100, 16384, 16385])
        if ftype == 1 and rng.randrange(2):  # HEADERS with a little real HPACK and garbage
            payload = bytes([0x83, 0x86, 0x84, 0x41, 0x03]) + b"a.b" + \
                bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        else:
            payload = bytes(rng.randrange(256) for _ in range(n))
        return self.frame(ftype, flags, sid, payload)

    def request_frames(self, rng, sid):
        """A real Kinesis request on stream sid (HPACK from python3-h2's hpack), its body cut in
        DATA frames, with random frames and edits mixed in: flow control, resets and bad
        lengths in the middle of a request the server has started to handle."""
        import hpack
        op, body = rng.choice([
            ("DescribeStreamSummary", {"StreamName": STREAM}),
            ("PutRecord", {"StreamName": STREAM, "Data": b64(b"h2"), "PartitionKey": "k"}),
            ("ListShards", {"StreamName": STREAM}),
            ("SubscribeToShard", {"ConsumerARN": self.carn, "ShardId": "shardId-000000000000",
                                  "StartingPosition": {"Type": "LATEST"}}),
        ])
        data = json.dumps(body).encode()
        hdrs = [(":method", "POST"), (":scheme", "http"), (":path", "/"),
                (":authority", "127.0.0.1"), ("content-type", "application/x-amz-json-1.1"),
                ("x-amz-target", "Kinesis_20131202." + op), ("authorization", AUTH),
                ("x-amz-date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())),
                ("content-length", str(len(data)))]
        if rng.randrange(3) == 0:
            hdrs[rng.randrange(len(hdrs))] = (rng.choice([":path", "content-length", "te",
                                                          "connection", ":method", "x"]),
                                              rng.choice(["", "-1", "99999999999", "trailers",
                                                          "keep-alive", "GET"]))
        block = hpack.Encoder().encode(hdrs)
        cut = rng.randrange(len(data) + 1)
        frames = [self.frame(1, 4, sid, block),  # HEADERS, END_HEADERS
                  self.frame(0, 0, sid, data[:cut])]
        for _ in range(rng.randrange(0, 3)):
            frames.append(self.random_frame(rng) if rng.randrange(2) else
                          self.frame(rng.choice([3, 8]), 0, sid,  # RST_STREAM / WINDOW_UPDATE
                                     struct.pack(">I", rng.choice([0, 1, 8, 0x7fffffff]))))
        frames.append(self.frame(0, 1, sid, data[cut:]))  # DATA, END_STREAM
        if rng.randrange(4) == 0:
            frames.insert(rng.randrange(len(frames) + 1), self.random_frame(rng))
        return frames

    def test_3_h2_frames(self):
        rng = random.Random(SEED + 2)
        ping = self.frame(6, 0, 0, b"shardcst")
        acks = 0
        for i in range(N_H2):
            if self.left() < 10:
                break
            frames = [self.frame(4, 0, 0, b"")]  # SETTINGS
            if rng.randrange(2):
                for k in range(rng.randrange(1, 4)):
                    frames += self.request_frames(rng, 1 + 2 * k)
            else:
                frames += [self.random_frame(rng) for _ in range(rng.randrange(1, 6))]
            got, ok = b"", False
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
            try:
                s.sendall(self.PREFACE + b"".join(frames) + ping)
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline:
                    try:
                        chunk = s.recv(65536)
                    except ConnectionResetError:
                        ok = True
                        break
                    if not chunk:
                        ok = True  # closed (after a GOAWAY, or at once)
                        break
                    got += chunk
                    if self.has_ping_ack(got):
                        ok = True
                        break
                self.assertTrue(ok, "no PING ACK and no close after %r" % frames)
            except (BrokenPipeError, ConnectionResetError):
                ok = True
            finally:
                s.close()
            acks += self.has_ping_ack(got)
            if i % 25 == 0:
                self.assertTrue(self.server.alive(), "shardcastd died at h2 input %d" % i)
        sys.stderr.write("http/2 connections: %d, PING answered on %d (the rest: closed)\n"
                         % (i + 1, acks))

    @staticmethod
    def has_ping_ack(buf):
        off = 0
        while off + 9 <= len(buf):
            n = int.from_bytes(buf[off:off + 3], "big")
            if buf[off + 3] == 6 and buf[off + 4] & 1 and buf[off + 9:off + 9 + n] == b"shardcst":
                return True
            off += 9 + n
        return False

    def test_4_cbor_requests(self):
        """The same calls as CBOR (the Java SDKs' codec): Data as byte strings, timestamps as
        tag 1 + epoch milliseconds, then structure and byte mutations. Answers: 200, or 400
        with a CBOR error map whose __type matches the header (413 past the body limit)."""
        import cbor2
        from cbor_test import cbor_loads  # tag 1 kept as a tag: it carries milliseconds
        rng = random.Random(SEED + 3)
        mut = Mutator(rng)
        seeds = self.seeds()

        def to_cbor(v, key=None):
            if isinstance(v, dict):
                return {k: to_cbor(x, k) for k, x in v.items()}
            if isinstance(v, list):
                return [to_cbor(x) for x in v]
            if key == "Data" and isinstance(v, str):
                try:
                    return base64.b64decode(v, validate=True)
                except ValueError:
                    return v
            if key == "Timestamp" and isinstance(v, (int, float)) and abs(v) < 1e15:
                return cbor2.CBORTag(1, int(v * 1000))
            return v

        statuses = {}
        for i in range(N_JSON // 2):
            if self.left() < 20:
                break
            op, body = rng.choice(seeds)
            for _ in range(rng.randrange(0, 3)):
                body = mut.mutate(body)
            try:
                data = cbor2.dumps(to_cbor(body))
            except (ValueError, OverflowError, cbor2.CBOREncodeError):
                continue
            if rng.randrange(4) == 0:
                data = mut.bytes_of(data)
            got = self.answer(op, data, ctype="application/x-amz-cbor-1.1")
            if got is None:
                continue
            status, headers, resp = got
            statuses[status] = statuses.get(status, 0) + 1
            self.assertIn(status, (200, 400), (op, data[:300], resp[:300]))
            if resp:
                self.assertEqual(headers["content-type"], "application/x-amz-cbor-1.1")
                out = cbor_loads(resp)
                self.assertIsInstance(out, dict)
                if status == 400:
                    self.assertEqual(headers.get("x-amzn-errortype", "").split(":")[0],
                                     out["__type"])
                    self.assertTrue(out.get("message"), (op, data[:300], resp[:300]))
            if i % 100 == 0:
                self.assertTrue(self.server.alive(), "shardcastd died at CBOR request %d" % i)
        sys.stderr.write("cbor requests: answers %s\n" % sorted(statuses.items()))
        self.assertGreater(statuses.get(200, 0), 20, statuses)

    def test_5_still_serving(self):
        time.sleep(1.1)  # the fuzzed calls may have spent DescribeStreamSummary's 20/s
        st, out = self.server.call("DescribeStreamSummary", {"StreamName": STREAM})
        self.assertEqual(st, 200, out)
        st, _, data = self.server.raw(b"", method="GET", path="/health", content_type=None)
        self.assertEqual((st, data.strip()), (200, b"ok"))


if __name__ == "__main__":
    main()
