/* leases.c — the consumer x shard subscription table (leases.h). A linked list under one mutex:
 * it is walked only by subscribe, pipe end and deregister, never per record. */
#include "subscribe/leases.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"

struct lease {
    char *stream, *consumer;
    int64_t consumer_created_ms;
    uint32_t shard;
    void *owner;
    int64_t started_ms;
    struct lease *next;
};

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lease *g_leases;
static size_t g_count;

static bool same(const struct lease *l, const struct lease_key *k)
{
    return l->shard == k->shard && l->consumer_created_ms == k->consumer_created_ms &&
           strcmp(l->stream, k->stream) == 0 && strcmp(l->consumer, k->consumer) == 0;
}

int leases_acquire(const struct lease_key *k, void *owner, int64_t now_ms, void **evicted)
{
    ASSERT(owner != NULL);
    *evicted = NULL;
    int rc = 0;
    pthread_mutex_lock(&g_lock);
    for (struct lease *l = g_leases; l != NULL; l = l->next) {
        if (!same(l, k))
            continue;
        if (now_ms - l->started_ms < LEASES_TAKEOVER_MS) {
            rc = -EBUSY;
            goto out;
        }
        *evicted = l->owner;
        l->owner = owner;
        l->started_ms = now_ms;
        goto out;
    }
    if (g_count >= LEASES_MAX) {
        rc = -ENOSPC;
        goto out;
    }
    struct lease *l = sc_calloc(1, sizeof(*l));
    l->stream = sc_strdup(k->stream);
    l->consumer = sc_strdup(k->consumer);
    l->consumer_created_ms = k->consumer_created_ms;
    l->shard = k->shard;
    l->owner = owner;
    l->started_ms = now_ms;
    l->next = g_leases;
    g_leases = l;
    g_count++;
out:
    pthread_mutex_unlock(&g_lock);
    return rc;
}

static void lease_free(struct lease *l)
{
    free(l->stream);
    free(l->consumer);
    free(l);
}

bool leases_release(const struct lease_key *k, void *owner)
{
    bool found = false;
    pthread_mutex_lock(&g_lock);
    for (struct lease **pp = &g_leases; *pp != NULL; pp = &(*pp)->next) {
        struct lease *l = *pp;
        if (l->owner == owner && same(l, k)) {
            *pp = l->next;
            g_count--;
            lease_free(l);
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return found;
}

size_t leases_take_consumer(const char *stream, const char *consumer, void **out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&g_lock);
    struct lease **pp = &g_leases;
    while (*pp != NULL && n < max) {
        struct lease *l = *pp;
        if (strcmp(l->stream, stream) == 0 && strcmp(l->consumer, consumer) == 0) {
            *pp = l->next;
            g_count--;
            out[n++] = l->owner;
            lease_free(l);
        } else {
            pp = &l->next;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return n;
}

size_t leases_count(void)
{
    pthread_mutex_lock(&g_lock);
    size_t n = g_count;
    pthread_mutex_unlock(&g_lock);
    return n;
}
