#include "server/errmap.h"

#include "common/errors.h"

const char *errmap_type(int err, int *status)
{
    *status = 400;
    switch (err) {
    case KERR_RESOURCE_NOT_FOUND: return "ResourceNotFoundException";
    case KERR_RESOURCE_IN_USE: return "ResourceInUseException";
    case KERR_INVALID_ARGUMENT: return "InvalidArgumentException";
    case KERR_LIMIT_EXCEEDED: return "LimitExceededException";
    case KERR_THROUGHPUT_EXCEEDED: return "ProvisionedThroughputExceededException";
    case KERR_EXPIRED_ITERATOR: return "ExpiredIteratorException";
    case KERR_EXPIRED_NEXT_TOKEN: return "ExpiredNextTokenException";
    case KERR_VALIDATION: return "ValidationException";
    case KERR_ACCESS_DENIED: return "AccessDeniedException";
    case KERR_SERIALIZATION: return "SerializationException";
    case KERR_UNKNOWN_OPERATION: return "UnknownOperationException";
    case KERR_SERVICE_UNAVAILABLE: *status = 503; return "ServiceUnavailable";
    default: *status = 500; return "InternalFailure";
    }
}
