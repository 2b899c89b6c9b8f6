#!/bin/sh
# Fan-out benchmark (not a test): for each step of N pipes (N/CONSUMERS shards x CONSUMERS
# enhanced consumers) starts a fresh release shardcastd (--limits aws --fsync interval) in a
# temp dir on 127.0.0.1:0, runs `shardcast-loadtest --stress --cleanup` with RATE_PER_SHARD
# records/s of SIZE bytes per shard, then reads GET /stats and stops the server by PID.
# Prints one line per step: pipes, latency percentiles, per-pipe and total delivered MiB/s,
# missing deliveries, producer throttles, load average; then the delay split at the arrival
# stamp, the server's CPU seconds, the box's busy CPU seconds and steal during the run, the p99
# of each measured second, and the zero-copy counters.
#
# A pipe's read limit is 2 MiB/s, but --limits aws caps a shard's writes at 1 MiB/s and 1000
# records/s, so a "fully loaded" pipe carries what its shard can take: 950 x 1 KiB/s by default.
# The same script measures put->push latency at a light load: STEPS=5 RATE_PER_SHARD=100.
#
# usage: tests/bench/fanout.sh [OUTDIR]   (default: a temp dir, printed)
# env:   STEPS ("25 50 100 150") CONSUMERS (5) RATE_PER_SHARD (950) SIZE (1024) DURATION (10)
#        WARMUP (2) SHARDCASTD (build-rel/server/shardcastd) LOADTEST
#        (build-rel/loadtest/shardcast-loadtest) SERVER_ARGS (extra shardcastd flags, after the defaults,
#        so "--limits off" replaces --limits aws) LOADTEST_ARGS (extra load generator flags,
#        e.g. "--cbor": subscribe in CBOR as the Java SDKs do)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SHARDCASTD:-$root/build-rel/server/shardcastd}
lt=${LOADTEST:-$root/build-rel/loadtest/shardcast-loadtest}
steps=${STEPS:-25 50 100 150}
consumers=${CONSUMERS:-5}
rps=${RATE_PER_SHARD:-950}
size=${SIZE:-1024}
out=${1:-$(mktemp -d /tmp/shardcast-fanout.XXXXXX)}
mkdir -p "$out"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDSHARDCASTBENCH}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
maxc=$consumers
[ "$maxc" -ge 20 ] || maxc=20
pid=
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; true' EXIT
echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); date: $(date -u +%Y-%m-%dT%H:%M:%SZ); out: $out"
printf '%5s %6s %8s %8s %8s %8s %8s %9s %9s %9s %7s %5s %14s\n' pipes rec/s p50ms p99ms p999ms maxms \
    pipeMiB minMiB egressMiB missing thrtl ok loadavg
for n in $steps; do
    shards=$(( (n + consumers - 1) / consumers ))
    rate=$((shards * rps))
    dir="$out/pipes-$n"
    mkdir -p "$dir"
    "$bin" --listen 127.0.0.1:0 --data-dir "$dir/data" --limits aws --fsync interval \
        --max-consumers "$maxc" ${SERVER_ARGS:-} > "$dir/server.out" 2> "$dir/server.err" &
    pid=$!
    for _ in $(seq 50); do grep -qs listening "$dir/server.out" && break; sleep 0.1; done
    ep=$(sed -n 's/^shardcastd listening on //p' "$dir/server.out")
    [ -n "$ep" ] || { echo "shardcastd did not start: $(cat "$dir/server.err")" >&2; exit 1; }
    load0=$(cut -d' ' -f1 /proc/loadavg)
    # The whole box's CPU ticks over the load generator's run: busy (user..softirq), steal
    # (the host ran something else on our vCPUs), all. On a shared VM the tail follows steal.
    ticks='/^cpu /{print $2+$3+$4+$7+$8, $9, $2+$3+$4+$5+$6+$7+$8+$9}'
    cpu0=$(awk "$ticks" /proc/stat)
    set -- "$lt" --endpoint "$ep" --stream fanout --shards "$shards" --consumers "$consumers" \
        --stress --rate "$rate" --record-size "$size" --duration "${DURATION:-10}" \
        --warmup "${WARMUP:-2}" --drain-ms 3000 --quiet --cleanup --out "$dir" ${LOADTEST_ARGS:-}
    echo "$*" > "$dir/command.txt"
    rc=0
    timeout 180 "$@" > "$dir/stdout.txt" 2> "$dir/stderr.txt" || rc=$?
    load1=$(cut -d' ' -f1 /proc/loadavg)
    cpu1=$(awk "$ticks" /proc/stat)
    curl -s --max-time 5 "$ep/stats" > "$dir/stats.json" || true
    # The server's CPU over its whole life (setup, warm-up, run, drain), io_uring workers included.
    cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$pid/stat" 2>/dev/null || echo "?")
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
    rm -rf "$dir/data"
    /usr/bin/python3 - "$dir" "$rc" "$load0/$load1" "$cpu" "$cpu0" "$cpu1" <<'EOF'
