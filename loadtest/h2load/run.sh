#!/bin/sh
# h2load scenarios for the Kinesis data plane: PutRecord, PutRecords, GetRecords, each over
# HTTP/2 (h2c prior knowledge or TLS ALPN h2) and over HTTP/1.1 (--h1). Prints requests/s and
# latency per scenario. See loadtest/README.md.
#
# usage: run.sh ENDPOINT [OP ...]      (default OPs: PutRecord PutRecords GetRecords)
# env:   STREAM (h2load-bench), REQUESTS (2000), CLIENTS (4), STREAMS per client (8),
#        RECORD_SIZE (100), RECORDS per PutRecords (100), PROTOCOLS ("h2 h1"),
#        plus the usual AWS_* credentials (requests are signed once; valid 5 minutes).
set -eu
endpoint=${1:?usage: run.sh ENDPOINT [OP ...]}
shift
ops=${*:-PutRecord PutRecords GetRecords}
here=$(cd "$(dirname "$0")" && pwd)
stream=${STREAM:-h2load-bench}
requests=${REQUESTS:-2000}
clients=${CLIENTS:-4}
streams=${STREAMS:-8}
record_size=${RECORD_SIZE:-100}
records=${RECORDS:-100}
protocols=${PROTOCOLS:-h2 h1}
command -v h2load >/dev/null || { echo "h2load not found (Debian: nghttp2-client)" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-11s %-5s %10s %10s %10s %10s %8s\n' op proto 'req/s' 'mean ms' 'max ms' 'sd ms' 'non-2xx'
for op in $ops; do
    /usr/bin/python3 "$here/kinesis_request.py" "$op" "$endpoint" "$stream" "$tmp/body" \
        "$tmp/headers" --record-size "$record_size" --records "$records"
    set --
    while IFS= read -r h; do set -- "$@" -H "$h"; done < "$tmp/headers"
    for proto in $protocols; do
        flag=
        m=$streams
        if [ "$proto" = h1 ]; then flag=--h1; m=1; fi
        # shellcheck disable=SC2086
        # -N: a server that stops answering ends the run instead of hanging it.
        if ! timeout "${TIMEOUT:-300}" h2load -N 30s $flag -n "$requests" -c "$clients" -m "$m" \
                -d "$tmp/body" "$@" \
                "$endpoint/" > "$tmp/out" 2>&1; then
            echo "h2load failed for $op $proto:" >&2
            cat "$tmp/out" >&2
            exit 1
        fi
        /usr/bin/python3 - "$op" "$proto" "$tmp/out" <<'PY'
import re, sys
op, proto, path = sys.argv[1:4]
text = open(path).read()
rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text)
lat = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
done = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", text)
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
if not (rps and lat and codes):
    sys.exit("cannot parse h2load output:\n" + text)
non2xx = sum(int(codes.group(i)) for i in (2, 3, 4)) + (int(done.group(3)) if done else 0)
print(f"{op:<11} {proto:<5} {float(rps.group(1)):>10.1f} {ms(lat.group(3)):>10.3f} "
      f"{ms(lat.group(2)):>10.3f} {ms(lat.group(4)):>10.3f} {non2xx:>8}")
PY
    done
done
