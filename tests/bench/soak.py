#!/usr/bin/python3
"""Soak (by hand, not a test): the churn of tests/integration/churn_test.py for SOAK_SECONDS
(default 600) against the release build, with a table of the server's fds, threads and RSS once
a minute, and (when gdb is installed) glibc's live heap bytes beside RSS.

Each round is churn_test's: SubscribeToShard pipes over h2c, TLS h2 and HTTP/1.1 cut, cancelled,
never read or ended by the server (deregistration, deletion with EnforceConsumerDeletion,
SplitShard, UpdateShardCount), PutRecords/GetRecords on "keep", connections dropped
mid-request, TLS handshakes abandoned, a 2-shard stream with 6 consumers deleted and re-created
every round. After each round the script waits until the churn settled (no pipes, leases or
connections in GET /stats, the deleted streams' directories reaped, fd count back to the
baseline or 15 s passed) and samples /proc/PID. A row is printed for the first settled sample
of each minute; the baseline is the sample after the warm-up round.

At the end: every acknowledged record of "keep" is read back, the server is stopped with
SIGTERM (exit 0 expected), and the script exits 1 if fds or our own threads ever differed from
the baseline (io_uring's iou-wrk-* kernel workers come and go; shown, not compared).

"keep" grows by design: SOAK_KEEP_BATCHES (default 1) x 50 records of 200 B per round stay in
its in-memory tail (at most 32 MiB per shard), ~450 B each as stored, so RSS may legitimately
grow by that much; the table shows the record count.

    cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
    SOAK_SECONDS=600 /usr/bin/python3 tests/bench/soak.py

Env: SOAK_SECONDS (600), SHARDCASTD (build-rel/server/shardcastd), SOAK_KEEP_BATCHES (1),
SOAK_RECORD_BYTES (16000: the deleted stream's record size), SOAK_HEAP (1; 0: no gdb attach).
"""
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import churn_test  # noqa: E402
import harness  # noqa: E402


def heap_in_use(srv):
    """glibc's live heap bytes ("in use bytes" of malloc_stats' total), read by attaching gdb
    for a moment; None without gdb or with SOAK_HEAP=0. RSS alone cannot tell memory the
    allocator keeps from memory the server holds. Called only once the churn settled (threads
    idle in epoll_wait, so no arena lock is held)."""
    gdb = shutil.which("gdb")
    if gdb is None or os.environ.get("SOAK_HEAP", "1") == "0":
        return None
    try:
        subprocess.run([gdb, "-p", str(srv.proc.pid), "-batch", "-nx",
                        "-ex", "call (void)malloc_stats()"], capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    log = srv.read_log()
    i = log.rfind("Total (incl. mmap):")
    m = re.search(r"in use bytes\s*=\s*(\d+)", log[i:]) if i >= 0 else None
    return int(m.group(1)) if m else None


def row(label, rounds, s, keep_records, heap):
    iowq = sum(n.startswith("iou-") for n in s["names"])
    print("%-8s %7d %5d %8d %6d %9.1f %9.1f %9s %12d" % (
        label, rounds, len(s["fds"]), s["threads"] - iowq, iowq, s["rss"] / 1048576,
        s["hwm"] / 1048576, "-" if heap is None else "%.1f" % (heap / 1048576), keep_records),
        flush=True)


def main():
    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    harness.SHARDCASTD = os.environ.get("SHARDCASTD") or os.path.join(
        HERE, "..", "..", "build-rel", "server", "shardcastd")
    if not os.access(harness.SHARDCASTD, os.X_OK):
        sys.exit("no %s: build the release server first (see the docstring)" % harness.SHARDCASTD)
    cls = churn_test.ChurnTest
    cls.keep_batches = int(os.environ.get("SOAK_KEEP_BATCHES", "1"))
    cls.life_record_bytes = int(os.environ.get("SOAK_RECORD_BYTES", "16000"))
    srv = harness.Server("--limits", "off", "--heartbeat-ms", "300", "--workers", "2",
                         "--max-consumers", "20", tls=True)
    cls.server = srv
    t = cls("test_resources_stay_bounded_under_churn")
    problems = []
    try:
        sample = t.sample

        def sample_hwm():
            s = sample()
            with open("/proc/%d/status" % srv.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        s["hwm"] = int(line.split()[1]) * 1024
            return s
        t.sample = sample_hwm
        print("shardcastd %s pid %d, %.0f s, started %s" % (
            harness.SHARDCASTD, srv.proc.pid, seconds,
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())), flush=True)
        print("%-8s %7s %5s %8s %6s %9s %9s %9s %12s" % (
            "elapsed", "rounds", "fds", "threads", "io-wq", "RSS MiB", "HWM MiB", "heap MiB",
            "keep records"))
        t0 = time.monotonic()
        t.begin()
        t.round(0)
        base = t.settle()
        heaps = [heap_in_use(srv)]
        row("warm-up", 1, base, len(t.acked), heaps[-1])
        rounds, next_row, last = 1, 60.0, base
        rss = []
        while time.monotonic() - t0 < seconds:
            t.round(rounds)
            rounds += 1
            try:
                last = t.settle(base)
                t.check_fds(last, base, "round %d" % rounds)
                t.check_threads(last, base, "round %d" % rounds)
            except AssertionError as exc:
                problems.append(str(exc)[:3000])
                break
            rss.append(last["rss"])
            if time.monotonic() - t0 >= next_row:
                heaps.append(heap_in_use(srv))
                row("%d:%02d" % divmod(int(time.monotonic() - t0), 60), rounds, last,
                    len(t.acked), heaps[-1])
                next_row += 60.0
        heaps.append(heap_in_use(srv))
        row("end", rounds, last, len(t.acked), heaps[-1])
        n = t.check_acked()
        print("rounds %d in %.0f s; keep: %d acknowledged records read back (%d stored)"
              % (rounds, time.monotonic() - t0, len(t.acked), n))
        if rss:
            print("RSS after round 2 %.1f MiB, min %.1f, max %.1f, last %.1f MiB" % (
                rss[0] / 1048576, min(rss) / 1048576, max(rss) / 1048576, rss[-1] / 1048576))
    finally:
        try:
            code = srv.stop(expect_code=None)
            print("SIGTERM: exit %s" % code)
            if code != 0:
                problems.append("exit code %s" % code)
        finally:
            srv.cleanup()
    for p in problems:
        print("PROBLEM: %s" % p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
