"""AWS CLI v2 data-plane round trip: put-record, get-shard-iterator, get-records with exact Data
bytes. CLI v2 takes --data as base64 by default; --cli-binary-format raw-in-base64-out takes the
text itself; fileb:// takes a file's raw bytes. get-records prints Data as base64."""
import base64
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402


class CliDataTest(ServerTestCase):
    server_args = ("--limits", "off")

    def test_round_trip(self):
        aws = self.server.aws
        aws("create-stream", "--stream-name", "cli-data", "--shard-count", "1")
        wait_for(lambda: aws("describe-stream-summary", "--stream-name", "cli-data")[
            "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", timeout=15)

        binary = bytes(range(256))
        path = os.path.join(self.server.dir, "payload.bin")
        with open(path, "wb") as f:
            f.write(binary)
        puts = [
            # (arguments, the bytes the server must store)
            (["--data", base64.b64encode(b"hello world").decode()], b"hello world"),
            (["--cli-binary-format", "raw-in-base64-out", "--data", "raw text \u00e9"],
             "raw text \u00e9".encode()),
            (["--data", "fileb://" + path], binary),
        ]
        seqs = []
        for i, (args, _) in enumerate(puts):
            r = aws("put-record", "--stream-name", "cli-data", "--partition-key", "pk%d" % i,
                    *args)
            self.assertEqual(r["ShardId"], "shardId-000000000000")
            self.assertEqual(len(r["SequenceNumber"]), 56)
            seqs.append(r["SequenceNumber"])

        it = aws("get-shard-iterator", "--stream-name", "cli-data", "--shard-id",
                 "shardId-000000000000", "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
        r = aws("get-records", "--shard-iterator", it)
        recs = r["Records"]
        self.assertEqual([x["SequenceNumber"] for x in recs], seqs)
        self.assertEqual([base64.b64decode(x["Data"]) for x in recs], [b for _, b in puts])
        self.assertEqual([x["PartitionKey"] for x in recs], ["pk0", "pk1", "pk2"])
        self.assertEqual(r["MillisBehindLatest"], 0)
        self.assertIn("NextShardIterator", r)

        # AFTER_SEQUENCE_NUMBER of the first record, one record per call.
        it = aws("get-shard-iterator", "--stream-name", "cli-data", "--shard-id", "0",
                 "--shard-iterator-type", "AFTER_SEQUENCE_NUMBER",
                 "--starting-sequence-number", seqs[0])["ShardIterator"]
        r = aws("get-records", "--shard-iterator", it, "--limit", "1")
        self.assertEqual([x["SequenceNumber"] for x in r["Records"]], [seqs[1]])
        r = aws("get-records", "--shard-iterator", r["NextShardIterator"], "--limit", "1")
        self.assertEqual(base64.b64decode(r["Records"][0]["Data"]), binary)

        # A forged iterator is the CLI's InvalidArgumentException.
        code, _, err = aws("get-records", "--shard-iterator", it[:-8] + "AAAAAAA=", check=False)
        self.assertNotEqual(code, 0)
        self.assertIn("InvalidArgumentException", err)
        self.assertIn("Invalid ShardIterator.", err)


if __name__ == "__main__":
    main()
