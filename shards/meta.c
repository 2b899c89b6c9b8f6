#include "shards/meta.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"
#include "common/crc32.h"
#include "common/errors.h"
#include "shards/shards_internal.h"

#define META_MAGIC "shardcast-meta 1\n"
#define META_PREFIX "stream."
#define META_SUFFIX ".meta"
#define META_TMP_PREFIX ".tmp."
#define META_FILE_MAX (64u << 20)
#define ACCOUNT_FILE "account.meta" /* not a stream file: meta_load skips it */
#define ACCOUNT_MAGIC "shardcast-account 1\n"

struct meta_rev {
    char name[REG_NAME_MAX + 1];
    uint64_t rev;
};

struct meta {
    char dir[1100];
    int dirfd;
    struct meta_rev *revs;
    size_t nrevs, cap;
};

void reg_stream_free(struct reg_stream *s)
{
    if (s == NULL)
        return;
    free(s->shards);
    free(s->consumers);
    for (size_t i = 0; i < s->npolicies; i++)
        free(s->policies[i].text);
    free(s->policies);
    free(s);
}

/* ---- encoding ------------------------------------------------------------------------------ */

static void put_hex(FILE *f, const char *s)
{
    if (*s == '\0') {
        fputc('-', f); /* empty strings need a token too */
        return;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        fprintf(f, "%02x", *p);
}

char *meta_encode(const struct reg_stream *s, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    ASSERT(f != NULL);
    const struct reg_stream_info *i = &s->info;
    fputs(META_MAGIC, f);
    fprintf(f, "rev %" PRIu64 "\n", i->revision);
    fprintf(f, "stream %s\n", i->name);
    fprintf(f, "status %d %" PRId64 "\n", (int)i->status, s->status_ms);
    fprintf(f, "mode %d\ncreated %" PRId64 "\nretention %u\nmetrics %u\nnext %u\n", (int)i->mode,
            i->created_ms, i->retention_hours, i->metrics, s->next_index);
    /* Only when raised: a file of a stream without large records stays readable by builds that
     * predate them. */
    if (i->max_record_kib != REG_RECORD_KIB_DEFAULT)
        fprintf(f, "maxrecord %u\n", i->max_record_kib);
    if (i->warm_set)
        fprintf(f, "warm %u %u\n", i->warm_target_mibps, i->warm_current_mibps);
    fprintf(f, "enc %d ", (int)i->encryption);
    put_hex(f, i->key_id);
    fputc('\n', f);
    for (size_t t = 0; t < i->tag_count; t++) {
        fputs("tag ", f);
        put_hex(f, i->tags[t].key);
        fputc(' ', f);
        put_hex(f, i->tags[t].value);
        fputc('\n', f);
    }
    for (size_t k = 0; k < s->nshards; k++) {
        const struct reg_shard *sh = &s->shards[k];
        char a[U128_DEC_MAX], b[U128_DEC_MAX];
        fprintf(f, "shard %u %u %u %s %s %" PRId64 " %d %" PRId64 " %" PRIu64 "\n", sh->index,
                sh->parent, sh->adjacent_parent, u128_print(sh->start_hash, a),
                u128_print(sh->end_hash, b), sh->created_ms, sh->closed ? 1 : 0, sh->closed_ms,
                sh->ending_position);
    }
    for (int d = 0; d < REG_DAILY_KINDS; d++)
        for (uint32_t k = 0; k < s->daily[d].n; k++)
            fprintf(f, "%s %" PRId64 "\n", reg_daily_kinds[d].word, s->daily[d].ms[k]);
    for (size_t k = 0; k < s->npolicies; k++) {
        const struct reg_policy *pol = &s->policies[k];
        fputs("policy ", f);
        put_hex(f, pol->consumer);
        fprintf(f, " %" PRId64 " ", pol->consumer_created_ms);
        put_hex(f, pol->text);
        fputc('\n', f);
    }
    for (size_t k = 0; k < s->nconsumers; k++) {
        const struct reg_consumer_rec *c = &s->consumers[k];
        fputs("consumer ", f);
        put_hex(f, c->c.name);
        fprintf(f, " %" PRId64 " %d %" PRId64 "\n", c->c.created_ms, (int)c->c.status,
                c->status_ms);
    }
    fflush(f);
    uint32_t crc = crc32_update(0, buf, n);
    fprintf(f, "crc %08x\n", crc);
    fclose(f);
    *len = n;
    return buf;
}

/* ---- decoding ------------------------------------------------------------------------------ */

static int get_hex(const char *tok, char *out, size_t cap)
{
    if (strcmp(tok, "-") == 0) {
        out[0] = '\0';
        return 0;
    }
    size_t n = strlen(tok);
    if (n % 2 != 0 || n / 2 >= cap)
        return -EBADMSG;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(tok + 2 * i, "%2x", &v) != 1 || v == 0)
            return -EBADMSG;
        out[i] = (char)v;
    }
    out[n / 2] = '\0';
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    *p = sc_realloc(*p, c * elem);
    *cap = c;
    return 0;
}

