"""On-demand Advantage against the real shardcastd, in raw JSON (Debian's botocore predates the
operations; js_control drives them through the JS SDK): the account's
MinimumThroughputBillingCommitment (Describe/UpdateAccountSettings: enabled for at least 24 h, a
disable before then scheduled and cancelled by an enable) and warm throughput on ON_DEMAND
streams (UpdateStreamWarmThroughput, CreateStream's and UpdateStreamMode's WarmThroughputMiBps,
DescribeStreamSummary's WarmThroughput), kept across a restart. The 24 h expiry itself is covered
by registry_test with a shifted clock."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, main, wait_for  # noqa: E402

ACCOUNT = "000000000000"
DAY = 24 * 3600


def arn(name):
    return "arn:aws:kinesis:us-east-1:%s:stream/%s" % (ACCOUNT, name)


class AdvantageTest(ServerTestCase):
    # UPDATING lasts 1.5 s (not the harness's 50 ms), so the checks made while a warm update is
    # under way do not race a loaded machine.
    server_args = ("--limits", "off", "--stream-transition-ms", "1500")

    def summary(self, name):
        return self.call_ok("DescribeStreamSummary", {"StreamName": name})[
            "StreamDescriptionSummary"]

    def active(self, name):
        wait_for(lambda: self.summary(name)["StreamStatus"] == "ACTIVE", what=name + " ACTIVE")
        return self.summary(name)

    def commitment(self, status=None):
        if status is None:
            out = self.call_ok("DescribeAccountSettings", {})
        else:
            out = self.call_ok("UpdateAccountSettings",
                               {"MinimumThroughputBillingCommitment": {"Status": status}})
        return out["MinimumThroughputBillingCommitment"]

    def test_commitment_and_warm_throughput(self):
        self.assertEqual(self.commitment(), {"Status": "DISABLED"})
        self.call_ok("CreateStream", {"StreamName": "od", "StreamModeDetails":
                                      {"StreamMode": "ON_DEMAND"}})
        self.call_ok("CreateStream", {"StreamName": "pv", "ShardCount": 1})
        self.active("od")
        self.active("pv")
        # No commitment: no WarmThroughput shown, none taken.
        self.assertNotIn("WarmThroughput", self.summary("od"))
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "od",
                                                     "WarmThroughputMiBps": 100},
                      "InvalidArgumentException",
                      "Warm throughput requires MinimumThroughputBillingCommitment to be enabled "
                      "for account %s (UpdateAccountSettings)." % ACCOUNT)
        self.call_err("CreateStream", {"StreamName": "w0", "StreamModeDetails":
                                       {"StreamMode": "ON_DEMAND"}, "WarmThroughputMiBps": 10},
                      "InvalidArgumentException")
        # Enabled: started now, may end in 24 h.
        t0 = time.time()
        c = self.commitment("ENABLED")
        self.assertEqual(c["Status"], "ENABLED")
        self.assertAlmostEqual(c["StartedAt"], t0, delta=5)
        self.assertAlmostEqual(c["EarliestAllowedEndAt"] - c["StartedAt"], DAY, delta=0.001)
        self.assertNotIn("EndedAt", c)
        self.assertEqual(self.commitment("ENABLED"), c)  # again: unchanged
        self.assertEqual(self.commitment(), c)
        self.assertEqual(self.summary("od")["WarmThroughput"], {"CurrentMiBps": 4})
        self.assertNotIn("WarmThroughput", self.summary("pv"))
        # Warm throughput: UPDATING, then warmed; by ARN too.
        out = self.call_ok("UpdateStreamWarmThroughput", {"StreamARN": arn("od"),
                                                          "WarmThroughputMiBps": 200})
        self.assertEqual(out, {"StreamARN": arn("od"), "StreamName": "od",
                               "WarmThroughput": {"TargetMiBps": 200, "CurrentMiBps": 4}})
        s = self.summary("od")
        self.assertEqual((s["StreamStatus"], s["WarmThroughput"]),
                         ("UPDATING", {"TargetMiBps": 200, "CurrentMiBps": 4}))
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "od",
                                                     "WarmThroughputMiBps": 300},
                      "ResourceInUseException")
        self.assertEqual(self.active("od")["WarmThroughput"],
                         {"TargetMiBps": 200, "CurrentMiBps": 200})
        self.assertEqual(self.call_ok("UpdateStreamWarmThroughput", {
            "StreamName": "od", "WarmThroughputMiBps": 0})["WarmThroughput"],
            {"TargetMiBps": 0, "CurrentMiBps": 200})
        self.active("od")
        # Errors: a provisioned stream, past 10 GiB/s, the model's bounds, a missing stream.
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "pv",
                                                     "WarmThroughputMiBps": 10},
                      "InvalidArgumentException",
                      "Warm throughput is supported only for streams in ON_DEMAND capacity mode; "
                      "stream pv under account %s is PROVISIONED." % ACCOUNT)
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "od",
                                                     "WarmThroughputMiBps": 10241},
                      "LimitExceededException",
                      "Warm throughput of 10241 MiBps for stream od under account %s exceeds the "
                      "limit of 10240 MiBps (10 GiBps)." % ACCOUNT)
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "od",
                                                     "WarmThroughputMiBps": -1},
                      "ValidationException")
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "od"}, "ValidationException")
        self.call_err("UpdateStreamWarmThroughput", {"StreamName": "nope",
                                                     "WarmThroughputMiBps": 1},
                      "ResourceNotFoundException",
                      "Stream nope under account %s not found." % ACCOUNT)
        # CreateStream and UpdateStreamMode take one for an ON_DEMAND stream.
        self.call_ok("CreateStream", {"StreamName": "w1", "StreamModeDetails":
                                      {"StreamMode": "ON_DEMAND"}, "WarmThroughputMiBps": 64})
        self.assertEqual(self.active("w1")["WarmThroughput"],
                         {"TargetMiBps": 64, "CurrentMiBps": 64})
        self.call_err("CreateStream", {"StreamName": "w2", "ShardCount": 1,
                                       "WarmThroughputMiBps": 64}, "InvalidArgumentException")
        self.call_err("UpdateStreamMode", {"StreamARN": arn("pv"), "StreamModeDetails":
                                           {"StreamMode": "PROVISIONED"},
                                           "WarmThroughputMiBps": 8},
                      "InvalidArgumentException")
        self.call_ok("UpdateStreamMode", {"StreamARN": arn("pv"), "StreamModeDetails":
                                          {"StreamMode": "ON_DEMAND"}, "WarmThroughputMiBps": 8})
        self.assertEqual(self.active("pv")["WarmThroughput"], {"TargetMiBps": 8, "CurrentMiBps": 8})
        # Disabled within the 24 h: scheduled for the earliest end; enabled again: cancelled.
        ending = self.commitment("DISABLED")
        self.assertEqual(ending, dict(c, Status="ENABLED_UNTIL_EARLIEST_ALLOWED_END"))
        self.assertIn("WarmThroughput", self.summary("od"))  # still on until then
        self.assertEqual(self.commitment("ENABLED"), c)
        self.assertEqual(self.commitment("DISABLED")["Status"],
                         "ENABLED_UNTIL_EARLIEST_ALLOWED_END")
        # Kept across a restart.
        self.server.restart()
        self.assertEqual(self.commitment(), ending)
        self.assertEqual(self.summary("od")["WarmThroughput"],
                         {"TargetMiBps": 0, "CurrentMiBps": 0})
        self.assertEqual(self.summary("w1")["WarmThroughput"]["CurrentMiBps"], 64)
        # The request's own errors.
        self.call_err("UpdateAccountSettings", {}, "ValidationException")
        self.call_err("UpdateAccountSettings", {"MinimumThroughputBillingCommitment":
                                                {"Status": "ENABLED_UNTIL_EARLIEST_ALLOWED_END"}},
                      "ValidationException")
        self.call_err("UpdateAccountSettings", {"MinimumThroughputBillingCommitment": {}},
                      "ValidationException")


if __name__ == "__main__":
    main()
