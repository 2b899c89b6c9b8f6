/* shardtab.c — see shardtab.h.
 *
 * Layout: a sorted array of struct stream_rt (one per stream incarnation the
 * process has touched), each with a slot array indexed by shard index holding
 * the open struct shard_rt. The table mutex guards both arrays and every rt's
 * membership; an rt's log and buckets have their own locks.
 *
 * Lock order: registry, then table (the registry calls shardtab_seal under its
 * lock), so the table never calls into the registry while holding its mutex.
 *
 * Incarnations. A stream's incarnation is its shard 0's created_ms (== the
 * stream's creation time; shard 0 is never removed).
 * DATA/streams/<name>/incarnation holds it; a directory whose marker differs
 * (or is missing) belongs to an earlier stream of the same name and is wiped
 * before the first log opens. The housekeeper polls the registry for every
 * stream it holds and marks a stream gone when it is deleted or re-created;
 * gone streams' logs are closed (and the directory removed) once only the table
 * references them and they are idle: fully written, synced (unless fsync never),
 * and shardlog_idle() (no writer role held, no ack queued) — the precondition of
 * shardlog_close(). Until then a lookup of the new incarnation answers -EAGAIN
 * (retryable). */
#define _GNU_SOURCE
#include "shards/shardtab.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "common/tbucket.h"
#include "shards/registry.h"
#include "shards/shards_internal.h"

#define INCARNATION_UNKNOWN INT64_MIN
#define RETENTION_PERIOD_MS 60000 /* how often each log's retention is enforced */

struct shard_rt {
    atomic_uint refs;
    uint32_t index;
    int64_t created_ms; /* INCARNATION_UNKNOWN: provisional (opened by a seal,
                           secs unknown) */
    bool sealed;        /* shardtab_seal ran (table mutex) */
    u128 start_hash, end_hash;
    struct shardlog *log;
    struct stream_rt *st; /* owning stream (table mutex for membership) */
    char stream[REG_NAME_MAX + 1];
    bool limits;
    pthread_mutex_t rate_lock;
    struct tbucket wbytes, wrecs, rcalls, rbytes, icalls;
    int64_t last_tick_mono_ms, last_retention_mono_ms; /* housekeeper only */
};

struct stream_rt {
    char name[REG_NAME_MAX + 1];
    char dir[1200]; /* DATA/streams/<escaped name> */
    int64_t incarnation;
    uint32_t retention_hours;
    bool gone;
    struct shard_rt **slots; /* by shard index, NULL when not open */
    uint32_t nslots;
};

struct shardtab {
    pthread_mutex_t lock;
    struct registry *reg;
    struct shardtab_opts o;
    char root[1024];            /* DATA/streams */
    struct stream_rt **streams; /* sorted by name */
    size_t nstreams, cap;
};

/* ---- files
 * ---------------------------------------------------------------------------------
 */

/* Stream names match [a-zA-Z0-9_.-]+, so only "." and ".." need escaping to
 * stay a child dir. */
static void name_to_dir(const char *name, char *out, size_t cap)
{
    if (strcmp(name, ".") == 0)
        name = "%2E";
    else if (strcmp(name, "..") == 0)
        name = "%2E%2E";
    snprintf(out, cap, "%s", name);
}

static void dir_to_name(const char *d, char *out, size_t cap)
{
    if (strcmp(d, "%2E") == 0)
        d = ".";
    else if (strcmp(d, "%2E%2E") == 0)
        d = "..";
    int n = snprintf(out, cap, "%s", d);
    if (n < 0 || (size_t)n >= cap) /* not a name we made: match nothing */
        out[0] = '\0';
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
    if (rc < 0 && errno != ENOENT)
        LOG_WARN("shardtab: cannot remove %s: %s", path, strerror(errno));
    return 0;
}

