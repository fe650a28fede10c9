/* decode.h — bytes to event (DESIGN.md §2) with a topic's field mapping. Pure: no I/O. */
#ifndef CW_DECODE_H
#define CW_DECODE_H

#include <stddef.h>

#include "config.h"
#include "event.h"

/* Decodes one message. On success returns 0 and fills *ev. On rejection returns -1, sets
 * *why and writes a one-line message naming the field (e.g. "field /amount: expected a
 * number >= 0") into err. Never reads past buf[len-1]; buf need not be NUL-terminated.
 * Messages longer than max_bytes are rejected with REJ_TOO_LARGE without parsing. */
int decode_event(const struct topic_config *topic, size_t max_bytes, const char *buf, size_t len,
                 struct event *ev, enum reject_reason *why, char *err, size_t err_len);

/* Parses an RFC 3339 timestamp with offset ("1997-01-01T10:00:00Z",
 * "1997-01-01T10:00:00.250+02:00") into epoch ms UTC. Returns 0 or -1. */
int decode_rfc3339(const char *s, size_t len, int64_t *ms);
/* Formats epoch ms as RFC 3339 UTC with milliseconds ("1997-01-01T10:00:00.000Z"). */
void format_rfc3339(int64_t ms, char out[32]);

#endif
