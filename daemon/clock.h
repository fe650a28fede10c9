/* clock.h — the two clocks the daemon reads, in milliseconds, and a sleep. */
#ifndef CW_CLOCK_H
#define CW_CLOCK_H

#include <stdint.h>

/* Monotonic time: for timeouts, back-off and intervals. */
int64_t clock_mono_ms(void);
/* The same in microseconds: for short durations (metrics). */
int64_t clock_mono_us(void);
/* Wall-clock time, epoch milliseconds UTC: the `clock: wall` backstop. */
int64_t clock_wall_ms(void);
void clock_sleep_ms(int ms);

#endif
