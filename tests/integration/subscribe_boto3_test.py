"""SubscribeToShard through Debian's boto3: botocore speaks HTTP/1.1, so the event stream comes as
a chunked response; iterate the EventStream, records round-trip byte for byte, resume after a
ContinuationSequenceNumber without replay, and a deregistered consumer's pipe gets an exception."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, main, wait_for  # noqa: E402

SHARD0 = "shardId-000000000000"


def consumer_on_new_stream(k, name, shards=1):
    """Creates stream `name`, registers consumer "c" on it; both ACTIVE. Returns its ARN."""
    k.create_stream(StreamName=name, ShardCount=shards)
    wait_for(lambda: k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
             ["StreamStatus"] == "ACTIVE", what="ACTIVE")
    sarn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    arn = k.register_stream_consumer(StreamARN=sarn, ConsumerName="c")["Consumer"]["ConsumerARN"]
    wait_for(lambda: k.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
             ["ConsumerStatus"] == "ACTIVE", timeout=10, what="consumer ACTIVE")
    return arn


class Collector:
    """Iterates one subscription's EventStream in a thread."""

    def __init__(self, k, arn, shard, pos):
        self.resp = k.subscribe_to_shard(ConsumerARN=arn, ShardId=shard, StartingPosition=pos)
        self.records, self.events, self.error, self.ended, self.cont = [], 0, None, False, None
        self.last = None
        self.heartbeats = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for ev in self.resp["EventStream"]:
                e = ev.get("SubscribeToShardEvent")
                if e is None:
                    continue
                self.events += 1
                if not e["Records"]:
                    self.heartbeats += 1
                self.records.extend(e["Records"])
                self.last = e
                if "ContinuationSequenceNumber" in e:
                    self.cont = e["ContinuationSequenceNumber"]
            self.ended = True
        except Exception as exc:  # botocore raises modelled exceptions from the stream
            self.error = exc

    def close(self):
        self.resp["EventStream"].close()
        self.thread.join(10)


