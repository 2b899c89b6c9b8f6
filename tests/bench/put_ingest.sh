#!/bin/sh
# PutRecords ingest benchmark (not a test): starts a release shardcastd with --limits off
# --fsync interval in a temp dir, runs loadtest/h2load/run.sh PutRecords for 100 B and 1 KiB
# records over h2c and HTTP/1.1, and prints records/s, MB/s (decoded data bytes) and the
# server's CPU time per call (user + system, from /proc: less noisy than rates on a shared VM).
#
# usage: tests/bench/put_ingest.sh [SHARDCASTD]   (default build-rel/server/shardcastd;
#        build it with: cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release &&
#        cmake --build build-rel --target shardcastd)
# env:   REQUESTS (1000), RECORDS per call (500), CLIENTS (2), STREAMS (4), WORKERS (2),
#        SERVER_ARGS (more shardcastd flags, e.g. "--credentials FILE": the requests are signed
#        with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, so FILE must hold that key)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build-rel/server/shardcastd}
records=${RECORDS:-500}
dir=$(mktemp -d /tmp/shardcast-bench.XXXXXX)
"$bin" --listen 127.0.0.1:0 --data-dir "$dir/data" --limits off --fsync interval \
    --workers "${WORKERS:-2}" ${SERVER_ARGS:-} > "$dir/out" 2> "$dir/err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q listening "$dir/out" && break; sleep 0.1; done
ep=$(sed -n 's/^shardcastd listening on //p' "$dir/out")
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDSHARDCASTBENCH}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-6s %-5s %10s %12s %8s %12s %8s\n' size proto 'req/s' 'records/s' 'MB/s' \
    'srv ms/call' 'non-2xx'
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
for size in 100 1024; do
    for proto in h2 h1; do
        c0=$(cpu_ticks)
        out=$(RECORD_SIZE=$size RECORDS=$records REQUESTS=${REQUESTS:-1000} \
            CLIENTS=${CLIENTS:-2} STREAMS=${STREAMS:-4} STREAM=bench-$size PROTOCOLS=$proto \
            sh "$root/loadtest/h2load/run.sh" "$ep" PutRecords | tail -n +2)
        c1=$(cpu_ticks)
        echo "$out" | while read -r op p rps mean max sd bad; do
            awk -v s="$size" -v p="$p" -v r="$rps" -v n="$records" -v t=$((c1 - c0)) \
                -v hz="$(getconf CLK_TCK)" -v calls="${REQUESTS:-1000}" -v bad="$bad" 'BEGIN {
                printf "%-6s %-5s %10.1f %12.0f %8.1f %12.3f %8d\n", s, p, r, r * n,
                    r * n * s / 1e6, t / hz * 1000 / calls, bad }'
        done
    done
done
