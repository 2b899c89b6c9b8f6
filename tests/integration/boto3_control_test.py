"""Control plane through Debian's boto3/botocore (HTTP/1.1), including botocore's waiters and
paginators exactly as applications use them."""
import datetime
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

MAX_HASH = (1 << 128) - 1
FAST_WAITER = {"Delay": 1, "MaxAttempts": 15}


def expected_ranges(n):
    step = (1 << 128) // n
    return [{"StartingHashKey": str(i * step),
             "EndingHashKey": str(MAX_HASH if i == n - 1 else (i + 1) * step - 1)}
            for i in range(n)]


class Boto3ControlTest(ServerTestCase):
    server_args = ("--limits", "off")  # functional checks, not the TPS quotas
    server_tls = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kin = cls.server.boto3()

    def assert_client_error(self, code, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertTrue(err["Error"]["Message"])
        return err

    def test_waiter_and_summary(self):
        self.kin.create_stream(StreamName="b3-one", ShardCount=1)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-one", WaiterConfig=FAST_WAITER)
        s = self.kin.describe_stream_summary(StreamName="b3-one")["StreamDescriptionSummary"]
        self.assertEqual(s["StreamStatus"], "ACTIVE")
        self.assertEqual(s["OpenShardCount"], 1)
        self.assertNotIn("StreamId", s)
        self.assertIsInstance(s["StreamCreationTimestamp"], datetime.datetime)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - s["StreamCreationTimestamp"]).total_seconds()), 120)
        r = self.kin.describe_stream(StreamName="b3-one")["StreamDescription"]
        self.assertEqual(r["StreamARN"], s["StreamARN"])
        self.assertEqual(r["EnhancedMonitoring"], [{"ShardLevelMetrics": []}])

    def test_paginators(self):
        self.kin.create_stream(StreamName="b3-five", ShardCount=5)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-five", WaiterConfig=FAST_WAITER)
        pages = list(self.kin.get_paginator("list_shards").paginate(
            StreamName="b3-five", PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["Shards"]) for p in pages], [2, 2, 1])
        shards = [s for p in pages for s in p["Shards"]]
        self.assertEqual([s["ShardId"] for s in shards], ["shardId-%012d" % i for i in range(5)])
        self.assertEqual([s["HashKeyRange"] for s in shards], expected_ranges(5))

        pages = list(self.kin.get_paginator("describe_stream").paginate(
            StreamName="b3-five", PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["StreamDescription"]["Shards"]) for p in pages], [2, 2, 1])
        self.assertEqual([p["StreamDescription"]["HasMoreShards"] for p in pages],
                         [True, True, False])

        # ListShards by hand: NextToken alone continues; NextToken + ExclusiveStartShardId is
        # rejected (kinesis-protocol.md §7.2).
        first = self.kin.list_shards(StreamName="b3-five", MaxResults=3)
        self.assertEqual(len(first["Shards"]), 3)
        rest = self.kin.list_shards(NextToken=first["NextToken"])
        self.assertEqual(first["Shards"] + rest["Shards"], shards)
        self.assertNotIn("NextToken", rest)
        self.assert_client_error("InvalidArgumentException", self.kin.list_shards,
                                 NextToken=first["NextToken"],
                                 ExclusiveStartShardId="shardId-000000000000")
        self.assert_client_error("InvalidArgumentException", self.kin.list_shards)
        after = self.kin.list_shards(StreamName="b3-five",
                                     ShardFilter={"Type": "AFTER_SHARD_ID",
                                                  "ShardId": "shardId-000000000002"})
        self.assertEqual([s["ShardId"] for s in after["Shards"]],
                         ["shardId-000000000003", "shardId-000000000004"])

        for i in range(3):
            self.kin.create_stream(StreamName="b3-list-%d" % i, ShardCount=1)
        names = [n for p in self.kin.get_paginator("list_streams").paginate(
            PaginationConfig={"PageSize": 1}) for n in p["StreamNames"]]
        self.assertEqual(names, sorted(names))
        for i in range(3):
            self.assertIn("b3-list-%d" % i, names)
        self.assertEqual(names, self.kin.list_streams()["StreamNames"])
        page = self.kin.list_streams(Limit=1, ExclusiveStartStreamName=names[0])
        self.assertEqual(page["StreamNames"], [names[1]])

    def test_tags_and_retention(self):
        self.kin.create_stream(StreamName="b3-tags", ShardCount=1)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-tags", WaiterConfig=FAST_WAITER)
        self.kin.add_tags_to_stream(StreamName="b3-tags", Tags={"k2": "v2", "k1": "v1"})
        self.assertEqual(self.kin.list_tags_for_stream(StreamName="b3-tags")["Tags"],
                         [{"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}])
        self.kin.remove_tags_from_stream(StreamName="b3-tags", TagKeys=["k1"])
        self.assertEqual(self.kin.list_tags_for_stream(StreamName="b3-tags")["Tags"],
                         [{"Key": "k2", "Value": "v2"}])
        many = {"t%02d" % i: "x" for i in range(50)}
        self.assert_client_error("InvalidArgumentException", self.kin.add_tags_to_stream,
                                 StreamName="b3-tags", Tags=many)

        self.kin.increase_stream_retention_period(StreamName="b3-tags", RetentionPeriodHours=168)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-tags", WaiterConfig=FAST_WAITER)
        s = self.kin.describe_stream_summary(StreamName="b3-tags")["StreamDescriptionSummary"]
        self.assertEqual(s["RetentionPeriodHours"], 168)
        self.assert_client_error("InvalidArgumentException",
                                 self.kin.decrease_stream_retention_period,
                                 StreamName="b3-tags", RetentionPeriodHours=23)
        # Debian 12's botocore (1.29) predates StreamARN on most operations; StreamName it is.
        self.kin.decrease_stream_retention_period(StreamName="b3-tags", RetentionPeriodHours=48)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-tags", WaiterConfig=FAST_WAITER)
        s = self.kin.describe_stream_summary(StreamName="b3-tags")["StreamDescriptionSummary"]
        self.assertEqual(s["RetentionPeriodHours"], 48)

    def test_errors_and_delete(self):
        err = self.assert_client_error("ResourceNotFoundException",
                                       self.kin.describe_stream_summary, StreamName="b3-missing")
        self.assertEqual(err["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype"),
                         "ResourceNotFoundException")
        self.assertTrue(err["ResponseMetadata"].get("RequestId"))
        with self.assertRaises(self.kin.exceptions.ResourceNotFoundException):
            self.kin.describe_stream(StreamName="b3-missing")
        self.kin.create_stream(StreamName="b3-del", ShardCount=2)
        with self.assertRaises(self.kin.exceptions.ResourceInUseException):
            self.kin.create_stream(StreamName="b3-del", ShardCount=2)
        self.kin.get_waiter("stream_exists").wait(StreamName="b3-del", WaiterConfig=FAST_WAITER)
        lim = self.kin.describe_limits()
        self.assertGreaterEqual(lim["OpenShardCount"], 2)
        self.kin.delete_stream(StreamName="b3-del")
        self.kin.get_waiter("stream_not_exists").wait(StreamName="b3-del",
                                                      WaiterConfig=FAST_WAITER)
        self.assertEqual(self.kin.describe_limits()["OpenShardCount"], lim["OpenShardCount"] - 2)
        wait_for(lambda: "b3-del" not in self.kin.list_streams()["StreamNames"], timeout=10,
                 interval=0.1, what="b3-del unlisted")

    def test_tls_verified(self):
        """boto3 over TLS (urllib3, ALPN http/1.1) verifying the server's certificate."""
        import boto3
        from botocore.config import Config
        kin = boto3.client("kinesis", endpoint_url=self.server.tls_endpoint,
                           region_name="us-east-1", aws_access_key_id="AKIDSHARDCASTTEST",
                           aws_secret_access_key="shardcast-test-secret",
                           verify=self.server.cert,
                           config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        kin.create_stream(StreamName="b3-tls", ShardCount=1)
        kin.get_waiter("stream_exists").wait(StreamName="b3-tls", WaiterConfig=FAST_WAITER)
        self.assertEqual(len(kin.list_shards(StreamName="b3-tls")["Shards"]), 1)
        with self.assertRaises(kin.exceptions.ResourceNotFoundException):
            kin.describe_stream_summary(StreamName="b3-missing")


if __name__ == "__main__":
    main()
