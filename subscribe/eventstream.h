/* eventstream.h — the `application/vnd.amazon.eventstream` codec (kinesis-protocol.md §6.4).
 *
 * Encoder: whole messages into refbufs, plus the small pieces (prelude, string header) that
 * evframe.c uses to build SubscribeToShardEvent frames around stored records without copying them.
 * Decoder: validates untrusted bytes (both CRCs, every length, header types, duplicate names)
 * and reports failures as EVENTSTREAM_ERR_* codes; the incremental form buffers at most one
 * message. Nothing here keeps global state: any thread, one decoder per thread at a time. */
#ifndef SC_EVENTSTREAM_H
#define SC_EVENTSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct refbuf;

#define EVENTSTREAM_PRELUDE_LEN 12u               /* total, headers length, prelude CRC */
#define EVENTSTREAM_MIN_LEN 16u                   /* prelude + message CRC */
#define EVENTSTREAM_MAX_LEN (16u * 1024u * 1024u) /* spec ceiling for a whole message */
#define EVENTSTREAM_HEADERS_MAX (128u * 1024u)    /* clients reject larger header blocks */
#define EVENTSTREAM_VALUE_MAX 32767u              /* string / byte-array values (AWS impls) */

/* Header value type codes, as on the wire (§6.4 table). */
enum eventstream_type {
    EVENTSTREAM_TRUE = 0,
    EVENTSTREAM_FALSE = 1,
    EVENTSTREAM_BYTE = 2,
    EVENTSTREAM_SHORT = 3,
    EVENTSTREAM_INT = 4,
    EVENTSTREAM_LONG = 5,
    EVENTSTREAM_BYTES = 6,
    EVENTSTREAM_STRING = 7,
    EVENTSTREAM_TIMESTAMP = 8, /* i64 epoch milliseconds */
    EVENTSTREAM_UUID = 9,
};

/* Codec failures. Below KERR_MIN so they never collide with -errno or enum kerr; they never
 * reach a client as such (server/ maps a broken stream to closing it). */
enum eventstream_err {
    EVENTSTREAM_ERR_PRELUDE_CRC = -4200,
    EVENTSTREAM_ERR_MESSAGE_CRC = -4201,
    EVENTSTREAM_ERR_TOTAL_LEN = -4202,        /* < 16, or not the length of the given buffer */
    EVENTSTREAM_ERR_TOO_LONG = -4203,         /* total above the decoder's / encoder's maximum */
    EVENTSTREAM_ERR_HEADERS_LEN = -4204,      /* > 128 KiB or longer than the message allows */
    EVENTSTREAM_ERR_HEADER_TRUNCATED = -4205, /* a header runs past the header block */
    EVENTSTREAM_ERR_HEADER_NAME = -4206,      /* empty name (encode: also > 255 bytes) */
    EVENTSTREAM_ERR_HEADER_TYPE = -4207,      /* unknown type code */
    EVENTSTREAM_ERR_DUPLICATE_HEADER = -4208,
    EVENTSTREAM_ERR_VALUE_TOO_LONG = -4209, /* encode: string / byte array > 32767 bytes */
};

/* One header. Encoding: the caller fills it (name need not be NUL-terminated). Decoding: name
 * and bytes point into the message and live as long as it does. */
struct eventstream_header {
    const char *name;
    size_t name_len;
    enum eventstream_type type;
    union {
        int64_t i; /* BYTE, SHORT, INT, LONG, TIMESTAMP (sign-extended when decoded) */
        struct {
            const uint8_t *ptr;
            size_t len;
        } bytes;          /* BYTES, STRING */
        uint8_t uuid[16]; /* UUID */
    } v;
};

/* Payload codec of the request that opened the subscription (§6.2, §6.3). */
enum eventstream_codec { EVENTSTREAM_CODEC_JSON, EVENTSTREAM_CODEC_CBOR };

/* "application/json" or "application/x-amz-cbor-1.1". */
const char *eventstream_content_type(enum eventstream_codec codec);

/* A stable name for an EVENTSTREAM_ERR_* code (or "unknown"); for logs and tests. */
const char *eventstream_strerror(int err);

/* ---- encoding ---------------------------------------------------------------------------- */

/* Wire size of `n` headers into *len. Returns 0, or EVENTSTREAM_ERR_HEADER_NAME (empty or >255),
 * _VALUE_TOO_LONG, _HEADER_TYPE (not a valid enum value), _HEADERS_LEN (> 128 KiB). Does not
 * check duplicates (the caller writes the names). */
int eventstream_headers_len(const struct eventstream_header *h, size_t n, size_t *len);

