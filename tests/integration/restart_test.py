"""Metadata survives kill -9: streams with several shard counts, tags, retention, resharding and
consumers come back identical after restarting on the same data dir; a corrupt metadata file
stops the server with a clear message instead of dropping the stream."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SHARDCASTD, Server, main, wait_for  # noqa: E402
import unittest  # noqa: E402


def snapshot(k):
    out = {}
    for name in sorted(k.list_streams()["StreamNames"]):
        d = k.describe_stream(StreamName=name)["StreamDescription"]
        s = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        tags = k.list_tags_for_stream(StreamName=name)["Tags"]
        cons = k.list_stream_consumers(StreamARN=d["StreamARN"])["Consumers"]
        for c in cons:
            c.pop("ConsumerStatus")  # CREATING may turn ACTIVE across the restart
        d.pop("StreamStatus")
        s.pop("StreamStatus")
        out[name] = (d, s, tags, cons)
    return out


class RestartTest(unittest.TestCase):
    def test_kill9_restart_identical(self):
        with Server() as srv:
            k = srv.boto3()
            for name, n in (("r1", 1), ("r3", 3), ("r7", 7)):
                k.create_stream(StreamName=name, ShardCount=n)
            k.create_stream(StreamName="rod", StreamModeDetails={"StreamMode": "ON_DEMAND"})
            for name in ("r1", "r3", "r7", "rod"):
                wait_for(lambda: k.describe_stream_summary(StreamName=name)
                         ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what=name)
            k.add_tags_to_stream(StreamName="r3", Tags={"team": "data eng", "env": "prod"})
            k.increase_stream_retention_period(StreamName="r7", RetentionPeriodHours=72)
            k.split_shard(StreamName="r1", ShardToSplit="shardId-000000000000",
                          NewStartingHashKey="170141183460469231731687303715884105728")
            arn = k.describe_stream_summary(StreamName="r3")["StreamDescriptionSummary"]["StreamARN"]
            k.register_stream_consumer(StreamARN=arn, ConsumerName="efo-1")
            k.create_stream(StreamName="gone", ShardCount=1)
            wait_for(lambda: k.describe_stream_summary(StreamName="gone")
                     ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="gone")
            k.delete_stream(StreamName="gone")
            wait_for(lambda: "gone" not in k.list_streams()["StreamNames"], what="deleted")
            before = snapshot(k)
            self.assertEqual(len(before["r1"][0]["Shards"]), 3)
            srv.kill9()
            srv.start()
            after = snapshot(srv.boto3())
            self.assertEqual(before, after)
            self.assertNotIn("gone", after)
            self.assertEqual(after["r3"][2], [{"Key": "env", "Value": "prod"},
                                              {"Key": "team", "Value": "data eng"}])

    def test_corrupt_meta_refuses_start(self):
        with Server() as srv:
            k = srv.boto3()
            k.create_stream(StreamName="c1", ShardCount=2)
            srv.kill9()
            files = glob.glob(os.path.join(srv.dir, "data", "meta", "*c1*"))
            self.assertEqual(len(files), 1)
            with open(files[0], "r+b") as f:
                f.seek(30)
                b = f.read(1)
                f.seek(30)
                f.write(bytes([b[0] ^ 0x01]))
            p = subprocess.run([SHARDCASTD, "--listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(srv.dir, "data")],
                               capture_output=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn(b"listening", p.stdout)
            self.assertIn(b"corrupt", p.stderr)
            self.assertIn(os.path.basename(files[0]).encode(), p.stderr)

    def test_damaged_iterator_key_refuses_start(self):
        with Server() as srv:
            srv.boto3().create_stream(StreamName="k1", ShardCount=1)
            srv.stop()
            key = os.path.join(srv.dir, "data", "meta", "iterator.key")
            self.assertEqual(os.path.getsize(key), 32)  # created at start, before any iterator
            with open(key, "ab") as f:
                f.write(b"x")
            p = subprocess.run([SHARDCASTD, "--listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(srv.dir, "data")],
                               capture_output=True, timeout=30)
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn(b"listening", p.stdout)
            self.assertIn(b"iterator.key", p.stderr)


if __name__ == "__main__":
    main()
