"""Smoke runs of shardcast-loadtest against a real shardcastd (issue shardcast-loadtest §6).

Each run is short (a couple of seconds at a low rate) and its output is checked: both paths
delivered every record, percentiles are ordered, results.json parses, the SVG plot exists, and
the bad-input cases end with the documented exit codes instead of hanging.
"""
import json
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
    def check_path(self, results, name, consumers):
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

    def test_both_paths_h2c(self):
        with Server() as srv:
            code, out, err, res, outdir = loadtest(
                srv.endpoint, "--mode", "both", "--shards", 2, "--pollers", 1, "--consumers", 2,
                "--rate", 50, "--duration", 2, "--warmup", 0.5, "--stream", "lt-both")
            self.assertEqual(code, 0, out + err)
            self.assertTrue(res["ok"])
            self.assertGreater(res["producer"]["acked"], 0)
            self.assertEqual(res["producer"]["failed"], 0)
            self.check_path(res, "standard", 1)
            self.check_path(res, "enhanced", 2)
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

    def test_classic_http1(self):
        with Server() as srv:
            code, out, err, res, _ = loadtest(srv.endpoint, "--mode", "classic", "--h1",
                                              "--rate", 40, "--duration", 1.5, "--warmup", 0.5,
                                              "--stream", "lt-h1")
            self.assertEqual(code, 0, out + err)
            self.check_path(res, "standard", 1)
            self.assertNotIn("enhanced", res["paths"])

    def test_tls(self):
        with Server(tls=True) as srv:
            code, out, err, res, _ = loadtest(srv.tls_endpoint, "--insecure", "--mode", "both",
                                              "--rate", 40, "--duration", 1.5, "--warmup", 0.5)
            self.assertEqual(code, 0, out + err)
            self.check_path(res, "standard", 1)
            self.check_path(res, "enhanced", 1)

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