static int decode_shard(struct reg_stream *s, const char *rest)
{
    struct reg_shard sh = {0};
    char a[64], b[64];
    int closed;
    if (sscanf(rest, "%u %u %u %63s %63s %" SCNd64 " %d %" SCNd64 " %" SCNu64, &sh.index,
               &sh.parent, &sh.adjacent_parent, a, b, &sh.created_ms, &closed, &sh.closed_ms,
               &sh.ending_position) != 9)
        return -EBADMSG;
    if (u128_parse(a, &sh.start_hash) != 0 || u128_parse(b, &sh.end_hash) != 0 ||
        sh.index != s->nshards || sh.start_hash > sh.end_hash)
        return -EBADMSG;
    sh.closed = closed != 0;
    grow((void **)&s->shards, &s->cap_shards, s->nshards + 1, sizeof(sh));
    s->shards[s->nshards++] = sh;
    return 0;
}

/* "policy <hex consumer or -> <consumer created ms> <hex text>" */
static int decode_policy(struct reg_stream *s, const char *rest)
{
    struct reg_policy p = {0};
    char who[2 * REG_NAME_MAX + 2];
    int used = 0;
    if (sscanf(rest, "%257s %" SCNd64 " %n", who, &p.consumer_created_ms, &used) != 2 ||
        get_hex(who, p.consumer, sizeof(p.consumer)) != 0)
        return -EBADMSG;
    for (size_t i = 0; i < s->npolicies; i++) /* one per owner, as the registry keeps them */
        if (strcmp(s->policies[i].consumer, p.consumer) == 0 &&
            s->policies[i].consumer_created_ms == p.consumer_created_ms)
            return -EBADMSG;
    const char *hex = rest + used;
    size_t n = strlen(hex);
    if (n < 2 || n > 2 * REG_POLICY_MAX || strchr(hex, ' ') != NULL)
        return -EBADMSG;
    p.text = sc_malloc(n / 2 + 1);
    if (get_hex(hex, p.text, n / 2 + 1) != 0) {
        free(p.text);
        return -EBADMSG;
    }
    s->policies = sc_realloc(s->policies, (s->npolicies + 1) * sizeof(p));
    s->policies[s->npolicies++] = p;
    return 0;
}

