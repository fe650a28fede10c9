#!/bin/sh
# 42-redis-faults.sh — Redis faults while churnwatchd consumes (issue 4 item 5). One daemon
# (run F) consumes the CDNOW orders, streamed in chunks, into a redis-server with AOF
# (appendonly yes, appendfsync always). Mid-stream, in turn:
#   a. Redis is stopped (SIGTERM), kept down ~3 s while orders arrive, and started again
#      on the same port and dir (data back from the AOF);
#   b. OOM: maxmemory below what Redis uses, maxmemory-policy noeviction, so every commit
#      is refused with OOM; ~3 s later maxmemory 0;
#   c. READONLY: REPLICAOF a closed port turns Redis into a replica that rejects writes
#      (and, never reaching a master, keeps its data); ~3 s later REPLICAOF NO ONE.
# For each: the daemon logs the fault, stays up (no exit), makes no progress during it
# (offsets in Redis unchanged), and resumes after it; after (a) the committed offsets
# survived the restart and the daemon says the state and offsets are intact.
# Then run R (its own group and key prefix, the same redis-server) consumes the same
# input without faults. Both must end identical: every customer's stored bytes, the
# offsets (@clock, @tiers) and the due sets — nothing lost, nothing applied twice, and the
# offsets in Redis never ran ahead of the state. Takes about 40 s.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
T0=$(date +%s)
cw_start_redis "$D" --appendonly yes --appendfsync always
cw_start_broker "$D" 2 --topics orders,complaints,support,customers,alerts-f,alerts-r,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it42f/" -e "s/@PREFIX@/cwf/" -e "s/@ALERTS@/alerts-f/" "$D/cw.tmpl" >"$D/cw-f.yaml"
sed -e "s/@GROUP@/it42r/" -e "s/@PREFIX@/cwr/" -e "s/@ALERTS@/alerts-r/" "$D/cw.tmpl" >"$D/cw-r.yaml"

awk -v sortable=1 -f "$CW_ROOT/tests/tools/cdnow-events.awk" \
    "$CW_ROOT/tests/data/cdnow/CDNOW_sample.txt" |
    LC_ALL=C sort -s -t "$CW_TAB" -k1,1 | cut -f2- >"$D/orders.tsv"
TOTAL=$(wc -l <"$D/orders.tsv" | tr -d ' ')
split -n l/7 -d "$D/orders.tsv" "$D/chunk."
echo "orders: $TOTAL"
SENT=0
produce() { # CHUNK_NUMBER
    cw_produce orders "$D/chunk.0$1" || cw_fail "cannot produce chunk $1"
    SENT=$((SENT + $(wc -l <"$D/chunk.0$1" | tr -d ' ')))
}
applied() { cw_applied "$1" orders 2; } # prefix $1
LF=$D/churnwatchd-f.log
alive() { cw_pid_alive "$F" || cw_fail "churnwatchd exited during $1 (see its log)"; }
# caught_up WHAT — every order sent so far is committed (60 s).
caught_up() {
    cw_wait_for 'test "$(applied cwf)" = "$SENT"' 60 ||
        cw_fail "$1: run F stopped at $(applied cwf) of $SENT"
    echo "ok: $1: run F caught up ($SENT orders)"
}
# held WHAT BEFORE — during a fault: alive, and the offsets in Redis did not move.
held() {
    alive "$1"
    cw_assert_eq "$2" "$(applied cwf)" "$1: orders committed during the fault"
}

cw_spawn "$LF" "$CW_BIN/churnwatchd" -c "$D/cw-f.yaml"
F=$CW_LAST_PID
produce 0
caught_up "start"

# ---- a. Redis stopped and restarted (AOF) -----------------------------------------------
sent0=$SENT
produce 1
# mid-stream: once the first commit of chunk 1 is in (the rest may still be in flight)
cw_wait_for 'test "$(applied cwf)" -gt "$sent0"' 20 || cw_fail "(a) nothing of chunk 1 committed"
before=$(applied cwf)
cw_stop_redis || cw_fail "redis-server exited with status $? on SIGTERM"
echo "redis stopped at $before of $SENT orders committed"
produce 2
cw_wait_for "grep -q 'reconnecting\\|cannot connect' '$LF'" 10 || cw_fail "(a) the outage is not in the log"
sleep 3
alive "(a) Redis down"
echo "ok: (a) outage logged: $(grep -m1 'reconnecting\|cannot connect' "$LF" | cut -c26-160)"
cw_restart_redis "$D"
after=$(applied cwf)
test "$after" -ge "$before" || cw_fail "(a) Redis lost commits over the restart: $before -> $after"
echo "ok: (a) the AOF kept every commit ($after >= $before)"
cw_wait_for "grep -q 'redis: reconnected; state and offsets of all partitions intact' '$LF'" 20 ||
    cw_fail "(a) no 'reconnected; state and offsets of all partitions intact'"
