#!/usr/bin/env bash
# Compiles the Go SDK tests (v1/, v2/) into OUT_DIR/gosdk_v1.test and OUT_DIR/gosdk_v2.test,
# offline, against the SDK sources Debian installs under /usr/share/gocode
# (golang-github-aws-aws-sdk-go-dev, golang-github-aws-aws-sdk-go-v2-dev). GOPATH mode: those
# packages are a flat GOPATH tree (service/kinesis of v2 has no go.mod of its own), so module
# mode would need a replace line per module and still a module proxy for go.sum. Every write
# goes to OUT_DIR (the build cache included), none to the repository or to $HOME.
# Usage: build.sh OUT_DIR   (ctest runs it once per test run as the integration/go_build fixture)
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
src=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

# $src is on GOPATH too: src/sctest is the scaffolding both test packages import as "sctest".
export GO111MODULE=off GOPATH="/usr/share/gocode:$src" GOCACHE="$out/cache" GOENV=off GOFLAGS= \
    GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
for d in /usr/share/gocode/src/github.com/aws/aws-sdk-go/service/kinesis \
         /usr/share/gocode/src/github.com/aws/aws-sdk-go-v2/service/kinesis; do
    if [ ! -d "$d" ]; then
        echo "build.sh: $d missing; install the Debian packages (scripts/setup.sh)" >&2
        exit 1
    fi
done
cd "$src"
start=$(date +%s)
for v in v1 v2; do
    go test -c -o "$out/gosdk_$v.test.tmp" "./$v"
    mv -f "$out/gosdk_$v.test.tmp" "$out/gosdk_$v.test"
done
echo "build.sh: $(go version | cut -d' ' -f3) built gosdk_v1.test and gosdk_v2.test in $out" \
    "($(( $(date +%s) - start )) s)"
