/* churnwatchd.c — the daemon: arguments, signals, lifecycle. The work itself is in
 * pipeline.c. Signal handlers only set flags; the main loop acts on them. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "health.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pipeline.h"
#include "version.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;
static volatile int stop_flag; /* mirrors stop_requested for code that polls a plain int */

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
    stop_flag = 1;
}

static void on_reload(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: churnwatchd -c FILE [--check-config] [--debug]\n"
                 "       churnwatchd --version\n"
                 "\n"
                 "  -c, --config FILE   configuration (YAML), e.g. /etc/churnwatch/churnwatch.yaml\n"
                 "  -t, --check-config  validate the configuration and exit\n"
                 "  -d, --debug         log at debug level\n"
                 "  -V, --version       print the version and exit\n");
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* Registers the process's own metrics: build info and start time. Returns 0 or -1. */
static int register_process_metrics(struct metrics *m)
{
    static const char *const version[] = {CW_VERSION};
    const struct metric_label label = {"version", version, 1};
    struct metric *info = metrics_add(m, METRIC_GAUGE, "churnwatch_build_info",
                                      "Always 1; the version of churnwatchd as a label.", &label,
                                      1, NULL, 0);
    struct metric *start = metrics_add(m, METRIC_GAUGE, "process_start_time_seconds",
                                       "Start time of the process since the Unix epoch.", NULL, 0,
                                       NULL, 0);
    if (info == NULL || start == NULL)
        return -1;
    metric_set(info, 0, 1);
    metric_set(start, 0, (double)clock_wall_ms() / 1000.0);
    return 0;
}

/* Loads the config. Its errors go to stderr as they are ("FILE:LINE:COL: message"), or,
 * once the daemon runs (`logged`), through the log, one error line each, so that a
 * reload's errors are in the configured format like every other line. */
static struct config *load(const char *path, bool logged)
{
    static char errs[16384];
    struct config *cfg = config_load(path, errs, sizeof errs);
    if (cfg != NULL)
        return cfg;
    if (!logged) {
        fputs(errs, stderr);
        return NULL;
    }
    for (char *line = errs, *end; *line != '\0'; line = end + (*end != '\0')) {
        end = line + strcspn(line, "\n");
        log_error("%.*s", (int)(end - line), line);
    }
    return NULL;
}

/* logging.level (or debug with --debug, which a reload keeps) and logging.format. */
static void apply_logging(const struct config *cfg, bool debug)
{
    log_init(debug ? LOG_LVL_DEBUG : (enum log_level)cfg->log_level,
             (enum log_format)cfg->log_format);
}

static void report(struct pipeline *pl)
{
    const struct pipeline_stats *s = pipeline_stats(pl);
    uint64_t rejected = 0;
    for (int r = 0; r < REJ__COUNT; r++)
        rejected += s->rejected[r];
    log_info("partitions %d, messages %llu, applied %llu, rejected %llu, duplicates %llu, "
             "alerts %llu (delivered %llu by the sinks), timers fired %llu, commits %llu "
             "(failed %llu, fenced %llu), dead-letter failures %llu",
             pipeline_partitions(pl), (unsigned long long)s->messages,
             (unsigned long long)s->applied, (unsigned long long)rejected,
             (unsigned long long)s->duplicates, (unsigned long long)s->alerts,
             (unsigned long long)s->delivered, (unsigned long long)s->timers_fired,
             (unsigned long long)s->commits, (unsigned long long)s->commit_failures,
             (unsigned long long)s->fenced, (unsigned long long)s->dead_letter_failures);
    notify_status("partitions %d, messages %llu, rejected %llu, alerts %llu",
                  pipeline_partitions(pl), (unsigned long long)s->messages,
                  (unsigned long long)rejected, (unsigned long long)s->alerts);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check-config", no_argument, NULL, 't'},
                                         {"debug", no_argument, NULL, 'd'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL;
    int check = 0, c;
    bool debug = false;
    while ((c = getopt_long(argc, argv, "c:tdVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check = 1;
            break;
        case 'd':
            debug = true;
            break;
        case 'V':
            printf("churnwatchd %s\n", CW_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    /* until the file says otherwise: journald prefixes if stderr is the journal (the
     * warnings of config_load, also under ExecStartPre=--check-config) */
    log_init(LOG_LVL_INFO, LOG_FMT_AUTO);
    struct config *cfg = load(path, false);
    if (cfg == NULL)
        return 1;
    if (check) {
        printf("%s: configuration OK\n", path);
        config_free(cfg);
        return 0;
    }
    notify_init();
    apply_logging(cfg, debug);
    install_signals();

    char err[512];
    struct metrics *metrics = metrics_new();
    struct health *health = health_new();
    struct pipeline *pl = NULL;
    struct http_server *http = NULL;
    int rc = 1;
    bool ran = false; /* got as far as the start-up: report and say "stopped" */
    if (metrics == NULL || health == NULL || register_process_metrics(metrics) < 0) {
        log_error("out of memory");
        goto fail;
    }
    pl = pipeline_new(cfg, metrics, health, err, sizeof err);
    if (pl == NULL) {
        log_error("%s", err);
        goto fail;
    }
    /* every family is registered by now: the server's thread may read them */
    if (cfg->metrics_listen != NULL) {
        http = http_server_start(cfg->metrics_listen, metrics, health, err, sizeof err);
        if (http == NULL) {
            log_error("%s", err);
            goto fail;
        }
        log_info("metrics: serving /metrics, /healthz and /readyz on %s (port %d)",
                 cfg->metrics_listen, http_server_port(http));
    }
    log_info("churnwatchd %s starting: brokers %s, group %s, %zu topics", CW_VERSION,
             cfg->brokers, cfg->group_id, cfg->n_topics);
    rc = 0;
    if (pipeline_wait_store(pl, &stop_flag) < 0)
        goto out;
    if (pipeline_start(pl, err, sizeof err) < 0) {
        log_error("%s", err);
        rc = 1;
        goto out;
    }
    notify_ready();
    time_t last_report = time(NULL);
    while (!stop_requested) {
        if (reload_requested) {
            reload_requested = 0;
            notify_reloading();
            struct config *next = load(path, true);
            if (next == NULL) {
                log_error("reload: %s has errors, not reloading", path);
            } else {
                apply_logging(next, debug);
                pipeline_reload(pl, next); /* takes next */
            }
            notify_ready();
        }
        if (pipeline_run_once(pl) < 0) {
            log_error("stopping: this needs a restart (see above); nothing uncommitted is "
                      "kept, the restart resumes from Redis");
            rc = 1;
            break;
        }
        notify_watchdog();
        if (time(NULL) - last_report >= 10) {
            report(pl);
            last_report = time(NULL);
        }
    }
    notify_stopping();
    log_info("stopping: finishing the batch and committing");
    if (pipeline_stop(pl, 5000) < 0 && rc == 0)
        log_warn("stopped with uncommitted work; it is redone at the next start");
out:
    report(pl);
    ran = true;
fail:
    http_server_stop(http); /* before what it reads is freed */
    pipeline_free(pl);
    metrics_free(metrics);
    health_free(health);
    config_free(cfg);
    if (ran)
        log_info("stopped");
    return rc;
}
