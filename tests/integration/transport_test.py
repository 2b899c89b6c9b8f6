"""Transport layer against the real shardcastd: HTTP/1.1, h2c prior knowledge, TLS with ALPN
(h2 and http/1.1), and hostile input. Each class ends by stopping the server with SIGTERM, which
asserts exit 0 (ASan leak reports fail that)."""
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TARGET = "Kinesis_20131202.Frobnicate"  # unknown: answered by the API before auth
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def recv_all(sock, timeout=5.0, limit=1 << 20):
    """Reads until EOF or timeout; returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < limit and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_response(sock, timeout=5.0):
    """One HTTP/1.1 response with content-length: (status, headers, body)."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("EOF before response head: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("EOF in body")
        rest += chunk
    return status, hdrs, rest[:n], rest[n:]


def frame(ftype, flags, stream_id, payload, length=None):
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", stream_id) + payload


def frames_in(data):
    """Parses h2 frames (type, flags, stream, payload) out of raw server bytes."""
    out = []
    while len(data) >= 9:
        n = int.from_bytes(data[:3], "big")
        if len(data) < 9 + n:
            break
        out.append((data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF,
                    data[9:9 + n]))
        data = data[9 + n:]
    return out


def nghttp(url, *args, timeout=20):
    p = subprocess.run(["nghttp", "-v", "-n", "--no-verify-peer", *args, url] if url.startswith(
        "https") else ["nghttp", "-v", "-n", *args, url],
        capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


class PlaintextTest(harness.ServerTestCase):
    server_args = ("--workers", "2", "--body-max-bytes", "65536")

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=5)

    def assert_healthy(self):
        status, _, body = self.server.raw(b"", method="GET", path="/health")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"ok\n")

    def test_health_http11(self):
        self.assert_healthy()

    def test_target_reaches_api_http11(self):
        status, hdrs, body = self.server.raw({}, target="Frobnicate")
        self.assertEqual(status, 400)
        self.assertEqual(hdrs["x-amzn-errortype"], "UnknownOperationException")
        self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")

    def test_keepalive_several_requests_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=5)
        conn.connect()
        sock = conn.sock
        for _ in range(5):
            conn.request("GET", "/health")
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.read(), b"ok\n")
            self.assertIs(conn.sock, sock)  # not reconnected
        conn.close()

    def test_pipelined_requests_answered_in_order(self):
        s = self.connect()
        req_a = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        req_b = (b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + TARGET.encode() +
                 b"\r\nContent-Length: 2\r\n\r\n{}")
        s.sendall(req_a + req_b + req_a)
        st1, _, b1, rest = read_response(s)
        self.assertEqual((st1, b1), (200, b"ok\n"))
        s2 = _Prefixed(s, rest)
        st2, h2, _, rest = read_response(s2)
        self.assertEqual(st2, 400)
        self.assertEqual(h2["x-amzn-errortype"], "UnknownOperationException")
        st3, _, b3, _ = read_response(_Prefixed(s, rest))
        self.assertEqual((st3, b3), (200, b"ok\n"))
        s.close()

    def test_chunked_request_body(self):
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + TARGET.encode() +
                  b"\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n")
        time.sleep(0.05)
        s.sendall(b"1;ext=1\r\n}\r\n0\r\nX-Trailer: y\r\n\r\n")
        status, hdrs, _, _ = read_response(s)
        self.assertEqual(status, 400)
        self.assertEqual(hdrs["x-amzn-errortype"], "UnknownOperationException")
        s.close()

    def test_expect_100_continue(self):
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + TARGET.encode() +
                  b"\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        s.settimeout(5)
        got = s.recv(25)
        self.assertEqual(got, b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"{}")
        status, _, _, _ = read_response(s)
        self.assertEqual(status, 400)
        s.close()

    def test_oversize_body_413_json(self):
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        status, hdrs, body, _ = read_response(s)
        self.assertEqual(status, 413)
        self.assertEqual(hdrs["x-amzn-errortype"], "SerializationException")
        self.assertEqual(json.loads(body)["__type"], "SerializationException")
        self.assertEqual(recv_all(s, timeout=3), b"")  # then closed
        s.close()

    def test_oversize_chunked_body_413(self):
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            s.sendall(b"8000\r\n" + b"a" * 0x8000 + b"\r\n")
        status, hdrs, body, _ = read_response(s)
        self.assertEqual(status, 413)
        self.assertEqual(json.loads(body)["__type"], "SerializationException")
        s.close()

    def test_malformed_request_400_and_close(self):
        for bad in (b"GET\r\n\r\n", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"):
            s = self.connect()
            s.sendall(bad)
            data = recv_all(s, timeout=3)
            self.assertTrue(data.startswith(b"HTTP/1.1 400 "), (bad, data))
            s.close()

    def test_header_too_large_431(self):
        s = self.connect()
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n")
        data = recv_all(s, timeout=3)
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:80])
        s.close()

    def test_random_bytes(self):
        for seed in range(4):
            s = self.connect()
            try:
                s.sendall(os.urandom(4096 * (seed + 1)))
            except (BrokenPipeError, ConnectionResetError):
                pass
            recv_all(s, timeout=3)
            s.close()
        self.assert_healthy()

    def test_truncated_preface(self):
        s = self.connect()
        s.sendall(PREFACE[:10])
        s.settimeout(0.5)
        with self.assertRaises(socket.timeout):  # a prefix waits for more
            s.recv(100)
        s.close()
        s = self.connect()
        s.sendall(PREFACE[:20])
        s.shutdown(socket.SHUT_WR)
        recv_all(s, timeout=3)
        s.close()
        self.assert_healthy()

    def h2_raw(self, *frames_to_send):
        s = self.connect()
        s.sendall(PREFACE + frame(4, 0, 0, b""))
        for f in frames_to_send:
            s.sendall(f)
        data = recv_all(s, timeout=5)
        s.close()
        return frames_in(data)

    def assert_goaway(self, frames, code):
        goaways = [f for f in frames if f[0] == 7]
        self.assertTrue(goaways, frames)
        self.assertEqual(int.from_bytes(goaways[-1][3][4:8], "big"), code)

    def test_h2_bad_frame_length(self):
        # DATA claiming 16 MiB - 1, above SETTINGS_MAX_FRAME_SIZE: FRAME_SIZE_ERROR (6)
        self.assert_goaway(self.h2_raw(frame(0, 0, 1, b"x" * 100, length=0xFFFFFF)), 6)

    def test_h2_data_on_unknown_stream(self):
        self.assert_goaway(self.h2_raw(frame(0, 1, 5, b"hello")), 1)  # PROTOCOL_ERROR

    def test_h2_header_block_garbage(self):
        self.assert_goaway(self.h2_raw(frame(1, 5, 1, b"\xff\xff\xff\xff\xff\xff")), 9)

    def test_h2_random_frames_after_preface(self):
        for _ in range(4):
            s = self.connect()
            try:
                s.sendall(PREFACE + os.urandom(3000))
            except (BrokenPipeError, ConnectionResetError):
                pass
            recv_all(s, timeout=3)
            s.close()
        self.assert_healthy()

    def test_h2_truncated_frame_then_close(self):
        s = self.connect()
        s.sendall(PREFACE + frame(4, 0, 0, b"") + frame(1, 4, 1, b"\x82\x86")[:12])
        s.close()
        self.assert_healthy()

    def test_h2c_health_and_target(self):
        rc, out = nghttp("http://127.0.0.1:%d/health" % self.server.port)
        self.assertEqual(rc, 0, out)
        self.assertIn(":status: 200", out)
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"{}")
            f.flush()
            rc, out = nghttp("http://127.0.0.1:%d/" % self.server.port, "-d", f.name,
                             "-H", "x-amz-target: " + TARGET)
        self.assertIn(":status: 400", out)
        self.assertIn("x-amzn-errortype: UnknownOperationException", out)

    def test_h2c_settings_and_windows(self):
        rc, out = nghttp("http://127.0.0.1:%d/health" % self.server.port)
        self.assertEqual(rc, 0, out)
        self.assertIn("SETTINGS_MAX_CONCURRENT_STREAMS(0x03):1024", out)
        self.assertIn("SETTINGS_INITIAL_WINDOW_SIZE(0x04):1048576", out)
        self.assertIn("recv WINDOW_UPDATE frame", out)

    def test_h2c_oversize_body_413(self):
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"a" * 100000)
            f.flush()
            rc, out = nghttp("http://127.0.0.1:%d/" % self.server.port, "-d", f.name)
        self.assertIn(":status: 413", out)
        self.assertIn("SerializationException", out)

    def test_client_vanishes_mid_request(self):
        s = self.connect()
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        s.close()
        s = self.connect()
        s.sendall(b"GET /hea")
        s.close()
        s = self.connect()  # h2: HEADERS without END_STREAM, then gone
        s.sendall(PREFACE + frame(4, 0, 0, b"") + frame(1, 4, 1, b"\x83\x86\x84"))
        s.close()
        self.assert_healthy()

    def test_many_connections(self):
        socks = [self.connect() for _ in range(200)]
        for s in socks[::2]:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks[::2]:
            self.assertEqual(read_response(s)[0], 200)
        for s in socks:
            s.close()
        self.assert_healthy()


