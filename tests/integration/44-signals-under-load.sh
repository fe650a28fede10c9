#!/bin/sh
# 44-signals-under-load.sh — SIGTERM and SIGHUP while churnwatchd consumes flat out (issue 4
# item 8, "graceful under load"). A simulated population (~100,000 mixed events) is streamed
# in chunks into ONE topic `events` while three instances consume it, each in its own group
# and key prefix in one redis-server:
#   run A  uninterrupted;
#   run B  SIGTERM at seeded points while it has a backlog (3 times): each time it must exit
#          with status 0 within DRAIN_MAX seconds, its log showing the drain ("stopping:
#          finishing the batch and committing" ... "stopped", no uncommitted work left);
#          restarted each time, then run to completion;
#   run C  SIGHUP every ~300 ms (RELOADS times) while it has a backlog, reloading the same
#          config, except once a config with logging.level debug (and back to info with the
#          next one); then SLOW more, each once the previous reload's rescans have ended.
#          Every reload must be logged, C never exits. A reload re-evaluates every customer
#          (partition_rescan; the rapid reloads restart it, the slow ones let it end while
#          events still flow), which must not double anything.
# engine.lateness is 1d (held events in play), derived tiers on (daemon.yaml). All three
# runs must end identical: every customer's stored state bytes, the offsets, the due sets,
# the held events, and the alert notices (alert_id status ts, and their full content). A
# and C deliver each notice exactly once; B may repeat one with the same bytes.
#
# Environment: CW_SEED (default 44) seeds the simulator and the SIGTERM points; CW_TERMS
# (default 3), CW_RELOADS (default 12). Takes ~25 s with the sanitizer build on 2 cores.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
SEED=${CW_SEED:-44}
TERMS=${CW_TERMS:-3}
RELOADS=${CW_RELOADS:-12}
SLOW=3              # reloads after which C finishes its rescans before the next
DRAIN_MAX=10        # seconds from SIGTERM to exit
CUSTOMERS=2800      # ~100,000 events, ~16 MB
NP=12               # the development broker keeps 5 MB per partition
CHUNKS=$((TERMS + 2))
T0=$(date +%s)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
echo "seed $SEED, $TERMS SIGTERMs, $RELOADS + $SLOW SIGHUPs, $NP partitions"

cw_start_redis "$D"
cw_start_broker "$D" "$NP" --topics events,alerts-a,alerts-b,alerts-c,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
# As in 40-crash-consistency: one input topic, lateness 1d, a shorter session.
for run in a b c; do
    sed -e "s/@GROUP@/it44$run/" -e "s/@PREFIX@/cw$run/" -e "s/@ALERTS@/alerts-$run/" \
        -e 's/^    - name: orders$/    - name: events/' \
        -e '/^    - name: \(complaints\|support\|customers\)$/d' \
        -e 's/^  clock: event$/  clock: event\n  lateness: 1d/' \
        -e 's/session.timeout.ms: 6000/session.timeout.ms: 3000/' \
        -e 's/heartbeat.interval.ms: 500/heartbeat.interval.ms: 300/' \
        "$D/cw.tmpl" >"$D/cw-$run.yaml"
    grep -q '^  lateness: 1d' "$D/cw-$run.yaml" || cw_fail "template has no engine.clock to follow"
    test "$(grep -c '^    - name:' "$D/cw-$run.yaml")" = 1 || cw_fail "topics not replaced"
    grep -q 'session.timeout.ms: 3000' "$D/cw-$run.yaml" || cw_fail "session timeout not set"
done
# C's two configs: the same one, and one that differs only in the logging level.
cp "$D/cw-c.yaml" "$D/cw-c-same.yaml"
sed 's/^  level: info$/  level: debug/' "$D/cw-c.yaml" >"$D/cw-c-debug.yaml"
test "$(diff "$D/cw-c.yaml" "$D/cw-c-debug.yaml" | grep -c '^[<>]')" = 2 ||
    cw_fail "cannot make the logging.level variant of the config"
"$CW_BIN/churnwatchd" -t -c "$D/cw-c-debug.yaml" >/dev/null || cw_fail "debug config invalid"

"$CW_ROOT/build/simulate" --seed "$SEED" --customers "$CUSTOMERS" --start 2023-01-01 \
    --days 540 --kafka >"$D/events.tsv" 2>"$D/simulate.err" || cw_fail "simulate failed"