static void rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int64_t marker_read(const char *dir)
{
    char path[1300], buf[32];
    int pn = snprintf(path, sizeof(path), "%s/incarnation", dir);
    if (pn < 0 || (size_t)pn >= sizeof(path))
        return INCARNATION_UNKNOWN;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return INCARNATION_UNKNOWN;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return INCARNATION_UNKNOWN;
    buf[n] = '\0';
    char *end;
    long long v = strtoll(buf, &end, 10);
    return end == buf ? INCARNATION_UNKNOWN : (int64_t)v;
}

static int fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Writes the marker durably (temp + fsync + rename + fsync(dir)) so a crash
 * never leaves a directory whose records could be taken for another
 * incarnation's. */
static int marker_write(const char *root, const char *dir, int64_t incarnation)
{
    if (mkdir(root, 0755) < 0 && errno != EEXIST)
        return -errno;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    char tmp[1300], path[1300], buf[32];
    snprintf(tmp, sizeof(tmp), "%s/incarnation.tmp", dir);
    snprintf(path, sizeof(path), "%s/incarnation", dir);
    int n = snprintf(buf, sizeof(buf), "%" PRId64 "\n", incarnation);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = 0;
    if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0)
        rc = errno ? -errno : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc == 0)
        rc = fsync_path(dir);
    if (rc == 0)
        rc = fsync_path(root);
    return rc;
}

/* Makes st->dir belong to st->incarnation: a directory of another (or an
 * unknown) incarnation is wiped first. With the incarnation unknown (seal of a
 * stream not touched yet) an existing marker is trusted and adopted. Table
 * mutex held. */
static int stream_dir_prepare(struct shardtab *t, struct stream_rt *st)
{
    int64_t on_disk = marker_read(st->dir);
    if (st->incarnation == INCARNATION_UNKNOWN) {
        st->incarnation = on_disk;
        return 0;
    }
    if (on_disk == st->incarnation)
        return 0;
    if (on_disk != INCARNATION_UNKNOWN)
        LOG_INFO("shardtab: %s belongs to an earlier stream %s; removing it", st->dir, st->name);
    rm_rf(st->dir);
    return marker_write(t->root, st->dir, st->incarnation);
}

/* ---- shard_rt
 * ------------------------------------------------------------------------------
 */

static void rt_free(struct shard_rt *s)
{
    shardlog_close(s->log);
    pthread_mutex_destroy(&s->rate_lock);
    free(s);
}

void shard_rt_incref(struct shard_rt *s)
{
    unsigned prev = atomic_fetch_add(&s->refs, 1);
    ASSERT(prev > 0);
}

void shard_rt_decref(struct shard_rt *s)
{
    if (s == NULL)
        return;
    unsigned prev = atomic_fetch_sub(&s->refs, 1);
    ASSERT(prev > 0);
    if (prev == 1)
        rt_free(s);
}

struct shardlog *shard_rt_log(const struct shard_rt *s)
{
    return s->log;
}

uint32_t shard_rt_index(const struct shard_rt *s)
{
    return s->index;
}

const char *shard_rt_stream(const struct shard_rt *s)
{
    return s->stream;
}

void shard_rt_hash_range(const struct shard_rt *s, u128 *start, u128 *end)
{
    *start = s->start_hash;
    *end = s->end_hash;
}

bool shard_rt_admit_write(struct shard_rt *s, uint64_t bytes, uint32_t records,
                          uint64_t burst_bytes, uint64_t now_ns)
{
    if (!s->limits)
        return true;
    ASSERT(burst_bytes >= SHARD_WRITE_BYTES_PER_S);
    pthread_mutex_lock(&s->rate_lock);
    if (s->wbytes.burst != burst_bytes)
        tbucket_set_burst(&s->wbytes, burst_bytes, now_ns);
    bool ok = tbucket_available(&s->wbytes, now_ns) >= bytes &&
              tbucket_available(&s->wrecs, now_ns) >= records;
    if (ok) {
        tbucket_take(&s->wbytes, bytes, now_ns);
        tbucket_take(&s->wrecs, records, now_ns);
    }
    pthread_mutex_unlock(&s->rate_lock);
    return ok;
}

