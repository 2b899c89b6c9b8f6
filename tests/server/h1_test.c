/* h1_test — the HTTP/1.1 request parser: every split point, chunked bodies, limits, bad input. */
#include <event2/buffer.h>
#include <string.h>

#include "server/h1.h"
#include "server/reqbudget.h"
#include "tests/test.h"

#define HEAD_MAX 1024
#define BODY_MAX 64

struct result {
    enum h1_result r;
    int status;
    char method[16], path[64], host[64];
    size_t nhdrs;
    char body[256];
    size_t body_len;
    bool keep_alive, expect;
    size_t left; /* bytes left in the input after the request */
};

/* Feeds `msg` with a split at `cut` (0 = all at once), driving the parser to DONE or ERROR. */
static struct result run(const char *msg, size_t len, size_t cut)
{
    struct result res = {0};
    struct h1_parser p;
    h1_parser_init(&p, HEAD_MAX, BODY_MAX);
    struct evbuffer *in = evbuffer_new();
    size_t fed = cut ? cut : len;
    evbuffer_add(in, msg, fed);
    for (int guard = 0; guard < 100; guard++) {
        enum h1_result r = h1_parser_feed(&p, in);
        if (r == H1_HEAD) {
            snprintf(res.method, sizeof(res.method), "%s", p.method);
            snprintf(res.path, sizeof(res.path), "%s", p.path);
            snprintf(res.host, sizeof(res.host), "%s", p.host ? p.host : "");
            res.nhdrs = p.nhdrs;
            res.keep_alive = p.keep_alive;
            res.expect = p.expect_continue;
            continue;
        }
        if (r == H1_MORE) {
            if (fed == len)
                break;
            evbuffer_add(in, msg + fed, len - fed);
            fed = len;
            continue;
        }
        res.r = r;
        if (fed < len) /* what a client sent behind this request stays in the input */
            evbuffer_add(in, msg + fed, len - fed);
        if (r == H1_ERROR)
            res.status = p.error_status;
        else {
            size_t n, charged;
            uint8_t *b = h1_parser_take_body(&p, &n, &charged);
            reqbudget_refund(charged);
            CHECK(b != NULL && b[n] == '\0');
            if (n < sizeof(res.body))
                memcpy(res.body, b, n + 1);
            res.body_len = n;
            free(b);
        }
        break;
    }
    res.left = evbuffer_get_length(in);
    h1_parser_dispose(&p);
    evbuffer_free(in);
    return res;
}

/* The same result at every split point. */
static void check_all_splits(const char *msg, void (*check)(const struct result *))
{
    size_t len = strlen(msg);
    for (size_t cut = 0; cut < len; cut++) {
        struct result r = run(msg, len, cut);
        check(&r);
    }
}

static void check_simple_get(const struct result *r)
{
    CHECK_EQ_INT(r->r, H1_DONE);
    CHECK_EQ_STR(r->method, "GET");
    CHECK_EQ_STR(r->path, "/health");
    CHECK_EQ_STR(r->host, "example");
    CHECK_EQ_INT(r->nhdrs, 2);
    CHECK(r->keep_alive);
    CHECK_EQ_INT(r->body_len, 0);
    CHECK_EQ_INT(r->left, 0);
}

static void test_get_every_split(void)
{
    check_all_splits("GET /health HTTP/1.1\r\nHost: example\r\nX-A:  b \r\n\r\n",
                     check_simple_get);
    /* leading empty line tolerated */
    check_all_splits("\r\nGET /health HTTP/1.1\r\nHost: example\r\nx-a: b\r\n\r\n",
                     check_simple_get);
}

static void check_cl_body(const struct result *r)
{
    CHECK_EQ_INT(r->r, H1_DONE);
    CHECK_EQ_STR(r->method, "POST");
    CHECK_EQ_STR(r->body, "{\"a\":1}");
    CHECK_EQ_INT(r->left, 3); /* the pipelined "GET" stays for the next request */
}

static void test_content_length_every_split(void)
{
    check_all_splits("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n{\"a\":1}GET",
                     check_cl_body);
}

static void check_chunked(const struct result *r)
{
    CHECK_EQ_INT(r->r, H1_DONE);
    CHECK_EQ_STR(r->body, "hello, world!");
    CHECK_EQ_INT(r->body_len, 13);
    CHECK_EQ_INT(r->left, 0);
}

static void test_chunked_every_split(void)
{
    check_all_splits("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n8;name=v\r\n, world!\r\n0\r\nTrailer: x\r\n\r\n",
                     check_chunked);
    check_all_splits("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
                     "D\r\nhello, world!\r\n0\r\n\r\n",
                     check_chunked);
}