TOTAL=$(wc -l <"$D/events.tsv" | tr -d ' ')
test "$TOTAL" -ge 95000 || cw_fail "only $TOTAL events simulated"
types=$(cut -f2 "$D/events.tsv" | sed 's/.*"type":"\([a-z._]*\)".*/\1/' | sort -u | tr '\n' ' ')
echo "events: $TOTAL ($types)"
for t in order complaint.opened support.opened customer.updated; do
    case " $types" in *" $t "*) ;; *) cw_fail "no $t events in the stream" ;; esac
done
split -n l/$CHUNKS -d -a 2 "$D/events.tsv" "$D/chunk."

applied() { cw_applied "cw$1" events "$NP"; } # run $1
wait_applied() { cw_wait_applied "cw$1" events "$NP" "$2" "$3"; } # RUN N TIMEOUT_S
reloads_logged() { grep -c 'reload: rules and thresholds reloaded' "$D/churnwatchd-c.log"; }

rescans_logged() { grep -c 're-evaluated [0-9]* customers' "$D/churnwatchd-c.log"; }
wait_rescans() { # wait_rescans N — until N partition rescans were logged by C (20 s)
    _wr_left=2000
    while [ "$(rescans_logged)" -lt "$1" ]; do
        { [ "$_wr_left" -le 0 ] || ! cw_pid_alive "$C"; } && return 1
        sleep 0.01
        _wr_left=$((_wr_left - 1))
    done
}

# The SIGHUP sender (run in the background). Phase 1: RELOADS signals ~300 ms apart, each
# after the previous reload was logged; the 4th loads the logging.level debug variant,
# the 5th the same config again. A rescan takes longer than 300 ms, so each reload
# restarts the previous one's. Phase 2: SLOW more, each after the previous reload's
# rescans finished in all partitions. One line per signal in hup.txt: "N APPLIED_AT_SIGNAL
# LATENCY_MS [APPLIED_AT_RESCAN_END]", or FAIL ...
hup_loop() {
    wait_applied c $((TOTAL / 20)) 60 || { echo "FAIL C never got going" >>"$D/hup.txt"; return 1; }
    _h=1
    while [ "$_h" -le $((RELOADS + SLOW)) ]; do
        case $_h in
        4) cp "$D/cw-c-debug.yaml" "$D/cw-c.next" ;;
        *) cp "$D/cw-c-same.yaml" "$D/cw-c.next" ;;
        esac
        mv "$D/cw-c.next" "$D/cw-c.yaml"
        _before=$(applied c)
        _rescans=$(rescans_logged)
        _t=$(now_ms)
        kill -HUP "$C" || { echo "FAIL C is gone at SIGHUP $_h" >>"$D/hup.txt"; return 1; }
        _left=500
        while [ "$(reloads_logged)" -lt "$_h" ]; do
            if [ "$_left" -le 0 ] || ! cw_pid_alive "$C"; then
                echo "FAIL reload $_h not logged" >>"$D/hup.txt"
                return 1
            fi
            sleep 0.01
            _left=$((_left - 1))
        done
        _ms=$(( $(now_ms) - _t ))
        if [ "$_h" -ge "$RELOADS" ]; then
            wait_rescans $((_rescans + NP)) ||
                { echo "FAIL rescans after reload $_h not finished" >>"$D/hup.txt"; return 1; }
            echo "$_h $_before $_ms $(applied c)" >>"$D/hup.txt"
        else
            echo "$_h $_before $_ms" >>"$D/hup.txt"
            sleep 0.3
        fi
        _h=$((_h + 1))
    done
    echo "done" >>"$D/hup.txt"
}

start_b() {
    cw_spawn "$D/churnwatchd-b$1.log" "$CW_BIN/churnwatchd" -c "$D/cw-b.yaml"
    B=$CW_LAST_PID
}
awk -v s="$SEED" -v n="$TERMS" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%.3f\n", 0.1 + rand() * 0.8 }' \
    >"$D/fractions"

