/* churnwatch.c — the operator's command-line tool (DESIGN.md §6, docs/cli.md).
 *
 *   churnwatch replay -c FILE [--until TIME] [--topic NAME] EVENTS.jsonl|-
 *   churnwatch replay -c FILE --labels LABELS.csv [--alerts] [--json] [--until TIME] ...
 *   churnwatch inspect [-c FILE] [--json] [--events N] [--scan N] CUSTOMER
 *   churnwatch top [-c FILE] [--json] [--level watch|alarm] [--tier TIER] [--limit N]
 *   churnwatch ack [-c FILE] [--json] [--customer ID] [--note TEXT] ALERT_ID
 *   churnwatch silence [-c FILE] [--json] --for DURATION [--note TEXT] CUSTOMER
 *   churnwatch silence [-c FILE] [--json] --list
 *   churnwatch unsilence [-c FILE] [--json] CUSTOMER
 *   churnwatch check-config [--json] [-c] FILE
 *   churnwatch --version
 *
 * The commands on live state (admin.c) read Redis with the daemon's configuration
 * (default /etc/churnwatch/churnwatch.yaml).
 *
 * Exit status: 0 success, 1 failure (bad config, unreadable input, unknown customer or
 * alert, Redis unreachable), 2 usage error. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "backtest.h"
#include "config.h"
#include "decode.h"
#include "log.h"
#include "mute.h"
#include "replay.h"
#include "rules.h"
#include "version.h"

#define ERRS_MAX 65536
#define DEFAULT_CONFIG "/etc/churnwatch/churnwatch.yaml"

/* The synopsis; with `full`, what each command and option does. */
static void usage(FILE *f, bool full)
{
    fprintf(f,
            "usage: churnwatch replay -c FILE [--until TIME] [--topic NAME]\n"
            "                         [--labels LABELS.csv [--alerts] [--json]] EVENTS.jsonl|-\n"
            "       churnwatch inspect [-c FILE] [--json] [--events N] [--scan N] CUSTOMER\n"
            "       churnwatch top [-c FILE] [--json] [--level watch|alarm]\n"
            "                      [--tier standard|key|strategic] [--limit N]\n"
            "       churnwatch ack [-c FILE] [--json] [--customer ID] [--note TEXT] ALERT_ID\n"
            "       churnwatch silence [-c FILE] [--json] --for DURATION [--note TEXT] CUSTOMER\n"
            "       churnwatch silence [-c FILE] [--json] --list\n"
            "       churnwatch unsilence [-c FILE] [--json] CUSTOMER\n"
            "       churnwatch check-config [--json] [-c] FILE\n"
            "       churnwatch --version | --help\n");
    if (!full) {
        fprintf(f, "(churnwatch --help says more; docs/cli.md)\n");
        return;
    }
    fprintf(f,
            "\n"
            "replay     run the rules over a file of events in event time and print the\n"
            "           alerts as JSON lines; a summary goes to stderr\n"
            "  -c, --config FILE   configuration (rules, thresholds, topic mappings)\n"
            "  -u, --until TIME    at the end, advance the clock to TIME (RFC 3339 or epoch\n"
            "                      milliseconds) so that timers due by then fire\n"
            "  -t, --topic NAME    decode with the field mapping of this configured topic\n"
            "                      (default: the default field names)\n"
            "  -l, --labels FILE   backtest: FILE has lines customer_id,churned (1/0,\n"
            "                      true/false); print precision, recall, balanced accuracy\n"
            "                      and lead time per rule (docs/backtest.md) instead of the\n"
            "                      alerts\n"
            "  -a, --alerts        with --labels: print the alerts too, before the report\n"
            "  -j, --json          with --labels: print the report as one JSON object\n"
            "\n"
            "Live state, read from Redis with the daemon's configuration (-c FILE, default\n"
            DEFAULT_CONFIG "); aligned tables, or JSON with --json:\n"
            "inspect    a customer: partition, state, signals, score and level at the\n"
            "           partition's clock, open alerts with their ids, next timer, silence,\n"
            "           recent events read back from Kafka\n"
            "  -e, --events N      recent events to show (default 10; 0: do not read Kafka)\n"
            "  -s, --scan N        messages read back per input topic (default 10000)\n"
            "top        the riskiest customers, highest score first\n"
            "  -L, --level LEVEL   only customers at LEVEL (watch: watch and alarm) or above\n"
            "  -T, --tier TIER     only customers of that tier\n"
            "  -n, --limit N       at most N customers (default 20)\n"
            "ack        acknowledge a firing alert: no more repeat notices for its episode\n"
            "           (the resolved notice and new episodes still go out)\n"
            "  -C, --customer ID   the alert's customer (else searched among those at risk)\n"
            "  -m, --note TEXT     a note kept with it\n"
            "silence    no alert notices for CUSTOMER reach the sinks for DURATION (30m, 2h,\n"
            "           7d); at the end the daemon sends the resolved notices it held and\n"
            "           re-sends the firing alerts with \"silence_ended\": true\n"
            "  -f, --for DURATION  how long (wall clock)\n"
            "  -m, --note TEXT     a note kept with it\n"
            "  -l, --list          list the silences instead\n"
            "unsilence  end a customer's silence now\n"
            "\n"
            "check-config  validate FILE, print every error as FILE:LINE:COLUMN: message and\n"
            "           exit 1, or say \"configuration OK\"; --json prints one JSON object\n");
}

