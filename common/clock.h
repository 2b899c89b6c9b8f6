/* clock.h — the two clocks. Wall time (epoch ms) is what Kinesis shows (arrival timestamps,
 * iterator issue time, state transitions); monotonic ns drives rates and timeouts.
 * Tests may shift wall time forward with clock_advance_ms() to cross expiry windows without
 * sleeping. Any thread. */
#ifndef SC_CLOCK_H
#define SC_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);      /* epoch milliseconds, plus any test advance */
uint64_t clock_mono_ns(void);    /* CLOCK_MONOTONIC nanoseconds */
int64_t clock_mono_ms(void);     /* the same in milliseconds: for durations a wall-clock step must
                                    not stretch (heartbeats, takeovers, deadlines) */
void clock_advance_ms(int64_t delta_ms);

#endif
