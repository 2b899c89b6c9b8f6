"""Stream metadata survives kill -9 and a clean restart, as seen through the AWS CLI v2.

Runs on the default `--limits aws` profile (the AWS CLI retries throttled control calls itself).
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main, wait_for  # noqa: E402

STREAMS = {"persist-a": 1, "persist-b": 2, "persist-c": 5}
TAGS = {"persist-a": "owner=alice", "persist-b": "owner=bob,tier=gold", "persist-c": "x=1,y=,z=3"}


class PersistenceCliTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.addCleanup(self.srv.cleanup)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        srv = getattr(self, "srv", None)
        if result and len(result.failures) + len(result.errors) > before and srv is not None:
            sys.stderr.write("---- shardcastd log tail ----\n%s\n" % srv.read_log()[-4000:])
        return out

    def active(self, name):
        s = self.srv.aws("describe-stream-summary", "--stream-name", name)
        return s["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"

    def snapshot(self):
        """What the control plane shows about every stream, via the CLI (few calls: each CLI
        process costs about a second)."""
        names = self.srv.aws("list-streams")["StreamNames"]
        snap = {"names": names}
        for n in names:
            snap[n] = {
                "describe": self.srv.aws("describe-stream", "--stream-name", n),
                "tags": self.srv.aws("list-tags-for-stream", "--stream-name", n),
            }
        snap["summary-c"] = self.srv.aws("describe-stream-summary", "--stream-name", "persist-c")
        snap["shards-c"] = self.srv.aws("list-shards", "--stream-name", "persist-c")
        return snap

    def test_metadata_survives_kill9_and_clean_restart(self):
        for name, shards in STREAMS.items():
            self.srv.aws("create-stream", "--stream-name", name, "--shard-count", shards)
        self.srv.aws("create-stream", "--stream-name", "persist-gone", "--shard-count", 1)
        for name in list(STREAMS) + ["persist-gone"]:
            wait_for(lambda n=name: self.active(n), timeout=15, interval=0.1,
                     what="%s ACTIVE" % name)
        for name, tags in TAGS.items():
            self.srv.aws("add-tags-to-stream", "--stream-name", name, "--tags", tags)
        self.srv.aws("increase-stream-retention-period", "--stream-name", "persist-b",
                     "--retention-period-hours", 72)
        wait_for(lambda: self.active("persist-b"), timeout=15, interval=0.1,
                 what="persist-b ACTIVE")
        self.srv.aws("delete-stream", "--stream-name", "persist-gone")

        def gone():
            rc, _, err = self.srv.aws("describe-stream-summary", "--stream-name", "persist-gone",
                                      check=False)
            return rc == 254 and "(ResourceNotFoundException)" in err
        wait_for(gone, timeout=15, interval=0.1, what="persist-gone deleted")

        before = self.snapshot()
        self.assertEqual(before["names"], sorted(STREAMS))
        for name, shards in STREAMS.items():
            self.assertEqual(len(before[name]["describe"]["StreamDescription"]["Shards"]), shards)
        self.assertEqual(before["summary-c"]["StreamDescriptionSummary"]["OpenShardCount"], 5)
        self.assertEqual(before["shards-c"]["Shards"],
                         before["persist-c"]["describe"]["StreamDescription"]["Shards"])
        self.assertEqual(before["persist-c"]["tags"]["Tags"],
                         [{"Key": "x", "Value": "1"}, {"Key": "y", "Value": ""},
                          {"Key": "z", "Value": "3"}])
        self.assertEqual(
            before["persist-b"]["describe"]["StreamDescription"]["RetentionPeriodHours"], 72)
        limits_before = self.srv.aws("describe-limits")

        self.srv.kill9()
        self.srv.start()
        after = self.snapshot()
        self.assertEqual(after, before, "metadata changed across kill -9")
        self.assertEqual(self.srv.aws("describe-limits")["OpenShardCount"],
                         limits_before["OpenShardCount"])

        # A restarted server keeps working: new streams, and a clean SIGTERM restart.
        self.srv.aws("create-stream", "--stream-name", "persist-new", "--shard-count", 1)
        wait_for(lambda: self.active("persist-new"), timeout=15, interval=0.1,
                 what="persist-new ACTIVE")
        rc, _, err = self.srv.aws("create-stream", "--stream-name", "persist-a",
                                  "--shard-count", 1, check=False)
        self.assertEqual(rc, 254)
        self.assertIn("(ResourceInUseException)", err)
        expected = self.snapshot()
        self.srv.restart()  # SIGTERM, must exit 0
        self.assertEqual(self.snapshot(), expected, "metadata changed across a clean restart")
        self.srv.stop()


if __name__ == "__main__":
    main()
