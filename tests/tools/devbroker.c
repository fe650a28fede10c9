/* devbroker.c — a development Kafka cluster in one process, for the demo and the tests.
 *
 * It is librdkafka's mock cluster (rdkafka_mock.h) kept alive until SIGTERM/SIGINT:
 *
 *   devbroker [--brokers N] [--partitions P] [--topics a,b,c] [--bootstrap-file FILE]
 *             [--control PATH] [--debug CONTEXTS]
 *
 * The topics are created up front with P partitions (replication factor min(N, 3)); other
 * topics are auto-created by the mock with 4 partitions when a client asks for them. The
 * bootstrap string ("127.0.0.1:PORT,...") is printed on stdout and, with --bootstrap-file,
 * written to FILE atomically (FILE.tmp, then rename) once the cluster is ready, so a script
 * can wait for the file to appear.
 *
 * --control PATH reads line commands, for fault tests:
 *     down BROKER_ID          disconnect the broker and refuse new connections (-1 = all)
 *     up BROKER_ID            accept connections again (-1 = all)
 *     rtt BROKER_ID MS        delay every response of the broker by MS milliseconds
 *     leader TOPIC PART ID    move the partition's leadership to broker ID
 *     errors APIKEY CNT ERR   answer the next CNT requests of Kafka API APIKEY (0 = Produce,
 *                             1 = Fetch, 8 = OffsetCommit, ...) with error code ERR (e.g. 45,
 *                             OUT_OF_ORDER_SEQUENCE_NUMBER, fatal to an idempotent producer)
 * PATH is created as a FIFO if it does not exist. A FIFO is opened read-write so that
 * writers may come and go (`echo "down 1" > PATH`); a regular file is followed like
 * `tail -f`. Broker ids run from 1 to N. "down" does not move partition leadership (the
 * mock does not elect leaders); use "leader" for that.
 *
 * What the mock supports (librdkafka 2.0.2, checked with kcat and tests/integration/
 * 01-devbroker.sh): produce (plain, idempotent, transactional), fetch, metadata, the
 * high-level balanced consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup; the
 * assignment is computed by the group leader client, so range and cooperative-sticky both
 * work) and OffsetCommit/OffsetFetch, so a restarted group member resumes from the committed
 * offsets. Not supported: the CreateTopics admin API (hence --topics), durability (all
 * data lives in this process and is gone when it exits).
 *
 * Group timing: the mock coordinator delays the first join of a group by 3 s (like
 * group.initial.rebalance.delay.ms), and when a member joins a group that had members it
 * waits session.timeout.ms - 1 s for the others to rejoin. With the default 45 s session a
 * restarted consumer therefore waits ~44 s for its partitions; tests that restart members
 * set session.timeout.ms=6000 (about 5 s).
 *
 * Retention: each mock partition keeps at most 5 MB or 100000 message sets; beyond that the
 * oldest sets are dropped (the log start offset moves). The CDNOW sample stream is ~1 MB
 * in all, ~0.25 MB per partition with 4 partitions; even the full CDNOW master file
 * (69659 orders, ~9.5 MB with keys) stays near 2.4 MB per partition with 4 partitions. So
 * the limit does not matter for the demo or the tests (only the master file on 1 or 2
 * partitions would reach it).
 *
 * Exit status: 0 after a clean shutdown on a signal, 1 on errors (message on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define DEFAULT_TOPICS "orders,complaints,support,customers,churn-alerts,churn-dlq"
#define CONTROL_LINE_MAX 512

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct options {
    int brokers;
    int partitions;
    const char *topics;         /* comma-separated; points into argv or a literal */
    const char *bootstrap_file; /* NULL = none */
    const char *control_path;   /* NULL = none */
    const char *debug;          /* librdkafka debug contexts; NULL = none */
};

/* Reads of the control channel accumulate here until a newline completes a command. */
struct control {
    int fd;       /* -1 when there is no control channel */
    int is_fifo;
    char buf[CONTROL_LINE_MAX];
    size_t len;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: devbroker [--brokers N] [--partitions P] [--topics a,b,c]\n"
                 "                 [--bootstrap-file FILE] [--control PATH] [--debug CONTEXTS]\n"
                 "defaults: 1 broker, 4 partitions, topics " DEFAULT_TOPICS "\n");
}

