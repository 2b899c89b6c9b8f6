#!/usr/bin/env bash
# compare.sh — one shardcast-loadtest workload against shardcastd, kinesalite and kinesis-mock,
# one after another, in one invocation: a side-by-side table on stdout and one combined JSON.
#
# The emulators are benchmark subjects only (never test dependencies): they are installed with
# npm into a temp dir outside the repository (kinesalite, and kinesis-mock's npm package
# kinesis-local), started on free loopback ports, and stopped by PID. Both listen on every
# interface and have no option to bind 127.0.0.1 only, so when we are root and `unshare -n`
# works, the servers and the clients run in a private network namespace that has nothing but
# the loopback interface (npm runs before, outside it).
#
# Workload (same for all three): shardcast-loadtest --mode both over h2c where the subject has
# SubscribeToShard and HTTP/2 (shardcastd, kinesis-mock); kinesalite has neither, so it gets
# --mode classic --h1 (same producer, same pollers, HTTP/1.1).
#
# usage: loadtest/compare.sh [--out DIR] [--shardcastd BIN] [--loadtest BIN] [--only NAMES]
#   --out DIR        results (default ./compare-<UTC time>); DIR/compare.json is the combined
#                    JSON, DIR/compare-cdf.svg every subject's CDF in one plot,
#                    DIR/<subject>/ holds each run's results.json, latency-cdf.svg, logs
#   --only NAMES     comma list of subjects (shardcastd,kinesalite,kinesis-mock)
# env: SHARDS (2) POLLERS (1) CONSUMERS (2) RATE records/s (200) SIZE bytes (1024)
#      DURATION s (10) WARMUP s (2) DRAIN_MS (5000) LIMITS for shardcastd (aws)
#      KINESALITE_VERSION (3.3.3) KINESIS_LOCAL_VERSION (0.6.2) NO_NETNS=1 (skip unshare)
# exit: 0 every subject's run completed (a subject's own failure is in the table, not here),
#       1 setup failed (npm, a server did not start), 2 usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="" shardcastd="$root/build-rel/server/shardcastd" lt="$root/build-rel/loadtest/shardcast-loadtest"
only="shardcastd,kinesalite,kinesis-mock"
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out=$2; shift 2 ;;
    --shardcastd) shardcastd=$2; shift 2 ;;
    --loadtest) lt=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --inner) inner=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
for b in "$shardcastd" "$lt"; do
    [ -x "$b" ] || { echo "compare.sh: $b not built (cmake --build build-rel)" >&2; exit 2; }
done
shardcastd=$(readlink -f "$shardcastd") lt=$(readlink -f "$lt")
: "${SHARDS:=2}" "${POLLERS:=1}" "${CONSUMERS:=2}" "${RATE:=200}" "${SIZE:=1024}"
: "${DURATION:=10}" "${WARMUP:=2}" "${DRAIN_MS:=5000}" "${LIMITS:=aws}"
: "${KINESALITE_VERSION:=3.3.3}" "${KINESIS_LOCAL_VERSION:=0.6.2}"
export SHARDS POLLERS CONSUMERS RATE SIZE DURATION WARMUP DRAIN_MS LIMITS
export KINESALITE_VERSION KINESIS_LOCAL_VERSION
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-AKIDSHARDCASTCOMPARE}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-compare}
export AWS_REGION=${AWS_REGION:-us-east-1}
PY=/usr/bin/python3

