/* config.h — the parsed configuration (config/churnwatch.yaml documents every key).
 *
 * config_load() parses a YAML file into a new struct config; on error it returns NULL
 * and fills `errs` with every problem found, one "file:line:column: message" per line.
 * config_free() releases everything the config owns; it accepts NULL. A reload parses
 * a new config and swaps it in only when it is free of errors. */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* Fields an event may carry, in the order of DESIGN.md §2. */
enum field_id {
    F_CUSTOMER_ID,
    F_TS,
    F_TYPE,
    F_EVENT_ID,
    F_ORDER_ID,
    F_AMOUNT,
    F_CURRENCY,
    F_COMPLAINT_ID,
    F_SEVERITY,
    F_CATEGORY,
    F_TICKET_ID,
    F_CHANNEL,
    F_SATISFACTION,
    F_TIER,
    F_ACCOUNT_MANAGER,
    F_NAME,
    F__COUNT
};
/* "customer_id", "ts", ... — also the default JSON pointer without the leading '/'. */
const char *field_name(enum field_id f);

#define CW_PTR_MAX_DEPTH 8
#define CW_KEY_PREFIX_MAX 32

/* A parsed JSON pointer ("/customer/id" -> {"customer","id"}). */
struct json_pointer {
    int depth;                            /* 0 means the field is not mapped */
    char *token[CW_PTR_MAX_DEPTH];        /* owned */
};
/* Parses a JSON pointer (RFC 6901, "~0" and "~1" unescaped) into `out` (tokens owned by
 * out on success; out is untouched otherwise). Returns NULL, or what is wrong with it
 * (*oom set when that is a lack of memory). */
const char *json_pointer_parse(const char *s, struct json_pointer *out, bool *oom);
/* Frees p's tokens and leaves it unmapped (depth 0). */
void json_pointer_clear(struct json_pointer *p);

struct topic_config {
    char *name;       /* owned */
    int fixed_type;   /* enum event_type, or -1 when taken from the type field */
    struct json_pointer field[F__COUNT];
};

enum rule_id {
    RULE_ORDER_GAP,
    RULE_FIRST_REPEAT_OVERDUE,
    RULE_SPEND_DROP,
    RULE_COMPLAINT_UNRESOLVED,
    RULE_OPEN_COMPLAINTS,
    RULE_COMPLAINT_REOPENED,
    RULE_SUPPORT_UNANSWERED,
    RULE_LOW_SATISFACTION,
    RULE_UNSUBSCRIBED,
    RULE_MANAGER_CHANGED,
    RULE__COUNT
};
const char *rule_name(enum rule_id r);
int rule_parse(const char *name); /* -1 if unknown */

/* The thresholds of one rule for one tier. Which fields a rule reads is listed in
 * config/churnwatch.yaml; the others keep their defaults and are ignored. */
struct rule_params {
    bool enabled;
    double weight;              /* contribution to the risk score while active */
    double factor;              /* order_gap: gap > factor x typical gap */
    uint32_t min_orders;        /* order_gap: orders needed before it applies */
    int64_t duration_ms;        /* after / older_than / within / hold / window / min_gap */
    double drop;                /* spend_drop: fraction 0..1 */
    uint32_t at_least;          /* open_complaints */
    uint32_t at_most;           /* low_satisfaction */
    int64_t repeat_interval_ms; /* re-send a firing alert this often; 0 = never */
    double repeat_backoff;      /* each re-send waits this many times longer (>= 1) */
    int64_t pending_ms;         /* the condition must hold this long before it fires */
};

struct rule_config {
    struct rule_params tier[TIER__COUNT]; /* standard, key, strategic */
    char *summary; /* owned; optional override of the built-in summary text */
    char *action;  /* owned; suggested action added to firing alerts: the rule's built-in
                    * text unless the config sets another (NULL: none) */
};

enum clock_mode { CLOCK_WALL, CLOCK_EVENT };

struct kv {
    char *key;   /* owned */
    char *value; /* owned */
};

/* An HTTP sink: sinks.alertmanager or sinks.webhook (docs/sinks.md). The sink is on when
 * its section is present; url is then required. */
struct http_sink_config {
    bool enabled;
    char *url;             /* owned; http:// or https:// */
    int timeout_ms;        /* one request, connection included */
    bool tls_verify;       /* default true: the server's certificate and name */
    char *ca_file;         /* owned; NULL: the system's CAs */
    bool follow_redirects; /* default false: a 3xx answer is a failed delivery */
    struct kv *headers;    /* owned; added to every request; values may be secrets
                            * (secret_free) */
    size_t n_headers;
    size_t max_alerts;          /* alerts per request */
    int64_t resend_interval_ms; /* alertmanager: firing alerts are re-sent this often */
    char *generator_url;        /* alertmanager: owned; NULL = none */
    char *secret;               /* webhook: owned (secret_free); NULL = requests not signed */
};

