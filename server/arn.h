/* arn.h — stream and consumer ARNs (kinesis-protocol §4):
 *   arn:aws:kinesis:<region>:<account>:stream/<name>
 *   <streamARN>/consumer/<consumerName>:<creation epoch seconds>
 * Pure, any thread. */
#ifndef SC_ARN_H
#define SC_ARN_H

#include <stddef.h>
#include <stdint.h>

#define ARN_MAX 2048

/* Writes the stream ARN into buf (cap bytes). Returns buf. */
char *arn_stream(char *buf, size_t cap, const char *region, const char *account,
                 const char *stream);
char *arn_consumer(char *buf, size_t cap, const char *region, const char *account,
                   const char *stream, const char *consumer, int64_t created_secs);

/* Parses a stream ARN: partition arn:aws*, service kinesis, 12-digit account. Copies the
 * stream name (<= 128 chars) into name[129] and, if non-NULL, region[64] / account[16].
 * Returns 0 or -EINVAL. The caller checks region/account against the config. */
int arn_parse_stream(const char *arn, char *name, char *region, char *account);

/* Parses a consumer ARN into stream name, consumer name and creation seconds. 0 or -EINVAL. */
int arn_parse_consumer(const char *arn, char *stream, char *consumer, int64_t *created_secs,
                       char *region, char *account);

#endif
