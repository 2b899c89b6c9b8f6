#include "server/auth.h"

#include <stdio.h>
#include <string.h>

#include "server/http.h"

enum auth_result auth_check(const struct http_request *req, char *msg, size_t cap)
{
    const char *auth = http_request_header(req, "authorization");
    if (auth == NULL) {
        if (req->path != NULL && strstr(req->path, "X-Amz-Algorithm=") != NULL)
            return AUTH_OK; /* presigned query auth */
        snprintf(msg, cap, "Missing Authentication Token");
        return AUTH_MISSING;
    }
    static const char *const need[] = {"Credential", "Signature", "SignedHeaders"};
    size_t len = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        char key[32];
        snprintf(key, sizeof(key), "%s=", need[i]);
        if (strstr(auth, key) == NULL && len < cap)
            len += (size_t)snprintf(msg + len, cap - len,
                                    "Authorization header requires '%s' parameter. ", need[i]);
    }
    if (http_request_header(req, "x-amz-date") == NULL &&
        http_request_header(req, "date") == NULL && len < cap)
        len += (size_t)snprintf(msg + len, cap - len,
                                "Authorization header requires existence of either a "
                                "'X-Amz-Date' or a 'Date' header. ");
    if (len == 0)
        return AUTH_OK;
    if (len < cap)
        snprintf(msg + len, cap - len, "Authorization=%s", auth);
    return AUTH_INCOMPLETE;
}
