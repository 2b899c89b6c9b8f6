"""Large records (AWS, 2025): a stream's maximum record size, 1 MiB by default, set by CreateStream's
MaxRecordSizeInKiB or UpdateMaxRecordSize (1024 - 10240 KiB). Control calls are raw JSON (Debian's
botocore predates them; js_control drives them through the JS SDK); records go through boto3 —
PutRecord, GetRecords and SubscribeToShard carry a 10 MiB record byte for byte, on the tail and
in catch-up — and the size errors name the stream's own maximum. Under --limits aws a shard bursts
to the maximum record size and refills at 1 MiB/s."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402
from subscribe_boto3_test import Collector  # noqa: E402

ACCOUNT = "000000000000"
MIB = 1 << 20
SHARD0 = "shardId-000000000000"


def arn(name):
    return "arn:aws:kinesis:us-east-1:%s:stream/%s" % (ACCOUNT, name)


def payload(n, seed):
    """n bytes no run of which repeats within a MiB: a record cut or shifted anywhere differs."""
    block = bytes((i * 131 + seed * 7 + (i >> 8) * 17) & 0xFF for i in range(MIB + 7))
    return (block * (n // len(block) + 1))[:n]


class LargeRecordsBase(ServerTestCase):
    def setUp(self):
        self.k = self.server.boto3(read_timeout=120)

    def stats(self):
        status, _, data = self.server.raw(b"", method="GET", path="/stats", content_type=None)
        self.assertEqual(status, 200)
        return json.loads(data)

    def summary(self, name):
        return self.call_ok("DescribeStreamSummary", {"StreamName": name})[
            "StreamDescriptionSummary"]

    def create(self, name, kib=None, shards=1):
        body = {"StreamName": name, "ShardCount": shards}
        if kib is not None:
            body["MaxRecordSizeInKiB"] = kib
        self.call_ok("CreateStream", body)
        wait_for(lambda: self.summary(name)["StreamStatus"] == "ACTIVE", what="ACTIVE")

    def consumer(self, name, cname="c"):
        carn = self.k.register_stream_consumer(StreamARN=arn(name), ConsumerName=cname)[
            "Consumer"]["ConsumerARN"]
        wait_for(lambda: self.k.describe_stream_consumer(ConsumerARN=carn)[
            "ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        return carn

    def client_error(self, fn, code, **kw):
        from botocore.exceptions import ClientError
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        self.assertEqual(cm.exception.response["Error"]["Code"], code)
        return cm.exception.response["Error"]["Message"]


class LargeRecordsTest(LargeRecordsBase):
    # Streams stay CREATING for a second (not the harness's 50 ms): the check that a young
    # stream refuses UpdateMaxRecordSize must not race a loaded machine.
    server_args = ("--limits", "off", "--heartbeat-ms", "500", "--stream-transition-ms", "1000")

    def test_maximum_set_described_and_kept(self):
        self.create("dflt")
        self.assertEqual(self.summary("dflt")["MaxRecordSizeInKiB"], 1024)
        self.call_err("CreateStream", {"StreamName": "bad", "ShardCount": 1,
                                       "MaxRecordSizeInKiB": 1023}, "ValidationException",
                      "1 validation error detected: Value '1023' at 'maxRecordSizeInKiB' failed to "
                      "satisfy constraint: Member must have value greater than or equal to 1024")
        self.call_err("CreateStream", {"StreamName": "bad", "ShardCount": 1,
                                       "MaxRecordSizeInKiB": 10241}, "ValidationException")
        self.create("big", 10240)
        self.assertEqual(self.summary("big")["MaxRecordSizeInKiB"], 10240)
        # UpdateMaxRecordSize: the range, a required size, an ARN that selects, a stream that is
        # ACTIVE; applied at once (the stream stays ACTIVE).
        self.call_err("UpdateMaxRecordSize", {"StreamARN": arn("dflt"), "MaxRecordSizeInKiB": 999},
                      "ValidationException",
                      "1 validation error detected: Value '999' at 'maxRecordSizeInKiB' failed to "
                      "satisfy constraint: Member must have value greater than or equal to 1024")
        self.call_err("UpdateMaxRecordSize", {"StreamARN": arn("dflt")}, "ValidationException",
                      "1 validation error detected: Value null at 'maxRecordSizeInKiB' failed to "
                      "satisfy constraint: Member must not be null")
        self.call_err("UpdateMaxRecordSize", {"StreamARN": arn("nope"), "MaxRecordSizeInKiB": 2048},
                      "ResourceNotFoundException",
                      "Stream nope under account %s not found." % ACCOUNT)
        self.call_err("UpdateMaxRecordSize", {"StreamARN": "stream/dflt",
                                              "MaxRecordSizeInKiB": 2048}, "ValidationException")
        self.call_err("UpdateMaxRecordSize", {"StreamName": "dflt", "MaxRecordSizeInKiB": 2048},
                      "InvalidArgumentException")
        self.call_ok("CreateStream", {"StreamName": "young", "ShardCount": 1})
        self.call_err("UpdateMaxRecordSize", {"StreamARN": arn("young"),
                                              "MaxRecordSizeInKiB": 2048},
                      "ResourceInUseException")
        self.assertIsNone(self.call_ok("UpdateMaxRecordSize", {"StreamARN": arn("dflt"),
                                                               "MaxRecordSizeInKiB": 5000}))
        self.assertEqual(self.summary("dflt")["StreamStatus"], "ACTIVE")
        self.assertEqual(self.summary("dflt")["MaxRecordSizeInKiB"], 5000)
        self.server.restart()
        self.assertEqual(self.summary("dflt")["MaxRecordSizeInKiB"], 5000)
        self.assertEqual(self.summary("big")["MaxRecordSizeInKiB"], 10240)
        self.assertEqual(self.summary("young")["MaxRecordSizeInKiB"], 1024)

    def test_size_errors_name_the_streams_maximum(self):
        self.create("s5", 5000)
        limit = 5000 * 1024
        ok = payload(limit - 2, 1)
        r = self.k.put_record(StreamName="s5", Data=ok, PartitionKey="pk")
        self.assertEqual(len(r["SequenceNumber"]), 56)
        msg = self.client_error(self.k.put_record, "ValidationException", StreamName="s5",
                                Data=b"x" * (limit + 1), PartitionKey="k")
        self.assertEqual(msg, "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 "
                         "lim=%d cap=%d]' at 'data' failed to satisfy constraint: Member must have "
                         "length less than or equal to %d" % (limit + 1, limit + 1, limit))
        msg = self.client_error(self.k.put_records, "ValidationException", StreamName="s5",
                                Records=[{"Data": b"a", "PartitionKey": "k"},
                                         {"Data": b"x" * (limit + 1), "PartitionKey": "k"}])
        self.assertIn("at 'records.2.member.data' failed to satisfy constraint: Member must have "
                      "length less than or equal to %d" % limit, msg)
        msg = self.client_error(self.k.put_record, "InvalidArgumentException", StreamName="s5",
                                Data=b"x" * limit, PartitionKey="k")
        self.assertEqual(msg, "Record size of %d bytes (data + partition key) exceeds the maximum "
                         "record size of %d bytes." % (limit + 1, limit))
        # By ARN alike; a stream lowered back to 1 MiB refuses what it took before.
        self.call_err("PutRecord", {"StreamARN": arn("s5"), "PartitionKey": "k",
                                    "Data": base64.b64encode(b"x" * (limit + 1)).decode()},
                      "ValidationException",
                      "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=%d "
                      "cap=%d]' at 'data' failed to satisfy constraint: Member must have length "
                      "less than or equal to %d" % (limit + 1, limit + 1, limit))
        self.call_ok("UpdateMaxRecordSize", {"StreamARN": arn("s5"), "MaxRecordSizeInKiB": 1024})
        msg = self.client_error(self.k.put_record, "ValidationException", StreamName="s5",
                                Data=ok, PartitionKey="pk")
        self.assertIn("less than or equal to 1048576", msg)
        # The one stored under the larger maximum stays readable.
        it = self.k.get_shard_iterator(StreamName="s5", ShardId=SHARD0,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        recs = self.k.get_records(ShardIterator=it)["Records"]
        self.assertEqual([x["Data"] for x in recs], [ok])
        # A missing stream: not found, whatever the size.
        self.client_error(self.k.put_record, "ResourceNotFoundException", StreamName="nope",
                          Data=b"x" * (2 * MIB), PartitionKey="k")

    def test_ten_mib_record_round_trip(self):
        self.create("ten", 10240)
        carn = self.consumer("ten")
        tail = Collector(self.k, carn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: tail.events >= 1 or tail.error, what="first event")
        big = payload(10 * MIB - 3, 2)
        small = b"after"
        flat0 = self.stats()["tail_bytes_flattened"]
        r1 = self.k.put_record(StreamName="ten", Data=big, PartitionKey="key")
        wait_for(lambda: tail.records or tail.error, timeout=60, what="the big record")
        # Its frame references the record in the tail block: nothing flattened (copied).
        self.assertEqual(self.stats()["tail_bytes_flattened"], flat0)
        # Handed the shared frame (past the queue's 8 MiB bound, into its empty queue), not
        # dropped to catch-up to read the record again. (Checked before the next records: one
        # arriving while these 13 MiB are still being sent does fall back, as it should.)
        self.assertEqual(self.stats()["tail_drops"], 0)
        r2 = self.k.put_records(StreamName="ten", Records=[
            {"Data": small, "PartitionKey": "k2"},
            {"Data": payload(3 * MIB, 3), "PartitionKey": "k3"}])
        self.assertEqual(r2["FailedRecordCount"], 0)
        seqs = [r1["SequenceNumber"]] + [x["SequenceNumber"] for x in r2["Records"]]
        want = [big, small, payload(3 * MIB, 3)]
        # GetRecords: the 10 MiB record comes alone (a call returns at most 10 MiB), then the rest.
        it = self.k.get_shard_iterator(StreamName="ten", ShardId=SHARD0,
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = []
        for _ in range(10):
            r = self.k.get_records(ShardIterator=it)
            got.append([x["Data"] for x in r["Records"]])
            if sum(len(g) for g in got) >= 3:
                break
            it = r["NextShardIterator"]
        self.assertEqual(got[0], [big])
        self.assertEqual([d for g in got for d in g], want)
        # SubscribeToShard: the tail pipe and a catch-up pipe both deliver it byte for byte.
        wait_for(lambda: len(tail.records) >= 3 or tail.error, timeout=60, what="tail records")
        self.assertIsNone(tail.error)
        self.assertEqual([x["Data"] for x in tail.records], want)
        self.assertEqual([x["SequenceNumber"] for x in tail.records], seqs)
        tail.close()
        time.sleep(5.2)  # a second subscription of this consumer x shard waits 5 s
        catch = Collector(self.k, carn, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: len(catch.records) >= 3 or catch.error, timeout=60, what="catch-up")
        self.assertIsNone(catch.error)
        self.assertEqual([x["Data"] for x in catch.records], want)
        catch.close()
        # And across a restart (read back from the segment files).
        self.server.restart()
        self.k = self.server.boto3(read_timeout=120)
        it = self.k.get_shard_iterator(StreamName="ten", ShardId=SHARD0,
                                       ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=seqs[0])["ShardIterator"]
        self.assertEqual([x["Data"] for x in self.k.get_records(ShardIterator=it)["Records"]],
                         [big])


class LargeRecordsLimitsTest(LargeRecordsBase):
    """--limits aws: the write burst follows the maximum record size; the 2 MiB/s pipe still
    delivers a 10 MiB record (it spends five seconds of its rate on it)."""
    server_args = ("--limits", "aws", "--heartbeat-ms", "500")

    def test_burst_follows_the_maximum(self):
        self.create("w1")
        # 900 KiB: more than the bucket refills (1 MiB/s) while the second call travels, even
        # on a loaded machine (it would need 0.9 s between the two admissions).
        second = b"x" * (900 << 10)
        self.k.put_record(StreamName="w1", Data=b"x" * (MIB - 1), PartitionKey="k")
        self.client_error(self.k.put_record, "ProvisionedThroughputExceededException",
                          StreamName="w1", Data=second, PartitionKey="k")
        self.create("w10", 10240)
        self.k.put_record(StreamName="w10", Data=payload(10 * MIB - 1, 4), PartitionKey="k")
        # The bucket is spent: the next record waits for the refill.
        self.client_error(self.k.put_record, "ProvisionedThroughputExceededException",
                          StreamName="w10", Data=second, PartitionKey="k")
        time.sleep(1.0)
        self.k.put_record(StreamName="w10", Data=second, PartitionKey="k")

    def test_pipe_delivers_a_ten_mib_record_at_its_rate(self):
        self.create("p10", 10240)
        carn = self.consumer("p10")
        big = payload(10 * MIB - 1, 5)
        self.k.put_record(StreamName="p10", Data=big, PartitionKey="k")
        t0 = time.monotonic()
        sub = Collector(self.k, carn, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: sub.records or sub.error, timeout=60, what="the record")
        took = time.monotonic() - t0
        self.assertIsNone(sub.error)
        self.assertEqual([x["Data"] for x in sub.records], [big])
        # 10 MiB at 2 MiB/s after a burst of 1 MiB: the rate was applied, not skipped.
        self.assertGreater(took, 3.0)
        sub.close()


if __name__ == "__main__":
    main()