/* TIME: an RFC 3339 timestamp with offset, or epoch milliseconds. */
static int parse_time(const char *s, int64_t *ms)
{
    if (*s == '\0')
        return -1;
    const char *p = s + (*s == '-');
    if (*p != '\0' && strspn(p, "0123456789") == strlen(p)) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || *end != '\0')
            return -1;
        *ms = v;
        return 0;
    }
    return decode_rfc3339(s, strlen(s), ms);
}

/* Loads the configuration; on failure errs[ERRS_MAX] holds why (never empty). */
static struct config *load_config_errs(const char *path, char *errs)
{
    struct config *cfg = config_load(path, errs, ERRS_MAX);
    if (cfg == NULL && errs[0] == '\0')
        snprintf(errs, ERRS_MAX, "%s: cannot load configuration", path);
    return cfg;
}

static struct config *load_config(const char *path)
{
    char *errs = calloc(1, ERRS_MAX);
    if (errs == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        return NULL;
    }
    struct config *cfg = load_config_errs(path, errs);
    if (cfg == NULL) {
        size_t n = strlen(errs);
        fprintf(stderr, "%s%s", errs, errs[n - 1] == '\n' ? "" : "\n");
    }
    free(errs);
    return cfg;
}

/* Reads the labels of a backtest. Returns a new backtest, or NULL after printing every
 * error ("FILE:LINE: message") to stderr. */
static struct backtest *load_labels(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return NULL;
    }
    struct backtest *bt = backtest_new();
    char *errs = calloc(1, ERRS_MAX);
    if (bt == NULL || errs == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
    } else if (backtest_read_labels(bt, f, path, errs, ERRS_MAX) < 0) {
        fputs(errs, stderr);
        backtest_free(bt);
        bt = NULL;
    }
    free(errs);
    fclose(f);
    return bt;
}

static int cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
            json = true;
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && path == NULL)
            path = argv[++i];
        else if (argv[i][0] != '-' && path == NULL)
            path = argv[i];
        else
            path = "-";
    }
    if (path == NULL || path[0] == '-') {
        usage(stderr, false);
        return 2;
    }
    if (!json) {
        struct config *cfg = load_config(path);
        if (cfg == NULL)
            return 1;
        config_free(cfg);
        printf("configuration OK\n");
        return 0;
    }
    char *errs = calloc(1, ERRS_MAX);
    if (errs == NULL) {
        fprintf(stderr, "churnwatch: out of memory\n");
        return 1;
    }
    struct config *cfg = load_config_errs(path, errs); /* errs is "" on success */
    int rc = admin_check_config_json(path, errs, stdout) < 0 ? 1 : cfg == NULL;
    config_free(cfg);
    free(errs);
    return rc;
}

/* Options of the commands on live state; which a command takes is checked by it. */
struct live_args {
    const char *config;
    bool json, list;
    const char *note, *customer, *for_text, *level, *tier;
    size_t events, scan, limit;
    int n_args;
    char **args;
};

static int parse_count(const char *s, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 || v > max)
        return -1;
    *out = (size_t)v;
    return 0;
}

/* Parses argv into a. Returns 0, or 2 after a usage message. `allowed` lists the option
 * letters this command takes. */