bool shard_rt_admit_read(struct shard_rt *s, uint64_t now_ns)
{
    if (!s->limits)
        return true;
    pthread_mutex_lock(&s->rate_lock);
    bool ok = tbucket_available(&s->rbytes, now_ns) > 0 && tbucket_take(&s->rcalls, 1, now_ns);
    pthread_mutex_unlock(&s->rate_lock);
    return ok;
}

bool shard_rt_admit_iterator(struct shard_rt *s, uint64_t now_ns)
{
    if (!s->limits)
        return true;
    pthread_mutex_lock(&s->rate_lock);
    bool ok = tbucket_take(&s->icalls, 1, now_ns);
    pthread_mutex_unlock(&s->rate_lock);
    return ok;
}

void shard_rt_charge_read(struct shard_rt *s, uint64_t bytes, uint64_t now_ns)
{
    if (!s->limits)
        return;
    pthread_mutex_lock(&s->rate_lock);
    tbucket_charge(&s->rbytes, bytes, now_ns);
    pthread_mutex_unlock(&s->rate_lock);
}

/* Opens shard `index` of st (created_ms may be INCARNATION_UNKNOWN:
 * provisional) and seals it when `sealed`. Table mutex held. */
static int rt_open(struct shardtab *t, struct stream_rt *st, uint32_t index,
                   const struct reg_shard *sh, bool sealed, struct shard_rt **out)
{
    int64_t created_ms = sh != NULL ? sh->created_ms : INCARNATION_UNKNOWN;
    char dir[1300], id[24];
    snprintf(dir, sizeof(dir), "%s/%s", st->dir, registry_shard_id_print(index, id));
    uint64_t secs = created_ms == INCARNATION_UNKNOWN ? 0 : (uint64_t)created_ms / 1000;
    struct shardlog_config cfg = {.dir = dir,
                                  .shard_secs = SC_MIN(secs, SEQNUM_SECS_MAX),
                                  .shard_index = index,
                                  .durability = t->o.durability,
                                  .sync_interval_ms = t->o.sync_interval_ms,
                                  .segment_bytes_max = t->o.segment_bytes_max};
    struct shardlog *log;
    int rc = shardlog_open(&cfg, &log);
    if (rc != 0) {
        LOG_ERROR("shardtab: cannot open the log in %s: %s", dir, strerror(-rc));
        return rc;
    }
    if (sealed) {
        uint64_t end;
        shardlog_seal(log, &end);
    }
    struct shard_rt *s = sc_calloc(1, sizeof(*s));
    atomic_init(&s->refs, 1); /* the table's */
    s->index = index;
    s->created_ms = created_ms;
    s->sealed = sealed;
    if (sh != NULL) {
        s->start_hash = sh->start_hash;
        s->end_hash = sh->end_hash;
    }
    s->log = log;
    s->st = st;
    snprintf(s->stream, sizeof(s->stream), "%s", st->name);
    s->limits = t->o.limits;
    pthread_mutex_init(&s->rate_lock, NULL);
    uint64_t now = clock_mono_ns();
    tbucket_init(&s->wbytes, SHARD_WRITE_BYTES_PER_S, SHARD_WRITE_BYTES_PER_S, now);
    tbucket_init(&s->wrecs, SHARD_WRITE_RECORDS_PER_S, SHARD_WRITE_RECORDS_PER_S, now);
    tbucket_init(&s->rcalls, SHARD_READ_CALLS_PER_S, SHARD_READ_CALLS_PER_S, now);
    tbucket_init(&s->rbytes, SHARD_READ_BYTES_PER_S, SHARD_READ_BYTES_PER_S, now);
    tbucket_init(&s->icalls, SHARD_ITERATOR_CALLS_PER_S, SHARD_ITERATOR_CALLS_PER_S, now);
    if (index >= st->nslots) {
        uint32_t n = SC_MIN(UINT32_MAX / 2, index + 1) * 2;
        st->slots = sc_realloc(st->slots, n * sizeof(*st->slots));
        memset(st->slots + st->nslots, 0, (n - st->nslots) * sizeof(*st->slots));
        st->nslots = n;
    }
    ASSERT(st->slots[index] == NULL);
    st->slots[index] = s;
    *out = s;
    return 0;
}