class WorkerBalanceTest(harness.ServerTestCase):
    """A server of its own: no other test's connections come and go while it counts."""

    server_args = ("--workers", "2")

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=5)

    def worker_connections(self, sock):
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body, _ = read_response(sock)
        self.assertEqual(status, 200)
        return json.loads(body)["worker_connections"]

    def test_connections_spread_over_workers(self):
        """Each new connection goes to the worker with the fewest, so the spread never grows past
        one; the kernel's SO_REUSEPORT hash alone breaks that within a few connections (a random
        walk: ~2^-12 to stay within one for 24 steps)."""
        probe = self.connect()
        deadline = time.monotonic() + 5
        before = self.worker_connections(probe)
        while sum(before) != 1 and time.monotonic() < deadline:  # the harness's probes closing
            time.sleep(0.05)
            before = self.worker_connections(probe)
        self.assertEqual(len(before), 2)
        self.assertEqual(sum(before), 1, before)
        spread = max(before) - min(before)
        socks = []
        for _ in range(24):
            s = self.connect()
            socks.append(s)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")  # accepted and served
            self.assertEqual(read_response(s)[0], 200)
            now = self.worker_connections(probe)
            self.assertLessEqual(max(now) - min(now), max(spread - 1, 1), (before, now))
            spread = max(now) - min(now)
        self.assertEqual(sum(now), sum(before) + 24, (before, now))
        for s in socks:
            s.close()
        deadline = time.monotonic() + 5
        while sum(self.worker_connections(probe)) != sum(before) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(sum(self.worker_connections(probe)), sum(before))
        probe.close()


