/* transport_stream_test — starts the real transport in-process (worker + listener on
 * 127.0.0.1:0) with a test handler that streams (pull with data, 0 + later resume, EOF) and
 * answers asynchronously, and drives it over HTTP/1.1 (raw socket) and h2c (nghttp). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server/http.h"
#include "server/reqbudget.h"
#include "server/server.h"
#include "server/worker.h"
#include "tests/test.h"

static atomic_int closed_calls, closed_clean, closed_err, pulls_zero, streams_started;
static atomic_int posted_ok, deferred_ok, slow_started;

#define BIG_PIECE (64 * 1024)
#define BIG_PIECES 48
static char big_block[BIG_PIECE];

struct src {
    struct http_exchange *x;
    int n, i, calls;
    bool forever, big;
    struct event *timer;
};

static void on_resume_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct src *s = arg;
    http_exchange_resume(s->x);
}

static ssize_t src_pull(void *arg, struct evbuffer *out, size_t hint)
{
    struct src *s = arg;
    (void)hint;
    s->calls++;
    if (s->big) { /* shared bytes by reference, as the fan-out hands out event frames */
        evbuffer_add_reference(out, big_block, BIG_PIECE, NULL, NULL);
        return ++s->i == BIG_PIECES ? HTTP_STREAM_EOF : BIG_PIECE;
    }
    if (s->forever && s->i > 0)
        return 0; /* never resumes: only disconnect or server finish ends it */
    if (!s->forever && s->calls % 2 == 0) {
        atomic_fetch_add(&pulls_zero, 1);
        struct timeval tv = {0, 1000};
        evtimer_add(s->timer, &tv);
        return 0;
    }
    int before = (int)evbuffer_get_length(out);
    evbuffer_add_printf(out, "event-%d\n", s->i);
    s->i++;
    if (!s->forever && s->i == s->n)
        return HTTP_STREAM_EOF;
    return (ssize_t)evbuffer_get_length(out) - before;
}

static void src_closed(void *arg, int err)
{
    struct src *s = arg;
    atomic_fetch_add(&closed_calls, 1);
    if (err == 0)
        atomic_fetch_add(&closed_clean, 1);
    else
        atomic_store(&closed_err, err);
    event_free(s->timer);
    free(s);
}

static const struct http_stream_ops src_ops = {src_pull, src_closed, NULL};

static void on_async_reply(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_exchange *x = arg;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "async-ok", 8);
    http_exchange_respond(x, 200, NULL, 0, b);
    evbuffer_free(b);
}

static void handler(struct http_exchange *x)
{
    const struct http_request *req = http_exchange_request(x);
    static const struct http_header ct = {"content-type", "text/plain", 12, 10};
    if (strncmp(req->path, "/stream", 7) == 0 || strcmp(req->path, "/forever") == 0 ||
        strcmp(req->path, "/big") == 0) {
        struct src *s = calloc(1, sizeof(*s));
        s->x = x;
        s->big = strcmp(req->path, "/big") == 0;
        s->forever = strcmp(req->path, "/forever") == 0;
        s->n = strncmp(req->path, "/stream/", 8) == 0 ? atoi(req->path + 8) : 0;
        s->timer = evtimer_new(http_exchange_base(x), on_resume_timer, s);
        atomic_fetch_add(&streams_started, 1);
        if (http_exchange_stream(x, 200, &ct, 1, &src_ops, s) != 0) {
            event_free(s->timer);
            free(s);
        }
        return;
    }
    if (strcmp(req->path, "/async") == 0 || strcmp(req->path, "/slow") == 0) {
        bool slow = strcmp(req->path, "/slow") == 0;
        if (slow)
            atomic_fetch_add(&slow_started, 1);
        struct timeval tv = {0, slow ? 400000 : 20000};
        event_base_once(http_exchange_base(x), -1, EV_TIMEOUT, on_async_reply, x, &tv);
        return;
    }
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "body=%zu", req->body_len);
    http_exchange_respond(x, 200, &ct, 1, b);
    evbuffer_free(b);
}

static int connect_port(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads until `needle` appears (or EOF/timeout); returns bytes read into buf. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len + 1 < cap && strstr(buf, needle) == NULL) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