/* ---- streams
 * -------------------------------------------------------------------------------
 */

static const char *tab_name_at(const void *arr, size_t i)
{
    return ((struct stream_rt *const *)arr)[i]->name;
}

static size_t stream_pos(const struct shardtab *t, const char *name, bool *found)
{
    return shards_name_search(t->streams, t->nstreams, tab_name_at, name, found);
}

static struct stream_rt *stream_find(const struct shardtab *t, const char *name)
{
    bool found;
    size_t pos = stream_pos(t, name, &found);
    return found ? t->streams[pos] : NULL;
}

static struct stream_rt *stream_add(struct shardtab *t, const char *name, int64_t incarnation)
{
    bool found;
    size_t pos = stream_pos(t, name, &found);
    ASSERT(!found);
    if (t->nstreams == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->streams = sc_realloc(t->streams, t->cap * sizeof(*t->streams));
    }
    struct stream_rt *st = sc_calloc(1, sizeof(*st));
    snprintf(st->name, sizeof(st->name), "%s", name);
    char d[REG_NAME_MAX + 8];
    name_to_dir(name, d, sizeof(d));
    snprintf(st->dir, sizeof(st->dir), "%s/%s", t->root, d);
    st->incarnation = incarnation;
    st->retention_hours = REG_RETENTION_MIN;
    memmove(&t->streams[pos + 1], &t->streams[pos], (t->nstreams - pos) * sizeof(*t->streams));
    t->streams[pos] = st;
    t->nstreams++;
    return st;
}

/* Removes st from the table and frees it; its slots must already be empty.
 * Table mutex held. */
static void stream_remove(struct shardtab *t, struct stream_rt *st)
{
    bool found;
    size_t pos = stream_pos(t, st->name, &found);
    ASSERT(found && t->streams[pos] == st);
    memmove(&t->streams[pos], &t->streams[pos + 1], (t->nstreams - pos - 1) * sizeof(*t->streams));
    t->nstreams--;
    free(st->slots);
    free(st);
}

/* ---- lookups
 * -------------------------------------------------------------------------------
 */

/* The fast path: the open rt of this shard incarnation, with a new reference,
 * or NULL. */
static struct shard_rt *lookup_fast(struct shardtab *t, const char *name,
                                    const struct reg_shard *sh)
{
    struct shard_rt *s = NULL;
    pthread_mutex_lock(&t->lock);
    struct stream_rt *st = stream_find(t, name);
    if (st != NULL && !st->gone && sh->index < st->nslots && st->slots[sh->index] != NULL &&
        st->slots[sh->index]->created_ms == sh->created_ms) {
        s = st->slots[sh->index];
        shard_rt_incref(s);
    }
    pthread_mutex_unlock(&t->lock);
    return s;
}

/* Opens (or finds) the shard under the table mutex, after the incarnation is
 * known. */