static int parse_live(const char *cmd, int argc, char **argv, const char *allowed,
                      struct live_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"events", required_argument, NULL, 'e'}, {"scan", required_argument, NULL, 's'},
        {"level", required_argument, NULL, 'L'},  {"tier", required_argument, NULL, 'T'},
        {"limit", required_argument, NULL, 'n'},  {"customer", required_argument, NULL, 'C'},
        {"note", required_argument, NULL, 'm'},   {"for", required_argument, NULL, 'f'},
        {"list", no_argument, NULL, 'l'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    a->config = DEFAULT_CONFIG;
    a->events = 10;
    a->scan = 10000;
    a->limit = 20;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:je:s:L:T:n:C:m:f:lh", longopts, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout, true);
            return 1;
        }
        if (ch == '?' || (ch != 'c' && ch != 'j' && strchr(allowed, ch) == NULL)) {
            for (size_t i = 0; ch != '?' && longopts[i].name != NULL; i++)
                if (longopts[i].val == ch)
                    fprintf(stderr, "churnwatch %s: --%s does not apply here\n", cmd,
                            longopts[i].name);
            usage(stderr, false);
            return 2;
        }
        const char *what = NULL;
        switch (ch) {
        case 'c': a->config = optarg; break;
        case 'j': a->json = true; break;
        case 'e': if (parse_count(optarg, 100000, &a->events) < 0) what = "--events"; break;
        case 's': if (parse_count(optarg, 100000000, &a->scan) < 0) what = "--scan"; break;
        case 'n': if (parse_count(optarg, 1000000, &a->limit) < 0) what = "--limit"; break;
        case 'L': a->level = optarg; break;
        case 'T': a->tier = optarg; break;
        case 'C': a->customer = optarg; break;
        case 'm': a->note = optarg; break;
        case 'f': a->for_text = optarg; break;
        case 'l': a->list = true; break;
        default: break;
        }
        if (what != NULL) {
            fprintf(stderr, "churnwatch %s: %s %s: expected a whole number\n", cmd, what,
                    optarg);
            return 2;
        }
    }
    a->n_args = argc - optind;
    a->args = argv + optind;
    if (a->note != NULL && strlen(a->note) > MUTE_NOTE_MAX) {
        fprintf(stderr, "churnwatch %s: --note is longer than %d bytes\n", cmd, MUTE_NOTE_MAX);
        return 2;
    }
    return 0;
}

static int expect_args(const char *cmd, const struct live_args *a, int n, const char *what)
{
    if (a->n_args == n)
        return 0;
    fprintf(stderr, "churnwatch %s: expected %s\n", cmd, what);
    usage(stderr, false);
    return 2;
}

/* The commands that read or change a running deployment's Redis (admin.h), and the
 * options each takes besides -c and --json (parse_live's letters). */
enum live_id { LIVE_INSPECT, LIVE_TOP, LIVE_ACK, LIVE_SILENCE, LIVE_UNSILENCE };
static const struct live_cmd {
    const char *name;
    enum live_id id;
    const char *allowed;
} live_cmds[] = {
    {"inspect", LIVE_INSPECT, "es"},  {"top", LIVE_TOP, "LTn"},          {"ack", LIVE_ACK, "Cm"},
    {"silence", LIVE_SILENCE, "mfl"}, {"unsilence", LIVE_UNSILENCE, ""},
};

