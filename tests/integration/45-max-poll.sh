#!/bin/sh
# 45-max-poll.sh — Redis away for longer than max.poll.interval.ms. librdkafka evicts a
# consumer that does not poll for max.poll.interval.ms; while Redis is down the daemon
# pauses its partitions but keeps polling, so it must keep its assignment (no revoke, no
# "max.poll" error) through a 15 s outage with max.poll.interval.ms = 7 s, and then apply
# everything exactly once: the final state equals a reference run's.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D" --appendonly yes --appendfsync always
cw_start_broker "$D" 2 --topics orders,complaints,support,customers,alerts-m,alerts-r
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it45m/" -e "s/@PREFIX@/cwm/" -e "s/@ALERTS@/alerts-m/" \
    -e "s/^    heartbeat.interval.ms: 500/    heartbeat.interval.ms: 500\n    max.poll.interval.ms: 7000/" \
    "$D/cw.tmpl" >"$D/cw-m.yaml"
grep -q 'max.poll.interval.ms: 7000' "$D/cw-m.yaml" || cw_fail "template has no heartbeat.interval.ms"
sed -e "s/@GROUP@/it45r/" -e "s/@PREFIX@/cwr/" -e "s/@ALERTS@/alerts-r/" "$D/cw.tmpl" >"$D/cw-r.yaml"

awk -v sortable=1 -f "$CW_ROOT/tests/tools/cdnow-events.awk" \
    "$CW_ROOT/tests/data/cdnow/CDNOW_sample.txt" |
    LC_ALL=C sort -s -t "$CW_TAB" -k1,1 | cut -f2- >"$D/orders.tsv"
TOTAL=$(wc -l <"$D/orders.tsv" | tr -d ' ')
split -n l/2 -d "$D/orders.tsv" "$D/half."
applied() { cw_applied "$1" orders 2; } # prefix $1

cw_spawn "$D/churnwatchd-m.log" "$CW_BIN/churnwatchd" -c "$D/cw-m.yaml"
M=$CW_LAST_PID
cw_produce orders "$D/half.00" || cw_fail produce
cw_wait_for 'test "$(applied cwm)" -gt 0' 60 || cw_fail "nothing applied"
cw_stop_redis
echo "redis stopped at $(date +%s)"
cw_produce orders "$D/half.01" || cw_fail produce
sleep 15
cw_pid_alive "$M" || cw_fail "churnwatchd exited while Redis was away"
cw_restart_redis "$D"
echo "redis restarted at $(date +%s)"
cw_wait_for "test \"\$(applied cwm)\" = $TOTAL" 60 || cw_fail "stopped at $(applied cwm) of $TOTAL"

cw_spawn "$D/churnwatchd-r.log" "$CW_BIN/churnwatchd" -c "$D/cw-r.yaml"
R=$CW_LAST_PID
cw_wait_for "test \"\$(applied cwr)\" = $TOTAL" 60 || cw_fail "reference stopped at $(applied cwr)"
cw_wait_swept cwr 2
cw_wait_swept cwm 2
cw_stop_pid "$M" 20 || cw_fail "churnwatchd exit status $?"
cw_stop_pid "$R" 20 || cw_fail "reference exit status $?"

grep -i 'max.poll\|MAX_POLL' "$D/churnwatchd-m.log" && cw_fail "the consumer exceeded max.poll.interval.ms"
revoked=$(grep -c ': revoked$' "$D/churnwatchd-m.log")
cw_assert_eq 2 "$revoked" "partitions revoked (only at the final stop)"
grep -q 'redis.*reconnected\|reconnected; state and offsets' "$D/churnwatchd-m.log" ||
    cw_fail "no reconnect in the log"
dump() { cw_dump_state "$1" 2; } # prefix $1
dump cwm >"$D/state-m.txt"
dump cwr >"$D/state-r.txt"
cw_assert_eq 2357 "$(grep -c ':c:' "$D/state-m.txt")" "customers"
cw_assert_same_state "$D/state-r.txt" "$D/state-m.txt" "state after the Redis outage"
echo "ok: 15 s without Redis, max.poll.interval.ms 7 s: no eviction, state identical (2357 customers)"
echo "45-max-poll: ok"
