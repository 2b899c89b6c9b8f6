#!/bin/bash
# efo_callgrind.sh — benchmark (not a test): server instructions for one SubscribeToShard run.
# Starts shardcastd under callgrind (127.0.0.1:0, temp dir, --limits off --fsync interval, plus
# $SRVARGS), runs shardcast-loadtest efo (1 shard, CONSUMERS, 50 records/s of SIZE bytes, 4 s + 1 s
# warmup), stops the server and prints the delivered count and total Ir. Per-consumer cost =
# (Ir(5 consumers) - Ir(2 consumers)) / (3 * records produced).
# usage: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y SRVARGS="--workers 1" \
#        tests/bench/efo_callgrind.sh build-rel OUTPREFIX CONSUMERS SIZE
set -u
B=$1 O=$2 N=$3 S=$4
D=$(mktemp -d /tmp/efo-cg-data.XXXXXX)
valgrind --tool=callgrind --callgrind-out-file="$O.cg" "$B/server/shardcastd" --listen 127.0.0.1:0 \
    --data-dir "$D" --limits off --fsync interval ${SRVARGS:-} > "$O.srv.log" 2>&1 &
SP=$!
PORT=
for _ in $(seq 300); do
    PORT=$(grep -o "listening on http://127.0.0.1:[0-9]*" "$O.srv.log" | head -1 | cut -d: -f3)
    [ -n "$PORT" ] && break
    sleep 0.1
done
"$B/loadtest/shardcast-loadtest" --endpoint "http://127.0.0.1:$PORT" --mode efo --stream cg \
    --shards 1 --consumers "$N" --rate 50 --record-size "$S" --duration 4 --warmup 1 --out "$O" \
    > "$O.lt.log" 2>&1
kill -TERM $SP
wait $SP 2>/dev/null
rm -rf "$D"
echo "$O consumers=$N size=$S $(grep 'records delivered' "$O.lt.log" | tr -s ' ')" \
     "$(grep '^produced' "$O.lt.log" | cut -d, -f1) $(grep '^summary' "$O.cg")"
