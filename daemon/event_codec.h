/* event_codec.h — a compact binary form of a decoded event, for events held back in the
 * late-event buffer (late_buffer.h) and stored with the partition in Redis. Pure. */
#ifndef CW_EVENT_CODEC_H
#define CW_EVENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Enough for any event: fixed fields plus every string at its maximum length. */
#define CW_EVENT_ENCODED_MAX 1024

/* Writes ev into buf. Returns the length, or 0 when cap is too small. */
size_t event_encode(const struct event *ev, uint8_t *buf, size_t cap);
/* Reads what event_encode wrote. Returns 0, or -1 when buf is not a valid encoding. */
int event_decode(const uint8_t *buf, size_t len, struct event *ev);

#endif
