#include "common/errors.h"

#include <string.h>

const char *kerr_name(int err)
{
    switch (err) {
    case 0: return "ok";
    case KERR_RESOURCE_NOT_FOUND: return "resource_not_found";
    case KERR_RESOURCE_IN_USE: return "resource_in_use";
    case KERR_INVALID_ARGUMENT: return "invalid_argument";
    case KERR_LIMIT_EXCEEDED: return "limit_exceeded";
    case KERR_THROUGHPUT_EXCEEDED: return "throughput_exceeded";
    case KERR_EXPIRED_ITERATOR: return "expired_iterator";
    case KERR_EXPIRED_NEXT_TOKEN: return "expired_next_token";
    case KERR_VALIDATION: return "validation";
    case KERR_ACCESS_DENIED: return "access_denied";
    case KERR_SERIALIZATION: return "serialization";
    case KERR_UNKNOWN_OPERATION: return "unknown_operation";
    case KERR_INTERNAL: return "internal";
    case KERR_SERVICE_UNAVAILABLE: return "service_unavailable";
    case KERR_CONFLICT: return "conflict";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown_error";
}
