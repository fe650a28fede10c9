/* store_redis.c — the Redis implementation of store.h, with hiredis.
 *
 * One blocking connection, pipelined: a batch costs two round trips per partition
 * (WATCH+GET epoch, then MULTI..EXEC), a load one. After an I/O error the context is
 * dead: it is freed and a later call reconnects after an exponential back-off. */
#include "store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "vec.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct store {
    redisContext *ctx;
    char *host, *unix_path, *user, *password, *prefix;
    int port, db, timeout_ms;
    char **topics; /* copies of cfg topic names, for the offsets hash */
    size_t n_topics;
    int64_t next_try_ms;
    int backoff_ms;
    bool was_up;
    uint64_t generation; /* successful connections so far */
    /* Rate limits of the lines a Redis failure or bad data in Redis can repeat: errors
     * answered to commits (OOM, READONLY, ...), which are retried every batch, and every
     * other error reply or malformed value. Connection errors are bounded by the
     * reconnect back-off instead. */
    struct log_ratelimit commit_rl, error_rl;
    char addr[290];  /* "HOST:PORT" or the socket path */
    char where[300]; /* "redis " + addr: the limits' source */
    uint64_t errors;     /* connections lost or refused, error replies (metrics) */
    /* scratch for building commands, reused */
    const char **argv;
    size_t *argvlen;
    size_t argc, argv_cap, argvlen_cap;
    /* scratch for the bytes of a commit's customer keys, values and due times, reused */
    char *bytes;
    size_t bytes_len, bytes_cap;
    struct piece { size_t off, len; } *pieces;
    size_t pieces_cap;
};


static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

struct store *store_new(const struct config *cfg)
{
    struct store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->host = dup_or_null(cfg->redis_host);
    s->unix_path = dup_or_null(cfg->redis_unix);
    s->user = dup_or_null(cfg->redis_user);
    s->password = dup_or_null(cfg->redis_password);
    s->prefix = strdup(cfg->key_prefix ? cfg->key_prefix : "cw");
    s->port = cfg->redis_port;
    s->db = cfg->redis_db;
    s->timeout_ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 2000;
    s->backoff_ms = BACKOFF_MIN_MS;
    log_ratelimit_init(&s->commit_rl, 1, 5);
    log_ratelimit_init(&s->error_rl, 1, 10);
    s->topics = calloc(cfg->n_topics ? cfg->n_topics : 1, sizeof *s->topics);
    if (s->prefix == NULL || s->topics == NULL) {
        store_free(s);
        return NULL;
    }
    s->n_topics = cfg->n_topics;
    if (s->unix_path)
        snprintf(s->addr, sizeof s->addr, "%s", s->unix_path);
    else
        snprintf(s->addr, sizeof s->addr, "%s:%d", s->host, s->port);
    snprintf(s->where, sizeof s->where, "redis %s", s->addr);
    for (size_t i = 0; i < cfg->n_topics; i++) {
        s->topics[i] = strdup(cfg->topics[i].name);
        if (s->topics[i] == NULL) {
            store_free(s);
            return NULL;
        }
    }
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    if (s->ctx)
        redisFree(s->ctx);
    free(s->host);
    free(s->unix_path);
    free(s->user);
    if (s->password)
        explicit_bzero(s->password, strlen(s->password));
    free(s->password);
    free(s->prefix);
    free(s->bytes);
    free(s->pieces);
    for (size_t i = 0; i < s->n_topics; i++)
        free(s->topics[i]);
    free(s->topics);
    free(s->argv);
    free(s->argvlen);
    free(s);
}

bool store_connected(const struct store *s)
{
    return s->ctx != NULL;
}

const char *store_address(const struct store *s)
{
    return s->addr;
}

/* Marks the connection dead after an I/O error and schedules a reconnect. */
static void store_drop(struct store *s, const char *what)
{
    s->errors++;
    if (s->ctx) {
        log_error("%s: %s: %s; reconnecting", s->where, what,
                  s->ctx->errstr[0] ? s->ctx->errstr : "connection lost");
        redisFree(s->ctx);
        s->ctx = NULL;
    }
    s->next_try_ms = clock_mono_ms() + s->backoff_ms;
}

/* Opens s->ctx and runs AUTH (when a password is set), PING and SELECT (db != 0): the one
 * connection set-up of the daemon and of the CLI. Returns 0; -1 when the connection
 * failed, -2 when a set-up command did (s->ctx is NULL then), with the reason in why. */
static int store_open(struct store *s, char *why, size_t why_len)
{
    struct timeval tv = {s->timeout_ms / 1000, (s->timeout_ms % 1000) * 1000};
    redisContext *c = s->unix_path ? redisConnectUnixWithTimeout(s->unix_path, tv)
                                   : redisConnectWithTimeout(s->host, s->port, tv);
    if (c == NULL || c->err) {
        snprintf(why, why_len, "%s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return -1;
    }
    redisSetTimeout(c, tv);
    if (!s->unix_path)
        redisEnableKeepAlive(c);
    char db[16];
    snprintf(db, sizeof db, "%d", s->db);
    const char *auth[3] = {"AUTH", s->user ? s->user : s->password, s->password};
    const char *ping[1] = {"PING"}; /* a server that wants a password answers NOAUTH here */
    const char *select[2] = {"SELECT", db};
    const struct {
        int argc;
        const char **argv;
        bool run;
    } setup[] = {
        {s->user ? 3 : 2, auth, s->password != NULL},
        {1, ping, true},
        {2, select, s->db != 0},
    };
    for (size_t i = 0; i < sizeof setup / sizeof setup[0]; i++) {
        if (!setup[i].run)
            continue;
        redisReply *r = redisCommandArgv(c, setup[i].argc, setup[i].argv, NULL);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            bool noauth = r && s->password == NULL && strncmp(r->str, "NOAUTH", 6) == 0;
            snprintf(why, why_len, "%s: %s%s", setup[i].argv[0], r ? r->str : c->errstr,
                     noauth ? " (the server wants a password: set redis.password)" : "");
            if (r)
                freeReplyObject(r);
            redisFree(c);
            return -2;
        }
        freeReplyObject(r);
    }
    s->ctx = c;
    s->generation++;
    return 0;
}

int store_connect(struct store *s)
{
    if (s->ctx)
        return 0;
    int64_t now = clock_mono_ms();
    if (now < s->next_try_ms)
        return -1;
    const char *where = s->addr;
    char why[512];
    int rc = store_open(s, why, sizeof why);
    if (rc == -1) {
        s->errors++;
        if (s->was_up || s->backoff_ms == BACKOFF_MIN_MS || s->backoff_ms >= BACKOFF_MAX_MS)
            log_error("redis %s: cannot connect: %s; retrying in %d ms", where, why,
                      s->backoff_ms);
        s->was_up = false;
        s->next_try_ms = now + s->backoff_ms;
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
        return -1;
    }
    if (rc < 0) {
        s->errors++;
        log_error("redis %s: %s", where, why);
        s->next_try_ms = now + BACKOFF_MAX_MS;
        return -1;
    }
    log_info("redis %s: connected", where);
    s->was_up = true;
    s->backoff_ms = BACKOFF_MIN_MS;
    return 0;
}

