/* http_server.c — see http_server.h.
 *
 * The listening socket is made here, not by libmicrohttpd, so that a bind failure comes
 * back with its errno ("Address already in use") for a clear start-up error, and so that
 * the port picked for port 0 can be read back (getsockname). libmicrohttpd then serves it
 * from one internal thread (epoll on Linux), at most 16 connections, 10 s idle timeout.
 * That thread is started with every signal blocked, so SIGTERM and SIGHUP still reach
 * the main thread, whose loop acts on them. */
#include "http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CONTENT_TYPE_TEXT "text/plain; charset=utf-8"

struct http_server {
    struct MHD_Daemon *mhd;
    struct metrics *metrics; /* borrowed */
    struct health *health;   /* borrowed */
    int port;
};

const char *http_listen_parse(const char *s, char host[HTTP_HOST_MAX], int *port)
{
    const char *h = s, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return "expected [IPv6 address]:port, e.g. [::1]:9465";
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return "expected host:port, e.g. 127.0.0.1:9465 (port 0 picks a free port; off "
                   "disables)";
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen) != NULL)
            return "expected an IPv6 address in brackets, e.g. [::1]:9465";
    }
    if (hlen == 0)
        return "expected a host before the port (0.0.0.0 listens on every IPv4 address)";
    if (hlen >= HTTP_HOST_MAX)
        return "host name too long";
    const char *d = colon + 1;
    long p = 0;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || n > 5 || d[n] != '\0' || (p = strtol(d, NULL, 10)) > 65535)
        return "expected a port 0..65535 after the colon";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return NULL;
}

static void http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warn("metrics http: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
    return reply(c, status, CONTENT_TYPE_TEXT, (char *)text, strlen(text), MHD_RESPMEM_MUST_COPY);
}

/* Health answers: 200 "ok"/"ready", or 503 and the reason, one line each. */
static enum MHD_Result reply_health(struct MHD_Connection *c, bool good, const char *ok,
                                    const char *reason)
{
    char body[320];
    snprintf(body, sizeof body, "%.300s\n", good ? ok : reason);
    return reply_text(c, good ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* libmicrohttpd's request handler, in its thread. A GET needs no body, so every request
 * is answered on the first call. */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)con_cls;
    struct http_server *s = cls;
    char reason[300];
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) {
        size_t len;
        char *text = metrics_render(s->metrics, &len);
        if (text == NULL)
            return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
        return reply(c, MHD_HTTP_OK, CONTENT_TYPE_METRICS, text, len, MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/healthz") == 0)
        return reply_health(c, health_live(s->health, clock_mono_ms(), reason, sizeof reason), "ok",
                            reason);
    if (strcmp(url, "/readyz") == 0)
        return reply_health(c, health_ready(s->health, clock_mono_ms(), reason, sizeof reason),
                            "ready", reason);
    if (strcmp(url, "/") == 0)
        return reply_text(c, MHD_HTTP_OK, "churnwatchd: /metrics /healthz /readyz\n");
    return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics, /healthz or /readyz\n");
}

/* A listening TCP socket bound to host:port; -1 with a message in err. */
static int listen_socket(const char *listen_addr, const char *host, int port, int *bound_port,
                         char *err, size_t err_len)
{
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        snprintf(err, err_len, "metrics.listen %s: cannot resolve %s: %s", listen_addr, host,
                 gai_strerror(gai));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
        snprintf(err, err_len, "metrics.listen %s: cannot listen: %s", listen_addr,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t sa_len = sizeof sa;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&sa, &sa_len) == 0) {
        char h[NI_MAXHOST], p[NI_MAXSERV];
        if (getnameinfo((struct sockaddr *)&sa, sa_len, h, sizeof h, p, sizeof p,
                        NI_NUMERICHOST | NI_NUMERICSERV) == 0)
            *bound_port = atoi(p);
    }
    return fd;
}

struct http_server *http_server_start(const char *listen_addr, struct metrics *m, struct health *h,
                                      char *err, size_t err_len)
{
    char host[HTTP_HOST_MAX];
    int port;
    const char *why = http_listen_parse(listen_addr, host, &port);
    if (why != NULL) {
        snprintf(err, err_len, "metrics.listen %s: %s", listen_addr, why);
        return NULL;
    }
    struct http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->metrics = m;
    s->health = h;
    int fd = listen_socket(listen_addr, host, port, &s->port, err, err_len);
    if (fd < 0) {
        free(s);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    s->mhd =
        MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
                         MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL, MHD_OPTION_LISTEN_SOCKET,
                         (MHD_socket)fd, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (s->mhd == NULL) {
        snprintf(err, err_len, "metrics.listen %s: libmicrohttpd did not start (see above)",
                 listen_addr);
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->mhd); /* also closes the listening socket */
    free(s);
}
