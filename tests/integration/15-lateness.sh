#!/bin/sh
# 15-lateness.sh — engine.lateness in the daemon: events that arrive out of order (up to
# the lateness) are applied in event-time order, and the events held back for that are
# part of the state in Redis: a SIGKILL while events are held loses nothing.
#
# Customer a's complaint k1 is resolved a day after it was opened, but the resolution
# arrives first; with lateness 2d it is held, the opening applied before it, and k1 never
# fires. Customer b's complaint k2 stays open and fires 7 days later. The daemon is
# killed while b's opening and a's resolution are held, restarted, and the final alerts
# must be exactly those of `churnwatch replay` over the same events.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,alerts-late
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it15/" -e "s/@PREFIX@/cwl/" -e "s/@ALERTS@/alerts-late/" \
    -e "s/^  clock: event/  clock: event\n  lateness: 2d/" "$D/cw.tmpl" >"$D/cw.yaml"
grep -q '^  lateness: 2d' "$D/cw.yaml" || cw_fail "template has no engine.clock to follow"

ev() { # customer ts type complaint
    printf '%s\t{"type":"%s","customer_id":"%s","ts":"%s","complaint_id":"%s"}\n' "$1" "$3" "$1" "$2" "$4"
}
{
    ev a 2024-01-02T00:00:00Z complaint.resolved k1
    ev a 2024-01-01T00:00:00Z complaint.opened k1
    ev b 2024-01-03T00:00:00Z complaint.opened k2
} >"$D/part1.tsv"
{
    ev c 2024-01-10T00:00:00Z complaint.opened k3
    ev c 2024-01-10T01:00:00Z complaint.resolved k3
    ev d 2024-01-20T00:00:00Z complaint.opened k4
    ev d 2024-01-20T00:00:01Z complaint.resolved k4
} >"$D/part2.tsv"

cw_produce complaints "$D/part1.tsv" || cw_fail produce
cw_spawn "$D/churnwatchd-1.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "test \"\$(cw_redis HGET 'cwl:{p0}:off' complaints)\" = 3" 60 ||
    cw_fail "offsets not committed"
# held: a's resolution (01-02) and b's opening (01-03); the clock is 01-03, so the
# watermark (01-01) released a's opening only
cw_assert_eq 2 "$(cw_redis ZCARD 'cwl:{p0}:held')" "events held in Redis"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
cw_forget_pid "$pid"
echo "ok: SIGKILL with 2 events held"

cw_spawn "$D/churnwatchd-2.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for "grep -q '2 held events read back' '$D/churnwatchd-2.log'" 60 ||
    cw_fail "the restarted daemon did not read the held events back"
cw_produce complaints "$D/part2.tsv" || cw_fail produce
cw_wait_for "test \"\$(cw_redis HGET 'cwl:{p0}:off' complaints)\" = 7" 60 ||
    cw_fail "offsets not committed after the restart"
# the clock is 01-20, the watermark 01-18: held are only d's two events
cw_wait_for "test \"\$(cw_redis ZCARD 'cwl:{p0}:held')\" = 2" 30 ||
    cw_fail "held events in Redis: $(cw_redis ZCARD 'cwl:{p0}:held'), expected 2"
cw_wait_for "test \"\$(cw_consume alerts-late | wc -l | tr -d ' ')\" -ge 1" 30 ||
    cw_fail "no alert delivered"
sleep 1
cw_stop_pid "$pid" 20 || cw_fail "churnwatchd exit status $?"

# the same events, in the order produced, through replay (which releases what is still
# held at the end of its input: the daemon keeps d's events held, and they fire nothing)
cut -f2 "$D/part1.tsv" "$D/part2.tsv" >"$D/events.jsonl"
"$CW_BIN/churnwatch" replay -c "$D/cw.yaml" --topic complaints "$D/events.jsonl" \
    >"$D/replay.jsonl" 2>"$D/replay.err" || cw_fail "replay failed: $(cat "$D/replay.err")"
cat "$D/replay.err"
grep -q ' 0 late' "$D/replay.err" && cw_fail "summary prints 0 late"
ids() { sed 's/.*"alert_id": *"\([0-9a-f]*\)".*"status": *"\([a-z]*\)".*/\1 \2/' | sort -u; }
cw_consume alerts-late | ids >"$D/daemon-ids"
ids <"$D/replay.jsonl" >"$D/replay-ids"
cw_consume alerts-late
cw_assert_eq 1 "$(wc -l <"$D/daemon-ids" | tr -d ' ')" "alert notices from the daemon"
cw_consume alerts-late | grep -q '"customer_id": "b", "rule": "complaint_unresolved", "status": "firing"' ||
    cw_fail "b's complaint did not fire"
cmp -s "$D/daemon-ids" "$D/replay-ids" || cw_fail "daemon and replay differ: $(diff "$D/daemon-ids" "$D/replay-ids")"
echo "15-lateness: ok"
