"""Start and stop the real shardcastd for integration tests.

Every server runs on 127.0.0.1 with an ephemeral port (--listen 127.0.0.1:0) in its own temp data
dir, and is stopped by PID when the test ends. The ready line on stdout (architecture.md §7) tells
us the port. stderr goes to a log file that is printed when a test fails.

Clients: the Debian AWS CLI v2 (/usr/bin/aws), Debian's boto3, raw HTTP via http.client, and the
Go SDK test binaries (GoSdkTestCase, at the end).
"""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

SHARDCASTD = os.environ.get("SHARDCASTD") or os.path.join(
    os.environ.get("SHARDCAST_BUILD_DIR", "build"), "server", "shardcastd")
AWS_CLI = "/usr/bin/aws"
READY_RE = re.compile(r"^shardcastd listening on (https?)://([^\s]+):(\d+)$")

# Fast state transitions so tests do not sleep for half a second per stream.
FAST_ARGS = ["--stream-transition-ms", "50", "--consumer-transition-ms", "50"]


def make_cert(directory):
    """Self-signed certificate for 127.0.0.1/localhost; returns (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class Server:
    """One shardcastd process. Use as a context manager or call stop()."""

    def __init__(self, *args, tls=False, data_dir=None, fast=True, ready_timeout=30):
        self.owns_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="shardcast-test-")
        self.args = list(args)
        self.tls = tls
        self.fast = fast
        self.ready_timeout = ready_timeout
        self.cert = self.key = None
        if tls:
            self.cert, self.key = make_cert(self.dir)
        self.proc = None
        self.start()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self):
        data = os.path.join(self.dir, "data")
        argv = [SHARDCASTD, "--listen", "127.0.0.1:0", "--data-dir", data]
        if self.tls:
            argv += ["--tls-listen", "127.0.0.1:0", "--tls-cert", self.cert, "--tls-key", self.key]
        if self.fast:
            argv += FAST_ARGS
        argv += self.args
        self.log_path = os.path.join(self.dir, "shardcastd.%d.log" % int(time.time() * 1000))
        self.log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.endpoint = self.tls_endpoint = None
        self.port = self.tls_port = None
        deadline = time.monotonic() + self.ready_timeout
        buf = b""
        want = 2 if self.tls else 1
        got = 0
        while got < want:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self._fail_start("no ready line (exit=%s)" % self.proc.poll())
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self._fail_start("stdout closed before ready line")
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                m = READY_RE.match(line.decode(errors="replace").strip())
                if not m:
                    continue
                scheme, host, port = m.group(1), m.group(2), int(m.group(3))
                if scheme == "http":
                    self.port = port
                    self.endpoint = "http://%s:%d" % (host, port)
                else:
                    self.tls_port = port
                    self.tls_endpoint = "https://%s:%d" % (host, port)
                got += 1
        return self

    def _fail_start(self, why):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("shardcastd did not start: %s\n%s" % (why, self.read_log()))

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30, expect_code=0):
        """Stop our own process by PID; asserts a clean exit (ASan leak reports fail it)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("shardcastd did not exit within %ss of signal %s\n%s"
                                     % (timeout, sig, self.read_log()))
        code = self.proc.returncode
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        if expect_code is not None and code != expect_code:
            raise AssertionError("shardcastd exited %s, expected %s\n%s"
                                 % (code, expect_code, self.read_log()))
        return code

    def kill9(self):
        return self.stop(sig=signal.SIGKILL, expect_code=None)

    def restart(self):
        """Start again on the same data dir (new ephemeral port)."""
        if self.proc is not None:
            self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.proc is not None:
            self.kill9()
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            if self.proc is not None and exc[0] is None:
                self.stop()
        finally:
            self.cleanup()

    # -- clients -----------------------------------------------------------------------------
    def aws(self, *args, check=True, tls=False, timeout=60):
        """Run the AWS CLI v2 against this server. Returns parsed JSON (or None for empty output);
        with check=False returns (returncode, stdout, stderr)."""
        endpoint = self.tls_endpoint if tls else self.endpoint
        cmd = [AWS_CLI, "--endpoint-url", endpoint, "--output", "json"]
        if tls:
            cmd.append("--no-verify-ssl")
        cmd += ["kinesis"] + [str(a) for a in args]
        env = dict(os.environ)
        env.update(cli_env())
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
        if not check:
            return p.returncode, p.stdout, p.stderr
        if p.returncode != 0:
            raise AssertionError("aws %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode,
                                                              p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def boto3(self, tls=False, **config):
        import boto3
        from botocore.config import Config
        endpoint = self.tls_endpoint if tls else self.endpoint
        cfg = Config(retries={"total_max_attempts": 1, "mode": "standard"}, **config)
        return boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="AKIDSHARDCASTTEST",
                            aws_secret_access_key="shardcast-test-secret",
                            verify=False if tls else None, config=cfg)

    def raw(self, body, target=None, headers=None, method="POST", path="/",
            content_type="application/x-amz-json-1.1", timeout=30):
        """One HTTP/1.1 request with a plausible (unverified) SigV4 header.
        Returns (status, headers dict lowercased, body bytes)."""
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/20240101/us-east-1/"
                             "kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=" +
                             "0" * 64,
            "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()),
        }
        if content_type is not None:
            h["Content-Type"] = content_type
        if target is not None:
            h["X-Amz-Target"] = target if "." in target else "Kinesis_20131202." + target
        if headers:
            h.update(headers)  # a value None removes the header
            h = {k: v for k, v in h.items() if v is not None}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def call(self, op, body):
        """Raw JSON call; returns (status, parsed JSON or None)."""
        status, _, data = self.raw(body, target=op)
        return status, (json.loads(data) if data else None)


