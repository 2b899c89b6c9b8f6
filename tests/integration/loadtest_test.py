"""Smoke runs of shardcast-loadtest against a real shardcastd (issue shardcast-loadtest §6).

Each run is short (a couple of seconds at a low rate) and its output is checked: both paths
delivered every record, percentiles are ordered, results.json parses, the SVG plot exists, and
the bad-input cases end with the documented exit codes instead of hanging.
"""
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Server  # noqa: E402

LOADTEST = os.path.join(os.environ.get("SHARDCAST_BUILD_DIR", "build"), "loadtest",
                        "shardcast-loadtest")
ENV = dict(os.environ, AWS_ACCESS_KEY_ID=os.environ.get("AWS_ACCESS_KEY_ID", "AKIDSHARDCASTTEST"),
           AWS_SECRET_ACCESS_KEY=os.environ.get("AWS_SECRET_ACCESS_KEY", "shardcast-test-secret"),
           AWS_REGION="us-east-1")


def loadtest(endpoint, *args, timeout=120):
    """Runs the loadtest; returns (exit code, stdout, stderr, results dict or None)."""
    out = tempfile.mkdtemp(prefix="shardcast-lt-")
    argv = [LOADTEST, "--endpoint", endpoint, "--out", out, "--quiet", "--timeout-ms", "5000",
            "--drain-ms", "3000"] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=timeout)
    path = os.path.join(out, "results.json")
    results = None
    if os.path.exists(path):
        with open(path) as f:
            results = json.load(f)
    return p.returncode, p.stdout, p.stderr, results, out


