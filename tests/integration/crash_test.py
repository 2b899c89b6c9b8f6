"""kill -9 during writes under --fsync always: every acknowledged record is readable after the
restart exactly once, with the sequence number and shard it was acknowledged with, in order.

Several producer threads (one keep-alive HTTP/1.1 connection each) send PutRecords with unique
payloads; the server is killed at a seeded random moment; after the restart every shard is read
back with boto3 GetShardIterator/GetRecords. Records whose request got no answer may or may not
be there, but never twice. Repeated for CRASH_CYCLES kill cycles (default 10) on the same data
dir, so earlier cycles' records must survive later crashes too. The seed is printed; set
CRASH_SEED to replay."""
import base64
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main, wait_for  # noqa: E402
import unittest  # noqa: E402

STREAM = "crash"
SHARDS = 3
PRODUCERS = 4
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


class Producer(threading.Thread):
    """Sends PutRecords until the connection dies; records what was acknowledged."""

    def __init__(self, port, cycle, tid, seed, stop):
        super().__init__(daemon=True)
        self.port, self.cycle, self.tid = port, cycle, tid
        self.rng = random.Random(seed)
        self.stop = stop
        self.acked = []  # (payload, shard, seq) in ack order
        self.sent = set()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        try:
            while not self.stop.is_set():
                batch = []
                for _ in range(self.rng.randint(1, 60)):
                    payload = "c%d-t%d-n%d-" % (self.cycle, self.tid, n) + "x" * self.rng.randint(
                        0, 300)
                    n += 1
                    batch.append(payload)
                    self.sent.add(payload)
                body = json.dumps({"StreamName": STREAM, "Records": [
                    {"Data": base64.b64encode(p.encode()).decode(),
                     "PartitionKey": "k%d" % self.rng.randint(0, 99)} for p in batch]})
                conn.request("POST", "/", body=body, headers={
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Target": "Kinesis_20131202.PutRecords", "Authorization": AUTH,
                    "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    raise AssertionError("PutRecords %d: %s" % (r.status, data[:300]))
                out = json.loads(data)
                for p, res in zip(batch, out["Records"]):
                    if "SequenceNumber" in res:
                        self.acked.append((p, res["ShardId"], res["SequenceNumber"]))
        except (OSError, http.client.HTTPException):
            pass  # the server was killed under us
        finally:
            conn.close()


def read_shard(k, shard_id):
    it = k.get_shard_iterator(StreamName=STREAM, ShardId=shard_id,
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    out = []
    for _ in range(1000):
        r = k.get_records(ShardIterator=it, Limit=10000)
        out += r["Records"]
        if not r["Records"] and r["MillisBehindLatest"] == 0:
            return out
        it = r["NextShardIterator"]
    raise AssertionError("shard %s did not end after 1000 GetRecords" % shard_id)


class CrashTest(unittest.TestCase):
    def test_kill9_during_writes(self):
        seed = int(os.environ.get("CRASH_SEED") or time.time_ns() % 1000000007)
        cycles = int(os.environ.get("CRASH_CYCLES") or 10)
        print("crash_test seed %d, %d cycles (CRASH_SEED=%d to replay)" % (seed, cycles, seed),
              flush=True)
        rng = random.Random(seed)
        acked = {}  # payload -> (shard, seq)
        sent = set()
        deadline = time.monotonic() + 150
        # Small segments (dozens per shard: 130 files in 4 cycles of one run), so kills also
        # land around segment rolls (a new file whose directory entry the writer syncs before
        # the first write into it).
        with Server("--fsync", "always", "--limits", "off", "--workers", "2",
                    "--segment-bytes", "262144") as srv:
            k = srv.boto3()
            k.create_stream(StreamName=STREAM, ShardCount=SHARDS)
            wait_for(lambda: k.describe_stream_summary(StreamName=STREAM)
                     ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
            for cycle in range(cycles):
                self.assertLess(time.monotonic(), deadline, "cycles took too long")
                stop = threading.Event()
                ps = [Producer(srv.port, cycle, t, rng.random(), stop) for t in range(PRODUCERS)]
                for p in ps:
                    p.start()
                time.sleep(rng.uniform(0.15, 1.2))
                srv.kill9()
                stop.set()
                for p in ps:
                    p.join(15)
                    self.assertFalse(p.is_alive())
                    for payload, shard, seq in p.acked:
                        acked[payload] = (shard, seq)
                    sent |= p.sent
                srv.start()
                k = srv.boto3()
                self.verify(k, acked, sent, ps, cycle)
            segs = [f for _, _, files in os.walk(os.path.join(srv.dir, "data", "streams"))
                    for f in files if f.endswith(".seg")]
        print("crash_test: %d records acknowledged, %d segment files" % (len(acked), len(segs)),
              flush=True)
        self.assertGreater(len(acked), 100)
        self.assertGreater(len(segs), 2 * SHARDS, "no segment rolled: %s" % segs)

    def test_sigterm_during_writes(self):
        """SIGTERM while producers write: exit 0 (an ASan leak report would fail it), and every
        acknowledged record is there after the restart."""
        rng = random.Random(7)
        for fsync in ("always", "interval"):
            with Server("--fsync", fsync, "--limits", "off", "--workers", "2") as srv:
                k = srv.boto3()
                k.create_stream(StreamName=STREAM, ShardCount=SHARDS)
                wait_for(lambda: k.describe_stream_summary(StreamName=STREAM)
                         ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
                stop = threading.Event()
                ps = [Producer(srv.port, 0, t, rng.random(), stop) for t in range(PRODUCERS)]
                for p in ps:
                    p.start()
                time.sleep(0.8)
                srv.stop()  # SIGTERM; asserts exit code 0
                stop.set()
                acked, sent = {}, set()
                for p in ps:
                    p.join(15)
                    acked.update({x[0]: (x[1], x[2]) for x in p.acked})
                    sent |= p.sent
                self.assertGreater(len(acked), 50)
                srv.start()
                self.verify(srv.boto3(), acked, sent, ps, 0)

    def verify(self, k, acked, sent, producers, cycle):
        seen = {}
        for i in range(SHARDS):
            shard = "shardId-%012d" % i
            prev = 0
            for rec in read_shard(k, shard):
                payload = rec["Data"].decode()
                self.assertIn(payload, sent, "a record nobody sent")
                self.assertNotIn(payload, seen, "record %s stored twice" % payload)
                seq = int(rec["SequenceNumber"])
                self.assertGreater(seq, prev, "numbers not increasing on %s" % shard)
                prev = seq
                seen[payload] = (shard, rec["SequenceNumber"])
        missing = [p for p in acked if p not in seen]
        self.assertEqual(missing[:5], [], "cycle %d: %d acknowledged records lost" %
                         (cycle, len(missing)))
        for p, where in acked.items():
            self.assertEqual(seen[p], where, "record %s moved" % p)
        # Each producer's acknowledged records keep its send order within a shard.
        for pr in producers:
            last = {}
            for payload, shard, seq in pr.acked:
                self.assertGreater(int(seq), last.get(shard, 0))
                last[shard] = int(seq)
        print("cycle %d: %d acknowledged so far, %d stored" % (cycle, len(acked), len(seen)),
              flush=True)


if __name__ == "__main__":
    main()
