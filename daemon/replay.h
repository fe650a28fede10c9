/* replay.h — `churnwatch replay`: the decoder, rules and alert lifecycle of the daemon run
 * over a file of events in event time, with an in-memory store (DESIGN.md §6).
 *
 * The clock is event time: the largest ts seen so far, minus cfg->lateness_ms. Before each
 * event, every customer whose next due time is at or before the clock is advanced (earliest
 * first, ties by customer id), each to its own due time, so alerts come out in time order;
 * then the event is applied to its customer. At the end of the input the clock moves to
 * `until` (when given and later) and what is due by then fires. Output is a function of the
 * input and the config only: two runs print the same bytes. */
#ifndef CW_REPLAY_H
#define CW_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "event.h"

struct backtest;

struct replay_opts {
    bool has_until;
    int64_t until_ms;  /* with has_until: advance the clock to this time at the end */
    const char *topic; /* field mapping of this config topic; NULL = default mapping */
    /* Backtest (backtest.h), borrowed, may be NULL: every accepted event and every notice
     * is recorded in it, and the final clock is set as its end. */
    struct backtest *backtest;
    bool no_alerts; /* do not print the alert lines (the notices are still counted) */
};

struct replay_stats {
    uint64_t events;     /* non-empty input lines */
    uint64_t accepted;   /* decoded and applied */
    uint64_t duplicates; /* decoded, but an event_id seen recently for that customer */
    uint64_t late;       /* later than engine.lateness allows: applied out of order */
    uint64_t rejected;   /* sum of rejected_by */
    uint64_t rejected_by[REJ__COUNT];
    uint64_t alerts_firing;   /* firing notices, repeats included */
    uint64_t alerts_repeat;   /* of which repeats */
    uint64_t alerts_resolved;
    uint64_t customers;
};

/* Replays the JSON lines read from `in` (named `in_name` in messages). Alert JSON lines go
 * to `out`; rejected lines are reported on `err` as "NAME:LINE: rejected (reason): message"
 * (the first 10, then a count of the others). Fills *stats (may be NULL).
 * Returns 0, or -1 after writing the reason to `err` (unknown topic, read or write error,
 * out of memory). */
int replay_run(const struct config *cfg, FILE *in, const char *in_name,
               const struct replay_opts *opts, FILE *out, FILE *err, struct replay_stats *stats);

/* Writes the summary line (without newline): "replay: N events, A accepted, R rejected
 * (invalid_json 1, ...), D duplicates, K alerts (F firing, S resolved), C customers". */
void replay_stats_format(const struct replay_stats *s, char *buf, size_t len);

#endif