class LoadtestSmoke(unittest.TestCase):
    def run_ok(self, endpoint, *args, **kw):
        """A run that must succeed: (stdout, results, out dir)."""
        code, out, err, res, outdir = loadtest(endpoint, *args, **kw)
        self.assertEqual(code, 0, out + err)
        return out, res, outdir

    def check_path(self, results, name, consumers, stdout):
        path = results["paths"][name]
        self.assertEqual(path["consumers"], consumers)
        self.assertGreater(path["expected"], 0)
        self.assertEqual(path["missing"], 0, path)
        self.assertEqual(path["delivered"], path["expected"])
        lat = path["latency"]
        self.assertEqual(lat["count"], path["delivered"])
        order = [lat["min_us"], lat["p50_us"], lat["p90_us"], lat["p99_us"], lat["p999_us"],
                 lat["max_us"]]
        self.assertEqual(order, sorted(order), lat)
        self.assertLess(lat["max_us"], 10_000_000)
        self.assertAlmostEqual(lat["cdf"][-1][1], 1.0, places=6)
        # One entry per second of the measured window, every measured delivery in one of them.
        timeline = path["timeline"]
        self.assertEqual([t["second"] for t in timeline],
                         list(range(math.ceil(results["config"]["duration_s"]))))
        self.assertEqual(sum(t["records"] for t in timeline), lat["count"])
        for t in timeline:
            if t["records"]:
                self.assertLessEqual(t["p50_us"], t["p99_us"])
                self.assertLessEqual(t["p99_us"], t["max_us"])
                self.assertLessEqual(t["max_us"], lat["max_us"])
        self.assertIn(f"{name} p99 ms by second:", stdout)

    def test_both_paths_h2c(self):
        with Server() as srv:
            out, res, outdir = self.run_ok(
                srv.endpoint, "--mode", "both", "--shards", 2, "--pollers", 1, "--consumers", 2,
                "--rate", 50, "--duration", 2, "--warmup", 0.5, "--stream", "lt-both")
            self.assertTrue(res["ok"])
            self.assertGreater(res["producer"]["acked"], 0)
            self.assertEqual(res["producer"]["failed"], 0)
            put = res["producer"]["put_latency"]
            self.assertEqual(put["count"], res["producer"]["calls"])
            self.assertLessEqual(put["p50_us"], put["max_us"])
            self.assertIn("PutRecords call latency", out)
            self.check_path(res, "standard", 1, out)
            self.check_path(res, "enhanced", 2, out)
            for word in ("standard", "enhanced", "p99.9 ms", "MillisBehindLatest"):
                self.assertIn(word, out)
            with open(os.path.join(outdir, "latency-cdf.svg")) as f:
                svg = f.read()
            self.assertTrue(svg.startswith("<svg") and svg.count("<polyline") == 2)
            # The consumers the run registered are real server objects.
            arn = srv.aws("describe-stream-summary", "--stream-name", "lt-both")[
                "StreamDescriptionSummary"]["StreamARN"]
            names = {c["ConsumerName"] for c in
                     srv.aws("list-stream-consumers", "--stream-arn", arn)["Consumers"]}
            self.assertEqual(names, {"shardcast-lt-0", "shardcast-lt-1"})

    def test_large_records(self):
        """3 MiB records: the run creates a stream that takes them (MaxRecordSizeInKiB) and
        every one arrives on both paths."""
        with Server("--limits", "off") as srv:
            out, res, _ = self.run_ok(
                srv.endpoint, "--mode", "both", "--pollers", 1, "--consumers", 1, "--rate", 2,
                "--record-size", 3 << 20, "--duration", 2, "--warmup", 0.5, "--stream", "lt-big")
            self.assertTrue(res["ok"])
            self.assertEqual(res["config"]["record_size"], 3 << 20)
            self.check_path(res, "standard", 1, out)
            self.check_path(res, "enhanced", 1, out)
            self.assertEqual(srv.call("DescribeStreamSummary", {"StreamName": "lt-big"})[1][
                "StreamDescriptionSummary"]["MaxRecordSizeInKiB"], 3073)
            code, _, err, _, _ = loadtest(srv.endpoint, "--record-size", (10 << 20) - 19)
            self.assertEqual(code, 2, err)

    def test_cbor_subscriptions(self):
        # --cbor: SubscribeToShard in application/x-amz-cbor-1.1 as KCL sends it; every event is
        # decoded from CBOR (a JSON payload fails the run), so a record arriving means its CBOR
        # bytes and times were right.
        with Server() as srv:
            out, res, _ = self.run_ok(
                srv.endpoint, "--mode", "efo", "--cbor", "--shards", 2, "--consumers", 2,
                "--rate", 200, "--duration", 2, "--warmup", 0.5, "--stream", "lt-cbor")
            self.assertTrue(res["config"]["cbor"])
            self.check_path(res, "enhanced", 2, out)

    def test_tick_sets_the_batches(self):
        # --tick-ms 50 at 200 records/s: one PutRecords of ~10 records per tick, so ~50 calls in
        # the 2.5 s produced (the default 5 ms tick sends ~500 calls of one record).
        with Server() as srv:
            out, res, _ = self.run_ok(
                srv.endpoint, "--mode", "efo", "--shards", 1, "--consumers", 1, "--rate", 200,
                "--tick-ms", 50, "--duration", 2, "--warmup", 0.5, "--stream", "lt-tick")
            self.assertEqual(res["config"]["tick_ms"], 50)
            self.assertTrue(40 <= res["producer"]["calls"] <= 60, res["producer"])
            self.check_path(res, "enhanced", 1, out)
            code, out, err, res, _ = loadtest(srv.endpoint, "--tick-ms", 0)
            self.assertEqual(code, 2, out + err)
            self.assertIn("bad value", err)

    def test_throttled_entries_are_counted(self):
        # 2500 records/s into one shard under --limits aws (1000 records/s): PutRecords answers
        # with per-entry throttles, which the report counts; only acknowledged records are
        # expected at the consumer, and all of them arrive.
        with Server("--limits", "aws") as srv:
            out, res, _ = self.run_ok(
                srv.endpoint, "--mode", "efo", "--shards", 1, "--consumers", 1, "--rate", 2500,
                "--duration", 2, "--warmup", 0.5, "--stream", "lt-throttle")
            prod = res["producer"]
            self.assertGreater(prod["throttled"], 0, prod)
            self.assertGreater(prod["acked"], 0, prod)
            self.assertEqual(prod["failed"], prod["throttled"])
            self.assertEqual(prod["acked"] + prod["failed"], prod["sent"])
            self.assertIn("(%d throttled)" % prod["throttled"], out)
            self.check_path(res, "enhanced", 1, out)

    def test_classic_http1(self):
        with Server() as srv:
            out, res, _ = self.run_ok(srv.endpoint, "--mode", "classic", "--h1",
                                      "--rate", 40, "--duration", 1.5, "--warmup", 0.5,
                                      "--stream", "lt-h1")
            self.check_path(res, "standard", 1, out)
            self.assertNotIn("enhanced", res["paths"])

    def test_tls(self):
        with Server(tls=True) as srv:
            out, res, _ = self.run_ok(srv.tls_endpoint, "--insecure", "--mode", "both",
                                      "--rate", 40, "--duration", 1.5, "--warmup", 0.5)
            self.check_path(res, "standard", 1, out)
            self.check_path(res, "enhanced", 1, out)

    def test_unreachable_endpoint(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nobody listens there now
        t0 = time.monotonic()
        code, out, err, _, _ = loadtest("http://127.0.0.1:%d" % port, timeout=30)
        self.assertEqual(code, 3, out + err)
        self.assertIn("unreachable", err)
        self.assertLess(time.monotonic() - t0, 15)

    def test_refused_credentials(self):
        # Without credentials the requests go unsigned and shardcastd refuses them
        # (MissingAuthenticationTokenException): a clear message and exit 3, no hang.
        env = {k: v for k, v in ENV.items()
               if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")}
        with Server() as srv, tempfile.TemporaryDirectory() as out:
            t0 = time.monotonic()
            p = subprocess.run([LOADTEST, "--endpoint", srv.endpoint, "--out", out, "--quiet",
                                "--duration", "1", "--warmup", "0", "--timeout-ms", "5000"],
                               capture_output=True, text=True, env=dict(env, HOME=out),
                               timeout=60)
            self.assertEqual(p.returncode, 3, p.stdout + p.stderr)
            self.assertIn("credentials refused", p.stderr)
            self.assertIn("MissingAuthenticationTokenException", p.stderr)
            self.assertLess(time.monotonic() - t0, 15)

    def test_usage(self):
        p = subprocess.run([LOADTEST, "--mode", "sideways"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage", p.stderr)

    def test_stream_deleted_mid_run(self):
        with Server() as srv:
            def delete_later():
                time.sleep(2.0)
                srv.aws("delete-stream", "--stream-name", "lt-gone",
                        "--enforce-consumer-deletion", check=False)
            t = threading.Thread(target=delete_later)
            t.start()
            code, out, err, res, _ = loadtest(srv.endpoint, "--mode", "both", "--rate", 40,
                                              "--duration", 6, "--warmup", 0.5,
                                              "--stream", "lt-gone", timeout=60)
            t.join()
            self.assertEqual(code, 1, out + err)
            self.assertFalse(res["ok"])
            self.assertIn("disappeared", res["failure"])
            self.assertIn("FAILED", out)
            # The report says what the failure cost, per path.
            self.assertRegex(out, r"lost: standard \d+ of \d+ expected deliveries; "
                                  r"enhanced \d+ of \d+ expected deliveries;")

    def test_stress_fanout_and_cleanup(self):
        """A few hundred concurrent subscriptions for a few seconds: every pipe goes live and
        delivers, the report has per-pipe MiB/s and total egress, and --cleanup deletes the
        stream (and so the consumers) the run created."""
        shards, consumers = 30, 10
        with Server("--max-consumers", str(consumers)) as srv:
            t0 = time.monotonic()
            out, res, _ = self.run_ok(
                srv.endpoint, "--stress", "--shards", shards, "--consumers", consumers,
                "--rate", 300, "--record-size", 200, "--duration", 3, "--warmup", 0.5,
                "--stream", "lt-stress", "--cleanup", timeout=90)
            self.assertLess(time.monotonic() - t0, 60)
            self.check_path(res, "enhanced", consumers, out)
            self.assertNotIn("standard", res["paths"])
            st = res["stress"]
            self.assertEqual(st["pipes"], shards * consumers)
            self.assertEqual(st["live"], shards * consumers)
            pipes = res["pipes"]
            self.assertEqual(len(pipes), shards * consumers)
            self.assertEqual({(p["consumer"], p["shard"]) for p in pipes},
                             {("shardcast-lt-%d" % c, "shardId-%012d" % s)
                              for c in range(consumers) for s in range(shards)})
            # Partition keys are record ids (MD5-spread): ~900 records reach all 30 shards.
            self.assertTrue(all(p["records"] > 0 and p["mib_per_s"] > 0 for p in pipes))
            self.assertEqual(sum(p["records"] for p in pipes),
                             res["paths"]["enhanced"]["delivered"])
            self.assertAlmostEqual(st["egress_mib_per_s"], sum(p["mib_per_s"] for p in pipes),
                                   places=6)
            self.assertLessEqual(st["pipe_mib_per_s_min"], st["pipe_mib_per_s_mean"])
            self.assertLessEqual(st["pipe_mib_per_s_mean"], st["pipe_mib_per_s_max"])
            self.assertIn("fan-out: %d pipes" % (shards * consumers), out)
            self.assertIn("total egress", out)
            cl = res["cleanup"]
            self.assertTrue(cl["requested"] and cl["stream_created"] and cl["stream_deleted"], cl)
            self.assertEqual(cl["consumers_created"], consumers)
            self.assertIsNone(cl["left_behind"])
            self.assertIn("cleanup: deleted stream lt-stress", out)
            names = srv.aws("list-streams")["StreamNames"]
            if "lt-stress" in names:  # still DELETING
                st = srv.aws("describe-stream-summary", "--stream-name", "lt-stress")
                self.assertEqual(st["StreamDescriptionSummary"]["StreamStatus"], "DELETING")

    def test_cleanup_keeps_what_it_did_not_create(self):
        with Server() as srv:
            srv.aws("create-stream", "--stream-name", "lt-mine", "--shard-count", "1")
            arn = srv.aws("describe-stream-summary", "--stream-name", "lt-mine")[
                "StreamDescriptionSummary"]["StreamARN"]
            srv.aws("register-stream-consumer", "--stream-arn", arn,
                    "--consumer-name", "shardcast-lt-0")
            out, res, _ = self.run_ok(srv.endpoint, "--mode", "efo", "--consumers", 2,
                                      "--rate", 40, "--duration", 1.5, "--warmup", 0.5,
                                      "--stream", "lt-mine", "--cleanup")
            cl = res["cleanup"]
            self.assertFalse(cl["stream_created"] or cl["stream_deleted"], cl)
            self.assertEqual((cl["consumers_created"], cl["consumers_deleted"]), (1, 1), cl)
            self.assertIn("deregistered 1 of 1", out)
            left = {c["ConsumerName"]: c["ConsumerStatus"] for c in
                    srv.aws("list-stream-consumers", "--stream-arn", arn)["Consumers"]}
            # The pre-existing consumer stays; the one the run registered is going or gone.
            self.assertEqual(left.get("shardcast-lt-0"), "ACTIVE", left)
            self.assertIn(left.get("shardcast-lt-1", "DELETING"), ("DELETING",), left)
            self.assertEqual(srv.aws("describe-stream-summary", "--stream-name", "lt-mine")[
                "StreamDescriptionSummary"]["StreamStatus"], "ACTIVE")

    def test_without_cleanup_says_what_it_kept(self):
        with Server() as srv:
            out, res, _ = self.run_ok(srv.endpoint, "--mode", "efo", "--rate", 40,
                                      "--duration", 1, "--warmup", 0.2,
                                      "--stream", "lt-kept")
            self.assertIn("kept: stream lt-kept and 1 consumer(s)", out)
            self.assertFalse(res["cleanup"]["requested"])
            self.assertEqual(srv.aws("describe-stream-summary", "--stream-name", "lt-kept")[
                "StreamDescriptionSummary"]["StreamStatus"], "ACTIVE")


if __name__ == "__main__":
    unittest.main(verbosity=2)
