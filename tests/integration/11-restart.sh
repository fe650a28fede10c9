#!/bin/sh
# 11-restart.sh — effectively-once across restarts. The CDNOW order history is streamed
# into the broker while churnwatchd (run B) consumes it; B is killed with SIGKILL in the
# middle of the stream, restarted, stopped with SIGTERM, restarted again. Then a second
# group (run A) consumes the same topic without interruption. Both keep their state under
# their own key prefix in one redis-server. They must end identical: every customer's
# stored state, the offsets, the timers, and the set of alerts (alert_id, status, ts) —
# nothing counted twice, no alert lost; B may deliver an alert twice, with the same id.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 2 --topics orders,complaints,support,customers,alerts-a,alerts-b,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
for run in a b; do
    sed -e "s/@GROUP@/it11$run/" -e "s/@PREFIX@/cw$run/" -e "s/@ALERTS@/alerts-$run/" \
        -e 's/repeat_interval: 0/repeat_interval: 30d/' "$D/cw.tmpl" >"$D/cw-$run.yaml"
done

awk -v sortable=1 -f "$CW_ROOT/tests/tools/cdnow-events.awk" \
    "$CW_ROOT/tests/data/cdnow/CDNOW_sample.txt" |
    LC_ALL=C sort -s -t "$CW_TAB" -k1,1 | cut -f2- >"$D/orders.tsv"
TOTAL=$(wc -l <"$D/orders.tsv" | tr -d ' ')
echo "orders: $TOTAL"
split -n l/6 -d "$D/orders.tsv" "$D/chunk."

applied() { cw_applied "cw$1" orders 2; } # run $1
start_b() {
    cw_spawn "$D/churnwatchd-b$1.log" "$CW_BIN/churnwatchd" -c "$D/cw-b.yaml"
    B=$CW_LAST_PID
}

start_b 1
cw_produce orders "$D/chunk.00" || cw_fail produce
cw_wait_for 'test "$(applied b)" -gt 0' 60 || cw_fail "run B applied nothing"
cw_produce orders "$D/chunk.01" || cw_fail produce
sleep 0.3
echo "SIGKILL at $(applied b) of $TOTAL"
kill -KILL "$B"; wait "$B" 2>/dev/null; cw_forget_pid "$B"

start_b 2
cw_produce orders "$D/chunk.02" || cw_fail produce
cw_produce orders "$D/chunk.03" || cw_fail produce
sleep 0.5
echo "SIGTERM at $(applied b) of $TOTAL"
cw_stop_pid "$B" 30 || cw_fail "churnwatchd (B) exited with status $? on SIGTERM"

start_b 3
cw_produce orders "$D/chunk.04" || cw_fail produce
cw_produce orders "$D/chunk.05" || cw_fail produce
cw_wait_for 'test "$(applied b)" = "$TOTAL"' 120 || cw_fail "run B stopped at $(applied b) of $TOTAL"

cw_spawn "$D/churnwatchd-a.log" "$CW_BIN/churnwatchd" -c "$D/cw-a.yaml"
A=$CW_LAST_PID
cw_wait_for 'test "$(applied a)" = "$TOTAL"' 120 || cw_fail "run A stopped at $(applied a) of $TOTAL"

# Both outboxes drained: every sink cursor at the end of its stream.
drained() {
    for p in 0 1; do
        last=$(cw_redis XREVRANGE "cw$1:{p$p}:outbox" + - COUNT 1 | head -n 1)
        [ -z "$last" ] && continue
        [ "$(cw_redis GET "cw$1:{p$p}:sink:kafka")" = "$last" ] || return 1
    done
}
for run in a b; do cw_wait_swept "cw$run" 2; done
cw_wait_for 'drained a && drained b' 60 || cw_fail "outboxes not drained"
cw_stop_pid "$A" 30 || cw_fail "churnwatchd (A) exited with status $?"
cw_stop_pid "$B" 30 || cw_fail "churnwatchd (B) exited with status $?"

dump() { cw_dump_state "cw$1" 2; } # run $1
dump a >"$D/state-a.txt"
dump b >"$D/state-b.txt"
customers=$(grep -c ':c:' "$D/state-a.txt")
cw_assert_eq 2357 "$customers" "customers in run A"
cw_assert_same_state "$D/state-a.txt" "$D/state-b.txt" "state after restarts"
echo "ok: state identical ($customers customers, offsets, timers)"

alerts() {
    cw_consume "alerts-$1" | sed 's/.*"alert_id": *"\([0-9a-f]*\)".*"status": *"\([a-z]*\)".*"ts": *"\([^"]*\)".*/\1 \2 \3/' | sort -u
}
alerts a >"$D/alerts-a.txt"
alerts b >"$D/alerts-b.txt"
n=$(wc -l <"$D/alerts-a.txt" | tr -d ' ')
test "$n" -gt 100 || cw_fail "only $n alerts in run A"
if ! cmp -s "$D/alerts-a.txt" "$D/alerts-b.txt"; then
    diff "$D/alerts-a.txt" "$D/alerts-b.txt" | head -n 20
    cw_fail "alerts after restarts differ from the uninterrupted run"
fi
echo "ok: same $n alert notices (alert_id status ts); B delivered $(cw_consume alerts-b | wc -l | tr -d ' ') messages"

# Derived tiers were in play (daemon.yaml: tiers.derive), and the restarted instances
# recomputed the weekly cut-offs over customers read back from Redis, with the same result.
key=$(cw_consume alerts-a | grep -c '"tier": "key"')
test "$key" -gt 10 || cw_fail "only $key alerts of key customers in run A"
for p in 0 1; do
    a=$(cw_redis HGET "cwa:{p$p}:off" @tiers)
    b=$(cw_redis HGET "cwb:{p$p}:off" @tiers)
    test -n "$a" || cw_fail "no tier cut-offs stored for partition $p"
    cw_assert_eq "$a" "$b" "tier cut-offs of partition $p (week key strategic buyers)"
done
grep -h 'tiers for the week' "$D"/churnwatchd-b[23].log | head -n 2
test "$(cat "$D"/churnwatchd-b[23].log | grep -c 'tiers for the week')" -gt 0 ||
    cw_fail "the restarted instances never recomputed tier cut-offs"
echo "ok: $key alert notices of derived key customers; same cut-offs after restarts"
echo "11-restart: ok"
