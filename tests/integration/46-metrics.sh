#!/bin/sh
# 46-metrics.sh — /metrics, /healthz and /readyz of a churnwatchd consuming from the
# development broker into a real redis-server (issue 6, docs/metrics.md):
#   - a second daemon configured with the first one's port exits 1 with a clear error;
#   - /readyz turns 200 once the group has assigned the partitions; /healthz is 200;
#   - after known input (valid events and one reject of every reason, on two partitions),
#     the counters are exact: consumed per topic = produced, rejected per topic and
#     reason, alerts written per rule and status, delivered per sink; the lag is 0;
#     `promtool check metrics` finds nothing to say about the exposition;
#   - Redis stopped: /readyz 503 "redis: not connected", /healthz still 200, events
#     produced meanwhile show as lag; Redis back (AOF): ready again, lag back to 0;
#   - a real Prometheus, configured with the scrape config and alerting rules of
#     docs/metrics.md (`promtool check rules` and `check config` first), scrapes the
#     daemon: the target is up, a query returns the consumed count, every rule evaluates.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D" --appendonly yes --appendfsync always
cw_start_broker "$D" 2 --topics orders,complaints,support,customers,churn-alerts,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e 's/@GROUP@/it46/' -e 's/@PREFIX@/cw/' -e 's/@ALERTS@/churn-alerts/' \
    -e 's/^  clock: event$/  clock: event\n  max_message_bytes: 512/' "$D/cw.tmpl" >"$D/cw.yaml"
grep -q '^  max_message_bytes: 512' "$D/cw.yaml" || cw_fail "template has no engine.clock"
grep -q '^  listen: "127.0.0.1:0"$' "$D/cw.yaml" || cw_fail "template has no metrics.listen"

# ---- input: the events of 10-daemon-alerts (6 alerts) and one reject per reason --------
day() { date -u -d "2020-01-01 +$1 days" +%Y-%m-%dT%H:%M:%SZ; }
ord() { printf '%s\t{"type":"order","customer_id":"%s","ts":"%s","order_id":"%s","amount":%s}\n' "$1" "$1" "$(day "$2")" "$3" "$4"; }
cmp() { printf '%s\t{"type":"complaint.%s","customer_id":"%s","ts":"%s","complaint_id":"%s"}\n' "$1" "$2" "$1" "$(day "$3")" "$4"; }
TS=2020-01-01T00:00:00Z
{
    ord a 0 a1 10; ord a 10 a2 20; ord a 20 a3 30      # a: order_gap fires day 50,
    ord d 0 d1 5; ord d 1 d2 5; ord d 2 d3 5           #    resolves day 60; d fires day 5
    ord a 60 a4 40
    ord z 100 z1 1
    printf 'x\t{"type":"order","customer_id":"x","ts":"%s","order_id":"o","pad":"%0600d"}\n' "$TS" 0
    printf 'x\tnot json at all\n'
    printf 'x\t{"type":"order","customer_id":"x","ts":"%s"}\n' "$TS"
    printf 'x\t{"type":"order","customer_id":"x","ts":"%s","order_id":"o","amount":"lots"}\n' "$TS"
    printf 'x\t{"type":"order.teleported","customer_id":"x","ts":"%s","order_id":"o","amount":1}\n' "$TS"
    printf 'x\t{"type":"order","customer_id":"x","ts":"yesterday","order_id":"o","amount":1}\n'
    printf 'x\t{"type":"order","customer_id":"x","ts":"%s","order_id":"o","amount":-5}\n' "$TS"
} >"$D/orders0.tsv"
{
    cmp b opened 1 b-c1                                # complaint_unresolved fires day 8,
    cmp c opened 1 c-c1; cmp c resolved 3 c-c1         # again (escalation) day 32 with
    printf 'b\t{"type":"support.opened","customer_id":"b","ts":"%s","ticket_id":"t1"}\n' "$(day 30)"
    printf 'y\t{"type":"complaint.opened","customer_id":"y","ts":"%s"}\n' "$TS"
} >"$D/complaints0.tsv"                                # support_unanswered
{ ord e 0 e1 10; ord e 10 e2 10; ord e 20 e3 10; } >"$D/orders1.tsv"
CW_KCAT_OPTS="-p 0" cw_produce orders "$D/orders0.tsv" || cw_fail "produce orders"
CW_KCAT_OPTS="-p 1" cw_produce orders "$D/orders1.tsv" || cw_fail "produce orders"
CW_KCAT_OPTS="-p 0" cw_produce complaints "$D/complaints0.tsv" || cw_fail "produce complaints"
N_ORDERS=$(cat "$D/orders0.tsv" "$D/orders1.tsv" | wc -l | tr -d ' ')
N_COMPLAINTS=$(wc -l <"$D/complaints0.tsv" | tr -d ' ')
cw_assert_eq "18 5" "$N_ORDERS $N_COMPLAINTS" "messages produced (orders, complaints)"

cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
DAEMON=$CW_LAST_PID
PORT=$(cw_metrics_port "$D/churnwatchd.log" 20) || cw_fail "churnwatchd logged no metrics port"
M=http://127.0.0.1:$PORT
echo "metrics on $M"

# ---- a port that is taken: a clear fatal start-up error --------------------------------
sed -e "s/^  listen: \"127.0.0.1:0\"$/  listen: \"127.0.0.1:$PORT\"/" -e 's/it46/it46-taken/' \
    "$D/cw.yaml" >"$D/cw-taken.yaml"
timeout 30 "$CW_BIN/churnwatchd" -c "$D/cw-taken.yaml" >"$D/taken.log" 2>&1
cw_assert_eq 1 "$?" "exit status of a daemon whose metrics port is taken"
grep -q "error: metrics.listen 127.0.0.1:$PORT: cannot listen: Address already in use" \
    "$D/taken.log" || cw_fail "no clear bind error: $(cat "$D/taken.log")"

# ---- ready after the assignment; consumes everything --------------------------------
cw_wait_for "curl -sf -m 5 $M/readyz" 60 || cw_fail "never ready: $(cw_http "$M/readyz")"
cw_assert_eq "ready" "$(cw_http "$M/readyz")" "/readyz body"
cw_http "$M/healthz" >"$D/healthz.txt"
cw_assert_eq "200 ok" "$CW_HTTP_STATUS $(cat "$D/healthz.txt")" "/healthz"
# shellcheck disable=SC2016
cw_wait_for 'test "$(cw_applied cw orders 2)" = 18 && test "$(cw_applied cw complaints 2)" = 5' 60 ||
    cw_fail "churnwatchd did not commit every offset"

scrape() { cw_http "$M/metrics" >"$1" && test "$CW_HTTP_STATUS" = 200; }
# value SERIES — from the latest scrape ($D/m.txt)
value() { cw_metric "$D/m.txt" "$1"; }
# sum_of REGEX — the sum of the series matching REGEX in the latest scrape
sum_of() { grep -E "^$1 " "$D/m.txt" | awk '{ n += $2 } END { print n + 0 }'; }
# caught up: 6 alerts delivered by both sinks, and the lag refreshed (every second) to 0
# for every topic of both partitions
settled() {
    scrape "$D/m.txt" &&
        test "$(value 'churnwatch_alerts_delivered_total{sink="kafka"}')" = 6 &&
        test "$(value 'churnwatch_alerts_delivered_total{sink="log"}')" = 6 &&
        test "$(grep -c '^churnwatch_consumer_lag_messages{' "$D/m.txt")" = 8 &&
        test "$(sum_of 'churnwatch_consumer_lag_messages\{.*\}')" = 0
}
cw_wait_for settled 60 || { cat "$D/m.txt"; cw_fail "metrics did not settle"; }
grep -v '^#' "$D/m.txt" | grep -v ' 0$' | grep -v '_bucket{'

# ---- exact counts ----------------------------------------------------------------------
cw_assert_eq 18 "$(value 'churnwatch_events_consumed_total{topic="orders"}')" "consumed orders"
cw_assert_eq 5 "$(value 'churnwatch_events_consumed_total{topic="complaints"}')" "consumed complaints"
cw_assert_eq 0 "$(value 'churnwatch_events_consumed_total{topic="support"}')" "consumed support"
cw_assert_eq 0 "$(value 'churnwatch_events_consumed_total{topic="customers"}')" "consumed customers"
for reason in too_large invalid_json missing_field wrong_type unknown_type bad_timestamp bad_value; do
    cw_assert_eq 1 "$(value "churnwatch_events_rejected_total{topic=\"orders\",reason=\"$reason\"}")" \
        "orders rejected as $reason"
done
cw_assert_eq 1 "$(value 'churnwatch_events_rejected_total{topic="complaints",reason="missing_field"}')" \
    "complaints rejected as missing_field"
cw_assert_eq 8 "$(sum_of 'churnwatch_events_rejected_total\{.*\}')" "rejected in all"
cw_assert_eq 15 "$(value churnwatch_events_applied_total)" "events applied"
# alerts per rule and status, summed over the levels
alerts() { sum_of "churnwatch_alerts_written_total\\{rule=\"$1\",level=\"[a-z]*\",status=\"$2\"\\}"; }
cw_assert_eq "2 1" "$(alerts order_gap firing) $(alerts order_gap resolved)" "order_gap firing, resolved"
cw_assert_eq "2 0" "$(alerts complaint_unresolved firing) $(alerts complaint_unresolved resolved)" \
    "complaint_unresolved firing, resolved"