static int decode_line(struct reg_stream *s, const char *line)
{
    struct reg_stream_info *i = &s->info;
    char t1[1104], t2[4200]; /* hex tokens: a tag key or consumer name; a tag value or key id */
    int st, x;
    if (sscanf(line, "rev %" SCNu64, &i->revision) == 1)
        return 0;
    if (strncmp(line, "stream ", 7) == 0) {
        if (strlen(line + 7) > REG_NAME_MAX || line[7] == '\0')
            return -EBADMSG;
        strcpy(i->name, line + 7);
        return 0;
    }
    if (sscanf(line, "status %d %" SCNd64, &st, &s->status_ms) == 2 && st >= 0 && st <= 3) {
        i->status = (enum reg_status)st;
        return 0;
    }
    if (sscanf(line, "mode %d", &x) == 1 && (x == 0 || x == 1)) {
        i->mode = (enum reg_mode)x;
        return 0;
    }
    if (sscanf(line, "created %" SCNd64, &i->created_ms) == 1 ||
        sscanf(line, "retention %u", &i->retention_hours) == 1 ||
        sscanf(line, "metrics %u", &i->metrics) == 1 ||
        sscanf(line, "next %u", &s->next_index) == 1)
        return 0;
    unsigned kib, target, current;
    if (sscanf(line, "warm %u %u", &target, &current) == 2) {
        if (target > REG_WARM_MAX_MIBPS || current > REG_WARM_MAX_MIBPS)
            return -EBADMSG;
        i->warm_set = true;
        i->warm_target_mibps = target;
        i->warm_current_mibps = current;
        return 0;
    }
    if (sscanf(line, "maxrecord %u", &kib) == 1) {
        if (kib <= REG_RECORD_KIB_DEFAULT || kib > REG_RECORD_KIB_MAX) /* never written so */
            return -EBADMSG;
        i->max_record_kib = kib;
        return 0;
    }
    if (sscanf(line, "enc %d %4199s", &x, t2) == 2 && (x == 0 || x == 1)) {
        i->encryption = (enum reg_encryption)x;
        return get_hex(t2, i->key_id, sizeof(i->key_id));
    }
    STATIC_ASSERT(sizeof(t1) > 2 * REG_TAG_KEY_BYTES && sizeof(t1) > 2 * REG_NAME_MAX &&
                      sizeof(t2) > 2 * REG_TAG_VALUE_BYTES && sizeof(t2) > 2 * REG_KEY_ID_MAX,
                  "meta: the widths below fit every hex token");
    if (sscanf(line, "tag %1103s %4199s", t1, t2) == 2) {
        if (i->tag_count >= REG_TAGS_MAX)
            return -EBADMSG;
        struct reg_tag *tg = &i->tags[i->tag_count++];
        if (get_hex(t1, tg->key, sizeof(tg->key)) || get_hex(t2, tg->value, sizeof(tg->value)))
            return -EBADMSG;
        return 0;
    }
    if (strncmp(line, "shard ", 6) == 0)
        return decode_shard(s, line + 6);
    for (int k = 0; k < REG_DAILY_KINDS; k++) {
        size_t wl = strlen(reg_daily_kinds[k].word);
        int64_t ms;
        if (strncmp(line, reg_daily_kinds[k].word, wl) != 0 || line[wl] != ' ' ||
            sscanf(line + wl, " %" SCNd64, &ms) != 1)
            continue;
        struct reg_daily *d = &s->daily[k];
        if (d->n == reg_daily_kinds[k].cap || (d->n && ms < d->ms[d->n - 1]))
            return -EBADMSG;
        d->ms[d->n++] = ms;
        return 0;
    }
    if (strncmp(line, "policy ", 7) == 0)
        return decode_policy(s, line + 7);
    if (strncmp(line, "consumer ", 9) == 0) {
        struct reg_consumer_rec c = {0};
        if (sscanf(line + 9, "%599s %" SCNd64 " %d %" SCNd64, t1, &c.c.created_ms, &st,
                   &c.status_ms) != 4 ||
            st < 0 || st > 3 || get_hex(t1, c.c.name, sizeof(c.c.name)))
            return -EBADMSG;
        c.c.status = (enum reg_status)st;
        grow((void **)&s->consumers, &s->cap_consumers, s->nconsumers + 1, sizeof(c));
        s->consumers[s->nconsumers++] = c;
        return 0;
    }
    return -EBADMSG;
}

