#include "common/refbuf.h"

#include <string.h>

#include "common/common.h"

struct refbuf *refbuf_create(size_t cap)
{
    struct refbuf *b = sc_malloc(sizeof(*b) + cap);
    atomic_init(&b->refs, 1);
    b->len = 0;
    b->cap = cap;
    return b;
}

struct refbuf *refbuf_from(const void *bytes, size_t len)
{
    struct refbuf *b = refbuf_create(len);
    refbuf_append(b, bytes, len);
    return b;
}

void refbuf_incref(struct refbuf *b)
{
    unsigned prev = atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    ASSERT(prev > 0);
}

void refbuf_decref(struct refbuf *b)
{
    if (b == NULL)
        return;
    unsigned prev = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
    ASSERT(prev > 0);
    if (prev == 1)
        free(b);
}

void refbuf_append(struct refbuf *b, const void *bytes, size_t len)
{
    ASSERT(b->len + len <= b->cap);
    memcpy(b->data + b->len, bytes, len);
    b->len += len;
}

void refbuf_evbuffer_cleanup(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    refbuf_decref(arg);
}