# ---- outer part: install the emulators, then run the inner part (in a netns if possible) ----
if [ -z "${inner:-}" ]; then
    out=${out:-$PWD/compare-$(date -u +%Y%m%dT%H%M%SZ)}
    mkdir -p "$out"
    out=$(readlink -f "$out")
    tmp=$(mktemp -d /tmp/shardcast-compare.XXXXXX)
    trap 'rm -rf "$tmp"' EXIT
    if [ "$only" != shardcastd ]; then
        echo "installing kinesalite@$KINESALITE_VERSION kinesis-local@$KINESIS_LOCAL_VERSION into $tmp" >&2
        (cd "$tmp" && timeout 300 npm install --no-audit --no-fund --loglevel=error \
            "kinesalite@$KINESALITE_VERSION" "kinesis-local@$KINESIS_LOCAL_VERSION") \
            > "$out/npm.log" 2>&1 || { echo "compare.sh: npm install failed, see $out/npm.log" >&2; exit 1; }
    fi
    args=(--out "$out" --shardcastd "$shardcastd" --loadtest "$lt" --only "$only" --inner "$tmp")
    if [ "$(id -u)" = 0 ] && [ -z "${NO_NETNS:-}" ] && unshare -n true 2>/dev/null; then
        echo "servers and clients run in a private network namespace (loopback only)" >&2
        echo "netns" > "$tmp/isolation"
        unshare -n bash -c 'ip link set lo up && exec "$@"' bash bash "$0" "${args[@]}"
    else
        echo "WARNING: no private network namespace: the emulators listen on every interface" >&2
        echo "host" > "$tmp/isolation"
        bash "$0" "${args[@]}"
    fi
    exit $?
fi

# ---- inner part: one subject after another ----
tmp=$inner
pids=()
stop_pid() { # stops one server we started: TERM, then KILL after 5 s
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() { for p in "${pids[@]}"; do stop_pid "$p"; done; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port, pid: 0 once something accepts on 127.0.0.1:port (30 s at most)
    for _ in $(seq 300); do
        kill -0 "$2" 2>/dev/null || return 1
        $PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2)' "$1" \
            2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

workload=(--stream compare --shards "$SHARDS" --pollers "$POLLERS" --consumers "$CONSUMERS"
          --rate "$RATE" --record-size "$SIZE" --duration "$DURATION" --warmup "$WARMUP"
          --drain-ms "$DRAIN_MS" --timeout-ms 10000 --quiet --cleanup)
budget=$($PY -c "import sys; print(int(float(sys.argv[1]) + float(sys.argv[2]) + int(sys.argv[3]) / 1000 + 150))" \
    "$DURATION" "$WARMUP" "$DRAIN_MS")

# run_subject NAME VERSION ENDPOINT SERVER_PID SERVER_CMD MODE_ARGS...
run_subject() {
    local name=$1 version=$2 ep=$3 pid=$4 scmd=$5
    shift 5
    local dir="$out/$name"
    local cmd=("$lt" --endpoint "$ep" "${workload[@]}" --out "$dir" "$@")
    echo "== $name: ${cmd[*]}" >&2
    local load0 load1 rc=0
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    timeout "$budget" "${cmd[@]}" > "$dir/stdout.txt" 2> "$dir/stderr.txt" || rc=$?
    load1=$(cut -d' ' -f1-3 /proc/loadavg)
    stop_pid "$pid"
    $PY - "$dir/subject.json" "$name" "$version" "$scmd" "$rc" "$load0" "$load1" "${cmd[@]}" <<'EOF'
import json, sys
path, name, version, scmd, rc, l0, l1 = sys.argv[1:8]
json.dump({"name": name, "version": version, "server_command": scmd, "exit_code": int(rc),
           "loadavg_before": l0, "loadavg_after": l1, "loadtest_command": sys.argv[8:]},
          open(path, "w"), indent=2)
EOF
    sed -n '/^$/,$p' "$dir/stdout.txt" >&2
}

IFS=, read -r -a subjects <<< "$only"
for s in "${subjects[@]}"; do
    dir="$out/$s"
    rm -rf "$dir"
    mkdir -p "$dir"
    case "$s" in
    shardcastd)
        data=$(mktemp -d "$tmp/shardcastd.XXXXXX")
        scmd="$shardcastd --listen 127.0.0.1:0 --data-dir $data --limits $LIMITS --fsync interval --max-consumers $((CONSUMERS > 20 ? CONSUMERS : 20))"
        $scmd > "$dir/server.out" 2> "$dir/server.err" &
        pid=$!
        pids+=("$pid")
        for _ in $(seq 100); do grep -q listening "$dir/server.out" && break; sleep 0.1; done
        ep=$(sed -n 's/^shardcastd listening on //p' "$dir/server.out")
        [ -n "$ep" ] || { echo "compare.sh: shardcastd did not start" >&2; cat "$dir/server.err" >&2; exit 1; }
        ver=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
        run_subject "$s" "commit $ver" "$ep" "$pid" "$scmd" --mode both
        ;;
    kinesalite)
        port=$(free_port)
        scmd="node $tmp/node_modules/kinesalite/cli.js --port $port --createStreamMs 50 --deleteStreamMs 50 --updateStreamMs 50 --shardLimit 1000"
        $scmd > "$dir/server.out" 2> "$dir/server.err" &
        pid=$!
        pids+=("$pid")
        wait_port "$port" "$pid" || { echo "compare.sh: kinesalite did not start" >&2; cat "$dir/server.err" >&2; exit 1; }
        run_subject "$s" "kinesalite $KINESALITE_VERSION (npm)" "http://127.0.0.1:$port" "$pid" "$scmd" \
            --mode classic --h1
        ;;
    kinesis-mock)
        port=$(free_port) tport=$(free_port)
        scmd="env KINESIS_MOCK_PLAIN_PORT=$port KINESIS_MOCK_TLS_PORT=$tport LOG_LEVEL=WARN CREATE_STREAM_DURATION=50ms DELETE_STREAM_DURATION=50ms REGISTER_STREAM_CONSUMER_DURATION=50ms DEREGISTER_STREAM_CONSUMER_DURATION=50ms SHARD_LIMIT=1000 node main.js"
        # main.js finds its TLS certificate (server.json) in the working directory.
        (cd "$tmp/node_modules/kinesis-local" && exec $scmd) > "$dir/server.out" 2> "$dir/server.err" &
        pid=$!
        pids+=("$pid")
        wait_port "$port" "$pid" || { echo "compare.sh: kinesis-mock did not start" >&2; cat "$dir/server.err" >&2; exit 1; }
        run_subject "$s" "kinesis-mock $KINESIS_LOCAL_VERSION (npm kinesis-local)" "http://127.0.0.1:$port" \
            "$pid" "$scmd" --mode both
        ;;
    *) echo "compare.sh: unknown subject $s" >&2; exit 2 ;;
    esac
