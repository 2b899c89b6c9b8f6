#include "shards/registry.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "common/clock.h"
#include "common/common.h"
#include "common/errors.h"
#include "shards/meta.h"
#include "shards/shards_internal.h"

struct registry {
    pthread_mutex_t lock;
    struct registry_opts opts;
    struct meta *meta;           /* NULL: memory only */
    struct reg_account account;  /* as stored: a scheduled end is applied when read */
    struct reg_stream **streams; /* sorted by name */
    size_t nstreams, cap;
};

/* ---- records ------------------------------------------------------------------------------- */

static struct reg_stream *stream_clone(const struct reg_stream *s)
{
    struct reg_stream *c = sc_malloc(sizeof(*c));
    *c = *s;
    c->cap_shards = s->nshards + 2;
    c->shards = sc_malloc(c->cap_shards * sizeof(*c->shards));
    if (s->nshards)
        memcpy(c->shards, s->shards, s->nshards * sizeof(*c->shards));
    c->cap_consumers = s->nconsumers + 1;
    c->consumers = sc_malloc(c->cap_consumers * sizeof(*c->consumers));
    if (s->nconsumers)
        memcpy(c->consumers, s->consumers, s->nconsumers * sizeof(*c->consumers));
    c->policies = NULL;
    if (s->npolicies) {
        c->policies = sc_malloc(s->npolicies * sizeof(*c->policies));
        for (size_t i = 0; i < s->npolicies; i++) {
            c->policies[i] = s->policies[i];
            c->policies[i].text = sc_strdup(s->policies[i].text);
        }
    }
    return c;
}

/* Whether policy `p` belongs to a consumer that is gone (deregistered, or registered again). */
static bool policy_orphaned(const struct reg_stream *s, const struct reg_policy *p)
{
    if (p->consumer[0] == '\0')
        return false;
    for (size_t i = 0; i < s->nconsumers; i++) {
        const struct reg_consumer_rec *c = &s->consumers[i];
        if (strcmp(c->c.name, p->consumer) == 0)
            return c->c.created_ms != p->consumer_created_ms || c->c.status == REG_DELETING;
    }
    return true;
}

static void stream_derive(struct reg_stream *s)
{
    size_t w = 0;
    for (size_t i = 0; i < s->npolicies; i++) {
        if (policy_orphaned(s, &s->policies[i]))
            free(s->policies[i].text);
        else
            s->policies[w++] = s->policies[i];
    }
    s->npolicies = w;
    s->info.shard_count = (uint32_t)s->nshards;
    s->info.open_shard_count = 0;
    for (size_t i = 0; i < s->nshards; i++)
        if (!s->shards[i].closed)
            s->info.open_shard_count++;
    s->info.consumer_count = 0;
    for (size_t i = 0; i < s->nconsumers; i++)
        if (s->consumers[i].c.status != REG_DELETING)
            s->info.consumer_count++;
}

static const char *stream_name_at(const void *arr, size_t i)
{
    return ((struct reg_stream *const *)arr)[i]->info.name;
}

static size_t stream_pos(const struct registry *reg, const char *name, bool *found)
{
    return shards_name_search(reg->streams, reg->nstreams, stream_name_at, name, found);
}

static void stream_insert(struct registry *reg, size_t pos, struct reg_stream *s)
{
    if (reg->nstreams == reg->cap) {
        reg->cap = reg->cap ? reg->cap * 2 : 16;
        reg->streams = sc_realloc(reg->streams, reg->cap * sizeof(*reg->streams));
    }
    memmove(&reg->streams[pos + 1], &reg->streams[pos],
            (reg->nstreams - pos) * sizeof(*reg->streams));
    reg->streams[pos] = s;
    reg->nstreams++;
}

static void stream_erase(struct registry *reg, size_t pos)
{
    reg_stream_free(reg->streams[pos]);
    memmove(&reg->streams[pos], &reg->streams[pos + 1],
            (reg->nstreams - pos - 1) * sizeof(*reg->streams));
    reg->nstreams--;
}

/* ---- lazy transitions ---------------------------------------------------------------------- */

/* Whether a transition begun at `since` is due. A wall clock that stepped back behind `since`
 * counts as due: time did pass, and waiting for the clock to catch up would hold a stream
 * CREATING (or a consumer DELETING) for as long as the step. */
static bool transition_due(int64_t now, int64_t since, uint32_t after_ms)
{
    return now < since || now - since >= (int64_t)after_ms;
}

/* Applies consumer transitions; returns true if a DELETING consumer was dropped (persist). */
static bool consumers_tick(const struct registry *reg, struct reg_stream *s, int64_t now)
{
    bool dropped = false;
    size_t w = 0;
    for (size_t i = 0; i < s->nconsumers; i++) {
        struct reg_consumer_rec *c = &s->consumers[i];
        bool due = transition_due(now, c->status_ms, reg->opts.consumer_transition_ms);
        if (due && c->c.status == REG_DELETING) {
            dropped = true;
            continue;
        }
        if (due && c->c.status == REG_CREATING) {
            c->c.status = REG_ACTIVE;
            c->status_ms = now;
        }
        s->consumers[w++] = *c;
    }
    s->nconsumers = w;
    return dropped;
}

static int persist(struct registry *reg, struct reg_stream *s, uint64_t expect_rev);

/* Brings every record up to the clock. In-memory status changes need no write: the persisted
 * status + status_ms reproduce them after a restart; removals are written. */
