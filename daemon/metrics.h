/* metrics.h — the daemon's metrics registry and its Prometheus text exposition (format
 * 0.0.4: # HELP and # TYPE lines, name{label="value"} value, histograms as cumulative
 * _bucket{le="..."} series with _sum and _count). docs/metrics.md lists the metrics.
 *
 * A family (one metric name) is registered once, at start-up, with a fixed set of series:
 * the product of its labels' values, e.g. topic x reason. A series is addressed by its
 * index, with the last label varying fastest: for labels (topic, reason) the series of
 * topic t and reason r is t * n_reasons + r. A family without labels has one series, 0.
 * Only gauge tables (metrics_add_table) have series that change at run time (one per
 * owned partition); they are replaced as a whole.
 *
 * Threads. Every update comes from the daemon's main thread, which is single-threaded;
 * the HTTP server's thread only reads, through metrics_render. Values are C11 atomics
 * with one writer: an update is a relaxed load and a relaxed store, not a locked
 * read-modify-write (on x86-64 a plain load, add and store, so the hot path pays what a
 * plain counter costs), and a scrape reads each value whole, never torn. A scrape is not
 * a snapshot of all values at one instant; it does not need to be. A histogram's _count
 * is the sum of its buckets as read, so it always equals the +Inf bucket; its _sum may
 * be one observation ahead or behind. Gauge tables change shape, so they are swapped
 * under a mutex, at most once a second, and rendered under it. */
#ifndef CW_METRICS_H
#define CW_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_label {
    const char *name;
    const char *const *values; /* n_values label values, copied at registration */
    size_t n_values;
};

struct metrics;
struct metric;

/* A new, empty registry; NULL on ENOMEM. metrics_free frees it and every family
 * (accepts NULL). */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Registers a family. `bounds` (histograms only; NULL and 0 otherwise) are the upper
 * bounds of the buckets, strictly increasing and finite (+Inf is added). Returns a
 * pointer owned by the registry, or NULL for a name, label or bound that Prometheus would
 * refuse (a programming error: names are constants) and on ENOMEM. A counter's name must
 * end in _total. */
struct metric *metrics_add(struct metrics *m, enum metric_type type, const char *name,
                           const char *help, const struct metric_label *labels, size_t n_labels,
                           const double *bounds, size_t n_bounds);
/* Registers a gauge family whose series are given as rows of label values and replaced
 * as a whole (metric_table_*). NULL as metrics_add. */
struct metric *metrics_add_table(struct metrics *m, const char *name, const char *help,
                                 const char *const *label_names, size_t n_labels);

/* Updates, main thread only. `series` must be below the family's count of series. */
void metric_add(struct metric *mt, size_t series, uint64_t n);       /* counter += n */
void metric_set_total(struct metric *mt, size_t series, uint64_t v); /* a counter kept
                                                                      * elsewhere, mirrored */
void metric_set(struct metric *mt, size_t series, double v);         /* gauge */
void metric_observe(struct metric *mt, size_t series, double v);     /* histogram */

/* Replaces a table's rows: begin, one row per series (n_labels label values each,
 * copied), end. The HTTP thread waits for end before it renders the table. row returns
 * -1 (the row left out) on ENOMEM. */
void metric_table_begin(struct metric *mt);
int metric_table_row(struct metric *mt, const char *const *label_values, double v);
void metric_table_end(struct metric *mt);

/* The exposition of every family, in registration order, as a NUL-terminated string of
 * *len bytes that the caller frees; NULL on ENOMEM. Any thread. */
char *metrics_render(struct metrics *m, size_t *len);

#endif
