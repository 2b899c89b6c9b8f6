"""Client churn against the real shardcastd: what a client sends or how it disconnects must not
make live server structures grow. ASan's leak check at exit cannot see accumulation that is
freed at shutdown (a list that only grows, a log of a deleted stream kept open until exit), so
this test samples the running server.

Each round (ROUNDS of them, bounded in count and time) does, on a server with TLS and two
workers:
- SubscribeToShard pipes over h2c, TLS h2 and HTTP/1.1: some read a few events and are cut (RST
  via SO_LINGER 0, or a plain close with unread data), some are ended cleanly by the client
  (h2 RST_STREAM CANCEL + GOAWAY) or by the server (consumer deregistered, stream deleted with
  EnforceConsumerDeletion, shard split / UpdateShardCount -> ChildShards), two that subscribe
  and never read (h2 with its window left at 64 KiB, HTTP/1.1) while ~13 MB arrive, until they
  are reset;
- PutRecords/GetRecords on a stream that lives for the whole test ("keep"), every acknowledged
  record remembered;
- connections dropped mid-request: half an HTTP/1.1 head, half a body, half an h2 DATA frame, a
  whole h2 request whose answer is never read; TLS handshakes abandoned after part of the
  ClientHello, after the handshake, and before a byte;
- stream lifecycle: "life" (2 shards, 6 consumers, live pipes, ~19 MB) deleted with
  EnforceConsumerDeletion and re-created under the same name the next round; "rs" split while
  subscribed, its children re-scaled with UpdateShardCount while subscribed, deleted; a
  consumer of "keep" registered, subscribed, deregistered.

After each round the churn settles (GET /stats: no pipes, no leases, only our own stats
connection; the deleted streams' directories reaped) and the server's /proc/PID/fd, Threads
and VmRSS are sampled. Round 0 is the warm-up (thread pools, allocator arenas, the "keep" logs
opened); its sample is the baseline.

Asserted:
- fd count == baseline after every later round, fd targets compared as a multiset (no slack
  needed once settled: the only stream left is the same one, "keep" with its 4 open shard logs;
  the differing fds are printed on failure). A pipe, hub or read that leaks its shard reference
  keeps the deleted stream's log (and its segment fd) open and its directory unreaped, so the
  settle step fails on those too. Mutation check (conn_close leaking the socket of a TLS
  connection still in its handshake): round 1 does not settle, "fds 35 (baseline 29)", the six
  sockets listed.
- Our own threads (main + workers) unchanged; the kernel's io_uring io-wq workers (iou-wrk-*),
  which come and go with blocking file I/O, within the kernel's cap.
- RSS growth from round 1 to the last round < RSS_GROWTH_MAX (16 MiB). The heavy bytes of a
  round (~19 MB of records in "life", ~0.8 MB in "rs", read by ~35 pipes as catch-up frames that
  reference the log's blocks and as shared tail frames) belong to streams deleted in that
  round, so a leaked frame or block reference per subscription pins MiBs per round. Mutation
  check (pipe_closed not dropping its queued frames): +9 MiB per round, +51 MiB from round 1 to
  7, fails here (and ASan reports it only at exit). A leaked pipe struct alone is ~3 KiB, too
  small for RSS, but it holds a shard reference, which the fd/settle check sees (mutated: the
  deleted streams' logs stay open and the settle step fails at round 0).
  ASan keeps freed memory in its quarantine (256 MiB by default) and returns free pages to the
  OS only every 5 s, so RSS would follow the bytes freed rather than the bytes live; this server
  runs with quarantine_size_mb=4 and allocator_release_to_os_interval_ms=100 (use-after-free is
  still caught within that window). Measured unmutated: +2.0 and +2.5 MiB from round 1 to 7.
- every acknowledged PutRecords record of "keep" is read back by GetRecords at the end, and the
  server exits 0 on SIGTERM with no ASan report (the harness).
"""
import base64
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
import unittest

import h2.config
import h2.connection
import h2.errors
from botocore.eventstream import EventStreamBuffer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Server, wait_for  # noqa: E402

