"""The AWS SDK for Go v2 (Debian's golang-github-aws-aws-sdk-go-v2-dev) against shardcastd:
tests/integration/go/v2/kinesis_v2_test.go, compiled by the integration/go_build fixture. Control
plane with ListShards/ListStreams/ListStreamConsumers paging and the SDK's waiter; PutRecord(s) and
GetRecords byte for byte (TRIM_HORIZON, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, AFTER_SEQUENCE_NUMBER);
typed errors; SubscribeToShard through the SDK's event-stream reader over HTTP/1.1 (http://) and
TLS h2, resume after ContinuationSequenceNumber, exception events as typed errors, shard end.
A second server verifies signatures (--credentials) and ends pipes after 2 s: the SDK's SigV4 over
HTTP/1.1 and h2, and a pipe's clean end at its lifetime."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import GoSdkSignedTestCase, GoSdkTestCase, main  # noqa: E402


class GoSdkV2Test(GoSdkTestCase):
    binary = "gosdk_v2.test"
    go_select = r"Test(?!Signed|Lifetime)"
    expected = ("TestControlPlane", "TestPutGetRoundTrip", "TestTypedErrors", "TestSubscribeHTTP1",
                "TestSubscribeTLSH2", "TestSubscribeEndings")

    def test_go_sdk(self):
        self.run_go_tests()


class GoSdkV2SignedTest(GoSdkSignedTestCase):
    """--credentials (the test key pair) and --subscription-lifetime-ms 2000."""
    binary = "gosdk_v2.test"
    go_select = r"Test(Signed|Lifetime)"
    expected = ("TestSigned", "TestLifetime")
    server_args = ("--limits", "off", "--heartbeat-ms", "300", "--subscription-lifetime-ms", "2000")

    def test_go_sdk(self):
        self.run_go_tests()


if __name__ == "__main__":
    main()
