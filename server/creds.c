/* creds.c — the --credentials file (see creds.h). */
#include "server/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/common.h"

struct creds {
    struct cred *keys; /* sorted by akid, for creds_find's binary search */
    size_t count;
    char *text; /* the file's bytes; every string above points into it */
    size_t text_len;
};

static _Atomic uint64_t g_next_id = 1;

static int cmp_akid(const void *a, const void *b)
{
    return strcmp(((const struct cred *)a)->akid, ((const struct cred *)b)->akid);
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Splits one NUL-terminated line in place into at most 4 fields (4 = too many). */
static size_t split_fields(char *line, char *field[4])
{
    size_t n = 0;
    char *p = line;
    for (;;) {
        while (is_blank(*p))
            p++;
        if (*p == '\0' || *p == '#')
            return n;
        if (n == 4)
            return n;
        field[n++] = p;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (*p == '\0')
            return n;
        *p++ = '\0';
    }
}

static const char *check_fields(char *field[4], size_t n)
{
    if (n < 2)
        return "expected ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]";
    if (n > 3)
        return "more than three fields (ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN])";
    if (strlen(field[0]) > CREDS_AKID_MAX)
        return "access key id longer than 128 characters";
    if (strlen(field[1]) > CREDS_SECRET_MAX)
        return "secret access key longer than 256 characters";
    if (n == 3 && strlen(field[2]) > CREDS_TOKEN_MAX)
        return "session token longer than 8192 characters";
    for (const char *p = field[0]; *p; p++)
        if (*p == '/' || (unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
            return "access key id with a '/' or a non-printable character";
    return NULL;
}

static void set_err(char *err, size_t cap, const char *where, size_t line, const char *why)
{
    if (line > 0)
        snprintf(err, cap, "%s:%zu: %s", where, line, why);
    else
        snprintf(err, cap, "%s: %s", where, why);
}

int creds_parse(const char *text, size_t len, const char *where, struct creds **out, char *err,
                size_t err_cap)
{
    if (memchr(text, '\0', len) != NULL) {
        set_err(err, err_cap, where, 0, "NUL byte in the file");
        return -1;
    }
    struct creds *c = sc_calloc(1, sizeof(*c));
    c->text = sc_malloc(len + 1);
    c->text_len = len + 1;
    memcpy(c->text, text, len);
    c->text[len] = '\0';
    size_t cap = 0, lineno = 0;
    const char *why = NULL;
    for (char *line = c->text; line != NULL;) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        lineno++;
        char *field[4];
        size_t n = split_fields(line, field);
        line = nl ? nl + 1 : NULL;
        if (n == 0)
            continue;
        why = check_fields(field, n);
        if (why != NULL)
            break;
        if (c->count == cap) {
            cap = cap ? cap * 2 : 8;
            c->keys = sc_realloc(c->keys, cap * sizeof(*c->keys));
        }
        c->keys[c->count++] = (struct cred){
            .akid = field[0],
            .secret = field[1],
            .token = n == 3 ? field[2] : NULL,
            .token_len = n == 3 ? strlen(field[2]) : 0,
            .id = atomic_fetch_add(&g_next_id, 1),
        };
    }
    if (why == NULL && c->count == 0) {
        why = "no keys";
        lineno = 0;
    }
    if (why == NULL) {
        qsort(c->keys, c->count, sizeof(*c->keys), cmp_akid);
        for (size_t i = 1; i < c->count && why == NULL; i++)
            if (strcmp(c->keys[i - 1].akid, c->keys[i].akid) == 0)
                why = "an access key id appears twice";
        if (why != NULL)
            lineno = 0;
    }
    if (why != NULL) {
        set_err(err, err_cap, where, lineno, why);
        creds_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int creds_load(const char *path, struct creds **out, char *err, size_t err_cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > CREDS_FILE_BYTES_MAX) {
        snprintf(err, err_cap, "%s: not a regular file of at most 16 MiB", path);
        close(fd);
        return -1;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = sc_malloc(len + 1);
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = -1;
    if (got != len)
        snprintf(err, err_cap, "%s: short read", path);
    else
        rc = creds_parse(buf, len, path, out, err, err_cap);
    OPENSSL_cleanse(buf, len);
    free(buf);
    if (rc == 0) {
        /* Secrets others can read are worth a word (as ssh says of keys), not a refusal: the AWS
         * CLI reads ~/.aws/credentials whatever its mode. */
        err[0] = '\0';
        if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
            snprintf(err, err_cap, "%s is accessible by group or others (mode %04o); chmod 600 it",
                     path, (unsigned)(st.st_mode & 07777));
    }
    return rc;
}

const struct cred *creds_find(const struct creds *c, const char *akid, size_t akid_len)
{
    if (c == NULL || akid_len == 0 || akid_len > CREDS_AKID_MAX)
        return NULL;
    char key[CREDS_AKID_MAX + 1];
    memcpy(key, akid, akid_len);
    key[akid_len] = '\0';
    struct cred probe = {.akid = key};
    return bsearch(&probe, c->keys, c->count, sizeof(*c->keys), cmp_akid);
}

size_t creds_count(const struct creds *c)
{
    return c ? c->count : 0;
}

void creds_free(struct creds *c)
{
    if (c == NULL)
        return;
    OPENSSL_cleanse(c->text, c->text_len);
    free(c->text);
    free(c->keys);
    free(c);
}
