#!/bin/sh
# 43-kafka-faults.sh — Kafka faults while churnwatchd consumes (issue 4 item 3): recovery or
# a clean, explained exit, never silent loss. The CDNOW orders are streamed in 8 chunks into
# a devbroker (1 broker, 2 partitions) while three groups consume them, each under its own
# key prefix in one redis-server:
#   S (group it43s, prefix cws, static membership: kafka property group.instance.id) —
#     part 3, a fatal consumer error. librdkafka 2.0.2's mock coordinator ignores
#     group.instance.id (two instances with the same id both join and split the partitions;
#     nobody is fenced), so the broker is told to answer the next Heartbeat with
#     FENCED_INSTANCE_ID (82), which is what a real broker answers the older instance.
#     librdkafka turns it into a fatal error (ERR__FATAL). S1 must exit with status 1 saying
#     so ("kafka: fatal error: ... fenced", "stopping: this needs a restart"); its successor
#     S2 (same instance id) resumes from Redis.
#   F (group it43f, prefix cwf) — part 1, started after S1's exit with G1 and S2: (a) the
#     broker goes down for ~3 s while chunk 3 streams in (pieces of 50 orders; kcat gives up
#     while every broker is down and the piece is produced again, so a piece may be in the
#     topic twice: the expected count is the topic's size, the same input for every run),
#     then up; (b) the next Fetch requests are answered with NOT_LEADER_OR_FOLLOWER (6) and
#     REQUEST_TIMED_OUT (7); (c) the next OffsetCommit requests with
#     COORDINATOR_NOT_AVAILABLE (15) and REQUEST_TIMED_OUT (7). F (and G1, S2, which share
#     the broker) must stay up, log the outage ("brokers are down") and the Fetch errors,
#     commit nothing while the broker is down, and catch up after each fault. The Kafka
#     offset commits feed lag tools only (the offsets that count are in Redis); librdkafka
#     retries them and logs a failure only sometimes, so (c) asserts no log line.
#   G (group it43g, prefix cwg) — part 2, rebalances mid-stream: while chunk 7 trickles in
#     (pieces of 20 orders, ~15 s), G2 joins G1's group (the coordinator revokes and splits
#     the partitions, range: one each), then G1 is stopped with SIGTERM (exit 0) while the
#     stream still runs, and G2 takes both partitions over.
# Finally R (group it43r, prefix cwr) consumes the same input without faults. The states
# under cws, cwf and cwg must each equal R's: every customer's stored bytes, the offsets
# (@clock, @tiers) and the due sets. Takes about 55 s.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
T0=$(date +%s)
cw_start_redis "$D"
cw_start_broker "$D" 2 \
    --topics orders,complaints,support,customers,alerts-s,alerts-f,alerts-g,alerts-r,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
for run in s f g r; do
    sed -e "s/@GROUP@/it43$run/" -e "s/@PREFIX@/cw$run/" -e "s/@ALERTS@/alerts-$run/" \
        "$D/cw.tmpl" >"$D/cw-$run.yaml"
done
# S: static membership (the property goes after heartbeat.interval.ms in kafka.properties)
sed -i 's/^    heartbeat.interval.ms: 500$/&\n    group.instance.id: cw43-static/' "$D/cw-s.yaml"
grep -q 'group.instance.id: cw43-static' "$D/cw-s.yaml" || cw_fail "cannot set group.instance.id"

awk -v sortable=1 -f "$CW_ROOT/tests/tools/cdnow-events.awk" \
    "$CW_ROOT/tests/data/cdnow/CDNOW_sample.txt" |
    LC_ALL=C sort -s -t "$CW_TAB" -k1,1 | cut -f2- >"$D/orders.tsv"
