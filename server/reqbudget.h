/* reqbudget.h — the process-wide budget of buffered request bodies.
 *
 * Both transports charge a request body's buffer (by capacity) from its first byte and the
 * exchange refunds it when freed, so however many clients send at once the server never holds
 * more than the budget of their bodies (server_opts.body_budget_bytes). A refused charge
 * charges nothing; the transport answers 503 ServiceUnavailable (h1: and closes). Budget 0 =
 * unlimited (until server_start sets one). Any thread: one atomic counter. */
#ifndef SC_REQBUDGET_H
#define SC_REQBUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The message both transports answer a refused charge with (503 ServiceUnavailable). */
#define REQBUDGET_REFUSED_MSG "Too many request bytes buffered in the server; retry."

void reqbudget_set(uint64_t bytes);
bool reqbudget_charge(size_t bytes);
void reqbudget_refund(size_t bytes);
uint64_t reqbudget_charged(void); /* GET /stats, tests */

#endif