static void registry_tick(struct registry *reg)
{
    int64_t now = clock_now_ms();
    for (size_t i = 0; i < reg->nstreams;) {
        struct reg_stream *s = reg->streams[i];
        bool due = transition_due(now, s->status_ms, reg->opts.transition_ms);
        if (due && s->info.status == REG_DELETING) {
            if (reg->meta && meta_remove(reg->meta, s->info.name, s->info.revision) != 0)
                LOG_WARN("registry: could not remove metadata of deleted stream %s", s->info.name);
            stream_erase(reg, i);
            continue;
        }
        if (due && (s->info.status == REG_CREATING || s->info.status == REG_UPDATING)) {
            s->info.status = REG_ACTIVE;
            s->status_ms = now;
            if (s->info.warm_set) /* the warming an update asked for is done */
                s->info.warm_current_mibps = s->info.warm_target_mibps;
        }
        if (consumers_tick(reg, s, now)) {
            stream_derive(s);
            uint64_t rev = s->info.revision++;
            /* On failure keep the stored revision so the next change can still CAS; the
             * dropped consumers are written with that change (or dropped again on reload). */
            if (persist(reg, s, rev) != 0)
                s->info.revision = rev;
        }
        i++;
    }
}

static int persist(struct registry *reg, struct reg_stream *s, uint64_t expect_rev)
{
    if (reg->meta == NULL)
        return 0;
    return meta_put(reg->meta, s, expect_rev);
}

/* Replaces stream at `pos` with its modified clone `c` once `c` is durable. */
static int stream_commit(struct registry *reg, size_t pos, struct reg_stream *c)
{
    uint64_t expect = reg->streams[pos]->info.revision;
    c->info.revision = expect + 1;
    stream_derive(c);
    int rc = persist(reg, c, expect);
    if (rc != 0) {
        reg_stream_free(c);
        return rc;
    }
    reg_stream_free(reg->streams[pos]);
    reg->streams[pos] = c;
    return 0;
}

/* Locks, ticks and finds `name` (not DELETING unless `deleting_ok`). On success the lock stays
 * held and *pos is set; on failure the lock is released. */
static int lock_find(struct registry *reg, const char *name, size_t *pos, bool deleting_ok)
{
    pthread_mutex_lock(&reg->lock);
    registry_tick(reg);
    bool found;
    *pos = stream_pos(reg, name, &found);
    if (!found || (!deleting_ok && reg->streams[*pos]->info.status == REG_DELETING)) {
        pthread_mutex_unlock(&reg->lock);
        return KERR_RESOURCE_NOT_FOUND;
    }
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static int load_cb(void *arg, struct reg_stream *s)
{
    struct registry *reg = arg;
    bool found;
    size_t pos = stream_pos(reg, s->info.name, &found);
    if (found) {
        reg_stream_free(s);
        return -EBADMSG;
    }
    s->cap_shards = s->nshards;
    s->cap_consumers = s->nconsumers;
    stream_derive(s);
    stream_insert(reg, pos, s);
    return 0;
}

int registry_create(const struct registry_opts *opts, struct registry **out)
{
    struct registry *reg = sc_calloc(1, sizeof(*reg));
    reg->opts = *opts;
    if (reg->opts.max_creating == 0)
        reg->opts.max_creating = 5;
    pthread_mutex_init(&reg->lock, NULL);
    if (opts->data_dir != NULL) {
        int rc = meta_open(opts->data_dir, &reg->meta);
        if (rc == 0)
            rc = meta_load(reg->meta, load_cb, reg);
        if (rc == 0)
            rc = meta_account_load(reg->meta, &reg->account);
        if (rc != 0) {
            registry_destroy(reg);
            return rc;
        }
    }
    *out = reg;
    return 0;
}

void registry_destroy(struct registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->nstreams; i++)
        reg_stream_free(reg->streams[i]);
    free(reg->streams);
    meta_close(reg->meta);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

static uint32_t open_shards_total(const struct registry *reg)
{
    uint32_t n = 0;
    for (size_t i = 0; i < reg->nstreams; i++)
        if (reg->streams[i]->info.status != REG_DELETING)
            n += reg->streams[i]->info.open_shard_count;
    return n;
}

static int tag_cmp(const void *a, const void *b)
{
    return strcmp(((const struct reg_tag *)a)->key, ((const struct reg_tag *)b)->key);
}

/* Merges tags into info (overwriting equal keys), keeping them sorted. */
static int tags_merge(struct reg_stream_info *info, const struct reg_tag *tags, size_t n)
{
    struct reg_tag tmp[REG_TAGS_MAX];
    size_t cnt = info->tag_count;
    memcpy(tmp, info->tags, cnt * sizeof(*tmp));
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < cnt && strcmp(tmp[j].key, tags[i].key) != 0)
            j++;
        if (j == cnt) {
            if (cnt == REG_TAGS_MAX)
                return KERR_INVALID_ARGUMENT;
            cnt++;
        }
        tmp[j] = tags[i];
    }
    qsort(tmp, cnt, sizeof(*tmp), tag_cmp);
    memcpy(info->tags, tmp, cnt * sizeof(*tmp));
    info->tag_count = cnt;
    return 0;
}

static struct reg_stream *stream_new(const char *name, uint32_t count, enum reg_mode mode,
                                     int64_t now)
{
    struct reg_stream *s = sc_calloc(1, sizeof(*s));
    snprintf(s->info.name, sizeof(s->info.name), "%s", name);
    s->info.status = REG_CREATING;
    s->info.mode = mode;
    s->info.created_ms = now;
    s->info.retention_hours = REG_RETENTION_MIN;
    s->info.max_record_kib = REG_RECORD_KIB_DEFAULT;
    s->info.warm_current_mibps = REG_ON_DEMAND_MIBPS;
    s->status_ms = now;
    s->shards = sc_calloc(count, sizeof(*s->shards));
    s->cap_shards = s->nshards = count;
    for (uint32_t i = 0; i < count; i++) {
        struct reg_shard *sh = &s->shards[i];
        sh->index = i;
        sh->parent = sh->adjacent_parent = REG_NO_SHARD;
        u128_split(i, count, &sh->start_hash, &sh->end_hash);
        sh->created_ms = now;
    }
    s->next_index = count;
    stream_derive(s);
    return s;
}

