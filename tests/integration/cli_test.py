"""Control plane through the unmodified AWS CLI v2 (/usr/bin/aws, HTTP/1.1), plaintext and TLS.

Observed CLI 2.9.19 behaviour these tests rely on (checked against a capture server):
- `list-shards --page-size N` sends {StreamName, MaxResults} first, then {StreamName, MaxResults,
  NextToken} on every later page: the server must accept StreamName together with NextToken.
- `list-streams` pages with NextToken (+ Limit from --page-size), not ExclusiveStartStreamName.
- `describe-stream` pages with ExclusiveStartShardId = last ShardId while HasMoreShards.
- service errors exit 254 with `An error occurred (<Code>) when calling the <Op> operation: <msg>`.
"""
import datetime
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AWS_CLI, ServerTestCase, cli_env, main, wait_for  # noqa: E402

MAX_HASH = (1 << 128) - 1


def expected_ranges(n):
    """kinesis-protocol.md §5: step = floor(2^128 / N), last shard ends at 2^128-1."""
    step = (1 << 128) // n
    return [{"StartingHashKey": str(i * step),
             "EndingHashKey": str(MAX_HASH if i == n - 1 else (i + 1) * step - 1)}
            for i in range(n)]


class CliControlTest(ServerTestCase):
    # Functional checks; the aws profile's control-plane TPS quotas are exercised elsewhere
    # (persistence_cli_test.py runs on the default profile).
    server_tls = True
    server_args = ("--limits", "off")

    # -- helpers ---------------------------------------------------------------------------
    def create_active(self, name, shards, tls=False):
        self.server.aws("create-stream", "--stream-name", name, "--shard-count", shards, tls=tls)
        return wait_for(lambda: self._active_summary(name, tls), timeout=15,
                        what="%s ACTIVE" % name)

    def _active_summary(self, name, tls=False):
        s = self.server.aws("describe-stream-summary", "--stream-name", name,
                            tls=tls)["StreamDescriptionSummary"]
        return s if s["StreamStatus"] == "ACTIVE" else None

    def assert_cli_error(self, code, op, *args, tls=False):
        rc, out, err = self.server.aws(*args, check=False, tls=tls)
        self.assertEqual(rc, 254, "exit code for a service error; stderr: %s" % err)
        self.assertIn("An error occurred (%s) when calling the %s operation: " % (code, op), err)
        self.assertEqual(out.strip(), "")
        return err

    # -- tests -----------------------------------------------------------------------------
    def test_create_and_describe_summary(self):
        s = self.create_active("cli-one", 1)
        self.assertEqual(s["StreamName"], "cli-one")
        self.assertEqual(s["OpenShardCount"], 1)
        self.assertEqual(s["RetentionPeriodHours"], 24)
        self.assertNotIn("StreamId", s)
        self.assertRegex(s["StreamARN"], r"^arn:aws:kinesis:us-east-1:\d{12}:stream/cli-one$")
        self.assertEqual(s["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.assertIsInstance(s["EnhancedMonitoring"], list)
        created = datetime.datetime.fromisoformat(s["StreamCreationTimestamp"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - created).total_seconds()), 120)
        # The same stream by ARN, and the CLI's own waiter (DescribeStream until ACTIVE).
        by_arn = self.server.aws("describe-stream-summary", "--stream-arn", s["StreamARN"])
        self.assertEqual(by_arn["StreamDescriptionSummary"], s)
        self.assertIsNone(self.server.aws("wait", "stream-exists", "--stream-name", "cli-one"))

    def test_three_shards_describe_and_list(self):
        self.create_active("cli-three", 3)
        # The CLI drops HasMoreShards from merged pages; --no-paginate shows the raw response.
        d = self.server.aws("describe-stream", "--stream-name", "cli-three",
                            "--no-paginate")["StreamDescription"]
        self.assertEqual(d["StreamStatus"], "ACTIVE")
        self.assertFalse(d["HasMoreShards"])
        self.assertEqual([s["ShardId"] for s in d["Shards"]],
                         ["shardId-%012d" % i for i in range(3)])
        self.assertEqual([s["HashKeyRange"] for s in d["Shards"]], expected_ranges(3))
        for s in d["Shards"]:
            self.assertRegex(s["SequenceNumberRange"]["StartingSequenceNumber"],
                             r"^(0|[1-9]\d{0,128})$")
            self.assertNotIn("EndingSequenceNumber", s["SequenceNumberRange"])

        shards = self.server.aws("list-shards", "--stream-name", "cli-three")["Shards"]
        self.assertEqual([s["HashKeyRange"] for s in shards], expected_ranges(3))
        self.assertEqual(shards, d["Shards"])

        # One shard per page: three requests, pages 2 and 3 carry StreamName + NextToken.
        paged = self.server.aws("list-shards", "--stream-name", "cli-three", "--page-size", 1)
        self.assertEqual(paged["Shards"], shards)
        paged = self.server.aws("describe-stream", "--stream-name", "cli-three", "--page-size", 1)
        self.assertEqual(paged["StreamDescription"]["Shards"], shards)

        # --max-items hands back a CLI token that resumes where it stopped.
        first = self.server.aws("list-shards", "--stream-name", "cli-three", "--max-items", 2)
        self.assertEqual(first["Shards"], shards[:2])
        self.assertIn("NextToken", first)
        rest = self.server.aws("list-shards", "--stream-name", "cli-three",
                               "--starting-token", first["NextToken"])
        self.assertEqual(rest["Shards"], shards[2:])

    def test_list_streams_paging(self):
        names = ["cli-list-%d" % i for i in range(4)]
        for n in names:
            self.server.aws("create-stream", "--stream-name", n, "--shard-count", 1)
        for n in names:
            wait_for(lambda n=n: self._active_summary(n), timeout=15, what="%s ACTIVE" % n)
        full = self.server.aws("list-streams")
        self.assertEqual(full["StreamNames"], sorted(full["StreamNames"]))
        for n in names:
            self.assertIn(n, full["StreamNames"])
        paged = self.server.aws("list-streams", "--page-size", 1)
        self.assertEqual(paged["StreamNames"], full["StreamNames"])
        summaries = {s["StreamName"]: s for s in full.get("StreamSummaries", [])}
        if summaries:
            self.assertEqual(summaries[names[0]]["StreamStatus"], "ACTIVE")
        first = self.server.aws("list-streams", "--max-items", 2)
        self.assertEqual(first["StreamNames"], full["StreamNames"][:2])
        rest = self.server.aws("list-streams", "--starting-token", first["NextToken"])
        self.assertEqual(first["StreamNames"] + rest["StreamNames"], full["StreamNames"])

    def test_tags(self):
        self.create_active("cli-tags", 1)
        self.server.aws("add-tags-to-stream", "--stream-name", "cli-tags",
                        "--tags", "team=data,env=test,empty=")
        tags = self.server.aws("list-tags-for-stream", "--stream-name", "cli-tags")
        self.assertEqual(tags["Tags"], [{"Key": "empty", "Value": ""},
                                        {"Key": "env", "Value": "test"},
                                        {"Key": "team", "Value": "data"}])
        self.assertFalse(tags["HasMoreTags"])
        limited = self.server.aws("list-tags-for-stream", "--stream-name", "cli-tags",
                                  "--limit", 1, "--exclusive-start-tag-key", "empty")
        self.assertEqual(limited["Tags"], [{"Key": "env", "Value": "test"}])
        self.assertTrue(limited["HasMoreTags"])
        self.server.aws("add-tags-to-stream", "--stream-name", "cli-tags", "--tags", "env=prod")
        self.server.aws("remove-tags-from-stream", "--stream-name", "cli-tags",
                        "--tag-keys", "team", "empty")
        tags = self.server.aws("list-tags-for-stream", "--stream-name", "cli-tags")
        self.assertEqual(tags["Tags"], [{"Key": "env", "Value": "prod"}])
        self.assert_cli_error("ResourceNotFoundException", "AddTagsToStream",
                              "add-tags-to-stream", "--stream-name", "cli-no-such",
                              "--tags", "a=b")

    def test_retention(self):
        self.create_active("cli-ret", 1)
        self.server.aws("increase-stream-retention-period", "--stream-name", "cli-ret",
                        "--retention-period-hours", 72)
        s = wait_for(lambda: self._active_summary("cli-ret"), what="cli-ret ACTIVE")
        self.assertEqual(s["RetentionPeriodHours"], 72)
        err = self.assert_cli_error("InvalidArgumentException", "IncreaseStreamRetentionPeriod",
                                    "increase-stream-retention-period", "--stream-name",
                                    "cli-ret", "--retention-period-hours", 48)
        self.assertIn("can not be shorter than existing retention period", err)
        self.assert_cli_error("InvalidArgumentException", "DecreaseStreamRetentionPeriod",
                              "decrease-stream-retention-period", "--stream-name", "cli-ret",
                              "--retention-period-hours", 96)
        err = self.assert_cli_error("InvalidArgumentException", "DecreaseStreamRetentionPeriod",
                                    "decrease-stream-retention-period", "--stream-name",
                                    "cli-ret", "--retention-period-hours", 12)
        self.assertIn("Minimum allowed retention period is 24 hours", err)
        rc, _, err = self.server.aws("increase-stream-retention-period", "--stream-name",
                                     "cli-ret", "--retention-period-hours", 9000, check=False)
        self.assertEqual(rc, 254, err)
        self.assertRegex(err, r"\((InvalidArgumentException|ValidationException)\)")
        self.server.aws("decrease-stream-retention-period", "--stream-name", "cli-ret",
                        "--retention-period-hours", 24)
        s = wait_for(lambda: self._active_summary("cli-ret"), what="cli-ret ACTIVE")
        self.assertEqual(s["RetentionPeriodHours"], 24)

    def test_describe_limits(self):
        before = self.server.aws("describe-limits")
        self.create_active("cli-limits", 2)
        lim = self.server.aws("describe-limits")
        self.assertEqual(lim["OpenShardCount"], before["OpenShardCount"] + 2)
        self.assertGreaterEqual(lim["ShardLimit"], lim["OpenShardCount"])
        self.assertIsInstance(lim["OnDemandStreamCount"], int)
        self.assertIsInstance(lim["OnDemandStreamCountLimit"], int)

    def test_errors(self):
        err = self.assert_cli_error("ResourceNotFoundException", "DescribeStreamSummary",
                                    "describe-stream-summary", "--stream-name", "cli-missing")
        self.assertIn("cli-missing", err)
        self.assert_cli_error("ResourceNotFoundException", "DescribeStream",
                              "describe-stream", "--stream-name", "cli-missing")
        self.assert_cli_error("ResourceNotFoundException", "ListShards",
                              "list-shards", "--stream-name", "cli-missing")
        self.assert_cli_error("ResourceNotFoundException", "DeleteStream",
                              "delete-stream", "--stream-name", "cli-missing")
        self.create_active("cli-dup", 1)
        err = self.assert_cli_error("ResourceInUseException", "CreateStream",
                                    "create-stream", "--stream-name", "cli-dup",
                                    "--shard-count", 1)
        self.assertIn("cli-dup", err)
        self.assert_cli_error("ValidationException", "CreateStream", "create-stream",
                              "--stream-name", "bad name!", "--shard-count", 1)

    def test_delete_stream(self):
        self.create_active("cli-del", 2)
        self.server.aws("delete-stream", "--stream-name", "cli-del")

        def gone():
            rc, _, err = self.server.aws("describe-stream-summary", "--stream-name", "cli-del",
                                         check=False)
            if rc == 0:
                return False
            self.assertIn("(ResourceNotFoundException)", err)
            return True
        wait_for(gone, timeout=15, what="cli-del gone")
        self.assertIsNone(self.server.aws("wait", "stream-not-exists", "--stream-name", "cli-del"))
        self.assertNotIn("cli-del", self.server.aws("list-streams")["StreamNames"])

    def test_tls(self):
        s = self.create_active("cli-tls", 3, tls=True)
        self.assertEqual(s["OpenShardCount"], 3)
        shards = self.server.aws("list-shards", "--stream-name", "cli-tls", "--page-size", 2,
                                 tls=True)["Shards"]
        self.assertEqual([x["HashKeyRange"] for x in shards], expected_ranges(3))
        self.assertIn("cli-tls", self.server.aws("list-streams", tls=True)["StreamNames"])
        self.assert_cli_error("ResourceNotFoundException", "DescribeStreamSummary",
                              "describe-stream-summary", "--stream-name", "cli-missing",
                              tls=True)
        # With real verification against the test certificate (SAN IP:127.0.0.1).
        p = subprocess.run([AWS_CLI, "--endpoint-url", self.server.tls_endpoint, "--ca-bundle",
                            self.server.cert, "--output", "json", "kinesis",
                            "describe-stream-summary", "--stream-name", "cli-tls"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, **cli_env()))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["StreamDescriptionSummary"]["StreamName"],
                         "cli-tls")
        self.server.aws("delete-stream", "--stream-name", "cli-tls", tls=True)


if __name__ == "__main__":
    main()
