#!/usr/bin/env bash
# Install everything the build and every test needs on Debian 12, then the JS test dependencies.
# Idempotent: apt runs only when a package is missing, npm ci only when package-lock.json changed.
# Run as root (CI does); `sudo bash scripts/setup.sh` elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(
    build-essential cmake ninja-build pkg-config git ca-certificates
    libnghttp2-dev libevent-dev libjansson-dev liburing-dev libssl-dev zlib1g-dev
    openssl awscli python3 python3-boto3 nghttp2-client
    # CBOR tests (tests/integration/cbor_test.py): a CBOR codec and an HTTP/2 client for Python.
    python3-cbor2 python3-h2
    # libFuzzer harnesses (tests/fuzz, clang builds only): clang + its fuzzer runtime.
    clang libclang-rt-14-dev
    # clang-format for .clang-format (style.md).
    clang-format
    # Go SDK tests (tests/integration/go, go_sdk_v*_test.py): the Go toolchain and Debian's AWS
    # SDK for Go v1 and v2 sources, built offline in GOPATH mode (no module proxy needed).
    golang-go golang-github-aws-aws-sdk-go-dev golang-github-aws-aws-sdk-go-v2-dev
    # Java CBOR tests (tests/integration/java, java_cbor_test.py): a JDK and Jackson's CBOR codec
    # (the Java SDKs' Kinesis wire format; pulls in libjackson2-core-java), compiled with javac.
    default-jdk-headless libjackson2-dataformat-cbor
)
# Node: the JS SDK tests need node >= 18 and npm. A machine that already has Node (e.g. from
# nodesource, which bundles npm) keeps it; otherwise Debian 12's nodejs (18.x) + npm.
if ! command -v node >/dev/null 2>&1; then
    PKGS+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing packages (${missing[*]}); run as root: sudo bash $0" >&2
        exit 1
    fi
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
    echo "setup.sh: node $(node --version) is too old; the JS SDK tests need >= 18" >&2
    exit 1
fi

# JS test dependencies, exactly as locked. The stamp avoids reinstalling on every test run.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.shardcast-lock-sha256 2>/dev/null || true)" != "$lock_sum" ]; then
    echo "setup.sh: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$lock_sum" > node_modules/.shardcast-lock-sha256
fi
echo "setup.sh: ok (node $(node --version), $(/usr/bin/aws --version 2>&1 | cut -d' ' -f1)," \
    "$(go version | cut -d' ' -f3), $(javac -version 2>&1))"
