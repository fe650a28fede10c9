/* clock.h — the two clocks the daemon reads, in milliseconds, and a sleep. */
#ifndef CW_CLOCK_H
#define CW_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Monotonic time: for timeouts, back-off and intervals. */
int64_t clock_mono_ms(void);
/* The same in microseconds: for short durations (metrics). */
int64_t clock_mono_us(void);
/* Wall-clock time, epoch milliseconds UTC: the `clock: wall` backstop. */
int64_t clock_wall_ms(void);
void clock_sleep_ms(int ms);

/* A partition's "now" for its timers: its clock (the latest event time), with `clock: wall`
 * (wall true) at least the wall clock. The daemon's sweep and `churnwatch inspect` both
 * use it, so inspect shows what the sweep will do. */
int64_t clock_partition_now(int64_t clock_ms, bool wall);

#endif