/* Decodes a chunked body; returns the number of chunks (excluding the last), -1 if malformed. */
static int dechunk(const char *p, char *out, size_t cap)
{
    int chunks = 0;
    size_t olen = 0;
    for (;;) {
        char *end;
        unsigned long n = strtoul(p, &end, 16);
        if (end == p || strncmp(end, "\r\n", 2) != 0)
            return -1;
        p = end + 2;
        if (n == 0)
            return strncmp(p, "\r\n", 2) == 0 ? chunks : -1;
        if (olen + n >= cap)
            return -1;
        memcpy(out + olen, p, n);
        olen += n;
        out[olen] = '\0';
        p += n;
        if (strncmp(p, "\r\n", 2) != 0)
            return -1;
        p += 2;
        chunks++;
    }
}

static void wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 300 && atomic_load(v) < want; i++)
        usleep(10000);
}

static void expected_events(char *buf, size_t cap, int n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len, "event-%d\n", i);
}

static void test_h1_chunked_stream(uint16_t port)
{
    int fd = connect_port(port);
    CHECK(fd >= 0);
    /* Read before the request: a descheduled test thread could otherwise count this stream's
     * own close in `before` (the stream lasts only ~10 ms). */
    int before = atomic_load(&closed_clean);
    const char *req = "GET /stream/20 HTTP/1.1\r\nHost: t\r\n\r\n";
    CHECK(send(fd, req, strlen(req), 0) == (ssize_t)strlen(req));
    static char buf[65536], body[8192], want[8192];
    read_until(fd, buf, sizeof(buf), "\r\n0\r\n\r\n");
    CHECK(strncmp(buf, "HTTP/1.1 200 ", 13) == 0);
    CHECK(strstr(buf, "transfer-encoding: chunked\r\n") != NULL);
    char *b = strstr(buf, "\r\n\r\n");
    CHECK(b != NULL);
    if (b != NULL) {
        int chunks = dechunk(b + 4, body, sizeof(body));
        expected_events(want, sizeof(want), 20);
        CHECK_EQ_INT(chunks, 20); /* each pulled piece is its own chunk */
        CHECK_EQ_STR(body, want);
    }
    wait_for(&closed_clean, before + 1);
    CHECK_EQ_INT(atomic_load(&closed_clean), before + 1);
    CHECK(atomic_load(&pulls_zero) > 0);
    /* keep-alive after a stream: the next request on the same connection */
    req = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
    send(fd, req, strlen(req), 0);
    read_until(fd, buf, sizeof(buf), "body=3");
    CHECK(strstr(buf, "body=3") != NULL);
    close(fd);
}

/* HTTP/1.0 has no chunked coding: the body is the raw bytes, ended by the close. */
static void test_h10_stream(uint16_t port)
{
    int fd = connect_port(port);
    const char *req = "GET /stream/4 HTTP/1.0\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char buf[4096];
    read_until(fd, buf, sizeof(buf), "never-there"); /* until EOF */
    close(fd);
    CHECK(strstr(buf, "transfer-encoding") == NULL);
    char *b = strstr(buf, "\r\n\r\n");
    CHECK(b != NULL && strcmp(b + 4, "event-0\nevent-1\nevent-2\nevent-3\n") == 0);
}

static void test_h1_async_unary(uint16_t port)
{
    int fd = connect_port(port);
    const char *req = "GET /async HTTP/1.1\r\nHost: t\r\n\r\nGET /async HTTP/1.1\r\nHost: t\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char buf[4096];
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < 100; i++) { /* until both answers arrived, in order */
        char *first = strstr(buf, "async-ok");
        if (first != NULL && strstr(first + 8, "async-ok") != NULL)
            break;
        ssize_t n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    char *second = strstr(buf, "async-ok");
    CHECK(second != NULL && strstr(second + 8, "async-ok") != NULL);
    close(fd);
}

static void test_h1_disconnect_mid_stream(uint16_t port)
{
    int before = atomic_load(&closed_calls);
    int clean_before = atomic_load(&closed_clean);
    int fd = connect_port(port);
    const char *req = "GET /forever HTTP/1.1\r\nHost: t\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char buf[4096];
    read_until(fd, buf, sizeof(buf), "event-0\n");
    CHECK(strstr(buf, "event-0\n") != NULL);
    close(fd);
    wait_for(&closed_calls, before + 1);
    usleep(50000);
    CHECK_EQ_INT(atomic_load(&closed_calls), before + 1); /* exactly once */
    CHECK_EQ_INT(atomic_load(&closed_clean), clean_before);
    CHECK(atomic_load(&closed_err) < 0);
}

