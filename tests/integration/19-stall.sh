#!/bin/sh
# 19-stall.sh — a consumer that stops fetching while messages wait. With
# auto.offset.reset=error, an OFFSET_OUT_OF_RANGE answer to a Fetch (injected by the
# development broker) leaves librdkafka's consumer idle on that partition for good, the
# way 2.0.2 consumers have been seen stuck after a broker restart. The daemon must notice
# (messages wait, none arrive for engine.stall_timeout), try a re-fetch (a seek, which does
# not revive such a partition), then exit 1 with an explanation; restarted (as systemd
# would), it goes on from the offsets in Redis: every message applied exactly once.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,alerts-st
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it19/" -e "s/@PREFIX@/cws/" -e "s/@ALERTS@/alerts-st/" \
    -e "s/^    heartbeat.interval.ms: 500/    heartbeat.interval.ms: 500\n    auto.offset.reset: error/" \
    -e "s/^  clock: event/  clock: event\n  stall_timeout: 3s/" "$D/cw.tmpl" >"$D/cw.yaml"
grep -q 'stall_timeout: 3s' "$D/cw.yaml" || cw_fail "template has no engine.clock"
grep -q 'auto.offset.reset: error' "$D/cw.yaml" || cw_fail "template has no heartbeat.interval.ms"
grep -v 'auto.offset.reset' "$D/cw.yaml" >"$D/cw-first.yaml"

orders() { # from to
    i=$1
    while [ "$i" -le "$2" ]; do
        printf 'k%d\t{"type":"order","customer_id":"k%d","ts":"2024-01-01T00:00:00Z","order_id":"o%d","amount":1}\n' "$i" "$i" "$i"
        i=$((i + 1))
    done
}
orders 1 50 >"$D/one.tsv"
orders 51 100 >"$D/two.tsv"
# the first 50 with the default reset policy (a new group has no offset in Redis yet),
# then a restart with auto.offset.reset=error, from offset 50 as Redis holds it
cw_spawn "$D/churnwatchd-first.log" "$CW_BIN/churnwatchd" -c "$D/cw-first.yaml"
pid=$CW_LAST_PID
cw_produce orders "$D/one.tsv" || cw_fail produce
cw_wait_for "test \"\$(cw_redis HGET 'cws:{p0}:off' orders)\" = 50" 60 || cw_fail "first 50 not applied"
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"
cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "grep -q 'partition 0: assigned' '$D/churnwatchd.log'" 30 || cw_fail "not assigned"
sleep 1
cw_broker_ctl errors 1 1 1 # one Fetch -> OFFSET_OUT_OF_RANGE
cw_produce orders "$D/two.tsv" || cw_fail produce
cw_wait_for "grep -q 'messages wait after offset 50 but none arrived' '$D/churnwatchd.log'" 30 ||
    cw_fail "the stall was not detected (or the consumer was not stuck)"
grep -m1 'messages wait after offset' "$D/churnwatchd.log"
cw_wait_for "! cw_pid_alive $pid" 30 || cw_fail "the stuck daemon did not stop"
wait "$pid"
rc=$?
cw_forget_pid "$pid"
cw_assert_eq 1 "$rc" "exit status of the stuck daemon"
grep -m1 'stopping so that a restart' "$D/churnwatchd.log" || cw_fail "no explanation in the log"
cw_assert_eq 50 "$(cw_redis HGET 'cws:{p0}:off' orders)" "offset in Redis after the exit"

cw_spawn "$D/churnwatchd-2.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "test \"\$(cw_redis HGET 'cws:{p0}:off' orders)\" = 100" 60 ||
    cw_fail "stuck at $(cw_redis HGET 'cws:{p0}:off' orders) of 100 after the restart"
cw_assert_eq 100 "$(cw_redis --scan --pattern 'cws:{p0}:c:*' | wc -l | tr -d ' ')" "customers"
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"
grep -q 'applied 50, ' "$D/churnwatchd-2.log" ||
    cw_fail "the restart did not apply exactly 50: $(grep -o 'applied [0-9]*' "$D/churnwatchd-2.log" | tail -n 1)"
echo "19-stall: ok"
