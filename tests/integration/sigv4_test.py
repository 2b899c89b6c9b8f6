"""SigV4 verification (--credentials FILE) with the real clients over HTTP/1.1: AWS CLI v2 and
boto3 (incl. SubscribeToShard and TLS) succeed with the right secret; a wrong secret, an unknown
key, a wrong session token, a body changed after signing, an old X-Amz-Date and a foreign region
are refused with AWS's error types and messages. Raw requests signed by botocore check what the
HTTP/1.1 transport must hand over untouched: repeated headers (joined with ','), whitespace inside
values, the query string (presigned requests). Without --credentials any secret still works."""
import datetime
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, cli_env, main, wait_for  # noqa: E402

KEY, SECRET = "AKIDSHARDCASTTEST", "shardcast-test-secret"
SESSION_KEY, SESSION_SECRET, TOKEN = "ASIASHARDCAST", "session-secret", "FwoGZXIvYXdzE+token/x=="
CT = "application/x-amz-json-1.1"
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")
INVALID_TOKEN = "The security token included in the request is invalid."
SHARD0 = "shardId-000000000000"


def write_credentials(directory):
    path = os.path.join(directory, "credentials")
    with open(path, "w") as f:
        f.write("# test keys\n\n%s %s\n%s %s %s   # a session key\n"
                % (KEY, SECRET, SESSION_KEY, SESSION_SECRET, TOKEN))
    os.chmod(path, 0o600)
    return path


OPEN_CLIENTS = []