int meta_decode(const char *buf, size_t len, struct reg_stream **out)
{
    size_t ml = strlen(META_MAGIC);
    if (len < ml || memcmp(buf, META_MAGIC, ml) != 0 || strlen(buf) != len)
        return -EBADMSG;
    /* The checksum line is the last one: "crc xxxxxxxx\n" (13 bytes). */
    if (len < ml + 13 || buf[len - 1] != '\n' || memcmp(buf + len - 13, "crc ", 4) != 0)
        return -EBADMSG;
    unsigned want;
    if (sscanf(buf + len - 9, "%8x", &want) != 1 || crc32_update(0, buf, len - 13) != want)
        return -EBADMSG;
    struct reg_stream *s = sc_calloc(1, sizeof(*s));
    s->info.max_record_kib = REG_RECORD_KIB_DEFAULT; /* no "maxrecord" line */
    s->info.warm_current_mibps = REG_ON_DEMAND_MIBPS; /* no "warm" line */
    int rc = 0;
    const char *p = buf + ml, *end = buf + len - 13;
    /* The longest line is a policy's (hex: twice REG_POLICY_MAX); the rest fit in 8 KiB. */
    size_t cap = 2 * REG_POLICY_MAX + 2 * REG_NAME_MAX + 64;
    char *line = sc_malloc(cap);
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL || (size_t)(nl - p) >= cap) {
            rc = -EBADMSG;
            break;
        }
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        rc = decode_line(s, line);
        p = nl + 1;
    }
    free(line);
    if (rc == 0 && (s->info.name[0] == '\0' || s->info.revision == 0 || s->next_index < s->nshards ||
                    s->npolicies > s->nconsumers + 1))
        rc = -EBADMSG;
    if (rc != 0) {
        reg_stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- files --------------------------------------------------------------------------------- */

static struct meta_rev *rev_find(struct meta *m, const char *name)
{
    for (size_t i = 0; i < m->nrevs; i++)
        if (strcmp(m->revs[i].name, name) == 0)
            return &m->revs[i];
    return NULL;
}

static void rev_set(struct meta *m, const char *name, uint64_t rev)
{
    struct meta_rev *r = rev_find(m, name);
    if (r == NULL) {
        grow((void **)&m->revs, &m->cap, m->nrevs + 1, sizeof(*r));
        r = &m->revs[m->nrevs++];
        snprintf(r->name, sizeof(r->name), "%s", name);
    }
    r->rev = rev;
}

int meta_open(const char *data_dir, struct meta **out)
{
    struct meta *m = sc_calloc(1, sizeof(*m));
    int n = snprintf(m->dir, sizeof(m->dir), "%s/meta", data_dir);
    if (n < 0 || (size_t)n >= sizeof(m->dir)) {
        free(m);
        return -ENAMETOOLONG;
    }
    if (mkdir(data_dir, 0755) != 0 && errno != EEXIST)
        goto fail_errno;
    if (mkdir(m->dir, 0755) != 0 && errno != EEXIST)
        goto fail_errno;
    m->dirfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (m->dirfd < 0)
        goto fail_errno;
    *out = m;
    return 0;
fail_errno:;
    int e = -errno;
    LOG_ERROR("meta: cannot open %s: %s", m->dir, strerror(-e));
    free(m);
    return e;
}

void meta_close(struct meta *m)
{
    if (m == NULL)
        return;
    close(m->dirfd);
    free(m->revs);
    free(m);
}

static int read_file(int dirfd, const char *fname, char **buf, size_t *len)
{
    int fd = openat(dirfd, fname, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > META_FILE_MAX) {
        close(fd);
        return -EBADMSG;
    }
    size_t n = (size_t)st.st_size;
    char *b = sc_malloc(n + 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? -errno : -EBADMSG;
            free(b);
            close(fd);
            return e;
        }
        got += (size_t)r;
    }
    close(fd);
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

static int load_one(struct meta *m, const char *fname, int (*cb)(void *, struct reg_stream *),
                    void *arg)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(m->dirfd, fname, &buf, &len);
    struct reg_stream *s = NULL;
    if (rc == 0)
        rc = meta_decode(buf, len, &s);
    if (rc == 0) {
        /* The file name is the key; a record naming another stream is corruption. */
        size_t pl = strlen(META_PREFIX), nl = strlen(fname) - pl - strlen(META_SUFFIX);
        if (strlen(s->info.name) != nl || memcmp(fname + pl, s->info.name, nl) != 0) {
            reg_stream_free(s);
            rc = -EBADMSG;
        }
    }
    free(buf);
    if (rc != 0) {
        LOG_ERROR("meta: %s/%s is corrupt or unreadable (%s); refusing to start. Move it away "
                  "to drop that stream.",
                  m->dir, fname, rc == -EBADMSG ? "bad format or checksum" : strerror(-rc));
        return rc == -EBADMSG ? rc : rc;
    }
    rev_set(m, s->info.name, s->info.revision);
    return cb(arg, s);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int meta_load(struct meta *m, int (*cb)(void *arg, struct reg_stream *s), void *arg)
{
    DIR *d = opendir(m->dir);
    if (d == NULL)
        return -errno;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strncmp(n, META_TMP_PREFIX, strlen(META_TMP_PREFIX)) == 0) {
            unlinkat(m->dirfd, n, 0); /* an interrupted write; the renamed version stands */
            continue;
        }
        if (strncmp(n, META_PREFIX, strlen(META_PREFIX)) != 0 || !has_suffix(n, META_SUFFIX))
            continue;
        rc = load_one(m, n, cb, arg);
    }
    closedir(d);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Replaces DATA/meta/fname with buf: temp file, fsync, rename, fsync(dir). 0 or -errno. */