ROUNDS = 8               # round 0 is the warm-up
TEST_DEADLINE_S = 120    # the rounds; one takes ~4.5 s under ASan on 2 vCPUs (~35 s in all)
RSS_GROWTH_MAX = 16 << 20
SETTLE_S = 15            # churn of one round must be gone within this
SHARD0 = "shardId-000000000000"
# The data of requests sent by connections that go away: a whole h2 request whose answer is
# never read may still be stored (the client cannot know), so such records are allowed in "keep".
DROPPED = b"dropped-request"


def auth_headers():
    """A plausible, unverified SigV4 Authorization (the server runs without --credentials)."""
    return {
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20240101/us-east-1/"
                         "kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
                         "0" * 64,
        "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
    }


def request_headers(op, body_len, authority):
    h = {"content-type": "application/x-amz-json-1.1",
         "x-amz-target": "Kinesis_20131202." + op, "content-length": str(body_len)}
    h.update(auth_headers())
    h["host"] = authority
    return h


def h1_request(op, body, authority="127.0.0.1"):
    head = "POST / HTTP/1.1\r\n" + "".join(
        "%s: %s\r\n" % kv for kv in request_headers(op, len(body), authority).items()) + "\r\n"
    return head.encode() + body


def rst_close(sock):
    """Close so that the kernel sends RST (SO_LINGER on, timeout 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Sub:
    """One SubscribeToShard event stream read in a thread over "h1", "h2" (h2c prior knowledge)
    or "h2-tls". How it ends (`how`):
      cut-rst   read `events` events, then close with RST
      cut-close read `events` events, then close (unread data pending: the kernel resets too,
                or sends FIN when nothing is pending)
      cancel    read `events` events, then RST_STREAM CANCEL + GOAWAY, read to EOF (h2 only)
      end       read until the server ends the stream (END_STREAM / last chunk)
      idle      send the request and never read; close() resets it
    Every socket operation has a timeout; the thread is bounded by it."""

    def __init__(self, server, body, transport, how, events=2, timeout=20):
        self.server, self.body, self.transport, self.how = server, body, transport, how
        self.want = events
        self.timeout = timeout
        self.status, self.messages, self.error, self.ended = None, [], None, False
        self.sock = None
        self.done = threading.Event()
        if how == "idle":
            self.start_idle()
            self.done.set()
            self.thread = None
        else:
            self.thread = threading.Thread(target=self.run, daemon=True)
            self.thread.start()

    # -- what was read ------------------------------------------------------------------------
    def events(self):
        return [m for m in self.messages
                if m.headers.get(":event-type") == "SubscribeToShardEvent"]

    def records(self):
        out = []
        for m in self.events():
            out += json.loads(m.payload)["Records"]
        return out

    def exceptions(self):
        return [m.headers.get(":exception-type") for m in self.messages
                if m.headers.get(":message-type") == "exception"]

    def child_shards(self):
        ev = self.events()
        return json.loads(ev[-1].payload).get("ChildShards") if ev else None

    # -- transports ---------------------------------------------------------------------------
    def connect(self):
        tls = self.transport == "h2-tls"
        port = self.server.tls_port if tls else self.server.port
        sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout)
        if tls:
            ctx = tls_context()
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            if sock.selected_alpn_protocol() != "h2":
                raise AssertionError("ALPN did not pick h2")
        self.sock = sock
        return sock

    def h2_start(self, window=None):
        sock = self.connect()
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        if window is not None:
            conn.local_settings.initial_window_size = window
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        hdrs = [(":method", "POST"), (":scheme", "https" if self.transport == "h2-tls" else
                                      "http"), (":path", "/"),
                (":authority", "127.0.0.1:%d" % self.server.port)]
        hdrs += [(k, v) for k, v in request_headers("SubscribeToShard", len(self.body),
                                                    "127.0.0.1").items() if k != "host"]
        conn.send_headers(sid, hdrs)
        conn.send_data(sid, self.body, end_stream=True)
        sock.sendall(conn.data_to_send())
        return sock, conn, sid

    def start_idle(self):
        # h2: a 64 KiB stream and connection window that is never opened; HTTP/1.1: a socket
        # never read. The server's pipe stalls on flow control or a full socket, and its queue
        # hits the bound while records keep arriving.
        if self.transport == "h1":
            self.connect().sendall(h1_request("SubscribeToShard", self.body))
        else:
            self.h2_start(window=65535)

    def feed(self, buf, data):
        buf.add_data(data)
        for m in buf:
            self.messages.append(m)

    def enough(self):
        return self.how != "end" and len(self.events()) >= self.want

    def run(self):
        try:
            if self.transport == "h1":
                self.run_h1()
            else:
                self.run_h2()
        except Exception as exc:  # noqa: BLE001 — the test looks at error where it matters
            self.error = exc
        finally:
            if self.sock is not None:
                if self.how == "cut-rst":
                    rst_close(self.sock)
                else:
                    self.sock.close()
            self.done.set()

    def run_h1(self):
        sock = self.connect()
        sock.sendall(h1_request("SubscribeToShard", self.body))
        raw = b""
        while b"\r\n\r\n" not in raw:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("EOF before the response head")
            raw += chunk
        head, rest = raw.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" not in head.lower():
            raise AssertionError("not chunked: %r" % head)
        buf, pending = EventStreamBuffer(), rest
        while True:
            # De-chunk what we have: each chunk "<hex>\r\n<data>\r\n", the last one "0\r\n\r\n".
            while True:
                i = pending.find(b"\r\n")
                if i < 0:
                    break
                n = int(pending[:i].split(b";")[0], 16)
                if n == 0:
                    self.ended = True
                    return
                if len(pending) < i + 2 + n + 2:
                    break
                self.feed(buf, pending[i + 2:i + 2 + n])
                pending = pending[i + 2 + n + 2:]
            if self.enough():
                return
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError("EOF inside the chunked body")
            pending += chunk

    def run_h2(self):
        sock, conn, sid = self.h2_start()
        buf = EventStreamBuffer()
        while True:
            data = sock.recv(65536)
            if not data:
                raise AssertionError("connection closed before END_STREAM")
            harness.h2_subscribe_events(self, conn, buf, conn.receive_data(data))
            if self.ended and self.how == "end":
                return
            if self.enough() and self.how == "cancel":
                conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
                conn.close_connection()
                sock.sendall(conn.data_to_send())
                # The server closes once it has nothing left to send (its GOAWAY at most).
                for _ in range(10000):
                    if not sock.recv(65536):
                        return
                raise AssertionError("no EOF after GOAWAY")
            if self.enough():
                return
            out = conn.data_to_send()
            if out:
                sock.sendall(out)

    def wait(self, timeout=20):
        if not self.done.wait(timeout):
            raise AssertionError("subscription (%s, %s) did not finish" % (self.transport,
                                                                            self.how))

    def close(self):
        if self.sock is not None and self.thread is None:
            rst_close(self.sock)
        if self.thread is not None:
            self.done.wait(self.timeout + 5)


class ChurnTest(unittest.TestCase):
    life_record_bytes = 16000  # records put into "life" (6 batches of 200 a round)
    keep_batches = 4           # batches of 50 x 200 B put into "keep" a round

    @classmethod
    def setUpClass(cls):
        # See the module docstring: a small quarantine keeps RSS a measure of live memory.
        opts = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((opts or "detect_leaks=1:abort_on_error=0") +
                                      ":quarantine_size_mb=4"
                                      ":allocator_release_to_os_interval_ms=100")
        try:
            cls.server = Server("--limits", "off", "--heartbeat-ms", "300", "--workers", "2",
                                "--max-consumers", "20", tls=True)
        finally:
            if opts is None:
                del os.environ["ASAN_OPTIONS"]
            else:
                os.environ["ASAN_OPTIONS"] = opts

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()  # exit 0 and no ASan report
        finally:
            cls.server.cleanup()

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("---- shardcastd log tail ----\n%s\n"
                             % self.server.read_log()[-4000:])
        return out

    # -- JSON API ---------------------------------------------------------------------------
    def call(self, op, body, expect=200):
        status, obj = self.server.call(op, body)
        if expect is not None and status != expect:
            raise AssertionError("%s -> %d %s" % (op, status, obj))
        return obj

    def retry(self, op, body, timeout=10):
        """A call that may answer 503 (a re-created stream whose old logs are still closing)."""
        deadline = time.monotonic() + timeout
        while True:
            status, obj = self.server.call(op, body)
            if status == 200:
                return obj
            if status != 503 or time.monotonic() > deadline:
                raise AssertionError("%s -> %d %s" % (op, status, obj))
            time.sleep(0.05)

    def summary(self, name):
        status, obj = self.server.call("DescribeStreamSummary", {"StreamName": name})
        return obj["StreamDescriptionSummary"] if status == 200 else None

    def wait_active(self, name):
        wait_for(lambda: (self.summary(name) or {}).get("StreamStatus") == "ACTIVE",
                 what="%s ACTIVE" % name)
        return self.summary(name)["StreamARN"]

    def wait_gone(self, name):
        wait_for(lambda: self.summary(name) is None, what="%s deleted" % name)

    def create(self, name, shards):
        self.call("CreateStream", {"StreamName": name, "ShardCount": shards})
        return self.wait_active(name)

    def consumer(self, stream_arn, name):
        arn = self.call("RegisterStreamConsumer", {"StreamARN": stream_arn,
                                                   "ConsumerName": name})["Consumer"]["ConsumerARN"]
        wait_for(lambda: self.call("DescribeStreamConsumer", {"ConsumerARN": arn})
                 ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        return arn

    def put(self, name, n, size, tag, acked=None):
        """PutRecords of n records of `size` bytes; acknowledged ones go into acked."""
        datas = [(b"%s-%d-" % (tag, i)).ljust(size, b"x") for i in range(n)]
        obj = self.retry("PutRecords", {"StreamName": name, "Records": [
            {"Data": base64.b64encode(d).decode(), "PartitionKey": "pk%d" % i}
            for i, d in enumerate(datas)]})
        for d, r in zip(datas, obj["Records"]):
            if "SequenceNumber" in r and acked is not None:
                acked[(r["ShardId"], r["SequenceNumber"])] = d
        return obj

    def subscribe(self, arn, shard, transport, how, pos="TRIM_HORIZON", events=2):
        body = json.dumps({"ConsumerARN": arn, "ShardId": shard,
                           "StartingPosition": {"Type": pos}}).encode()
        s = Sub(self.server, body, transport, how, events=events)
        self.subs.append(s)
        return s

    def read_shard(self, stream, shard, max_calls=200):
        it = self.call("GetShardIterator", {"StreamName": stream, "ShardId": shard,
                                            "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        out = []
        for _ in range(max_calls):
            r = self.call("GetRecords", {"ShardIterator": it, "Limit": 1000})
            out += r["Records"]
            if not r["Records"] and r.get("MillisBehindLatest", 0) == 0:
                return out
            it = r.get("NextShardIterator")
            if it is None:
                return out
        raise AssertionError("GetRecords did not catch up in %d calls" % max_calls)

    def stats(self):
        status, _, data = self.server.raw(b"", method="GET", path="/stats", content_type=None)
        self.assertEqual(status, 200)
        return json.loads(data)

    # -- /proc --------------------------------------------------------------------------------
    def sample(self):
        pid = self.server.proc.pid
        fds = {}
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                fds[int(fd)] = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                pass
        status = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                status[k] = v.strip()
        names = []
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    names.append(f.read().strip())
            except OSError:
                pass
        return {"fds": fds, "threads": int(status["Threads"]), "names": sorted(names),
                "rss": int(status["VmRSS"].split()[0]) * 1024}

    @staticmethod
    def fd_kinds(fds):
        """fd targets as a multiset, inode numbers folded (socket:[123] -> socket:[])."""
        out = {}
        for t in fds.values():
            k = re.sub(r":\[\d+\]$", ":[]", t)
            out[k] = out.get(k, 0) + 1
        return out

    def settle(self, baseline=None):
        """Waits until this round's churn is gone: no pipes, leases or connections but the stats
        one, the deleted streams' directories reaped, and (given a baseline) the fd count back
        to it or the deadline passed. Returns the sample."""
        deadline = time.monotonic() + SETTLE_S
        streams_dir = os.path.join(self.server.dir, "data", "streams")
        last = None
        while time.monotonic() < deadline:
            st = self.stats()
            quiet = (st["pipes_open"] == 0 and st["leases"] == 0
                     and sum(st.get("worker_connections", [1])) <= 1
                     and st["request_body_bytes"] == 0)  # cut uploads refunded too
            reaped = sorted(os.listdir(streams_dir)) == ["keep"]
            if quiet and reaped:
                time.sleep(0.2)  # the stats connection itself closes
                last = self.sample()
                if baseline is None or len(last["fds"]) == len(baseline["fds"]):
                    return last
            time.sleep(0.1)
        st, now = self.stats(), self.sample()
        extra = now["fds"] if baseline is None else {
            fd: t for fd, t in now["fds"].items() if baseline["fds"].get(fd) != t}
        raise AssertionError("churn did not settle in %ds: stats %s, streams %s, fds %d%s: %s"
                             % (SETTLE_S, st, os.listdir(streams_dir), len(now["fds"]),
                                "" if baseline is None else " (baseline %d)"
                                % len(baseline["fds"]), sorted(extra.items())))

    # -- one round --------------------------------------------------------------------------
    def round(self, r):
        self.subs = []
        tag = b"r%d" % r
        # "keep": PutRecords/GetRecords traffic; a consumer registered, subscribed and
        # deregistered under its pipe; the persistent consumer catches up from TRIM_HORIZON.
        for i in range(self.keep_batches):
            self.put("keep", 50, 200, tag + b"k%d" % i, self.acked)
        for shard in self.keep_shards:
            self.read_shard("keep", shard)
        karn = self.consumer(self.keep_arn, "kx%d" % r)
        kpipe = self.subscribe(karn, SHARD0, "h2", "end", pos="LATEST")
        kcut = self.subscribe(self.keep_consumer, self.keep_shards[r % 4],
                              ("h1", "h2", "h2-tls")[r % 3], "cut-rst")
        kcut.wait()
        self.assertIsNone(kcut.error)

        # "life": 2 shards, 6 consumers, ~19 MB of records, pipes cut, cancelled, idle and live
        # ones that the deletion ends.
        life = self.create("life", 2)
        carns = [self.consumer(life, "c%d" % i) for i in range(6)]
        for i in range(2):
            self.put("life", 200, self.life_record_bytes, tag + b"l%d" % i)
        shards = [SHARD0, "shardId-000000000001"]
        ways = [("h2", "cut-rst"), ("h1", "cut-close"), ("h2-tls", "cancel"),
                ("h1", "cut-rst"), ("h2", "cancel"), ("h2-tls", "cut-close")]
        # Two waves over every consumer x shard: the second one leases what the first one's
        # cut pipes gave back, and cuts after one event (mid catch-up).
        for wave in range(2):
            cut = [self.subscribe(carns[i], shards[j], *ways[(i + j + wave) % len(ways)],
                                  events=2 - wave)
                   for i in range(len(carns)) for j in range(2)]
            for s in cut:
                s.wait()
            for s in cut:
                self.assertIsNone(s.error, (s.transport, s.how, s.error))
                self.assertEqual(s.status, 200)
            # A cut or cancelled pipe gives its lease back (only kx's pipe is left).
            wait_for(lambda: (lambda st: (st["pipes_open"], st["leases"]) == (1, 1))(
                self.stats()), what="cut pipes gone")
        idle = [self.subscribe(carns[0], shards[j], ("h2", "h1")[j], "idle") for j in range(2)]
        live = [self.subscribe(carns[1], SHARD0, "h1", "end"),
                self.subscribe(carns[2], shards[1], "h2-tls", "end", pos="LATEST"),
                self.subscribe(carns[3], shards[1], "h2", "end", pos="LATEST"),
                self.subscribe(carns[4], SHARD0, "h2", "end")]
        for i in range(4):
            self.put("life", 200, self.life_record_bytes, tag + b"l%d" % (i + 2))
        wait_for(lambda: all(len(s.events()) >= 1 or s.done.is_set() for s in live),
                 what="live pipes running")
        self.call("DeleteStream", {"StreamName": "life", "EnforceConsumerDeletion": True})
        for s in live:
            s.wait()
            self.assertIsNone(s.error, (s.transport, s.error))
            self.assertTrue(s.ended, (s.transport, s.exceptions()))
        for s in idle:
            s.close()

        # Dropped mid-request and abandoned TLS handshakes.
        self.drops()

        # "rs": a pipe ended by a split, pipes on the children ended by UpdateShardCount.
        rs = self.create("rs", 1)
        rarn = self.consumer(rs, "r")
        self.put("rs", 100, 4000, tag + b"rs")
        p = self.subscribe(rarn, SHARD0, ("h2", "h1", "h2-tls")[r % 3], "end", pos="LATEST")
        wait_for(lambda: len(p.events()) >= 1 or p.done.is_set(), what="rs pipe running")
        self.call("SplitShard", {"StreamName": "rs", "ShardToSplit": SHARD0,
                                 "NewStartingHashKey": str(1 << 127)})
        p.wait()
        self.assertTrue(p.ended, (p.transport, p.error, p.exceptions()))
        self.assertEqual(len(p.child_shards() or []), 2)
        self.wait_active("rs")
        kids = [c["ShardId"] for c in p.child_shards()]
        kp = [self.subscribe(rarn, k, t, "end", pos="TRIM_HORIZON")
              for k, t in zip(kids, ("h1", "h2"))]
        self.put("rs", 100, 4000, tag + b"rs2")
        wait_for(lambda: all(len(s.events()) >= 1 or s.done.is_set() for s in kp),
                 what="children pipes running")
        self.call("UpdateShardCount", {"StreamName": "rs", "TargetShardCount": 4,
                                       "ScalingType": "UNIFORM_SCALING"})
        for s in kp:
            s.wait()
            self.assertTrue(s.ended, (s.transport, s.error, s.exceptions()))
        self.wait_active("rs")
        self.call("DeleteStream", {"StreamName": "rs", "EnforceConsumerDeletion": True})

        # The keep consumer's pipe ends with an exception when it is deregistered.
        wait_for(lambda: len(kpipe.events()) >= 1 or kpipe.done.is_set(), what="kx pipe")
        self.call("DeregisterStreamConsumer", {"ConsumerARN": karn})
        kpipe.wait()
        self.assertEqual(kpipe.exceptions(), ["ResourceInUseException"])

        for s in self.subs:
            s.close()
        self.wait_gone("life")
        self.wait_gone("rs")

    def drops(self):
        port, tport = self.server.port, self.server.tls_port
        body = json.dumps({"StreamName": "keep", "Records": [
            {"Data": base64.b64encode(DROPPED).decode(), "PartitionKey": "p"}]}).encode()
        req = h1_request("PutRecords", body)
        cut_at = [req.index(b"\r\n\r\n") // 2, len(req) - len(body) // 2]
        socks = []
        for i, n in enumerate(cut_at * 3):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(req[:n])
            socks.append((s, i % 2 == 0))
        # h2c: a request whose DATA frame stops half way, and a whole one whose answer is
        # never read.
        for half in (True, False, True):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
            conn.initiate_connection()
            hdrs = [(":method", "POST"), (":scheme", "http"), (":path", "/"),
                    (":authority", "127.0.0.1")]
            hdrs += [(k, v) for k, v in request_headers("PutRecords", len(body),
                                                        "127.0.0.1").items() if k != "host"]
            conn.send_headers(1, hdrs)
            conn.send_data(1, body, end_stream=True)
            out = conn.data_to_send()
            s.sendall(out[:len(out) - len(body) // 2] if half else out)
            socks.append((s, half))
        # TLS: part of a ClientHello, a finished handshake with no request, nothing at all.
        ctx = tls_context()
        for i in range(3):
            inc, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
            obj = ctx.wrap_bio(inc, outb, server_hostname="localhost")
            try:
                obj.do_handshake()
            except ssl.SSLWantReadError:
                pass
            hello = outb.read()
            s = socket.create_connection(("127.0.0.1", tport), timeout=5)
            s.sendall(hello[:len(hello) // (i + 2)])
            socks.append((s, i == 0))
        for _ in range(2):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tport), timeout=5),
                                server_hostname="localhost")
            socks.append((s, False))
            socks.append((socket.create_connection(("127.0.0.1", tport), timeout=5), True))
        time.sleep(0.05)  # let the server read the partial bytes before they go
        for s, rst in socks:
            rst_close(s) if rst else s.close()

    # -- the test -----------------------------------------------------------------------------
    def begin(self):
        """The stream that lives through every round, its shards and its persistent consumer."""
        self.acked = {}
        self.keep_arn = self.create("keep", 4)
        self.keep_shards = ["shardId-%012d" % i for i in range(4)]
        self.keep_consumer = self.consumer(self.keep_arn, "k")

    def check_threads(self, s, base, what):
        # Our own threads (main + workers) exactly; io_uring's io-wq workers ("iou-wrk-<tid of
        # the ring's thread>") are kernel threads started for blocking file I/O and reaped when
        # idle: bounded by the kernel at 4 per CPU per ring for such work.
        ours = [n for n in s["names"] if not n.startswith("iou-")]
        self.assertEqual(ours, [n for n in base["names"] if not n.startswith("iou-")], what)
        for ring in set(n for n in s["names"] if n.startswith("iou-wrk-")):
            self.assertLessEqual(s["names"].count(ring), 4 * (os.cpu_count() or 1),
                                 "%s: %s" % (what, s["names"]))

    def check_fds(self, s, base, what):
        self.assertEqual(self.fd_kinds(s["fds"]), self.fd_kinds(base["fds"]),
                         "%s: fds %s, baseline %s" % (what, sorted(s["fds"].items()),
                                                      sorted(base["fds"].items())))

    def check_acked(self):
        """Every acknowledged record of "keep" is still there, once, with its bytes."""
        got = {}
        for shard in self.keep_shards:
            for rec in self.read_shard("keep", shard):
                got[(shard, rec["SequenceNumber"])] = base64.b64decode(rec["Data"])
        missing = [k for k in self.acked if got.get(k) != self.acked[k]]
        self.assertEqual(missing, [], "acknowledged records lost")
        extra = [v for k, v in got.items() if k not in self.acked and v != DROPPED]
        self.assertEqual(extra, [], "records nobody sent")
        return len(got)

    def test_resources_stay_bounded_under_churn(self):
        t0 = time.monotonic()
        self.begin()
        samples = []
        for r in range(ROUNDS):
            self.assertLess(time.monotonic() - t0, TEST_DEADLINE_S, "round %d too late" % r)
            tr = time.monotonic()
            self.round(r)
            samples.append(self.settle(samples[0] if samples else None))
            s = samples[-1]
            sys.stdout.write("round %d: %.1fs fds %d threads %d (io-wq %d) rss %.1f MiB\n"
                             % (r, time.monotonic() - tr, len(s["fds"]), s["threads"],
                                sum(n.startswith("iou-") for n in s["names"]),
                                s["rss"] / 1048576))
            sys.stdout.flush()
        base = samples[0]
        for r, s in enumerate(samples[1:], 1):
            self.check_fds(s, base, "round %d" % r)
            self.check_threads(s, base, "round %d" % r)
        growth = samples[-1]["rss"] - samples[1]["rss"]
        self.assertLess(growth, RSS_GROWTH_MAX, "RSS %s" % [s["rss"] for s in samples])
        self.check_acked()

if __name__ == "__main__":
    harness.main()