struct config {
    char *path; /* owned: the file this was read from */
    char *literal_secret; /* owned; "LINE:COL: KEY" of the first secret written out in the
                           * file (secret.h), NULL if none: config_load warns when other
                           * users may read such a file */

    /* kafka: */
    char *brokers;  /* owned; default "localhost:9092" */
    char *group_id; /* owned; default "churnwatch" */
    struct topic_config *topics; /* owned array */
    size_t n_topics;
    char *alerts_topic;     /* owned; NULL disables the Kafka sink */
    char *dead_letter_topic; /* owned; NULL = none */
    struct kv *kafka_props; /* owned; librdkafka properties passed through */
    size_t n_kafka_props;
    int poll_batch_max;     /* messages per batch; default 5000 */
    int poll_batch_ms;      /* max time to gather a batch; default 100 */

    /* redis: */
    char *redis_host;   /* owned; default "127.0.0.1" */
    int redis_port;     /* default 6379 */
    char *redis_unix;   /* owned; NULL = TCP */
    char *redis_user;   /* owned; NULL = none */
    char *redis_password; /* owned; NULL = none (never logged; written out or read from
                           * a file, the environment or a credential, secret.h) */
    int redis_db;       /* default 0 */
    int redis_timeout_ms; /* connect and command timeout; default 2000 */
    char *key_prefix;   /* owned; default "cw"; at most CW_KEY_PREFIX_MAX bytes */

    /* engine: */
    enum clock_mode clock; /* default CLOCK_WALL */
    int64_t lateness_ms;   /* default 0 */
    size_t max_message_bytes; /* default 65536 */
    int64_t timer_interval_ms; /* how often due timers are swept; default 1000 */
    int64_t max_future_ms; /* daemon: events further ahead of the wall clock are rejected;
                            * 0 = no limit; default 1d */
    int64_t stall_timeout_ms; /* a partition with lag and no message for this long is
                               * re-fetched (librdkafka 2.0.2 consumers have been seen
                               * stuck); 0 = never; default 60000 */
    size_t max_cached_customers; /* in memory, total over owned partitions; default 80000 */
    size_t max_outbox;     /* per partition: undelivered alerts before consumption pauses;
                            * default 1000000 */
    double watch_score;    /* level rises to watch when score >= this; default 20 */
    double alarm_score;    /* level rises to alarm when score >= this; default 50 */
    double watch_clear_score; /* watch falls to ok when score < this; 0 = watch_score */
    double alarm_clear_score; /* alarm falls when score < this; 0 = alarm_score */
    struct rule_config rules[RULE__COUNT];

    /* tiers: derived from trailing spend for customers whose tier no event set */
    bool tiers_derive;            /* default false */
    double tiers_key_share;       /* top share of buyers that is key or above; default 0.2 */
    double tiers_strategic_share; /* top share that is strategic; default 0.02 */
    int64_t tiers_window_ms;      /* trailing spend window, whole weeks; default 26w */
    uint32_t tiers_min_buyers;    /* fewer buyers in a partition: none derived; default 100 */

    /* sinks: */
    bool sink_log; /* default true */
    struct http_sink_config sink_alertmanager; /* sinks.alertmanager */
    struct http_sink_config sink_webhook;      /* sinks.webhook */

    /* logging: */
    int log_level;         /* enum log_level; default info */
    int log_format;        /* enum log_format; default auto (journald under systemd) */

    /* metrics: */
    char *metrics_listen;  /* owned; "host:port" of /metrics, /healthz, /readyz (port 0:
                            * any free port); NULL = off. Default "127.0.0.1:9465" */
};

/* Parses `path`. Returns a new config (caller frees with config_free) or NULL; on NULL,
 * `errs` holds all errors, one per line, each "path:line:col: message". */
struct config *config_load(const char *path, char *errs, size_t errs_len);
/* Same, from a buffer; `name` is used in messages in place of a path. */
struct config *config_load_buffer(const char *name, const char *buf, size_t len, char *errs,
                                  size_t errs_len);
void config_free(struct config *cfg);
/* Fills `t` as a topic named `name` with the default mapping (each field at "/<name>",
 * type read from "/type"). Returns 0 or -1 on ENOMEM. topic_config_clear frees what
 * `t` owns (not `t` itself). */
int topic_config_init_default(struct topic_config *t, const char *name);
void topic_config_clear(struct topic_config *t);
/* Parses a duration as the configuration spells them: "500ms", "30s", "5m", "2h", "7d",
 * "1w", or a plain "0". Returns true and sets *ms, or false. */
bool config_parse_duration(const char *s, int64_t *ms);
/* The shortest exact spelling of a duration ("10ms", "7d"; "0"). */
void config_duration_text(char *out, size_t size, int64_t ms);
/* Returns the topic config named `topic`, or NULL. */
const struct topic_config *config_topic(const struct config *cfg, const char *topic);

#endif
