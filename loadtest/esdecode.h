/* esdecode.h — decoder for AWS event-stream messages (application/vnd.amazon.eventstream,
 * kinesis-protocol.md §6.4), enough for SubscribeToShard responses: prelude and message CRCs
 * checked, the string headers :message-type, :event-type, :exception-type, :error-code,
 * :error-message picked out, the payload located. Stand-in until subscribe/eventstream.h
 * (efo branch) offers a decoder we can link. Pure, any thread. */
#ifndef LT_ESDECODE_H
#define LT_ESDECODE_H

#include <stddef.h>
#include <stdint.h>

#define ESDECODE_MAX_MESSAGE (16u << 20)

struct es_str {
    const char *p; /* points into the input buffer, not NUL-terminated */
    size_t len;
};

struct es_msg {
    struct es_str message_type;
    struct es_str event_type;
    struct es_str exception_type;
    struct es_str error_code;
    struct es_str error_message;
    const uint8_t *payload;
    size_t payload_len;
};

/* Decodes the message at the start of buf. Returns its total length (> 0) with *msg filled,
 * 0 when buf holds less than one complete message, or -EBADMSG (bad CRC, lengths, header type)
 * / -EMSGSIZE (over ESDECODE_MAX_MESSAGE). */
long esdecode_next(const uint8_t *buf, size_t len, struct es_msg *msg);

/* True when s equals the NUL-terminated lit. */
int es_str_eq(struct es_str s, const char *lit);

#endif
