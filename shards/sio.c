#include "shards/sio.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/common.h"

struct sio_list {
    struct sio_op *head, *tail;
};

struct sio {
    int efd;
    bool uring;
    struct io_uring ring;
    struct sio_list backlog;  /* uring: waiting for an SQE slot; fallback: waiting to run */
    pthread_mutex_t post_lock; /* guards posted */
    struct sio_list posted;
    atomic_uint inflight;
};

static atomic_flag warned = ATOMIC_FLAG_INIT;

static void list_push(struct sio_list *l, struct sio_op *op)
{
    op->next = NULL;
    if (l->tail)
        l->tail->next = op;
    else
        l->head = op;
    l->tail = op;
}

static struct sio_op *list_take_all(struct sio_list *l)
{
    struct sio_op *h = l->head;
    l->head = l->tail = NULL;
    return h;
}

static void wake(struct sio *s)
{
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(s->efd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already huge: the owner is awake anyway. */
    ASSERT(n == sizeof(one) || errno == EAGAIN);
}

struct sio *sio_create(unsigned entries, bool force_fallback, int *err)
{
    struct sio *s = sc_calloc(1, sizeof(*s));
    s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0) {
        *err = -errno;
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->post_lock, NULL);
    const char *env = getenv("SHARDCAST_NO_IO_URING");
    if (env != NULL && env[0] == '1')
        force_fallback = true;
    if (!force_fallback) {
        int rc = io_uring_queue_init(entries, &s->ring, 0);
        if (rc == 0) {
            rc = io_uring_register_eventfd(&s->ring, s->efd);
            if (rc == 0)
                s->uring = true;
            else
                io_uring_queue_exit(&s->ring);
        }
        if (!s->uring && !atomic_flag_test_and_set(&warned))
            LOG_WARN("io_uring unavailable (%s): using pread/pwrite", strerror(-rc));
    }
    *err = 0;
    return s;
}

void sio_destroy(struct sio *s)
{
    if (s == NULL)
        return;
    ASSERT(atomic_load(&s->inflight) == 0);
    if (s->uring)
        io_uring_queue_exit(&s->ring);
    pthread_mutex_destroy(&s->post_lock);
    close(s->efd);
    free(s);
}

int sio_fd(struct sio *s)
{
    return s->efd;
}

bool sio_uses_uring(const struct sio *s)
{
    return s->uring;
}

unsigned sio_inflight(const struct sio *s)
{
    return atomic_load_explicit(&s->inflight, memory_order_relaxed);
}

/* Puts op (continuing at op->done) into an SQE; false when the ring is full. */
static bool uring_prep(struct sio *s, struct sio_op *op)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
    if (sqe == NULL)
        return false;
    char *p = (char *)op->buf + op->done;
    unsigned rest = (unsigned)SC_MIN(op->len - op->done, (size_t)1 << 30);
    off_t off = op->off + (off_t)op->done;
    switch (op->kind) {
    case SIO_READ:
        io_uring_prep_read(sqe, op->fd, p, rest, (uint64_t)off);
        break;
    case SIO_WRITE:
        io_uring_prep_write(sqe, op->fd, p, rest, (uint64_t)off);
        break;
    case SIO_FDATASYNC:
        io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
        break;
    case SIO_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, 0);
        break;
    case SIO_POST:
        ASSERT(!"post is not submitted");
    }
    io_uring_sqe_set_data(sqe, op);
    return true;
}

static void uring_flush_backlog(struct sio *s)
{
    while (s->backlog.head != NULL && uring_prep(s, s->backlog.head)) {
        s->backlog.head = s->backlog.head->next;
        if (s->backlog.head == NULL)
            s->backlog.tail = NULL;
    }
    int rc;
    do {
        rc = io_uring_submit(&s->ring);
    } while (rc == -EINTR || rc == -EAGAIN);
    ASSERT(rc >= 0 || rc == -EBUSY); /* EBUSY: CQ overflow; retried after reaping */
}

void sio_submit(struct sio *s, struct sio_op *op)
{
    ASSERT(op->kind != SIO_POST && op->cb != NULL && op->fd >= 0);
    op->done = 0;
    op->res = 0;
    atomic_fetch_add(&s->inflight, 1);
    if (s->uring) {
        if (s->backlog.head != NULL || !uring_prep(s, op))
            list_push(&s->backlog, op);
        uring_flush_backlog(s);
    } else {
        bool was_empty = s->backlog.head == NULL;
        list_push(&s->backlog, op);
        if (was_empty)
            wake(s);
    }
}

