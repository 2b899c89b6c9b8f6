"""The AWS SDK for Go v1 (Debian's golang-github-aws-aws-sdk-go-dev) against shardcastd:
tests/integration/go/v1/kinesis_v1_test.go, compiled by the integration/go_build fixture. Control
plane (StreamExists waiter, ListShards and ListStreamsPages paging), PutRecord(s) and GetRecords
byte for byte, typed errors, SubscribeToShard over HTTP/1.1 and TLS h2 with resume and a
deregistration ending in the typed ResourceInUseException; v1's SigV4 against --credentials."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GoSdkSignedTestCase, GoSdkTestCase, main  # noqa: E402


class GoSdkV1Test(GoSdkTestCase):
    binary = "gosdk_v1.test"
    go_select = r"Test(?!Signed)"
    expected = ("TestControlPlane", "TestPutGetRoundTrip", "TestTypedErrors", "TestSubscribeHTTP1",
                "TestSubscribeTLSH2")

    def test_go_sdk(self):
        self.run_go_tests()


class GoSdkV1SignedTest(GoSdkSignedTestCase):
    """--credentials with the test key pair."""
    binary = "gosdk_v1.test"
    go_select = r"TestSigned"
    expected = ("TestSigned",)

    def test_go_sdk(self):
        self.run_go_tests()


if __name__ == "__main__":
    main()