/* Runs nghttp against url; returns its exit status and stdout in out. */
static int run_nghttp(const char *url, const char *extra, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "timeout 10 nghttp %s %s", extra, url);
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    return pclose(f);
}

static void test_h2_stream(uint16_t port)
{
    static char out[65536], want[8192];
    char url[128];
    int before = atomic_load(&closed_clean);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/stream/50", (unsigned)port);
    int rc = run_nghttp(url, "", out, sizeof(out));
    CHECK_EQ_INT(rc, 0);
    expected_events(want, sizeof(want), 50);
    CHECK_EQ_STR(out, want);
    wait_for(&closed_clean, before + 1);
    CHECK_EQ_INT(atomic_load(&closed_clean), before + 1);
    /* END_STREAM on the last DATA frame, never RST_STREAM */
    rc = run_nghttp(url, "-v", out, sizeof(out));
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "RST_STREAM") == NULL);
    const char *last_data = NULL;
    for (const char *p = strstr(out, "recv DATA frame"); p; p = strstr(p + 1, "recv DATA frame"))
        last_data = p;
    CHECK(last_data != NULL && strncmp(strchr(last_data, ','), ", flags=0x01", 12) == 0);
    /* several concurrent streams on one connection, plus an async unary */
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/stream/5 http://127.0.0.1:%u/async "
             "http://127.0.0.1:%u/stream/7", (unsigned)port, (unsigned)port, (unsigned)port);
    rc = run_nghttp(url, "", out, sizeof(out));
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "async-ok") != NULL);
    CHECK(strstr(out, "event-6\n") != NULL);
}

