/* bench-decode.c — measures decode_event (cJSON parse + field mapping + validation) on
 * typical order, complaint and support messages. Prints messages per second.
 *
 *   build/bench-decode [ITERATIONS]      (default 2,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "decode.h"

static const char *const messages[] = {
    "{\"type\":\"order\",\"customer_id\":\"c00042\",\"ts\":\"1997-03-05T12:00:00Z\","
    "\"order_id\":\"c00042-7\",\"amount\":29.33,\"event_id\":\"o-c00042-7\"}",
    "{\"type\":\"complaint.opened\",\"customer_id\":\"c00042\",\"ts\":\"1997-03-06T09:00:00Z\","
    "\"complaint_id\":\"k-c00042-1\",\"severity\":\"high\",\"category\":\"delivery\"}",
    "{\"type\":\"support.closed\",\"customer_id\":\"c00042\",\"ts\":1997000000000,"
    "\"ticket_id\":\"t-991\",\"satisfaction\":2}",
};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    struct topic_config topic;
    if (n <= 0 || topic_config_init_default(&topic, "bench") < 0)
        return 2;
    size_t lens[3];
    size_t bytes = 0;
    for (int i = 0; i < 3; i++)
        lens[i] = strlen(messages[i]);
    struct event ev;
    enum reject_reason why;
    char err[128];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long ok = 0;
    for (long i = 0; i < n; i++) {
        int k = (int)(i % 3);
        bytes += lens[k];
        if (decode_event(&topic, 65536, messages[k], lens[k], &ev, &why, err, sizeof err) == 0)
            ok++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("decode: %ld messages (%ld accepted, %.0f bytes avg) in %.3f s: %.2f M messages/s\n",
           n, ok, (double)bytes / (double)n, s, (double)n / s / 1e6);
    topic_config_clear(&topic);
    return ok == n ? 0 : 1;
}
