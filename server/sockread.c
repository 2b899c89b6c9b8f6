/* sockread.c — large reads past libevent 2.1's 4 KiB cap (see sockread.h). */
#include "server/sockread.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/uio.h>

#include "common/common.h"

#define SOCKREAD_CHUNK (64u << 10)

size_t sockread_fill(struct bufferevent *bev, size_t max)
{
    evutil_socket_t fd = bufferevent_getfd(bev);
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t got = 0;
    /* A socket bufferevent keeps its input's end frozen outside its own reads (so callers cannot
     * append): do what its read callback does, unfreeze for the read and freeze again. */
    evbuffer_unfreeze(in, 0);
    /* Bounded: each round reads up to 64 KiB or ends the loop. */
    for (size_t have = evbuffer_get_length(in); fd >= 0 && have < max;) {
        size_t want = SC_MIN(max - have, (size_t)SOCKREAD_CHUNK);
        struct evbuffer_iovec v[2];
        int k = evbuffer_reserve_space(in, (ev_ssize_t)want, v, 2);
        if (k <= 0)
            break;
        struct iovec iov[2];
        size_t room = 0;
        for (int i = 0; i < k; i++) {
            iov[i].iov_base = v[i].iov_base;
            iov[i].iov_len = SC_MIN(v[i].iov_len, want - room);
            room += iov[i].iov_len;
        }
        ssize_t n = readv(fd, iov, k);
        if (n <= 0)
            break; /* reserved space not committed is simply unused */
        int used = 0;
        for (size_t left = (size_t)n; left > 0; used++) {
            v[used].iov_len = SC_MIN(iov[used].iov_len, left);
            left -= v[used].iov_len;
        }
        ASSERT(evbuffer_commit_space(in, v, used) == 0);
        got += (size_t)n;
        have += (size_t)n;
        if ((size_t)n < room)
            break; /* the socket is empty */
    }
    evbuffer_freeze(in, 0);
    return got;
}
