"""The JVM's own CBOR codec against shardcastd: tests/integration/java/src/JavaCborClient.java,
compiled by the integration/java_build fixture (tests/integration/java/build.sh) against Debian's
Jackson (jackson-dataformat-cbor, the library the AWS SDKs for Java use for Kinesis; the SDK itself
is not packaged by Debian). Requests are written with the SDK's CBORGenerator calls (indefinite
maps, writeBinary blobs, tag 1 + epoch millis timestamps, chunked long strings) and SigV4-signed
(the server verifies: --credentials); every answer is read with CBORParser as the SDK's
unmarshallers read it (byte strings via getBinaryValue, timestamps via getCurrentTag and
getLongValue). Each scenario is one JVM run that exits 0 only if every check held; `selftest`
proves the checks reject wrong encodings (float or seconds timestamps, base64 Data, bad CRCs).
SubscribeToShard is read over HTTP/1.1 chunked with the client's own event-stream decoder."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SignedServerTestCase, main  # noqa: E402

JAVA_TESTS_DIR = os.environ.get("SHARDCAST_JAVA_TESTS_DIR") or os.path.join(
    os.environ.get("SHARDCAST_BUILD_DIR", "build"), "javatests")


class JavaCborTest(SignedServerTestCase):
    server_args = ("--limits", "off", "--heartbeat-ms", "300")

    def java(self, scenario, with_server=True):
        """Runs one scenario; asserts exit 0 and its PASS line, shows the checks it made."""
        cp_file = os.path.join(JAVA_TESTS_DIR, "classpath")
        if not os.path.exists(cp_file):
            self.fail("%s missing: run ctest (fixture integration/java_build) or "
                      "tests/integration/java/build.sh %s" % (cp_file, JAVA_TESTS_DIR))
        with open(cp_file) as f:
            cp = f.read().strip()
        argv = ["java", "-cp", cp, "JavaCborClient", scenario]
        if with_server:
            argv.append(self.server.endpoint)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDSHARDCASTTEST",
                   AWS_SECRET_ACCESS_KEY="shardcast-test-secret")
        p = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=180)
        out = p.stdout[-8000:]
        sys.stdout.write(out)
        self.assertEqual(p.returncode, 0, "JavaCborClient %s failed (%d):\n%s%s"
                         % (scenario, p.returncode, out, p.stderr[-4000:]))
        lines = p.stdout.splitlines()
        self.assertEqual(lines[-1], "PASS " + scenario)
        return lines

    def test_selftest(self):
        lines = self.java("selftest", with_server=False)
        self.assertGreaterEqual(sum(ln.startswith("ok: rejects") for ln in lines), 9)

    def test_control(self):
        self.java("control")

    def test_data(self):
        self.java("data")

    def test_errors(self):
        self.java("errors")

    def test_subscribe(self):
        self.java("subscribe")


if __name__ == "__main__":
    main()
