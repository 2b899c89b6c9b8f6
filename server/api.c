/* Placeholder API layer until the control plane lands: GET /health and
 * UnknownOperationException for everything else. Replaced wholesale by the real api.c. */
#include "server/api.h"

#include <event2/buffer.h>
#include <string.h>

#include "server/http.h"

int api_init(const struct config *cfg)
{
    (void)cfg;
    return 0;
}

void api_shutdown(void) {}

int api_worker_init(struct worker *w)
{
    (void)w;
    return 0;
}

void api_worker_dispose(struct worker *w)
{
    (void)w;
}

void api_handle(struct http_exchange *x)
{
    const struct http_request *req = http_exchange_request(x);
    struct evbuffer *body = evbuffer_new();
    if (strcmp(req->method, "GET") == 0 && strcmp(req->path, "/health") == 0) {
        static const struct http_header h[] = {{"content-type", "text/plain", 12, 10}};
        evbuffer_add(body, "ok\n", 3);
        http_exchange_respond(x, 200, h, 1, body);
    } else {
        static const struct http_header h[] = {
            {"content-type", "application/x-amz-json-1.1", 12, 26},
            {"x-amzn-errortype", "UnknownOperationException", 16, 25},
        };
        evbuffer_add_printf(body, "{\"__type\":\"UnknownOperationException\"}");
        http_exchange_respond(x, 400, h, 2, body);
    }
    evbuffer_free(body);
}