/* The stored settings brought to `now`: a disable scheduled for the earliest allowed end has
 * taken effect once that passed. */
static struct reg_account account_now(const struct registry *reg, int64_t now)
{
    struct reg_account a = reg->account;
    if (a.commitment == REG_COMMIT_ENDING && now >= a.earliest_end_ms) {
        a.commitment = REG_COMMIT_DISABLED;
        a.ended_ms = a.earliest_end_ms;
    }
    return a;
}

/* Whether a stream in `mode` may take a warm throughput now. Lock held. */
static int warm_check(const struct registry *reg, enum reg_mode mode)
{
    if (mode != REG_ON_DEMAND)
        return REG_ERR_NOT_ON_DEMAND;
    if (account_now(reg, clock_now_ms()).commitment == REG_COMMIT_DISABLED)
        return REG_ERR_NO_COMMITMENT;
    return 0;
}

static void warm_target(struct reg_stream *s, uint32_t mibps)
{
    ASSERT(mibps <= REG_WARM_MAX_MIBPS);
    s->info.warm_set = true;
    s->info.warm_target_mibps = mibps;
}

int registry_stream_create(struct registry *reg, const char *name, uint32_t shard_count,
                           enum reg_mode mode, const struct reg_tag *tags, size_t ntags,
                           const struct reg_create_opts *o)
{
    static const struct reg_create_opts defaults = {0};
    if (o == NULL)
        o = &defaults;
    if (mode == REG_ON_DEMAND)
        shard_count = REG_ON_DEMAND_SHARDS;
    ASSERT(shard_count >= 1 && strlen(name) <= REG_NAME_MAX);
    ASSERT(o->max_record_kib == 0 || (o->max_record_kib >= REG_RECORD_KIB_DEFAULT &&
                                      o->max_record_kib <= REG_RECORD_KIB_MAX));
    pthread_mutex_lock(&reg->lock);
    registry_tick(reg);
    int rc = 0;
    bool found;
    size_t pos = stream_pos(reg, name, &found);
    if (found) {
        rc = KERR_RESOURCE_IN_USE;
        goto out;
    }
    size_t creating = 0;
    for (size_t i = 0; i < reg->nstreams; i++)
        creating += reg->streams[i]->info.status == REG_CREATING;
    if (creating >= reg->opts.max_creating ||
        (uint64_t)open_shards_total(reg) + shard_count > reg->opts.shard_limit) {
        rc = KERR_LIMIT_EXCEEDED;
        goto out;
    }
    if (o->warm && (rc = warm_check(reg, mode)) != 0)
        goto out;
    struct reg_stream *s = stream_new(name, shard_count, mode, clock_now_ms());
    if (o->max_record_kib != 0)
        s->info.max_record_kib = o->max_record_kib;
    if (o->warm)
        warm_target(s, o->warm_mibps);
    if (ntags > 0 && tags_merge(&s->info, tags, ntags) != 0) {
        reg_stream_free(s);
        rc = KERR_INVALID_ARGUMENT;
        goto out;
    }
    s->info.revision = 1;
    rc = persist(reg, s, 0);
    if (rc != 0) {
        reg_stream_free(s);
        goto out;
    }
    stream_insert(reg, pos, s);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_stream_delete(struct registry *reg, const char *name, bool force)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, false);
    if (rc != 0)
        return rc;
    struct reg_stream *s = reg->streams[pos];
    if (s->info.consumer_count > 0 && !force) {
        rc = KERR_RESOURCE_IN_USE;
        goto out;
    }
    struct reg_stream *c = stream_clone(s);
    c->info.status = REG_DELETING;
    c->status_ms = clock_now_ms();
    c->nconsumers = 0;
    rc = stream_commit(reg, pos, c);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* Copies len bytes at offset off of the stream's description (all of it, or one member). */
static int info_copy(struct registry *reg, const char *name, size_t off, size_t len, void *out)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, true);
    if (rc != 0)
        return rc;
    memcpy(out, (const char *)&reg->streams[pos]->info + off, len);
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

int registry_stream_get(struct registry *reg, const char *name, struct reg_stream_info *out)
{
    return info_copy(reg, name, 0, sizeof(*out), out);
}

int registry_stream_encryption(struct registry *reg, const char *name, enum reg_encryption *out)
{
    return info_copy(reg, name, offsetof(struct reg_stream_info, encryption), sizeof(*out), out);
}

int registry_stream_put_view(struct registry *reg, const char *name, struct reg_put_view *out)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, true);
    if (rc != 0)
        return rc;
    const struct reg_stream_info *i = &reg->streams[pos]->info;
    *out = (struct reg_put_view){i->encryption, i->max_record_kib};
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

int registry_stream_status(struct registry *reg, const char *name, enum reg_status *out)
{
    return info_copy(reg, name, offsetof(struct reg_stream_info, status), sizeof(*out), out);
}

int registry_shards(struct registry *reg, const char *name, struct reg_stream_info *info,
                    struct reg_shard **out, size_t *n)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, true);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[pos];
    if (info)
        *info = s->info;
    *n = s->nshards;
    *out = NULL;
    if (s->nshards) {
        *out = sc_malloc(s->nshards * sizeof(**out));
        memcpy(*out, s->shards, s->nshards * sizeof(**out));
    }
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