TOTAL=$(wc -l <"$D/orders.tsv" | tr -d ' ')
split -n l/8 -d "$D/orders.tsv" "$D/chunk."
echo "orders: $TOTAL in 8 chunks"
SENT=0
produce() { # CHUNK_NUMBER
    cw_produce orders "$D/chunk.0$1" || cw_fail "cannot produce chunk $1"
    SENT=$((SENT + $(wc -l <"$D/chunk.0$1" | tr -d ' ')))
}
# produce_bg LOG LINES FILE... — produces the files in the background, in pieces of LINES
# lines 0.25 s apart (a stream that lasts a while); sets BG. kcat gives up when every
# broker is down: the piece is then produced again (up to 60 times, 0.5 s apart), so a
# piece cut off by an outage may be in the topic twice (see topic_size).
produce_bg() {
    _log=$1
    _lines=$2
    shift 2
    cw_spawn "$_log" sh -c 'n=$1; shift; for f; do
            split -l "$n" -d -a 3 "$f" "$f.piece."
            for p in "$f".piece.*; do
                try=0
                until kcat -P -b "$CW_BROKERS" -t orders -K "$(printf "\t")" -X linger.ms=5 <"$p"; do
                    try=$((try + 1))
                    [ "$try" -lt 60 ] || exit 1
                    echo "produce_bg: $p again (try $try)"
                    sleep 0.5
                done
                sleep 0.25
            done
        done' sh "$_lines" "$@"
    BG=$CW_LAST_PID
}
# the number of messages in the orders topic (over both partitions)
topic_size() {
    cw_consume orders '%o\n' | wc -l | tr -d ' '
}
bg_done() { # WHAT — waits for the background producer; it must have delivered everything
    wait "$BG"
    _rc=$?
    cw_forget_pid "$BG"
    [ "$_rc" -eq 0 ] || cw_fail "$1: the background producer failed (status $_rc)"
    SENT=$(topic_size)
}
applied() { cw_applied "$1" orders 2; } # prefix $1
# caught_up WHAT PREFIX... — every order sent so far is committed under each prefix (60 s)
caught_up() {
    _what=$1
    shift
    for _p; do
        cw_wait_for 'test "$(applied $_p)" = "$SENT"' 60 ||
            cw_fail "$_what: $_p stopped at $(applied "$_p") of $SENT"
    done
    echo "ok: $_what: $* caught up ($SENT orders)"
}
alive() { # WHAT NAME=PID... — each daemon is still running
    _what=$1
    shift
    for _np; do
        cw_pid_alive "${_np#*=}" || cw_fail "$_what: ${_np%%=*} exited (see its log)"
    done
}
exit_status() { # PID — waits for a child that has exited (or exits within 30 s)
    cw_wait_for "! cw_pid_alive $1" 30 || return 255
    wait "$1"
    _es=$?
    cw_forget_pid "$1"
    return "$_es"
}

# ---- part 3: a fatal consumer error (static member fenced) ------------------------------
LS1=$D/churnwatchd-s1.log
cw_spawn "$LS1" "$CW_BIN/churnwatchd" -c "$D/cw-s.yaml"
S1=$CW_LAST_PID
produce 0
caught_up "(3) start" cws
produce 1
cw_broker_ctl errors 12 1 82   # the next Heartbeat: FENCED_INSTANCE_ID
exit_status "$S1"
rc=$?
cw_assert_eq 1 "$rc" "(3) S1's exit status after FENCED_INSTANCE_ID"
grep -q 'error: kafka: fatal error: .*fenced' "$LS1" ||
    cw_fail "(3) S1's log does not say it got a fatal error for being fenced"
grep -q 'error: stopping: this needs a restart' "$LS1" || cw_fail "(3) S1 did not say it stops"
echo "ok: (3) S1 exited 1: $(grep -m1 'kafka: fatal error' "$LS1" | cut -c26-200)"
S1_AT=$(applied cws)
test "$S1_AT" -le "$SENT" || cw_fail "(3) offsets beyond the input: $S1_AT of $SENT"
echo "(3) S1 had committed $S1_AT of $SENT orders"

# ---- F, G1 and the successor S2 start; part 1: broker down, request errors --------------
LF=$D/churnwatchd-f.log
cw_spawn "$LF" "$CW_BIN/churnwatchd" -c "$D/cw-f.yaml"
F=$CW_LAST_PID
cw_spawn "$D/churnwatchd-g1.log" "$CW_BIN/churnwatchd" -c "$D/cw-g.yaml"
G1=$CW_LAST_PID
cw_spawn "$D/churnwatchd-s2.log" "$CW_BIN/churnwatchd" -c "$D/cw-s.yaml"
S2=$CW_LAST_PID
produce 2
caught_up "(1) start" cwf cwg cws
echo "ok: (3) S2 resumed after S1's fatal exit"

# a. the broker goes down for ~3 s while chunk 3 streams in and F consumes it
sent0=$SENT
produce_bg "$D/produce-3.log" 50 "$D/chunk.03"
cw_wait_for 'test "$(applied cwf)" -gt "$sent0"' 20 || cw_fail "(1a) F did not start on chunk 3"
cw_broker_ctl down 1
echo "broker down at $(applied cwf) orders (F)"
OUTAGE='error: kafka churnwatchd#consumer.*brokers are down'
cw_wait_for "grep -q '$OUTAGE' '$LF'" 15 || cw_fail "(1a) the outage is not in F's log"
sleep 1
before=$(applied cwf)
sleep 2
alive "(1a) broker down" F="$F" G1="$G1" S2="$S2"
cw_pid_alive "$BG" || cw_fail "(1a) chunk 3 was produced completely before the outage"
cw_assert_eq "$before" "$(applied cwf)" "(1a) F's orders committed in 2 s of the outage"
echo "ok: (1a) outage logged: $(grep -m1 "$OUTAGE" "$LF" | cut -c26-220)"
cw_broker_ctl up 1
bg_done "(1a)"
echo "(1a) chunk 3: $(grep -c 'again' "$D/produce-3.log") pieces produced again; $SENT orders in the topic"
caught_up "(1a) broker up again" cwf cwg cws
alive "(1a) after the outage" F="$F" G1="$G1" S2="$S2"

