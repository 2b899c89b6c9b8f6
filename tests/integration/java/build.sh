#!/usr/bin/env bash
# Compiles the Java CBOR test client (src/*.java) into OUT_DIR/classes with plain javac against
# Debian's Jackson jars (default-jdk-headless, libjackson2-dataformat-cbor, which pulls in
# libjackson2-core-java): the CBOR codec the AWS SDKs for Java use for Kinesis, without the SDK
# itself (Debian does not package it). No Maven/Gradle, nothing fetched. Every write goes to
# OUT_DIR. -Xlint:all -Werror keeps the client warning-free like the C code (but for "path": the
# CBOR jar's manifest names /usr/share/java/junit4.jar, a test dependency Debian does not pull in).
# Usage: build.sh OUT_DIR   (ctest runs it once per test run as the integration/java_build fixture;
# java_cbor_test.py runs the result with the same class path, printed in OUT_DIR/classpath)
set -euo pipefail
out=${1:?usage: build.sh OUT_DIR}
src=$(cd "$(dirname "$0")" && pwd)/src
mkdir -p "$out"
out=$(cd "$out" && pwd)

jars=(/usr/share/java/jackson-core.jar /usr/share/java/jackson-dataformat-cbor.jar)
for j in "${jars[@]}"; do
    if [ ! -f "$j" ]; then
        echo "build.sh: $j missing; install the Debian packages (scripts/setup.sh)" >&2
        exit 1
    fi
done
if ! command -v javac >/dev/null 2>&1; then
    echo "build.sh: javac missing; install default-jdk-headless (scripts/setup.sh)" >&2
    exit 1
fi
cp=$(IFS=:; echo "${jars[*]}")
start=$(date +%s)
rm -rf "$out/classes.tmp"
mkdir -p "$out/classes.tmp"
javac -Xlint:all,-path -Werror -encoding UTF-8 -cp "$cp" -d "$out/classes.tmp" "$src"/*.java
rm -rf "$out/classes"
mv "$out/classes.tmp" "$out/classes"
echo "$out/classes:$cp" > "$out/classpath"
echo "build.sh: $(javac -version 2>&1) compiled $(ls "$src"/*.java | wc -l) sources into" \
    "$out/classes ($(( $(date +%s) - start )) s)"