int registry_shard_route(struct registry *reg, const char *name, u128 hash, struct reg_shard *out,
                         enum reg_status *status)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, false);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[pos];
    *status = s->info.status;
    rc = KERR_RESOURCE_NOT_FOUND;
    for (size_t i = 0; i < s->nshards; i++) {
        const struct reg_shard *sh = &s->shards[i];
        if (!sh->closed && sh->start_hash <= hash && hash <= sh->end_hash) {
            *out = *sh;
            rc = 0;
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_shard_get(struct registry *reg, const char *name, uint32_t index,
                       struct reg_shard *out, enum reg_status *status, uint32_t *retention_hours)
{
    size_t pos;
    int rc = lock_find(reg, name, &pos, false);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[pos];
    *status = s->info.status;
    if (retention_hours)
        *retention_hours = s->info.retention_hours;
    if (index < s->nshards)
        *out = s->shards[index];
    else
        rc = KERR_RESOURCE_NOT_FOUND;
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_stream_list(struct registry *reg, const char *after, size_t max,
                         struct reg_stream_info **out, size_t *n, bool *more)
{
    pthread_mutex_lock(&reg->lock);
    registry_tick(reg);
    size_t start = 0;
    if (after != NULL) {
        bool found;
        start = stream_pos(reg, after, &found);
        if (found)
            start++;
    }
    size_t avail = reg->nstreams - start, cnt = SC_MIN(avail, max);
    *out = cnt ? sc_malloc(cnt * sizeof(**out)) : NULL;
    for (size_t i = 0; i < cnt; i++)
        (*out)[i] = reg->streams[start + i]->info;
    *n = cnt;
    *more = avail > cnt;
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

/* ---- updates ------------------------------------------------------------------------------- */

/* Finds an ACTIVE stream and clones it for modification (lock held on success). */
static int lock_clone_active(struct registry *reg, const char *name, size_t *pos,
                             struct reg_stream **c)
{
    int rc = lock_find(reg, name, pos, false);
    if (rc != 0)
        return rc;
    if (reg->streams[*pos]->info.status != REG_ACTIVE) {
        pthread_mutex_unlock(&reg->lock);
        return KERR_RESOURCE_IN_USE;
    }
    *c = stream_clone(reg->streams[*pos]);
    return 0;
}

int registry_tags_add(struct registry *reg, const char *name, const struct reg_tag *tags, size_t n)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    rc = tags_merge(&c->info, tags, n);
    if (rc == 0)
        rc = stream_commit(reg, pos, c);
    else
        reg_stream_free(c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_tags_remove(struct registry *reg, const char *name, const char *const *keys, size_t n)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    struct reg_stream_info *i = &c->info;
    size_t w = 0;
    for (size_t t = 0; t < i->tag_count; t++) {
        bool drop = false;
        for (size_t k = 0; k < n && !drop; k++)
            drop = strcmp(i->tags[t].key, keys[k]) == 0;
        if (!drop)
            i->tags[w++] = i->tags[t];
    }
    i->tag_count = w;
    rc = stream_commit(reg, pos, c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_retention_set(struct registry *reg, const char *name, uint32_t hours, bool increase,
                           uint32_t *current)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    *current = c->info.retention_hours;
    if (increase ? hours < *current : hours > *current) {
        reg_stream_free(c);
        rc = KERR_INVALID_ARGUMENT;
    } else {
        c->info.retention_hours = hours;
        rc = stream_commit(reg, pos, c);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_max_record_set(struct registry *reg, const char *name, uint32_t kib)
{
    ASSERT(kib >= REG_RECORD_KIB_DEFAULT && kib <= REG_RECORD_KIB_MAX);
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    c->info.max_record_kib = kib;
    rc = stream_commit(reg, pos, c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_metrics_update(struct registry *reg, const char *name, uint32_t bits, bool enable,
                            uint32_t *before, uint32_t *after)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    *before = c->info.metrics;
    c->info.metrics = enable ? (c->info.metrics | bits) : (c->info.metrics & ~bits);
    *after = c->info.metrics;
    rc = stream_commit(reg, pos, c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- rolling-24 h quotas ------------------------------------------------------------------- */

#define DAILY_WINDOW_MS (24 * 3600 * 1000LL)

/* Index of the first call of `kind` inside the 24 h before `now` (the list is oldest first). */
static uint32_t daily_first_recent(const struct reg_stream *s, enum reg_daily_kind kind,
                                   int64_t now)
{
    const struct reg_daily *d = &s->daily[kind];
    uint32_t k = 0;
    while (k < d->n && now - d->ms[k] >= DAILY_WINDOW_MS)
        k++;
    return k;
}

/* True when the limit is on and `kind`'s quota is spent; *retry_ms is then when the oldest
 * counted call leaves the window. */
static bool daily_spent(const struct registry *reg, const struct reg_stream *s,
                        enum reg_daily_kind kind, int64_t now, int64_t *retry_ms)
{
    uint32_t first = daily_first_recent(s, kind, now);
    if (!reg->opts.limit_daily || s->daily[kind].n - first < reg_daily_kinds[kind].cap)
        return false;
    *retry_ms = s->daily[kind].ms[first] + DAILY_WINDOW_MS;
    return true;
}

/* Records a call at `now`, forgetting those out of the window (and, with the limit off, the
 * oldest beyond the cap). A wall clock that stepped back records the newest time again: the
 * list stays ordered, as meta_decode requires (an unordered file would keep the server from
 * starting). */
static void daily_add(struct reg_stream *s, enum reg_daily_kind kind, int64_t now)
{
    struct reg_daily *d = &s->daily[kind];
    if (d->n > 0 && now < d->ms[d->n - 1])
        now = d->ms[d->n - 1];
    uint32_t drop = daily_first_recent(s, kind, now);
    if (d->n - drop == reg_daily_kinds[kind].cap)
        drop++;
    memmove(d->ms, d->ms + drop, (d->n - drop) * sizeof(d->ms[0]));
    d->n -= drop;
    d->ms[d->n++] = now;
}

static void set_updating(struct reg_stream *c)
{
    c->info.status = REG_UPDATING;
    c->status_ms = clock_now_ms();
}

int registry_encryption_set(struct registry *reg, const char *name, enum reg_encryption enc,
                            const char *key_id, int64_t *retry_ms)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    enum reg_daily_kind kind = enc == REG_ENC_KMS ? REG_DAILY_ENC_START : REG_DAILY_ENC_STOP;
    int64_t now = clock_now_ms();
    if (daily_spent(reg, c, kind, now, retry_ms)) {
        reg_stream_free(c);
        pthread_mutex_unlock(&reg->lock);
        return KERR_LIMIT_EXCEEDED;
    }
    daily_add(c, kind, now);
    c->info.encryption = enc;
    snprintf(c->info.key_id, sizeof(c->info.key_id), "%s",
             enc == REG_ENC_KMS && key_id ? key_id : "");
    set_updating(c);
    rc = stream_commit(reg, pos, c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_mode_set(struct registry *reg, const char *name, enum reg_mode mode,
                      const uint32_t *warm_mibps)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    if (warm_mibps != NULL && (rc = warm_check(reg, mode)) != 0) {
        reg_stream_free(c);
    } else {
        c->info.mode = mode;
        if (warm_mibps != NULL)
            warm_target(c, *warm_mibps);
        set_updating(c);
        rc = stream_commit(reg, pos, c);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_warm_set(struct registry *reg, const char *name, uint32_t mibps, uint32_t *current)
{
    size_t pos;
    struct reg_stream *c;
    int rc = lock_clone_active(reg, name, &pos, &c);
    if (rc != 0)
        return rc;
    *current = c->info.warm_current_mibps;
    if ((rc = warm_check(reg, c->info.mode)) != 0) {
        reg_stream_free(c);
    } else {
        warm_target(c, mibps);
        set_updating(c);
        rc = stream_commit(reg, pos, c);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- account settings ---------------------------------------------------------------------- */

void registry_account_get(struct registry *reg, struct reg_account *out)
{
    pthread_mutex_lock(&reg->lock);
    *out = account_now(reg, clock_now_ms());
    pthread_mutex_unlock(&reg->lock);
}

int registry_commitment_set(struct registry *reg, bool enable, struct reg_account *out)
{
    pthread_mutex_lock(&reg->lock);
    int64_t now = clock_now_ms();
    struct reg_account a = account_now(reg, now);
    if (enable && a.commitment == REG_COMMIT_DISABLED) {
        a = (struct reg_account){REG_COMMIT_ENABLED, now, 0, now + REG_COMMITMENT_MIN_MS};
    } else if (enable && a.commitment == REG_COMMIT_ENDING) {
        a.commitment = REG_COMMIT_ENABLED; /* the scheduled end is cancelled */
    } else if (!enable && a.commitment == REG_COMMIT_ENABLED) {
        if (now >= a.earliest_end_ms) {
            a.commitment = REG_COMMIT_DISABLED;
            a.ended_ms = now;
        } else {
            a.commitment = REG_COMMIT_ENDING;
        }
    }
    int rc = 0;
    const struct reg_account *b = &reg->account;
    bool changed = a.commitment != b->commitment || a.started_ms != b->started_ms ||
                   a.ended_ms != b->ended_ms || a.earliest_end_ms != b->earliest_end_ms;
    if (changed && reg->meta != NULL)
        rc = meta_account_put(reg->meta, &a);
    if (rc == 0)
        reg->account = a;
    *out = account_now(reg, now);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

void registry_limits(struct registry *reg, uint32_t *open_shards, uint32_t *on_demand_streams)
{
    pthread_mutex_lock(&reg->lock);
    registry_tick(reg);
    *open_shards = open_shards_total(reg);
    *on_demand_streams = 0;
    for (size_t i = 0; i < reg->nstreams; i++)
        *on_demand_streams += reg->streams[i]->info.mode == REG_ON_DEMAND;
    pthread_mutex_unlock(&reg->lock);
}

/* ---- resource policies --------------------------------------------------------------------- */

/* The policy slot of (consumer, created) in s, or NULL. */
static struct reg_policy *policy_find(struct reg_stream *s, const char *consumer,
                                      int64_t created_ms)
{
    for (size_t i = 0; i < s->npolicies; i++) {
        struct reg_policy *p = &s->policies[i];
        if (strcmp(p->consumer, consumer) == 0 && p->consumer_created_ms == created_ms)
            return p;
    }
    return NULL;
}

static struct reg_consumer_rec *consumer_find(struct reg_stream *s, const char *name);

/* Resolves the policy owner in s: the stream (consumer NULL) or a live consumer registration.
 * KERR_RESOURCE_NOT_FOUND when the consumer is not there. */
static int policy_owner(struct reg_stream *s, const char *consumer, int64_t created_secs,
                        const char **name, int64_t *created_ms)
{
    *name = "";
    *created_ms = 0;
    if (consumer == NULL)
        return 0;
    const struct reg_consumer_rec *r = consumer_find(s, consumer);
    if (r == NULL || r->c.status == REG_DELETING ||
        (created_secs >= 0 && r->c.created_ms / 1000 != created_secs))
        return KERR_RESOURCE_NOT_FOUND;
    *name = r->c.name;
    *created_ms = r->c.created_ms;
    return 0;
}

/* Where a policy is (to be) kept: the owner's name and registration, and its slot if any. */
struct policy_loc {
    const char *name;
    int64_t created_ms;
    struct reg_policy *slot; /* NULL: none attached */
};

/* For put and delete: locks, clones the ACTIVE stream into *c and locates the policy in the
 * clone. On failure nothing is held. */
static int policy_begin(struct registry *reg, const char *stream, const char *consumer,
                        int64_t consumer_created_secs, size_t *pos, struct reg_stream **c,
                        struct policy_loc *at)
{
    int rc = lock_clone_active(reg, stream, pos, c);
    if (rc != 0)
        return rc;
    rc = policy_owner(*c, consumer, consumer_created_secs, &at->name, &at->created_ms);
    if (rc != 0) {
        reg_stream_free(*c);
        pthread_mutex_unlock(&reg->lock);
        return rc;
    }
    at->slot = policy_find(*c, at->name, at->created_ms);
    return 0;
}

int registry_policy_put(struct registry *reg, const char *stream, const char *consumer,
                        int64_t consumer_created_secs, const char *text)
{
    size_t len = strlen(text);
    ASSERT(len >= 1 && len <= REG_POLICY_MAX);
    size_t pos;
    struct reg_stream *c;
    struct policy_loc at;
    int rc = policy_begin(reg, stream, consumer, consumer_created_secs, &pos, &c, &at);
    if (rc != 0)
        return rc;
    struct reg_policy *p = at.slot;
    if (p == NULL) {
        c->policies = sc_realloc(c->policies, (c->npolicies + 1) * sizeof(*c->policies));
        p = &c->policies[c->npolicies++];
        snprintf(p->consumer, sizeof(p->consumer), "%s", at.name);
        p->consumer_created_ms = at.created_ms;
    } else {
        free(p->text);
    }
    p->text = sc_strdup(text);
    rc = stream_commit(reg, pos, c);
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_policy_get(struct registry *reg, const char *stream, const char *consumer,
                        int64_t consumer_created_secs, char **out)
{
    *out = NULL;
    size_t pos;
    int rc = lock_find(reg, stream, &pos, false);
    if (rc != 0)
        return rc;
    struct reg_stream *s = reg->streams[pos];
    const char *name;
    int64_t created_ms;
    rc = policy_owner(s, consumer, consumer_created_secs, &name, &created_ms);
    if (rc == 0) {
        const struct reg_policy *p = policy_find(s, name, created_ms);
        if (p != NULL)
            *out = sc_strdup(p->text);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_policy_delete(struct registry *reg, const char *stream, const char *consumer,
                           int64_t consumer_created_secs)
{
    size_t pos;
    struct reg_stream *c;
    struct policy_loc at;
    int rc = policy_begin(reg, stream, consumer, consumer_created_secs, &pos, &c, &at);
    if (rc != 0)
        return rc;
    if (at.slot == NULL) {
        rc = -ENOENT;
        reg_stream_free(c);
    } else {
        free(at.slot->text);
        *at.slot = c->policies[--c->npolicies];
        rc = stream_commit(reg, pos, c);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- consumers ----------------------------------------------------------------------------- */

static struct reg_consumer_rec *consumer_find(struct reg_stream *s, const char *name)
{
    for (size_t i = 0; i < s->nconsumers; i++)
        if (strcmp(s->consumers[i].c.name, name) == 0)
            return &s->consumers[i];
    return NULL;
}

static int consumer_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct reg_consumer_rec *)a)->c.name,
                  ((const struct reg_consumer_rec *)b)->c.name);
}

int registry_consumer_register(struct registry *reg, const char *stream, const char *name,
                               struct reg_consumer *out)
{
    size_t pos;
    int rc = lock_find(reg, stream, &pos, false);
    if (rc != 0)
        return rc;
    struct reg_stream *s = reg->streams[pos];
    size_t creating = 0;
    for (size_t i = 0; i < s->nconsumers; i++)
        creating += s->consumers[i].c.status == REG_CREATING;
    if (consumer_find(s, name) != NULL || s->info.status == REG_CREATING) {
        rc = KERR_RESOURCE_IN_USE;
        goto out;
    }
    if (s->info.consumer_count >= reg->opts.max_consumers || creating >= 5) {
        rc = KERR_LIMIT_EXCEEDED;
        goto out;
    }
    struct reg_stream *c = stream_clone(s);
    struct reg_consumer_rec *r = &c->consumers[c->nconsumers++];
    memset(r, 0, sizeof(*r));
    snprintf(r->c.name, sizeof(r->c.name), "%s", name);
    r->c.created_ms = r->status_ms = clock_now_ms();
    r->c.status = REG_CREATING;
    *out = r->c;
    qsort(c->consumers, c->nconsumers, sizeof(*c->consumers), consumer_name_cmp);
    rc = stream_commit(reg, pos, c);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_consumer_deregister(struct registry *reg, const char *stream, const char *name,
                                 int64_t created_secs)
{
    size_t pos;
    int rc = lock_find(reg, stream, &pos, false);
    if (rc != 0)
        return rc;
    struct reg_consumer_rec *r = consumer_find(reg->streams[pos], name);
    if (r == NULL || r->c.status == REG_DELETING ||
        (created_secs >= 0 && r->c.created_ms / 1000 != created_secs)) {
        rc = KERR_RESOURCE_NOT_FOUND;
        goto out;
    }
    struct reg_stream *c = stream_clone(reg->streams[pos]);
    r = consumer_find(c, name);
    ASSERT(r != NULL); /* the clone holds every consumer of the original */
    r->c.status = REG_DELETING;
    r->status_ms = clock_now_ms();
    rc = stream_commit(reg, pos, c);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_consumer_get(struct registry *reg, const char *stream, const char *name,
                          struct reg_consumer *out)
{
    size_t pos;
    int rc = lock_find(reg, stream, &pos, false);
    if (rc != 0)
        return rc;
    struct reg_consumer_rec *r = consumer_find(reg->streams[pos], name);
    if (r == NULL)
        rc = KERR_RESOURCE_NOT_FOUND;
    else
        *out = r->c;
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_consumer_list(struct registry *reg, const char *stream, const char *after, size_t max,
                           struct reg_consumer **out, size_t *n, bool *more)
{
    size_t pos;
    int rc = lock_find(reg, stream, &pos, false);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[pos];
    size_t start = 0;
    while (after != NULL && start < s->nconsumers && strcmp(s->consumers[start].c.name, after) <= 0)
        start++;
    size_t avail = s->nconsumers - start, cnt = SC_MIN(avail, max);
    *out = cnt ? sc_malloc(cnt * sizeof(**out)) : NULL;
    for (size_t i = 0; i < cnt; i++)
        (*out)[i] = s->consumers[start + i].c;
    *n = cnt;
    *more = avail > cnt;
    pthread_mutex_unlock(&reg->lock);
    return 0;
}

/* ---- resharding ---------------------------------------------------------------------------- */

static struct reg_shard *shard_add(struct reg_stream *c, u128 start, u128 end, uint32_t parent,
                                   uint32_t adjacent, int64_t now)
{
    if (c->nshards == c->cap_shards) {
        c->cap_shards = c->cap_shards * 2 + 2;
        c->shards = sc_realloc(c->shards, c->cap_shards * sizeof(*c->shards));
    }
    struct reg_shard *sh = &c->shards[c->nshards++];
    memset(sh, 0, sizeof(*sh));
    sh->index = c->next_index++;
    sh->parent = parent;
    sh->adjacent_parent = adjacent;
    sh->start_hash = start;
    sh->end_hash = end;
    sh->created_ms = now;
    return sh;
}

/* Marks a shard closed in clone c after storage sealed its log (opts.seal; without a hook the
 * ending position stays 0). A seal error aborts the reshard before anything is committed; a
 * log sealed by an earlier step of the same aborted call stays sealed (rare I/O failure). */
static int shard_close(const struct registry *reg, struct reg_stream *c, uint32_t index,
                       int64_t now)
{
    struct reg_shard *sh = &c->shards[index];
    uint64_t end = 0;
    if (reg->opts.seal != NULL) {
        int rc = reg->opts.seal(reg->opts.hook_arg, c->info.name, index, &end);
        if (rc != 0) {
            LOG_ERROR("registry: sealing shard %u of stream %s failed: %s", index, c->info.name,
                      kerr_name(rc));
            return rc;
        }
    }
    sh->closed = true;
    sh->closed_ms = now;
    sh->ending_position = end;
    return 0;
}

/* Common preconditions of split/merge; on success the lock is held and *c is a clone. */
static int reshard_begin(struct registry *reg, const char *name, uint32_t extra_shards, size_t *pos,
                         struct reg_stream **c)
{
    int rc = lock_find(reg, name, pos, false);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[*pos];
    if (s->info.mode == REG_ON_DEMAND)
        rc = KERR_VALIDATION;
    else if (s->info.status != REG_ACTIVE)
        rc = KERR_RESOURCE_IN_USE;
    else if ((uint64_t)open_shards_total(reg) + extra_shards > reg->opts.shard_limit)
        rc = KERR_LIMIT_EXCEEDED;
    if (rc != 0) {
        pthread_mutex_unlock(&reg->lock);
        return rc;
    }
    *c = stream_clone(s);
    return 0;
}

/* Ends what reshard_begin started: commits the edited clone (stream UPDATING) when rc is 0,
 * discards it otherwise; releases the lock either way. Returns rc or the commit's result. */
static int reshard_end(struct registry *reg, size_t pos, struct reg_stream *c, int rc)
{
    if (rc == 0) {
        set_updating(c);
        rc = stream_commit(reg, pos, c);
    } else {
        reg_stream_free(c);
    }
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

int registry_shard_split(struct registry *reg, const char *name, uint32_t shard, u128 new_start)
{
    size_t pos;
    struct reg_stream *c;
    int rc = reshard_begin(reg, name, 1, &pos, &c);
    if (rc != 0)
        return rc;
    if (shard >= c->nshards || c->shards[shard].closed) {
        rc = shard >= c->nshards ? KERR_RESOURCE_NOT_FOUND : KERR_RESOURCE_IN_USE;
        goto fail;
    }
    u128 s0 = c->shards[shard].start_hash, e0 = c->shards[shard].end_hash;
    if (!(new_start > s0 + 1 && new_start < e0) || s0 == U128_MAX) {
        rc = KERR_INVALID_ARGUMENT;
        goto fail;
    }
    int64_t now = clock_now_ms();
    if ((rc = shard_close(reg, c, shard, now)) != 0)
        goto fail;
    shard_add(c, s0, new_start - 1, shard, REG_NO_SHARD, now);
    shard_add(c, new_start, e0, shard, REG_NO_SHARD, now);
fail:
    return reshard_end(reg, pos, c, rc);
}

int registry_shard_merge(struct registry *reg, const char *name, uint32_t shard, uint32_t adjacent)
{
    size_t pos;
    struct reg_stream *c;
    int rc = reshard_begin(reg, name, 0, &pos, &c);
    if (rc != 0)
        return rc;
    if (shard >= c->nshards || adjacent >= c->nshards) {
        rc = KERR_RESOURCE_NOT_FOUND;
        goto fail;
    }
    struct reg_shard *a = &c->shards[shard], *b = &c->shards[adjacent];
    if (a->closed || b->closed) {
        rc = KERR_RESOURCE_IN_USE;
        goto fail;
    }
    if (a->end_hash == U128_MAX || a->end_hash + 1 != b->start_hash) {
        rc = KERR_INVALID_ARGUMENT;
        goto fail;
    }
    int64_t now = clock_now_ms();
    u128 start = a->start_hash, end = b->end_hash;
    if ((rc = shard_close(reg, c, shard, now)) != 0 || (rc = shard_close(reg, c, adjacent, now)))
        goto fail;
    shard_add(c, start, end, shard, adjacent, now);
fail:
    return reshard_end(reg, pos, c, rc);
}

struct hash_idx {
    u128 start;
    uint32_t index;
};

static int open_by_hash(const void *a, const void *b)
{
    u128 x = ((const struct hash_idx *)a)->start, y = ((const struct hash_idx *)b)->start;
    return x < y ? -1 : x > y;
}

/* The start of target range t (1 <= t < target) as CreateStream draws them. */
static u128 uniform_start(uint32_t t, uint32_t target)
{
    u128 start, end;
    u128_split(t, target, &start, &end);
    return start;
}

/* Applies an UpdateShardCount (UNIFORM_SCALING) to clone c: the open shards end as `target`
 * shards with exactly the ranges CreateStream(target) draws, as AWS leaves them. A child has at
 * most two parents, so it is a series of splits and merges: every open shard is split at each
 * target boundary inside it, then the pieces of each target range are merged left to right.
 * Pieces split off and merged again live for no time (closed at once, no record); AWS documents
 * such short-lived shards too. Doubling and halving need no piece of that kind. */
static int rescale(const struct registry *reg, struct reg_stream *c, uint32_t open, uint32_t target,
                   int64_t now)
{
    struct hash_idx *hi = sc_malloc(open * sizeof(*hi));
    uint32_t k = 0;
    for (size_t i = 0; i < c->nshards; i++)
        if (!c->shards[i].closed)
            hi[k++] = (struct hash_idx){c->shards[i].start_hash, c->shards[i].index};
    ASSERT(k == open);
    qsort(hi, open, sizeof(*hi), open_by_hash);
    /* Pieces in hash order, each inside one target range: at most open + target - 1. */
    uint32_t *piece = sc_malloc(((size_t)open + target) * sizeof(*piece));
    uint32_t np = 0, t = 1;
    int rc = 0;
    for (uint32_t i = 0; i < open && rc == 0; i++) {
        uint32_t cur = hi[i].index;
        for (;;) {
            struct reg_shard p = c->shards[cur]; /* a copy: shard_add may move the array */
            while (t < target && uniform_start(t, target) <= p.start_hash)
                t++;
            if (t == target || uniform_start(t, target) > p.end_hash)
                break;
            u128 at = uniform_start(t, target);
            if ((rc = shard_close(reg, c, cur, now)) != 0)
                break;
            piece[np++] = shard_add(c, p.start_hash, at - 1, cur, REG_NO_SHARD, now)->index;
            cur = shard_add(c, at, p.end_hash, cur, REG_NO_SHARD, now)->index;
        }
        piece[np++] = cur;
    }
    free(hi);
    ASSERT(rc != 0 || np <= open + target - 1);
    for (uint32_t j = 0, p = 0; j < target && rc == 0; j++) {
        u128 start, end;
        u128_split(j, target, &start, &end);
        ASSERT(p < np && c->shards[piece[p]].start_hash == start);
        uint32_t cur = piece[p++];
        while (c->shards[cur].end_hash != end) {
            ASSERT(p < np);
            uint32_t next = piece[p++];
            struct reg_shard a = c->shards[cur], b = c->shards[next];
            ASSERT(a.end_hash + 1 == b.start_hash);
            if ((rc = shard_close(reg, c, cur, now)) != 0 ||
                (rc = shard_close(reg, c, next, now)) != 0)
                break;
            cur = shard_add(c, a.start_hash, b.end_hash, cur, next, now)->index;
        }
    }
    free(piece);
    return rc;
}

int registry_shard_count_update(struct registry *reg, const char *name, uint32_t target,
                                struct reg_rescale *out)
{
    *out = (struct reg_rescale){0};
    size_t pos;
    int rc = lock_find(reg, name, &pos, false);
    if (rc != 0)
        return rc;
    const struct reg_stream *s = reg->streams[pos];
    uint32_t open = s->info.open_shard_count;
    int64_t now = clock_now_ms();
    out->current = open;
    if (s->info.mode == REG_ON_DEMAND)
        rc = KERR_VALIDATION;
    else if (s->info.status != REG_ACTIVE)
        rc = KERR_RESOURCE_IN_USE;
    else if (target < 1 || target > 10000 || (uint64_t)target > 2ull * open || 2ull * target < open)
        rc = KERR_INVALID_ARGUMENT;
    else if ((uint64_t)open_shards_total(reg) - open + target > reg->opts.shard_limit)
        rc = KERR_LIMIT_EXCEEDED;
    else if (target != open && daily_spent(reg, s, REG_DAILY_SCALE, now, &out->retry_ms)) {
        rc = KERR_LIMIT_EXCEEDED;
        out->too_often = true;
    }
    if (rc != 0 || target == open)
        goto out;
    struct reg_stream *c = stream_clone(s);
    rc = rescale(reg, c, open, target, now);
    if (rc != 0) {
        reg_stream_free(c);
        goto out;
    }
    daily_add(c, REG_DAILY_SCALE, now);
    set_updating(c);
    rc = stream_commit(reg, pos, c);
out:
    pthread_mutex_unlock(&reg->lock);
    return rc;
}

/* ---- shard ids ----------------------------------------------------------------------------- */

int registry_shard_id_parse(const char *s, uint32_t *index)
{
    if (strncmp(s, "shardId-", 8) == 0)
        s += 8;
    if (*s == '\0' || strlen(s) > 20)
        return -EINVAL;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v >= REG_NO_SHARD)
            return -EINVAL;
    }
    *index = (uint32_t)v;
    return 0;
}

char *registry_shard_id_print(uint32_t index, char *buf)
{
    /* No printf: PutRecords prints one per record in its response. */
    memcpy(buf, "shardId-", 8);
    for (int i = 19; i >= 8; i--, index /= 10)
        buf[i] = (char)('0' + index % 10);
    buf[20] = '\0';
    return buf;
}
