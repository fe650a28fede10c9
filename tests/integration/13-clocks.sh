#!/bin/sh
# 13-clocks.sh — the two clocks. The same three orders (typical gap 10 days, so order_gap
# is due 30 days after the last one) are consumed twice, into two key prefixes:
#   clock: event — time is the partition's latest event: nothing more arrives, so the
#                  timer must NOT fire (replay semantics, deterministic);
#   clock: wall  — the wall clock is the backstop: the idle partition still fires the
#                  timer, and the alert carries the due time, not the time of the sweep.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,alerts-event,alerts-wall
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
for clock in event wall; do
    sed -e "s/@GROUP@/it13$clock/" -e "s/@PREFIX@/cw$clock/" -e "s/@ALERTS@/alerts-$clock/" \
        -e "s/clock: event/clock: $clock/" "$D/cw.tmpl" >"$D/cw-$clock.yaml"
    grep -q "clock: $clock" "$D/cw-$clock.yaml" || cw_fail "template has no engine.clock"
done
{
    printf 'k\t{"type":"order","customer_id":"k","ts":"2020-01-01T00:00:00Z","order_id":"1","amount":5}\n'
    printf 'k\t{"type":"order","customer_id":"k","ts":"2020-01-11T00:00:00Z","order_id":"2","amount":5}\n'
    printf 'k\t{"type":"order","customer_id":"k","ts":"2020-01-21T00:00:00Z","order_id":"3","amount":5}\n'
} >"$D/orders.tsv"
cw_produce orders "$D/orders.tsv" || cw_fail produce

for clock in event wall; do
    cw_spawn "$D/churnwatchd-$clock.log" "$CW_BIN/churnwatchd" -c "$D/cw-$clock.yaml"
    pid=$CW_LAST_PID
    cw_wait_for "test \"\$(cw_redis HGET 'cw$clock:{p0}:off' orders)\" = 3" 60 ||
        cw_fail "clock $clock: offsets not committed"
    # several timer sweeps (timer_interval is 100ms)
    sleep 2
    cw_stop_pid "$pid" 20 || cw_fail "clock $clock: exit status $?"
done

cw_assert_eq 0 "$(cw_consume alerts-event | wc -l | tr -d ' ')" "alerts with clock: event"
cw_assert_eq 1 "$(cw_consume alerts-wall | wc -l | tr -d ' ')" "alerts with clock: wall"
alert=$(cw_consume alerts-wall)
echo "$alert"
echo "$alert" | grep -q '"rule": "order_gap"' || cw_fail "not an order_gap alert"
echo "$alert" | grep -q '"status": "firing"' || cw_fail "not firing"
echo "$alert" | grep -q '"ts": "2020-02-20T00:00:00.000Z"' || cw_fail "ts is not the due time"
# the event-clock run still has the timer pending in Redis; the wall run has fired it
test -n "$(cw_redis ZSCORE 'cwevent:{p0}:due' k)" || cw_fail "event clock: timer not pending"
echo "13-clocks: ok"
