#!/bin/sh
# Micro-benchmark (not a test): ns per crc32_concat (common/crc32.c) against zlib's
# crc32_combine, for record-like lengths (4 distinct lengths: the per-length cache hits) and for
# 1024 distinct lengths (it misses). Needs the release build (build-rel/common/libsc_common.a).
# usage: tests/bench/crc_concat.sh
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/b.c" <<'C'
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <zlib.h>
#include "common/crc32.h"
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}
int main(void)
{
    const int n = 2000000;
    uint32_t c = 1;
    double t = now();
    for (int i = 0; i < n; i++)
        c = (uint32_t)crc32_combine(c, (uint32_t)i, 1400 + (i & 3));
    double zl = now() - t;
    t = now();
    for (int i = 0; i < n; i++)
        c = crc32_concat(c, (uint32_t)i, 1400 + (uint64_t)(i & 3));
    double hit = now() - t;
    t = now();
    for (int i = 0; i < n; i++)
        c = crc32_concat(c, (uint32_t)i, 1400 + (uint64_t)(i & 1023));
    double miss = now() - t;
    printf("zlib crc32_combine %.0f ns; crc32_concat %.0f ns (4 lengths), %.0f ns (1024 lengths)"
           " [%u]\n", zl / n * 1e9, hit / n * 1e9, miss / n * 1e9, c);
    return 0;
}
C
gcc -O2 -I"$root" "$tmp/b.c" "$root/build-rel/common/libsc_common.a" -lz -o "$tmp/b"
"$tmp/b"
