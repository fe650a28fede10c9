/* alerts.h — alert payloads (DESIGN.md §4): one JSON object per notice. Pure: no I/O. */
#ifndef CW_ALERTS_H
#define CW_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "customer.h"
#include "rules.h"

#define CW_ALERT_ID_LEN 16 /* hex digits */

/* Writes the stable id of an episode (customer, rule, start) as 16 hex digits + NUL. */
void alert_id(const char *customer_id, enum rule_id rule, int64_t started_ms,
              char out[CW_ALERT_ID_LEN + 1]);

/* What an alert says, for counting (metrics): rule, level and status. */
struct alert_kind {
    uint8_t rule;  /* enum rule_id */
    uint8_t level; /* enum risk_level */
    bool firing;   /* false: resolved */
};

/* A growable list of alert JSON strings, reused from batch to batch.
 * The list owns its memory; alert_list_free() releases it (accepts NULL). */
struct alert_list {
    char *buf;       /* all payloads, each NUL-terminated */
    size_t len, cap;
    size_t *offset;  /* start of payload i in buf */
    size_t *length;  /* length of payload i, without the NUL */
    char (*customer)[CW_ID_MAX + 1]; /* customer id of payload i (the Kafka key) */
    struct alert_kind *kind;         /* of payload i */
    size_t count, slots;
};
void alert_list_clear(struct alert_list *l);
void alert_list_free(struct alert_list *l); /* frees the contents, not `l` itself */
static inline const char *alert_list_get(const struct alert_list *l, size_t i)
{
    return l->buf + l->offset[i];
}

/* Appends an alert already formatted (`len` bytes of JSON) for customer `customer`, of
 * kind `kind` (alert_kind_parse reads it back from such JSON). Returns 0, or -1 on ENOMEM. */
int alert_list_append(struct alert_list *l, const char *customer, struct alert_kind kind,
                      const char *json, size_t len);
/* The rule, level and status of alert JSON json[0..len); a notice it cannot read gets
 * rule RULE__COUNT (counted nowhere). */
struct alert_kind alert_kind_parse(const char *json, size_t len);

/* Formats `n` for customer `c` (after the rules ran, so score, level and the other
 * active signals are current) and appends it to `out`. Returns 0, or -1 on ENOMEM. */
int alert_format(const struct config *cfg, const struct customer *c, const struct notice *n,
                 struct alert_list *out);

/* Formats all notices in `nl` for `c`. Returns 0 or -1. */
int alert_format_all(const struct config *cfg, const struct customer *c,
                     const struct notice_list *nl, struct alert_list *out);

#endif
