#!/bin/sh
# bench.sh — `make bench` (issue 5): churnwatch against the machine's own limits, in one run.
#
#   sh tests/bench/bench.sh             (make bench: 1,000,000 events over 100,000 customers)
#   BENCH_EVENTS=50000 sh tests/bench/bench.sh   (make bench-smoke: a few seconds)
#
# Steps (all on this machine, against its own development broker and redis-server):
#   1. build/simulate writes a mixed stream (orders, cancellations, complaints, support
#      tickets, customer updates) of BENCH_CUSTOMERS customers over 365 days; its first
#      BENCH_EVENTS events (the stream is in time order) are the benchmark input.
#   2. They are produced (untimed) to ONE topic `events` of the devbroker, with enough
#      partitions that each holds at most ~3 MB (the mock keeps 5 MB per partition and drops
#      the oldest data beyond that); a raw count checks that nothing was dropped.
#   3. Ceiling: kcat consumes the topic raw (-C -e -o beginning -q -f '%s\n' >/dev/null),
#      best of BENCH_KCAT_RUNS runs.
#   4. churnwatchd (release build, shipped config/churnwatch.yaml with the brokers, the
#      Redis port, the one topic and engine.clock: event swapped in) consumes the same topic
#      from the beginning; timed from its start until the sum of the committed offsets
#      (HGET cw:{pN}:off events) equals the event count. The figure without the start-up
#      (process start to the first committed offset: the mock coordinator holds the first
#      group join for 3 s) is shown too.
#   5. Redis memory per customer: INFO used_memory after minus before, divided by the
#      number of customer keys (cw:{pN}:c:*); it includes the outboxes, timers, offsets.
#   6. churnwatchd's peak RSS: VmHWM from /proc/PID/status just before SIGTERM.
#   7. `churnwatch replay` events/s on the CDNOW master file (all 69,659 orders, in time
#      order, config/backtest-cdnow.yaml; best of 3) and on the simulator stream (bench
#      config).
#   8. Prints one table and writes it, with the machine and the commands, to BENCH_OUT
#      (default docs/PERFORMANCE.md).
#
# Environment: BENCH_EVENTS (default 1000000), BENCH_CUSTOMERS (default BENCH_EVENTS/10),
# BENCH_PARTITIONS (minimum partition count, default 32), BENCH_KCAT_RUNS (default 2),
# BENCH_SEED (default 5), BENCH_OUT (default docs/PERFORMANCE.md), CW_KEEP=1 keeps the
# temporary directory. Prints figures; fails only when a step does not work (never on a
# slow machine). Not part of `make check`.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CW_BIN=$CW_ROOT/build            # release binaries, never the sanitizer ones
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR

EVENTS=${BENCH_EVENTS:-1000000}
CUSTOMERS=${BENCH_CUSTOMERS:-$((EVENTS / 10))}
MIN_NP=${BENCH_PARTITIONS:-32}
KCAT_RUNS=${BENCH_KCAT_RUNS:-2}
SEED=${BENCH_SEED:-5}
OUT=${BENCH_OUT:-$CW_ROOT/docs/PERFORMANCE.md}
PER_PART=3000000                 # bytes per partition we allow (the mock keeps 5 MB)
T_BEGIN=$(date +%s)

for b in churnwatchd churnwatch devbroker simulate; do
    [ -x "$CW_BIN/$b" ] || cw_fail "$CW_BIN/$b not built (make $CW_BIN/$b)"
done
command -v kcat >/dev/null || cw_fail "kcat not installed"
command -v redis-server >/dev/null || cw_fail "redis-server not installed"

now() { date +%s.%N; }
# rate N SECONDS -> events/s (integer)
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%d", (s > 0 ? n / s : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---- 1. the stream -------------------------------------------------------------------------
cw_log "simulating $CUSTOMERS customers, keeping the first $EVENTS events"
"$CW_BIN/simulate" --seed "$SEED" --customers "$CUSTOMERS" --start 2023-01-01 --days 365 \
    --kafka 2>"$D/simulate.err" | head -n "$EVENTS" >"$D/events.tsv"