/* ---- command building: argv entries point into s->keys / s->blobs or caller memory ---- */

static void cmd_reset(struct store *s)
{
    s->argc = 0;
}

/* Adds an argument; `p` must stay valid until the command is appended (hiredis copies). */
static int cmd_arg(struct store *s, const char *p, size_t len)
{
    const char **argv = vec_reserve(s->argv, &s->argv_cap, s->argc + 1, sizeof *argv, 64);
    if (argv == NULL)
        return -1;
    s->argv = argv;
    size_t *argvlen = vec_reserve(s->argvlen, &s->argvlen_cap, s->argc + 1, sizeof *argvlen, 64);
    if (argvlen == NULL)
        return -1;
    s->argvlen = argvlen;
    s->argv[s->argc] = p;
    s->argvlen[s->argc] = len;
    s->argc++;
    return 0;
}

static int cmd_str(struct store *s, const char *p)
{
    return cmd_arg(s, p, strlen(p));
}

static int append(struct store *s)
{
    return redisAppendCommandArgv(s->ctx, (int)s->argc, s->argv, s->argvlen) == REDIS_OK ? 0 : -1;
}

/* Formats a key into a small malloc'd-per-call buffer owned by the caller's array. */
static int key_fmt(char *buf, size_t len, const struct store *s, int32_t p, const char *suffix,
                   const char *id)
{
    int n = snprintf(buf, len, "%s:{p%" PRId32 "}:%s%s", s->prefix, p, suffix, id ? id : "");
    return n < 0 || (size_t)n >= len ? -1 : n;
}

/* prefix + ":{p" + partition + "}:" + longest suffix ("sink:" + sink name) or "c:" + id */
#define KEY_MAX (CW_KEY_PREFIX_MAX + CW_ID_MAX + 64)

/* Reads `n` replies; returns them in r[] (caller frees). -1 on I/O error (context dropped). */
static int read_replies(struct store *s, size_t n, redisReply **r)
{
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(s->ctx, &rep) != REDIS_OK || rep == NULL) {
            for (size_t j = 0; j < i; j++)
                freeReplyObject(r[j]);
            store_drop(s, "read reply");
            return -1;
        }
        r[i] = rep;
    }
    return 0;
}

static void free_replies(redisReply **r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i])
            freeReplyObject(r[i]);
}

static int reply_error(struct store *s, const redisReply *r, const char *what)
{
    if (r->type == REDIS_REPLY_ERROR) {
        log_limited(&s->error_rl, s->where, LOG_LVL_ERROR, "redis: %s: %s", what, r->str);
        s->errors++;
        return -1;
    }
    return 0;
}

/* Connects if needed and runs one command. Returns its reply (the caller frees it), or
 * NULL after a connection error (the connection is dropped) or an error reply (logged
 * as `what`). */
