/* sio.h — a worker's asynchronous file I/O context: one io_uring ring (or, where io_uring is
 * unavailable, a plain pread/pwrite/fdatasync runner) whose completions are signalled on one
 * eventfd.
 *
 * Lifecycle and thread rule: one sio per worker thread, created and destroyed by that thread.
 * sio_submit() and sio_run_completions() are called only by the owner thread. sio_post() is the
 * one call any thread may make (the log uses it to hand an append acknowledgement back to the
 * appender's worker).
 *
 * The owner's event loop watches sio_fd() for readability and then calls sio_run_completions()
 * (the h2o lib/common/io_uring.c pattern). Completion callbacks run only from
 * sio_run_completions(), never inside sio_submit()/sio_post(), so a caller can submit while
 * holding its own state half-built.
 *
 * Ops are records owned by their caller (embedded in its struct); the caller keeps them alive and
 * untouched until their callback has run. CQE classification: -EINTR/-EAGAIN and short transfers
 * are resubmitted for the rest; -EBADF/-EFAULT/-EINVAL are programmer errors and assert; any other
 * error is delivered to the callback as -errno. A read that reaches end of file completes with
 * the bytes read so far. */
#ifndef SC_SIO_H
#define SC_SIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sio;
struct sio_op;

/* res: bytes transferred (>= 0) for read/write, 0 for fsync and post, or -errno. */
typedef void (*sio_cb)(struct sio_op *op, int64_t res);

enum sio_kind { SIO_READ, SIO_WRITE, SIO_FDATASYNC, SIO_FSYNC, SIO_POST };

struct sio_op {
    /* set by the caller */
    enum sio_kind kind;
    int fd;
    void *buf;
    size_t len;
    off_t off;
    sio_cb cb;
    void *arg; /* for the callback's use */
    /* private */
    size_t done;
    int64_t res;
    struct sio_op *next;
};

/* A context with a ring of `entries` submission slots. force_fallback (or env
 * SHARDCAST_NO_IO_URING=1) skips io_uring. When io_uring cannot be set up (seccomp, ENOSYS,
 * EPERM), falls back and logs one warning line per process. Returns NULL with *err = -errno only
 * if the eventfd cannot be created. */
struct sio *sio_create(unsigned entries, bool force_fallback, int *err);
/* Owner thread. Asserts no op is in flight (callers drain first: see sio_inflight). */
void sio_destroy(struct sio *s);

/* The eventfd to watch for readability. */
int sio_fd(struct sio *s);
/* True when the io_uring path is in use. */
bool sio_uses_uring(const struct sio *s);
/* Ops submitted or posted and not yet delivered. Any thread may read it (approximate). */
unsigned sio_inflight(const struct sio *s);

/* Owner thread. Starts op (kind READ/WRITE/FDATASYNC/FSYNC; FSYNC is for a directory's
 * entries); its callback runs from a later
 * sio_run_completions(). Never fails: a full ring queues the op until slots free up. */
void sio_submit(struct sio *s, struct sio_op *op);

/* Any thread. Queues op (kind is set to SIO_POST) for delivery to s's owner with op->res = res;
 * wakes the owner's eventfd. */
void sio_post(struct sio *s, struct sio_op *op, int64_t res);

/* Owner thread, when sio_fd() is readable (calling it spuriously is harmless). Delivers every
 * completion available now; returns how many callbacks ran. */
unsigned sio_run_completions(struct sio *s);

/* Owner thread, for tests and shutdown: runs completions until none are in flight or
 * timeout_ms passes (polls the eventfd). Returns 0, or -ETIMEDOUT. */
int sio_drain(struct sio *s, int timeout_ms);

#endif