done

# ---- combined JSON and the side-by-side table ----
$PY - "$out" "$(cat "$tmp/isolation")" "${subjects[@]}" <<'EOF'
import json, os, platform, subprocess, sys, time
out, isolation, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"
combined = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {"nproc": os.cpu_count(), "cpu": cpu(), "kernel": platform.release()},
            "isolation": isolation,
            "workload": {k: os.environ[k] for k in ("SHARDS", "POLLERS", "CONSUMERS", "RATE", "SIZE",
                                                    "DURATION", "WARMUP", "DRAIN_MS", "LIMITS")},
            "subjects": {}}
for n in names:
    d = os.path.join(out, n)
    subj = json.load(open(os.path.join(d, "subject.json")))
    res = os.path.join(d, "results.json")
    subj["results"] = json.load(open(res)) if os.path.exists(res) else None
    combined["subjects"][n] = subj
json.dump(combined, open(os.path.join(out, "compare.json"), "w"), indent=2, sort_keys=True)

def cell(n, path, key):
    r = combined["subjects"][n]["results"]
    if not r or path not in r["paths"]:
        return "-"
    p = r["paths"][path]
    if key.endswith("_us"):
        return "%.2f" % (p["latency"][key] / 1000.0) if p["latency"]["count"] else "-"
    v = p[key]
    return "%.1f" % v if isinstance(v, float) else str(v)
rows = []
for path in ("standard", "enhanced"):
    for label, key in (("p50 ms", "p50_us"), ("p99 ms", "p99_us"), ("p99.9 ms", "p999_us"),
                       ("max ms", "max_us"), ("records/s delivered", "records_per_s"),
                       ("missing", "missing"), ("throttled calls", "throttled")):
        rows.append(("%s %s" % (path, label), [cell(n, path, key) for n in names]))
def prod(n, k):
    r = combined["subjects"][n]["results"]
    return str(r["producer"][k]) if r else "-"
def put(n, k):
    r = combined["subjects"][n]["results"]
    lat = r and r["producer"].get("put_latency")
    return "%.2f" % (lat[k] / 1000.0) if lat and lat["count"] else "-"