static redisReply *command(struct store *s, int argc, const char **argv, const char *what)
{
    if (store_connect(s) < 0)
        return NULL;
    redisReply *r = redisCommandArgv(s->ctx, argc, argv, NULL);
    if (r == NULL) {
        store_drop(s, what);
        return NULL;
    }
    if (reply_error(s, r, what) < 0) {
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int parse_i64(const char *str, size_t len, int64_t *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, str, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

uint64_t store_generation(const struct store *s)
{
    return s->generation;
}

uint64_t store_errors(const struct store *s)
{
    return s->errors;
}

/* Reads P:{pN}:epoch (INCR'd first when `claim`) and the offsets hash into meta. */
static int store_read_meta(struct store *s, int32_t p, bool claim, struct partition_meta *meta)
{
    if (store_connect(s) < 0)
        return -1;
    char epoch_key[KEY_MAX], off_key[KEY_MAX];
    key_fmt(epoch_key, sizeof epoch_key, s, p, "epoch", NULL);
    key_fmt(off_key, sizeof off_key, s, p, "off", NULL);
    cmd_reset(s);
    cmd_str(s, claim ? "INCR" : "GET");
    cmd_str(s, epoch_key);
    if (append(s) < 0)
        goto io;
    cmd_reset(s);
    cmd_str(s, "HGETALL");
    cmd_str(s, off_key);
    if (append(s) < 0)
        goto io;
    redisReply *r[2];
    if (read_replies(s, 2, r) < 0)
        return -1;
    int rc = -1;
    if (reply_error(s, r[0], "epoch") < 0 || reply_error(s, r[1], "HGETALL offsets") < 0)
        goto out;
    if (r[1]->type != REDIS_REPLY_ARRAY)
        goto out;
    meta->epoch = -1;
    if (r[0]->type == REDIS_REPLY_INTEGER)
        meta->epoch = r[0]->integer;
    else if (r[0]->type == REDIS_REPLY_STRING)
        parse_i64(r[0]->str, r[0]->len, &meta->epoch);
    else if (claim || r[0]->type != REDIS_REPLY_NIL)
        goto out;
    meta->clock_ms = 0;
    meta->tiers.week = TIER_WEEK_NONE;
    meta->risk_indexed = false;
    for (size_t i = 0; i < sizeof meta->offset / sizeof meta->offset[0]; i++)
        meta->offset[i] = -1;
    for (size_t i = 0; i + 1 < r[1]->elements; i += 2) {
        const redisReply *f = r[1]->element[i], *v = r[1]->element[i + 1];
        int64_t val;
        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && f->len == 6 &&
            memcmp(f->str, "@tiers", 6) == 0) {
            if (tier_cutoffs_parse(v->str, &meta->tiers) < 0) {
                log_limited(&s->error_rl, s->where, LOG_LVL_ERROR,
                            "redis: %s: malformed @tiers, recomputed", off_key);
                meta->tiers.week = TIER_WEEK_NONE;
            }
            continue;
        }
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            parse_i64(v->str, v->len, &val) < 0) {
            log_limited(&s->error_rl, s->where, LOG_LVL_ERROR,
                        "redis: %s: malformed entry, ignored", off_key);
            continue;
        }
        if (f->len == 6 && memcmp(f->str, "@clock", 6) == 0) {
            meta->clock_ms = val;
            continue;
        }
        if (f->len == 5 && memcmp(f->str, "@risk", 5) == 0) {
            meta->risk_indexed = val != 0;
            continue;
        }
        for (size_t t = 0; t < s->n_topics && t < 64; t++)
            if (strlen(s->topics[t]) == f->len && memcmp(s->topics[t], f->str, f->len) == 0)
                meta->offset[t] = val;
    }
    rc = 0;
out:
    free_replies(r, 2);
    return rc;
io:
    store_drop(s, "append");
    return -1;
}

int store_claim(struct store *s, int32_t p, struct partition_meta *meta)
{
    return store_read_meta(s, p, true, meta);
}

int store_peek(struct store *s, int32_t p, struct partition_meta *meta)
{
    return store_read_meta(s, p, false, meta);
}

int store_load(struct store *s, int32_t p, size_t n, const char *const *ids,
               struct customer *const *out, bool *found)
{
    if (n == 0)
        return 0;
    if (store_connect(s) < 0)
        return -1;
    char key[KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        if (key_fmt(key, sizeof key, s, p, "c:", ids[i]) < 0) {
            /* cannot happen with ids of at most CW_ID_MAX bytes; replies of commands
             * already queued would be left unread, so the connection goes */
            store_drop(s, "key too long");
            return -1;
        }
        cmd_reset(s);
        cmd_str(s, "GET");
        cmd_str(s, key);
        if (append(s) < 0) {
            store_drop(s, "append");
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        if (read_replies(s, 1, &r) < 0)
            return -1;
        found[i] = false;
        if (r->type == REDIS_REPLY_STRING) {
            if (customer_decode(out[i], ids[i], (const uint8_t *)r->str, r->len) == 0) {
                found[i] = true;
            } else {
                customer_init(out[i], ids[i]); /* not half of a decoded state */
                log_limited(&s->error_rl, s->where, LOG_LVL_ERROR,
                            "redis: partition %" PRId32 " customer %s: stored state does not "
                            "decode; starting it afresh",
                            p, ids[i]);
            }
        } else if (reply_error(s, r, "GET customer") < 0) {
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Appends the ZADD and ZREM of held events that a commit writes; counts them in *sent. */
static int append_held(struct store *s, int32_t p, const struct late_buffer *h, size_t *sent)
{
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "held", NULL);
    size_t adds = 0, removes = 0;
    /* the scores must live until the command is appended */
    char(*score)[24] = h->n_added ? malloc(h->n_added * sizeof *score) : NULL;
    if (h->n_added > 0 && score == NULL)
        return -1;
    cmd_reset(s);
    cmd_str(s, "ZADD");
    cmd_str(s, key);
    for (size_t i = 0; i < h->n_added; i++) {
        const struct late_entry *e = h->added[i];
        if (e->released)
            continue;
        snprintf(score[adds], sizeof score[adds], "%" PRId64, e->ts_ms);
        cmd_str(s, score[adds]);
        cmd_arg(s, (const char *)e->member, e->len);
        adds++;
    }
    int rc = adds > 0 ? append(s) : 0;
    free(score);
    if (rc < 0)
        return -1;
    if (adds > 0)
        (*sent)++;
    cmd_reset(s);
    cmd_str(s, "ZREM");
    cmd_str(s, key);
    for (size_t i = 0; i < h->n_removed; i++) {
        const struct late_entry *e = h->removed[i];
        if (!e->stored)
            continue;
        cmd_arg(s, (const char *)e->member, e->len);
        removes++;
    }
    if (removes > 0) {
        if (append(s) < 0)
            return -1;
        (*sent)++;
    }
    return 0;
}

/* Copies n bytes to the scratch; *out says where they are. -1 on ENOMEM. */
static int bytes_put(struct store *s, const void *p, size_t n, struct piece *out)
{
    char *grown = vec_reserve(s->bytes, &s->bytes_cap, s->bytes_len + n, 1, 65536);
    if (grown == NULL)
        return -1;
    s->bytes = grown;
    memcpy(s->bytes + s->bytes_len, p, n);
    out->off = s->bytes_len;
    out->len = n;
    s->bytes_len += n;
    return 0;
}

#define COMMIT_CHUNK 1000 /* customers per MSET / ZADD / ZREM of a commit */

/* Appends, inside a commit's MULTI, the state of customers c[0..n) as one MSET and their
 * due times as one ZADD (those with a timer) and one ZREM (those without), counting the
 * commands in *sent. One command per kind instead of two per customer: fewer replies to
 * parse and less work for Redis. The at-risk set gets one ZADD (customers at risk, with
 * their score) and one ZREM (those no longer at risk that it lists). Returns 0, -1 on an
 * append or memory error, -2 when a customer cannot be encoded (commands are already
 * queued). */
static int append_customers(struct store *s, int32_t p, struct customer *const *c, size_t n,
                            const char *due_key, const char *risk_key, size_t *sent)
{
    struct piece *pc = vec_reserve(s->pieces, &s->pieces_cap, 4 * n, sizeof *pc, 256);
    if (pc == NULL)
        return -1;
    s->pieces = pc;
    s->bytes_len = 0;
    uint8_t blob[CW_CUSTOMER_ENCODED_MAX];
    char key[KEY_MAX], due[24], score[32];
    size_t n_due = 0, n_risk = 0, n_unlist = 0;
    /* pass 1: every byte into the scratch (it may move while it grows) */
    for (size_t i = 0; i < n; i++) {
        size_t len = customer_encode(c[i], blob, sizeof blob);
        int klen = key_fmt(key, sizeof key, s, p, "c:", c[i]->id);
        if (len == 0 || klen < 0) {
            log_error("partition %" PRId32 ": customer %s cannot be encoded", p, c[i]->id);
            return -2;
        }
        pc[3 * i + 2].len = 0;
        pc[3 * n + i].len = 0;
        if (bytes_put(s, key, (size_t)klen, &pc[3 * i]) < 0 ||
            bytes_put(s, blob, len, &pc[3 * i + 1]) < 0)
            return -1;
        if (c[i]->next_due_ms != CW_NO_DUE) {
            int dlen = snprintf(due, sizeof due, "%" PRId64, c[i]->next_due_ms);
            if (bytes_put(s, due, (size_t)dlen, &pc[3 * i + 2]) < 0)
                return -1;
            n_due++;
        }
        if (rules_at_risk(c[i])) {
            int slen = snprintf(score, sizeof score, "%.17g", c[i]->score);
            if (bytes_put(s, score, (size_t)slen, &pc[3 * n + i]) < 0)
                return -1;
            n_risk++;
        } else if (c[i]->risk_listed) {
            n_unlist++;
        }
    }
    /* pass 2: the commands */
    cmd_reset(s);
    cmd_str(s, "MSET");
    for (size_t i = 0; i < n; i++) {
        cmd_arg(s, s->bytes + pc[3 * i].off, pc[3 * i].len);
        cmd_arg(s, s->bytes + pc[3 * i + 1].off, pc[3 * i + 1].len);
    }
    if (append(s) < 0)
        return -1;
    (*sent)++;
    for (int adding = 1; adding >= 0; adding--) {
        if ((adding && n_due == 0) || (!adding && n_due == n))
            continue;
        cmd_reset(s);
        cmd_str(s, adding ? "ZADD" : "ZREM");
        cmd_str(s, due_key);
        for (size_t i = 0; i < n; i++) {
            bool has_due = pc[3 * i + 2].len > 0;
            if (has_due != (adding == 1))
                continue;
            if (adding)
                cmd_arg(s, s->bytes + pc[3 * i + 2].off, pc[3 * i + 2].len);
            cmd_str(s, c[i]->id);
        }
        if (append(s) < 0)
            return -1;
        (*sent)++;
    }
    for (int adding = 1; adding >= 0; adding--) {
        if ((adding && n_risk == 0) || (!adding && n_unlist == 0))
            continue;
        cmd_reset(s);
        cmd_str(s, adding ? "ZADD" : "ZREM");
        cmd_str(s, risk_key);
        for (size_t i = 0; i < n; i++) {
            bool at_risk = pc[3 * n + i].len > 0;
            if (adding && at_risk) {
                cmd_arg(s, s->bytes + pc[3 * n + i].off, pc[3 * n + i].len);
                cmd_str(s, c[i]->id);
            } else if (!adding && !at_risk && c[i]->risk_listed) {
                cmd_str(s, c[i]->id);
            }
        }
        if (append(s) < 0)
            return -1;
        (*sent)++;
    }
    return 0;
}

/* The compare-and-delete of an ended silence: the entry goes only if an operator did not
 * change it meanwhile (a new silence stays). */
static const char SILENCE_END_LUA[] =
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then "
    "return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0";

/* Appends, inside a commit's MULTI, what the partition's silences and acknowledgements
 * changed (mute.h): acknowledgements of resolved episodes deleted, records of what
 * silences kept back written or deleted, ended silences deleted. Counts in *sent. */
static int append_mute(struct store *s, int32_t p, const struct mute_set *m, size_t *sent)
{
    char ack_key[KEY_MAX], rec_key[KEY_MAX], sil_key[KEY_MAX];
    key_fmt(ack_key, sizeof ack_key, s, p, "ack", NULL);
    key_fmt(rec_key, sizeof rec_key, s, p, "silenced", NULL);
    key_fmt(sil_key, sizeof sil_key, s, p, "silence", NULL);
    if (m->n_ack_del > 0) {
        cmd_reset(s);
        cmd_str(s, "HDEL");
        cmd_str(s, ack_key);
        for (size_t i = 0; i < m->n_ack_del; i++)
            cmd_str(s, m->ack_del[i]);
        if (append(s) < 0)
            return -1;
        (*sent)++;
    }
    for (size_t i = 0; i < m->n_rec; i++) {
        const struct mute_record *r = &m->rec[i];
        if (!r->dirty && !r->deleted)
            continue;
        char *value = r->deleted ? NULL : mute_record_value(r);
        if (!r->deleted && value == NULL)
            return -1;
        cmd_reset(s);
        cmd_str(s, r->deleted ? "HDEL" : "HSET");
        cmd_str(s, rec_key);
        cmd_str(s, r->customer);
        if (value != NULL)
            cmd_str(s, value);
        int rc = append(s); /* hiredis copied the value */
        free(value);
        if (rc < 0)
            return -1;
        (*sent)++;
    }
    for (size_t i = 0; i < m->n_sil; i++) {
        if (!m->sil[i].ending || m->sil[i].raw == NULL)
            continue;
        cmd_reset(s);
        cmd_str(s, "EVAL");
        cmd_str(s, SILENCE_END_LUA);
        cmd_str(s, "1");
        cmd_str(s, sil_key);
        cmd_str(s, m->sil[i].customer);
        cmd_str(s, m->sil[i].raw);
        if (append(s) < 0)
            return -1;
        (*sent)++;
    }
    return 0;
}

int store_commit(struct store *s, const struct store_batch *b)
{
    if (store_connect(s) < 0)
        return -1;
    char epoch_key[KEY_MAX];
    key_fmt(epoch_key, sizeof epoch_key, s, b->partition, "epoch", NULL);

    /* 1. WATCH the epoch and read it: a new owner has INCR'd it. */
    cmd_reset(s);
    cmd_str(s, "WATCH");
    cmd_str(s, epoch_key);
    if (append(s) < 0)
        goto io;
    cmd_reset(s);
    cmd_str(s, "GET");
    cmd_str(s, epoch_key);
    if (append(s) < 0)
        goto io;
    redisReply *r[2];
    if (read_replies(s, 2, r) < 0)
        return -1;
    int64_t epoch = -1;
    if (r[1]->type == REDIS_REPLY_STRING)
        parse_i64(r[1]->str, r[1]->len, &epoch);
    int bad = reply_error(s, r[0], "WATCH") < 0 || reply_error(s, r[1], "GET epoch") < 0;
    free_replies(r, 2);
    if (bad || epoch != b->epoch) {
        redisReply *u = redisCommand(s->ctx, "UNWATCH");
        if (u == NULL) {
            store_drop(s, "UNWATCH");
            return -1;
        }
        freeReplyObject(u);
        if (bad)
            return -1;
        log_warn("partition %" PRId32 ": epoch is %" PRId64 ", ours is %" PRId64
                 ": another instance owns it; commit refused",
                 b->partition, epoch, b->epoch);
        return STORE_FENCED;
    }

    /* 2. MULTI, the writes, EXEC — all appended, then read back. */
    size_t sent = 0;
    cmd_reset(s);
    cmd_str(s, "MULTI");
    if (append(s) < 0)
        goto io;
    sent++;

    char due_key[KEY_MAX], outbox_key[KEY_MAX], off_key[KEY_MAX], risk_key[KEY_MAX];
    key_fmt(due_key, sizeof due_key, s, b->partition, "due", NULL);
    key_fmt(risk_key, sizeof risk_key, s, b->partition, "risk", NULL);
    key_fmt(outbox_key, sizeof outbox_key, s, b->partition, "outbox", NULL);
    key_fmt(off_key, sizeof off_key, s, b->partition, "off", NULL);
    for (size_t base = 0; base < b->n_customers; base += COMMIT_CHUNK) {
        size_t n = b->n_customers - base < COMMIT_CHUNK ? b->n_customers - base : COMMIT_CHUNK;
        int rc = append_customers(s, b->partition, b->customers + base, n, due_key, risk_key,
                                  &sent);
        if (rc == -2)
            goto desync;
        if (rc < 0)
            goto io;
    }
    for (size_t i = 0; b->alerts && i < b->alerts->count; i++) {
        cmd_reset(s);
        cmd_str(s, "XADD");
        cmd_str(s, outbox_key);
        cmd_str(s, "*");
        cmd_str(s, "k");
        cmd_str(s, b->alerts->customer[i]);
        cmd_str(s, "a");
        cmd_arg(s, alert_list_get(b->alerts, i), b->alerts->length[i]);
        if (append(s) < 0)
            goto io;
        sent++;
    }
    if (b->held != NULL && append_held(s, b->partition, b->held, &sent) < 0)
        goto io;
    if (b->mute != NULL && append_mute(s, b->partition, b->mute, &sent) < 0)
        goto io;
    char offs[64][24], clock[24], tiers[96];
    cmd_reset(s);
    cmd_str(s, "HSET");
    cmd_str(s, off_key);
    for (size_t t = 0; t < s->n_topics && t < 64; t++) {
        if (b->offsets[t] < 0)
            continue;
        snprintf(offs[t], sizeof offs[t], "%" PRId64, b->offsets[t]);
        cmd_str(s, s->topics[t]);
        cmd_str(s, offs[t]);
    }
    snprintf(clock, sizeof clock, "%" PRId64, b->clock_ms);
    cmd_str(s, "@clock");
    cmd_str(s, clock);
    if (b->risk_indexed) {
        cmd_str(s, "@risk");
        cmd_str(s, "1");
    }
    if (b->tiers != NULL && b->tiers->week != TIER_WEEK_NONE) {
        tier_cutoffs_format(b->tiers, tiers, sizeof tiers);
        cmd_str(s, "@tiers");
        cmd_str(s, tiers);
    }
    if (append(s) < 0)
        goto io;
    sent++;
    cmd_reset(s);
    cmd_str(s, "EXEC");
    if (append(s) < 0)
        goto io;
    sent++;

    /* Replies: +OK for MULTI, +QUEUED per command (or an error), then EXEC's array. */
    int rc = 0;
    for (size_t i = 0; i < sent; i++) {
        redisReply *rep;
        if (read_replies(s, 1, &rep) < 0)
            return -1;
        if (i + 1 < sent) {
            if (rep->type == REDIS_REPLY_ERROR) {
                /* one line per refused commit, not per queued command, and rate-limited:
                 * the commit is retried every batch until Redis accepts it */
                if (rc == 0)
                    log_limited(&s->commit_rl, s->where, LOG_LVL_ERROR,
                                "redis: partition %" PRId32 " commit failed: %s (retried)",
                                b->partition, rep->str);
                rc = -1; /* EXEC will answer EXECABORT */
            }
        } else if (rep->type == REDIS_REPLY_NIL) {
            log_warn("partition %" PRId32 ": epoch changed during commit: another instance "
                     "owns it; commit refused",
                     b->partition);
            rc = STORE_FENCED;
        } else if (rep->type == REDIS_REPLY_ERROR) {
            if (rc == 0)
                log_limited(&s->commit_rl, s->where, LOG_LVL_ERROR,
                            "redis: partition %" PRId32 " EXEC: %s", b->partition, rep->str);
            rc = -1;
        } else if (rep->type == REDIS_REPLY_ARRAY) {
            for (size_t j = 0; j < rep->elements; j++)
                if (rep->element[j]->type == REDIS_REPLY_ERROR) {
                    /* MULTI does not roll back: a failed command inside is a hard error */
                    log_limited(&s->commit_rl, s->where, LOG_LVL_ERROR,
                                "redis: partition %" PRId32 " commit command %zu: %s",
                                b->partition, j, rep->element[j]->str);
                    rc = -1;
                }
        }
        freeReplyObject(rep);
    }
    if (rc == -1)
        s->errors++;
    return rc;
desync:
    /* Commands are queued but their replies are not read: the only safe way out is to
     * drop the connection (EXEC never ran, so nothing was written). */
    store_drop(s, "commit abandoned");
    return -1;
io:
    store_drop(s, "append");
    return -1;
}

int store_due(struct store *s, int32_t p, int64_t now_ms, size_t max, char (*ids)[CW_ID_MAX + 1],
              size_t *n)
{
    *n = 0;
    char due_key[KEY_MAX], now[24], lim[24];
    key_fmt(due_key, sizeof due_key, s, p, "due", NULL);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    snprintf(lim, sizeof lim, "%zu", max);
    const char *argv[] = {"ZRANGEBYSCORE", due_key, "-inf", now, "LIMIT", "0", lim};
    redisReply *r = command(s, 7, argv, "ZRANGEBYSCORE due");
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements && *n < max; i++) {
            const redisReply *e = r->element[i];
            if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > CW_ID_MAX)
                continue;
            memcpy(ids[*n], e->str, e->len);
            ids[*n][e->len] = '\0';
            (*n)++;
        }
    }
    freeReplyObject(r);
    return 0;
}

void id_list_free(struct id_list *l)
{
    free(l->id);
    memset(l, 0, sizeof *l);
}

int store_scan_customers(struct store *s, int32_t p, char cursor[32], size_t count,
                         struct id_list *out)
{
    out->n = 0;
    char pattern[KEY_MAX], count_s[24];
    int plen = key_fmt(pattern, sizeof pattern, s, p, "c:", "*");
    snprintf(count_s, sizeof count_s, "%zu", count);
    const char *argv[] = {"SCAN", cursor, "MATCH", pattern, "COUNT", count_s};
    redisReply *r = command(s, 6, argv, "SCAN customers");
    if (r == NULL)
        return -1;
    int rc = 0;
    if ((r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= 32 ||
                    r->element[1]->type != REDIS_REPLY_ARRAY))
        rc = -1;
    if (rc == 0) {
        char(*ids)[CW_ID_MAX + 1] =
            vec_reserve(out->id, &out->cap, r->element[1]->elements, sizeof *ids, 64);
        if (ids == NULL)
            rc = -1;
        else
            out->id = ids;
    }
    if (rc == 0) {
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        const redisReply *keys = r->element[1];
        size_t prefix = (size_t)plen - 1; /* the pattern without its '*' */
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            if (k->type != REDIS_REPLY_STRING || k->len <= prefix ||
                k->len - prefix > CW_ID_MAX)
                continue;
            memcpy(out->id[out->n], k->str + prefix, k->len - prefix);
            out->id[out->n][k->len - prefix] = '\0';
            out->n++;
        }
    }
    freeReplyObject(r);
    return rc;
}