TOTAL=$(wc -l <"$D/events.tsv" | tr -d ' ')
BYTES=$(wc -c <"$D/events.tsv" | tr -d ' ')
[ "$TOTAL" -eq "$EVENTS" ] || cw_fail "the simulator gave only $TOTAL events (raise BENCH_CUSTOMERS)"
cut -f2 "$D/events.tsv" >"$D/events.jsonl"
MIX=$(sed 's/.*"type":"\([a-z._]*\)".*/\1/' "$D/events.jsonl" | sort | uniq -c | sort -rn |
    awk -v n="$TOTAL" '{ printf "%s%s %.1f%%", (NR > 1 ? ", " : ""), $2, 100 * $1 / n }')
SIM_CUSTOMERS=$(cut -f1 "$D/events.tsv" | sort -u | wc -l | tr -d ' ')
NP=$(( (BYTES + PER_PART - 1) / PER_PART ))
[ "$NP" -ge "$MIN_NP" ] || NP=$MIN_NP
AVG=$((BYTES / TOTAL))
echo "stream: $TOTAL events, $SIM_CUSTOMERS customers, $BYTES bytes (~$AVG per line with key), $NP partitions"
echo "mix: $MIX"

# ---- 2. broker, redis, produce -------------------------------------------------------------
cw_start_redis "$D"
cw_start_broker "$D" "$NP" --topics events,bench-alerts,churn-dlq
cw_log "producing $TOTAL events"
t0=$(now)
CW_KCAT_OPTS="-X linger.ms=20 -X batch.num.messages=10000" cw_produce events "$D/events.tsv" ||
    cw_fail "produce failed"
t1=$(now)
PRODUCE_RATE=$(rate "$TOTAL" "$(secs "$t0" "$t1")")
held=$(cw_consume events '\n' | wc -l | tr -d ' ')
cw_assert_eq "$TOTAL" "$held" "events held by the broker (nothing dropped by retention)"

# ---- 3. ceiling: kcat raw ------------------------------------------------------------------
KCAT_S=""
i=0
while [ "$i" -lt "$KCAT_RUNS" ]; do
    t0=$(now)
    kcat -C -b "$CW_BROKERS" -t events -o beginning -e -q -f '%s\n' >/dev/null ||
        cw_fail "kcat consume failed"
    t1=$(now)
    s=$(secs "$t0" "$t1")
    echo "kcat run $((i + 1)): $s s"
    KCAT_S=$(awk -v a="$KCAT_S" -v b="$s" 'BEGIN { print (a == "" || b < a) ? b : a }')
    i=$((i + 1))
done
KCAT_RATE=$(rate "$TOTAL" "$KCAT_S")

# ---- 4. churnwatchd end to end -------------------------------------------------------------
sed -e "s|^  brokers: .*|  brokers: \"$CW_BROKERS\"|" \
    -e 's|^  group_id: .*|  group_id: bench|' \
    -e 's|^  alerts_topic: .*|  alerts_topic: bench-alerts|' \
    -e "s|^  port: 6379 .*|  port: $CW_REDIS_PORT|" \
    -e 's|^  clock: wall|  clock: event|' \
    -e '/^    - name: \(complaints\|support\|customers\) /d' \
    -e 's|^    - name: orders .*|    - name: events|' \
    "$CW_ROOT/config/churnwatch.yaml" >"$D/bench.yaml"
grep -q "^  port: $CW_REDIS_PORT" "$D/bench.yaml" || cw_fail "config: redis port not set"
grep -q '^  clock: event' "$D/bench.yaml" || cw_fail "config: clock not set"
test "$(grep -c '^    - name:' "$D/bench.yaml")" = 1 || cw_fail "config: topics not replaced"
"$CW_BIN/churnwatch" check-config -c "$D/bench.yaml" >/dev/null || cw_fail "bench config invalid"

