/* notify.h — systemd service notifications (Type=notify): readiness, watchdog pings,
 * status text, reload and stop. All are no-ops when not run by systemd. */
#ifndef CW_NOTIFY_H
#define CW_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Reads the watchdog period systemd asks for (none outside systemd). */
void notify_init(void);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Pings the watchdog if half its period has passed since the last ping. */
void notify_watchdog(void);

#endif
