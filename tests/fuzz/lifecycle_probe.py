"""By hand, not a ctest: clients racing stream lifecycles against one shardcastd.

Four threads pick at random (fixed seed) among CreateStream (some with large records) /
DeleteStream, PutRecord(s) (some of 3 MiB), UpdateMaxRecordSize, UpdateAccountSettings and
UpdateStreamWarmThroughput, GetShardIterator + GetRecords, Register/DeregisterStreamConsumer,
SubscribeToShard over HTTP/1.1
(read for up to 0.5 s, then hang up), Split/MergeShards, UpdateShardCount, ListShards,
DescribeStream, and "rude" requests (a whole or half request, then a close or a reset without
reading the answer) on two stream names. Every answer must be 200, 400 or 503, the server must
stay up, hold no request body afterwards (GET /stats request_body_bytes 0) and exit 0 on
SIGTERM (ASan + leak check in the Debug build). Bounded by PROBE_SECONDS
and 100 000 operations a thread.

    SHARDCASTD=build/server/shardcastd PROBE_SEED=1 PROBE_SECONDS=60 PROBE_CHURN=1 \
        python3 tests/fuzz/lifecycle_probe.py

PROBE_CHURN weighs Create/DeleteStream (0: both streams live throughout). It found the
PutRecords use-after-free across splits and the 500 on a re-created stream's reads
(tests/fuzz/README.md). The server's log is kept in its temp dir, printed on failure."""
import base64
import http.client
import json
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Server  # noqa: E402

SEED = int(os.environ.get("PROBE_SEED", "1"))
SECONDS = float(os.environ.get("PROBE_SECONDS", "60"))
CHURN = int(os.environ.get("PROBE_CHURN", "1"))
NAMES = ["c0", "c1"]
ACCOUNT = "000000000000"
AUTH = ("AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)


def arn(name):
    return "arn:aws:kinesis:us-east-1:%s:stream/%s" % (ACCOUNT, name)


def head(port, op, length):
    return ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/x-amz-json-1.1\r\n"
            "X-Amz-Target: Kinesis_20131202.%s\r\nAuthorization: %s\r\nX-Amz-Date: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (port, op, AUTH,
                                            time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
                                            length)).encode()