cw_spawn "$D/churnwatchd-a.log" "$CW_BIN/churnwatchd" -c "$D/cw-a.yaml"
A=$CW_LAST_PID
cw_spawn "$D/churnwatchd-c.log" "$CW_BIN/churnwatchd" -c "$D/cw-c.yaml"
C=$CW_LAST_PID
start_b 0
: >"$D/hup.txt"
HUP=""
terms=0
mid=0
drain_max=0
c=0
produced=0
for f in "$D"/chunk.*; do
    cw_produce events "$f" || cw_fail "produce $f"
    produced=$((produced + $(wc -l <"$f")))
    c=$((c + 1))
    if [ -z "$HUP" ]; then
        cw_spawn "$D/hup.log" hup_loop
        HUP=$CW_LAST_PID
    fi
    [ "$c" -ge 2 ] || continue
    [ "$terms" -lt "$TERMS" ] || continue
    terms=$((terms + 1))
    before=$(applied b)
    frac=$(sed -n "${terms}p" "$D/fractions")
    target=$(awk -v b="$before" -v p="$produced" -v f="$frac" 'BEGIN { printf "%d", b + 1 + f * (p - b - 1) }')
    wait_applied b "$target" 60 || cw_fail "run B stuck at $(applied b) of $TOTAL before SIGTERM $terms"
    cw_pid_alive "$B" || cw_fail "run B died before SIGTERM $terms"
    t=$(now_ms)
    kill -TERM "$B"
    at=$(applied b)
    left=$((DRAIN_MAX * 100 + 500))
    while cw_pid_alive "$B" && [ "$left" -gt 0 ]; do
        sleep 0.01
        left=$((left - 1))
    done
    ms=$(( $(now_ms) - t ))
    cw_pid_alive "$B" && cw_fail "run B still running $ms ms after SIGTERM $terms"
    wait "$B"
    rc=$?
    cw_forget_pid "$B"
    [ "$at" -lt "$produced" ] && mid=$((mid + 1))
    echo "SIGTERM $terms: B at $at (target $target) of $produced produced, exit $rc after $ms ms"
    cw_assert_eq 0 "$rc" "exit status of B after SIGTERM $terms"
    test "$ms" -lt $((DRAIN_MAX * 1000)) || cw_fail "SIGTERM $terms: B took $ms ms to stop"
    [ "$ms" -gt "$drain_max" ] && drain_max=$ms
    L=$D/churnwatchd-b$((terms - 1)).log
    grep -q 'stopping: finishing the batch and committing' "$L" || cw_fail "SIGTERM $terms: no drain logged"
    grep -q 'stopped with uncommitted work' "$L" && cw_fail "SIGTERM $terms: stopped with uncommitted work"
    tail -n 1 "$L" | grep -q 'stopped$' || cw_fail "SIGTERM $terms: log does not end with 'stopped'"
    start_b "$terms"
done
test "$terms" = "$TERMS" || cw_fail "only $terms SIGTERMs sent"
test "$mid" -ge 2 || cw_fail "only $mid of $terms SIGTERMs hit B with a backlog"
echo "produced all $TOTAL events after $(( $(date +%s) - T0 )) s; $mid of $terms SIGTERMs with a backlog"

# The SIGHUP sender finishes on its own (each reload logged) or fails.
cw_wait_for "grep -q '^done\$\\|^FAIL' '$D/hup.txt'" 60 || cw_fail "SIGHUP sender stuck: $(tail -n 1 "$D/hup.txt")"
wait "$HUP"
cw_forget_pid "$HUP"
grep '^FAIL' "$D/hup.txt" && cw_fail "SIGHUP sender: $(grep '^FAIL' "$D/hup.txt")"
cw_pid_alive "$C" || cw_fail "run C exited during the SIGHUPs"
reloads=$(reloads_logged)
cw_assert_eq $((RELOADS + SLOW)) "$reloads" "reloads logged by C"
hup_mid=$(awk -v t="$TOTAL" -v n="$RELOADS" '$1 ~ /^[0-9]+$/ && $1 <= n && $2 < t' "$D/hup.txt" | wc -l | tr -d ' ')
cw_assert_eq "$RELOADS" "$hup_mid" "rapid SIGHUPs sent while C had events left to apply"
# rescans that ran to their end in all partitions while C still had events to apply
rescan_mid=$(awk -v t="$TOTAL" 'NF == 4 && $4 < t' "$D/hup.txt" | wc -l | tr -d ' ')
reload_max=$(awk '$1 ~ /^[0-9]+$/ && $3 > m { m = $3 } END { print m + 0 }' "$D/hup.txt")
echo "SIGHUPs at C's applied counts: $(awk '$1 ~ /^[0-9]+$/ { printf "%s ", $2 }' "$D/hup.txt")"
echo "full rescans ended at C's applied counts: $(awk 'NF == 4 { printf "%s ", $4 }' "$D/hup.txt")"
test "$rescan_mid" -ge 1 || cw_fail "no full rescan ended while C had events to apply"
grep -q 'settings changed' "$D/churnwatchd-c.log" && cw_fail "a reload claims Kafka/Redis settings changed"

cw_wait_for 'test "$(applied b)" = "$TOTAL"' 150 || cw_fail "run B stopped at $(applied b) of $TOTAL"
cw_wait_for 'test "$(applied c)" = "$TOTAL"' 150 || cw_fail "run C stopped at $(applied c) of $TOTAL"
cw_wait_for 'test "$(applied a)" = "$TOTAL"' 150 || cw_fail "run A stopped at $(applied a) of $TOTAL"
echo "all runs applied all events after $(( $(date +%s) - T0 )) s"