static int lookup_locked(struct shardtab *t, const char *name, int64_t incarnation,
                         const struct reg_shard *sh, struct shard_rt **out)
{
    struct stream_rt *st = stream_find(t, name);
    if (st != NULL && st->incarnation == INCARNATION_UNKNOWN) {
        /* Opened by a seal before the registry was asked: its directory had no marker (else
         * the seal adopted it). Mark it now, or a restart would take it for an orphan. */
        st->incarnation = incarnation;
        int rc = marker_write(t->root, st->dir, incarnation);
        if (rc != 0) {
            LOG_ERROR("shardtab: cannot mark %s: %s", st->dir, strerror(-rc));
            st->incarnation = INCARNATION_UNKNOWN;
            return rc;
        }
    }
    if (st != NULL && st->incarnation != incarnation)
        st->gone = true; /* re-created: the housekeeper reaps the old one */
    if (st != NULL && st->gone)
        return -EAGAIN;
    if (st == NULL) {
        st = stream_add(t, name, incarnation);
        int rc = stream_dir_prepare(t, st);
        if (rc != 0) {
            LOG_ERROR("shardtab: cannot prepare %s: %s", st->dir, strerror(-rc));
            stream_remove(t, st);
            return rc;
        }
    }
    struct shard_rt *s = sh->index < st->nslots ? st->slots[sh->index] : NULL;
    bool sealed = sh->closed;
    if (s != NULL && s->created_ms != sh->created_ms) {
        /* Provisional (secs unknown): reopen with the right secs if nobody else
         * holds it. */
        if (atomic_load(&s->refs) != 1)
            return -EAGAIN;
        sealed = sealed || s->sealed;
        st->slots[sh->index] = NULL;
        shard_rt_decref(s);
        s = NULL;
    }
    if (s == NULL) {
        int rc = rt_open(t, st, sh->index, sh, sealed, &s);
        if (rc != 0)
            return rc;
    } else if (sh->closed && !s->sealed) {
        uint64_t end;
        shardlog_seal(s->log, &end);
        s->sealed = true;
    }
    shard_rt_incref(s);
    *out = s;
    return 0;
}