def cli_env():
    return {
        "AWS_ACCESS_KEY_ID": "AKIDSHARDCASTTEST",
        "AWS_SECRET_ACCESS_KEY": "shardcast-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONWARNINGS": "ignore",
    }


def wait_for(pred, timeout=10.0, interval=0.11, what="condition"):
    """Poll pred() until truthy; bounded in time. The default interval keeps a Describe* poll
    under AWS's control-plane call rates (DescribeStream 10/s per account), which the server
    enforces under --limits aws."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class ServerTestCase(unittest.TestCase):
    """A test case with one server for the whole class (cls.server)."""
    server_args = ()
    server_tls = False

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_args, tls=cls.server_tls)

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            srv.stop()
        finally:
            srv.cleanup()

    def call_ok(self, op, body):
        """Raw JSON call that must answer 200; returns the parsed answer."""
        status, out = self.server.call(op, body)
        self.assertEqual(status, 200, out)
        return out

    def call_err(self, op, body, code, message=None):
        """Raw JSON call that must answer 400 with error type `code` (and `message`)."""
        status, out = self.server.call(op, body)
        self.assertEqual((status, out["__type"]), (400, code), out)
        if message is not None:
            self.assertEqual(out["message"], message)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before and self.server:
            sys.stderr.write("---- shardcastd log tail ----\n%s\n" % self.server.read_log()[-4000:])
        return out


def main():
    unittest.main(verbosity=2)


# -- Go SDK tests ----------------------------------------------------------------------------------
# tests/integration/go/build.sh compiles the Go tests (ctest fixture integration/go_build) into
# GO_TESTS_DIR; go_sdk_v*_test.py start a server here and run every Go test in the binary against
# it. A missing binary is a failure, never a skip.
GO_TESTS_DIR = os.environ.get("SHARDCAST_GO_TESTS_DIR") or os.path.join(
    os.environ.get("SHARDCAST_BUILD_DIR", "build"), "gotests")
# Host settings an SDK would pick up from the environment (a session loads AWS_CA_BUNDLE over the
# test's own CA, for one): the Go tests configure their clients completely themselves.
GO_ENV_DROP = ("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE",
               "AWS_SHARED_CREDENTIALS_FILE", "AWS_SDK_LOAD_CONFIG", "AWS_SESSION_TOKEN",
               "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KINESIS")


class GoSdkTestCase(ServerTestCase):
    """Runs each Go test of `binary` (a `go test -c` executable) in its own process against the
    class's server (plain port and TLS port). Subclasses set binary and expected (test names
    that must be present, so a renamed test cannot silently drop out) and call run_go_tests()
    from a test method (none here: this class is imported into the test modules)."""
    binary = None
    expected = ()
    go_select = r"Test"  # re.match against each Go test name: the ones this class runs
    server_args = ("--limits", "off", "--heartbeat-ms", "300")
    server_tls = True

    def go(self, *args, timeout=240):
        path = os.path.join(GO_TESTS_DIR, self.binary)
        if not os.access(path, os.X_OK):
            self.fail("%s missing: run ctest (fixture integration/go_build) or "
                      "tests/integration/go/build.sh %s" % (path, GO_TESTS_DIR))
        env = {k: v for k, v in os.environ.items() if k not in GO_ENV_DROP}
        env["GOTRACEBACK"] = "all"
        return subprocess.run([path] + list(args), capture_output=True, text=True, env=env,
                              timeout=timeout)

    def run_go_tests(self):
        p = self.go("-test.list", ".")
        self.assertEqual(p.returncode, 0, p.stderr)
        names = [n for n in p.stdout.split() if re.match(self.go_select, n)]
        self.assertTrue(set(self.expected) <= set(names), "Go tests %s, expected %s"
                        % (names, self.expected))
        srv = self.server
        for name in names:
            with self.subTest(go=name):
                # -test.timeout panics with every goroutine's stack if a reader hangs.
                p = self.go("-test.run", "^%s$" % name, "-test.v", "-test.count", "1",
                            "-test.timeout", "180s", "-endpoint", srv.endpoint,
                            "-tls-endpoint", srv.tls_endpoint, "-ca", srv.cert)
                sys.stdout.write(p.stdout[-6000:])
                self.assertEqual(p.returncode, 0, "%s failed:\n%s%s" % (name, p.stdout[-6000:],
                                                                         p.stderr[-6000:]))
                self.assertIn("--- PASS: %s" % name, p.stdout)


class SignedServerTestCase(ServerTestCase):
    """ServerTestCase against a server with --credentials (write_test_keys' pair, which every
    test client signs with) plus server_args."""

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="shardcast-keys-")
        cls.server = Server("--credentials", write_test_keys(cls.keydir), *cls.server_args,
                            tls=cls.server_tls)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            shutil.rmtree(cls.keydir, ignore_errors=True)


class GoSdkSignedTestCase(SignedServerTestCase, GoSdkTestCase):
    """GoSdkTestCase against a server with --credentials."""


def h2_subscribe_events(reader, conn, buf, events):
    """Applies one batch of python3-h2 events of a SubscribeToShard stream to `reader`: the
    response's status and headers (str), DATA acknowledged and fed to reader.feed(buf, data),
    END_STREAM as reader.ended. A reset of the event stream fails the test (pipes end with
    END_STREAM, never RST_STREAM)."""
    import h2.events
    for ev in events:
        if isinstance(ev, h2.events.ResponseReceived):
            hd = {k.decode() if isinstance(k, bytes) else k:
                  v.decode() if isinstance(v, bytes) else v for k, v in ev.headers}
            reader.status, reader.headers = int(hd[":status"]), hd
        elif isinstance(ev, h2.events.DataReceived):
            conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            reader.feed(buf, ev.data)
        elif isinstance(ev, h2.events.StreamEnded):
            reader.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            raise AssertionError("the server reset the event stream")


def write_test_keys(directory):
    """A --credentials file holding the key pair every test client signs with."""
    path = os.path.join(directory, "keys")
    with open(path, "w") as f:
        f.write("# shardcast test keys\nAKIDSHARDCASTTEST shardcast-test-secret\n")
    os.chmod(path, 0o600)
    return path