static int write_durable(struct meta *m, const char *fname, const char *buf, size_t len)
{
    char tmp[320];
    snprintf(tmp, sizeof(tmp), META_TMP_PREFIX "%s", fname);
    int rc = 0;
    int fd = openat(m->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        rc = -errno;
    if (fd >= 0) {
        rc = write_all(fd, buf, len);
        if (rc == 0 && fsync(fd) != 0)
            rc = -errno;
        close(fd);
    }
    if (rc == 0 && renameat(m->dirfd, tmp, m->dirfd, fname) != 0)
        rc = -errno;
    if (rc == 0 && fsync(m->dirfd) != 0)
        rc = -errno;
    if (rc != 0)
        LOG_ERROR("meta: writing %s/%s failed: %s", m->dir, fname, strerror(-rc));
    return rc;
}

int meta_put(struct meta *m, const struct reg_stream *s, uint64_t expect_rev)
{
    struct meta_rev *r = rev_find(m, s->info.name);
    if ((r ? r->rev : 0) != expect_rev)
        return KERR_CONFLICT;
    char fname[300];
    snprintf(fname, sizeof(fname), META_PREFIX "%s" META_SUFFIX, s->info.name);
    size_t len;
    char *buf = meta_encode(s, &len);
    int rc = write_durable(m, fname, buf, len);
    if (rc == 0)
        rev_set(m, s->info.name, s->info.revision);
    free(buf);
    return rc;
}

/* The account file: its magic, one "commitment <status> <started> <ended> <earliest>" line and
 * the checksum line of the stream files. */
int meta_account_put(struct meta *m, const struct reg_account *a)
{
    char buf[160];
    int n = snprintf(buf, sizeof(buf),
                     ACCOUNT_MAGIC "commitment %d %" PRId64 " %" PRId64 " %" PRId64 "\n",
                     (int)a->commitment, a->started_ms, a->ended_ms, a->earliest_end_ms);
    ASSERT(n > 0 && (size_t)n + 14 < sizeof(buf));
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "crc %08x\n",
                  crc32_update(0, buf, (size_t)n));
    return write_durable(m, ACCOUNT_FILE, buf, (size_t)n);
}

int meta_account_decode(const char *buf, size_t len, struct reg_account *out)
{
    size_t ml = strlen(ACCOUNT_MAGIC);
    unsigned want;
    int st, used = 0;
    struct reg_account a;
    if (len < ml + 13 || strlen(buf) != len || memcmp(buf, ACCOUNT_MAGIC, ml) != 0 ||
        sscanf(buf + len - 13, "crc %8x\n", &want) != 1 || crc32_update(0, buf, len - 13) != want)
        return -EBADMSG;
    if (sscanf(buf + ml, "commitment %d %" SCNd64 " %" SCNd64 " %" SCNd64 "\n%n", &st,
               &a.started_ms, &a.ended_ms, &a.earliest_end_ms, &used) != 4 ||
        ml + (size_t)used != len - 13 || st < REG_COMMIT_DISABLED || st > REG_COMMIT_ENDING)
        return -EBADMSG;
    a.commitment = (enum reg_commitment)st;
    *out = a;
    return 0;
}

int meta_account_load(struct meta *m, struct reg_account *out)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = read_file(m->dirfd, ACCOUNT_FILE, &buf, &len);
    if (rc == -ENOENT) {
        *out = (struct reg_account){REG_COMMIT_DISABLED, 0, 0, 0};
        return 0;
    }
    if (rc == 0)
        rc = meta_account_decode(buf, len, out);
    free(buf);
    if (rc != 0)
        LOG_ERROR("meta: %s/%s is corrupt or unreadable (%s); refusing to start. Move it away "
                  "to reset the account's settings.",
                  m->dir, ACCOUNT_FILE, rc == -EBADMSG ? "bad format or checksum" : strerror(-rc));
    return rc;
}

int meta_remove(struct meta *m, const char *name, uint64_t expect_rev)
{
    struct meta_rev *r = rev_find(m, name);
    if (r == NULL || r->rev != expect_rev)
        return KERR_CONFLICT;
    char fname[300];
    snprintf(fname, sizeof(fname), META_PREFIX "%s" META_SUFFIX, name);
    if (unlinkat(m->dirfd, fname, 0) != 0 && errno != ENOENT)
        return -errno;
    if (fsync(m->dirfd) != 0)
        return -errno;
    *r = m->revs[--m->nrevs];
    return 0;
}