cw_assert_eq 1 "$(alerts support_unanswered firing)" "support_unanswered firing"
cw_assert_eq 6 "$(sum_of 'churnwatch_alerts_written_total\{.*\}')" "alerts written in all"
cw_assert_eq 6 "$(cw_consume churn-alerts | wc -l | tr -d ' ')" "alerts on the alerts topic"
cw_assert_eq 0 "$(sum_of 'churnwatch_sink_delivery_failures_total\{.*\}')" "delivery failures"
cw_assert_eq 2 "$(value churnwatch_partitions_assigned)" "partitions assigned"
cw_assert_eq 1 "$(value churnwatch_redis_connected)" "redis connected"
cw_assert_eq 1 "$(value churnwatch_ready)" "churnwatch_ready"
cw_assert_eq 6 "$(value churnwatch_customers_cached)" "customers cached (a b c d z e)"
cw_assert_eq 1000000 "$(value churnwatch_outbox_capacity)" "outbox capacity"
test "$(grep -c '^churnwatch_outbox_depth{partition="[01]"}' "$D/m.txt")" = 2 ||
    cw_fail "no outbox depth for both partitions"
# delivered by both sinks: trimmed down to the last entry (read again every second)
cw_wait_for "scrape '$D/m.txt' && test \"\$(value 'churnwatch_outbox_depth{partition=\"0\"}')\" -le 1" 30 ||
    cw_fail "outbox depth of partition 0: $(value 'churnwatch_outbox_depth{partition="0"}')"
test "$(grep -c '^churnwatch_timers_due{partition="[01]"}' "$D/m.txt")" = 2 ||
    cw_fail "no timers due for both partitions"
# timers pending and customers at risk: the sizes of each partition's due and at-risk sets
risk_total=0
for p in 0 1; do
    cw_assert_eq "$(cw_redis ZCARD "cw:{p$p}:due")" \
        "$(value "churnwatch_timers_pending{partition=\"$p\"}")" "timers pending, partition $p"
    n=$(cw_redis ZCARD "cw:{p$p}:risk")
    cw_assert_eq "$n" "$(value "churnwatch_customers_at_risk{partition=\"$p\"}")" \
        "customers at risk, partition $p"
    risk_total=$((risk_total + n))
done
test "$risk_total" -gt 0 || cw_fail "no customer at risk: the comparison above proves nothing"
VERSION=$("$CW_BIN/churnwatchd" --version | awk '{ print $2 }')
cw_assert_eq 1 "$(value "churnwatch_build_info{version=\"$VERSION\"}")" "build info"
test "$(value churnwatch_commit_duration_seconds_count)" -gt 0 || cw_fail "no commit observed"
cw_assert_eq "$(value churnwatch_commit_duration_seconds_count)" \
    "$(value 'churnwatch_commit_duration_seconds_bucket{le="+Inf"}')" "commit histogram count = +Inf bucket"
test "$(value churnwatch_batch_messages_sum)" -ge 23 || cw_fail "batches hold fewer than 23 messages"
START=$(value process_start_time_seconds | cut -d. -f1)
if [ "$START" -gt "$(date +%s)" ] || [ "$START" -le $(($(date +%s) - 600)) ]; then
    cw_fail "process_start_time_seconds $START is not the start time"
fi

promtool check metrics <"$D/m.txt" >"$D/promtool.txt" 2>&1
cw_assert_eq "0" "$?" "promtool check metrics status ($(cat "$D/promtool.txt"))"
cw_assert_eq "" "$(cat "$D/promtool.txt")" "promtool check metrics findings"

# ---- Redis away: not ready, still alive, lag visible; back: ready, lag gone ------------
cw_stop_redis
cw_wait_for "test \"\$(cw_http $M/readyz)\" = 'redis: not connected'" 30 ||
    cw_fail "/readyz did not report Redis: $(cw_http "$M/readyz")"
cw_http "$M/readyz" >/dev/null
cw_assert_eq 503 "$CW_HTTP_STATUS" "/readyz status without Redis"
cw_http "$M/healthz" >/dev/null
cw_assert_eq 200 "$CW_HTTP_STATUS" "/healthz status without Redis"
{ ord e 30 e4 10; ord e 40 e5 10; ord e 50 e6 10; ord e 60 e7 10; ord e 70 e8 10; } >"$D/orders1b.tsv"
CW_KCAT_OPTS="-p 1" cw_produce orders "$D/orders1b.tsv" || cw_fail "produce orders"
cw_wait_for "scrape '$D/m.txt' && test \"\$(value 'churnwatch_consumer_lag_messages{topic=\"orders\",partition=\"1\"}')\" = 5" 30 ||
    cw_fail "lag of orders/1 without Redis: $(grep 'lag_messages{' "$D/m.txt" | tr '\n' ' ')"