int store_load_held(struct store *s, int32_t p, struct late_buffer *b)
{
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "held", NULL);
    const char *argv[] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
    redisReply *r = command(s, 5, argv, "ZRANGE held");
    if (r == NULL)
        return -1;
    int rc = r->type == REDIS_REPLY_ARRAY ? 0 : -1;
    size_t bad = 0;
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *sc = r->element[i + 1];
        char num[40];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING ||
            sc->len >= sizeof num) {
            bad++;
            continue;
        }
        memcpy(num, sc->str, sc->len);
        num[sc->len] = '\0';
        char *end;
        double ts = strtod(num, &end);
        if (*end != '\0' || !(ts > -9.0e15 && ts < 9.0e15) ||
            late_buffer_push_stored(b, (int64_t)ts, (const uint8_t *)m->str, m->len) < 0)
            bad++;
    }
    if (bad > 0)
        log_limited(&s->error_rl, s->where, LOG_LVL_ERROR,
                    "redis: %s: %zu malformed held events left out", key, bad);
    if (rc == 0 && late_buffer_count(b) > 0)
        log_info("partition %" PRId32 ": %zu held events read back", p, late_buffer_count(b));
    freeReplyObject(r);
    return rc;
}

void outbox_batch_clear(struct outbox_batch *b)
{
    for (size_t i = 0; i < b->n_replies; i++)
        freeReplyObject(b->replies[i]);
    free(b->replies);
    free(b->e);
    memset(b, 0, sizeof *b);
}

