/* errors.h — the one error vocabulary below server/.
 *
 * 0 is success, negative is failure. System errors are -errno (all > -4096). Kinesis-level
 * failures are the KERR_* values below -4095; only server/ maps them to an HTTP status and an AWS
 * `__type` (server/errmap.c). Lower layers never format AWS messages: the caller knows the
 * context (stream name, shard id) and writes the text. */
#ifndef SC_ERRORS_H
#define SC_ERRORS_H

enum kerr {
    KERR_RESOURCE_NOT_FOUND = -4096,
    KERR_RESOURCE_IN_USE = -4097,
    KERR_INVALID_ARGUMENT = -4098,
    KERR_LIMIT_EXCEEDED = -4099,
    KERR_THROUGHPUT_EXCEEDED = -4100,
    KERR_EXPIRED_ITERATOR = -4101,
    KERR_EXPIRED_NEXT_TOKEN = -4102,
    KERR_VALIDATION = -4103,
    KERR_ACCESS_DENIED = -4104,
    KERR_SERIALIZATION = -4105,
    KERR_UNKNOWN_OPERATION = -4106,
    KERR_INTERNAL = -4107,
    KERR_SERVICE_UNAVAILABLE = -4108,
    KERR_CONFLICT = -4109, /* compare-and-set lost: metadata revision moved */
    KERR_MIN = -4109,
};

/* A stable lowercase name for logs ("resource_not_found", or strerror text for -errno). */
const char *kerr_name(int err);

#endif
