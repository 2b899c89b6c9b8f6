/* tailring.c — a shard's shared tail frames (tailring.h). */
#include "subscribe/tailring.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "common/common.h"
#include "subscribe/evframe.h"

struct tailring {
    const void *key;
    unsigned refs; /* under registry_lock */
    pthread_mutex_t lock;
    /* Oldest first, sorted by `from` (a frame is only ever built at or past built_end). */
    struct tailframe frames[TAILRING_FRAMES];
    unsigned first, count;
    size_t bytes;
    uint64_t built_end; /* where the newest built frame ends: the next build starts here or later */
    struct tailring *next;
};

/* Few rings (one per shard with a live subscription), looked up only when a hub is created. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tailring *registry;

struct tailring *tailring_get(const void *key)
{
    pthread_mutex_lock(&registry_lock);
    struct tailring *r = registry;
    while (r != NULL && r->key != key)
        r = r->next;
    if (r == NULL) {
        r = sc_calloc(1, sizeof(*r));
        r->key = key;
        pthread_mutex_init(&r->lock, NULL);
        r->next = registry;
        registry = r;
    }
    r->refs++;
    pthread_mutex_unlock(&registry_lock);
    return r;
}

static struct tailframe *at(struct tailring *r, unsigned i)
{
    return &r->frames[(r->first + i) % TAILRING_FRAMES];
}

static void drop_oldest(struct tailring *r)
{
    struct tailframe *old = at(r, 0);
    r->bytes -= evframe_len(old->f);
    evframe_decref(old->f);
    old->f = NULL;
    r->first = (r->first + 1) % TAILRING_FRAMES;
    r->count--;
}

void tailring_put(struct tailring *r)
{
    pthread_mutex_lock(&registry_lock);
    ASSERT(r->refs > 0);
    bool last = --r->refs == 0;
    if (last)
        for (struct tailring **pp = &registry; *pp != NULL; pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                break;
            }
    pthread_mutex_unlock(&registry_lock);
    if (!last)
        return;
    while (r->count > 0)
        drop_oldest(r);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void keep(struct tailring *r, const struct tailframe *tf)
{
    if (r->count == TAILRING_FRAMES)
        drop_oldest(r);
    struct tailframe *slot = at(r, r->count);
    *slot = *tf;
    evframe_incref(slot->f);
    r->count++;
    r->bytes += evframe_len(slot->f);
    while (r->count > 1 && r->bytes > TAILRING_BYTES)
        drop_oldest(r);
    r->built_end = tf->to;
}

int tailring_take(struct tailring *r, uint64_t from, tailring_build_fn build, void *arg,
                  struct tailframe *out, uint64_t *bound)
{
    pthread_mutex_lock(&r->lock);
    int rc = -ENOENT;
    /* Newest first: hubs of a busy shard ask for the frame just built. */
    for (unsigned i = r->count; i-- > 0;) {
        const struct tailframe *tf = at(r, i);
        if (tf->from == from) {
            *out = *tf;
            evframe_incref(out->f);
            rc = 1;
            break;
        }
        if (tf->from < from)
            break;
    }
    if (rc == -ENOENT && from >= r->built_end) {
        rc = build(arg, from, out);
        if (rc == 1) {
            ASSERT(out->from == from && out->to > from);
            keep(r, out);
        }
    } else if (rc == -ENOENT) {
        /* Inside a built batch or behind the kept ones: the next boundary after `from`. */
        *bound = r->built_end;
        for (unsigned i = 0; i < r->count; i++)
            if (at(r, i)->from > from) {
                *bound = at(r, i)->from;
                break;
            }
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}
