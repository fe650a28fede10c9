/* admin.h — the operator's commands on live state (DESIGN.md §6; docs/cli.md):
 *
 *   inspect CUSTOMER   the customer's partition, stored state, the rules evaluated at the
 *                      partition's clock (signals, score, level, open alerts with their
 *                      ids), next timer, silence and acknowledgements, recent events
 *   top                the riskiest customers, from the partitions' at-risk sets
 *   ack ALERT_ID       acknowledge a firing alert: no more repeat notices for the episode
 *   silence / unsilence / silence --list
 *                      keep a customer's notices from the sinks for a while (mute.h)
 *
 * Each reads Redis with the daemon's configuration and prints aligned tables, or JSON
 * with `json`. Each returns the process's exit status: 0, or 1 after a message on stderr
 * ("churnwatch: ..."): unknown customer or alert, Redis unreachable (naming host:port). */
#ifndef CW_ADMIN_H
#define CW_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

struct inspect_opts {
    bool json;
    size_t events; /* recent events to show (0: do not read Kafka) */
    size_t scan;   /* messages read back per input topic for them */
    int kafka_timeout_ms;
};
int admin_inspect(const struct config *cfg, const char *customer, const struct inspect_opts *o,
                  FILE *out);

struct top_opts {
    bool json;
    int min_level; /* enum risk_level: list customers at this level or above */
    int tier;      /* enum tier, or -1 for all */
    size_t limit;
};
int admin_top(const struct config *cfg, const struct top_opts *o, FILE *out);

/* customer may be NULL: the alert is then looked up among the customers at risk. */
int admin_ack(const struct config *cfg, const char *alert_id, const char *customer,
              const char *note, bool json, FILE *out);
int admin_silence(const struct config *cfg, const char *customer, int64_t for_ms, const char *note,
                  bool json, FILE *out);
int admin_silence_list(const struct config *cfg, bool json, FILE *out);
int admin_unsilence(const struct config *cfg, const char *customer, bool json, FILE *out);

/* check-config --json: prints {"file", "ok", "errors": [{"file", "line", "column",
 * "message"}]} for the error text config_load wrote ("" when ok). Returns 0 or -1. */
int admin_check_config_json(const char *path, const char *errs, FILE *out);
/* Splits one config error line "FILE:LINE:COL: MESSAGE". Returns 0 with the parts set
 * (file copied into `file`, *message pointing into line), or -1 when the line has no
 * position (*message is then the whole line). Pure. */
int admin_split_error(const char *line, char *file, size_t file_len, long *lineno, long *col,
                      const char **message);

/* "3.5 d", "5.0 h", "12 min", "40 s": a span for people. Pure. */
void admin_format_span(int64_t ms, char *out, size_t len);

#endif