cw_assert_eq 0 "$(value churnwatch_redis_connected)" "redis connected while stopped"
cw_assert_eq 0 "$(value churnwatch_ready)" "churnwatch_ready while Redis is stopped"
test "$(value churnwatch_redis_errors_total)" -gt 0 || cw_fail "no Redis error counted"
test "$(value 'churnwatch_partitions_paused{reason="redis"}')" -ge 1 ||
    cw_fail "no partition paused for Redis"
cw_pid_alive "$DAEMON" || cw_fail "churnwatchd exited while Redis was away"

cw_restart_redis "$D"
cw_wait_for "curl -sf -m 5 $M/readyz" 60 || cw_fail "not ready after Redis is back: $(cw_http "$M/readyz")"
# shellcheck disable=SC2016
cw_wait_for 'test "$(cw_applied cw orders 2)" = 23' 60 || cw_fail "the orders produced without Redis were not committed"
cw_wait_for "scrape '$D/m.txt' && test \"\$(sum_of 'churnwatch_consumer_lag_messages\\{.*\\}')\" = 0" 30 ||
    cw_fail "lag did not return to 0"
cw_assert_eq 23 "$(value 'churnwatch_events_consumed_total{topic="orders"}')" "consumed orders in all"
test "$(value churnwatch_redis_reconnects_total)" -ge 1 || cw_fail "no reconnect counted"
cw_assert_eq 1 "$(value churnwatch_redis_connected)" "redis connected again"

# ---- a real Prometheus with the scrape config and rules of docs/metrics.md -------------
# doc_block NAME — the fenced block after the line "<!-- NAME -->" in docs/metrics.md
doc_block() {
    awk -v m="<!-- $1 -->" '$0 == m { f = 1; next }
        f && /^```/ { if (body) exit; body = 1; next }
        body { print }' "$CW_ROOT/docs/metrics.md"
}
doc_block alerting-rules >"$D/churnwatch-rules.yml"
RULES=$(grep -c -- '- alert:' "$D/churnwatch-rules.yml")
test "$RULES" -ge 10 || cw_fail "docs/metrics.md: only $RULES alerting rules extracted"
promtool check rules "$D/churnwatch-rules.yml" >"$D/rules-check.txt" 2>&1 ||
    cw_fail "promtool check rules: $(cat "$D/rules-check.txt")"
grep -q "SUCCESS: $RULES rules found" "$D/rules-check.txt" ||
    cw_fail "promtool check rules: $(cat "$D/rules-check.txt")"
doc_block scrape-config | sed -e "s|127.0.0.1:9465|127.0.0.1:$PORT|" -e 's/: 15s$/: 1s/' \
    -e "s|- churnwatch-rules.yml|- $D/churnwatch-rules.yml|" >"$D/prometheus.yml"
grep -q "127.0.0.1:$PORT" "$D/prometheus.yml" || cw_fail "docs/metrics.md: no scrape target"
promtool check config "$D/prometheus.yml" >"$D/config-check.txt" 2>&1 ||
    cw_fail "promtool check config: $(cat "$D/config-check.txt")"
cw_start_prometheus "$D" "$D/prometheus.yml"
cw_wait_for "cw_prom_api /api/v1/targets | grep -q '\"health\":\"up\"'" 60 ||
    cw_fail "target never up: $(cw_prom_api /api/v1/targets)"
cw_wait_for "test \"\$(cw_prom_query 'churnwatch_events_consumed_total{topic=\"orders\"}')\" = 23" 30 ||
    cw_fail "query: $(cw_prom_query 'churnwatch_events_consumed_total{topic="orders"}')"
cw_assert_eq 8 "$(cw_prom_query 'sum(churnwatch_events_rejected_total)')" "rejected, through Prometheus"
# every rule evaluated without an error
rules_ok() {
    cw_prom_api /api/v1/rules >"$D/rules.json" &&
        test "$(grep -o '"health":"ok"' "$D/rules.json" | wc -l)" = "$RULES"
}
cw_wait_for rules_ok 30 || cw_fail "rules not all evaluated ok: $(cat "$D/rules.json")"
echo "ok: Prometheus scraped the daemon and evaluated $RULES rules"
cw_stop_prometheus

cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd exited with status $?"
echo "46-metrics: ok"