# b. Fetch errors, c. OffsetCommit errors (retriable), each while a chunk is consumed
LOGS1="$LF $D/churnwatchd-g1.log $D/churnwatchd-s2.log"
produce 4
cw_broker_ctl errors 1 8 6     # NOT_LEADER_OR_FOLLOWER
cw_broker_ctl errors 1 8 7     # REQUEST_TIMED_OUT
# shellcheck disable=SC2086
cw_wait_for "cat $LOGS1 | grep -q 'Fetch from broker 1 failed: Broker: Request timed out'" 15 ||
    cw_fail "(1b) the injected Fetch errors are not in the logs"
produce 5
caught_up "(1b) Fetch errors 6, 7" cwf cwg cws
# shellcheck disable=SC2086
n=$(cat $LOGS1 | grep -c 'Fetch from broker 1 failed')
echo "ok: (1b) $n Fetch errors logged (F, G1, S2), e.g. $(cat $LOGS1 | grep -m1 'Fetch from broker 1 failed' | cut -c26-200)"
# shellcheck disable=SC2086
c0=$(cat $LOGS1 | grep -c 'Offset commit (manual) failed')
cw_broker_ctl errors 8 4 15    # COORDINATOR_NOT_AVAILABLE
cw_broker_ctl errors 8 4 7     # REQUEST_TIMED_OUT
produce_bg "$D/produce-6.log" 100 "$D/chunk.06"
bg_done "(1c)"
caught_up "(1c) OffsetCommit errors 15, 7" cwf cwg cws
# shellcheck disable=SC2086
c1=$(cat $LOGS1 | grep -c 'Offset commit (manual) failed')
# librdkafka retries these internally and does not always log them; the offsets that count
# are the ones in Redis, so the Kafka commits only feed lag tools
echo "(1c) $((c1 - c0)) failed Kafka offset commits logged"
alive "(1) after the request errors" F="$F" G1="$G1" S2="$S2"

# ---- part 2: rebalances mid-stream (G2 joins, G1 leaves) --------------------------------
LG1=$D/churnwatchd-g1.log
LG2=$D/churnwatchd-g2.log
produce_bg "$D/produce-7.log" 20 "$D/chunk.07"
cw_spawn "$LG2" "$CW_BIN/churnwatchd" -c "$D/cw-g.yaml"
G2=$CW_LAST_PID
cw_wait_for "grep -q 'assigned' '$LG2'" 20 || cw_fail "(2) G2 was not assigned a partition"
grep -q 'revoked' "$LG1" || cw_fail "(2) G1's partitions were not revoked when G2 joined"
mid=$(applied cwg)
echo "ok: (2) G2 joined at $mid orders committed: $(grep 'assigned' "$LG2" | cut -c26-80 | tr '\n' ' ')"
cw_wait_for "test \$(grep -c 'assigned' '$LG1') -ge 3" 10 ||
    cw_fail "(2) G1 got no partition back after G2 joined"
alive "(2) before SIGTERM" G1="$G1" G2="$G2"
cw_pid_alive "$BG" || cw_fail "(2) chunk 7 was produced completely before G1's SIGTERM"
echo "(2) SIGTERM G1 at $(applied cwg) orders committed (the stream still running)"
cw_stop_pid "$G1" 30 || cw_fail "(2) G1 exited with status $? on SIGTERM"
cw_wait_for "test \$(grep -c 'partition [01]: assigned' '$LG2') -ge 3" 30 ||
    cw_fail "(2) G2 did not take G1's partition over"
echo "ok: (2) G2 took over: $(grep 'assigned' "$LG2" | tail -n 2 | cut -c26-80 | tr '\n' ' ')"
bg_done "(2)"
test "$SENT" -ge "$TOTAL" || cw_fail "only $SENT of $TOTAL orders in the topic"
caught_up "end of input" cwf cwg cws
alive "end of input" F="$F" G2="$G2" S2="$S2"
for run in f g s; do cw_wait_swept "cw$run" 2; done
for n in F G2 S2; do
    eval "pid=\$$n"
    cw_stop_pid "$pid" 30 || cw_fail "$n exited with status $? on SIGTERM"
done

# ---- reference: the same input without faults, its own group and prefix -----------------
cw_spawn "$D/churnwatchd-r.log" "$CW_BIN/churnwatchd" -c "$D/cw-r.yaml"
R=$CW_LAST_PID
cw_wait_for 'test "$(applied cwr)" = "$SENT"' 60 || cw_fail "reference stopped at $(applied cwr)"
cw_wait_swept cwr 2
cw_stop_pid "$R" 30 || cw_fail "reference exited with status $?"

dump() { cw_dump_state "$1" 2; } # prefix $1
dump cwr >"$D/state-r.txt"
customers=$(grep -c ':c:' "$D/state-r.txt")
cw_assert_eq 2357 "$customers" "customers in the reference run"
for run in s f g; do
    dump "cw$run" >"$D/state-$run.txt"
    cw_assert_same_state "$D/state-r.txt" "$D/state-$run.txt" "state of run $run"
    echo "ok: run $run: state identical to the reference ($customers customers, offsets, timers)"
done
echo "kafka warnings logged: F $(grep -c 'warn: kafka' "$LF"), G1 $(grep -c 'warn: kafka' "$LG1"), G2 $(grep -c 'warn: kafka' "$LG2")"
echo "43-kafka-faults: ok ($(($(date +%s) - T0)) s)"