/* Writes the 12-byte prelude (big-endian lengths + CRC of the first 8 bytes) to dst. */
void eventstream_put_prelude(uint8_t *dst, uint32_t total_len, uint32_t headers_len);

/* Writes one type-7 header `name`=`value` (NUL-terminated, name 1..255, value <= 32767 bytes,
 * both asserted: callers pass constants and server-made text) to dst; returns bytes written,
 * which is 4 + strlen(name) + strlen(value). */
size_t eventstream_put_string_header(uint8_t *dst, const char *name, const char *value);

/* Encodes one whole message into a new refbuf (one reference, owned by the caller) in *out.
 * Returns 0, any eventstream_headers_len() error, or EVENTSTREAM_ERR_TOO_LONG when the message
 * would exceed EVENTSTREAM_MAX_LEN (then *out is untouched). */
int eventstream_encode(const struct eventstream_header *h, size_t n, const void *payload,
                       size_t payload_len, struct refbuf **out);

/* The three message kinds of §6.3. Strings are NUL-terminated; return codes as
 * eventstream_encode(); *out gets one reference owned by the caller. */

/* :message-type=event, :event-type=<event_type>, :content-type=<codec's>; payload as given. */
int eventstream_encode_event(const char *event_type, enum eventstream_codec codec,
                             const void *payload, size_t payload_len, struct refbuf **out);
/* The mandatory first event: initial-response with payload {} (JSON) or A0 (CBOR). */
int eventstream_encode_initial_response(enum eventstream_codec codec, struct refbuf **out);
/* :message-type=exception, :exception-type=<type> (e.g. "ResourceInUseException"),
 * :content-type; payload {"message":"<message>"} in the codec (JSON text escaped). */
int eventstream_encode_exception(const char *exception_type, enum eventstream_codec codec,
                                 const char *message, struct refbuf **out);
/* :message-type=error, :error-code, :error-message; empty payload (unmodelled errors). */
int eventstream_encode_error(const char *code, const char *message, struct refbuf **out);

/* ---- decoding ---------------------------------------------------------------------------- */

/* A validated message: views into the bytes it was parsed from. */
struct eventstream_message {
    const uint8_t *bytes;
    size_t total_len;
    const uint8_t *headers;
    size_t headers_len;
    size_t header_count;
    const uint8_t *payload;
    size_t payload_len;
};

/* Parses and fully validates exactly one message occupying buf[0..len). Returns 0 and fills
 * *msg (pointing into buf), or an EVENTSTREAM_ERR_* code (TOTAL_LEN if len differs from the
 * prelude's total). max_len 0 means EVENTSTREAM_MAX_LEN. Reads only buf[0..len). */
int eventstream_parse(const uint8_t *buf, size_t len, size_t max_len,
                      struct eventstream_message *msg);

/* Iterates the headers of a validated message: start with *cursor = 0; returns true and fills
 * *h while there is one, false at the end. */
bool eventstream_header_next(const struct eventstream_message *msg, size_t *cursor,
                             struct eventstream_header *h);

/* Finds header `name` (NUL-terminated); true and *h filled when present. */
bool eventstream_message_header(const struct eventstream_message *msg, const char *name,
                                struct eventstream_header *h);

/* Incremental decoder for a byte stream cut anywhere (DATA frames, HTTP chunks, TCP reads). */
struct eventstream_decoder {
    uint8_t *buf; /* the message being assembled; never more than one */
    size_t len;
    size_t cap;
    size_t max_len;
    uint32_t total_len; /* of the message in buf, once its prelude is complete */
    bool delivered;     /* buf holds the message last returned: reset on the next call */
    int err;            /* sticky: a stream that broke framing cannot resynchronise */
};

/* max_len caps one message (0 = EVENTSTREAM_MAX_LEN); the decoder never buffers more. */
void eventstream_decoder_init(struct eventstream_decoder *d, size_t max_len);
void eventstream_decoder_dispose(struct eventstream_decoder *d);

/* Consumes bytes from in[0..in_len) up to the end of the next whole message.
 * Returns 1: *msg holds a message, *consumed says how much of `in` was used (call again with the
 * rest); msg points into `in` or into the decoder and stays valid until the next call on d or
 * until `in` changes. 0: all input consumed (*consumed = in_len), need more bytes.
 * <0: EVENTSTREAM_ERR_* — framing is lost; every later call returns the same error. */
int eventstream_decoder_next(struct eventstream_decoder *d, const void *in, size_t in_len,
                             size_t *consumed, struct eventstream_message *msg);

/* True when no partial message is buffered (a clean place for the stream to end). */
bool eventstream_decoder_idle(const struct eventstream_decoder *d);

#endif
