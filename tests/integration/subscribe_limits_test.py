"""The per-pipe EFO rate (architecture.md §4, §6): under --limits aws a 6 MiB backlog reaches a
subscriber at about 2 MiB/s; under --limits off much faster. The backlog is written with limits
off (the aws write quota would take 6 s), then the server restarts on the same data dir."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, main, wait_for  # noqa: E402
import unittest  # noqa: E402

MIB = 1 << 20
REC = 64 * 1024
N = 6 * MIB // REC


def consumer(k, name):
    sarn = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    arn = k.register_stream_consumer(StreamARN=sarn, ConsumerName="c-%d" % time.time_ns())
    arn = arn["Consumer"]["ConsumerARN"]
    wait_for(lambda: k.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
             ["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
    return arn


def drain_backlog(k, arn):
    """Subscribes from TRIM_HORIZON; returns (seconds until all N records, data bytes)."""
    t0 = time.monotonic()
    r = k.subscribe_to_shard(ConsumerARN=arn, ShardId="shardId-000000000000",
                             StartingPosition={"Type": "TRIM_HORIZON"})
    got = nbytes = 0
    try:
        for ev in r["EventStream"]:
            for rec in ev["SubscribeToShardEvent"]["Records"]:
                got += 1
                nbytes += len(rec["Data"])
            if got >= N or time.monotonic() - t0 > 30:
                break
    finally:
        r["EventStream"].close()
    return time.monotonic() - t0, got, nbytes


class LimitsTest(unittest.TestCase):
    def test_backlog_rate(self):
        with Server("--limits", "off") as srv:
            k = srv.boto3()
            k.create_stream(StreamName="lim", ShardCount=1)
            wait_for(lambda: k.describe_stream_summary(StreamName="lim")
                     ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
            for b in range(0, N, 16):
                r = k.put_records(StreamName="lim", Records=[
                    {"Data": bytes([i % 256]) * REC, "PartitionKey": "p"} for i in range(b, b + 16)])
                self.assertEqual(r["FailedRecordCount"], 0)
            off_s, got, nbytes = drain_backlog(k, consumer(k, "lim"))
            self.assertEqual((got, nbytes), (N, N * REC))
            data_dir = srv.dir
            srv.stop()
            aws = Server("--limits", "aws", data_dir=data_dir)
            try:
                k2 = aws.boto3()
                aws_s, got, nbytes = drain_backlog(k2, consumer(k2, "lim"))
                aws.stop()
            finally:
                aws.cleanup()
            self.assertEqual((got, nbytes), (N, N * REC))
            sys.stderr.write("6 MiB backlog: limits off %.2f s, limits aws %.2f s\n" % (off_s, aws_s))
            # 2 MiB/s after a 1 MiB burst: ~2.5 s. Tolerant bounds: the machine is shared.
            self.assertGreaterEqual(aws_s, 2.0)
            self.assertLess(aws_s, 8.0)
            self.assertLess(off_s, aws_s / 2)


if __name__ == "__main__":
    main()
