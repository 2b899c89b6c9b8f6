"""Reading across resharding with boto3 (kinesis-protocol.md §5 "Resharding"): a closed parent is
read to its end, then GetRecords returns no records, no NextShardIterator and ChildShards (the
contract KCL enforces); children receive new records; DescribeStream shows the parent's
EndingSequenceNumber at or after its last record."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, main, wait_for  # noqa: E402

MAX_HASH = (1 << 128) - 1
MID = 1 << 127


def sid(i):
    return "shardId-%012d" % i


class ReshardReadTest(ServerTestCase):
    server_args = ("--limits", "off")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kin = cls.server.boto3()

    def wait_active(self, name):
        def active():
            d = self.kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            return d["StreamStatus"] == "ACTIVE"
        wait_for(active, timeout=15, what="%s ACTIVE" % name)

    def put(self, name, n, tag, hash_key):
        r = self.kin.put_records(StreamName=name, Records=[
            {"Data": b"%s-%d" % (tag, i), "PartitionKey": "k%d" % i,
             "ExplicitHashKey": str(hash_key)} for i in range(n)])
        self.assertEqual(r["FailedRecordCount"], 0, r)
        return [(e["ShardId"], e["SequenceNumber"]) for e in r["Records"]]

    def read_to_end(self, name, shard, max_calls=50):
        """TRIM_HORIZON to the shard's end; returns (records, final response)."""
        it = self.kin.get_shard_iterator(StreamName=name, ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        out = []
        for _ in range(max_calls):
            r = self.kin.get_records(ShardIterator=it, Limit=4)
            out += r["Records"]
            # KCL: NextShardIterator absent <=> ChildShards non-empty.
            self.assertEqual("NextShardIterator" not in r, bool(r.get("ChildShards")), r)
            if "NextShardIterator" not in r:
                return out, r
            it = r["NextShardIterator"]
        raise AssertionError("shard %s never ended" % shard)

    def read_open(self, name, shard):
        it = self.kin.get_shard_iterator(StreamName=name, ShardId=shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        r = self.kin.get_records(ShardIterator=it)
        self.assertIn("NextShardIterator", r)
        self.assertNotIn("ChildShards", r)
        return r["Records"]

    def shards(self, name):
        return {s["ShardId"]: s for s in
                self.kin.describe_stream(StreamName=name)["StreamDescription"]["Shards"]}

    def test_split_then_merge(self):
        name = "rs1"
        self.kin.create_stream(StreamName=name, ShardCount=1)
        self.wait_active(name)
        before = self.put(name, 10, b"parent", 12345)
        self.assertEqual({s for s, _ in before}, {sid(0)})
        # An iterator taken before the split still reads the whole parent afterwards.
        early = self.kin.get_shard_iterator(StreamName=name, ShardId=sid(0),
                                            ShardIteratorType="LATEST")["ShardIterator"]

        self.kin.split_shard(StreamName=name, ShardToSplit=sid(0), NewStartingHashKey=str(MID))
        self.wait_active(name)

        got, end = self.read_to_end(name, sid(0))
        self.assertEqual([r["SequenceNumber"] for r in got], [s for _, s in before])
        self.assertEqual([r["Data"] for r in got], [b"parent-%d" % i for i in range(10)])
        self.assertEqual(end["Records"], [])
        self.assertEqual(end["MillisBehindLatest"], 0)
        self.assertEqual(end["ChildShards"], [
            {"ShardId": sid(1), "ParentShards": [sid(0)],
             "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(MID - 1)}},
            {"ShardId": sid(2), "ParentShards": [sid(0)],
             "HashKeyRange": {"StartingHashKey": str(MID), "EndingHashKey": str(MAX_HASH)}}])
        r = self.kin.get_records(ShardIterator=early)
        self.assertEqual(r["Records"], [])
        self.assertNotIn("NextShardIterator", r)
        self.assertEqual(len(r["ChildShards"]), 2)
        # LATEST on the closed parent: a valid iterator that ends at once.
        it = self.kin.get_shard_iterator(StreamName=name, ShardId=sid(0),
                                         ShardIteratorType="LATEST")["ShardIterator"]
        self.assertEqual(len(self.kin.get_records(ShardIterator=it)["ChildShards"]), 2)

        sh = self.shards(name)
        ending = sh[sid(0)]["SequenceNumberRange"]["EndingSequenceNumber"]
        self.assertGreaterEqual(int(ending), int(before[-1][1]))
        for child in (sid(1), sid(2)):
            self.assertNotIn("EndingSequenceNumber", sh[child]["SequenceNumberRange"])

        # Children take the new records by hash range.
        low = self.put(name, 3, b"low", 5)
        high = self.put(name, 4, b"high", MAX_HASH)
        self.assertEqual({s for s, _ in low}, {sid(1)})
        self.assertEqual({s for s, _ in high}, {sid(2)})
        self.assertEqual([r["Data"] for r in self.read_open(name, sid(1))],
                         [b"low-%d" % i for i in range(3)])
        self.assertEqual([r["Data"] for r in self.read_open(name, sid(2))],
                         [b"high-%d" % i for i in range(4)])

        # Merge the two children: each parent ends with the one merged child listing both.
        self.kin.merge_shards(StreamName=name, ShardToMerge=sid(1), AdjacentShardToMerge=sid(2))
        self.wait_active(name)
        merged = {"ShardId": sid(3), "ParentShards": [sid(1), sid(2)],
                  "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(MAX_HASH)}}
        got, end = self.read_to_end(name, sid(1))
        self.assertEqual([r["Data"] for r in got], [b"low-%d" % i for i in range(3)])
        self.assertEqual(end["ChildShards"], [merged])
        got, end = self.read_to_end(name, sid(2))
        self.assertEqual([r["Data"] for r in got], [b"high-%d" % i for i in range(4)])
        self.assertEqual(end["ChildShards"], [merged])
        sh = self.shards(name)
        self.assertGreaterEqual(int(sh[sid(2)]["SequenceNumberRange"]["EndingSequenceNumber"]),
                                int(high[-1][1]))
        last = self.put(name, 2, b"merged", 77)
        self.assertEqual({s for s, _ in last}, {sid(3)})
        self.assertEqual([r["Data"] for r in self.read_open(name, sid(3))],
                         [b"merged-0", b"merged-1"])

    def test_empty_parent_ends_at_once(self):
        name = "rs-empty"
        self.kin.create_stream(StreamName=name, ShardCount=2)
        self.wait_active(name)
        self.kin.merge_shards(StreamName=name, ShardToMerge=sid(0), AdjacentShardToMerge=sid(1))
        self.wait_active(name)
        got, end = self.read_to_end(name, sid(0))
        self.assertEqual(got, [])
        self.assertEqual([c["ShardId"] for c in end["ChildShards"]], [sid(2)])
        self.assertEqual(end["ChildShards"][0]["ParentShards"], [sid(0), sid(1)])


class ReshardRestartTest(unittest.TestCase):
    def test_closed_parent_still_ends_after_restart(self):
        with Server("--limits", "off") as srv:
            kin = srv.boto3()
            kin.create_stream(StreamName="rr", ShardCount=1)
            wait_for(lambda: kin.describe_stream_summary(StreamName="rr")[
                "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", timeout=15)
            r = kin.put_records(StreamName="rr", Records=[
                {"Data": b"p%d" % i, "PartitionKey": "k"} for i in range(5)])
            self.assertEqual(r["FailedRecordCount"], 0)
            kin.split_shard(StreamName="rr", ShardToSplit=sid(0), NewStartingHashKey=str(MID))
            wait_for(lambda: kin.describe_stream_summary(StreamName="rr")[
                "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", timeout=15)
            srv.restart()
            kin = srv.boto3()
            it = kin.get_shard_iterator(StreamName="rr", ShardId=sid(0),
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            r = kin.get_records(ShardIterator=it)
            self.assertEqual([x["Data"] for x in r["Records"]], [b"p%d" % i for i in range(5)])
            r = kin.get_records(ShardIterator=r["NextShardIterator"])
            self.assertEqual(r["Records"], [])
            self.assertNotIn("NextShardIterator", r)
            self.assertEqual([c["ShardId"] for c in r["ChildShards"]], [sid(1), sid(2)])
            # Writes after the restart go to the children only.
            r = kin.put_record(StreamName="rr", Data=b"c", PartitionKey="k",
                               ExplicitHashKey=str(MAX_HASH))
            self.assertEqual(r["ShardId"], sid(2))


if __name__ == "__main__":
    main()
