#!/usr/bin/env bash
# Set up, build a release shardcastd in build/, and run it in the foreground on 127.0.0.1:4567
# with its data in ./shardcast-data. Extra arguments go to shardcastd (e.g. --limits off).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "${SHARDCAST_JOBS:-2}" --target shardcastd shardcast-loadtest
mkdir -p shardcast-data
exec build/server/shardcastd --listen 127.0.0.1:4567 --data-dir ./shardcast-data "$@"