static void test_h2_disconnect_mid_stream(uint16_t port)
{
    int before = atomic_load(&closed_calls);
    int clean_before = atomic_load(&closed_clean);
    int started = atomic_load(&streams_started);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/forever", (unsigned)port);
    char prog[] = "nghttp";
    char *argv[] = {prog, url, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    CHECK_EQ_INT(posix_spawnp(&pid, "nghttp", &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    /* Killed only once its stream runs: a loaded machine may take long to start nghttp, and a
     * kill before the request would test nothing. */
    wait_for(&streams_started, started + 1);
    CHECK_EQ_INT(atomic_load(&streams_started), started + 1);
    kill(pid, SIGKILL);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    wait_for(&closed_calls, before + 1);
    usleep(50000);
    CHECK_EQ_INT(atomic_load(&closed_calls), before + 1);
    CHECK_EQ_INT(atomic_load(&closed_clean), clean_before);
}

static void put_frame(uint8_t *out, size_t *len, uint8_t type, uint8_t flags, uint32_t sid,
                      const void *payload, size_t plen)
{
    uint8_t *p = out + *len;
    p[0] = (uint8_t)(plen >> 16), p[1] = (uint8_t)(plen >> 8), p[2] = (uint8_t)plen;
    p[3] = type, p[4] = flags;
    p[5] = (uint8_t)(sid >> 24), p[6] = (uint8_t)(sid >> 16), p[7] = (uint8_t)(sid >> 8);
    p[8] = (uint8_t)sid;
    if (plen > 0)
        memcpy(p + 9, payload, plen);
    *len += 9 + plen;
}

/* The JS SDK v3 sends GOAWAY right after the response headers: the stream must still run to
 * its END_STREAM, never RST_STREAM, and the server then closes the connection. */
static void test_h2_client_goaway_keeps_stream(uint16_t port)
{
    int fd = connect_port(port);
    uint8_t out[512];
    size_t len = 0;
    memcpy(out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    len = 24;
    put_frame(out, &len, 4, 0, 0, NULL, 0); /* SETTINGS */
    static const uint8_t hdrs[] = {0x82, 0x86, 0x04, 10, '/', 's', 't', 'r', 'e', 'a', 'm',
                                   '/', '3', '0', 0x01, 1, 't'};
    put_frame(out, &len, 1, 0x05, 1, hdrs, sizeof(hdrs)); /* HEADERS END_STREAM|END_HEADERS */
    static const uint8_t goaway[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    put_frame(out, &len, 7, 0, 0, goaway, sizeof(goaway));
    CHECK(send(fd, out, len, 0) == (ssize_t)len);
    static uint8_t in[65536];
    size_t got = 0;
    for (;;) { /* until EOF: the server closes once the stream is done */
        ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    size_t data_bytes = 0;
    bool end_stream = false, rst = false;
    for (size_t off = 0; off + 9 <= got;) {
        size_t flen = (size_t)in[off] << 16 | (size_t)in[off + 1] << 8 | in[off + 2];
        uint8_t type = in[off + 3], flags = in[off + 4];
        if (type == 0 && in[off + 8] == 1) {
            data_bytes += flen;
            end_stream |= (flags & 1) != 0;
        }
        rst |= type == 3;
        off += 9 + flen;
    }
    char want[1024];
    expected_events(want, sizeof(want), 30);
    CHECK_EQ_INT(data_bytes, strlen(want));
    CHECK(end_stream);
    CHECK(!rst);
}

/* Reads h2 frames until EOF or `streams` streams ended (END_STREAM); appends each stream's DATA
 * payload to out[id] (ids 1, 3, 5 -> slots 0, 1, 2). */
static void h2_read_bodies(int fd, char out[3][256], int streams)
{
    static uint8_t in[1 << 16];
    size_t got = 0, off = 0;
    size_t lens[3] = {0};
    int ended = 0;
    while (ended < streams) {
        if (off + 9 > got || off + 9 + ((size_t)in[off] << 16 | (size_t)in[off + 1] << 8 |
                                        in[off + 2]) > got) {
            if (got == sizeof(in))
                break;
            ssize_t n = recv(fd, in + got, sizeof(in) - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            continue;
        }
        size_t flen = (size_t)in[off] << 16 | (size_t)in[off + 1] << 8 | in[off + 2];
        uint8_t type = in[off + 3], flags = in[off + 4];
        uint32_t sid = (uint32_t)in[off + 5] << 24 | (uint32_t)in[off + 6] << 16 |
                       (uint32_t)in[off + 7] << 8 | in[off + 8];
        if (sid >= 1 && sid <= 5 && sid % 2 == 1) {
            size_t k = sid / 2;
            if (type == 0 && lens[k] + flen < 256) {
                memcpy(out[k] + lens[k], in + off + 9, flen);
                lens[k] += flen;
                out[k][lens[k]] = '\0';
            }
            ended += (type == 0 || type == 1) && (flags & 1);
        }
        off += 9 + flen;
    }
}

/* Bodies buffered on one h2 connection past its bound (100 000 bytes here): the stream whose
 * DATA crosses it is answered 503 ServiceUnavailable at once, the others complete. */
static void test_h2_conn_body_budget(uint16_t port)
{
    int fd = connect_port(port);
    static uint8_t out[200000];
    static uint8_t chunk[60000];
    memset(chunk, 'b', sizeof(chunk));
    size_t len = 24;
    memcpy(out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    put_frame(out, &len, 4, 0, 0, NULL, 0);
    static const uint8_t post[] = {0x83, 0x86, 0x84, 0x01, 1, 't'}; /* POST http / t */
    put_frame(out, &len, 1, 0x04, 1, post, sizeof(post)); /* HEADERS, END_HEADERS */
    for (int i = 0; i < 4; i++) /* frames of at most 16 KiB (SETTINGS_MAX_FRAME_SIZE) */
        put_frame(out, &len, 0, 0, 1, chunk, sizeof(chunk) / 4);
    put_frame(out, &len, 1, 0x04, 3, post, sizeof(post));
    for (int i = 0; i < 4; i++) /* 120 000 buffered: over */
        put_frame(out, &len, 0, 0, 3, chunk, sizeof(chunk) / 4);
    put_frame(out, &len, 1, 0x04, 5, post, sizeof(post));
    put_frame(out, &len, 0, 0x01, 5, chunk, 100); /* END_STREAM */
    put_frame(out, &len, 0, 0x01, 1, chunk, 10);  /* END_STREAM: 60 010 */
    CHECK(send(fd, out, len, 0) == (ssize_t)len);
    char bodies[3][256] = {{0}};
    h2_read_bodies(fd, bodies, 3);
    close(fd);
    CHECK_EQ_STR(bodies[0], "body=60010");
    CHECK(strstr(bodies[1], "\"__type\":\"ServiceUnavailable\"") != NULL);
    CHECK_EQ_STR(bodies[2], "body=100");
}

/* The server-wide budget of buffered request bodies (300 000 bytes here): one h1 request
 * holding 200 001 of it leaves too little for another of 150 000 (503 ServiceUnavailable at its
 * head, then the close) and for an h2 body of 112 000 (503 on the DATA that crosses it); once
 * the first completes, the budget is whole again. */
static void test_body_budget(uint16_t port)
{
    static char big[200000];
    memset(big, 'a', sizeof(big));
    static char buf[4096];
    int a = connect_port(port);
    const char *ha = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n";
    send(a, ha, strlen(ha), 0);
    send(a, big, 1000, 0);
    for (int i = 0; i < 300 && reqbudget_charged() != 200001; i++)
        usleep(10000);
    CHECK_EQ_INT(reqbudget_charged(), 200001);
    int b = connect_port(port);
    const char *hb = "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 150000\r\n\r\n";
    send(b, hb, strlen(hb), 0);
    read_until(b, buf, sizeof(buf), "never-there"); /* until the close */
    close(b);
    CHECK(strncmp(buf, "HTTP/1.1 503 ", 13) == 0);
    CHECK(strstr(buf, "\"__type\":\"ServiceUnavailable\"") != NULL);
    /* h2: the stream's DATA crosses the budget. */
    int h = connect_port(port);
    static uint8_t out[140000];
    size_t len = 24;
    memcpy(out, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 24);
    put_frame(out, &len, 4, 0, 0, NULL, 0);
    static const uint8_t post[] = {0x83, 0x86, 0x84, 0x01, 1, 't'};
    put_frame(out, &len, 1, 0x04, 1, post, sizeof(post));
    for (int i = 0; i < 7; i++)
        put_frame(out, &len, 0, i == 6 ? 0x01 : 0, 1, big, 16000);
    CHECK(send(h, out, len, 0) == (ssize_t)len);
    char bodies[3][256] = {{0}};
    h2_read_bodies(h, bodies, 1);
    close(h);
    CHECK(strstr(bodies[0], "\"__type\":\"ServiceUnavailable\"") != NULL);
    /* The first request completes; then the budget is whole again. */
    send(a, big + 1000, sizeof(big) - 1000, 0);
    read_until(a, buf, sizeof(buf), "body=200000");
    CHECK(strstr(buf, "body=200000") != NULL);
    close(a);
    for (int i = 0; i < 300 && reqbudget_charged() != 0; i++)
        usleep(10000);
    CHECK_EQ_INT(reqbudget_charged(), 0);
    b = connect_port(port);
    send(b, hb, strlen(hb), 0);
    send(b, big, 150000, 0);
    read_until(b, buf, sizeof(buf), "body=150000");
    close(b);
    CHECK(strstr(buf, "body=150000") != NULL);
}

static void test_header_timeout(uint16_t port)
{
    int fd = connect_port(port);
    const char *part = "GET /x HTTP/1.1\r\nHost: t\r\n";
    send(fd, part, strlen(part), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0); /* server closes at the header timeout */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_EQ_INT(n, 0);
    CHECK(secs > 0.5 && secs < 4.0);
    close(fd);
}

/* 3 MiB by reference: crosses the 1 MiB output bound many times on both protocols. */
static void test_big_stream(uint16_t port)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "timeout 20 nghttp http://127.0.0.1:%u/big", (unsigned)port);
    FILE *f = popen(cmd, "r");
    static char chunk[65536];
    size_t total = 0, n;
    bool all_x = true;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        total += n;
        for (size_t i = 0; i < n; i++)
            all_x &= chunk[i] == 'x';
    }
    CHECK_EQ_INT(pclose(f), 0);
    CHECK_EQ_INT(total, (size_t)BIG_PIECE * BIG_PIECES);
    CHECK(all_x);

    int fd = connect_port(port);
    const char *req = "GET /big HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    send(fd, req, strlen(req), 0);
    total = 0;
    ssize_t r;
    while ((r = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        total += (size_t)r;
    close(fd);
    /* body + one "10000\r\n...\r\n" frame per piece + the final chunk; head < 300 bytes */
    size_t body = (size_t)BIG_PIECE * BIG_PIECES + (size_t)BIG_PIECES * 9 + 5;
    CHECK(total > body && total < body + 300);
}

static void on_deferred(void *arg)
{
    struct worker *w = arg;
    if (worker_current() == w)
        atomic_fetch_add(&deferred_ok, 1);
}

static void on_posted(void *arg)
{
    struct worker *w = arg;
    if (worker_current() == w && worker_base(w) != NULL) {
        atomic_fetch_add(&posted_ok, 1);
        worker_defer(w, on_deferred, w);
    }
}

static void test_worker_post(void)
{
    CHECK_EQ_INT(worker_count(), 2);
    CHECK(worker_current() == NULL);
    for (unsigned i = 0; i < worker_count(); i++) {
        CHECK_EQ_INT(worker_index(worker_at(i)), i);
        CHECK_EQ_INT(worker_post(worker_at(i), on_posted, worker_at(i)), 0);
    }
    wait_for(&deferred_ok, 2);
    CHECK_EQ_INT(atomic_load(&posted_ok), 2);
    CHECK_EQ_INT(atomic_load(&deferred_ok), 2);
}

/* server_stop finishes open streams cleanly: closed(0), final chunk / END_STREAM. */
static void test_stop_finishes_streams(struct server *srv, uint16_t port)
{
    int fd = connect_port(port);
    const char *req = "GET /forever HTTP/1.1\r\nHost: t\r\n\r\n";
    send(fd, req, strlen(req), 0);
    static char buf[4096];
    read_until(fd, buf, sizeof(buf), "event-0\n");
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "timeout 10 nghttp -v http://127.0.0.1:%u/forever", (unsigned)port);
    int started = atomic_load(&streams_started);
    FILE *f = popen(cmd, "r");
    wait_for(&streams_started, started + 1);
    usleep(100000);
    /* An async unary answer still in flight at stop: sent last and awaited in the handler, so
     * its 400 ms cannot run out while nghttp starts on a loaded machine. */
    int slow = connect_port(port);
    const char *sreq = "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n";
    int slow_before = atomic_load(&slow_started);
    send(slow, sreq, strlen(sreq), 0);
    wait_for(&slow_started, slow_before + 1);
    CHECK_EQ_INT(atomic_load(&slow_started), slow_before + 1);
    int clean_before = atomic_load(&closed_clean);
    server_stop(srv);
    CHECK_EQ_INT(atomic_load(&closed_clean), clean_before + 2);
    size_t len = strlen(buf);
    read_until(fd, buf + len, sizeof(buf) - len, "\r\n0\r\n\r\n");
    CHECK(strstr(buf, "\r\n0\r\n\r\n") != NULL);
    close(fd);
    static char sbuf[1024];
    read_until(slow, sbuf, sizeof(sbuf), "async-ok");
    CHECK(strstr(sbuf, "connection: close\r\n") != NULL);
    CHECK(strstr(sbuf, "async-ok") != NULL);
    close(slow);
    static char out[4096];
    size_t n = fread(out, 1, sizeof(out) - 1, f);
    out[n] = '\0';
    CHECK_EQ_INT(pclose(f), 0);
    CHECK(strstr(out, "event-0") != NULL);
    if (strstr(out, "event-0") == NULL)
        fprintf(stderr, "nghttp output: %s\n", out);
}

int main(void)
{
    memset(big_block, 'x', sizeof(big_block));
    if (system("nghttp --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: nghttp (Debian nghttp2-client) is not installed\n");
        return 77;
    }
    struct server_opts o = {.handler = handler, .host = "127.0.0.1", .port = 0, .workers = 2,
                            .body_max_bytes = 1 << 20, .header_timeout_ms = 1000,
                            .h2_conn_body_bytes = 100000, .body_budget_bytes = 300000};
    struct server *srv;
    int rc = server_start(&o, &srv);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0)
        TEST_EXIT();
    uint16_t port = server_port(srv);
    CHECK(port != 0);
    test_worker_post();
    test_h1_chunked_stream(port);
    test_h1_async_unary(port);
    test_h10_stream(port);
    test_h1_disconnect_mid_stream(port);
    test_h2_stream(port);
    test_h2_disconnect_mid_stream(port);
    test_h2_client_goaway_keeps_stream(port);
    test_h2_conn_body_budget(port);
    test_body_budget(port);
    test_header_timeout(port);
    test_big_stream(port);
    test_stop_finishes_streams(srv, port);
    CHECK_EQ_INT(atomic_load(&closed_calls), atomic_load(&streams_started));
    CHECK_EQ_INT(reqbudget_charged(), 0); /* every charge refunded once all is freed */
    TEST_EXIT();
}