void sio_post(struct sio *s, struct sio_op *op, int64_t res)
{
    op->kind = SIO_POST;
    op->res = res;
    atomic_fetch_add(&s->inflight, 1);
    pthread_mutex_lock(&s->post_lock);
    bool was_empty = s->posted.head == NULL;
    list_push(&s->posted, op);
    pthread_mutex_unlock(&s->post_lock);
    if (was_empty)
        wake(s);
}

/* Classifies one result. Returns true when op is finished (op->res set), false to resubmit. */
static bool classify(struct sio_op *op, int64_t res)
{
    if (res == -EINTR || res == -EAGAIN)
        return false;
    ASSERT(res != -EBADF && res != -EFAULT && res != -EINVAL);
    if (res < 0) {
        op->res = res;
        return true;
    }
    if (op->kind == SIO_FDATASYNC || op->kind == SIO_FSYNC) {
        op->res = 0;
        return true;
    }
    op->done += (size_t)res;
    if (op->done < op->len && !(res == 0 && op->kind == SIO_READ)) {
        /* A zero-byte write would spin forever: treat it as no space. */
        if (res == 0) {
            op->res = -ENOSPC;
            return true;
        }
        return false;
    }
    op->res = (int64_t)op->done;
    return true;
}

static int64_t run_sync(struct sio_op *op)
{
    char *p = (char *)op->buf + op->done;
    size_t rest = op->len - op->done;
    off_t off = op->off + (off_t)op->done;
    ssize_t n = 0;
    switch (op->kind) {
    case SIO_READ:
        n = pread(op->fd, p, rest, off);
        break;
    case SIO_WRITE:
        n = pwrite(op->fd, p, rest, off);
        break;
    case SIO_FDATASYNC:
        n = fdatasync(op->fd);
        break;
    case SIO_FSYNC:
        n = fsync(op->fd);
        break;
    case SIO_POST:
        ASSERT(!"post is not run");
    }
    return n < 0 ? -errno : n;
}

static unsigned deliver(struct sio *s, struct sio_op *op)
{
    atomic_fetch_sub(&s->inflight, 1);
    op->cb(op, op->res);
    return 1;
}

static unsigned run_fallback(struct sio *s)
{
    unsigned n = 0;
    struct sio_op *op = list_take_all(&s->backlog);
    while (op != NULL) {
        struct sio_op *next = op->next;
        while (!classify(op, run_sync(op)))
            ;
        n += deliver(s, op);
        op = next;
    }
    return n;
}

static unsigned run_uring(struct sio *s)
{
    unsigned n = 0;
    struct io_uring_cqe *cqe;
    struct sio_op *done_head = NULL, **done_tail = &done_head;
    /* Collect first, deliver after: callbacks may submit, which must not disturb the CQ walk. */
    while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        struct sio_op *op = io_uring_cqe_get_data(cqe);
        int64_t res = cqe->res;
        io_uring_cqe_seen(&s->ring, cqe);
        if (classify(op, res)) {
            op->next = NULL;
            *done_tail = op;
            done_tail = &op->next;
        } else {
            list_push(&s->backlog, op);
        }
    }
    if (s->backlog.head != NULL)
        uring_flush_backlog(s);
    for (struct sio_op *op = done_head, *next; op != NULL; op = next) {
        next = op->next;
        n += deliver(s, op);
    }
    return n;
}

unsigned sio_run_completions(struct sio *s)
{
    uint64_t cnt;
    while (read(s->efd, &cnt, sizeof(cnt)) > 0)
        ;
    unsigned n = s->uring ? run_uring(s) : run_fallback(s);
    pthread_mutex_lock(&s->post_lock);
    struct sio_op *op = list_take_all(&s->posted);
    pthread_mutex_unlock(&s->post_lock);
    for (struct sio_op *next; op != NULL; op = next) {
        next = op->next;
        n += deliver(s, op);
    }
    return n;
}

int sio_drain(struct sio *s, int timeout_ms)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (sio_inflight(s) > 0) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = s->efd, .events = POLLIN};
        poll(&pfd, 1, (int)SC_MIN(left, 50));
        sio_run_completions(s);
    }
    return 0;
}