drained() { # every sink cursor of run $1 at the end of its outbox stream
    _dr_p=0
    while [ "$_dr_p" -lt "$NP" ]; do
        _dr_last=$(cw_redis XREVRANGE "cw$1:{p$_dr_p}:outbox" + - COUNT 1 | head -n 1)
        if [ -n "$_dr_last" ]; then
            [ "$(cw_redis GET "cw$1:{p$_dr_p}:sink:kafka")" = "$_dr_last" ] || return 1
        fi
        _dr_p=$((_dr_p + 1))
    done
}
for run in a b c; do cw_wait_swept "cw$run" "$NP" 86400000; done # lateness 1d
cw_wait_for 'drained a && drained b && drained c' 60 || cw_fail "outboxes not drained"
cw_pid_alive "$C" || cw_fail "run C exited"
cw_stop_pid "$A" 30 || cw_fail "churnwatchd (A) exited with status $?"
cw_stop_pid "$B" 30 || cw_fail "churnwatchd (B) exited with status $?"
cw_stop_pid "$C" 30 || cw_fail "churnwatchd (C) exited with status $?"

dump() { cw_dump_state "cw$1" "$NP"; } # run $1
for run in a b c; do dump $run >"$D/state-$run.txt"; done
customers=$(grep -c ':c:' "$D/state-a.txt")
cw_assert_eq "$CUSTOMERS" "$customers" "customers in run A"
held=$(grep '^held p' "$D/state-a.txt" | grep -c '"')
test "$held" -gt 0 || cw_fail "no events held at the end (lateness not in play?)"
for run in b c; do
    cw_assert_same_state "$D/state-a.txt" "$D/state-$run.txt" "state of run $run (signals)"
done
echo "ok: state identical in A, B, C ($customers customers, offsets, timers, held events in $held partitions)"

ids() { sed 's/.*"alert_id": *"\([0-9a-f]*\)".*"status": *"\([a-z]*\)".*"ts": *"\([^"]*\)".*/\1 \2 \3/'; }
for run in a b c; do
    cw_consume "alerts-$run" >"$D/msgs-$run.json"
    ids <"$D/msgs-$run.json" | sort -u >"$D/alerts-$run.txt"
    sort -u "$D/msgs-$run.json" >"$D/full-$run.json"
done
n=$(wc -l <"$D/alerts-a.txt" | tr -d ' ')
test "$n" -gt 500 || cw_fail "only $n alert notices in run A"
grep -qv '^[0-9a-f]* [a-z]* [^ ]*$' "$D/alerts-a.txt" && cw_fail "unparsed alert: $(grep -v '^[0-9a-f]* [a-z]* [^ ]*$' "$D/alerts-a.txt" | head -n 1)"
for run in b c; do
    if ! cmp -s "$D/alerts-a.txt" "$D/alerts-$run.txt"; then
        diff "$D/alerts-a.txt" "$D/alerts-$run.txt" | head -n 20
        cw_fail "alerts of run $run differ from the uninterrupted run"
    fi
    cw_assert_eq "$n" "$(wc -l <"$D/full-$run.json" | tr -d ' ')" "distinct messages delivered by run $run"
    if ! cmp -s "$D/full-a.json" "$D/full-$run.json"; then
        diff "$D/full-a.json" "$D/full-$run.json" | head -n 6 | cut -c1-400
        cw_fail "alert notices of run $run differ in content from the uninterrupted run"
    fi
done
cw_assert_eq "$n" "$(wc -l <"$D/msgs-a.json" | tr -d ' ')" "messages delivered by run A"
cw_assert_eq "$n" "$(wc -l <"$D/msgs-c.json" | tr -d ' ')" "messages delivered by run C (reloads double nothing)"
msgs_b=$(wc -l <"$D/msgs-b.json" | tr -d ' ')
echo "ok: same $n alert notices in A, B, C, byte for byte; B delivered $msgs_b messages ($((msgs_b - n)) repeats)"
test "$(cat "$D"/churnwatchd-b[1-9]*.log | grep -c 'held events read back')" -gt 0 ||
    cw_fail "the restarted instances never read held events back"

echo "summary: events $TOTAL, customers $customers, alert notices $n; SIGTERMs $terms" \
    "($mid with a backlog), max drain $drain_max ms; SIGHUPs $((RELOADS + SLOW)), reloads logged $reloads" \
    "(max latency $reload_max ms), $rescan_mid full rescans mid-stream; $(( $(date +%s) - T0 )) s"
echo "44-signals-under-load: ok"