class _Prefixed:
    """A socket whose first recv returns already-buffered bytes."""

    def __init__(self, sock, prefix):
        self.sock, self.prefix = sock, prefix

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            p, self.prefix = self.prefix, b""
            return p
        return self.sock.recv(n)


class TlsTest(harness.ServerTestCase):
    server_tls = True

    def tls_sock(self, alpn):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def test_alpn_prefers_h2(self):
        s = self.tls_sock(["http/1.1", "h2"])
        self.assertEqual(s.selected_alpn_protocol(), "h2")
        s.close()

    def test_tls_http11(self):
        s = self.tls_sock(["http/1.1"])
        self.assertEqual(s.selected_alpn_protocol(), "http/1.1")
        for _ in range(3):  # keep-alive over TLS
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _, body, _ = read_response(s)
            self.assertEqual((status, body), (200, b"ok\n"))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: " + TARGET.encode() +
                  b"\r\nContent-Length: 2\r\n\r\n{}")
        status, hdrs, _, _ = read_response(s)
        self.assertEqual(status, 400)
        self.assertEqual(hdrs["x-amzn-errortype"], "UnknownOperationException")
        s.close()

    def test_tls_no_alpn_is_http11(self):
        s = self.tls_sock([])
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(read_response(s)[0], 200)
        s.close()

    def test_tls_h2(self):
        rc, out = nghttp("https://127.0.0.1:%d/health" % self.server.tls_port)
        self.assertEqual(rc, 0, out)
        self.assertIn(":status: 200", out)
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"{}")
            f.flush()
            rc, out = nghttp("https://127.0.0.1:%d/" % self.server.tls_port, "-d", f.name,
                             "-H", "x-amz-target: " + TARGET)
        self.assertIn(":status: 400", out)
        self.assertIn("x-amzn-errortype: UnknownOperationException", out)

    def test_tls_h2_random_frames(self):
        s = self.tls_sock(["h2"])
        try:
            s.sendall(PREFACE + os.urandom(3000))
            recv_all(s, timeout=3)
        except (ssl.SSLError, OSError):
            pass
        s.close()
        self.assertEqual(self.server.raw(b"", method="GET", path="/health")[0], 200)

    def test_tls_garbage_handshake(self):
        s = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
        s.sendall(os.urandom(2000))
        recv_all(s, timeout=3)
        s.close()
        s = socket.create_connection(("127.0.0.1", self.server.tls_port), timeout=5)
        s.sendall(b"\x16\x03\x01\x02\x00")  # truncated ClientHello, then gone
        s.close()
        self.assertEqual(self.server.raw(b"", method="GET", path="/health")[0], 200)


class CommandLineTest(unittest.TestCase):
    def test_bad_command_line_exits_2(self):
        for bad in (["--no-such-option"], ["--segment-bytes", "65535"],
                    ["--segment-bytes", "1073741825"]):
            p = subprocess.run([harness.SHARDCASTD] + bad, capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 2, bad)

    def test_port_in_use_fails(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: the server cannot share it
        holder.listen(1)
        port = holder.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([harness.SHARDCASTD, "--listen", "127.0.0.1:%d" % port,
                                "--data-dir", d], capture_output=True, timeout=30)
        holder.close()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"cannot listen", p.stderr)
        self.assertEqual(p.stdout, b"")

    def test_sigint_exits_0(self):
        srv = harness.Server()
        try:
            self.assertEqual(srv.raw(b"", method="GET", path="/health")[0], 200)
            srv.stop(sig=2)
        finally:
            srv.cleanup()


if __name__ == "__main__":
    harness.main()
