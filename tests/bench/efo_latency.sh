#!/bin/bash
# efo_latency.sh — benchmark (not a test): put -> push latency, 1 shard, 5 consumers, 1 KiB
# records at 100 records/s over h2c, --fsync interval (the target: p50 <= 1 ms, p99 <= 5 ms).
# usage: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y DUR=20 tests/bench/efo_latency.sh build-rel OUTDIR
set -u
B=$1 O=$2
D=$(mktemp -d /tmp/efo-lat-data.XXXXXX)
"$B/server/shardcastd" --listen 127.0.0.1:0 --data-dir "$D" --limits off --fsync interval \
    > "$O.srv.log" 2>&1 &
SP=$!
PORT=
for _ in $(seq 50); do
    PORT=$(grep -o "listening on http://127.0.0.1:[0-9]*" "$O.srv.log" | head -1 | cut -d: -f3)
    [ -n "$PORT" ] && break
    sleep 0.1
done
uptime
"$B/loadtest/shardcast-loadtest" --endpoint "http://127.0.0.1:$PORT" --mode efo --stream lat \
    --shards 1 --consumers 5 --rate 100 --record-size 1024 --duration "${DUR:-20}" --warmup 3 \
    --out "$O" 2>&1 | grep -E "^p(50|90|99|99.9) ms|records (delivered|missing)"
kill $SP
wait $SP 2>/dev/null
rm -rf "$D"