/* Parses a decimal int in [lo, hi]. Returns 0 or -1. */
static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"partitions", required_argument, NULL, 'p'},
        {"topics", required_argument, NULL, 't'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"control", required_argument, NULL, 'c'},
        {"debug", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    o->brokers = 1;
    o->partitions = 4;
    o->topics = DEFAULT_TOPICS;
    o->bootstrap_file = NULL;
    o->control_path = NULL;
    o->debug = NULL;

    int c;
    while ((c = getopt_long(argc, argv, "b:p:t:f:c:d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, 16, &o->brokers) < 0) {
                fprintf(stderr, "devbroker: --brokers: expected 1..16, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 'p':
            if (parse_int(optarg, 1, 1024, &o->partitions) < 0) {
                fprintf(stderr, "devbroker: --partitions: expected 1..1024, got '%s'\n", optarg);
                return -1;
            }
            break;
        case 't':
            o->topics = optarg;
            break;
        case 'f':
            o->bootstrap_file = optarg;
            break;
        case 'c':
            o->control_path = optarg;
            break;
        case 'd':
            o->debug = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "devbroker: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* Creates every topic of the comma-separated list. Returns 0 or -1. */
static int create_topics(rd_kafka_mock_cluster_t *mc, const char *list, int partitions,
                         int replicas)
{
    char *copy = strdup(list);
    if (copy == NULL) {
        fprintf(stderr, "devbroker: out of memory\n");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (*t == '\0')
            continue;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, t, partitions, replicas);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "devbroker: cannot create topic %s: %s\n", t, rd_kafka_err2str(err));
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

/* Writes "text\n" to `path` via path.tmp and rename(), so readers never see half a line. */
static int write_file_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "devbroker: path too long: %s\n", path);
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "devbroker: %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    int ok = fprintf(f, "%s\n", text) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "devbroker: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Opens the control channel, creating a FIFO when `path` does not exist. */
static int control_open(struct control *ctl, const char *path)
{
    struct stat st;
    ctl->fd = -1;
    ctl->len = 0;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT || mkfifo(path, 0600) != 0 || stat(path, &st) != 0) {
            fprintf(stderr, "devbroker: control %s: %s\n", path, strerror(errno));
            return -1;
        }
    }
    ctl->is_fifo = S_ISFIFO(st.st_mode);
    /* O_RDWR on a FIFO (Linux) keeps a writer open ourselves, so the reader never sees EOF
     * when a client closes its end, and open() does not block waiting for a writer. */
    ctl->fd = open(path, (ctl->is_fifo ? O_RDWR : O_RDONLY) | O_NONBLOCK | O_CLOEXEC);
    if (ctl->fd < 0) {
        fprintf(stderr, "devbroker: control %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Parses a broker id: -1 (all brokers) or 1..n_brokers. */
static int parse_broker_id(const char *s, int n_brokers, int32_t *out)
{
    int v;
    if (s == NULL || parse_int(s, -1, n_brokers, &v) < 0 || v == 0)
        return -1;
    *out = v;
    return 0;
}

/* Executes one control command; problems are reported on stderr and otherwise ignored. */
static void control_exec(rd_kafka_mock_cluster_t *mc, int n_brokers, char *line)
{
    char orig[CONTROL_LINE_MAX];
    snprintf(orig, sizeof orig, "%s", line);
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r", &save);
    if (cmd == NULL || *cmd == '#')
        return;
    char *a1 = strtok_r(NULL, " \t\r", &save);
    char *a2 = strtok_r(NULL, " \t\r", &save);
    char *a3 = strtok_r(NULL, " \t\r", &save);
    int32_t id;
    int v;
    rd_kafka_resp_err_t err;

    if (strcmp(cmd, "down") == 0 && a2 == NULL && parse_broker_id(a1, n_brokers, &id) == 0) {
        err = rd_kafka_mock_broker_set_down(mc, id);
    } else if (strcmp(cmd, "up") == 0 && a2 == NULL &&
               parse_broker_id(a1, n_brokers, &id) == 0) {
        err = rd_kafka_mock_broker_set_up(mc, id);
    } else if (strcmp(cmd, "rtt") == 0 && a3 == NULL &&
               parse_broker_id(a1, n_brokers, &id) == 0 && a2 != NULL &&
               parse_int(a2, 0, 600000, &v) == 0) {
        err = rd_kafka_mock_broker_set_rtt(mc, id, v);
    } else if (strcmp(cmd, "errors") == 0 && a1 != NULL && a2 != NULL && a3 != NULL &&
               parse_int(a1, 0, 100, &v) == 0) {
        int cnt, code;
        rd_kafka_resp_err_t errs[64];
        if (parse_int(a2, 1, 64, &cnt) < 0 || parse_int(a3, -200, 1000, &code) < 0) {
            fprintf(stderr, "devbroker: control: bad errors command '%s'\n", orig);
            return;
        }
        for (int i = 0; i < cnt; i++)
            errs[i] = (rd_kafka_resp_err_t)code;
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)v, (size_t)cnt, errs);
        err = RD_KAFKA_RESP_ERR_NO_ERROR;
    } else if (strcmp(cmd, "leader") == 0 && a1 != NULL && a2 != NULL &&
               parse_int(a2, 0, INT_MAX, &v) == 0 &&
               parse_broker_id(a3, n_brokers, &id) == 0 && id > 0) {
        err = rd_kafka_mock_partition_set_leader(mc, a1, v, id);
    } else {
        fprintf(stderr, "devbroker: control: bad command '%s' (want: down ID | up ID | "
                        "rtt ID MS | leader TOPIC PARTITION ID | errors APIKEY CNT ERR)\n",
                orig);
        return;
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "devbroker: control: '%s': %s\n", orig, rd_kafka_err2str(err));
    else
        fprintf(stderr, "devbroker: control: '%s' done\n", orig);
}

/* Reads what is available on the control channel and runs each complete line. */
static void control_read(struct control *ctl, rd_kafka_mock_cluster_t *mc, int n_brokers)
{
    for (;;) {
        ssize_t n = read(ctl->fd, ctl->buf + ctl->len, sizeof ctl->buf - 1 - ctl->len);
        if (n <= 0)
            return; /* EAGAIN, EINTR, or the end of a regular file for now */
        ctl->len += (size_t)n;
        ctl->buf[ctl->len] = '\0';
        char *start = ctl->buf;
        char *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            control_exec(mc, n_brokers, start);
            start = nl + 1;
        }
        size_t rest = ctl->len - (size_t)(start - ctl->buf);
        memmove(ctl->buf, start, rest);
        ctl->len = rest;
        if (ctl->len == sizeof ctl->buf - 1) {
            fprintf(stderr, "devbroker: control: line too long, discarded\n");
            ctl->len = 0;
        }
    }
}

/* Waits up to 200 ms for control input (or just sleeps when there is no FIFO). */
static void wait_tick(struct control *ctl, rd_kafka_mock_cluster_t *mc, int n_brokers)
{
    if (ctl->fd >= 0 && ctl->is_fifo) {
        struct pollfd pfd = {.fd = ctl->fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) > 0)
            control_read(ctl, mc, n_brokers);
        return;
    }
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000 * 1000};
    nanosleep(&ts, NULL); /* EINTR on a signal is fine: the loop checks the flag */
    if (ctl->fd >= 0)
        control_read(ctl, mc, n_brokers);
}

