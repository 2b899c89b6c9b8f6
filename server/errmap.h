/* errmap.h — enum kerr (common/errors.h) -> HTTP status and AWS error type (kinesis-protocol
 * §1.3). Pure, any thread. */
#ifndef SC_ERRMAP_H
#define SC_ERRMAP_H

/* For a KERR_* code returns its `__type` and sets *status; -errno and unknown codes map to
 * InternalFailure / 500. */
const char *errmap_type(int err, int *status);

#endif
