/* outbox-tail.c — records every alert churnwatchd adds to its Redis outboxes, with the
 * time Redis added it, for the latency figure of `make bench` (issue 5).
 *
 *   build/outbox-tail PORT PREFIX NPARTS
 *
 * Follows the streams PREFIX:{p0}:outbox .. PREFIX:{pNPARTS-1}:outbox on the Redis at
 * 127.0.0.1:PORT from their start with XREAD BLOCK, and prints one line per entry:
 *
 *   ENTRY_ID<TAB>ALERT_JSON
 *
 * The daemon adds entries with XADD * inside the MULTI/EXEC of the batch that caused them,
 * so the millisecond part of ENTRY_ID is Redis's clock when the alert was committed.
 * Delivered entries are trimmed by the daemon (XTRIM MINID) only after every sink has
 * delivered them and saved its cursor, several round trips after the EXEC; a blocked
 * XREAD is answered right after the EXEC, so the reader sees every entry unless it is
 * held off for that long between two reads. Whoever uses this must check that it saw as
 * many alerts as the sinks delivered (bench.sh does).
 *
 * Runs until SIGTERM/SIGINT (checked every 200 ms), then flushes stdout and exits 0;
 * exits 1 when Redis goes away or answers an error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#define MAX_PARTS 4096
#define ID_MAX 48

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Partition number of a key "PREFIX:{pN}:outbox", or -1. */
static long key_partition(const char *key)
{
    const char *s = strstr(key, ":{p");
    if (s == NULL)
        return -1;
    char *end;
    long p = strtol(s + 3, &end, 10);
    return end != s + 3 && *end == '}' ? p : -1;
}

/* Prints the entries of one stream of an XREAD reply and advances last[] for it.
 * Returns the number printed, or -1 on a malformed reply. */
static long print_stream(const redisReply *stream, long nparts, char (*last)[ID_MAX])
{
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
        stream->element[0]->type != REDIS_REPLY_STRING ||
        stream->element[1]->type != REDIS_REPLY_ARRAY)
        return -1;
    long p = key_partition(stream->element[0]->str);
    if (p < 0 || p >= nparts)
        return -1;
    const redisReply *entries = stream->element[1];
    long n = 0;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= ID_MAX)
            return -1;
        const redisReply *fields = e->element[1];
        const redisReply *alert = NULL;
        for (size_t f = 0; fields->type == REDIS_REPLY_ARRAY && f + 1 < fields->elements; f += 2)
            if (fields->element[f]->type == REDIS_REPLY_STRING &&
                strcmp(fields->element[f]->str, "a") == 0)
                alert = fields->element[f + 1];
        memcpy(last[p], e->element[0]->str, e->element[0]->len + 1);
        if (alert == NULL || alert->type != REDIS_REPLY_STRING)
            continue;
        printf("%s\t%.*s\n", e->element[0]->str, (int)alert->len, alert->str);
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    char *end;
    long port = argc == 4 ? strtol(argv[1], &end, 10) : 0;
    long nparts = argc == 4 ? strtol(argv[3], NULL, 10) : 0;
    if (argc != 4 || port <= 0 || port > 65535 || nparts <= 0 || nparts > MAX_PARTS) {
        fprintf(stderr, "usage: outbox-tail PORT PREFIX NPARTS\n");
        return 2;
    }
    const char *prefix = argv[2];
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)port, tv);
    if (c == NULL || c->err) {
        fprintf(stderr, "outbox-tail: cannot connect to redis: %s\n", c ? c->errstr : "ENOMEM");
        redisFree(c);
        return 1;
    }
    redisSetTimeout(c, tv); /* far above the 200 ms the XREAD blocks */
    /* argv of XREAD BLOCK 200 COUNT 10000 STREAMS key... id... */
    size_t argn = 6 + 2 * (size_t)nparts;
    char **args = calloc(argn, sizeof *args);
    char(*keys)[128] = calloc((size_t)nparts, sizeof *keys);
    char(*last)[ID_MAX] = calloc((size_t)nparts, sizeof *last);
    if (args == NULL || keys == NULL || last == NULL) {
        fprintf(stderr, "outbox-tail: out of memory\n");
        return 1;
    }
    args[0] = "XREAD";
    args[1] = "BLOCK";
    args[2] = "200";
    args[3] = "COUNT";
    args[4] = "10000";
    args[5] = "STREAMS";
    for (long p = 0; p < nparts; p++) {
        snprintf(keys[p], sizeof keys[p], "%s:{p%ld}:outbox", prefix, p);
        strcpy(last[p], "0-0");
        args[6 + p] = keys[p];
        args[6 + nparts + p] = last[p];
    }
    int rc = 0;
    long total = 0;
    while (!stop_requested) {
        redisReply *r = redisCommandArgv(c, (int)argn, (const char **)args, NULL);
        if (r == NULL) {
            fprintf(stderr, "outbox-tail: redis: %s\n", c->errstr);
            rc = 1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "outbox-tail: XREAD: %s\n", r->str);
            freeReplyObject(r);
            rc = 1;
            break;
        }
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
            long n = print_stream(r->element[i], nparts, last);
            if (n < 0) {
                fprintf(stderr, "outbox-tail: unexpected XREAD reply\n");
                rc = 1;
                break;
            }
            total += n;
        }
        freeReplyObject(r);
        if (rc != 0)
            break;
    }
    fflush(stdout);
    fprintf(stderr, "outbox-tail: %ld entries\n", total);
    free(args);
    free(keys);
    free(last);
    redisFree(c);
    return rc;
}
