/* replay.c — runs a libFuzzer harness without libFuzzer, so the gcc ASan+UBSan build that CI
 * uses exercises every harness on every commit (ctest `fuzz/<name>`).
 *
 * usage: <name>_replay CORPUS_DIR [COUNT [SEED]]
 *
 * Feeds each file of CORPUS_DIR as it is, then COUNT inputs derived from them with a fixed-seed
 * generator: bit flips, bytes set to values that matter to our parsers (quotes, brackets, CR/LF,
 * 0x00, 0x80, 0xFF, digits), insertions, deletions, duplicated ranges, splices of two seeds,
 * truncations, and some purely random buffers. Deterministic: a failure names its iteration and
 * seed, and the same command reproduces it. Blind mutation finds far less than coverage-guided
 * fuzzing (build with clang and -DSHARDCAST_FUZZ=ON for that); this is the regression net. A
 * crash, sanitizer report or failed ASSERT ends the process non-zero, which fails the test; with
 * REPLAY_SAVE=FILE in the environment every input is written to FILE before it runs, so FILE
 * holds the one that failed (feed it to the libFuzzer binary or a debugger). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_SEEDS_MAX 256
#define REPLAY_INPUT_MAX (64 * 1024)

struct seed {
    uint8_t *data;
    size_t len;
};

static uint64_t rng_state;
static const char *save_path;

static void run_one(const uint8_t *data, size_t len)
{
    if (save_path != NULL) {
        FILE *f = fopen(save_path, "wb");
        ASSERT(f != NULL);
        ASSERT(fwrite(data, 1, len, f) == len && fclose(f) == 0);
    }
    LLVMFuzzerTestOneInput(data, len);
}

static uint64_t rng(void)
{
    /* xorshift64*: tiny, fast, and the same sequence on every machine. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_seeds(const char *dir, struct seed *seeds, size_t *n)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "replay: cannot open corpus %s: %s\n", dir, strerror(errno));
        return -1;
    }
    struct dirent *e;
    char path[4096];
    /* readdir order is not stable across file systems: sort by name for reproducible runs. */
    char *names[REPLAY_SEEDS_MAX];
    size_t count = 0;
    while ((e = readdir(d)) != NULL && count < REPLAY_SEEDS_MAX)
        if (e->d_name[0] != '.')
            names[count++] = sc_strdup(e->d_name);
    closedir(d);
    qsort(names, count, sizeof(names[0]), by_name);
    for (size_t i = 0; i < count; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            free(names[i]);
            continue;
        }
        uint8_t *buf = sc_malloc(REPLAY_INPUT_MAX);
        size_t len = fread(buf, 1, REPLAY_INPUT_MAX, f);
        fclose(f);
        seeds[*n].data = buf;
        seeds[(*n)++].len = len;
        free(names[i]);
    }
    return 0;
}

static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0xbf, 0xc0, 0xff, '"', '\\', '{',
                                      '}',  '[',  ']',  ':',  ',',  '\r', '\n', ' ', '0', '9',
                                      '-',  '.',  'e',  'u',  '=',  '/',  '+',  '%', 0xa0, 0x1b};

/* One mutation of buf[0..*len) in place (capacity REPLAY_INPUT_MAX). */
static void mutate_once(uint8_t *buf, size_t *len, const struct seed *seeds, size_t nseeds)
{
    size_t n = *len;
    switch (below(8)) {
    case 0: /* flip a bit */
        if (n)
            buf[below(n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* a byte that matters to some parser */
        if (n)
            buf[below(n)] = interesting[below(sizeof(interesting))];
        break;
    case 2: /* a random byte */
        if (n)
            buf[below(n)] = (uint8_t)rng();
        break;
    case 3: { /* insert 1..8 bytes */
        size_t k = 1 + below(8), at = below(n + 1);
        if (n + k > REPLAY_INPUT_MAX)
            break;
        memmove(buf + at + k, buf + at, n - at);
        for (size_t i = 0; i < k; i++)
            buf[at + i] = below(2) ? interesting[below(sizeof(interesting))] : (uint8_t)rng();
        *len = n + k;
        break;
    }
    case 4: { /* delete a range */
        if (n == 0)
            break;
        size_t at = below(n), k = 1 + below(SC_MIN(n - at, (size_t)32));
        memmove(buf + at, buf + at + k, n - at - k);
        *len = n - k;
        break;
    }
    case 5: { /* duplicate a range (repeated members, deeper nesting) */
        if (n == 0)
            break;
        size_t at = below(n), k = 1 + below(SC_MIN(n - at, (size_t)64));
        if (n + k > REPLAY_INPUT_MAX)
            break;
        memmove(buf + at + k, buf + at, n - at);
        *len = n + k;
        break;
    }
    case 6: { /* splice: our head, another seed's tail */
        const struct seed *o = &seeds[below(nseeds)];
        size_t at = below(n + 1), from = below(o->len + 1);
        size_t k = SC_MIN(o->len - from, (size_t)REPLAY_INPUT_MAX - at);
        memcpy(buf + at, o->data + from, k);
        *len = at + k;
        break;
    }
    default: /* truncate */
        *len = below(n + 1);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [COUNT [SEED]]\n", argv[0]);
        return 2;
    }
    unsigned long count = argc > 2 ? strtoul(argv[2], NULL, 10) : 20000;
    unsigned long long seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    rng_state = seed ? seed : 1;
    save_path = getenv("REPLAY_SAVE");

    static struct seed seeds[REPLAY_SEEDS_MAX];
    size_t nseeds = 0;
    if (load_seeds(argv[1], seeds, &nseeds) < 0)
        return 2;
    if (nseeds == 0) {
        fprintf(stderr, "replay: corpus %s is empty\n", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < nseeds; i++)
        run_one(seeds[i].data, seeds[i].len);

    uint8_t *buf = sc_malloc(REPLAY_INPUT_MAX);
    for (unsigned long it = 0; it < count; it++) {
        size_t len;
        if (below(16) == 0) { /* noise */
            len = below(512);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)rng();
        } else {
            const struct seed *s = &seeds[below(nseeds)];
            memcpy(buf, s->data, s->len);
            len = s->len;
            for (size_t m = 1 + below(4); m > 0; m--)
                mutate_once(buf, &len, seeds, nseeds);
        }
        /* An exact-size copy, so ASan sees a read one past the input. */
        uint8_t *in = sc_malloc(len ? len : 1);
        memcpy(in, buf, len);
        run_one(in, len);
        free(in);
    }
    free(buf);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].data);
    fprintf(stderr, "replay: %zu seeds + %lu derived inputs (seed %llu): ok\n", nseeds, count,
            seed);
    return 0;
}
