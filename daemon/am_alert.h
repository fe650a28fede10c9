/* am_alert.h — Alertmanager alerts (API v2, POST /api/v2/alerts) made from churnwatch's
 * alert notices (DESIGN.md §4). Pure: no I/O. docs/sinks.md shows the mapping:
 *
 *   labels       alertname = rule, customer_id, tier, severity = level, source = churnwatch
 *   annotations  summary, evidence (the evidence object as compact JSON text), action (when
 *                the notice has one), alert_id, score, signals (comma-separated rules)
 *   startsAt     started_at;  generatorURL  sinks.alertmanager.generator_url, if set
 *   endsAt       set by the sink when it sends the alert (am_alert_set_ends) */
#ifndef CW_AM_ALERT_H
#define CW_AM_ALERT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"

struct am_notice {
    char alert_id[CW_ALERT_ID_LEN + 1];
    bool firing;
    int64_t resolved_ms; /* resolved notices: when the condition cleared (the notice's ts) */
    cJSON *alert;        /* owned: {labels, annotations, startsAt[, generatorURL]}, no endsAt */
};

/* Makes the Alertmanager alert of notice json[0..len). generator_url may be NULL. Returns
 * 0, or -1 with the reason in *why (a static string) when the notice is not an alert
 * object or lacks a field. Release with am_notice_clear. */
int am_notice_parse(const char *json, size_t len, const char *generator_url, struct am_notice *out,
                    const char **why);
void am_notice_clear(struct am_notice *n); /* frees n->alert (may be NULL) */

/* Sets alert's endsAt (RFC 3339, milliseconds) to ends_ms, or to its startsAt when that is
 * later: Alertmanager refuses an alert that ends before it starts. Returns 0, or -1 when
 * the alert has no valid startsAt or memory runs out. */
int am_alert_set_ends(cJSON *alert, int64_t ends_ms);

#endif
