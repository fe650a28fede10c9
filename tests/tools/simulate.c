/* simulate.c — a labelled population of customers for backtests (docs/backtest.md).
 *
 *   build/simulate [--customers N] [--seed S] [--start DATE] [--days D]
 *                  [--events FILE] [--labels FILE] [--kafka]
 *
 * Writes the events of N customers over D days from DATE as JSON lines (DESIGN.md §2, one
 * event per line, globally ordered by time, every event with an event_id) to FILE, or to
 * stdout; --kafka writes "CUSTOMER_ID<TAB>JSON" lines for `kcat -K '\t'` to stdout instead.
 * --labels writes "customer_id,churned,archetype" (with a header line). The output is a
 * function of the options only: the generator is xoshiro256** seeded by splitmix64 from
 * (seed, customer number), so one customer's history does not depend on the others.
 *
 * Behaviour. Tiers follow the 80/20 rule (~5% strategic, ~15% key, the rest standard),
 * announced by a customer.updated (tier, name, account manager for key/strategic) before
 * the first order. Each customer orders with its own rhythm: gaps are gamma-distributed
 * around a per-customer mean (lognormal across customers, shorter for bigger tiers) with a
 * per-customer shape (noisy), amounts lognormal around a per-customer median; 2% of orders
 * are cancelled. Background noise for everyone: complaints (most resolved within days,
 * some late, a few reopened then resolved), support tickets (mostly answered within hours,
 * some late, occasional low ratings), unsubscribes, account manager changes.
 *
 * Archetypes (third column of the labels):
 *   loyal         orders until the end (label 0)
 *   paused        loyal with one long pause of 60..150 days (label 0)
 *   slowdown      gaps lengthen 2..4x over the 3..6 months before T, then orders stop
 *   silent        orders stop at T without warning
 *   partial       orders go on to the end, but from T every amount is 8..25% of usual
 *   complaint     a high/critical complaint 2..6 weeks before T, left unresolved, or
 *                 resolved and reopened; orders stop at T
 *   support       1..3 tickets in the 6 weeks before T, answered late or never, closed
 *                 with satisfaction 1..2 (or not at all); orders stop at T
 *   unsubscribe   unsubscribes 1..8 weeks before T; orders stop at T
 *   manager       key/strategic: the account manager changes 1..4 months before T, orders
 *                 slow down (x1.5), then stop at T
 *   one_and_done  a new customer with a single order (T = that order)
 *
 * Churned (label 1) is precise: the archetype is one of the churning ones above, whose
 * churn time T lies between 150 days after the start and 60 days before the end (for
 * one_and_done: between 30 days after the start and 150 days before the end), and
 *   - complete churn (all but partial): no event of any kind after T (so the customer is
 *     quiet for at least the last 60 days of the file);
 *   - partial churn: the customer keeps ordering to the end, but every order from T on is
 *     at most 25% of its usual amount (revenue churn).
 * A customer whose history is too short for a T in that range stays loyal. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "event.h"
#include "vec.h"

#define DAY 86400000.0
#define HOUR 3600000.0

enum archetype {
    A_LOYAL,
    A_PAUSED,
    A_SLOWDOWN,
    A_SILENT,
    A_PARTIAL,
    A_COMPLAINT,
    A_SUPPORT,
    A_UNSUBSCRIBE,
    A_MANAGER,
    A_ONE_AND_DONE,
};
static const char *const archetype_names[] = {
    "loyal",     "paused",  "slowdown",    "silent",  "partial",
    "complaint", "support", "unsubscribe", "manager", "one_and_done",
};

/* ---- random numbers: splitmix64 seeds xoshiro256** ----------------------------------- */

struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* uniform in [0, 1) */
static double unif(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double unif_in(struct rng *r, double lo, double hi)
{
    return lo + (hi - lo) * unif(r);
}

static bool chance(struct rng *r, double p)
{
    return unif(r) < p;
}

static double normal(struct rng *r)
{
    double u = 1.0 - unif(r); /* (0, 1] */
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * unif(r));
}

