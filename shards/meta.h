/* meta.h — durable metadata store for the registry (architecture.md §5, §8).
 *
 * Layout: DATA/meta/stream.<name>.meta, one file per stream (key = stream name), written as
 * new temp file + fsync + rename + fsync(dir), so a kill -9 leaves either the old or the new
 * version. File format (text, version 1):
 *     shardcast-meta 1
 *     rev <revision>
 *     <record lines: stream, status, mode, ..., tag, shard, consumer>
 *     crc <crc32 of every byte before this line, 8 hex>
 * Strings that may hold spaces (tags, key ids, consumer names) are hex-encoded.
 *
 * Writes are revision-checked: meta_put/meta_remove take the revision the caller last saw and
 * fail with KERR_CONFLICT if the stored one differs (create = expect 0). The local backend
 * remembers revisions in memory; a JetStream KV backend would map this to its CAS update.
 *
 * Thread rule: not thread-safe; the registry calls it under its mutex. */
#ifndef SC_META_H
#define SC_META_H

#include <stddef.h>
#include <stdint.h>

struct meta;
struct reg_account;
struct reg_stream;

/* Opens (creating) DATA/meta. 0 or -errno. */
int meta_open(const char *data_dir, struct meta **out);
void meta_close(struct meta *m);

/* Decodes every stream file and hands each new record to cb, which takes ownership. A corrupt
 * file (bad header, checksum, syntax) is logged with its path and returns -EBADMSG; I/O errors
 * return -errno; a non-zero cb result stops and is returned. Leftover temp files are removed. */
int meta_load(struct meta *m, int (*cb)(void *arg, struct reg_stream *s), void *arg);

/* Writes stream `s` with revision s->info.revision if the stored revision is `expect_rev`
 * (0 = must not exist). 0, KERR_CONFLICT or -errno. */
int meta_put(struct meta *m, const struct reg_stream *s, uint64_t expect_rev);

/* Deletes the stream's file if its revision is `expect_rev`. 0, KERR_CONFLICT or -errno. */
int meta_remove(struct meta *m, const char *name, uint64_t expect_rev);

/* The account's settings, DATA/meta/account.meta (written like a stream file). load: 0 with
 * the defaults when there is none, -EBADMSG (logged) when it is corrupt, or -errno. */
int meta_account_put(struct meta *m, const struct reg_account *a);
int meta_account_load(struct meta *m, struct reg_account *out);
int meta_account_decode(const char *buf, size_t len, struct reg_account *out);

/* Encoding, exposed for tests: appends the text form of s to a malloc'd buffer. */
char *meta_encode(const struct reg_stream *s, size_t *len);
/* Parses `len` bytes (NUL-terminated) into a new record. 0 or -EBADMSG. */
int meta_decode(const char *buf, size_t len, struct reg_stream **out);

#endif