int store_outbox_read(struct store *s, int32_t p, const char *after_id, size_t max,
                      struct outbox_batch *b, size_t *added)
{
    *added = 0;
    void **replies = vec_reserve(b->replies, &b->cap_replies, b->n_replies + 1, sizeof *replies, 8);
    if (replies == NULL)
        return -1;
    b->replies = replies;
    char key[KEY_MAX], start[CW_STREAM_ID_MAX + 2], count[24];
    key_fmt(key, sizeof key, s, p, "outbox", NULL);
    snprintf(start, sizeof start, "(%s", after_id);
    snprintf(count, sizeof count, "%zu", max);
    const char *argv[] = {"XRANGE", key, strcmp(after_id, "0") == 0 ? "-" : start, "+", "COUNT",
                          count};
    redisReply *r = command(s, 6, argv, "XRANGE outbox");
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        int rc = r->type == REDIS_REPLY_ARRAY ? 0 : -1;
        freeReplyObject(r);
        return rc;
    }
    struct outbox_entry *grown = vec_reserve(b->e, &b->cap, b->n + r->elements, sizeof *grown, 64);
    if (grown == NULL) {
        freeReplyObject(r);
        return -1;
    }
    b->e = grown;
    b->replies[b->n_replies++] = r;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *ent = r->element[i];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
            ent->element[0]->type != REDIS_REPLY_STRING ||
            ent->element[0]->len >= CW_STREAM_ID_MAX ||
            ent->element[1]->type != REDIS_REPLY_ARRAY)
            continue;
        struct outbox_entry *e = &b->e[b->n];
        e->partition = p;
        memcpy(e->id, ent->element[0]->str, ent->element[0]->len);
        e->id[ent->element[0]->len] = '\0';
        e->customer = NULL;
        e->json = NULL;
        const redisReply *f = ent->element[1];
        for (size_t j = 0; j + 1 < f->elements; j += 2) {
            if (f->element[j]->len != 1)
                continue;
            if (f->element[j]->str[0] == 'k')
                e->customer = f->element[j + 1]->str;
            else if (f->element[j]->str[0] == 'a') {
                e->json = f->element[j + 1]->str;
                e->json_len = f->element[j + 1]->len;
            }
        }
        if (e->customer && e->json) {
            b->n++;
            (*added)++;
        } else {
            log_limited(&s->error_rl, s->where, LOG_LVL_ERROR,
                        "redis: %s entry %s is malformed; skipped", key, e->id);
        }
    }
    return 0;
}