static double lognormal(struct rng *r, double median, double sigma)
{
    return median * exp(sigma * normal(r));
}

static double expo(struct rng *r, double mean)
{
    return -mean * log(1.0 - unif(r));
}

/* Gamma(shape k >= 1, scale 1), Marsaglia and Tsang. */
static double gamma_k(struct rng *r, double k)
{
    double d = k - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(r), v = 1.0 + c * x;
        if (v <= 0)
            continue;
        v = v * v * v;
        double u = 1.0 - unif(r);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

/* ---- events ------------------------------------------------------------------------ */

struct sim_event {
    int64_t ts;
    uint32_t cust;
    uint32_t seq; /* creation order within the customer: ties at equal ts */
    uint8_t type; /* enum event_type */
    uint8_t aux;  /* severity, satisfaction (0 = none) or tier */
    uint32_t ref; /* order, complaint or ticket number; account manager (0 = none) */
    double amount;
};

struct sim {
    uint64_t seed;
    uint32_t customers;
    int64_t start, end;
    struct sim_event *ev; /* owned */
    size_t n, cap;
    uint32_t churned;
    uint8_t *archetype; /* owned, per customer */
    uint8_t *label;     /* owned, per customer */
};

/* One customer being generated: events after `stop` (or at/after the end) are dropped. */
struct gen {
    struct sim *s;
    struct rng r;
    uint32_t cust, seq;
    int64_t stop;
    uint32_t orders, complaints, tickets;
};

static int add(struct gen *g, double ts, enum event_type type, uint8_t aux, uint32_t ref,
               double amount)
{
    int64_t t = (int64_t)(ts / 1000.0) * 1000; /* whole seconds */
    if (t > g->stop || t >= g->s->end || t < g->s->start)
        return 0;
    struct sim *s = g->s;
    struct sim_event *ev = vec_reserve(s->ev, &s->cap, s->n + 1, sizeof *ev, 65536);
    if (ev == NULL)
        return -1;
    s->ev = ev;
    s->ev[s->n++] = (struct sim_event){.ts = t,
                                       .cust = g->cust,
                                       .seq = g->seq++,
                                       .type = (uint8_t)type,
                                       .aux = aux,
                                       .ref = ref,
                                       .amount = amount};
    return 0;
}

/* A complaint at `t`: resolved after `resolve_after` (< 0: never); reopened `reopen_after`
 * the resolution (< 0: never) and then resolved again after `resolve2_after` (< 0: never). */
static int complaint(struct gen *g, double t, uint8_t sev, double resolve_after,
                     double reopen_after, double resolve2_after)
{
    uint32_t id = ++g->complaints;
    if (add(g, t, EV_COMPLAINT_OPENED, sev, id, 0) < 0)
        return -1;
    if (resolve_after < 0)
        return 0;
    t += resolve_after;
    if (add(g, t, EV_COMPLAINT_RESOLVED, 0, id, 0) < 0)
        return -1;
    if (reopen_after < 0)
        return 0;
    t += reopen_after;
    if (add(g, t, EV_COMPLAINT_REOPENED, 0, id, 0) < 0)
        return -1;
    if (resolve2_after < 0)
        return 0;
    return add(g, t + resolve2_after, EV_COMPLAINT_RESOLVED, 0, id, 0);
}

/* A support ticket at `t`: first reply after `reply_after` (< 0: never), closed after
 * `close_after` from opening (< 0: never) with `satisfaction` (0: not rated). */
static int ticket(struct gen *g, double t, double reply_after, double close_after,
                  uint8_t satisfaction)
{
    uint32_t id = ++g->tickets;
    if (add(g, t, EV_SUPPORT_OPENED, 0, id, 0) < 0)
        return -1;
    if (reply_after >= 0 && (close_after < 0 || reply_after < close_after) &&
        add(g, t + reply_after, EV_SUPPORT_REPLIED, 0, id, 0) < 0)
        return -1;
    if (close_after >= 0 && add(g, t + close_after, EV_SUPPORT_CLOSED, satisfaction, id, 0) < 0)
        return -1;
    return 0;
}

static uint8_t severity_pick(struct rng *r, bool serious)
{
    if (serious)
        return chance(r, 0.5) ? SEV_CRITICAL : SEV_HIGH;
    double u = unif(r);
    return u < 0.4 ? SEV_LOW : u < 0.8 ? SEV_MEDIUM : SEV_HIGH;
}

static int gen_customer(struct sim *s, uint32_t idx)
{
    struct gen g = {.s = s, .cust = idx, .stop = INT64_MAX};
    struct rng *r = &g.r;
    rng_seed(r, s->seed, idx + 1);
    double start = (double)s->start, end = (double)s->end;

    double u = unif(r);
    uint8_t tier = u < 0.05 ? TIER_STRATEGIC : u < 0.20 ? TIER_KEY : TIER_STANDARD;
    double gap_median = tier == TIER_STRATEGIC ? 7 : tier == TIER_KEY ? 12 : 25;
    double mean_gap = lognormal(r, gap_median, 0.45) * DAY;
    if (mean_gap < 2 * DAY)
        mean_gap = 2 * DAY;
    if (mean_gap > 90 * DAY)
        mean_gap = 90 * DAY;
    double shape = unif_in(r, 2.5, 6.0);
    double amount_median = lognormal(r,
                                     tier == TIER_STRATEGIC ? 2000
                                     : tier == TIER_KEY     ? 500
                                                            : 80,
                                     0.6);
    uint32_t manager = tier != TIER_STANDARD ? 1 + (uint32_t)(unif(r) * 40) : 0;

    /* archetype */
    enum archetype a;
    u = unif(r);
    if (tier != TIER_STANDARD && chance(r, 0.15))
        a = A_MANAGER;
    else if (u < 0.04)
        a = A_ONE_AND_DONE;
    else if (u < 0.11)
        a = A_SLOWDOWN;
    else if (u < 0.15)
        a = A_SILENT;
    else if (u < 0.19)
        a = A_PARTIAL;
    else if (u < 0.23)
        a = A_COMPLAINT;
    else if (u < 0.27)
        a = A_SUPPORT;
    else if (u < 0.30)
        a = A_UNSUBSCRIBE;
    else
        a = chance(r, 0.10) ? A_PAUSED : A_LOYAL;

    /* first order: most customers exist at the start, 15% join later */
    double first;
    if (a == A_ONE_AND_DONE)
        first = unif_in(r, start + 30 * DAY, end - 150 * DAY);
    else if (chance(r, 0.15))
        first = unif_in(r, start, end - 90 * DAY);
    else
        first = start + unif(r) * mean_gap;

    /* churn time T */
    double T = end;
    if (a == A_ONE_AND_DONE) {
        T = first;
    } else if (a != A_LOYAL && a != A_PAUSED) {
        double lo = fmax(start + 150 * DAY, first + fmax(60 * DAY, 5 * mean_gap));
        double hi = end - 60 * DAY;
        if (lo > hi)
            a = A_LOYAL;
        else
            T = unif_in(r, lo, hi);
    }
    bool complete = a != A_LOYAL && a != A_PAUSED && a != A_PARTIAL;
    s->archetype[idx] = (uint8_t)a;
    s->label[idx] = a != A_LOYAL && a != A_PAUSED;
    if (s->label[idx])
        s->churned++;
    double stop = complete ? T : end;
    g.stop = complete ? (int64_t)T : INT64_MAX;

    /* who they are */
    if (add(&g, fmax(start, first - unif_in(r, HOUR, 2 * DAY)), EV_CUSTOMER_UPDATED, tier, manager,
            0) < 0)
        return -1;

    /* archetype-specific parameters */
    double slow_from = T - unif_in(r, 90, 180) * DAY, slow_by = unif_in(r, 2, 4);
    double partial_to = unif_in(r, 0.08, 0.25);
    double pause_at = unif_in(r, first + 30 * DAY, end - 60 * DAY);
    double pause_len = unif_in(r, 60, 150) * DAY;
    double manager_at = T - unif_in(r, 30, 120) * DAY;

    /* orders */
    double t = first;
    bool paused = false;
    while (t <= stop && t < end) {
        double amount = lognormal(r, amount_median, 0.3);
        if (a == A_PARTIAL && t >= T)
            amount *= partial_to;
        uint32_t id = ++g.orders;
        if (add(&g, t, EV_ORDER, 0, id, amount) < 0)
            return -1;
        if (chance(r, 0.02) &&
            add(&g, t + unif_in(r, HOUR, 3 * DAY), EV_ORDER_CANCELLED, 0, id, amount) < 0)
            return -1;
        if (a == A_ONE_AND_DONE)
            break;
        double gap = mean_gap * gamma_k(r, shape) / shape;
        if (a == A_SLOWDOWN && t > slow_from)
            gap *= 1 + (slow_by - 1) * fmin(1, (t - slow_from) / (T - slow_from));
        if (a == A_PARTIAL && t >= T)
            gap *= 1.2;
        if (a == A_MANAGER && t >= manager_at)
            gap *= 1.5;
        t += gap;
        if (a == A_PAUSED && !paused && t > pause_at) {
            t += pause_len;
            paused = true;
        }
    }

    /* background noise, until the customer goes quiet */
    for (t = first + expo(r, 365 * DAY); t < stop; t += expo(r, 365 * DAY)) {
        double resolve = lognormal(r, 2.5 * DAY, 0.7);
        bool reopen = chance(r, 0.05);
        if (complaint(&g, t, severity_pick(r, false), resolve,
                      reopen ? unif_in(r, 2, 10) * DAY : -1, lognormal(r, 2 * DAY, 0.5)) < 0)
            return -1;
    }
    for (t = first + expo(r, 180 * DAY); t < stop; t += expo(r, 180 * DAY)) {
        double reply = lognormal(r, 6 * HOUR, 1.2);
        double close = reply + unif_in(r, 1, 5) * DAY;
        uint8_t sat = chance(r, 0.3)   ? 0
                      : chance(r, 0.1) ? 1 + (uint8_t)(unif(r) * 2)
                                       : 3 + (uint8_t)(unif(r) * 3);
        if (ticket(&g, t, reply, close, sat) < 0)
            return -1;
    }
    /* some customers unsubscribe and go on ordering */
    if (a != A_UNSUBSCRIBE && chance(r, 0.03) &&
        add(&g, unif_in(r, first, end), EV_CUSTOMER_UNSUBSCRIBED, 0, 0, 0) < 0)
        return -1;
    if (tier != TIER_STANDARD && a != A_MANAGER && chance(r, 0.25) &&
        add(&g, unif_in(r, first + 30 * DAY, end - 30 * DAY), EV_CUSTOMER_UPDATED, 255,
            1 + (manager + 1 + (uint32_t)(unif(r) * 38)) % 40, 0) < 0)
        return -1;

    /* what drives the churners away */
    switch (a) {
    case A_COMPLAINT: {
        double at = T - unif_in(r, 14, 42) * DAY;
        int rc = chance(r, 0.6) ? complaint(&g, at, severity_pick(r, true), -1, -1, -1)
                                : complaint(&g, at, severity_pick(r, true), unif_in(r, 2, 6) * DAY,
                                            unif_in(r, 3, 12) * DAY, -1);
        if (rc < 0)
            return -1;
        break;
    }
    case A_SUPPORT: {
        int n = 1 + (int)(unif(r) * 3);
        for (int i = 0; i < n; i++) {
            double at = T - unif_in(r, 5, 42) * DAY;
            double reply = chance(r, 0.5) ? -1 : unif_in(r, 3, 8) * DAY;
            double close = chance(r, 0.2) ? -1 : unif_in(r, 6, 15) * DAY;
            if (ticket(&g, at, reply, close, 1 + (uint8_t)(unif(r) * 2)) < 0)
                return -1;
        }
        break;
    }
    case A_UNSUBSCRIBE:
        if (add(&g, T - unif_in(r, 7, 56) * DAY, EV_CUSTOMER_UNSUBSCRIBED, 0, 0, 0) < 0)
            return -1;
        break;
    case A_MANAGER:
        if (add(&g, manager_at, EV_CUSTOMER_UPDATED, 255,
                1 + (manager + 1 + (uint32_t)(unif(r) * 38)) % 40, 0) < 0)
            return -1;
        break;
    default:
        break;
    }
    return 0;
}

static int cmp_event(const void *pa, const void *pb)
{
    const struct sim_event *a = pa, *b = pb;
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->cust != b->cust)
        return a->cust < b->cust ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* ---- output ------------------------------------------------------------------------ */

static void customer_id(uint32_t idx, char out[16])
{
    snprintf(out, 16, "c%06" PRIu32, idx + 1);
}

static void print_event(FILE *f, const struct sim_event *e, uint64_t n, bool kafka)
{
    char id[16], ts[32];
    customer_id(e->cust, id);
    format_rfc3339(e->ts, ts);
    if (kafka)
        fprintf(f, "%s\t", id);
    fprintf(f,
            "{\"event_id\":\"e%07" PRIu64 "\",\"customer_id\":\"%s\",\"ts\":\"%s\",\"type\":\"%s\"",
            n, id, ts, event_type_name((enum event_type)e->type));
    switch ((enum event_type)e->type) {
    case EV_ORDER:
    case EV_ORDER_CANCELLED:
        fprintf(f, ",\"order_id\":\"o%s-%" PRIu32 "\",\"amount\":%.2f", id, e->ref, e->amount);
        if (e->type == EV_ORDER)
            fputs(",\"currency\":\"EUR\"", f);
        break;
    case EV_COMPLAINT_OPENED:
        fprintf(f, ",\"complaint_id\":\"k%s-%" PRIu32 "\",\"severity\":\"%s\",\"category\":\"%s\"",
                id, e->ref, severity_name((enum severity)e->aux),
                e->aux >= SEV_HIGH ? "quality" : "delivery");
        break;
    case EV_COMPLAINT_RESOLVED:
    case EV_COMPLAINT_REOPENED:
        fprintf(f, ",\"complaint_id\":\"k%s-%" PRIu32 "\"", id, e->ref);
        break;
    case EV_SUPPORT_OPENED:
        fprintf(f, ",\"ticket_id\":\"t%s-%" PRIu32 "\",\"channel\":\"email\"", id, e->ref);
        break;
    case EV_SUPPORT_REPLIED:
        fprintf(f, ",\"ticket_id\":\"t%s-%" PRIu32 "\"", id, e->ref);
        break;
    case EV_SUPPORT_CLOSED:
        fprintf(f, ",\"ticket_id\":\"t%s-%" PRIu32 "\"", id, e->ref);
        if (e->aux != 0)
            fprintf(f, ",\"satisfaction\":%u", e->aux);
        break;
    case EV_CUSTOMER_UPDATED:
        if (e->aux != 255) /* 255: a manager change only */
            fprintf(f, ",\"tier\":\"%s\",\"name\":\"Customer %" PRIu32 "\"",
                    tier_name((enum tier)e->aux), e->cust + 1);
        if (e->ref != 0)
            fprintf(f, ",\"account_manager\":\"am-%02" PRIu32 "\"", e->ref);
        break;
    default:
        break;
    }
    fputs("}\n", f);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: simulate [--customers N] [--seed S] [--start DATE] [--days D]\n"
               "                [--events FILE] [--labels FILE] [--kafka]\n"
               "  --customers N   population size (default 2000)\n"
               "  --seed S        generator seed (default 1)\n"
               "  --start DATE    first day, YYYY-MM-DD or RFC 3339 (default 2023-01-01)\n"
               "  --days D        length of the history in days (default 540)\n"
               "  --events FILE   events as JSON lines (default: stdout)\n"
               "  --labels FILE   customer_id,churned,archetype (with a header line)\n"
               "  --kafka         print CUSTOMER_ID<TAB>JSON lines for kcat on stdout\n");
}

