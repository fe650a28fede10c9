#!/bin/sh
# 17-outbox-cap.sh — the alerts topic unavailable for a while: alerts wait in the Redis
# outbox, the partition stops consuming once the outbox holds engine.max_outbox (here 5)
# undelivered alerts (Redis memory stays bounded), and when the topic is back every alert
# is delivered and every event consumed. The broker answers the alerts producer's Produce
# requests with NOT_ENOUGH_REPLICAS (retriable) 64 times before it accepts them again.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,alerts-o
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it17/" -e "s/@PREFIX@/cwo/" -e "s/@ALERTS@/alerts-o/" \
    -e "s/^  clock: event/  clock: event\n  max_outbox: 5/" \
    -e "s/max_messages: 200/max_messages: 1/" -e "s/timer_interval: 100ms/timer_interval: 10ms/" \
    "$D/cw.tmpl" >"$D/cw.yaml"
grep -q '^  max_outbox: 5' "$D/cw.yaml" || cw_fail "template has no engine.clock to follow"

# 30 customers with a complaint opened on day 1, then 300 others with one on day 20: the
# first day-20 event moves the clock past day 8 and the sweep (every 10 ms here; one
# message per batch) fires the 30 complaints at once
i=0
: >"$D/in.tsv"
while [ $i -lt 30 ]; do
    printf 'c%02d\t{"type":"complaint.opened","customer_id":"c%02d","ts":"2024-01-01T00:00:00Z","complaint_id":"k"}\n' $i $i >>"$D/in.tsv"
    i=$((i + 1))
done
i=0
while [ $i -lt 300 ]; do
    printf 'd%03d\t{"type":"complaint.opened","customer_id":"d%03d","ts":"2024-01-20T00:00:00Z","complaint_id":"k"}\n' $i $i >>"$D/in.tsv"
    i=$((i + 1))
done
cw_produce complaints "$D/in.tsv" || cw_fail produce
cw_broker_ctl errors 0 64 19 # Produce -> NOT_ENOUGH_REPLICAS, retried by the producer

cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "grep -q 'consumption paused until the sinks catch up' '$D/churnwatchd.log'" 60 ||
    cw_fail "the partition was never paused for a full outbox"
grep 'consumption paused' "$D/churnwatchd.log" | head -n 1
off=$(cw_redis HGET 'cwo:{p0}:off' complaints)
test "${off:-0}" -lt 330 || cw_fail "all 330 events were consumed before the outbox filled"
len=$(cw_redis XLEN 'cwo:{p0}:outbox')
echo "paused at offset $off of 330 with $len alerts in the outbox"
sleep 1
cw_assert_eq "$off" "$(cw_redis HGET 'cwo:{p0}:off' complaints)" "offset a second later (paused)"

cw_wait_for "test \"\$(cw_redis HGET 'cwo:{p0}:off' complaints)\" = 330" 120 ||
    cw_fail "consumption did not resume: offset $(cw_redis HGET 'cwo:{p0}:off' complaints)"
grep -q 'consumption resumed' "$D/churnwatchd.log" || cw_fail "no 'consumption resumed' in the log"
ids() { cw_consume alerts-o | sed 's/.*"alert_id": *"\([0-9a-f]*\)".*/\1/' | sort -u; }
cw_wait_for 'test "$(ids | wc -l)" -ge 30' 90 || cw_fail "alerts lost: $(ids | wc -l) of 30 delivered"
cw_assert_eq 30 "$(ids | wc -l | tr -d ' ')" "distinct alerts delivered"
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"
echo "17-outbox-cap: ok"
