#!/bin/sh
# The reference runs behind docs/benchmarks.md (not a test), one after another, each logged
# with its exact command line and the 1/5/15-minute load average before and after, into
# OUTDIR/<n>-<name>.txt. Every run starts and stops its own servers on 127.0.0.1 by PID.
#
# usage: tests/bench/reference.sh OUTDIR [STEP...]
#   steps: ingest drain latency fanout fanout2m compare (default: all, in that order)
#   fanout: pipes at their shard's write limit under --limits aws (0.93 MiB/s each);
#   fanout2m: pipes at 1.9 MiB/s (--limits off, 1950 x 1 KiB records/s written per shard)
# Build first: cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-rel
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: reference.sh OUTDIR [STEP...]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)
steps=${*:-ingest drain latency fanout fanout2m compare}
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git -C "$root" rev-parse --short HEAD)"
    echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
} | tee "$out/machine.txt"
n=0
run() { # name command...
    name=$1
    shift
    n=$((n + 1))
    f="$out/$n-$name.txt"
    {
        echo "\$ $*"
        echo "start $(date -u +%H:%M:%SZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$f"
    rc=0
    "$@" >> "$f" 2>&1 || rc=$?
    echo "end $(date -u +%H:%M:%SZ) loadavg $(cut -d' ' -f1-3 /proc/loadavg) exit $rc" >> "$f"
    cat "$f"
}
cd "$root"
for s in $steps; do
    case "$s" in
    ingest) run ingest sh tests/bench/put_ingest.sh build-rel/server/shardcastd ;;
    drain) run drain /usr/bin/python3 tests/bench/get_drain.py --shardcastd build-rel/server/shardcastd \
        --records 1000000 --size 100 --passes 3 ;;
    latency) run latency env STEPS=5 CONSUMERS=5 RATE_PER_SHARD=100 SIZE=1024 DURATION=30 WARMUP=2 \
        sh tests/bench/fanout.sh "$out/latency" ;;
    fanout) run fanout env STEPS="25 50 75 100 150" CONSUMERS=5 RATE_PER_SHARD=950 SIZE=1024 DURATION=10 \
        WARMUP=2 sh tests/bench/fanout.sh "$out/fanout" ;;
    fanout2m) run fanout2m env SERVER_ARGS="--limits off" STEPS="25 50 75 100 125" CONSUMERS=5 \
        RATE_PER_SHARD=1950 SIZE=1024 DURATION=10 WARMUP=2 sh tests/bench/fanout.sh "$out/fanout2m" ;;
    compare) run compare env SHARDS=2 POLLERS=1 CONSUMERS=2 RATE=200 SIZE=1024 DURATION=20 WARMUP=2 \
        bash loadtest/compare.sh --out "$out/compare" ;;
    *) echo "unknown step $s" >&2; exit 2 ;;
    esac
done