static int cmd_live(const struct live_cmd *lc, int argc, char **argv)
{
    struct live_args a;
    const char *cmd = lc->name;
    int rc = parse_live(cmd, argc, argv, lc->allowed, &a);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    struct top_opts top = {a.json, LEVEL_WATCH, -1, a.limit};
    int64_t for_ms = 0;
    if (lc->id == LIVE_TOP) {
        if ((rc = expect_args(cmd, &a, 0, "no arguments")) != 0)
            return rc;
        if (a.level != NULL) {
            if (strcmp(a.level, "watch") == 0)
                top.min_level = LEVEL_WATCH;
            else if (strcmp(a.level, "alarm") == 0)
                top.min_level = LEVEL_ALARM;
            else {
                fprintf(stderr, "churnwatch top: --level %s: expected watch or alarm\n",
                        a.level);
                return 2;
            }
        } else {
            top.min_level = LEVEL_OK; /* every customer at risk */
        }
        if (a.tier != NULL && (top.tier = tier_parse(a.tier)) < 0) {
            fprintf(stderr, "churnwatch top: --tier %s: expected standard, key or strategic\n",
                    a.tier);
            return 2;
        }
    } else if (lc->id == LIVE_SILENCE && a.list) {
        if (a.for_text != NULL || a.note != NULL) {
            fprintf(stderr, "churnwatch silence: --list takes no --for or --note\n");
            return 2;
        }
        if ((rc = expect_args(cmd, &a, 0, "no customer with --list")) != 0)
            return rc;
    } else if (lc->id == LIVE_SILENCE) {
        if ((rc = expect_args(cmd, &a, 1, "one customer (or --list)")) != 0)
            return rc;
        if (a.for_text == NULL) {
            fprintf(stderr, "churnwatch silence: --for DURATION is required (e.g. 2h, 3d)\n");
            return 2;
        }
        if (!config_parse_duration(a.for_text, &for_ms) || for_ms <= 0) {
            fprintf(stderr, "churnwatch silence: --for %s: expected a duration > 0, a whole "
                            "number with unit s, m, h, d or w (e.g. 90m, 2h, 7d)\n",
                    a.for_text);
            return 2;
        }
    } else if ((rc = expect_args(cmd, &a, 1,
                                 lc->id == LIVE_ACK ? "one alert id" : "one customer")) != 0) {
        return rc;
    }

    struct config *cfg = load_config(a.config);
    if (cfg == NULL)
        return 1;
    log_init(LOG_LVL_ERROR, false); /* the store's own messages: errors only */
    switch (lc->id) {
    case LIVE_INSPECT: {
        struct inspect_opts o = {a.json, a.events, a.scan, 5000};
        rc = admin_inspect(cfg, a.args[0], &o, stdout);
        break;
    }
    case LIVE_TOP:
        rc = admin_top(cfg, &top, stdout);
        break;
    case LIVE_ACK:
        rc = admin_ack(cfg, a.args[0], a.customer, a.note, a.json, stdout);
        break;
    case LIVE_SILENCE:
        rc = a.list ? admin_silence_list(cfg, a.json, stdout)
                    : admin_silence(cfg, a.args[0], for_ms, a.note, a.json, stdout);
        break;
    case LIVE_UNSILENCE:
        rc = admin_unsilence(cfg, a.args[0], a.json, stdout);
        break;
    }
    config_free(cfg);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "churnwatch: write error: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}

static int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"until", required_argument, NULL, 'u'},
        {"topic", required_argument, NULL, 't'},
        {"labels", required_argument, NULL, 'l'},
        {"alerts", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    const char *labels_path = NULL;
    bool alerts = false, json = false;
    struct replay_opts opts = {0};
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:u:t:l:ajh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'u':
            if (parse_time(optarg, &opts.until_ms) < 0) {
                fprintf(stderr, "churnwatch: --until %s: expected RFC 3339 (e.g. "
                                "2024-01-31T00:00:00Z) or epoch milliseconds\n",
                        optarg);
                return 2;
            }
            opts.has_until = true;
            break;
        case 't':
            opts.topic = optarg;
            break;
        case 'l':
            labels_path = optarg;
            break;
        case 'a':
            alerts = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            usage(stdout, true);
            return 0;
        default:
            usage(stderr, false);
            return 2;
        }
    }
    if (config_path == NULL) {
        fprintf(stderr, "churnwatch replay: -c FILE is required\n");
        usage(stderr, false);
        return 2;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "churnwatch replay: expected one events file (or - for stdin)\n");
        usage(stderr, false);
        return 2;
    }
    if ((alerts || json) && labels_path == NULL) {
        fprintf(stderr, "churnwatch replay: --alerts and --json need --labels\n");
        usage(stderr, false);
        return 2;
    }
    const char *in_path = argv[optind];

    struct config *cfg = load_config(config_path);
    if (cfg == NULL)
        return 1;
    struct backtest *bt = NULL;
    if (labels_path != NULL) {
        bt = load_labels(labels_path);
        if (bt == NULL) {
            config_free(cfg);
            return 1;
        }
        opts.backtest = bt;
        opts.no_alerts = !alerts;
    }
    FILE *in = stdin;
    const char *in_name = "-";
    if (strcmp(in_path, "-") != 0) {
        in = fopen(in_path, "r");
        if (in == NULL) {
            fprintf(stderr, "%s: %s\n", in_path, strerror(errno));
            backtest_free(bt);
            config_free(cfg);
            return 1;
        }
        in_name = in_path;
    }
    struct replay_stats st;
    int rc = replay_run(cfg, in, in_name, &opts, stdout, stderr, &st);
    if (in != stdin)
        fclose(in);
    if (rc == 0) {
        char line[1024];
        replay_stats_format(&st, line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    if (rc == 0 && bt != NULL) {
        struct backtest_report rep;
        if (backtest_report(bt, &rep) < 0) {
            fprintf(stderr, "churnwatch: out of memory\n");
            rc = -1;
        } else {
            if (alerts && !json)
                fputc('\n', stdout);
            if (json)
                backtest_report_print_json(&rep, stdout);
            else
                backtest_report_print_table(&rep, stdout);
            if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "churnwatch: write error: %s\n", strerror(errno));
                rc = -1;
            }
        }
    }
    backtest_free(bt);
    config_free(cfg);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, false);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("churnwatch %s\n", CW_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout, true);
        return 0;
    }
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0)
        return cmd_check_config(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof live_cmds / sizeof live_cmds[0]; i++)
        if (strcmp(cmd, live_cmds[i].name) == 0)
            return cmd_live(&live_cmds[i], argc - 1, argv + 1);
    fprintf(stderr, "churnwatch: unknown command \"%s\"\n", cmd);
    usage(stderr, false);
    return 2;
}