static int parse_u64(const char *s, uint64_t max, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || *s == '-' || x > max)
        return -1;
    *v = x;
    return 0;
}

static int parse_date(const char *s, int64_t *ms)
{
    char buf[64];
    if (strlen(s) == 10) {
        snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
        s = buf;
    }
    return decode_rfc3339(s, strlen(s), ms);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"customers", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},
        {"start", required_argument, NULL, 'S'},
        {"days", required_argument, NULL, 'd'},
        {"events", required_argument, NULL, 'e'},
        {"labels", required_argument, NULL, 'l'},
        {"kafka", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t customers = 2000, seed = 1, days = 540;
    const char *events_path = NULL, *labels_path = NULL;
    bool kafka = false;
    int64_t start;
    int ch;
    parse_date("2023-01-01", &start);
    while ((ch = getopt_long(argc, argv, "n:s:S:d:e:l:kh", longopts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'n':
            bad = parse_u64(optarg, 10000000, &customers) < 0 || customers == 0;
            break;
        case 's':
            bad = parse_u64(optarg, UINT64_MAX, &seed) < 0;
            break;
        case 'S':
            bad = parse_date(optarg, &start) < 0;
            break;
        case 'd':
            bad = parse_u64(optarg, 36500, &days) < 0 || days < 240;
            break;
        case 'e':
            events_path = optarg;
            break;
        case 'l':
            labels_path = optarg;
            break;
        case 'k':
            kafka = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "simulate: bad value \"%s\"%s\n", optarg,
                    ch == 'd' ? " for --days (240..36500)" : "");
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (kafka && events_path != NULL)) {
        usage(stderr);
        return 2;
    }

    struct sim s = {.seed = seed,
                    .customers = (uint32_t)customers,
                    .start = start,
                    .end = start + (int64_t)days * 86400000};
    s.archetype = calloc(customers, 1);
    s.label = calloc(customers, 1);
    int rc = 1;
    if (s.archetype == NULL || s.label == NULL)
        goto oom;
    for (uint32_t i = 0; i < s.customers; i++)
        if (gen_customer(&s, i) < 0)
            goto oom;
    qsort(s.ev, s.n, sizeof *s.ev, cmp_event);

    FILE *out = stdout;
    if (events_path != NULL && (out = fopen(events_path, "w")) == NULL) {
        fprintf(stderr, "simulate: %s: %s\n", events_path, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < s.n; i++)
        print_event(out, &s.ev[i], i + 1, kafka);
    if (fflush(out) != 0 || ferror(out) || (out != stdout && fclose(out) != 0)) {
        fprintf(stderr, "simulate: %s: write error\n", events_path ? events_path : "stdout");
        goto done;
    }
    if (labels_path != NULL) {
        FILE *lf = fopen(labels_path, "w");
        if (lf == NULL) {
            fprintf(stderr, "simulate: %s: %s\n", labels_path, strerror(errno));
            goto done;
        }
        fputs("customer_id,churned,archetype\n", lf);
        for (uint32_t i = 0; i < s.customers; i++) {
            char id[16];
            customer_id(i, id);
            fprintf(lf, "%s,%u,%s\n", id, s.label[i], archetype_names[s.archetype[i]]);
        }
        if (fclose(lf) != 0) {
            fprintf(stderr, "simulate: %s: write error\n", labels_path);
            goto done;
        }
    }
    char a[32], b[32];
    format_rfc3339(s.start, a);
    format_rfc3339(s.end, b);
    fprintf(stderr, "simulate: %" PRIu32 " customers (%" PRIu32 " churned), %zu events, %s .. %s\n",
            s.customers, s.churned, s.n, a, b);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "simulate: out of memory\n");
done:
    free(s.ev);
    free(s.archetype);
    free(s.label);
    return rc;
}