applied() { # sum of the committed `events` offsets over all partitions (one redis-cli)
    seq 0 $((NP - 1)) | sed "s/.*/HGET cw:{p&}:off events/" | cw_redis |
        awk '{ n += $1 } END { print n + 0 }'
}
mem_used() { cw_redis INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
MEM0=$(mem_used)
# cpu PID -> CPU seconds (user + system) the process has used so far
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$1/stat"; }
REDIS_CPU0=$(cpu "$CW_REDIS_PID")
BROKER_CPU0=$(cpu "$CW_BROKER_PID")

cw_log "churnwatchd: consuming $TOTAL events"
t0=$(now)
cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/bench.yaml"
DAEMON=$CW_LAST_PID
t_first=""
n=0
while :; do
    n=$(applied)
    [ -z "$t_first" ] && [ "$n" -gt 0 ] && t_first=$(now)
    [ "$n" -ge "$TOTAL" ] && break
    cw_pid_alive "$DAEMON" || cw_fail "churnwatchd died at $n of $TOTAL"
    [ "$(secs "$t0" "$(now)" | cut -d. -f1)" -lt 1800 ] || cw_fail "churnwatchd stuck at $n of $TOTAL"
    sleep 0.05
done
t1=$(now)
CW_S=$(secs "$t0" "$t1")
CW_STEADY_S=$(secs "$t_first" "$t1")
STARTUP_S=$(secs "$t0" "$t_first")
CW_RATE=$(rate "$TOTAL" "$CW_S")
CW_STEADY_RATE=$(rate "$TOTAL" "$CW_STEADY_S")
RATIO=$(awk -v a="$CW_RATE" -v b="$KCAT_RATE" 'BEGIN { printf "%.2f", a / b }')
RATIO_STEADY=$(awk -v a="$CW_STEADY_RATE" -v b="$KCAT_RATE" 'BEGIN { printf "%.2f", a / b }')
HWM_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON/status")
[ -n "$HWM_KB" ] || cw_fail "no VmHWM for churnwatchd"
CW_CPU=$(cpu "$DAEMON")
REDIS_CPU=$(secs "$REDIS_CPU0" "$(cpu "$CW_REDIS_PID")")
BROKER_CPU=$(secs "$BROKER_CPU0" "$(cpu "$CW_BROKER_PID")")
CPU_LINE="CPU seconds during the churnwatchd run ($CW_S s wall, $(nproc) CPUs): churnwatchd $CW_CPU, redis-server $REDIS_CPU, devbroker $BROKER_CPU"
echo "churnwatchd: $TOTAL events in $CW_S s ($STARTUP_S s to the first commit)"

# ---- 5. Redis memory per customer ----------------------------------------------------------
MEM1=$(mem_used)
cw_redis --scan --pattern 'cw:{p*}:c:*' >"$D/customer-keys"
STATE_CUSTOMERS=$(wc -l <"$D/customer-keys" | tr -d ' ')
[ "$STATE_CUSTOMERS" -gt 0 ] || cw_fail "no customer state in Redis"
PER_CUSTOMER=$(( (MEM1 - MEM0) / STATE_CUSTOMERS ))
# MEMORY USAGE of 1000 customer keys alone (value + key + Redis's per-key overhead)
KEY_BYTES=$(head -n 1000 "$D/customer-keys" | sed 's/^/MEMORY USAGE /' | cw_redis |
    awk '{ s += $1; n++ } END { printf "%d", (n ? s / n : 0) }')
DBSIZE=$(cw_redis DBSIZE)
ALERTS=$(seq 0 $((NP - 1)) | sed 's/.*/XLEN cw:{p&}:outbox/' | cw_redis | awk '{ n += $1 } END { print n + 0 }')

cw_stop_pid "$DAEMON" 30 || cw_fail "churnwatchd exited with status $?"

# ---- 7. replay -----------------------------------------------------------------------------
awk -v plain=1 -v sortable=1 -f "$CW_ROOT/tests/tools/cdnow-events.awk" \
    "$CW_ROOT/tests/data/cdnow/CDNOW_master.txt" |
    LC_ALL=C sort -s -t "$CW_TAB" -k1,1 | cut -f2- >"$D/cdnow.jsonl"
CDNOW_N=$(wc -l <"$D/cdnow.jsonl" | tr -d ' ')
best=""
for i in 1 2 3; do
    t0=$(now)
    "$CW_BIN/churnwatch" replay -c "$CW_ROOT/config/backtest-cdnow.yaml" "$D/cdnow.jsonl" \
        >/dev/null 2>"$D/replay-cdnow.err" || { cat "$D/replay-cdnow.err" >&2; cw_fail "replay (CDNOW) failed"; }
    t1=$(now)
    best=$(awk -v a="$best" -v b="$(secs "$t0" "$t1")" 'BEGIN { print (a == "" || b < a) ? b : a }')
done
REPLAY_CDNOW_S=$best
REPLAY_CDNOW_RATE=$(rate "$CDNOW_N" "$best")
t0=$(now)
"$CW_BIN/churnwatch" replay -c "$D/bench.yaml" "$D/events.jsonl" >"$D/replay-sim.out" \
    2>"$D/replay-sim.err" || { cat "$D/replay-sim.err" >&2; cw_fail "replay (simulator) failed"; }
t1=$(now)
REPLAY_SIM_S=$(secs "$t0" "$t1")
REPLAY_SIM_RATE=$(rate "$TOTAL" "$REPLAY_SIM_S")

# ---- 8. the table --------------------------------------------------------------------------
CPU=$(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -n 1)
RAM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
MACHINE="$(nproc) CPUs ($CPU), $RAM RAM, $(uname -sr)"
VERSIONS="kcat $(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p'), redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), librdkafka $(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][^ ]*\).*/\1/p' | head -n 1)"
HWM_MB=$(awk -v k="$HWM_KB" 'BEGIN { printf "%.1f", k / 1024 }')
verdict() { awk -v v="$1" -v t="$2" -v d="$3" 'BEGIN { if (d == "min") print (v + 0 >= t + 0 ? "met" : "NOT met"); else print (v + 0 <= t + 0 ? "met" : "NOT met") }'; }
RUNTIME=$(( $(date +%s) - T_BEGIN ))

{
    echo "| measure | figure | target (issue 5) |"
    echo "|---|---|---|"
    echo "| kcat raw consume (ceiling), best of $KCAT_RUNS | $KCAT_RATE events/s ($KCAT_S s) | |"
    echo "| churnwatchd end to end, start to all offsets committed | $CW_RATE events/s ($CW_S s) | |"
    echo "| ratio to kcat | $RATIO x | >= 0.5 x: $(verdict "$RATIO" 0.5 min) (aim 0.8 x) |"
    echo "| churnwatchd without start-up ($STARTUP_S s to first commit) | $CW_STEADY_RATE events/s, $RATIO_STEADY x kcat | |"
    echo "| Redis memory per customer (used_memory delta / $STATE_CUSTOMERS customers) | $PER_CUSTOMER bytes | <= 256: $(verdict "$PER_CUSTOMER" 256 max) |"
    echo "| of which the customer key alone (MEMORY USAGE, mean of 1000) | $KEY_BYTES bytes | |"
    echo "| churnwatchd peak RSS (VmHWM), $STATE_CUSTOMERS customers | $HWM_MB MB | < 256 MB at 1 M customers: not measured at 1 M |"
    echo "| churnwatch replay, CDNOW master ($CDNOW_N events), best of 3 | $REPLAY_CDNOW_RATE events/s ($REPLAY_CDNOW_S s) | >= 1 M/s: $(verdict "$REPLAY_CDNOW_RATE" 1000000 min) |"
    echo "| churnwatch replay, simulator stream ($TOTAL events) | $REPLAY_SIM_RATE events/s ($REPLAY_SIM_S s) | >= 1 M/s: $(verdict "$REPLAY_SIM_RATE" 1000000 min) |"
    echo "| kcat produce (loading, for reference) | $PRODUCE_RATE events/s | |"
} >"$D/table.md"

echo
echo "machine: $MACHINE; $VERSIONS"
echo "input: $TOTAL events, $SIM_CUSTOMERS customers, ~$AVG bytes per message with key, topic events with $NP partitions"
cat "$D/table.md"
echo "$CPU_LINE"
echo "redis keys after the run: $DBSIZE; alerts in the outboxes: $ALERTS; bench runtime $RUNTIME s"

cat >"$OUT" <<EOF
# Performance

Written by \`make bench\` (tests/bench/bench.sh) on $(date -u +%Y-%m-%d); every figure below
comes from the same run. Absolute rates vary from run to run and machine to machine: compare
the ratios, and re-run before quoting a figure.

**Machine:** $MACHINE; $VERSIONS. The development broker (librdkafka's mock cluster,
tests/tools/devbroker.c), redis-server, kcat/churnwatchd and the load script all share these
CPUs.

**Input:** $TOTAL events from \`build/simulate --seed $SEED --customers $CUSTOMERS --days 365\`
(the first $TOTAL events of the time-ordered stream; $SIM_CUSTOMERS customers appear in them),
~$AVG bytes per message with its key, produced to one topic \`events\` with $NP partitions
before anything is timed. Mix: $MIX.

$(cat "$D/table.md")

$CPU_LINE.

Redis after the run: $DBSIZE keys, $ALERTS alerts in the outboxes. Bench runtime: $RUNTIME s.

## How each figure is taken

- **kcat (ceiling):** \`kcat -C -b BROKERS -t events -o beginning -e -q -f '%s\n' >/dev/null\`,
  the wall time of the whole process, best of $KCAT_RUNS runs, over exactly the data
  churnwatchd reads.
- **churnwatchd end to end:** \`build/churnwatchd -c bench.yaml\` (release build, \`-O2 -g\`) with
  config/churnwatch.yaml as shipped except brokers, Redis port, group \`bench\`, the one topic
  \`events\` and \`engine.clock: event\` (the stream is from 2023). Timed from the process
  start until the sum over partitions of \`HGET cw:{pN}:off events\` (polled every 50 ms)
  equals the event count, i.e. all state committed to Redis. The start-up (process start to
  the first committed offset) includes the mock coordinator's 3 s delay of a group's first
  join, so the row "without start-up" is shown too; the target is checked on the full figure.
  Alerts go to the Kafka alerts topic and to the log (\`sinks.log: true\`, as shipped).
- **Redis memory per customer:** \`INFO memory\` used_memory after the run minus before,
  divided by the number of \`cw:{pN}:c:*\` keys. It includes everything the run stored
  (outbox streams with the alerts, due sets, offsets), so it is an upper bound for the state.
- **Peak RSS:** VmHWM from /proc/PID/status of churnwatchd just before SIGTERM.
- **Replay:** wall time of \`build/churnwatch replay -c config/backtest-cdnow.yaml cdnow.jsonl
  >/dev/null\` (the CDNOW master file as time-ordered order events, made like
  tests/tools/cdnow-backtest.sh does, best of 3; includes process start-up, which matters at
  this size) and of \`churnwatch replay -c bench.yaml events.jsonl\` on the simulator stream.

Commands:

    make bench                   # the full run, writes this file (~1 M events)
    make bench-smoke             # 50,000 events in seconds, writes build/PERFORMANCE-smoke.md
    BENCH_EVENTS=200000 BENCH_OUT=/tmp/p.md sh tests/bench/bench.sh

## Constraints of the set-up

- The development broker keeps at most 5 MB (or 100,000 message sets) per partition and
  silently drops the oldest data beyond that. The bench therefore spreads the stream over
  enough partitions to keep each under ~3 MB (here $NP) and checks with a raw count that the
  broker still holds every event before timing anything. The partition count is a property of
  this set-up, not a recommendation.
- The whole stream is produced before the daemon starts, so both kcat and churnwatchd
  read a backlog at full speed; this is a throughput figure, not a latency one.
- Everything runs on one machine: broker, Redis and the consumer compete for the same
  cores, which lowers both kcat's and churnwatchd's figures.
- The run has $STATE_CUSTOMERS customers, below the 250,000 of \`engine.max_cached_customers\`,
  so every customer stays in the daemon's memory; the peak RSS is not the 1 M-customer figure.

## Not measured yet

- Produce-to-alert latency p50/p99/max at a steady offered load (e.g. 20 k events/s), to the
  outbox and to the alerts topic.
- Peak RSS with 1 M customers in Redis (eviction to Redis in play).
- Timer sweep rate with 1 M customers due.
- Instructions per event under \`valgrind --tool=callgrind\` (replay).
- A profile (perf or callgrind) of where churnwatchd's time goes.
EOF
echo "wrote $OUT"