import json, os, sys
d, rc, load, cpu = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t0, t1 = [list(map(int, a.split())) for a in sys.argv[5:7]]
busy, steal, total = (b - a for a, b in zip(t0, t1))
try:
    r = json.load(open(os.path.join(d, "results.json")))
except (OSError, ValueError):
    print("  run failed (exit %d): %s" % (rc, open(os.path.join(d, "stderr.txt")).read()[-300:]))
    sys.exit(0)
e, st, lat = r["paths"]["enhanced"], r["stress"], r["paths"]["enhanced"]["latency"]
print("%5d %6d %8.3f %8.3f %8.3f %8.1f %8.3f %9.3f %9.2f %9d %7d %5s %14s" % (
    st["pipes"], r["config"]["rate"], lat["p50_us"] / 1e3, lat["p99_us"] / 1e3,
    lat["p999_us"] / 1e3, lat["max_us"] / 1e3, st["pipe_mib_per_s_mean"],
    st["pipe_mib_per_s_min"], st["egress_mib_per_s"], e["missing"], r["producer"]["throttled"],
    "yes" if rc == 0 else "NO", load))
li, lo = e.get("latency_send_to_arrival"), e.get("latency_arrival_to_delivery")
if li and lo and li["count"]:
    print("      legs (ms, at the server's ms arrival stamp): send->arrival p50 %.1f p99 %.1f max %.1f;"
          " arrival->delivery p50 %.1f p99 %.1f max %.1f; PutRecords call p99 %.1f" % (
              li["p50_us"] / 1e3, li["p99_us"] / 1e3, li["max_us"] / 1e3, lo["p50_us"] / 1e3,
              lo["p99_us"] / 1e3, lo["max_us"] / 1e3,
              r["producer"]["put_latency"]["p99_us"] / 1e3))
print("      shardcastd CPU: %s s over its life; the box during the run: busy %.1f CPU s, steal "
      "%.1f%% of all ticks" % (cpu, busy / 100.0, 100.0 * steal / total if total else 0))
if e.get("timeline"):
    print("      p99 ms by second: " + " ".join("%.1f" % (t["p99_us"] / 1e3) for t in e["timeline"]))
try:
    s = json.load(open(os.path.join(d, "stats.json")))
    moved = s["h2_data_ref_bytes"] + s["h2_data_copied_bytes"]
    print("      stats: h2 DATA bytes by reference %d, copied %d (%.2f%% copied); tail frames "
          "built %d, handed out %d (%.1f per build); catch-up frames %d; tail drops %d" % (
              s["h2_data_ref_bytes"], s["h2_data_copied_bytes"],
              100.0 * s["h2_data_copied_bytes"] / moved if moved else 0, s["tail_frames_built"],
              s["tail_frames_handed"],
              s["tail_frames_handed"] / s["tail_frames_built"] if s["tail_frames_built"] else 0,
              s["catchup_frames"], s["tail_drops"]))
except (OSError, ValueError, KeyError) as ex:
    print("      stats: unavailable (%s)" % ex)
EOF
done