static int lookup(struct shardtab *t, const char *name, const struct reg_shard *sh,
                  struct shard_rt **out)
{
    struct shard_rt *s = lookup_fast(t, name, sh);
    if (s != NULL) {
        *out = s;
        return 0;
    }
    struct reg_shard sh0;
    enum reg_status status;
    int rc = registry_shard_get(t->reg, name, 0, &sh0, &status, NULL);
    if (rc != 0)
        return rc;
    pthread_mutex_lock(&t->lock);
    rc = lookup_locked(t, name, sh0.created_ms, sh, out);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static bool status_ok(enum reg_status s)
{
    return s == REG_ACTIVE || s == REG_UPDATING;
}

int shardtab_route(struct shardtab *t, const char *stream, u128 hash, struct shard_rt **out)
{
    struct reg_shard sh;
    enum reg_status status;
    int rc = registry_shard_route(t->reg, stream, hash, &sh, &status);
    if (rc != 0)
        return rc;
    if (!status_ok(status))
        return KERR_RESOURCE_NOT_FOUND;
    return lookup(t, stream, &sh, out);
}

int shardtab_get(struct shardtab *t, const char *stream, uint32_t index, struct shard_rt **out)
{
    struct reg_shard sh;
    enum reg_status status;
    int rc = registry_shard_get(t->reg, stream, index, &sh, &status, NULL);
    if (rc != 0)
        return rc;
    if (!status_ok(status))
        return KERR_RESOURCE_NOT_FOUND;
    return lookup(t, stream, &sh, out);
}

/* ---- seal
 * ----------------------------------------------------------------------------------
 */

int shardtab_seal(struct shardtab *t, const char *stream, uint32_t index, uint64_t *ending)
{
    /* Called under the registry lock: no registry calls from here. */
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    struct stream_rt *st = stream_find(t, stream);
    if (st != NULL && st->gone) {
        /* The old incarnation is still being reaped, so the new one has opened
         * nothing yet: its shard holds no records. */
        *ending = 0;
        goto out;
    }
    if (st == NULL) {
        st = stream_add(t, stream, INCARNATION_UNKNOWN);
        rc = stream_dir_prepare(t, st);
        ASSERT(rc == 0);
    }
    struct shard_rt *s = index < st->nslots ? st->slots[index] : NULL;
    if (s == NULL) {
        /* Never opened by this process: open it provisionally (its creation second
         * is unknown here); the next lookup reopens it with the registry's numbers.
         */
        rc = rt_open(t, st, index, NULL, true, &s);
        if (rc != 0)
            goto out;
    }
    s->sealed = true;
    rc = shardlog_seal(s->log, ending);
out:
    pthread_mutex_unlock(&t->lock);
    return rc;
}

/* ---- housekeeping
 * -------------------------------------------------------------------------- */

static bool rt_idle(const struct shard_rt *s, enum shardlog_durability d)
{
    uint64_t end = shardlog_end(s->log), w = shardlog_written(s->log);
    return atomic_load(&s->refs) == 1 && w == end &&
           (d == SHARDLOG_SYNC_NEVER || shardlog_durable(s->log) == w) && shardlog_idle(s->log);
}

/* Closes a gone stream's logs and removes its directory once every log is idle
 * (one housekeeping round; the table mutex keeps new references out). Table mutex held. Returns true when st was freed. */
static bool stream_reap(struct shardtab *t, struct stream_rt *st, struct sio *sio)
{
    bool idle = true;
    for (uint32_t i = 0; i < st->nslots; i++) {
        struct shard_rt *s = st->slots[i];
        if (s != NULL && !rt_idle(s, t->o.durability)) {
            idle = false;
            shardlog_tick(s->log, sio); /* make what was written durable before the close */
        }
    }
    if (!idle)
        return false;
    for (uint32_t i = 0; i < st->nslots; i++) {
        if (st->slots[i] != NULL) {
            shard_rt_decref(st->slots[i]); /* the table's: the last one, closes the log */
            st->slots[i] = NULL;
        }
    }
    LOG_INFO("shardtab: stream %s is gone; removing %s", st->name, st->dir);
    rm_rf(st->dir);
    stream_remove(t, st);
    return true;
}

/* Marks streams gone whose registry entry is gone or re-created; refreshes
 * retention. */
static void streams_poll(struct shardtab *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->nstreams;
    char(*names)[REG_NAME_MAX + 1] = n ? sc_malloc(n * sizeof(*names)) : NULL;
    for (size_t i = 0; i < n; i++)
        memcpy(names[i], t->streams[i]->name, sizeof(names[i]));
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        struct reg_shard sh0;
        enum reg_status status;
        uint32_t hours = 0;
        int rc = registry_shard_get(t->reg, names[i], 0, &sh0, &status, &hours);
        pthread_mutex_lock(&t->lock);
        struct stream_rt *st = stream_find(t, names[i]);
        if (st != NULL) {
            if (rc == KERR_RESOURCE_NOT_FOUND ||
                (rc == 0 && st->incarnation != INCARNATION_UNKNOWN &&
                 st->incarnation != sh0.created_ms))
                st->gone = true;
            else if (rc == 0)
                st->retention_hours = hours;
        }
        pthread_mutex_unlock(&t->lock);
    }
    free(names);
}