int main(int argc, char **argv)
{
    struct options opt;
    if (parse_options(argc, argv, &opt) < 0)
        return 1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll/nanosleep return early */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* The mock cluster needs an rd_kafka_t for its bookkeeping; this producer is never
     * used to produce. Its log goes to stderr (librdkafka's default logger). */
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Without --debug, hide notices such as "No bootstrap.servers configured" (true and
     * harmless for this handle); warnings and errors still show. */
    if (opt.debug == NULL)
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);
    if (opt.debug != NULL &&
        rd_kafka_conf_set(conf, "debug", opt.debug, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "devbroker: --debug: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (rk == NULL) {
        fprintf(stderr, "devbroker: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf); /* rd_kafka_new frees conf only on success */
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, opt.brokers);
    if (mc == NULL) {
        fprintf(stderr, "devbroker: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }

    int rc = 1;
    struct control ctl = {.fd = -1};
    int replicas = opt.brokers < 3 ? opt.brokers : 3;
    if (create_topics(mc, opt.topics, opt.partitions, replicas) < 0)
        goto out;
    if (opt.control_path != NULL && control_open(&ctl, opt.control_path) < 0)
        goto out;

    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    if (opt.bootstrap_file != NULL && write_file_atomic(opt.bootstrap_file, boot) < 0)
        goto out;
    printf("%s\n", boot);
    fflush(stdout);
    fprintf(stderr, "devbroker: %d broker(s) at %s, topics %s with %d partition(s)\n",
            opt.brokers, boot, opt.topics, opt.partitions);

    while (!stop_requested)
        wait_tick(&ctl, mc, opt.brokers);
    fprintf(stderr, "devbroker: shutting down\n");
    rc = 0;

out:
    if (ctl.fd >= 0)
        close(ctl.fd);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
