"""Classic read path (GetShardIterator / GetRecords) through Debian's boto3 over HTTP/1.1: every
iterator type reads back exactly what PutRecords wrote, in order; paging, MillisBehindLatest,
forged and foreign iterators, unknown shards, the §5 argument rules and the per-shard read
limits (kinesis-protocol.md §5, §7.3)."""
import base64
import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase, main, wait_for  # noqa: E402

from botocore.exceptions import ClientError  # noqa: E402

ACCOUNT = "000000000000"


def no_retry_client(server):
    """boto3 without retries (harness clients' retries={"max_attempts": 1} still retry once:
    botocore counts max_attempts as retries; total_max_attempts is the total)."""
    import boto3
    from botocore.config import Config
    return boto3.client("kinesis", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id="AKIDSHARDCASTTEST",
                        aws_secret_access_key="shardcast-test-secret",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def wait_active(kin, name):
    def active():
        d = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return d["StreamStatus"] == "ACTIVE"
    wait_for(active, timeout=15, what="%s ACTIVE" % name)


def wait_gone(kin, name):
    """Until DescribeStreamSummary no longer finds a deleted stream."""
    def gone():
        try:
            kin.describe_stream_summary(StreamName=name)
            return False
        except ClientError:
            return True
    wait_for(gone, timeout=10, what="%s deleted" % name)


def create(kin, name, shards=1):
    kin.create_stream(StreamName=name, ShardCount=shards)
    wait_active(kin, name)


def put_batch(kin, name, datas, key="pk"):
    """PutRecords; returns [(seq, data, key)] in request order (all entries must succeed)."""
    keys = ["%s-%d" % (key, i) for i in range(len(datas))]
    r = kin.put_records(StreamName=name, Records=[
        {"Data": d, "PartitionKey": k} for d, k in zip(datas, keys)])
    assert r["FailedRecordCount"] == 0, r
    return [(e["SequenceNumber"], d, k) for e, d, k in zip(r["Records"], datas, keys)]


def read_all(kin, it, limit=None, max_calls=200):
    """Follows NextShardIterator until a call returns no records; returns (records, last resp)."""
    out = []
    for _ in range(max_calls):
        kw = {"ShardIterator": it}
        if limit:
            kw["Limit"] = limit
        r = kin.get_records(**kw)
        out += r["Records"]
        if not r["Records"] or "NextShardIterator" not in r:
            return out, r
        it = r["NextShardIterator"]
    raise AssertionError("no end after %d calls" % max_calls)


class GetRecordsTest(ServerTestCase):
    server_args = ("--limits", "off")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kin = cls.server.boto3()
        create(cls.kin, "g1")
        # Three batches with distinct arrival times (AT_TIMESTAMP between them), binary data.
        cls.written = []
        cls.batches = []
        for b, n in enumerate((20, 20, 10)):
            datas = [bytes([(b * 31 + i * 7 + j) % 256 for j in range(i % 50)]) + b"#%d.%d" % (b, i)
                     for i in range(n)]
            recs = put_batch(cls.kin, "g1", datas)
            cls.written += recs
            cls.batches.append(recs)
            time.sleep(0.3)
        cls.shard = "shardId-000000000000"

    def assert_client_error(self, code, fn, message=None, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 400)
        if message is not None:
            self.assertEqual(err["Error"]["Message"], message)
        return err

    def iterator(self, kind, stream="g1", shard=None, **kw):
        return self.kin.get_shard_iterator(StreamName=stream, ShardId=shard or self.shard,
                                           ShardIteratorType=kind, **kw)["ShardIterator"]

    def assert_records(self, got, expected):
        self.assertEqual([r["SequenceNumber"] for r in got], [e[0] for e in expected])
        self.assertEqual([r["Data"] for r in got], [e[1] for e in expected])
        self.assertEqual([r["PartitionKey"] for r in got], [e[2] for e in expected])
        for r in got:
            self.assertIsInstance(r["ApproximateArrivalTimestamp"], datetime.datetime)
            self.assertNotIn("EncryptionType", r)

    # -- iterator types ----------------------------------------------------------------------
    def test_trim_horizon_reads_everything_in_order(self):
        it = self.iterator("TRIM_HORIZON")
        self.assertTrue(it.startswith("AAAAAAAAAAE"), it)
        self.assertLessEqual(len(it), 512)
        got, last = read_all(self.kin, it)
        self.assert_records(got, self.written)
        self.assertEqual(last["MillisBehindLatest"], 0)
        self.assertIn("NextShardIterator", last)  # open shard: always a next iterator
        self.assertNotIn("ChildShards", last)

    def test_limit_paging(self):
        it = self.iterator("TRIM_HORIZON")
        sizes = []
        got = []
        for _ in range(20):
            r = self.kin.get_records(ShardIterator=it, Limit=7)
            sizes.append(len(r["Records"]))
            got += r["Records"]
            it = r["NextShardIterator"]
            if not r["Records"]:
                break
        self.assertEqual(sizes, [7, 7, 7, 7, 7, 7, 7, 1, 0])
        self.assert_records(got, self.written)

    def test_millis_behind_latest(self):
        r = self.kin.get_records(ShardIterator=self.iterator("TRIM_HORIZON"), Limit=1)
        self.assertEqual(len(r["Records"]), 1)
        first = self.batches[0][0]
        self.assertEqual(r["Records"][0]["SequenceNumber"], first[0])
        # The newest record arrived >= 0.6 s after the first (two sleeps of 0.3 s).
        self.assertGreaterEqual(r["MillisBehindLatest"], 500)
        self.assertIsInstance(r["MillisBehindLatest"], int)
        r = self.kin.get_records(ShardIterator=self.iterator("LATEST"))
        self.assertEqual(r["Records"], [])
        self.assertEqual(r["MillisBehindLatest"], 0)

    def test_latest_then_new_records(self):
        create(self.kin, "g-latest")
        put_batch(self.kin, "g-latest", [b"old-1", b"old-2"])
        it = self.iterator("LATEST", stream="g-latest")
        r = self.kin.get_records(ShardIterator=it)
        self.assertEqual(r["Records"], [])
        self.assertEqual(r["MillisBehindLatest"], 0)
        new = put_batch(self.kin, "g-latest", [b"new-1", b"new-2", b"new-3"])
        got, last = read_all(self.kin, r["NextShardIterator"])
        self.assert_records(got, new)
        self.assertEqual(last["MillisBehindLatest"], 0)

    def test_at_and_after_sequence_number(self):
        w = self.written
        for k in (0, 1, 19, 20, 35, len(w) - 1):
            got, _ = read_all(self.kin, self.iterator("AT_SEQUENCE_NUMBER",
                                                      StartingSequenceNumber=w[k][0]))
            self.assert_records(got, w[k:])
            got, _ = read_all(self.kin, self.iterator("AFTER_SEQUENCE_NUMBER",
                                                      StartingSequenceNumber=w[k][0]))
            self.assert_records(got, w[k + 1:])

    def test_after_a_number_between_records(self):
        # Same counter as record k, a later record-seconds field: numerically between k and k+1
        # (layout in kinesis-protocol.md §4). AFTER it is record k+1.
        w = self.written
        for k in (3, 19, 42):
            between = str(int(w[k][0]) + (1 << 36))
            self.assertTrue(int(w[k][0]) < int(between) < int(w[k + 1][0]))
            got, _ = read_all(self.kin, self.iterator("AFTER_SEQUENCE_NUMBER",
                                                      StartingSequenceNumber=between))
            self.assert_records(got, w[k + 1:])

    def test_shard_starting_sequence_number(self):
        d = self.kin.describe_stream(StreamName="g1")["StreamDescription"]
        start = d["Shards"][0]["SequenceNumberRange"]["StartingSequenceNumber"]
        got, _ = read_all(self.kin, self.iterator("AT_SEQUENCE_NUMBER",
                                                  StartingSequenceNumber=start))
        self.assert_records(got, self.written)

    def arrival_ms(self, seq):
        got, _ = read_all(self.kin, self.iterator("AT_SEQUENCE_NUMBER",
                                                  StartingSequenceNumber=seq), limit=1)
        ts = got[0]["ApproximateArrivalTimestamp"]
        return int(round(ts.timestamp() * 1000))

    def at_timestamp(self, ts):
        """AT_TIMESTAMP with millisecond precision (raw JSON: botocore sends whole seconds)."""
        status, body = self.server.call("GetShardIterator", {
            "StreamName": "g1", "ShardId": self.shard, "ShardIteratorType": "AT_TIMESTAMP",
            "Timestamp": ts})
        self.assertEqual(status, 200, body)
        return body["ShardIterator"]

    def test_at_timestamp(self):
        b0, b1, b2 = self.batches
        t1 = self.arrival_ms(b1[0][0])
        t0_last = self.arrival_ms(b0[-1][0])
        self.assertGreater(t1, t0_last)
        # Before every record.
        got, _ = read_all(self.kin, self.at_timestamp((t0_last - 60000) / 1000.0))
        self.assert_records(got, self.written)
        # Between batch 0 and batch 1, and exactly at batch 1's arrival.
        got, _ = read_all(self.kin, self.at_timestamp((t0_last + 1) / 1000.0))
        self.assert_records(got, b1 + b2)
        got, _ = read_all(self.kin, self.at_timestamp(t1 / 1000.0))
        self.assert_records(got, b1 + b2)
        # After every record: nothing (yet).
        got, last = read_all(self.kin, self.at_timestamp(time.time() - 0.001))
        self.assertEqual(got, [])
        self.assertEqual(last["MillisBehindLatest"], 0)
        # Through botocore with a datetime (whole seconds on the wire) long before the records.
        it = self.iterator("AT_TIMESTAMP", Timestamp=datetime.datetime.fromtimestamp(
            t0_last / 1000.0 - 3600, datetime.timezone.utc))
        got, _ = read_all(self.kin, it)
        self.assert_records(got, self.written)

    def test_at_timestamp_rules(self):
        acct_msg = ("Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
                    "Current request has no timestamp parameter.")
        self.assert_client_error("InvalidArgumentException", self.kin.get_shard_iterator,
                                 acct_msg, StreamName="g1", ShardId=self.shard,
                                 ShardIteratorType="AT_TIMESTAMP")
        err = self.assert_client_error(
            "InvalidArgumentException", self.kin.get_shard_iterator, StreamName="g1",
            ShardId=self.shard, ShardIteratorType="AT_TIMESTAMP",
            Timestamp=datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
        self.assertIn("cannot be greater than the currentTimestampInMillis",
                      err["Error"]["Message"])

    # -- GetShardIterator rules ----------------------------------------------------------------
    def test_sequence_number_rules(self):
        seq = self.written[0][0]
        for kind in ("TRIM_HORIZON", "LATEST"):
            self.assert_client_error(
                "InvalidArgumentException", self.kin.get_shard_iterator,
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                "StartingSequenceNumber. Request specified %s and also a "
                "StartingSequenceNumber." % kind,
                StreamName="g1", ShardId=self.shard, ShardIteratorType=kind,
                StartingSequenceNumber=seq)
        for kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            self.assert_client_error(
                "InvalidArgumentException", self.kin.get_shard_iterator,
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                "StartingSequenceNumber. Request specified %s and no StartingSequenceNumber."
                % kind, StreamName="g1", ShardId=self.shard, ShardIteratorType=kind)
        # Malformed: the model pattern (validation); well-formed but not ours: invalid argument.
        status, body = self.server.call("GetShardIterator", {
            "StreamName": "g1", "ShardId": self.shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "StartingSequenceNumber": "01x"})
        self.assertEqual((status, body["__type"]), (400, "ValidationException"), body)
        self.assertIn("startingSequenceNumber", body["message"])
        self.assert_client_error(
            "InvalidArgumentException", self.kin.get_shard_iterator,
            "StartingSequenceNumber 12345 used in GetShardIterator on shard %s in stream g1 under "
            "account %s is invalid." % (self.shard, ACCOUNT), StreamName="g1",
            ShardId=self.shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber="12345")

    def test_sequence_number_of_another_shard(self):
        create(self.kin, "g-two", shards=2)
        r = self.kin.put_record(StreamName="g-two", Data=b"x",
                                PartitionKey="k", ExplicitHashKey=str((1 << 128) - 1))
        self.assertEqual(r["ShardId"], "shardId-000000000001")
        self.assert_client_error(
            "InvalidArgumentException", self.kin.get_shard_iterator,
            "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used "
            "in a call to a shard with shardId-000000000000", StreamName="g-two",
            ShardId="shardId-000000000000", ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=r["SequenceNumber"])

    def test_unknown_shard_and_stream(self):
        self.assert_client_error(
            "ResourceNotFoundException", self.kin.get_shard_iterator,
            "Shard shardId-000000000009 in stream g1 under account %s does not exist" % ACCOUNT,
            StreamName="g1", ShardId="shardId-000000000009", ShardIteratorType="LATEST")
        self.assert_client_error("ResourceNotFoundException", self.kin.get_shard_iterator,
                                 StreamName="nope", ShardId=self.shard,
                                 ShardIteratorType="LATEST")
        # Shorthand shard ids are accepted (kinesis-protocol.md §4).
        got, _ = read_all(self.kin, self.iterator("TRIM_HORIZON", shard="0"))
        self.assert_records(got, self.written)

    # -- bad iterators -----------------------------------------------------------------------
    def test_garbage_and_forged_iterators(self):
        for bad in ("garbage", "AAAAAAAAAAE=", "x" * 512):
            self.assert_client_error("InvalidArgumentException", self.kin.get_records,
                                     "Invalid ShardIterator.", ShardIterator=bad)
        it = self.iterator("TRIM_HORIZON")
        raw = bytearray(base64.b64decode(it))
        for i in (8, 20, len(raw) // 2, len(raw) - 1):
            forged = bytearray(raw)
            forged[i] ^= 0x01
            self.assert_client_error("InvalidArgumentException", self.kin.get_records,
                                     "Invalid ShardIterator.",
                                     ShardIterator=base64.b64encode(bytes(forged)).decode())
        status, body = self.server.call("GetRecords", {"ShardIterator": "A" * 513})
        self.assertEqual((status, body["__type"]), (400, "ValidationException"), body)

    def test_iterator_of_another_stream(self):
        create(self.kin, "g-other")
        arn = lambda n: self.kin.describe_stream_summary(StreamName=n)[
            "StreamDescriptionSummary"]["StreamARN"]
        it = self.iterator("TRIM_HORIZON")
        # Raw JSON: this botocore predates GetRecords' StreamARN member.
        status, body = self.server.call("GetRecords", {"ShardIterator": it,
                                                       "StreamARN": arn("g-other")})
        self.assertEqual((status, body["__type"]), (400, "InvalidArgumentException"), body)
        status, body = self.server.call("GetRecords", {"ShardIterator": it,
                                                       "StreamARN": arn("g1")})
        self.assertEqual(status, 200, body)
        self.assertEqual([r["SequenceNumber"] for r in body["Records"]],
                         [w[0] for w in self.written])
        # An iterator of g-other reads g-other (empty), not g1.
        other = self.iterator("TRIM_HORIZON", stream="g-other")
        self.assertEqual(self.kin.get_records(ShardIterator=other)["Records"], [])

    def test_iterator_of_another_server(self):
        # Same stream name and shard on another server (another data dir, another key).
        with Server("--limits", "off") as other:
            kin2 = other.boto3()
            create(kin2, "g1")
            it = kin2.get_shard_iterator(StreamName="g1", ShardId=self.shard,
                                         ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.assert_client_error("InvalidArgumentException", self.kin.get_records,
                                 "Invalid ShardIterator.", ShardIterator=it)

    def test_iterator_of_deleted_and_recreated_stream(self):
        create(self.kin, "g-gone")
        put_batch(self.kin, "g-gone", [b"a", b"b"])
        it = self.iterator("TRIM_HORIZON", stream="g-gone")
        self.kin.delete_stream(StreamName="g-gone")
        self.assert_client_error("ResourceNotFoundException", self.kin.get_records,
                                 ShardIterator=it)

        wait_gone(self.kin, "g-gone")
        create(self.kin, "g-gone")  # a new incarnation must not serve the old iterator
        self.assert_client_error("ResourceNotFoundException", self.kin.get_records,
                                 ShardIterator=it)

    def test_recreated_stream_is_retryable(self):
        """Deleted and created again under the same name, a stream's shards wait until the old
        incarnation's logs are closed (idle and synced, then a housekeeping turn). Meanwhile a
        read answered 500 InternalFailure ("Resource temporarily unavailable", found by a
        lifecycle probe in the fuzz2 session) where PutRecord answers 503: now both are 503
        ServiceUnavailable, which SDKs retry."""
        statuses = {}
        for _ in range(5):
            create(self.kin, "g-again")
            put_batch(self.kin, "g-again", [b"x"] * 20)
            self.kin.delete_stream(StreamName="g-again")

            wait_gone(self.kin, "g-again")
            create(self.kin, "g-again")
            for _ in range(200):
                st, out = self.server.call("GetShardIterator", {
                    "StreamName": "g-again", "ShardId": "shardId-000000000000",
                    "ShardIteratorType": "TRIM_HORIZON"})
                statuses[st] = statuses.get(st, 0) + 1
                self.assertIn((st, out.get("__type")), ((200, None), (503, "ServiceUnavailable")),
                              out)
                if st == 200:
                    break
                time.sleep(0.01)
            self.assertEqual(st, 200)
            self.kin.delete_stream(StreamName="g-again")
            wait_gone(self.kin, "g-again")
        sys.stderr.write("re-created stream, GetShardIterator answers: %s\n" % statuses)

    def test_limit_bounds(self):
        it = self.iterator("TRIM_HORIZON")
        status, body = self.server.call("GetRecords", {"ShardIterator": it, "Limit": 0})
        self.assertEqual((status, body["__type"]), (400, "ValidationException"), body)
        status, body = self.server.call("GetRecords", {"ShardIterator": it, "Limit": 10001})
        self.assertEqual((status, body["__type"]), (400, "InvalidArgumentException"), body)
        status, body = self.server.call("GetRecords", {"ShardIterator": it, "Limit": 10000})
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["Records"]), len(self.written))
        # The raw wire form: exactly these members, Data as base64.
        rec = body["Records"][0]
        self.assertEqual(list(rec), ["SequenceNumber", "ApproximateArrivalTimestamp", "Data",
                                     "PartitionKey"])
        self.assertEqual(base64.b64decode(rec["Data"]), self.written[0][1])
        self.assertEqual(sorted(body), ["MillisBehindLatest", "NextShardIterator", "Records"])

    def test_no_read_throttling_when_limits_off(self):
        it = self.iterator("LATEST")
        for _ in range(20):
            it = self.kin.get_records(ShardIterator=it)["NextShardIterator"]
        for _ in range(20):
            self.iterator("LATEST")

    def test_kms_records_carry_encryption_type(self):
        create(self.kin, "g-kms")
        self.kin.start_stream_encryption(StreamName="g-kms", EncryptionType="KMS",
                                         KeyId="alias/aws/kinesis")
        wait_active(self.kin, "g-kms")
        recs = put_batch(self.kin, "g-kms", [b"secret-1", b"secret-2"])
        got, _ = read_all(self.kin, self.iterator("TRIM_HORIZON", stream="g-kms"))
        self.assertEqual([r["Data"] for r in got], [b"secret-1", b"secret-2"])
        self.assertEqual([r["SequenceNumber"] for r in got], [r[0] for r in recs])
        self.assertEqual([r.get("EncryptionType") for r in got], ["KMS", "KMS"])
        # The put answers say so too; an unencrypted stream's do not carry the member.
        one = self.kin.put_record(StreamName="g-kms", Data=b"3", PartitionKey="k")
        self.assertEqual(one.get("EncryptionType"), "KMS")
        many = self.kin.put_records(StreamName="g-kms", Records=[{"Data": b"4", "PartitionKey": "k"}])
        self.assertEqual((many["FailedRecordCount"], many.get("EncryptionType")), (0, "KMS"))
        self.kin.stop_stream_encryption(StreamName="g-kms", EncryptionType="KMS",
                                        KeyId="alias/aws/kinesis")
        wait_active(self.kin, "g-kms")
        self.assertNotIn("EncryptionType",
                         self.kin.put_record(StreamName="g-kms", Data=b"5", PartitionKey="k"))
        self.assertNotIn("EncryptionType", self.kin.put_records(
            StreamName="g-kms", Records=[{"Data": b"6", "PartitionKey": "k"}]))

    def test_stream_deleted_meanwhile(self):
        create(self.kin, "g-del")
        put_batch(self.kin, "g-del", [b"1"])
        it = self.iterator("TRIM_HORIZON", stream="g-del")
        r = self.kin.get_records(ShardIterator=it)
        self.assertEqual(len(r["Records"]), 1)
        self.kin.delete_stream(StreamName="g-del")
        self.assert_client_error("ResourceNotFoundException", self.kin.get_records,
                                 ShardIterator=r["NextShardIterator"])
        self.assert_client_error("ResourceNotFoundException", self.kin.get_shard_iterator,
                                 StreamName="g-del", ShardId=self.shard,
                                 ShardIteratorType="LATEST")


class IteratorRestartTest(unittest.TestCase):
    """Iterators are authenticated with a key kept in the data directory: they survive a
    restart (SIGTERM and kill -9) and keep their position."""

    def test_iterator_survives_restart(self):
        with Server("--limits", "off", "--fsync", "always") as srv:
            kin = srv.boto3()
            create(kin, "rst")
            first = put_batch(kin, "rst", [b"one", b"two"])
            it = kin.get_shard_iterator(StreamName="rst", ShardId="shardId-000000000000",
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            r = kin.get_records(ShardIterator=it, Limit=1)
            self.assertEqual([x["Data"] for x in r["Records"]], [b"one"])
            nxt = r["NextShardIterator"]
            key = os.path.join(srv.dir, "data", "meta", "iterator.key")
            self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
            self.assertEqual(os.path.getsize(key), 32)
            srv.restart()
            kin = srv.boto3()
            r = kin.get_records(ShardIterator=it)
            self.assertEqual([x["SequenceNumber"] for x in r["Records"]], [s for s, _, _ in first])
            srv.kill9()
            srv.start()
            kin = srv.boto3()
            r = kin.get_records(ShardIterator=nxt)
            self.assertEqual([x["Data"] for x in r["Records"]], [b"two"])
            with open(key, "rb") as f:
                self.assertEqual(len(f.read()), 32)

    def test_large_read_from_disk_after_restart(self):
        # After a restart nothing is in the in-memory tail: one GetRecords call loops over many
        # 256 KiB disk blocks and must return every record once, in order.
        with Server("--limits", "off") as srv:
            kin = srv.boto3()
            create(kin, "disk")
            written = []
            for b in range(6):
                written += put_batch(kin, "disk", [bytes([b, i % 256]) * 500 for i in range(400)],
                                     key="b%d" % b)
            srv.restart()
            kin = srv.boto3()
            it = kin.get_shard_iterator(StreamName="disk", ShardId="shardId-000000000000",
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
            r = kin.get_records(ShardIterator=it)
            self.assertEqual(len(r["Records"]), len(written))
            self.assertEqual([x["SequenceNumber"] for x in r["Records"]], [w[0] for w in written])
            self.assertEqual([x["Data"] for x in r["Records"]], [w[1] for w in written])
            self.assertEqual(r["MillisBehindLatest"], 0)
            r = kin.get_records(ShardIterator=r["NextShardIterator"])
            self.assertEqual(r["Records"], [])


class ReadLimitsTest(ServerTestCase):
    """--limits aws (the default): 5 GetRecords calls per second per shard."""
    server_args = ("--limits", "aws")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.kin = no_retry_client(cls.server)
        create(cls.kin, "lim", 2)
        put_batch(cls.kin, "lim", [b"r%d" % i for i in range(3)])

    def until_throttled(self, call):
        """From a full bucket (after 1.1 s idle), calls call() as fast as we can (the bucket
        refills at 5 calls/s meanwhile) until one is throttled; checks that at least 5 and not
        more than the refill allows passed. Returns the throttle message and the time taken."""
        time.sleep(1.1)
        start = time.monotonic()
        codes = []
        for _ in range(12):
            try:
                call()
                codes.append("ok")
            except ClientError as e:
                codes.append(e.response["Error"]["Code"])
                msg = e.response["Error"]["Message"]
                break
        elapsed = time.monotonic() - start
        self.assertEqual(codes[-1], "ProvisionedThroughputExceededException", codes)
        ok = len(codes) - 1
        self.assertGreaterEqual(ok, 5, codes)
        self.assertLessEqual(ok, 5 + int(elapsed * 5) + 1, (codes, elapsed))
        return msg, elapsed

    def test_sixth_call_in_a_second_is_throttled(self):
        it = [self.kin.get_shard_iterator(StreamName="lim", ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]]

        def get():
            it[0] = self.kin.get_records(ShardIterator=it[0])["NextShardIterator"]
        msg, elapsed = self.until_throttled(get)
        self.assertLess(elapsed, 1.0, "the quota allowed more than 5 calls in the first second")
        self.assertEqual(msg, "Rate exceeded for shard shardId-000000000000 in stream lim under "
                              "account %s." % ACCOUNT)
        # The budget comes back.
        time.sleep(1.1)
        get()

    def test_get_shard_iterator_five_a_second(self):
        """GetShardIterator has its own bucket per shard (AWS: 5 calls/s per shard): the sixth
        quick call is throttled, the shard next door and GetRecords are not, and it refills."""
        def gsi(shard="shardId-000000000001"):  # shard 0 is the GetRecords test's
            return self.kin.get_shard_iterator(StreamName="lim", ShardId=shard,
                                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        msg, _ = self.until_throttled(gsi)
        self.assertEqual(msg, "Rate exceeded for shard shardId-000000000001 in stream lim under "
                              "account %s." % ACCOUNT)
        self.kin.get_records(ShardIterator=gsi("shardId-000000000000"))
        time.sleep(0.3)
        gsi()

if __name__ == "__main__":
    main()