void shardtab_housekeep(struct shardtab *t, struct sio *sio, int64_t now_ms, int64_t mono_ms)
{
    streams_poll(t);
    /* Collect references to the live, non-provisional logs; reap gone streams. */
    pthread_mutex_lock(&t->lock);
    size_t cap = 0, n = 0;
    for (size_t i = 0; i < t->nstreams; i++)
        cap += t->streams[i]->nslots;
    struct shard_rt **work = cap ? sc_malloc(cap * sizeof(*work)) : NULL;
    uint32_t *hours = cap ? sc_malloc(cap * sizeof(*hours)) : NULL;
    for (size_t i = 0; i < t->nstreams;) {
        struct stream_rt *st = t->streams[i];
        if (st->gone) {
            if (!stream_reap(t, st, sio))
                i++;
            continue;
        }
        for (uint32_t k = 0; k < st->nslots; k++) {
            struct shard_rt *s = st->slots[k];
            if (s == NULL || s->created_ms == INCARNATION_UNKNOWN)
                continue;
            shard_rt_incref(s);
            hours[n] = st->retention_hours;
            work[n++] = s;
        }
        i++;
    }
    pthread_mutex_unlock(&t->lock);
    for (size_t i = 0; i < n; i++) {
        struct shard_rt *s = work[i];
        if (t->o.durability == SHARDLOG_SYNC_INTERVAL &&
            mono_ms - s->last_tick_mono_ms >= (int64_t)t->o.sync_interval_ms) {
            s->last_tick_mono_ms = mono_ms;
            shardlog_tick(s->log, sio);
        }
        if (mono_ms - s->last_retention_mono_ms >= RETENTION_PERIOD_MS) {
            s->last_retention_mono_ms = mono_ms;
            int rc = shardlog_enforce_retention(s->log, now_ms, (int64_t)hours[i] * 3600000);
            if (rc < 0)
                LOG_WARN("shardtab: retention of %s shard %u: %s", s->stream, s->index,
                         strerror(-rc));
        }
        shard_rt_decref(s);
    }
    free(work);
    free(hours);
}

/* ---- create / destroy
 * ---------------------------------------------------------------------- */

/* Removes directories of streams the registry does not know (deleted while we
 * were down). */
static void orphans_remove(struct shardtab *t)
{
    DIR *d = opendir(t->root);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char name[REG_NAME_MAX + 8], path[1400];
        dir_to_name(e->d_name, name, sizeof(name));
        snprintf(path, sizeof(path), "%s/%s", t->root, e->d_name);
        struct reg_shard sh0;
        enum reg_status status;
        int rc = strlen(name) > REG_NAME_MAX
                     ? KERR_RESOURCE_NOT_FOUND
                     : registry_shard_get(t->reg, name, 0, &sh0, &status, NULL);
        if (rc == KERR_RESOURCE_NOT_FOUND || (rc == 0 && marker_read(path) != sh0.created_ms)) {
            LOG_INFO("shardtab: removing %s (no such stream now)", path);
            rm_rf(path);
        }
    }
    closedir(d);
}

int shardtab_create(struct registry *reg, const struct shardtab_opts *o, struct shardtab **out)
{
    ASSERT(reg != NULL && o != NULL && o->data_dir != NULL);
    struct shardtab *t = sc_calloc(1, sizeof(*t));
    t->reg = reg;
    t->o = *o;
    if (t->o.sync_interval_ms == 0)
        t->o.sync_interval_ms = 1000;
    int n = snprintf(t->root, sizeof(t->root), "%s/streams", o->data_dir);
    if (n < 0 || (size_t)n >= sizeof(t->root) - REG_NAME_MAX - 40) {
        free(t);
        return -ENAMETOOLONG;
    }
    if (mkdir(o->data_dir, 0755) < 0 && errno != EEXIST) {
        int rc = -errno;
        free(t);
        return rc;
    }
    if (mkdir(t->root, 0755) < 0 && errno != EEXIST) {
        int rc = -errno;
        free(t);
        return rc;
    }
    pthread_mutex_init(&t->lock, NULL);
    orphans_remove(t);
    t->o.data_dir = NULL; /* not kept: the caller's string */
    *out = t;
    return 0;
}

void shardtab_destroy(struct shardtab *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nstreams; i++) {
        struct stream_rt *st = t->streams[i];
        for (uint32_t k = 0; k < st->nslots; k++) {
            struct shard_rt *s = st->slots[k];
            if (s == NULL)
                continue;
            if (atomic_load(&s->refs) != 1)
                LOG_ERROR("shardtab: shard %u of %s still referenced at shutdown", s->index,
                          st->name);
            shard_rt_decref(s);
        }
        free(st->slots);
        free(st);
    }
    free(t->streams);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
