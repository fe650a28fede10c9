#!/bin/sh
# 16-sink-fatal.sh — a fatal error of the alerts producer loses no alert. The broker answers
# the alerts producer's next Produce requests with OUT_OF_ORDER_SEQUENCE_NUMBER, which is
# fatal to librdkafka's idempotent producer. The Kafka sink must say so, replace its
# producer and send the alerts again from the Redis outbox: every alert_id reaches the
# alerts topic (a duplicate, with the same alert_id, is allowed).
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,alerts-s
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it16/" -e "s/@PREFIX@/cws/" -e "s/@ALERTS@/alerts-s/" "$D/cw.tmpl" >"$D/cw.yaml"

opened() { # customer day
    printf '%s\t{"type":"complaint.opened","customer_id":"%s","ts":"2024-01-%02dT00:00:00Z","complaint_id":"k"}\n' "$1" "$1" "$2"
}
ids() { cw_consume alerts-s | sed 's/.*"alert_id": *"\([0-9a-f]*\)".*/\1/' | sort -u; }

cw_spawn "$D/churnwatchd-1.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
# five complaints, then an event 9 days later: five complaint_unresolved alerts
{ for c in a b c d e; do opened "$c" 1; done; opened z 10; } >"$D/one.tsv"
cw_produce complaints "$D/one.tsv" || cw_fail produce
cw_wait_for 'test "$(ids | wc -l)" -ge 5' 60 || cw_fail "first alerts not delivered: $(ids | wc -l)"
cw_assert_eq 5 "$(ids | wc -l | tr -d ' ')" "alerts before the fault"

# the error applies to every producer: produce the input first, with the daemon stopped
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"
{ for c in f g h i j; do opened "$c" 11; done; opened y 20; } >"$D/two.tsv"
cw_produce complaints "$D/two.tsv" || cw_fail produce
cw_broker_ctl errors 0 5 45 # Produce -> OUT_OF_ORDER_SEQUENCE_NUMBER
cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "grep -q 'fatal producer error' '$D/churnwatchd.log'" 60 ||
    cw_fail "no fatal producer error in the log"
grep 'fatal producer error' "$D/churnwatchd.log" | head -n 1
# six new alerts (f..j, and z's complaint of day 10, due on day 17) arrive after all
cw_wait_for 'test "$(ids | wc -l)" -ge 11' 90 || cw_fail "alerts lost: $(ids | wc -l) of 11 delivered"
cw_assert_eq 11 "$(ids | wc -l | tr -d ' ')" "distinct alert_ids delivered"
last=$(cw_redis XREVRANGE 'cws:{p0}:outbox' + - COUNT 1 | head -n 1)
cw_wait_for "test \"\$(cw_redis GET 'cws:{p0}:sink:kafka')\" = '$last'" 30 ||
    cw_fail "the kafka sink's cursor did not reach the end of the outbox"
cw_pid_alive "$pid" || cw_fail "churnwatchd exited"
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"
echo "ok: $(cw_consume alerts-s | wc -l | tr -d ' ') messages for 11 alert_ids after $(grep -c 'fatal producer error' "$D/churnwatchd.log") fatal producer errors"
echo "16-sink-fatal: ok"
