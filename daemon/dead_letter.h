/* dead_letter.h — copies rejected messages to the dead-letter topic, with headers naming
 * the reason and the source topic, partition and offset. Best effort: the source offset is
 * committed like any other, so a dead-letter outage never stops the stream (failures are
 * counted and logged). */
#ifndef CW_DEAD_LETTER_H
#define CW_DEAD_LETTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event.h"

struct dead_letter;

/* NULL when cfg has no dead_letter_topic, or on error (*failed set). */
struct dead_letter *dead_letter_new(const struct config *cfg, int *failed);
void dead_letter_free(struct dead_letter *d); /* flushes; accepts NULL */
void dead_letter_send(struct dead_letter *d, const char *topic, int32_t partition, int64_t offset,
                      enum reject_reason why, const void *key, size_t key_len,
                      const void *payload, size_t len);
void dead_letter_poll(struct dead_letter *d);
uint64_t dead_letter_failures(const struct dead_letter *d);

#endif
