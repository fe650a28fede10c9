/* http_server.h — the daemon's HTTP endpoints (metrics.listen, docs/metrics.md):
 *   GET /metrics  the registry in the Prometheus text format
 *   GET /healthz  200 "ok" while the main loop turns, else 503 and why
 *   GET /readyz   200 "ready" when the daemon does its job, else 503 and why
 * served by libmicrohttpd in a thread of its own, which only reads the registry and the
 * health state (metrics.h and health.h say how that is safe). */
#ifndef CW_HTTP_SERVER_H
#define CW_HTTP_SERVER_H

#include <stddef.h>

#include "health.h"
#include "metrics.h"

#define HTTP_HOST_MAX 256

/* Splits "host:port" or "[v6-address]:port" (port 0..65535; 0 picks a free one). Returns
 * NULL, or what is wrong with s. */
const char *http_listen_parse(const char *s, char host[HTTP_HOST_MAX], int *port);

struct http_server;

/* Binds `listen` (http_listen_parse) and starts serving; m and h are borrowed and must
 * outlive the server. Returns NULL with a message naming the address in err when the
 * address does not resolve or cannot be bound. */
struct http_server *http_server_start(const char *listen, struct metrics *m, struct health *h,
                                      char *err, size_t err_len);
/* The port it listens on (the one picked when the configured port was 0). */
int http_server_port(const struct http_server *s);
/* Stops serving and waits for the thread; accepts NULL. */
void http_server_stop(struct http_server *s);

#endif