int store_sink_cursor(struct store *s, int32_t p, const char *sink, char out[CW_STREAM_ID_MAX])
{
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "sink:", sink);
    const char *argv[] = {"GET", key};
    redisReply *r = command(s, 2, argv, "GET sink cursor");
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING && r->len > 0 && r->len < CW_STREAM_ID_MAX) {
        memcpy(out, r->str, r->len);
        out[r->len] = '\0';
    } else {
        strcpy(out, "0");
    }
    freeReplyObject(r);
    return 0;
}

int store_outbox_len(struct store *s, int32_t p, uint64_t *len)
{
    *len = 0;
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "outbox", NULL);
    const char *argv[] = {"XLEN", key};
    redisReply *r = command(s, 2, argv, "XLEN outbox");
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        *len = (uint64_t)r->integer;
    freeReplyObject(r);
    return 0;
}

int store_backlog(struct store *s, int32_t p, int64_t now_ms, struct store_backlog *b)
{
    memset(b, 0, sizeof *b);
    if (store_connect(s) < 0)
        return -1;
    char okey[KEY_MAX], dkey[KEY_MAX], rkey[KEY_MAX], now[24];
    key_fmt(okey, sizeof okey, s, p, "outbox", NULL);
    key_fmt(dkey, sizeof dkey, s, p, "due", NULL);
    key_fmt(rkey, sizeof rkey, s, p, "risk", NULL);
    snprintf(now, sizeof now, "%" PRId64, now_ms);
    struct {
        int argc;
        const char *argv[4];
        uint64_t *out;
    } cmd[] = {
        {2, {"XLEN", okey}, &b->outbox_len},
        {4, {"ZCOUNT", dkey, "-inf", now}, &b->due},
        {2, {"ZCARD", dkey}, &b->timers},
        {2, {"ZCARD", rkey}, &b->at_risk},
    };
    enum { N = sizeof cmd / sizeof cmd[0] };
    for (size_t i = 0; i < N; i++)
        if (redisAppendCommandArgv(s->ctx, cmd[i].argc, cmd[i].argv, NULL) != REDIS_OK) {
            store_drop(s, "append");
            return -1;
        }
    redisReply *r[N];
    if (read_replies(s, N, r) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < N; i++) {
        if (reply_error(s, r[i], cmd[i].argv[0]) < 0)
            rc = -1;
        else if (r[i]->type == REDIS_REPLY_INTEGER && r[i]->integer > 0)
            *cmd[i].out = (uint64_t)r[i]->integer;
    }
    if (rc < 0)
        memset(b, 0, sizeof *b);
    free_replies(r, N);
    return rc;
}