def client(server, key=KEY, secret=SECRET, token=None, region="us-east-1", tls=False):
    """A boto3 client with these keys; closed after the test (close_clients)."""
    import boto3
    from botocore.config import Config
    c = boto3.client(
        "kinesis", endpoint_url=server.tls_endpoint if tls else server.endpoint,
        region_name=region, aws_access_key_id=key, aws_secret_access_key=secret,
        aws_session_token=token, verify=False if tls else None,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    OPEN_CLIENTS.append(c)
    return c


def close_clients():
    while OPEN_CLIENTS:
        OPEN_CLIENTS.pop().close()


def signed(server, target, body, headers=(), key=KEY, secret=SECRET, when=None, query=False,
           path="/"):
    """A request signed by botocore (SigV4Auth, or SigV4QueryAuth when query), optionally at an
    other time. Returns (path, list of (name, value) headers) to send with http.client."""
    from botocore.auth import SigV4Auth, SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import botocore.auth
    req = AWSRequest(method="POST", url="http://127.0.0.1:%d%s" % (server.port, path),
                     data=body, headers={"Content-Type": CT,
                                         "X-Amz-Target": "Kinesis_20131202." + target})
    for name, value in headers:
        req.headers.add_header(name, value)
    creds = Credentials(key, secret)
    signer = (SigV4QueryAuth(creds, "kinesis", "us-east-1", expires=300) if query
              else SigV4Auth(creds, "kinesis", "us-east-1"))
    if when is None:
        signer.add_auth(req)
    else:
        class At(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when.replace(tzinfo=tz) if tz else when
        with mock.patch.object(botocore.auth.datetime, "datetime", At):
            signer.add_auth(req)
    url = req.url.split("127.0.0.1:%d" % server.port, 1)[1]
    return url, list(req.headers.items())


def send(server, path, headers, body):
    """One HTTP/1.1 request with exactly these headers (repeats kept). (status, type, json)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        has_host = any(n.lower() == "host" for n, _ in headers)
        if not has_host:
            conn.putheader("Host", "127.0.0.1:%d" % server.port)
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheader("x-amzn-errortype"), (json.loads(data) if data else None)
    finally:
        conn.close()


class VerifyingServerTest(ServerTestCase):
    """One shardcastd with --credentials for the class."""

    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="shardcast-keys-")
        cls.server_args = ("--credentials", write_credentials(cls.keydir), "--limits", "off",
                           "--heartbeat-ms", "300")
        try:
            cls.server = Server(*cls.server_args, tls=True)
            k = client(cls.server)
            k.create_stream(StreamName="v1", ShardCount=1)
            wait_for(lambda: k.describe_stream_summary(StreamName="v1")
                     ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE",
                     what="stream ACTIVE")
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails: stop what was started.
            close_clients()
            if getattr(cls, "server", None) is not None:
                cls.server.cleanup()
            shutil.rmtree(cls.keydir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        close_clients()
        super().tearDownClass()
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def tearDown(self):
        close_clients()

    def refused(self, fn, code, message=None):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn()
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        if message is not None:
            self.assertEqual(err["Message"], message)
        return err["Message"]

    # -- real clients ---------------------------------------------------------------------------
    def test_cli_right_wrong_unknown(self):
        srv = self.server
        out = srv.aws("put-record", "--stream-name", "v1", "--partition-key", "pk",
                      "--data", "aGk=")
        self.assertIn("SequenceNumber", out)
        self.assertIn("v1", srv.aws("list-streams")["StreamNames"])
        for override, code, message in (
                ({"AWS_SECRET_ACCESS_KEY": "wrong"}, "InvalidSignatureException", MISMATCH),
                ({"AWS_ACCESS_KEY_ID": "AKIDNOBODY"}, "UnrecognizedClientException",
                 INVALID_TOKEN)):
            # harness.aws() takes the keys from cli_env(); other keys for this call.
            with mock.patch("harness.cli_env", lambda: dict(cli_env(), **override)):
                rc, _, err = srv.aws("list-streams", check=False)
            self.assertNotEqual(rc, 0)
            self.assertIn("(%s)" % code, err)
            self.assertIn(message, err)

    def test_boto3_data_round_trip(self):
        k = client(self.server)
        r = k.put_records(StreamName="v1", Records=[
            {"Data": b"x" * 100, "PartitionKey": "pk%d" % i} for i in range(50)])
        self.assertEqual(r["FailedRecordCount"], 0)
        it = k.get_shard_iterator(StreamName="v1", ShardId=SHARD0,
                                  ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assertGreaterEqual(len(k.get_records(ShardIterator=it, Limit=1000)["Records"]), 50)
        # TLS (HTTP/1.1 over TLS for botocore) verifies the same way.
        self.assertIn("v1", client(self.server, tls=True).list_streams()["StreamNames"])

    def test_boto3_refusals(self):
        srv = self.server
        self.refused(lambda: client(srv, secret="wrong").list_streams(),
                     "InvalidSignatureException", MISMATCH)
        self.refused(lambda: client(srv, key="AKIDNOBODY").list_streams(),
                     "UnrecognizedClientException", INVALID_TOKEN)
        self.refused(lambda: client(srv, region="eu-west-1").list_streams(),
                     "InvalidSignatureException",
                     "Credential should be scoped to a valid region, not 'eu-west-1'. ")

    def test_session_token(self):
        srv = self.server
        k = client(srv, SESSION_KEY, SESSION_SECRET, TOKEN)
        self.assertIn("v1", k.list_streams()["StreamNames"])
        self.refused(lambda: client(srv, SESSION_KEY, SESSION_SECRET, TOKEN + "x").list_streams(),
                     "UnrecognizedClientException", INVALID_TOKEN)
        self.refused(lambda: client(srv, SESSION_KEY, SESSION_SECRET).list_streams(),
                     "UnrecognizedClientException", INVALID_TOKEN)
        self.refused(lambda: client(srv, KEY, SECRET, TOKEN).list_streams(),
                     "UnrecognizedClientException", INVALID_TOKEN)

    def test_subscribe_to_shard_http11(self):
        k = client(self.server)
        sarn = k.describe_stream_summary(StreamName="v1")["StreamDescriptionSummary"]["StreamARN"]
        arn = k.register_stream_consumer(StreamARN=sarn, ConsumerName="sig")["Consumer"][
            "ConsumerARN"]
        wait_for(lambda: k.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
                 ["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        resp = k.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0,
                                    StartingPosition={"Type": "LATEST"})
        self.assertEqual(resp["ResponseMetadata"]["HTTPHeaders"].get("transfer-encoding"),
                         "chunked")
        got = []

        def read():
            for ev in resp["EventStream"]:
                recs = ev.get("SubscribeToShardEvent", {}).get("Records", [])
                got.extend(r["Data"] for r in recs)
                if got:
                    return
        t = threading.Thread(target=read, daemon=True)
        t.start()
        k.put_record(StreamName="v1", Data=b"pushed", PartitionKey="pk")
        wait_for(lambda: got, timeout=20, what="a pushed record")
        self.assertEqual(got[0], b"pushed")
        resp["EventStream"].close()
        t.join(10)
        self.refused(lambda: client(self.server, secret="wrong").subscribe_to_shard(
            ConsumerARN=arn, ShardId=SHARD0, StartingPosition={"Type": "LATEST"}),
            "InvalidSignatureException", MISMATCH)

    # -- raw requests signed by botocore --------------------------------------------------------
    def test_body_changed_after_signing(self):
        body = b'{"StreamName":"v1"}'
        path, headers = signed(self.server, "DescribeStreamSummary", body)
        self.assertEqual(send(self.server, path, headers, body)[0], 200)
        status, etype, obj = send(self.server, path, headers, b'{"StreamName":"v2"}')
        self.assertEqual((status, etype, obj["message"]),
                         (400, "InvalidSignatureException", MISMATCH))

    def test_old_and_future_x_amz_date(self):
        body = b"{}"
        utc = datetime.datetime.utcnow().replace(microsecond=0)
        for delta, pattern in (
                (-600, r"^Signature expired: (\d{8}T\d{6}Z) is now earlier than (\d{8}T\d{6}Z) "
                       r"\((\d{8}T\d{6}Z) - 5 min\.\)$"),
                (600, r"^Signature not yet current: (\d{8}T\d{6}Z) is still later than "
                      r"(\d{8}T\d{6}Z) \((\d{8}T\d{6}Z) \+ 5 min\.\)$")):
            when = utc + datetime.timedelta(seconds=delta)
            path, headers = signed(self.server, "ListStreams", body, when=when)
            status, etype, obj = send(self.server, path, headers, body)
            self.assertEqual((status, etype), (400, "InvalidSignatureException"))
            m = re.match(pattern, obj["message"])
            self.assertIsNotNone(m, obj["message"])
            self.assertEqual(m.group(1), when.strftime("%Y%m%dT%H%M%SZ"))
            now = datetime.datetime.strptime(m.group(3), "%Y%m%dT%H%M%SZ")
            bound = datetime.datetime.strptime(m.group(2), "%Y%m%dT%H%M%SZ")
            self.assertEqual((bound - now).total_seconds(), 300 if delta > 0 else -300)
            self.assertLess(abs((now - utc).total_seconds()), 60)

    def test_repeated_headers_and_whitespace_http11(self):
        # botocore joins repeated headers with ',' and collapses whitespace: the transport must
        # hand both values over in order and the value with its inner runs intact.
        body = b"{}"
        path, headers = signed(self.server, "ListStreams", body,
                               headers=[("X-Repeated", "one"), ("X-Repeated", "two  2"),
                                        ("X-Spaces", "a    b\t c")])
        self.assertEqual(sum(1 for n, _ in headers if n == "X-Repeated"), 2)
        self.assertEqual(send(self.server, path, headers, body)[0], 200)
        swapped = [(n, {"one": "two  2", "two  2": "one"}.get(v, v) if n == "X-Repeated" else v)
                   for n, v in headers]
        self.assertEqual(send(self.server, path, swapped, body)[1], "InvalidSignatureException")
        dropped = [(n, v) for n, v in headers if (n, v) != ("X-Repeated", "two  2")]
        self.assertEqual(send(self.server, path, dropped, body)[1], "InvalidSignatureException")

    def test_presigned_query(self):
        path, headers = signed(self.server, "ListStreams", b"", query=True)
        self.assertIn("X-Amz-Signature=", path)
        status, _, obj = send(self.server, path, headers, b"")
        self.assertEqual(status, 200, obj)
        self.assertIn("v1", obj["StreamNames"])
        tampered = path.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
        self.assertEqual(send(self.server, tampered, headers, b"")[1], "InvalidSignatureException")
        _, header_auth = signed(self.server, "ListStreams", b"")
        both = headers + [(n, v) for n, v in header_auth if n == "Authorization"]
        status, etype, obj = send(self.server, path, both, b"")
        self.assertEqual((status, etype), (400, "InvalidSignatureException"))
        self.assertIn("X-Amz-Algorithm", obj["message"])

    def test_missing_auth_and_open_endpoints(self):
        status, etype, obj = send(self.server, "/", [("Content-Type", CT), (
            "X-Amz-Target", "Kinesis_20131202.ListStreams")], b"{}")
        self.assertEqual((status, etype, obj["message"]),
                         (400, "MissingAuthenticationTokenException",
                          "Missing Authentication Token"))
        for path in ("/health", "/stats"):
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            try:
                conn.request("GET", path)
                self.assertEqual(conn.getresponse().status, 200, path)
            finally:
                conn.close()


class DefaultServerTest(ServerTestCase):
    """Without --credentials: any key and secret work (today's behaviour, the quick start)."""

    def tearDown(self):
        close_clients()

    def test_any_credentials(self):
        self.assertEqual(client(self.server, "local", "local").list_streams()["StreamNames"], [])
        self.assertEqual(client(self.server, secret="wrong").list_streams()["StreamNames"], [])
        with mock.patch("harness.cli_env",
                        lambda: dict(cli_env(), AWS_SECRET_ACCESS_KEY="wrong")):
            self.assertEqual(self.server.aws("list-streams")["StreamNames"], [])
        body = b"{}"
        when = datetime.datetime.utcnow() - datetime.timedelta(hours=2)
        path, headers = signed(self.server, "ListStreams", body, when=when, secret="x")
        self.assertEqual(send(self.server, path, headers, body)[0], 200)


class BadCredentialsFileTest(unittest.TestCase):
    def test_refused_at_start(self):
        import subprocess
        from harness import SHARDCASTD
        d = tempfile.mkdtemp(prefix="shardcast-keys-")
        try:
            bad = os.path.join(d, "bad")
            with open(bad, "w") as f:
                f.write("%s\n" % KEY)
            for path, text in ((bad, "bad:1: expected ACCESS_KEY_ID SECRET_ACCESS_KEY"),
                               (os.path.join(d, "missing"), "No such file or directory")):
                p = subprocess.run([SHARDCASTD, "--listen", "127.0.0.1:0", "--data-dir",
                                    os.path.join(d, "data"), "--credentials", path],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2)
                self.assertIn(text, p.stderr)
                self.assertEqual(p.stdout, "")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_exposed_file_warns(self):
        """A key file others can read is used, with a warning in the log; a 0600 one quietly."""
        d = tempfile.mkdtemp(prefix="shardcast-keys-")
        try:
            path = write_credentials(d)
            for mode, warned in ((0o644, True), (0o600, False)):
                os.chmod(path, mode)
                with Server("--credentials", path) as srv:
                    self.assertEqual(client(srv).list_streams()["StreamNames"], [])
                    log = srv.read_log()
                close_clients()
                self.assertEqual("accessible by group or others (mode %04o); chmod 600 it"
                                 % mode in log, warned, log)
                if not warned:
                    self.assertNotIn("accessible by group or others", log)
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