static void check_expect(const struct result *r)
{
    CHECK_EQ_INT(r->r, H1_DONE);
    CHECK(r->expect);
    CHECK_EQ_STR(r->body, "xy");
}

static void test_expect_and_connection(void)
{
    check_all_splits("PUT /p HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2"
                     "\r\n\r\nxy", check_expect);
    const char *c1 = "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n";
    struct result r = run(c1, strlen(c1), 0);
    CHECK_EQ_INT(r.r, H1_DONE);
    CHECK(!r.keep_alive);
    const char *c0 = "GET / HTTP/1.0\r\n\r\n";
    r = run(c0, strlen(c0), 0);
    CHECK_EQ_INT(r.r, H1_DONE);
    CHECK(!r.keep_alive);
    const char *c0k = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    r = run(c0k, strlen(c0k), 0);
    CHECK(r.keep_alive);
}

static int status_of(const char *msg)
{
    struct result r = run(msg, strlen(msg), 0);
    return r.r == H1_ERROR ? r.status : r.r == H1_DONE ? 0 : -1;
}

static void test_bad_input(void)
{
    CHECK_EQ_INT(status_of("GET\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\n\r\n"), 400); /* no Host */
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n folded\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                           "Content-Length: 2\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "zz\r\n"), 400);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "2\r\nabXY"), 400); /* no CRLF after data */
    CHECK_EQ_INT(status_of("GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n"), 417);
    static const char nul[] = "GET / HTTP/1.1\r\nHost: h\0x\r\n\r\n";
    struct result r = run(nul, sizeof(nul) - 1, 0);
    CHECK_EQ_INT(r.r, H1_ERROR);
    CHECK_EQ_INT(r.status, 400);
}

static void test_limits(void)
{
    /* body limit: declared, and reached through chunks */
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n"), 413);
    CHECK_EQ_INT(status_of("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 64\r\n\r\n"), -1);
    char msg[512];
    snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
             "20\r\n%032d\r\n20\r\n%032d\r\n1\r\n", 0, 0);
    CHECK_EQ_INT(status_of(msg), 413);
    /* head limit: without the terminator yet, and with it */
    char big[HEAD_MAX + 200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ", 28);
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(status_of(big), 431);
    memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
    CHECK_EQ_INT(status_of(big), 431);
    /* header count limit */
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "GET / HTTP/1.1\r\nHost: h\r\n");
    for (int i = 0; i < HTTP_HEADERS_MAX; i++)
        evbuffer_add_printf(b, "a:\r\n");
    evbuffer_add_printf(b, "\r\n");
    struct h1_parser p;
    h1_parser_init(&p, 1 << 16, BODY_MAX);
    CHECK_EQ_INT(h1_parser_feed(&p, b), H1_ERROR);
    CHECK_EQ_INT(p.error_status, 431);
    h1_parser_dispose(&p);
    evbuffer_free(b);
    /* chunk-size line too long */
    char line[H1_LINE_MAX + 100];
    int n = snprintf(line, sizeof(line),
                     "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    memset(line + n, 'e', sizeof(line) - (size_t)n - 1);
    line[sizeof(line) - 1] = '\0';
    CHECK_EQ_INT(status_of(line), 400);
}

static void test_two_requests_reset(void)
{
    const char *two = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"
                      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    struct evbuffer *in = evbuffer_new();
    evbuffer_add(in, two, strlen(two));
    struct h1_parser p;
    h1_parser_init(&p, HEAD_MAX, BODY_MAX);
    CHECK_EQ_INT(h1_parser_feed(&p, in), H1_HEAD);
    CHECK_EQ_INT(h1_parser_feed(&p, in), H1_DONE);
    CHECK_EQ_STR(p.path, "/a");
    h1_parser_reset(&p);
    CHECK_EQ_INT(h1_parser_feed(&p, in), H1_HEAD);
    CHECK_EQ_STR(p.path, "/b");
    CHECK_EQ_INT(h1_parser_feed(&p, in), H1_DONE);
    CHECK_EQ_INT(evbuffer_get_length(in), 0);
    h1_parser_dispose(&p);
    evbuffer_free(in);
}

int main(void)
{
    TEST_RUN(test_get_every_split);
    TEST_RUN(test_content_length_every_split);
    TEST_RUN(test_chunked_every_split);
    TEST_RUN(test_expect_and_connection);
    TEST_RUN(test_bad_input);
    TEST_RUN(test_limits);
    TEST_RUN(test_two_requests_reset);
    TEST_EXIT();
}
