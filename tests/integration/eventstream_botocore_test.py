"""Our event-stream frames, decoded by botocore's own parser (kinesis-protocol.md §6).

The C unit test binary tests/evframe_test, run with `--dump DIR`, writes the frames our encoder
builds (initial-response, SubscribeToShardEvent with 50 stored-form records built both as a shared
frame and straight into an evbuffer, a heartbeat, the final ChildShards event, an exception and an
error message). Each is decoded here with botocore.eventstream.EventStreamBuffer (framing, CRCs,
headers) and with botocore's EventStream + the Kinesis SubscribeToShard model (what boto3 users
actually get), so our encoder is cross-checked against an independent implementation.
"""
import datetime
import os
import subprocess
import tempfile
import unittest

import botocore.session
from botocore.eventstream import EventStream, EventStreamBuffer, EventStreamError
from botocore.parsers import EventStreamJSONParser

BUILD = os.environ.get("SHARDCAST_BUILD_DIR", "build")
EVFRAME_TEST = os.path.join(BUILD, "tests", "evframe_test")
SEQ_PREFIX = "4959033827149025660855969253836157109592157598913"
CONT_SEQ = SEQ_PREFIX + "6500049"


class RawStream:
    """What EventStream reads from: an object with stream() yielding byte chunks."""

    def __init__(self, data, chunk):
        self.data, self.chunk = data, chunk

    def stream(self):
        for i in range(0, len(self.data), self.chunk):
            yield self.data[i:i + self.chunk]

    def close(self):
        pass


class EventStreamBotocoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="shardcast-evframe-")
        subprocess.run([EVFRAME_TEST, "--dump", cls.tmp.name], check=True, timeout=60)
        cls.frames = {}
        for name in os.listdir(cls.tmp.name):
            with open(os.path.join(cls.tmp.name, name), "rb") as f:
                cls.frames[name[:-4]] = f.read()
        model = botocore.session.get_session().get_service_model("kinesis")
        cls.shape = model.operation_model("SubscribeToShard").output_shape.members["EventStream"]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def messages(self, data):
        buf = EventStreamBuffer()
        buf.add_data(data)
        return list(buf)

    def one_message(self, name):
        msgs = self.messages(self.frames[name])
        self.assertEqual(len(msgs), 1, name)
        return msgs[0]

    def events(self, data, chunk=7):
        return EventStream(RawStream(data, chunk), self.shape, EventStreamJSONParser(),
                           "SubscribeToShard")

    def check_records(self, records, count):
        self.assertEqual(len(records), count)
        for i, r in enumerate(records):
            self.assertEqual(r["SequenceNumber"], "%s65%05d" % (SEQ_PREFIX, i))
            self.assertEqual(r["Data"], b"record-%d" % (i % 5))
            self.assertEqual(r["PartitionKey"], "pk%d" % i)
            want = datetime.datetime.fromtimestamp(1700000000 + i / 1000, datetime.timezone.utc)
            got = r["ApproximateArrivalTimestamp"]
            self.assertLess(abs((got - want).total_seconds()), 0.0005)

    def test_initial_response(self):
        m = self.one_message("initial-response")
        self.assertEqual(m.headers, {":message-type": "event", ":event-type": "initial-response",
                                     ":content-type": "application/json"})
        self.assertEqual(m.payload, b"{}")
        stream = self.events(self.frames["initial-response"])
        self.assertEqual(stream.get_initial_response().payload, b"{}")

    def test_subscribe_to_shard_event(self):
        m = self.one_message("event-50")
        self.assertEqual(m.headers[":event-type"], "SubscribeToShardEvent")
        self.assertEqual(m.headers[":message-type"], "event")
        self.assertEqual(m.headers[":content-type"], "application/json")
        # Both build paths (shared frame, direct evbuffer) give identical bytes.
        self.assertEqual(self.frames["event-50"], self.frames["event-50-direct"])
        stream = self.events(self.frames["initial-response"] + self.frames["event-50"])
        stream.get_initial_response()
        events = list(stream)
        self.assertEqual(len(events), 1)
        ev = events[0]["SubscribeToShardEvent"]
        self.assertEqual(ev["ContinuationSequenceNumber"], CONT_SEQ)
        self.assertEqual(ev["MillisBehindLatest"], 42)
        self.check_records(ev["Records"], 50)

    def test_heartbeat(self):
        stream = self.events(self.frames["initial-response"] + self.frames["heartbeat"], chunk=1)
        stream.get_initial_response()
        ev = list(stream)[0]["SubscribeToShardEvent"]
        self.assertEqual(ev, {"Records": [], "ContinuationSequenceNumber": CONT_SEQ,
                              "MillisBehindLatest": 0})

    def test_child_shards(self):
        stream = self.events(self.frames["initial-response"] + self.frames["child-shards"])
        stream.get_initial_response()
        ev = list(stream)[0]["SubscribeToShardEvent"]
        self.assertNotIn("ContinuationSequenceNumber", ev)
        self.check_records(ev["Records"], 1)
        self.assertEqual(ev["ChildShards"], [{
            "ShardId": "shardId-000000000001", "ParentShards": ["shardId-000000000000"],
            "HashKeyRange": {"StartingHashKey": "0",
                             "EndingHashKey": "340282366920938463463374607431768211455"}}])

    def test_exception(self):
        m = self.one_message("exception")
        self.assertEqual(m.headers[":message-type"], "exception")
        self.assertEqual(m.headers[":exception-type"], "ResourceInUseException")
        stream = self.events(self.frames["initial-response"] + self.frames["heartbeat"]
                             + self.frames["exception"])
        stream.get_initial_response()
        it = iter(stream)
        self.assertIn("SubscribeToShardEvent", next(it))
        with self.assertRaises(EventStreamError) as cm:
            next(it)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "ResourceInUseException")
        self.assertEqual(err["Message"], "Another active subscription exists")

    def test_error(self):
        m = self.one_message("error")
        self.assertEqual(m.headers, {":message-type": "error", ":error-code": "InternalError",
                                     ":error-message": "boom"})
        self.assertEqual(m.payload, b"")
        stream = self.events(self.frames["error"])
        with self.assertRaises(EventStreamError) as cm:
            list(stream)
        self.assertEqual(cm.exception.response["Error"]["Code"], "InternalError")

    def test_all_frames_back_to_back(self):
        names = ["initial-response", "event-50", "heartbeat", "event-50-direct", "child-shards"]
        data = b"".join(self.frames[n] for n in names)
        self.assertEqual(len(self.messages(data)), len(names))
        for chunk in (1, 13, 4096, len(data)):
            stream = self.events(data, chunk)
            stream.get_initial_response()
            events = [e["SubscribeToShardEvent"] for e in stream]
            self.assertEqual([len(e["Records"]) for e in events], [50, 0, 50, 1])


if __name__ == "__main__":
    unittest.main()
