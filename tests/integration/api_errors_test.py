"""Control-plane semantics and errors against the real shardcastd: raw HTTP for the request gate
(content type, target, auth, JSON) and exact error bodies/headers; boto3 for each op's happy path,
checked field by field."""
import json
import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402

ACCOUNT = "000000000000"
N3 = ["113427455640312821154458202477256070484", "226854911280625642308916404954512140969",
      "340282366920938463463374607431768211455"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


class ApiErrorsTest(ServerTestCase):
    # Raw requests back to back, far above AWS's control-plane call rates (ControlPlaneRateTest
    # below has those).
    server_args = ("--limits", "off")

    def err(self, op, body, code, message=None, **kw):
        status, headers, data = self.server.raw(body, target=op, **kw)
        self.assertEqual(status, 400, data)
        self.assertEqual(headers.get("x-amzn-errortype"), code)
        obj = json.loads(data)
        self.assertEqual(obj["__type"], code)
        if message is not None:
            self.assertEqual(obj.get("message"), message)
        return obj

    def ok(self, op, body):
        status, headers, data = self.server.raw(body, target=op)
        self.assertEqual(status, 200, data)
        self.assertEqual(headers["content-type"], "application/x-amz-json-1.1")
        self.assertRegex(headers["x-amzn-requestid"], UUID_RE)
        self.assertIn("x-amz-id-2", headers)
        self.assertNotIn(b"null", data)
        return json.loads(data) if data else None

    def create_active(self, name, shards=1, **extra):
        body = {"StreamName": name, "ShardCount": shards}
        body.update(extra)
        self.assertIsNone(self.ok("CreateStream", body))
        wait_for(lambda: self.ok("DescribeStreamSummary", {"StreamName": name})
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")

    # -- gate ------------------------------------------------------------------------------
    def test_health(self):
        status, _, data = self.server.raw(b"", method="GET", path="/health", content_type=None)
        self.assertEqual((status, data.strip()), (200, b"ok"))

    def test_unknown_target(self):
        self.err("Kinesis_20131202.Frobnicate", {}, "UnknownOperationException")
        self.err("Other_20131202.ListStreams", {}, "UnknownOperationException")
        status, headers, _ = self.server.raw({})  # no X-Amz-Target at all
        self.assertEqual((status, headers["x-amzn-errortype"]), (400, "UnknownOperationException"))

    def test_content_types(self):
        self.err("ListStreams", {}, "UnknownOperationException", content_type=None)
        self.err("ListStreams", {}, "UnknownOperationException", content_type="text/plain")
        # CBOR is accepted (tests/integration/cbor_test.py); "{}" is not CBOR, and the error
        # comes back in the request's codec.
        status, headers, data = self.server.raw({}, target="ListStreams",
                                                content_type="application/x-amz-cbor-1.1")
        self.assertEqual((status, headers["x-amzn-errortype"], headers["content-type"]),
                         (400, "SerializationException", "application/x-amz-cbor-1.1"))
        self.assertTrue(data.startswith(b"\xa2\x66__type\x76SerializationException"), data)
        status, headers, _ = self.server.raw({}, target="ListStreams",
                                             content_type="application/json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")

    def test_auth(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request("POST", "/", body=b"{}", headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "Kinesis_20131202.ListStreams"})
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        self.assertEqual(r.status, 400)
        self.assertEqual(r.getheader("x-amzn-errortype"), "MissingAuthenticationTokenException")
        self.assertEqual(json.loads(data), {"__type": "MissingAuthenticationTokenException",
                                            "message": "Missing Authentication Token"})

    def test_incomplete_signature(self):
        obj = self.err("ListStreams", {}, "IncompleteSignatureException",
                       headers={"Authorization": "AWS4-HMAC-SHA256 Credential=abc"})
        self.assertIn("Authorization header requires 'Signature' parameter.", obj["message"])
        self.assertIn("Authorization header requires 'SignedHeaders' parameter.", obj["message"])

    def test_malformed_json(self):
        self.err("ListStreams", b"{not json", "SerializationException")
        self.err("ListStreams", b"[1,2]", "SerializationException")

    def test_wrong_types(self):
        self.err("CreateStream", {"StreamName": 1, "ShardCount": 1}, "SerializationException")
        self.err("CreateStream", {"StreamName": "x", "ShardCount": "1"}, "SerializationException")
        self.err("CreateStream", {"StreamName": ["x"], "ShardCount": 1}, "SerializationException")
        self.err("DeleteStream", {"StreamName": "x", "EnforceConsumerDeletion": "yes"},
                 "SerializationException")

    def test_validation_messages(self):
        self.err("CreateStream", {"StreamName": "bad name!", "ShardCount": 0}, "ValidationException",
                 "2 validation errors detected: Value 'bad name!' at 'streamName' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "[a-zA-Z0-9_.-]+; Value '0' at 'shardCount' failed to satisfy constraint: "
                 "Member must have value greater than or equal to 1")
        self.err("CreateStream", {"StreamName": "x" * 129, "ShardCount": 1}, "ValidationException",
                 "1 validation error detected: Value '%s' at 'streamName' failed to satisfy "
                 "constraint: Member must have length less than or equal to 128" % ("x" * 129))
        self.err("DescribeStream", {"StreamName": "s", "Limit": 0}, "ValidationException",
                 "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                 "constraint: Member must have value greater than or equal to 1")
        self.err("ListStreams", {"Limit": 10001}, "ValidationException",
                 "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
                 "constraint: Member must have value less than or equal to 10000")
        self.err("IncreaseStreamRetentionPeriod", {"StreamName": "s"}, "ValidationException",
                 "1 validation error detected: Value null at 'retentionPeriodHours' failed to "
                 "satisfy constraint: Member must not be null")
        # JSON null is no value (found by wire_fuzz_test: it reached the registry as 0).
        self.err("CreateStream", {"StreamName": "n", "ShardCount": None}, "ValidationException",
                 "1 validation error detected: Value null at 'shardCount' failed to satisfy "
                 "constraint: Member must not be null")
        # Seconds whose milliseconds overflow 64 bits (found by wire_fuzz_test: UBSan abort).
        self.err("GetShardIterator", {"StreamName": "n", "ShardId": "shardId-000000000000",
                                      "ShardIteratorType": "AT_TIMESTAMP",
                                      "Timestamp": -9223372036854775808},
                 "SerializationException", "Timestamp out of range")

    def test_messages_quoting_client_text(self):
        # A message quotes what the client sent. Cut to a buffer inside a UTF-8 sequence (a
        # PutRecord stream name shown in 299 bytes, an ARN in a 2 KiB message) or not UTF-8 at all
        # (header bytes), jansson refused it and the answer went out without "message".
        obj = self.err("PutRecord", {"StreamName": "a" * 298 + "\u00e9", "Data": "AAAA",
                                     "PartitionKey": "k"}, "ValidationException")
        self.assertIn("Value '%s' at 'streamName'" % ("a" * 298), obj.get("message", ""))
        obj = self.err("DescribeStreamConsumer", {"ConsumerARN": "\u00e9" * 2000},
                       "InvalidArgumentException")
        self.assertTrue(obj.get("message", "").startswith("Invalid ConsumerARN \u00e9\u00e9"), obj)
        # A long value is shown cut (at a character, marked "..."), so the message still names
        # the member and the constraint of every error (it was cut at 2 KiB inside the value).
        obj = self.err("DescribeStream", {"StreamName": "\u00e9" * 5500, "Limit": 0},
                       "ValidationException")
        msg = obj.get("message", "")
        self.assertTrue(msg.startswith("2 validation errors detected: Value '" + "\u00e9" * 256
                                       + "...' at 'streamName' failed to satisfy constraint: "
                                       "Member must have length less than or equal to 128"), msg)
        self.assertTrue(msg.endswith("Value '0' at 'limit' failed to satisfy constraint: Member "
                                     "must have value greater than or equal to 1"), msg)
        obj = self.err("ListStreams", {}, "IncompleteSignatureException",
                       headers={"Authorization": b"AWS4-HMAC-SHA256 Credential=\xe9t\xe9"})
        self.assertIn("Authorization=AWS4-HMAC-SHA256 Credential=\ufffdt", obj.get("message", ""))

    def test_unknown_and_duplicate_stream(self):
        self.err("DescribeStream", {"StreamName": "ghost"}, "ResourceNotFoundException",
                 "Stream ghost under account %s not found." % ACCOUNT)
        self.err("DeleteStream", {"StreamName": "ghost"}, "ResourceNotFoundException")
        self.create_active("dup")
        self.err("CreateStream", {"StreamName": "dup", "ShardCount": 1}, "ResourceInUseException",
                 "Stream dup under account %s already exists." % ACCOUNT)

    def test_selector(self):
        self.create_active("sel")
        arn = "arn:aws:kinesis:us-east-1:%s:stream/sel" % ACCOUNT
        d = self.ok("DescribeStreamSummary", {"StreamARN": arn, "StreamId": "ignored"})
        self.assertEqual(d["StreamDescriptionSummary"]["StreamName"], "sel")
        self.err("DescribeStreamSummary", {"StreamARN": arn, "StreamName": "other"},
                 "InvalidArgumentException")
        self.err("DescribeStreamSummary", {}, "InvalidArgumentException")

    # -- happy paths -------------------------------------------------------------------------
    def test_create_describe(self):
        k = self.server.boto3()
        before = time.time()
        k.create_stream(StreamName="d3", ShardCount=3)
        d = k.describe_stream(StreamName="d3")["StreamDescription"]
        self.assertEqual(d["StreamStatus"], "CREATING")
        wait_for(lambda: k.describe_stream(StreamName="d3")["StreamDescription"]["StreamStatus"]
                 == "ACTIVE", what="ACTIVE")
        d = k.describe_stream(StreamName="d3")["StreamDescription"]
        self.assertEqual(d["StreamName"], "d3")
        self.assertEqual(d["StreamARN"], "arn:aws:kinesis:us-east-1:%s:stream/d3" % ACCOUNT)
        self.assertEqual(d["StreamModeDetails"], {"StreamMode": "PROVISIONED"})
        self.assertEqual(d["RetentionPeriodHours"], 24)
        self.assertEqual(d["EnhancedMonitoring"], [{"ShardLevelMetrics": []}])
        self.assertEqual(d["EncryptionType"], "NONE")
        self.assertFalse(d["HasMoreShards"])
        self.assertLess(abs(d["StreamCreationTimestamp"].timestamp() - before), 5)
        ids = [s["ShardId"] for s in d["Shards"]]
        self.assertEqual(ids, ["shardId-%012d" % i for i in range(3)])
        self.assertEqual([s["HashKeyRange"]["EndingHashKey"] for s in d["Shards"]], N3)
        self.assertEqual(d["Shards"][1]["HashKeyRange"]["StartingHashKey"], str(int(N3[0]) + 1))
        for s in d["Shards"]:
            seq = s["SequenceNumberRange"]["StartingSequenceNumber"]
            self.assertEqual(len(seq), 56)
            self.assertNotIn("EndingSequenceNumber", s["SequenceNumberRange"])
            self.assertNotIn("ParentShardId", s)
        page = k.describe_stream(StreamName="d3", Limit=2,
                                 ExclusiveStartShardId="shardId-000000000000")
        self.assertEqual([s["ShardId"] for s in page["StreamDescription"]["Shards"]],
                         ["shardId-000000000001", "shardId-000000000002"])
        summ = k.describe_stream_summary(StreamName="d3")["StreamDescriptionSummary"]
        self.assertNotIn("StreamId", summ)
        self.assertEqual((summ["OpenShardCount"], summ["ConsumerCount"]), (3, 0))

    def test_list_streams_pagination(self):
        for n in ("ls-a", "ls-b", "ls-c"):
            self.create_active(n)
        out = self.ok("ListStreams", {"Limit": 1, "ExclusiveStartStreamName": "ls-a"})
        self.assertEqual(out["StreamNames"], ["ls-b"])
        self.assertTrue(out["HasMoreStreams"])
        self.assertEqual(out["StreamSummaries"][0]["StreamName"], "ls-b")
        self.assertEqual(out["StreamSummaries"][0]["StreamStatus"], "ACTIVE")
        out2 = self.ok("ListStreams", {"NextToken": out["NextToken"], "Limit": 1})
        self.assertEqual(out2["StreamNames"], ["ls-c"])
        self.err("ListStreams", {"NextToken": out["NextToken"], "ExclusiveStartStreamName": "a"},
                 "InvalidArgumentException")
        names = self.server.aws("list-streams", "--page-size", "1")["StreamNames"]
        self.assertTrue({"ls-a", "ls-b", "ls-c"} <= set(names))
        self.assertEqual(names, sorted(names))

    def test_list_shards(self):
        self.create_active("lsh", 5)
        out = self.ok("ListShards", {"StreamName": "lsh", "MaxResults": 2})
        self.assertEqual(len(out["Shards"]), 2)
        # AWS CLI v2 resends StreamName with the token: tolerated when it matches.
        out2 = self.ok("ListShards", {"StreamName": "lsh", "NextToken": out["NextToken"]})
        self.assertEqual([s["ShardId"] for s in out2["Shards"]],
                         ["shardId-%012d" % i for i in (2, 3, 4)])
        self.assertNotIn("NextToken", out2)
        self.err("ListShards", {"NextToken": out["NextToken"], "ExclusiveStartShardId": "1"},
                 "InvalidArgumentException")
        self.err("ListShards", {}, "InvalidArgumentException")
        self.err("ListShards", {"NextToken": "garbage!"}, "InvalidArgumentException")
        cli = self.server.aws("list-shards", "--stream-name", "lsh", "--page-size", "2")
        self.assertEqual(len(cli["Shards"]), 5)
        out = self.ok("ListShards", {"StreamName": "lsh", "ExclusiveStartShardId": "shardId-3"})
        self.assertEqual([s["ShardId"] for s in out["Shards"]], ["shardId-000000000004"])
        out = self.ok("ListShards", {"StreamName": "lsh", "ShardFilter": {"Type": "AT_LATEST"}})
        self.assertEqual(len(out["Shards"]), 5)

    def test_tags(self):
        self.create_active("tg", Tags={"b": "2", "a": "1"})
        k = self.server.boto3()
        self.assertEqual(k.list_tags_for_stream(StreamName="tg")["Tags"],
                         [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
        k.add_tags_to_stream(StreamName="tg", Tags={"c": "3", "a": "x"})
        out = k.list_tags_for_stream(StreamName="tg", ExclusiveStartTagKey="a", Limit=1)
        self.assertEqual(out["Tags"], [{"Key": "b", "Value": "2"}])
        self.assertTrue(out["HasMoreTags"])
        k.remove_tags_from_stream(StreamName="tg", TagKeys=["b", "zzz"])
        self.assertEqual(k.list_tags_for_stream(StreamName="tg")["Tags"],
                         [{"Key": "a", "Value": "x"}, {"Key": "c", "Value": "3"}])
        self.err("AddTagsToStream", {"StreamName": "tg",
                                     "Tags": {"k%d" % i: "" for i in range(49)}},
                 "InvalidArgumentException")
        self.err("AddTagsToStream", {"StreamName": "tg", "Tags": {"bad%": "v"}},
                 "InvalidArgumentException")
        # Lengths count characters: tags of 128 / 256 non-ASCII ones are kept whole (they were
        # cut to 128 / 256 bytes, and a key cut inside a letter vanished from the listings).
        big = {"a" + "\u00e9" * 127: "\u00e9" * 256, "\u65e5" * 128: "\u65e5" * 256}
        k.add_tags_to_stream(StreamName="tg", Tags=big)
        got = {t["Key"]: t["Value"] for t in k.list_tags_for_stream(StreamName="tg")["Tags"]}
        self.assertEqual({key: got.get(key) for key in big}, big)
        k.remove_tags_from_stream(StreamName="tg", TagKeys=list(big))
        self.assertEqual(len(k.list_tags_for_stream(StreamName="tg")["Tags"]), 2)
        # ...as Java counts them, in UTF-16 units: a character beyond U+FFFF counts two.
        emoji = "\U0001F600"
        k.add_tags_to_stream(StreamName="tg", Tags={emoji * 64: emoji * 128})
        self.assertIn({"Key": emoji * 64, "Value": emoji * 128},
                      k.list_tags_for_stream(StreamName="tg")["Tags"])
        k.remove_tags_from_stream(StreamName="tg", TagKeys=[emoji * 64])
        self.err("AddTagsToStream", {"StreamName": "tg", "Tags": {emoji * 65: ""}},
                 "InvalidArgumentException")
        self.err("AddTagsToStream", {"StreamName": "tg", "Tags": {"k": emoji * 129}},
                 "InvalidArgumentException")

    def test_tag_resource(self):
        self.create_active("tr")
        arn = "arn:aws:kinesis:us-east-1:%s:stream/tr" % ACCOUNT
        self.assertIsNone(self.ok("TagResource", {"ResourceARN": arn, "Tags": {"x": "1", "a": ""}}))
        self.assertEqual(self.ok("ListTagsForResource", {"ResourceARN": arn}),
                         {"Tags": [{"Key": "a", "Value": ""}, {"Key": "x", "Value": "1"}]})
        self.assertIsNone(self.ok("UntagResource", {"ResourceARN": arn, "TagKeys": ["a"]}))
        self.assertEqual(self.ok("ListTagsForResource", {"ResourceARN": arn}),
                         {"Tags": [{"Key": "x", "Value": "1"}]})
        self.err("ListTagsForResource", {"ResourceARN": arn + "x"}, "ResourceNotFoundException")
        self.err("TagResource", {"ResourceARN": arn}, "ValidationException")

    def test_retention(self):
        self.create_active("ret")
        self.ok("IncreaseStreamRetentionPeriod", {"StreamName": "ret", "RetentionPeriodHours": 48})
        self.err("IncreaseStreamRetentionPeriod", {"StreamName": "ret", "RetentionPeriodHours": 30},
                 "InvalidArgumentException",
                 "Requested retention period (30 hours) for stream ret can not be shorter than "
                 "existing retention period (48 hours). Use DecreaseRetentionPeriod API.")
        self.err("DecreaseStreamRetentionPeriod", {"StreamName": "ret", "RetentionPeriodHours": 10},
                 "InvalidArgumentException",
                 "Minimum allowed retention period is 24 hours. Requested retention period "
                 "(10 hours) is too short.")
        self.err("IncreaseStreamRetentionPeriod",
                 {"StreamName": "ret", "RetentionPeriodHours": 9000}, "InvalidArgumentException",
                 "Maximum allowed retention period is 8760 hours. Requested retention period "
                 "(9000 hours) is too long.")
        self.ok("DecreaseStreamRetentionPeriod", {"StreamName": "ret", "RetentionPeriodHours": 24})
        d = self.ok("DescribeStreamSummary", {"StreamName": "ret"})
        self.assertEqual(d["StreamDescriptionSummary"]["RetentionPeriodHours"], 24)

    def test_describe_limits(self):
        out = self.ok("DescribeLimits", {})
        self.assertEqual(set(out), {"ShardLimit", "OpenShardCount", "OnDemandStreamCount",
                                    "OnDemandStreamCountLimit"})
        self.assertEqual(out["ShardLimit"], 500)

    def test_delete(self):
        self.create_active("del")
        self.ok("DeleteStream", {"StreamName": "del"})
        wait_for(lambda: self.server.raw({"StreamName": "del"}, target="DescribeStream")[0] == 400,
                 what="stream gone")

    def test_monitoring_encryption_mode(self):
        self.create_active("mon")
        k = self.server.boto3()
        out = k.enable_enhanced_monitoring(StreamName="mon", ShardLevelMetrics=["IncomingBytes"])
        self.assertEqual(out["CurrentShardLevelMetrics"], [])
        self.assertEqual(out["DesiredShardLevelMetrics"], ["IncomingBytes"])
        k.start_stream_encryption(StreamName="mon", EncryptionType="KMS", KeyId="alias/x")
        wait_for(lambda: k.describe_stream_summary(StreamName="mon")["StreamDescriptionSummary"]
                 ["StreamStatus"] == "ACTIVE", what="ACTIVE")
        s = k.describe_stream_summary(StreamName="mon")["StreamDescriptionSummary"]
        self.assertEqual((s["EncryptionType"], s["KeyId"]), ("KMS", "alias/x"))
        # 2048 characters pass the model but not 2048 bytes: refused, not cut (KMS ids are ASCII).
        self.err("StartStreamEncryption", {"StreamName": "mon", "EncryptionType": "KMS",
                                           "KeyId": "\u00e9" * 2000},
                 "InvalidArgumentException", "Invalid KeyId: longer than 2048 bytes.")

    def test_resharding(self):
        self.create_active("rs", 2)
        k = self.server.boto3()
        out = self.ok("UpdateShardCount", {"StreamName": "rs", "TargetShardCount": 4,
                                           "ScalingType": "UNIFORM_SCALING"})
        self.assertEqual(out, {"StreamName": "rs", "CurrentShardCount": 2, "TargetShardCount": 4,
                               "StreamARN": "arn:aws:kinesis:us-east-1:%s:stream/rs" % ACCOUNT})
        wait_for(lambda: k.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"]
                 ["StreamStatus"] == "ACTIVE", what="ACTIVE")
        shards = k.list_shards(StreamName="rs")["Shards"]
        closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
        live = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
        self.assertEqual((len(closed), len(live)), (2, 4))
        for s in live:
            self.assertIn(s["ParentShardId"], [c["ShardId"] for c in closed])
        self.err("UpdateShardCount", {"StreamName": "rs", "TargetShardCount": 9,
                                      "ScalingType": "UNIFORM_SCALING"}, "InvalidArgumentException")
        latest = k.list_shards(StreamName="rs", ShardFilter={"Type": "AT_LATEST"})["Shards"]
        self.assertEqual(len(latest), 4)
        trim = k.list_shards(StreamName="rs", ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]
        self.assertEqual([s["ShardId"] for s in trim], [c["ShardId"] for c in closed])
        frm = k.list_shards(StreamName="rs", ShardFilter={"Type": "FROM_TRIM_HORIZON"})["Shards"]
        self.assertEqual(len(frm), 6)
        self.err("ListShards", {"StreamName": "rs", "ShardFilter": {"Type": "AT_TIMESTAMP"}},
                 "InvalidArgumentException")
        self.err("ListShards", {"StreamName": "rs", "ShardFilter": {"Type": "AFTER_SHARD_ID"}},
                 "InvalidArgumentException")
        after = self.ok("ListShards", {"StreamName": "rs", "ShardFilter": {
            "Type": "AFTER_SHARD_ID", "ShardId": "shardId-000000000003"}})["Shards"]
        self.assertEqual([s["ShardId"] for s in after],
                         ["shardId-000000000004", "shardId-000000000005"])
        a, b = sorted(latest, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))[:2]
        self.err("MergeShards", {"StreamName": "rs", "ShardToMerge": a["ShardId"],
                                 "AdjacentShardToMerge": latest[-1]["ShardId"]}
                 if latest[-1]["ShardId"] != b["ShardId"] else
                 {"StreamName": "rs", "ShardToMerge": b["ShardId"],
                  "AdjacentShardToMerge": a["ShardId"]}, "InvalidArgumentException")
        k.merge_shards(StreamName="rs", ShardToMerge=a["ShardId"], AdjacentShardToMerge=b["ShardId"])
        wait_for(lambda: k.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"]
                 ["StreamStatus"] == "ACTIVE", what="merged")
        self.assertEqual(k.describe_stream_summary(StreamName="rs")["StreamDescriptionSummary"]
                         ["OpenShardCount"], 3)
        child = k.list_shards(StreamName="rs")["Shards"][-1]
        self.assertEqual((child["ParentShardId"], child["AdjacentParentShardId"]),
                         (a["ShardId"], b["ShardId"]))
        self.err("SplitShard", {"StreamName": "rs", "ShardToSplit": "shardId-000000000099",
                                "NewStartingHashKey": "5"}, "ResourceNotFoundException",
                 "Could not find shard shardId-000000000099 in stream rs under account %s."
                 % ACCOUNT)

    def test_update_shard_count_uniform(self):
        """UNIFORM_SCALING leaves the ranges CreateStream draws for that count, whatever the
        steps (3 -> 5 -> 4 -> 7, after a lopsided split); lineage stays whole (every parent
        listed and closed, a merge child's parents adjacent)."""
        k = self.server.boto3()

        def ranges(shards):
            return sorted((int(s["HashKeyRange"]["StartingHashKey"]),
                           int(s["HashKeyRange"]["EndingHashKey"])) for s in shards)

        def open_shards(name):
            return [s for s in k.list_shards(StreamName=name)["Shards"]
                    if "EndingSequenceNumber" not in s["SequenceNumberRange"]]

        self.create_active("uni", 3)
        first = open_shards("uni")[0]
        lo, hi = (int(first["HashKeyRange"][x]) for x in ("StartingHashKey", "EndingHashKey"))
        k.split_shard(StreamName="uni", ShardToSplit=first["ShardId"],
                      NewStartingHashKey=str(lo + (hi - lo) // 7))
        wait_active(k, "uni")
        for target in (5, 4, 7):
            self.create_active("ref%d" % target, target)
            cur = len(open_shards("uni"))
            out = k.update_shard_count(StreamName="uni", TargetShardCount=target,
                                       ScalingType="UNIFORM_SCALING")
            self.assertEqual((out["CurrentShardCount"], out["TargetShardCount"]), (cur, target))
            wait_active(k, "uni")
            self.assertEqual(ranges(open_shards("uni")), ranges(open_shards("ref%d" % target)))
        every = {s["ShardId"]: s for s in k.list_shards(StreamName="uni")["Shards"]}
        for s in every.values():
            for key in ("ParentShardId", "AdjacentParentShardId"):
                if key in s:
                    self.assertIn("EndingSequenceNumber",
                                  every[s[key]]["SequenceNumberRange"], s)
            if "AdjacentParentShardId" in s:
                a, b = every[s["ParentShardId"]], every[s["AdjacentParentShardId"]]
                self.assertEqual(int(a["HashKeyRange"]["EndingHashKey"]) + 1,
                                 int(b["HashKeyRange"]["StartingHashKey"]))

    def test_consumers(self):
        self.create_active("efo")
        k = self.server.boto3()
        arn = k.describe_stream_summary(StreamName="efo")["StreamDescriptionSummary"]["StreamARN"]
        c = k.register_stream_consumer(StreamARN=arn, ConsumerName="c1")["Consumer"]
        self.assertEqual(c["ConsumerStatus"], "CREATING")
        self.assertRegex(c["ConsumerARN"], "^" + re.escape(arn) + r"/consumer/c1:\d+$")
        self.err("RegisterStreamConsumer", {"StreamARN": arn, "ConsumerName": "c1"},
                 "ResourceInUseException")
        wait_for(lambda: k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
                 ["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE", what="consumer ACTIVE")
        self.assertEqual(len(k.list_stream_consumers(StreamARN=arn)["Consumers"]), 1)
        self.err("DeleteStream", {"StreamName": "efo"}, "ResourceInUseException")
        k.deregister_stream_consumer(StreamARN=arn, ConsumerName="c1")
        wait_for(lambda: not k.list_stream_consumers(StreamARN=arn)["Consumers"], what="gone")


class LimitsTest(ServerTestCase):
    """Slow transitions so streams stay CREATING; a small shard quota."""
    server_args = ("--stream-transition-ms", "20000", "--shard-limit", "10", "--limits", "off")

    def test_creating_and_shard_limits(self):
        def create(name, n):
            return self.server.raw({"StreamName": name, "ShardCount": n}, target="CreateStream")
        status, _, data = create("big", 11)
        self.assertEqual(status, 400)
        msg = json.loads(data)
        self.assertEqual(msg["__type"], "LimitExceededException")
        self.assertIn("Limit: 10.", msg["message"])
        for i in range(5):
            self.assertEqual(create("c%d" % i, 1)[0], 200)
        status, headers, data = create("c5", 1)
        self.assertEqual((status, headers["x-amzn-errortype"]), (400, "LimitExceededException"))
        self.assertIn("CREATING", json.loads(data)["message"])
        out = json.loads(self.server.raw({}, target="DescribeLimits")[2])
        self.assertEqual((out["ShardLimit"], out["OpenShardCount"]), (10, 5))
        status, _, data = self.server.raw({"StreamName": "c0", "Tags": {"a": "b"}},
                                          target="AddTagsToStream")
        self.assertEqual(json.loads(data), {
            "__type": "ResourceInUseException",
            "message": "Stream c0 under account %s not ACTIVE, instead in state CREATING" % ACCOUNT})


class ControlPlaneRateTest(ServerTestCase):
    """AWS's control-plane call rates under --limits aws (the default): per account
    (DescribeStream 10/s, ListStreams 5/s, ...) and per stream (ListStreamConsumers 5/s, ...),
    answered LimitExceededException in AWS's words; SDKs retry them."""

    def burst(self, op, body, n):
        """n raw calls back to back: their statuses and the first refusal's body."""
        statuses, refused = [], None
        for _ in range(n):
            status, headers, data = self.server.raw(body, target=op)
            statuses.append(status)
            if status != 200 and refused is None:
                refused = (headers.get("x-amzn-errortype"), json.loads(data))
        return statuses, refused

    def test_rates(self):
        k = self.server.boto3()
        for name in ("r1", "r2"):
            k.create_stream(StreamName=name, ShardCount=1)
        time.sleep(1.1)  # CreateStream's bucket (5/s) and the waits' calls are behind us
        wait_for(lambda: all(k.describe_stream_summary(StreamName=n)["StreamDescriptionSummary"]
                             ["StreamStatus"] == "ACTIVE" for n in ("r1", "r2")), what="ACTIVE")
        time.sleep(1.1)
        # Per account, the stream named in the message (as AWS words it for DescribeStream).
        statuses, refused = self.burst("DescribeStream", {"StreamName": "r1"}, 14)
        self.assertEqual(statuses[:10], [200] * 10)
        self.assertIn(400, statuses[10:])
        self.assertEqual(refused, ("LimitExceededException", {
            "__type": "LimitExceededException",
            "message": "Rate exceeded for stream r1 under account %s." % ACCOUNT}))
        # ... and no stream: the account.
        statuses, refused = self.burst("ListStreams", {}, 8)
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(refused[1]["message"], "Rate exceeded for account %s." % ACCOUNT)
        # Another operation has its own bucket; a second later the first has refilled.
        self.assertEqual(self.server.raw({"StreamName": "r1"}, target="ListShards")[0], 200)
        time.sleep(1.1)
        self.assertEqual(self.burst("DescribeStream", {"StreamName": "r2"}, 5)[0], [200] * 5)
        # Per stream (ListStreamConsumers 5/s): r1's calls spent, r2's not; by ARN.
        arn = {n: k.describe_stream_summary(StreamName=n)["StreamDescriptionSummary"]["StreamARN"]
               for n in ("r1", "r2")}
        statuses, refused = self.burst("ListStreamConsumers", {"StreamARN": arn["r1"]}, 8)
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertEqual(refused[1]["message"],
                         "Rate exceeded for stream r1 under account %s." % ACCOUNT)
        self.assertEqual(self.burst("ListStreamConsumers", {"StreamARN": arn["r2"]}, 5)[0],
                         [200] * 5)
        # An SDK retries the refusals (botocore retries LimitExceededException for Kinesis):
        # 25 DescribeStream calls in a row all answer, taking over a second.
        import boto3
        from botocore.config import Config
        sdk = boto3.client("kinesis", endpoint_url=self.server.endpoint, region_name="us-east-1",
                           aws_access_key_id="AKIDSHARDCASTTEST",
                           aws_secret_access_key="shardcast-test-secret",
                           config=Config(retries={"mode": "standard", "max_attempts": 10}))
        t0 = time.monotonic()
        for _ in range(25):
            sdk.describe_stream(StreamName="r2")
        self.assertGreater(time.monotonic() - t0, 1.0)

    def test_list_shards_by_token(self):
        # ListShards' 1000/s per stream counts the calls that name their stream only through a
        # NextToken too: 2000 of them pipelined on one HTTP/1.1 connection.
        self.assertEqual(self.server.call("CreateStream", {"StreamName": "lt", "ShardCount": 2})[0],
                         200)
        wait_for(lambda: self.server.call("DescribeStreamSummary", {"StreamName": "lt"})[1]
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        status, out = self.server.call("ListShards", {"StreamName": "lt", "MaxResults": 1})
        self.assertEqual(status, 200, out)
        body = json.dumps({"NextToken": out["NextToken"]}).encode()
        head = ("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-amz-json-1.1\r\n"
                "X-Amz-Target: Kinesis_20131202.ListShards\r\n"
                "X-Amz-Date: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDSHARDCASTTEST/"
                "20240101/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date, "
                "Signature=%s\r\nContent-Length: %d\r\n\r\n"
                % (time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()), "0" * 64, len(body)))
        n = 2000
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as sock:
            sock.sendall((head.encode() + body) * n)
            data, deadline = b"", time.monotonic() + 60
            while data.count(b"HTTP/1.1 ") < n and time.monotonic() < deadline:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        ok = data.count(b"HTTP/1.1 200 ")
        refused = data.count(b"Rate exceeded for stream lt under account %s." % ACCOUNT.encode())
        self.assertEqual(ok + refused, n, data[-300:])
        self.assertGreaterEqual(ok, 1000)
        self.assertGreater(refused, 0)

    def test_limits_off(self):
        self.server.stop()
        self.server.args += ["--limits", "off"]
        self.server.start()
        try:
            self.assertEqual(self.burst("ListStreams", {}, 30)[0], [200] * 30)
        finally:
            self.server.stop()
            self.server.args = self.server.args[:-2]
            self.server.start()


class ResourcePolicyTest(ServerTestCase):
    """Put/Get/DeleteResourcePolicy on a stream and on a consumer (raw JSON: Debian's botocore
    predates them; the JS SDK suite covers a real client): kept across a restart, replaced,
    gone with their consumer, and AWS-shaped errors."""
    server_args = ("--limits", "off")

    def test_stream_and_consumer_policies(self):
        self.call_ok("CreateStream", {"StreamName": "pol", "ShardCount": 1})
        wait_for(lambda: self.call_ok("DescribeStreamSummary", {"StreamName": "pol"})
                 ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")
        sarn = "arn:aws:kinesis:us-east-1:%s:stream/pol" % ACCOUNT
        carn = self.call_ok("RegisterStreamConsumer", {"StreamARN": sarn, "ConsumerName": "c"}
                            )["Consumer"]["ConsumerARN"]
        doc = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:root" % ACCOUNT},
            "Action": ["kinesis:GetRecords"], "Resource": sarn}]})
        self.assertEqual(self.call_ok("GetResourcePolicy", {"ResourceARN": sarn}),
                         {"Policy": "{}"})
        self.assertIsNone(self.call_ok("PutResourcePolicy", {"ResourceARN": sarn, "Policy": "{}"}))
        self.assertIsNone(self.call_ok("PutResourcePolicy", {"ResourceARN": sarn, "Policy": doc}))
        self.call_ok("PutResourcePolicy", {"ResourceARN": carn, "Policy": doc.replace(
            "GetRecords", "SubscribeToShard")})
        self.server.restart()
        self.assertEqual(self.call_ok("GetResourcePolicy", {"ResourceARN": sarn})["Policy"], doc)
        self.assertIn("SubscribeToShard",
                      self.call_ok("GetResourcePolicy", {"ResourceARN": carn})["Policy"])
        # Errors: not JSON, too long, empty, a bad or foreign ARN, unknown stream and consumer.
        for bad in ("not json", "[1]", json.dumps({"a": "x" * 20480})):
            self.call_err("PutResourcePolicy", {"ResourceARN": sarn, "Policy": bad},
                          "InvalidArgumentException")
        self.call_err("PutResourcePolicy", {"ResourceARN": sarn, "Policy": ""},
                      "ValidationException")
        self.call_err("PutResourcePolicy", {"ResourceARN": sarn}, "ValidationException")
        self.call_err("GetResourcePolicy", {"ResourceARN": "arn:aws:s3:::bucket"},
                      "ValidationException")
        self.call_err("GetResourcePolicy", {"ResourceARN": sarn + "x"},
                      "ResourceNotFoundException",
                      "Stream polx under account %s not found." % ACCOUNT)
        self.call_err("GetResourcePolicy", {"ResourceARN": carn.replace(":us-east-1:", ":eu-west-1:")},
                      "ResourceNotFoundException")
        stale = carn.rsplit(":", 1)[0] + ":1"
        self.call_err("GetResourcePolicy", {"ResourceARN": stale}, "ResourceNotFoundException",
                      "Consumer %s not found." % stale)
        self.call_err("GetResourcePolicy", {"ResourceARN": sarn + "/consumer/c"},
                      "InvalidArgumentException")
        # Deleted once; then there is none to delete.
        self.assertIsNone(self.call_ok("DeleteResourcePolicy", {"ResourceARN": sarn}))
        self.assertEqual(self.call_ok("GetResourcePolicy", {"ResourceARN": sarn}),
                         {"Policy": "{}"})
        self.call_err("DeleteResourcePolicy", {"ResourceARN": sarn}, "ResourceNotFoundException",
                      "No resource policy found for resource ARN %s." % sarn)
        # A consumer's policy goes with it.
        self.call_ok("DeregisterStreamConsumer", {"ConsumerARN": carn})
        self.call_err("GetResourcePolicy", {"ResourceARN": carn}, "ResourceNotFoundException")


def wait_active(k, name):
    wait_for(lambda: k.describe_stream_summary(StreamName=name)
             ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="ACTIVE")


class ScalingQuotaTest(ServerTestCase):
    """UpdateShardCount's quota under --limits aws: ten changes of a stream's shard count in any
    24 h, kept across a restart; --limits off lifts it."""

    def test_ten_scalings_a_day(self):
        k = self.server.boto3()

        def scale(n):
            return k.update_shard_count(StreamName="q", TargetShardCount=n,
                                        ScalingType="UNIFORM_SCALING")

        k.create_stream(StreamName="q", ShardCount=2)
        wait_active(k, "q")
        for i in range(10):
            if i == 5:  # the count is durable, not per process
                self.server.restart()
                k = self.server.boto3()
            self.assertEqual(scale(3 if i % 2 == 0 else 2)["TargetShardCount"],
                             3 if i % 2 == 0 else 2)
            wait_active(k, "q")
        self.assertEqual(scale(2)["CurrentShardCount"], 2)  # no change: not counted, not refused
        with self.assertRaises(k.exceptions.LimitExceededException) as cm:
            scale(3)
        self.assertRegex(
            cm.exception.response["Error"]["Message"],
            r"^UpdateShardCount failed for stream q under account %s: the shard count of a "
            r"stream can be updated at most 10 times in a rolling 24-hour period; the next "
            r"update is allowed after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$" % ACCOUNT)
        # Other streams and SplitShard are not limited by it.
        k.create_stream(StreamName="q2", ShardCount=1)
        wait_active(k, "q2")
        k.update_shard_count(StreamName="q2", TargetShardCount=2, ScalingType="UNIFORM_SCALING")
        shard = k.list_shards(StreamName="q")["Shards"][-1]
        k.split_shard(StreamName="q", ShardToSplit=shard["ShardId"],
                      NewStartingHashKey=str(int(shard["HashKeyRange"]["StartingHashKey"]) + 2))
        wait_active(k, "q")
        self.server.stop()
        self.server.args += ["--limits", "off"]
        self.server.start()
        k = self.server.boto3()
        self.assertEqual(scale(4)["CurrentShardCount"], 3)



class EncryptionQuotaTest(ServerTestCase):
    """StartStreamEncryption's quota under --limits aws: 25 successful starts of a stream's
    encryption in any 24 h, kept across a restart; StopStreamEncryption counts apart;
    --limits off lifts it."""

    def test_25_starts_a_day(self):
        k = self.server.boto3()

        def start(key):
            k.start_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId=key)
            wait_active(k, "e")

        k.create_stream(StreamName="e", ShardCount=1)
        wait_active(k, "e")
        for i in range(25):
            if i == 12:  # the count is durable, not per process
                self.server.restart()
                k = self.server.boto3()
            start("alias/k%d" % i)
        with self.assertRaises(k.exceptions.LimitExceededException) as cm:
            start("alias/k25")
        self.assertRegex(
            cm.exception.response["Error"]["Message"],
            r"^StartStreamEncryption failed for stream e under account %s: encryption of a "
            r"stream can be started at most 25 times in a rolling 24-hour period; the next "
            r"start is allowed after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$" % ACCOUNT)
        d = k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"]
        self.assertEqual((d["EncryptionType"], d["KeyId"]), ("KMS", "alias/k24"))
        # Stopping has its own count; so does another stream.
        k.stop_stream_encryption(StreamName="e", EncryptionType="KMS", KeyId="alias/k24")
        wait_active(k, "e")
        self.assertEqual(
            k.describe_stream_summary(StreamName="e")["StreamDescriptionSummary"]
            ["EncryptionType"], "NONE")
        k.create_stream(StreamName="e2", ShardCount=1)
        wait_active(k, "e2")
        k.start_stream_encryption(StreamName="e2", EncryptionType="KMS", KeyId="alias/x")
        self.server.stop()
        self.server.args += ["--limits", "off"]
        self.server.start()
        k = self.server.boto3()
        start("alias/k26")


if __name__ == "__main__":
    main()