caught_up "(a) Redis restarted"
alive "(a) after the restart"

# ---- b. OOM -------------------------------------------------------------------------------
cw_redis CONFIG SET maxmemory-policy noeviction >/dev/null
used=$(cw_redis INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
cw_redis CONFIG SET maxmemory $((used / 2)) >/dev/null || cw_fail "CONFIG SET maxmemory"
cw_redis SET cw-oom-probe x 2>&1 | grep -q OOM || cw_fail "(b) Redis accepts writes despite maxmemory"
before=$(applied cwf)
produce 3
cw_wait_for "grep -q 'OOM' '$LF'" 10 || cw_fail "(b) the OOM errors are not in the log"
sleep 3
held "(b) OOM" "$before"
echo "ok: (b) OOM logged: $(grep -m1 'OOM' "$LF" | cut -c26-180)"
cw_redis CONFIG SET maxmemory 0 >/dev/null
caught_up "(b) after OOM"
alive "(b) after OOM"

# ---- c. READONLY (a replica of a closed port: no sync, the data stays) -------------------
keys=$(cw_redis DBSIZE)
NOPORT=$(cw_free_port) || cw_fail "no free port"
cw_redis REPLICAOF 127.0.0.1 "$NOPORT" >/dev/null || cw_fail "REPLICAOF"
cw_redis SET cw-ro-probe x 2>&1 | grep -q READONLY || cw_fail "(c) Redis accepts writes as a replica"
before=$(applied cwf)
produce 4
cw_wait_for "grep -q 'READONLY' '$LF'" 10 || cw_fail "(c) the READONLY errors are not in the log"
sleep 3
held "(c) READONLY" "$before"
echo "ok: (c) READONLY logged: $(grep -m1 'READONLY' "$LF" | cut -c26-180)"
cw_redis REPLICAOF NO ONE >/dev/null || cw_fail "REPLICAOF NO ONE"
cw_assert_eq "$keys" "$(cw_redis DBSIZE)" "(c) keys kept while a replica"
caught_up "(c) after READONLY"

produce 5
produce 6
caught_up "end of input"
alive "end of input"
cw_wait_swept cwf 2
cw_stop_pid "$F" 30 || cw_fail "run F exited with status $? on SIGTERM"

# ---- reference: the same input without faults, its own group and prefix -----------------
cw_spawn "$D/churnwatchd-r.log" "$CW_BIN/churnwatchd" -c "$D/cw-r.yaml"
R=$CW_LAST_PID
cw_wait_for 'test "$(applied cwr)" = "$TOTAL"' 60 || cw_fail "reference stopped at $(applied cwr)"
cw_wait_swept cwr 2
cw_stop_pid "$R" 30 || cw_fail "reference exited with status $?"

dump() { cw_dump_state "$1" 2; } # prefix $1
dump cwr >"$D/state-r.txt"
dump cwf >"$D/state-f.txt"
customers=$(grep -c ':c:' "$D/state-r.txt")
cw_assert_eq 2357 "$customers" "customers in the reference run"
cw_assert_same_state "$D/state-r.txt" "$D/state-f.txt" "state after the Redis faults"
echo "ok: state identical ($customers customers, offsets, timers)"
# the refused commits are retried every batch; their log lines are rate-limited
n=$(grep -c 'commit failed' "$LF")
test "$n" -ge 2 || cw_fail "only $n 'commit failed' lines: the faults were not seen"
test "$n" -le 40 || cw_fail "$n 'commit failed' lines: not rate-limited"
echo "ok: $n 'commit failed' log lines over the OOM and READONLY faults (rate-limited)"
echo "42-redis-faults: ok ($(($(date +%s) - T0)) s)"
