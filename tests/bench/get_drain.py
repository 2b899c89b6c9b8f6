#!/usr/bin/python3
"""GetRecords drain benchmark (not a test): how fast one poller empties one shard.

Starts its own shardcastd (--limits off) on 127.0.0.1:0 in a temp dir, pre-fills one shard with
--records records of --size bytes (PutRecords, 500 per call), then drains it from TRIM_HORIZON
with GetRecords Limit 10000 over one keep-alive HTTP/1.1 connection, --passes times. Prints
records/s and MB/s (payload bytes and response bytes) per pass.

The client does not parse JSON per record (that would measure Python, not the server): it counts
records by their "SequenceNumber" key and cuts NextShardIterator out of the tail of the body; it
checks the first and last sequence numbers against what PutRecords returned.

Build a release server first (sanitizers off), e.g.
    cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
    /usr/bin/python3 tests/bench/get_drain.py --shardcastd build-rel/server/shardcastd
"""
import argparse
import base64
import http.client
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20240101/us-east-1/kinesis/"
                     "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
}


def call(conn, op, body):
    h = dict(HEADERS)
    h["X-Amz-Target"] = "Kinesis_20131202." + op
    h["X-Amz-Date"] = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    conn.request("POST", "/", body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError("%s -> %d %s" % (op, r.status, data[:300]))
    return data


def prefill(conn, stream, n, size):
    batch = 500
    seqs = []
    t0 = time.monotonic()
    for start in range(0, n, batch):
        k = min(batch, n - start)
        recs = [{"Data": base64.b64encode((b"%010d" % (start + i)).ljust(size, b"x")).decode(),
                 "PartitionKey": "p"} for i in range(k)]
        out = json.loads(call(conn, "PutRecords", json.dumps(
            {"StreamName": stream, "Records": recs}).encode()))
        if out.get("FailedRecordCount"):
            raise RuntimeError("PutRecords failed entries: %s" % out["Records"][:3])
        if start == 0:
            seqs.append(out["Records"][0]["SequenceNumber"])
        if start + k == n:
            seqs.append(out["Records"][-1]["SequenceNumber"])
    return seqs, time.monotonic() - t0


def drain(conn, stream, n, first, last):
    it = json.loads(call(conn, "GetShardIterator", json.dumps({
        "StreamName": stream, "ShardId": "shardId-000000000000",
        "ShardIteratorType": "TRIM_HORIZON"}).encode()))["ShardIterator"]
    got = calls = body_bytes = 0
    t0 = time.monotonic()
    first_seen = last_seen = None
    key = b'"NextShardIterator":"'
    while got < n:
        body = call(conn, "GetRecords", json.dumps({"ShardIterator": it, "Limit": 10000}).encode())
        calls += 1
        body_bytes += len(body)
        c = body.count(b'{"SequenceNumber":"')
        if c == 0:
            raise RuntimeError("shard ran dry after %d records" % got)
        if first_seen is None:
            first_seen = body[len(b'{"Records":[{"SequenceNumber":"'):][:56].decode()
        p = body.rfind(b'{"SequenceNumber":"')
        last_seen = body[p + 19:p + 19 + 56].decode()
        got += c
        s = body.rindex(key) + len(key)
        it = body[s:body.index(b'"', s)].decode()
    dt = time.monotonic() - t0
    if first_seen != first or last_seen != last:
        raise RuntimeError("wrong records: first %s last %s" % (first_seen, last_seen))
    return got, calls, body_bytes, dt


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shardcastd", default=harness.SHARDCASTD)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--fsync", default="never")
    ap.add_argument("--perf", metavar="FILE",
                    help="record the server with perf (call graphs) during the drain passes")
    a = ap.parse_args()
    harness.SHARDCASTD = a.shardcastd
    srv = harness.Server("--limits", "off", "--fsync", a.fsync, "--workers", str(a.workers))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        call(conn, "CreateStream", b'{"StreamName":"drain","ShardCount":1}')
        harness.wait_for(lambda: b'"ACTIVE"' in call(conn, "DescribeStreamSummary",
                                                      b'{"StreamName":"drain"}'), timeout=15)
        (first, last), dt = prefill(conn, "drain", a.records, a.size)
        print("prefill: %d records of %d B in %.2f s (%.0f records/s)"
              % (a.records, a.size, dt, a.records / dt))
        perf = None
        if a.perf:
            perf = subprocess.Popen(["perf", "record", "-g", "-o", a.perf, "-p",
                                     str(srv.proc.pid)], stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        for p in range(a.passes):
            cpu0, ccpu0 = cpu_seconds(srv.proc.pid), time.process_time()
            got, calls, body_bytes, dt = drain(conn, "drain", a.records, first, last)
            cpu, ccpu = cpu_seconds(srv.proc.pid) - cpu0, time.process_time() - ccpu0
            print("drain pass %d: %d records in %d calls, %.3f s: %.0f records/s, "
                  "%.1f MB/s payload, %.1f MB/s response bytes; server CPU %.2f s "
                  "(%.0f records per server CPU second); client CPU %.2f s"
                  % (p + 1, got, calls, dt, got / dt, got * a.size / dt / 1e6,
                     body_bytes / dt / 1e6, cpu, got / cpu if cpu > 0 else 0, ccpu))
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=60)
        conn.close()
        srv.stop()
    finally:
        srv.cleanup()


if __name__ == "__main__":
    main()
