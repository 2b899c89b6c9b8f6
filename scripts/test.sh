#!/usr/bin/env bash
# The whole suite as CI runs it: setup, ASan+UBSan -Werror build in build-ci/, every unit and
# integration test through ctest. Exits with ctest's code; ctest's summary is the last output.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

JOBS=${SHARDCAST_JOBS:-2}
cmake -S . -B build-ci -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DSHARDCAST_WERROR=ON -DSHARDCAST_SANITIZE=ON
cmake --build build-ci -j "$JOBS"

# Leak checking stays on: a server that leaks exits nonzero and its test fails.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export PYTHONDONTWRITEBYTECODE=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd build-ci
set +e
ctest --output-on-failure -j "$JOBS" --timeout 600
rc=$?
exit $rc
