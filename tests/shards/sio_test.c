#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "shards/sio.h"
#include "tests/test.h"

struct res {
    int done;
    int64_t res;
};

static void on_done(struct sio_op *op, int64_t res)
{
    struct res *r = op->arg;
    r->res = res;
    r->done++;
}

static void wait_done(struct sio *s, struct res *r, int want)
{
    for (int i = 0; i < 300 && r->done < want; i++) {
        struct pollfd p = {.fd = sio_fd(s), .events = POLLIN};
        poll(&p, 1, 10);
        sio_run_completions(s);
    }
}

struct poster {
    struct sio *s;
    struct sio_op op;
};

static void *post_thread(void *arg)
{
    struct poster *p = arg;
    sio_post(p->s, &p->op, 42);
    return NULL;
}

static void run(bool fallback)
{
    int err;
    struct sio *s = sio_create(8, fallback, &err);
    CHECK(s != NULL);
    if (fallback)
        CHECK(!sio_uses_uring(s));
    char path[] = "/tmp/sc_sio_test.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    char data[10000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)(i * 7);
    struct res r = {0};
    struct sio_op w = {.kind = SIO_WRITE, .fd = fd, .buf = data, .len = sizeof(data), .off = 100,
                       .cb = on_done, .arg = &r};
    sio_submit(s, &w);
    CHECK_EQ_INT(r.done, 0); /* never inside submit */
    wait_done(s, &r, 1);
    CHECK_EQ_INT(r.res, sizeof(data));
    struct sio_op f = {.kind = SIO_FDATASYNC, .fd = fd, .cb = on_done, .arg = &r};
    sio_submit(s, &f);
    wait_done(s, &r, 2);
    CHECK_EQ_INT(r.res, 0);
    /* A read past the end completes short with what is there. */
    char back[20000];
    struct sio_op rd = {.kind = SIO_READ, .fd = fd, .buf = back, .len = sizeof(back), .off = 100,
                        .cb = on_done, .arg = &r};
    sio_submit(s, &rd);
    wait_done(s, &r, 3);
    CHECK_EQ_INT(r.res, sizeof(data));
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    /* Many ops at once overflow the 8-slot ring into the backlog. */
    struct sio_op many[40];
    struct res mr = {0};
    for (int i = 0; i < 40; i++) {
        many[i] = (struct sio_op){.kind = SIO_READ, .fd = fd, .buf = back + i * 10, .len = 10,
                                  .off = 100 + i * 10, .cb = on_done, .arg = &mr};
        sio_submit(s, &many[i]);
    }
    wait_done(s, &mr, 40);
    CHECK_EQ_INT(mr.done, 40);
    CHECK(memcmp(back, data, 400) == 0);
    /* Many writes at once: each completes once, on the owner, with every byte where it was
     * asked to go. */
    struct sio_op wmany[200];
    struct res wr = {0};
    for (int i = 0; i < 200; i++) {
        wmany[i] = (struct sio_op){.kind = SIO_WRITE, .fd = fd, .buf = data + i * 50, .len = 50,
                                   .off = 20000 + i * 50, .cb = on_done, .arg = &wr};
        sio_submit(s, &wmany[i]);
    }
    CHECK_EQ_INT(wr.done, 0);
    wait_done(s, &wr, 200);
    CHECK_EQ_INT(wr.done, 200);
    CHECK_EQ_INT(pread(fd, back, sizeof(data), 20000), sizeof(data));
    CHECK(memcmp(back, data, sizeof(data)) == 0);
    /* A failing write reports -errno to its callback. */
    int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        struct res fr = {0};
        struct sio_op fw = {.kind = SIO_WRITE, .fd = full, .buf = data, .len = 10, .cb = on_done,
                            .arg = &fr};
        sio_submit(s, &fw);
        wait_done(s, &fr, 1);
        CHECK_EQ_INT(fr.res, -ENOSPC);
        close(full);
    }
    /* Errors other than EBADF/EFAULT/EINVAL propagate. */
    int dfd = open("/tmp", O_RDONLY | O_DIRECTORY);
    struct sio_op bad = {.kind = SIO_READ, .fd = dfd, .buf = back, .len = 10, .cb = on_done,
                         .arg = &r};
    sio_submit(s, &bad);
    wait_done(s, &r, 4);
    CHECK_EQ_INT(r.res, -EISDIR);
    close(dfd);
    /* Posts from another thread arrive on the owner. */
    struct res pr = {0};
    struct poster p = {s, {.cb = on_done, .arg = &pr}};
    pthread_t th;
    pthread_create(&th, NULL, post_thread, &p);
    pthread_join(th, NULL);
    CHECK_EQ_INT(pr.done, 0);
    wait_done(s, &pr, 1);
    CHECK_EQ_INT(pr.res, 42);
    CHECK_EQ_INT(sio_inflight(s), 0);
    CHECK_EQ_INT(sio_drain(s, 100), 0);
    close(fd);
    unlink(path);
    sio_destroy(s);
}

static void test_uring_or_fallback(void)
{
    run(false);
}

static void test_forced_fallback(void)
{
    run(true);
}

int main(void)
{
    TEST_RUN(test_uring_or_fallback);
    TEST_RUN(test_forced_fallback);
    TEST_EXIT();
}