class Boto3SubscribeTest(ServerTestCase):
    server_args = ("--limits", "off", "--heartbeat-ms", "300")

    def setUp(self):
        self.k = self.server.boto3()

    def make(self, name, consumers=1):
        k = self.k
        k.create_stream(StreamName=name, ShardCount=1)
        wait_for(lambda: k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
                 ["StreamStatus"] == "ACTIVE", what="stream ACTIVE")
        sarn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
        arns = [k.register_stream_consumer(StreamARN=sarn, ConsumerName="c%d" % i)
                ["Consumer"]["ConsumerARN"] for i in range(consumers)]
        for a in arns:
            wait_for(lambda: k.describe_stream_consumer(ConsumerARN=a)["ConsumerDescription"]
                     ["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        return arns

    def test_records_round_trip_and_resume(self):
        (arn, arn2) = self.make("b1", 2)
        payloads = [bytes([i]) * (i * 37 + 1) + b"\x00\xff" for i in range(20)]
        r = self.k.put_records(StreamName="b1", Records=[
            {"Data": d, "PartitionKey": "pk-%d" % i} for i, d in enumerate(payloads)])
        self.assertEqual(r["FailedRecordCount"], 0)
        seqs = [x["SequenceNumber"] for x in r["Records"]]
        # The raw response is HTTP/1.1 chunked with the event-stream content type.
        c = Collector(self.k, arn, SHARD0, {"Type": "TRIM_HORIZON"})
        http = c.resp["ResponseMetadata"]["HTTPHeaders"]
        self.assertEqual(http.get("content-type"), "application/vnd.amazon.eventstream")
        self.assertEqual(http.get("transfer-encoding"), "chunked")
        wait_for(lambda: len(c.records) >= 20 or c.error, what="20 records")
        self.assertIsNone(c.error)
        self.assertEqual([x["Data"] for x in c.records], payloads)
        self.assertEqual([x["PartitionKey"] for x in c.records], ["pk-%d" % i for i in range(20)])
        self.assertEqual([x["SequenceNumber"] for x in c.records], seqs)
        wait_for(lambda: c.cont == seqs[-1], what="continuation")
        # Resume after the continuation on the other consumer: nothing replayed.
        d = Collector(self.k, arn2, SHARD0, {"Type": "AFTER_SEQUENCE_NUMBER",
                                             "SequenceNumber": c.cont})
        wait_for(lambda: d.heartbeats >= 1 or d.error, what="heartbeat")
        self.assertEqual(d.records, [])
        r = self.k.put_record(StreamName="b1", Data=b"next", PartitionKey="n")
        wait_for(lambda: len(d.records) >= 1 and len(c.records) >= 21, what="next record")
        self.assertEqual(d.records[0]["SequenceNumber"], r["SequenceNumber"])
        self.assertEqual(d.records[0]["Data"], b"next")
        self.assertEqual(len(d.records), 1)
        c.close()
        d.close()

    def test_kms_stream_records_carry_encryption_type(self):
        """As GetRecords: records of an encrypted stream say EncryptionType KMS, on the tail and in
        catch-up (botocore decodes the member through the model)."""
        (arn, arn2) = self.make("bk", 2)
        self.k.put_record(StreamName="bk", Data=b"before", PartitionKey="p")
        c = Collector(self.k, arn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: c.events >= 1 or c.error, what="first event")
        self.assertTrue(all("EncryptionType" not in x for x in c.records))
        self.k.start_stream_encryption(StreamName="bk", EncryptionType="KMS",
                                       KeyId="alias/aws/kinesis")
        wait_for(lambda: self.k.describe_stream_summary(StreamName="bk")
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="stream ACTIVE")
        self.k.put_record(StreamName="bk", Data=b"secret", PartitionKey="p")
        wait_for(lambda: len(c.records) >= 1 or c.error, what="tail record")
        self.assertIsNone(c.error)
        self.assertEqual([(x["Data"], x.get("EncryptionType")) for x in c.records],
                         [(b"secret", "KMS")])
        d = Collector(self.k, arn2, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: len(d.records) >= 2 or d.error, what="catch-up records")
        self.assertEqual([(x["Data"], x.get("EncryptionType")) for x in d.records],
                         [(b"before", "KMS"), (b"secret", "KMS")])
        c.close()
        d.close()

    def test_empty_shard_continuation_resumes_at_start(self):
        (arn, arn2) = self.make("b2", 2)
        c = Collector(self.k, arn, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: c.cont is not None or c.error, what="a heartbeat's continuation")
        # Nothing was delivered: AFTER the continuation must still start at the first record.
        d = Collector(self.k, arn2, SHARD0, {"Type": "AFTER_SEQUENCE_NUMBER",
                                             "SequenceNumber": c.cont})
        wait_for(lambda: d.events >= 1 or d.error, what="pipe live")
        self.k.put_record(StreamName="b2", Data=b"first", PartitionKey="f")
        wait_for(lambda: d.records and c.records, what="first record on both")
        self.assertEqual(d.records[0]["Data"], b"first")
        self.assertEqual(c.records[0]["Data"], b"first")
        c.close()
        d.close()

    def test_empty_shard_continuation_works_for_get_shard_iterator(self):
        """The continuation of a subscription that delivered nothing is accepted by
        GetShardIterator AFTER_SEQUENCE_NUMBER too, and reads from the first record on."""
        (arn,) = self.make("b2g", 1)
        c = Collector(self.k, arn, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: c.cont is not None or c.error, what="a heartbeat's continuation")
        self.assertIsNone(c.error)
        it = self.k.get_shard_iterator(StreamName="b2g", ShardId=SHARD0,
                                       ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=c.cont)["ShardIterator"]
        r = self.k.put_record(StreamName="b2g", Data=b"first", PartitionKey="f")
        self.k.put_record(StreamName="b2g", Data=b"second", PartitionKey="f")
        got = self.k.get_records(ShardIterator=it)["Records"]
        self.assertEqual([x["Data"] for x in got], [b"first", b"second"])
        self.assertEqual(got[0]["SequenceNumber"], r["SequenceNumber"])
        c.close()

    def test_deregister_ends_pipe_with_exception(self):
        (arn,) = self.make("b3", 1)
        c = Collector(self.k, arn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: c.events >= 1, what="pipe live")
        self.k.deregister_stream_consumer(ConsumerARN=arn)
        wait_for(lambda: c.error is not None or c.ended, timeout=5, what="pipe end")
        self.assertIsNotNone(c.error)
        self.assertIn("ResourceInUseException", type(c.error).__name__ + str(c.error))

    def test_stream_deleted_ends_pipe_with_not_found(self):
        (arn,) = self.make("b4", 1)
        c = Collector(self.k, arn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: c.events >= 1, what="pipe live")
        self.k.delete_stream(StreamName="b4", EnforceConsumerDeletion=True)
        wait_for(lambda: c.error is not None or c.ended, timeout=5, what="pipe end")
        self.assertIn("ResourceNotFoundException", type(c.error).__name__ + str(c.error))

    def test_split_ends_pipe_with_child_shards(self):
        (arn,) = self.make("b5", 1)
        self.k.put_record(StreamName="b5", Data=b"before", PartitionKey="p")
        c = Collector(self.k, arn, SHARD0, {"Type": "TRIM_HORIZON"})
        wait_for(lambda: c.records, what="record")
        self.k.split_shard(StreamName="b5", ShardToSplit=SHARD0,
                           NewStartingHashKey=str(1 << 127))
        wait_for(lambda: c.ended or c.error, timeout=5, what="shard end")
        self.assertIsNone(c.error)
        self.assertNotIn("ContinuationSequenceNumber", c.last)
        kids = sorted(x["ShardId"] for x in c.last["ChildShards"])
        self.assertEqual(kids, ["shardId-000000000001", "shardId-000000000002"])
        for x in c.last["ChildShards"]:
            self.assertEqual(x["ParentShards"], [SHARD0])
        self.assertEqual([r["Data"] for r in c.records], [b"before"])

    def test_takeover_after_five_seconds(self):
        (arn,) = self.make("b6", 1)
        c = Collector(self.k, arn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: c.events >= 1, what="pipe live")
        with self.assertRaises(Exception) as cm:
            self.k.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0,
                                      StartingPosition={"Type": "LATEST"})
        self.assertIn("ResourceInUseException", str(cm.exception))
        time.sleep(5.1)
        d = Collector(self.k, arn, SHARD0, {"Type": "LATEST"})
        wait_for(lambda: c.error is not None or c.ended, timeout=5, what="old pipe taken over")
        self.assertIn("ResourceInUseException", type(c.error).__name__ + str(c.error))
        wait_for(lambda: d.events >= 1, what="new pipe live")
        self.assertIsNone(d.error)
        d.close()


class PreStreamErrorsTest(unittest.TestCase):
    def test_errors_before_the_stream(self):
        with Server("--consumer-transition-ms", "3000") as srv:
            k = srv.boto3()
            k.create_stream(StreamName="e", ShardCount=1)
            wait_for(lambda: k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"]
                     ["StreamStatus"] == "ACTIVE", what="ACTIVE")
            sarn = k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"]["StreamARN"]
            arn = k.register_stream_consumer(StreamARN=sarn, ConsumerName="c")["Consumer"]["ConsumerARN"]

            def err(arn_, shard=SHARD0, pos=None):
                with self.assertRaises(Exception) as cm:
                    k.subscribe_to_shard(ConsumerARN=arn_, ShardId=shard,
                                         StartingPosition=pos or {"Type": "LATEST"})
                return cm.exception.response["Error"]["Code"]

            self.assertEqual(err(arn), "ResourceInUseException")  # still CREATING
            self.assertEqual(err(arn.replace("/consumer/c:", "/consumer/zz:")),
                             "ResourceNotFoundException")
            self.assertEqual(err(arn.replace("stream/e/", "stream/nope/")),
                             "ResourceNotFoundException")
            wait_for(lambda: k.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
                     ["ConsumerStatus"] == "ACTIVE", timeout=10, what="consumer ACTIVE")
            self.assertEqual(err(arn, shard="shardId-000000000007"), "ResourceNotFoundException")
            self.assertEqual(err(arn, pos={"Type": "AT_TIMESTAMP"}), "ValidationException")
            self.assertEqual(err(arn, pos={"Type": "AFTER_SEQUENCE_NUMBER",
                                           "SequenceNumber": "12x"}), "ValidationException")
            other = "49590338271490256608559692538361571095921575989136588898"
            self.assertEqual(err(arn, pos={"Type": "AT_SEQUENCE_NUMBER", "SequenceNumber": other}),
                             "InvalidArgumentException")


class SequenceOfAnotherShardTest(unittest.TestCase):
    def test_names_the_shard_it_encodes(self):
        """A StartingSequenceNumber of shard 1 used on shard 0: InvalidArgumentException naming
        shard 1 as the one it encodes (as GetShardIterator says it)."""
        with Server() as srv:
            k = srv.boto3()
            arn = consumer_on_new_stream(k, "two", shards=2)
            r = k.put_record(StreamName="two", Data=b"x", PartitionKey="k",
                             ExplicitHashKey=str((1 << 128) - 1))
            self.assertEqual(r["ShardId"], "shardId-000000000001")
            with self.assertRaises(Exception) as cm:
                k.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0, StartingPosition={
                    "Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": r["SequenceNumber"]})
            e = cm.exception.response["Error"]
            self.assertEqual(e["Code"], "InvalidArgumentException")
            self.assertEqual(e["Message"], "Invalid StartingSequenceNumber. It encodes "
                             "shardId-000000000001, while it was used in a call to a shard with "
                             "shardId-000000000000")


