#!/bin/sh
# 10-daemon-alerts.sh — churnwatchd end to end on real components: events produced with
# kcat into the development broker, state in a real redis-server, alerts on the alerts
# topic. Checks the alerts (order_gap fired by an event and by the timer sweep, resolved
# by an order; complaint_unresolved), rejects (counted, dead-lettered with headers,
# offsets still committed), the state and offsets in Redis, and a clean SIGTERM exit.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 2
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e 's/@GROUP@/it10/' -e 's/@PREFIX@/cw/' -e 's/@ALERTS@/churn-alerts/' "$D/cw.tmpl" >"$D/cw.yaml"

# Day N of 2020 as RFC 3339.
day() { date -u -d "2020-01-01 +$1 days" +%Y-%m-%dT%H:%M:%SZ; }
ord() { printf '%s\t{"type":"order","customer_id":"%s","ts":"%s","order_id":"%s","amount":%s}\n' "$1" "$1" "$(day "$2")" "$3" "$4"; }
cmp() { printf '%s\t{"type":"complaint.%s","customer_id":"%s","ts":"%s","complaint_id":"%s"}\n' "$1" "$2" "$1" "$(day "$3")" "$4"; }

# Everything goes to partition 0 so that one partition clock drives the timers.
{
    ord a 0 a1 10; ord a 10 a2 20; ord a 20 a3 30      # typical gap 10 d: due day 50
    ord d 0 d1 5; ord d 1 d2 5; ord d 2 d3 5           # typical gap 1 d: due day 5
    ord a 60 a4 40                                     # a: fires at day 50, resolves at 60
    ord z 100 z1 1                                     # moves the clock: d fires by sweep
    printf 'x\tnot json at all\n'
    printf 'x\t{"type":"order","customer_id":"x","ts":"2020-01-01T00:00:00Z"}\n'
} >"$D/orders.tsv"
{
    cmp b opened 1 b-c1                                # unresolved: due day 8
    cmp c opened 1 c-c1; cmp c resolved 3 c-c1         # resolved in time: nothing
    printf 'b\t{"type":"support.opened","customer_id":"b","ts":"%s","ticket_id":"t1"}\n' "$(day 30)"
} >"$D/complaints.tsv"
CW_KCAT_OPTS="-p 0" cw_produce orders "$D/orders.tsv" || cw_fail "produce orders"
CW_KCAT_OPTS="-p 0" cw_produce complaints "$D/complaints.tsv" || cw_fail "produce complaints"

cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
DAEMON=$CW_LAST_PID
cw_wait_for 'test "$(cw_redis HGET "cw:{p0}:off" orders)" = 10 && test "$(cw_redis HGET "cw:{p0}:off" complaints)" = 4' 60 ||
    cw_fail "churnwatchd did not commit all offsets"
# 6 alerts expected; wait for them on the alerts topic
cw_wait_for 'test "$(cw_consume churn-alerts | wc -l)" -ge 6' 30 || cw_fail "alerts did not arrive"
sleep 1
cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd exited with status $?"

cw_consume churn-alerts '%k %s\n' >"$D/alerts.txt"
cat "$D/alerts.txt"
field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"; }
summary=$(while read -r key json; do
    printf '%s %s %s %s %s\n' "$key" "$(echo "$json" | field customer_id)" \
        "$(echo "$json" | field rule)" "$(echo "$json" | field status)" "$(echo "$json" | field ts)"
done <"$D/alerts.txt" | sort)
# b's ticket (day 30) has no reply within 2 days: support_unanswered fires on day 32,
# which raises b to alarm and re-sends its complaint alert ("escalation": "up").
expected="a a order_gap firing 2020-02-20T00:00:00.000Z
a a order_gap resolved 2020-03-01T00:00:00.000Z
b b complaint_unresolved firing 2020-01-09T00:00:00.000Z
b b complaint_unresolved firing 2020-02-02T00:00:00.000Z
b b support_unanswered firing 2020-02-02T00:00:00.000Z
d d order_gap firing 2020-01-06T00:00:00.000Z"
cw_assert_eq "$expected" "$summary" "alerts (key customer rule status ts)"

# One episode, one id: a's firing and resolved notices share the alert_id.
ids=$(grep '^a ' "$D/alerts.txt" | field alert_id | sort -u | wc -l | tr -d ' ')
cw_assert_eq 1 "$ids" "distinct alert_ids of a's episode"

# Rejects: both copied to the dead-letter topic with their reason and source.
cw_consume churn-dlq '%h\n' | sort >"$D/dlq.txt"
cat "$D/dlq.txt"
cw_assert_eq 2 "$(wc -l <"$D/dlq.txt" | tr -d ' ')" "dead-lettered messages"
grep -q 'churnwatch.reason=invalid_json' "$D/dlq.txt" || cw_fail "no invalid_json reason header"
grep -q 'churnwatch.reason=missing_field' "$D/dlq.txt" || cw_fail "no missing_field reason header"
grep -q 'churnwatch.offset=8' "$D/dlq.txt" || cw_fail "no source offset header"
grep -q 'orders/0/8: rejected (invalid_json)' "$D/churnwatchd.log" || cw_fail "reject not logged with topic/partition/offset"

# State in Redis: every accepted customer, no timers left (repeat_interval 0, a's episode
# closed and re-armed, d fired), the outbox trimmed down to at most the last delivered entry.
keys=$(cw_redis --scan --pattern 'cw:{p0}:c:*' | sort | tr '\n' ' ')
cw_assert_eq "cw:{p0}:c:a cw:{p0}:c:b cw:{p0}:c:c cw:{p0}:c:d cw:{p0}:c:z " "$keys" "customers in Redis"
# a (4 orders, typical gap 20 d) is next due at day 120; d fired and has no repeat; z (one
# order, day 100) is due for first_repeat_overdue at day 190.
cw_assert_eq "a z" "$(cw_redis ZRANGE 'cw:{p0}:due' 0 -1 | tr '\n' ' ' | sed 's/ $//')" "customers with a timer"
test "$(cw_redis XLEN 'cw:{p0}:outbox')" -le 1 || cw_fail "outbox not trimmed"
grep -q 'stopped' "$D/churnwatchd.log" || cw_fail "no clean shutdown in the log"
echo "10-daemon-alerts: ok"