rows.append(("PutRecords call p50 ms", [put(n, "p50_us") for n in names]))
rows.append(("PutRecords call p99 ms", [put(n, "p99_us") for n in names]))
rows.append(("producer acked", [prod(n, "acked") for n in names]))
rows.append(("producer failed", [prod(n, "failed") for n in names]))
rows.append(("loadtest exit code", [str(combined["subjects"][n]["exit_code"]) for n in names]))
rows.append(("load avg before", [combined["subjects"][n]["loadavg_before"].split()[0] for n in names]))
rows.append(("load avg after", [combined["subjects"][n]["loadavg_after"].split()[0] for n in names]))
w = max(14, max(len(n) for n in names) + 2)
print("workload: %s" % " ".join("%s=%s" % kv for kv in combined["workload"].items()))
print("machine: %(nproc)s cpu, %(cpu)s, kernel %(kernel)s; %%s" % combined["machine"] % combined["date_utc"])
print("%-28s" % "" + "".join("%*s" % (w, n) for n in names))
for label, vals in rows:
    print("%-28s" % label + "".join("%*s" % (w, v) for v in vals))
for n in names:
    r = combined["subjects"][n]["results"]
    if r and r.get("failure"):
        print("%s: FAILED: %s" % (n, r["failure"]))
print("combined JSON: %s" % os.path.join(out, "compare.json"))

# One CDF plot of every subject's paths (log latency axis), like shardcast-loadtest's own.
import math
curves = []
colors = {"shardcastd": ("#1f77b4", "#d62728"), "kinesalite": (None, "#ff7f0e"),
          "kinesis-mock": ("#2ca02c", "#9467bd")}
for n in names:
    r = combined["subjects"][n]["results"]
    for i, path in enumerate(("enhanced", "standard")):
        if r and path in r["paths"] and r["paths"][path]["latency"]["count"]:
            lat = r["paths"][path]["latency"]
            col = colors.get(n, ("#333", "#777"))[i] or "#777"
            curves.append(("%s %s: p50 %.2f ms, p99 %.2f ms" % (
                n, path, lat["p50_us"] / 1e3, lat["p99_us"] / 1e3), col,
                [(max(us, 1), f) for us, f in lat["cdf"]], path == "standard"))
if curves:
    lo = min(c[2][0][0] for c in curves)
    hi = max(c[2][-1][0] for c in curves)
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi + 1))
    d1 = max(d1, d0 + 1)
    W, H, ml, mr, mt, mb = 860, 500, 70, 20, 40, 60
    pw, ph = W - ml - mr, H - mt - mb
    X = lambda us: ml + (math.log10(us) - d0) / (d1 - d0) * pw
    Y = lambda f: mt + ph - f * ph
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="16">Propagation delay CDF (sent -&gt; received), '
           'compare.sh %s</text>' % (ml, combined["date_utc"])]
    for d in range(d0, d1 + 1):
        x = X(10 ** d)
        svg.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>'
                   '<text x="%.1f" y="%d" text-anchor="middle">%g ms</text>'
                   % (x, mt, x, mt + ph, x, mt + ph + 18, 10 ** d / 1e3))
    for i in range(11):
        y = Y(i / 10)
        svg.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>'
                   '<text x="%d" y="%.1f" text-anchor="end">%.1f</text>'
                   % (ml, y, ml + pw, y, ml - 6, y + 4, i / 10))
    svg.append('<text x="%d" y="%d" text-anchor="middle">latency (log scale)</text>'
               % (ml + pw / 2, H - 16))
    for k, (label, col, pts, dashed) in enumerate(curves):
        prev, coords = Y(0), []
        for us, f in pts:
            coords.append("%.1f,%.1f %.1f,%.1f" % (X(us), prev, X(us), Y(f)))
            prev = Y(f)
        svg.append('<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>'
                   % (col, ' stroke-dasharray="6 3"' if dashed else "", " ".join(coords)))
        svg.append('<rect x="%d" y="%d" width="14" height="4" fill="%s"/><text x="%d" y="%d">%s</text>'
                   % (ml + 10, mt + 12 + k * 18, col, ml + 30, mt + 17 + k * 18, label))
    svg.append("</svg>")
    with open(os.path.join(out, "compare-cdf.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")
    print("combined CDF plot: %s" % os.path.join(out, "compare-cdf.svg"))
EOF