class ShutdownTest(unittest.TestCase):
    def test_sigterm_with_live_pipes(self):
        """SIGTERM while pipes are live (tail and mid-backlog): the streams end, the server exits
        0 (ASan: no leak, watches unregistered)."""
        srv = Server("--heartbeat-ms", "200")
        try:
            k = srv.boto3()
            arn = consumer_on_new_stream(k, "t", shards=2)
            k.put_records(StreamName="t", Records=[{"Data": b"x" * 1000, "PartitionKey": str(i)}
                                                   for i in range(200)])
            cs = [Collector(k, arn, "shardId-00000000000%d" % i, {"Type": "TRIM_HORIZON"})
                  for i in range(2)]
            wait_for(lambda: all(c.events >= 1 for c in cs), what="pipes live")
            srv.stop()  # asserts exit code 0
            for c in cs:
                c.thread.join(10)
                self.assertFalse(c.thread.is_alive())
        finally:
            srv.cleanup()


    def test_sigterm_never_cuts_an_event(self):
        """SIGTERM while a slow HTTP/1.1 subscriber is behind on ~512 KiB records: the body ends
        on a message boundary (every byte belongs to a whole event-stream message with valid
        CRCs), and the server exits 0."""
        import struct
        from botocore.eventstream import EventStreamBuffer
        srv = Server("--limits", "off", "--heartbeat-ms", "1000")
        try:
            k = srv.boto3()
            arn = consumer_on_new_stream(k, "big")
            for i in range(24):
                k.put_record(StreamName="big", Data=bytes([i]) * (512 << 10), PartitionKey="p")
            resp = k.subscribe_to_shard(ConsumerARN=arn, ShardId=SHARD0,
                                        StartingPosition={"Type": "TRIM_HORIZON"})
            raw = resp["EventStream"]._raw_stream
            body, done = bytearray(), threading.Event()

            def slow_reader():
                try:
                    for _ in range(4000):  # bounded: 4000 x 64 KiB covers the backlog
                        b = raw.read(64 << 10)
                        if not b:
                            break
                        body.extend(b)
                        time.sleep(0.01)
                finally:
                    done.set()
            t = threading.Thread(target=slow_reader, daemon=True)
            t.start()
            wait_for(lambda: len(body) > (1 << 20), what="first MiB")
            srv.stop()  # asserts exit code 0
            self.assertTrue(done.wait(30), "body did not end")
            # Walk the prelude lengths: the body must end exactly at a message end.
            off, msgs = 0, 0
            while off + 4 <= len(body):
                (total,) = struct.unpack(">I", bytes(body[off:off + 4]))
                self.assertGreater(total, 16)
                off += total
                msgs += 1
            self.assertEqual(off, len(body), "the last message was cut: %d of %d bytes"
                             % (len(body) - (off - total), total))
            parser = EventStreamBuffer()
            parser.add_data(bytes(body))
            parsed = list(parser)  # raises on a bad prelude or message CRC
            self.assertEqual(len(parsed), msgs)
            self.assertGreaterEqual(msgs, 2)  # initial-response and at least one event
        finally:
            srv.cleanup()


if __name__ == "__main__":
    main()
