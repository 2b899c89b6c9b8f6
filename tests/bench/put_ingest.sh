#!/bin/sh
# PutRecords ingest benchmark (not a test): starts a release shardcastd with --limits off
# --fsync interval in a temp dir, runs loadtest/h2load/run.sh PutRecords for 100 B and 1 KiB
# records over h2c and HTTP/1.1, and prints records/s and MB/s (decoded data bytes).
#
# usage: tests/bench/put_ingest.sh [SHARDCASTD]   (default build-rel/server/shardcastd;
#        build it with: cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release &&
#        cmake --build build-rel --target shardcastd)
# env:   REQUESTS (1000), RECORDS per call (500), CLIENTS (2), STREAMS (4), WORKERS (2)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${1:-$root/build-rel/server/shardcastd}
records=${RECORDS:-500}
dir=$(mktemp -d /tmp/shardcast-bench.XXXXXX)
"$bin" --listen 127.0.0.1:0 --data-dir "$dir/data" --limits off --fsync interval \
    --workers "${WORKERS:-2}" > "$dir/out" 2> "$dir/err" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do grep -q listening "$dir/out" && break; sleep 0.1; done
ep=$(sed -n 's/^shardcastd listening on //p' "$dir/out")
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDSHARDCASTBENCH}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-bench}
echo "machine: $(nproc) cpu, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-6s %-5s %10s %12s %8s\n' size proto 'req/s' 'records/s' 'MB/s'
for size in 100 1024; do
    RECORD_SIZE=$size RECORDS=$records REQUESTS=${REQUESTS:-1000} CLIENTS=${CLIENTS:-2} \
        STREAMS=${STREAMS:-4} STREAM=bench-$size \
        sh "$root/loadtest/h2load/run.sh" "$ep" PutRecords | tail -n +2 |
        while read -r op proto rps rest; do
            awk -v s="$size" -v p="$proto" -v r="$rps" -v n="$records" 'BEGIN {
                printf "%-6s %-5s %10.1f %12.0f %8.1f\n", s, p, r, r * n, r * n * s / 1e6 }'
        done
done
