/* libFuzzer harness for the CBOR transcoder (subscribe/awscbor.c), which reads every CBOR request
 * body a client sends.
 * Properties: no crash / leak / UB on any input; whatever awscbor_to_json accepts is JSON that
 * awscbor_from_json takes back, within its bound, and whose CBOR reads again. Build: see
 * tests/fuzz/CMakeLists.txt (clang only). Run: ./awscbor_fuzz -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "subscribe/awscbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json;
    size_t jlen, off;
    int rc = awscbor_to_json(data, size, &json, &jlen, &off);
    if (rc != 0) {
        ASSERT(rc <= AWSCBOR_ERR_TRUNCATED && rc >= AWSCBOR_ERR_JSON && off <= size);
        return 0;
    }
    ASSERT(jlen <= 8 * size + 64 && json[jlen] == '\0');
    uint8_t *cbor;
    size_t clen;
    rc = awscbor_from_json(json, jlen, &cbor, &clen);
    ASSERT(rc == 0);
    char *again;
    size_t alen;
    ASSERT(awscbor_to_json(cbor, clen, &again, &alen, NULL) == 0);
    free(again);
    free(cbor);
    free(json);
    return 0;
}
