/* webhook-recv.c — an HTTP(S) receiver for the sink tests (47-alertmanager, 48-webhook):
 * records every request and answers 200, or an error status for the first N requests.
 *
 *   build/webhook-recv --dir DIR [--port N] [--port-file FILE] [--fail-first N]
 *                      [--fail-status CODE] [--cert PEM --key PEM]
 *
 * Request number K (from 1) is written as DIR/K.body (the body's exact bytes) and
 * DIR/K.headers (one "Name: value" line per header), K as 6 digits, and then one line is
 * appended to DIR/requests.log:
 *
 *   K STATUS METHOD URL BODY_BYTES
 *
 * so a line in requests.log means both files are complete. STATUS is what was answered:
 * --fail-status (default 500) for the first --fail-first requests, 200 after. --port 0
 * (the default) takes a free port; --port-file gets the port once the server listens.
 * --cert and --key (PEM files) serve HTTPS instead (libmicrohttpd with GnuTLS). Listens
 * on 127.0.0.1 only; one thread serves the requests one at a time. Runs until SIGTERM or
 * SIGINT, then exits 0; exits 1 on a setup error. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (16u << 20)

struct recv_state {
    const char *dir;
    long fail_first;
    unsigned fail_status;
    long count; /* requests answered; only the server's one thread touches it */
};

struct upload {
    char *buf;
    size_t len, cap;
    int too_big;
};

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static enum MHD_Result header_line(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    fprintf(cls, "%s: %s\n", key, value ? value : "");
    return MHD_YES;
}

static void record(struct recv_state *st, struct MHD_Connection *c, const char *method,
                   const char *url, const struct upload *up, unsigned status)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%06ld.body", st->dir, st->count);
    if (write_file(path, up->buf, up->len) < 0)
        fprintf(stderr, "webhook-recv: %s: %s\n", path, strerror(errno));
    snprintf(path, sizeof path, "%s/%06ld.headers", st->dir, st->count);
    FILE *h = fopen(path, "w");
    if (h != NULL) {
        MHD_get_connection_values(c, MHD_HEADER_KIND, header_line, h);
        fclose(h);
    }
    snprintf(path, sizeof path, "%s/requests.log", st->dir);
    FILE *log = fopen(path, "a");
    if (log != NULL) {
        fprintf(log, "%06ld %u %s %s %zu\n", st->count, status, method, url, up->len);
        fclose(log);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct recv_state *st = cls;
    struct upload *up = *con_cls;
    (void)version;
    if (up == NULL) { /* the headers: the body follows in later calls */
        up = calloc(1, sizeof *up);
        if (up == NULL)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*data_size > 0) {
        if (up->len + *data_size > MAX_BODY) {
            up->too_big = 1;
        } else {
            if (up->len + *data_size > up->cap) {
                size_t cap = (up->len + *data_size) * 2;
                char *b = realloc(up->buf, cap);
                if (b == NULL)
                    return MHD_NO;
                up->buf = b;
                up->cap = cap;
            }
            memcpy(up->buf + up->len, data, *data_size);
            up->len += *data_size;
        }
        *data_size = 0;
        return MHD_YES;
    }
    st->count++;
    unsigned status = st->count <= st->fail_first ? st->fail_status : 200;
    if (up->too_big)
        status = 413;
    record(st, c, method, url, up, status);
    static char ok[] = "ok\n", failed[] = "failed on purpose\n";
    const char *text = status == 200 ? ok : failed;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct upload *up = *con_cls;
    (void)cls;
    (void)c;
    (void)why;
    if (up != NULL) {
        free(up->buf);
        free(up);
        *con_cls = NULL;
    }
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(1u << 20);
    size_t n = buf ? fread(buf, 1, (1u << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

static void usage(void)
{
    fprintf(stderr, "usage: webhook-recv --dir DIR [--port N] [--port-file FILE] "
                    "[--fail-first N] [--fail-status CODE] [--cert PEM --key PEM]\n");
    exit(1);
}

int main(int argc, char **argv)
{
    struct recv_state st = {.fail_status = 500};
    const char *port_file = NULL, *cert = NULL, *key = NULL;
    long port = 0;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            usage();
        if (strcmp(a, "--dir") == 0)
            st.dir = v;
        else if (strcmp(a, "--port") == 0)
            port = strtol(v, NULL, 10);
        else if (strcmp(a, "--port-file") == 0)
            port_file = v;
        else if (strcmp(a, "--fail-first") == 0)
            st.fail_first = strtol(v, NULL, 10);
        else if (strcmp(a, "--fail-status") == 0)
            st.fail_status = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(a, "--cert") == 0)
            cert = v;
        else if (strcmp(a, "--key") == 0)
            key = v;
        else
            usage();
    }
    if (st.dir == NULL || port < 0 || port > 65535 || (cert == NULL) != (key == NULL) ||
        st.fail_status < 100 || st.fail_status > 599)
        usage();

    /* SIGTERM and SIGINT are taken with sigwait below; the server's thread inherits the
     * mask and never sees them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char *cert_pem = NULL, *key_pem = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (cert) {
        cert_pem = slurp(cert);
        key_pem = slurp(key);
        if (cert_pem == NULL || key_pem == NULL) {
            fprintf(stderr, "webhook-recv: cannot read %s or %s\n", cert, key);
            return 1;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_Daemon *d =
        cert ? MHD_start_daemon(flags, 0, NULL, NULL, on_request, &st, MHD_OPTION_SOCK_ADDR, &addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                                MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
                                key_pem, MHD_OPTION_END)
             : MHD_start_daemon(flags, 0, NULL, NULL, on_request, &st, MHD_OPTION_SOCK_ADDR, &addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "webhook-recv: cannot listen on 127.0.0.1:%ld%s\n", port,
                cert ? " with TLS" : "");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned bound = info ? info->port : (unsigned)port;
    if (port_file) {
        char tmp[4096], text[16];
        snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
        snprintf(text, sizeof text, "%u\n", bound);
        if (write_file(tmp, text, strlen(text)) < 0 || rename(tmp, port_file) < 0) {
            fprintf(stderr, "webhook-recv: %s: %s\n", port_file, strerror(errno));
            MHD_stop_daemon(d);
            return 1;
        }
    }
    fprintf(stderr,
            "webhook-recv: listening on %s://127.0.0.1:%u, failing the first %ld "
            "requests with %u\n",
            cert ? "https" : "http", bound, st.fail_first, st.fail_status);
    int sig;
    sigwait(&sigs, &sig);
    MHD_stop_daemon(d);
    fprintf(stderr, "webhook-recv: %ld requests\n", st.count);
    free(cert_pem);
    free(key_pem);
    return 0;
}
