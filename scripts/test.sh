#!/usr/bin/env bash
# The whole suite as CI runs it: setup, a -Werror release build, an ASan+UBSan -Werror build in
# build-ci/, every unit and integration test through ctest. Exits with ctest's code; ctest's summary is the last output.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# Every client the integration tests drive must be present: a missing one is a failure here,
# never a skipped test later.
preflight() {
    local what=$1; shift
    if ! "$@" >/dev/null 2>&1; then
        echo "test.sh: required client missing or broken: $what" >&2
        exit 1
    fi
}
preflight "AWS CLI v2 (/usr/bin/aws)" /usr/bin/aws --version
preflight "boto3 for /usr/bin/python3" /usr/bin/python3 -c 'import boto3, botocore'
preflight "python3-cbor2 and python3-h2 (CBOR tests)" /usr/bin/python3 -c 'import cbor2, h2'
preflight "@aws-sdk/client-kinesis (npm ci)" \
    node --input-type=module -e "await import('@aws-sdk/client-kinesis'); await import('@smithy/node-http-handler')"
preflight "openssl" openssl version
preflight "nghttp2-client (nghttp, h2load)" sh -c 'command -v nghttp && command -v h2load'
preflight "Go toolchain (golang-go)" go version
gosdk=/usr/share/gocode/src/github.com/aws
preflight "AWS SDK for Go v1 and v2 service/kinesis (golang-github-aws-aws-sdk-go{,-v2}-dev)" \
    test -f $gosdk/aws-sdk-go/service/kinesis/api.go \
    -a -f $gosdk/aws-sdk-go-v2/service/kinesis/api_op_SubscribeToShard.go
preflight "JDK (default-jdk-headless)" sh -c 'javac -version && java -version'
jackson=/usr/share/java/jackson
preflight "Jackson's CBOR codec (libjackson2-dataformat-cbor, libjackson2-core-java)" \
    test -f $jackson-core.jar -a -f $jackson-dataformat-cbor.jar

JOBS=${SHARDCAST_JOBS:-2}
cmake -S . -B build-ci -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DSHARDCAST_WERROR=ON -DSHARDCAST_SANITIZE=ON
cmake --build build-ci -j "$JOBS"
# Some warnings (-Wmaybe-uninitialized, -Wformat-truncation, -Wnull-dereference) only appear with
# the optimiser on, so the release build must be warning-free too.
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSHARDCAST_WERROR=ON
cmake --build build-release -j "$JOBS"

# Leak checking stays on: a server that leaks exits nonzero and its test fails.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export PYTHONDONTWRITEBYTECODE=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-ci
set +e
ctest --output-on-failure -j "$JOBS" --timeout 600
rc=$?
exit $rc
