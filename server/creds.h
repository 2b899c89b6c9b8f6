/* creds.h — the access keys shardcastd accepts when SigV4 verification is on
 * (`--credentials FILE`, server/auth.h).
 *
 * File format, one key per line:  ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN]
 * Fields are separated by spaces or tabs; a field starting with `#` starts a comment that runs to
 * the end of the line; blank lines are ignored. Each access key id appears once.
 *
 * Loaded once in main() before any thread starts; read-only afterwards, so any thread may call
 * creds_find(). */
#ifndef SC_CREDS_H
#define SC_CREDS_H

#include <stddef.h>
#include <stdint.h>

#define CREDS_AKID_MAX 128 /* IAM: access key ids are 16-128 characters */
#define CREDS_SECRET_MAX 256
#define CREDS_TOKEN_MAX 8192 /* STS session tokens run to a few KiB */
#define CREDS_FILE_BYTES_MAX (16u << 20)

struct cred {
    const char *akid;
    const char *secret;
    const char *token; /* NULL: long-term key, a request must not carry X-Amz-Security-Token */
    size_t token_len;
    uint64_t id; /* unique among every key loaded in this process (signing-key cache tag) */
};

struct creds;

/* Reads and parses `path`. Returns 0 with *out set (free with creds_free) and in err a warning
 * when the file is accessible by group or others, else ""; or -1 with a one-line reason (file,
 * line) in err. Synchronous; main thread. */
int creds_load(const char *path, struct creds **out, char *err, size_t err_cap);

/* The same from text already in memory (tests). `where` names the source in messages. */
int creds_parse(const char *text, size_t len, const char *where, struct creds **out, char *err,
                size_t err_cap);

/* The key with this access key id, or NULL. Any thread. */
const struct cred *creds_find(const struct creds *c, const char *akid, size_t akid_len);

size_t creds_count(const struct creds *c);
void creds_free(struct creds *c);

#endif