int store_outbox_ack(struct store *s, int32_t p, const char *sink, const char *id,
                     const char *trim_before)
{
    if (store_connect(s) < 0)
        return -1;
    char key[KEY_MAX], okey[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "sink:", sink);
    key_fmt(okey, sizeof okey, s, p, "outbox", NULL);
    const char *set[] = {"SET", key, id};
    size_t n = 1;
    if (redisAppendCommandArgv(s->ctx, 3, set, NULL) != REDIS_OK)
        goto io;
    if (trim_before && strcmp(trim_before, "0") != 0) {
        const char *trim[] = {"XTRIM", okey, "MINID", trim_before};
        if (redisAppendCommandArgv(s->ctx, 4, trim, NULL) != REDIS_OK)
            goto io;
        n++;
    }
    redisReply *r[2] = {NULL, NULL};
    if (read_replies(s, n, r) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (reply_error(s, r[i], i ? "XTRIM outbox" : "SET sink cursor") < 0)
            rc = -1;
    free_replies(r, n);
    return rc;
io:
    store_drop(s, "append");
    return -1;
}

/* P:{pN}:sink:<sink>:<hash> into buf[KEY_MAX]. */
static int sink_hash_key(char *buf, const struct store *s, int32_t p, const char *sink,
                         const char *hash)
{
    char name[64];
    int n = snprintf(name, sizeof name, "%s:%s", sink, hash);
    if (n < 0 || (size_t)n >= sizeof name)
        return -1;
    return key_fmt(buf, KEY_MAX, s, p, "sink:", name);
}

int store_sink_hash_apply(struct store *s, const char *sink, const char *hash,
                          const struct sink_hash_op *ops, size_t n)
{
    if (n == 0)
        return 0;
    if (store_connect(s) < 0)
        return -1;
    char key[KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        if (sink_hash_key(key, s, ops[i].partition, sink, hash) < 0) {
            store_drop(s, "key too long"); /* replies of queued commands would be unread */
            return -1;
        }
        cmd_reset(s);
        cmd_str(s, ops[i].value ? "HSET" : "HDEL");
        cmd_str(s, key);
        cmd_str(s, ops[i].field);
        if (ops[i].value)
            cmd_arg(s, ops[i].value, ops[i].value_len);
        if (append(s) < 0) {
            store_drop(s, "append");
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        if (read_replies(s, 1, &r) < 0)
            return -1;
        if (reply_error(s, r, ops[i].value ? "HSET sink hash" : "HDEL sink hash") < 0)
            rc = -1;
        freeReplyObject(r);
    }
    return rc;
}

int store_sink_hash_get(struct store *s, const char *sink, const char *hash, size_t n,
                        const int32_t *parts, const char *const *fields, char **values)
{
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    if (n == 0)
        return 0;
    if (store_connect(s) < 0)
        return -1;
    char key[KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        if (sink_hash_key(key, s, parts[i], sink, hash) < 0) {
            store_drop(s, "key too long");
            return -1;
        }
        const char *argv[] = {"HGET", key, fields[i]};
        if (redisAppendCommandArgv(s->ctx, 3, argv, NULL) != REDIS_OK) {
            store_drop(s, "append");
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        if (read_replies(s, 1, &r) < 0) {
            rc = -1;
            break;
        }
        if (reply_error(s, r, "HGET sink hash") < 0) {
            rc = -1;
        } else if (r->type == REDIS_REPLY_STRING && rc == 0) {
            values[i] = malloc(r->len + 1);
            if (values[i] == NULL) {
                rc = -1;
            } else {
                memcpy(values[i], r->str, r->len);
                values[i][r->len] = '\0';
            }
        }
        freeReplyObject(r);
    }
    if (rc < 0)
        for (size_t i = 0; i < n; i++) {
            free(values[i]);
            values[i] = NULL;
        }
    return rc;
}

int store_sink_hash_scan(struct store *s, int32_t p, const char *sink, const char *hash,
                         char cursor[32], size_t count, store_hash_each *each, void *arg)
{
    char key[KEY_MAX], count_s[24];
    if (sink_hash_key(key, s, p, sink, hash) < 0)
        return -1;
    snprintf(count_s, sizeof count_s, "%zu", count);
    const char *argv[] = {"HSCAN", key, cursor, "COUNT", count_s};
    redisReply *r = command(s, 5, argv, "HSCAN sink hash");
    if (r == NULL)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= 32 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
        log_error("redis: HSCAN %s: unexpected reply", key);
        freeReplyObject(r);
        return -1;
    }
    memcpy(cursor, r->element[0]->str, r->element[0]->len);
    cursor[r->element[0]->len] = '\0';
    const redisReply *kv = r->element[1];
    for (size_t i = 0; i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING &&
            kv->element[i + 1]->type == REDIS_REPLY_STRING)
            each(arg, kv->element[i]->str, kv->element[i + 1]->str, kv->element[i + 1]->len);
    freeReplyObject(r);
    return 0;
}

/* ---- the operator's CLI ---- */

int store_connect_once(struct store *s, char *err, size_t err_len)
{
    if (s->ctx)
        return 0;
    char why[512];
    if (store_open(s, why, sizeof why) < 0) {
        snprintf(err, err_len, "Redis %s: %s", s->addr, why);
        return -1;
    }
    return 0;
}

/* Appends one command per element of `keys` (argv[0] then the key), reads the integer
 * replies into v[]. Returns 0 or -1. */
static int pipeline_ints(struct store *s, const char *cmd, size_t n, char (*keys)[KEY_MAX],
                         long long *v)
{
    if (store_connect(s) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *argv[2] = {cmd, keys[i]};
        if (redisAppendCommandArgv(s->ctx, 2, argv, NULL) != REDIS_OK) {
            store_drop(s, "append");
            return -1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        redisReply *r;
        if (read_replies(s, 1, &r) < 0)
            return -1;
        if (reply_error(s, r, cmd) < 0 || r->type != REDIS_REPLY_INTEGER)
            rc = -1;
        else
            v[i] = r->integer;
        freeReplyObject(r);
    }
    return rc;
}

#define PROBE_BLOCK 256

int store_partition_count(struct store *s, int32_t *n)
{
    *n = 0;
    char(*keys)[KEY_MAX] = malloc(PROBE_BLOCK * sizeof *keys);
    long long *v = malloc(PROBE_BLOCK * sizeof *v);
    int rc = keys && v ? 0 : -1;
    for (int32_t base = 0; rc == 0; base += PROBE_BLOCK) {
        for (int32_t i = 0; i < PROBE_BLOCK; i++)
            key_fmt(keys[i], KEY_MAX, s, base + i, "epoch", NULL);
        if (pipeline_ints(s, "EXISTS", PROBE_BLOCK, keys, v) < 0) {
            rc = -1;
            break;
        }
        bool any = false;
        for (int32_t i = 0; i < PROBE_BLOCK; i++)
            if (v[i] > 0) {
                *n = base + i + 1;
                any = true;
            }
        if (!any || base > INT32_MAX - 2 * PROBE_BLOCK)
            break;
    }
    free(keys);
    free(v);
    return rc;
}

int store_locate(struct store *s, const char *id, int32_t n_parts, int32_t *p)
{
    if (n_parts <= 0)
        return 1;
    char(*keys)[KEY_MAX] = malloc((size_t)n_parts * sizeof *keys);
    long long *v = malloc((size_t)n_parts * sizeof *v);
    int rc = keys && v ? 1 : -1;
    for (int32_t i = 0; rc == 1 && i < n_parts; i++)
        if (key_fmt(keys[i], KEY_MAX, s, i, "c:", id) < 0)
            rc = -1;
    if (rc == 1 && pipeline_ints(s, "EXISTS", (size_t)n_parts, keys, v) < 0)
        rc = -1;
    for (int32_t i = 0; rc == 1 && i < n_parts; i++)
        if (v[i] > 0) {
            *p = i;
            rc = 0;
        }
    free(keys);
    free(v);
    return rc;
}

int store_due_of(struct store *s, int32_t p, const char *id, int64_t *due_ms)
{
    *due_ms = CW_NO_DUE;
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, "due", NULL);
    const char *argv[] = {"ZSCORE", key, id};
    redisReply *r = command(s, 3, argv, "ZSCORE due");
    if (r == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING) {
        char num[64];
        snprintf(num, sizeof num, "%.*s", (int)r->len, r->str);
        double d = strtod(num, NULL);
        if (d > -9.0e18 && d < 9.0e18)
            *due_ms = (int64_t)d;
    }
    freeReplyObject(r);
    return 0;
}

void risk_list_free(struct risk_list *l)
{
    if (l == NULL)
        return;
    free(l->e);
    memset(l, 0, sizeof *l);
}

/* Appends the entries of partition p's at-risk set, ZRANGE reply r, to out. */
static int risk_append(const redisReply *r, int32_t p, struct risk_list *out)
{
    if (r->type != REDIS_REPLY_ARRAY)
        return -1;
    struct risk_entry *e = vec_reserve(out->e, &out->cap, out->n + r->elements / 2, sizeof *e, 64);
    if (e == NULL)
        return -1;
    out->e = e;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *m = r->element[i], *sc = r->element[i + 1];
        if (m->type != REDIS_REPLY_STRING || m->len == 0 || m->len > CW_ID_MAX ||
            sc->type != REDIS_REPLY_STRING || sc->len >= 64)
            continue;
        struct risk_entry *x = &out->e[out->n++];
        memcpy(x->id, m->str, m->len);
        x->id[m->len] = '\0';
        char num[64];
        memcpy(num, sc->str, sc->len);
        num[sc->len] = '\0';
        x->score = strtod(num, NULL);
        x->partition = p;
    }
    return 0;
}

int store_risk_read(struct store *s, int32_t n_parts, struct risk_list *out)
{
    if (store_connect(s) < 0)
        return -1;
    char key[KEY_MAX];
    for (int32_t p = 0; p < n_parts; p++) {
        key_fmt(key, sizeof key, s, p, "risk", NULL);
        const char *argv[] = {"ZRANGE", key, "0", "-1", "WITHSCORES"};
        if (redisAppendCommandArgv(s->ctx, 5, argv, NULL) != REDIS_OK) {
            store_drop(s, "append");
            return -1;
        }
    }
    int rc = 0;
    for (int32_t p = 0; p < n_parts; p++) {
        redisReply *r;
        if (read_replies(s, 1, &r) < 0)
            return -1;
        if (reply_error(s, r, "ZRANGE risk") < 0 || (rc == 0 && risk_append(r, p, out) < 0))
            rc = -1;
        freeReplyObject(r);
    }
    return rc;
}

static const char *const mute_hash_names[] = {
    [MUTE_HASH_SILENCE] = "silence",
    [MUTE_HASH_ACK] = "ack",
};

int store_mute_read(struct store *s, int32_t p, struct mute_set *m, bool records)
{
    if (store_connect(s) < 0)
        return -1;
    char key[3][KEY_MAX];
    key_fmt(key[0], KEY_MAX, s, p, "silence", NULL);
    key_fmt(key[1], KEY_MAX, s, p, "ack", NULL);
    key_fmt(key[2], KEY_MAX, s, p, "silenced", NULL);
    size_t n = records ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        const char *argv[2] = {"HGETALL", key[i]};
        if (redisAppendCommandArgv(s->ctx, 2, argv, NULL) != REDIS_OK) {
            store_drop(s, "append");
            return -1;
        }
    }
    redisReply *r[3] = {NULL, NULL, NULL};
    if (read_replies(s, n, r) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (reply_error(s, r[i], "HGETALL") < 0 || r[i]->type != REDIS_REPLY_ARRAY)
            rc = -1;
    struct mute_silence *sil = NULL;
    struct mute_ack *ack = NULL;
    size_t n_sil = 0, n_ack = 0, bad = 0;
    if (rc == 0) {
        sil = calloc(r[0]->elements / 2 + 1, sizeof *sil);
        ack = calloc(r[1]->elements / 2 + 1, sizeof *ack);
        if (sil == NULL || ack == NULL)
            rc = -1;
    }
    char field[CW_ID_MAX + 1];
    for (size_t h = 0; rc == 0 && h < n; h++) {
        for (size_t i = 0; i + 1 < r[h]->elements; i += 2) {
            const redisReply *f = r[h]->element[i], *v = r[h]->element[i + 1];
            if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
                f->len == 0 || f->len > CW_ID_MAX) {
                bad++;
                continue;
            }
            memcpy(field, f->str, f->len);
            field[f->len] = '\0';
            if (h == 0) {
                struct mute_silence *x = &sil[n_sil];
                if (mute_silence_parse(field, v->str, v->len, x) < 0 ||
                    (x->raw = strdup(v->str)) == NULL) {
                    bad++;
                    continue;
                }
                n_sil++;
            } else if (h == 1) {
                if (mute_ack_parse(field, v->str, v->len, &ack[n_ack]) < 0) {
                    bad++;
                    continue;
                }
                n_ack++;
            } else if (mute_record_load(m, field, v->str, v->len) < 0) {
                bad++;
            }
        }
    }
    if (bad > 0)
        log_error("redis: partition %" PRId32 ": %zu malformed silence or acknowledgement "
                  "entries left out",
                  p, bad);
    if (rc == 0) {
        mute_replace(m, sil, n_sil, ack, n_ack);
    } else {
        for (size_t i = 0; sil && i < n_sil; i++)
            free(sil[i].raw);
        free(sil);
        free(ack);
    }
    free_replies(r, n);
    return rc;
}

int store_mute_write(struct store *s, int32_t p, enum mute_hash h, const char *field,
                     const char *value)
{
    char key[KEY_MAX];
    key_fmt(key, sizeof key, s, p, mute_hash_names[h], NULL);
    const char *argv[] = {"HSET", key, field, value};
    redisReply *r = command(s, 4, argv, "HSET");
    if (r == NULL)
        return -1;
    freeReplyObject(r);
    return 0;
}