class Probe:
    def __init__(self, port):
        self.port = port
        self.stats, self.bad = {}, []
        self.lock = threading.Lock()

    def call(self, op, body):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request("POST", "/", json.dumps(body).encode(), {
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "Kinesis_20131202." + op, "Authorization": AUTH,
                "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())})
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else {})
        finally:
            c.close()

    def call_get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            c.request("GET", path)
            r = c.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else {})
        finally:
            c.close()

    def note(self, op, status, out):
        with self.lock:
            self.stats[(op, status)] = self.stats.get((op, status), 0) + 1
            if status not in (200, 400, 503):
                self.bad.append((op, status, str(out)[:300]))

    def subscribe(self, rng, consumer_arn, shard):
        body = json.dumps({"ConsumerARN": consumer_arn, "ShardId": shard, "StartingPosition": {
            "Type": rng.choice(["LATEST", "TRIM_HORIZON"])}}).encode()
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        got = b""
        try:
            s.sendall(head(self.port, "SubscribeToShard", len(body)) + body)
            end = time.monotonic() + rng.random() * 0.5
            while time.monotonic() < end:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            s.close()
        if got.startswith(b"HTTP/1.1 "):
            self.note("SubscribeToShard", int(got[9:12]), got[:200])

    def rude(self, rng, sel, name):
        """A whole request or part of one, then a close (or a reset) without reading."""
        op = rng.choice(["PutRecords", "PutRecord", "GetShardIterator", "SubscribeToShard"])
        if op == "PutRecords":
            body = dict(sel, Records=[{"Data": "AAAA", "PartitionKey": "r%d" % i}
                                      for i in range(300)])
        elif op == "PutRecord":
            body = dict(sel, Data="AAAA", PartitionKey="r")
        elif op == "GetShardIterator":
            body = dict(sel, ShardId="shardId-000000000000", ShardIteratorType="AT_TIMESTAMP",
                        Timestamp=time.time() - 1)
        else:
            body = {"ConsumerARN": arn(name) + "/consumer/a:1", "ShardId": "shardId-000000000000",
                    "StartingPosition": {"Type": "LATEST"}}
        data = json.dumps(body).encode()
        cut = len(data) if rng.randrange(2) else rng.randrange(len(data))
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        try:
            s.sendall(head(self.port, op, len(data)) + data[:cut])
            if rng.randrange(2):  # SO_LINGER 0: the close is a reset
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        finally:
            s.close()

    def one(self, rng):
        name = rng.choice(NAMES)
        sel = {"StreamName": name} if rng.randrange(2) else {"StreamARN": arn(name)}
        shard = "shardId-%012d" % rng.randrange(4)
        op = rng.choice(["CreateStream", "DeleteStream"] * CHURN + [
            "PutRecord", "PutRecord", "PutRecords", "PutRecords", "GetRecords", "GetRecords",
            "Rude", "Register", "Deregister", "Subscribe", "Split", "Merge",
            "UpdateShardCount", "ListShards", "Describe", "MaxRecordSize", "Warm"])
        if op == "CreateStream":
            body = {"StreamName": name, "ShardCount": rng.choice([1, 2, 3])}
            if rng.randrange(3) == 0:
                body = {"StreamName": name, "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}
            if rng.randrange(3) == 0:
                body["MaxRecordSizeInKiB"] = rng.choice([1024, 4096, 10240])
            st, out = self.call(op, body)
        elif op == "DeleteStream":
            st, out = self.call(op, dict(sel, EnforceConsumerDeletion=rng.choice([True, False])))
        elif op == "PutRecord":
            data = base64.b64encode(rng.randbytes(rng.choice([1, 100, 3000, 3 << 20]))).decode()
            st, out = self.call(op, dict(sel, Data=data, PartitionKey="k%d" % rng.randrange(100)))
        elif op == "PutRecords":
            recs = [{"Data": base64.b64encode(rng.randbytes(50)).decode(), "PartitionKey": "p%d" % i}
                    for i in range(rng.choice([1, 10, 200, 500]))]
            st, out = self.call(op, dict(sel, Records=recs))
        elif op == "GetRecords":
            kind = rng.choice(["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"])
            extra = {"Timestamp": time.time() - 5} if kind == "AT_TIMESTAMP" else {}
            op = "GetShardIterator"
            st, out = self.call(op, dict(sel, ShardId=shard, ShardIteratorType=kind, **extra))
            it = out.get("ShardIterator") if st == 200 else None
            for _ in range(rng.randrange(1, 4)):
                if not it:
                    break
                st2, out2 = self.call("GetRecords", {"ShardIterator": it,
                                                     "Limit": rng.choice([1, 100, 10000])})
                self.note("GetRecords", st2, out2)
                it = out2.get("NextShardIterator") if st2 == 200 else None
        elif op == "Rude":
            self.rude(rng, sel, name)
            return
        elif op == "Register":
            st, out = self.call("RegisterStreamConsumer", {"StreamARN": arn(name),
                                                           "ConsumerName": rng.choice("ab")})
        elif op == "Deregister":
            st, out = self.call("DeregisterStreamConsumer", {"StreamARN": arn(name),
                                                             "ConsumerName": rng.choice("ab")})
        elif op == "Subscribe":
            op = "ListStreamConsumers"
            st, out = self.call(op, {"StreamARN": arn(name)})
            if st == 200 and out.get("Consumers"):
                self.subscribe(rng, rng.choice(out["Consumers"])["ConsumerARN"], shard)
        elif op == "Split":
            st, out = self.call("SplitShard", dict(sel, ShardToSplit=shard, NewStartingHashKey=str(
                rng.randrange(1, 2**128 - 1))))
        elif op == "Merge":
            a = rng.randrange(4)
            st, out = self.call("MergeShards", dict(sel, ShardToMerge="shardId-%012d" % a,
                                                    AdjacentShardToMerge="shardId-%012d" % (a + 1)))
        elif op == "UpdateShardCount":
            st, out = self.call(op, dict(sel, TargetShardCount=rng.choice([1, 2, 4]),
                                         ScalingType="UNIFORM_SCALING"))
        elif op == "ListShards":
            st, out = self.call(op, sel)
        elif op == "MaxRecordSize":
            op = "UpdateMaxRecordSize"
            st, out = self.call(op, {"StreamARN": arn(name),
                                     "MaxRecordSizeInKiB": rng.choice([1024, 4096, 10240])})
        elif op == "Warm":
            if rng.randrange(4) == 0:
                op = "UpdateAccountSettings"
                st, out = self.call(op, {"MinimumThroughputBillingCommitment": {
                    "Status": rng.choice(["ENABLED", "DISABLED"])}})
            else:
                op = "UpdateStreamWarmThroughput"
                st, out = self.call(op, dict(sel, WarmThroughputMiBps=rng.choice([0, 8, 100])))
        else:
            op = "DescribeStream"
            st, out = self.call(op, sel)
        self.note(op, st, out)

    def worker(self, k):
        rng = random.Random(SEED * 100 + k)
        end = time.monotonic() + SECONDS
        for _ in range(100000):
            if time.monotonic() >= end:
                return
            try:
                self.one(rng)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.bad.append(("connection", "error", repr(e)))


def main():
    srv = Server("--limits", "off", "--fsync", "never", "--workers", "2")
    probe = Probe(srv.port)
    ok = False
    try:
        for name in NAMES:  # both streams exist at the start (with PROBE_CHURN=0 they stay)
            probe.call("CreateStream", {"StreamName": name, "ShardCount": 2})
        time.sleep(0.3)
        for name in NAMES:
            probe.call("RegisterStreamConsumer", {"StreamARN": arn(name), "ConsumerName": "a"})
        threads = [threading.Thread(target=probe.worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        alive = srv.alive()
        # Every request body charged to the server's budget is refunded once the clients are
        # gone, however they hung up (GET /stats holds none itself).
        held = None
        for _ in range(100):
            if not alive:
                break
            st, out = probe.call_get("/stats")
            held = out.get("request_body_bytes") if st == 200 else None
            if held == 0:
                break
            time.sleep(0.1)
        if alive and held != 0:
            probe.bad.append(("GET /stats", "request_body_bytes", held))
        print("seed %d churn %d: %s" % (SEED, CHURN, sorted(probe.stats.items())))
        print("alive %s, unexpected answers %d" % (alive, len(probe.bad)))
        for b in probe.bad[:20]:
            print("  ", b)
        if alive:
            srv.stop()  # exit code 0 expected: ASan's leak check runs at exit
        ok = alive and not probe.bad
    finally:
        if not ok:
            log = srv.read_log()
            # The tail alone is mostly info lines of the last second; the cause is usually a
            # warning or error from earlier.
            loud = [ln for ln in log.splitlines() if " warn " in ln or " error " in ln]
            sys.stderr.write("---- shardcastd warnings and errors (%d) ----\n%s\n"
                             % (len(loud), "\n".join(loud[-200:])))
            sys.stderr.write("---- shardcastd log tail ----\n%s\n" % log[-6000:])
        srv.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
