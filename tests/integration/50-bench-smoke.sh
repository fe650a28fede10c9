#!/bin/sh
# 50-bench-smoke.sh — `make bench` still measures everything: tests/bench/bench.sh with tiny
# numbers (20,000 events, 10,000 events/s for 2 s in the latency phase, 2,000 customers in
# the "1 M" phase, callgrind on 2,000 events) into a temporary BENCH_OUT, then checks that
#   1. the bench succeeds and writes the file, with the table and its methods section;
#   2. every row of the table is there, once, with a positive number as its figure;
#   3. every row with a target of issue 5 says "met" or "NOT met" with a ratio;
#   4. the figures hang together: as many customers swept as were put in, the latency
#      percentiles in order (p50 <= p99 <= max) and the same number of alerts measured at
#      the outbox as on the alerts topic.
# Uses the release binaries (build/churnwatchd, build/churnwatch, make builds them), valgrind
# and kcat. Takes about 30 s.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR

for b in churnwatchd churnwatch devbroker simulate loadgen outbox-tail; do
    [ -x "$CW_ROOT/build/$b" ] || cw_fail "no $CW_ROOT/build/$b (make build/$b)"
done

START=$(date +%s)
BENCH_EVENTS=20000 BENCH_PARTITIONS=8 BENCH_KCAT_RUNS=1 BENCH_RATE=10000 \
    BENCH_LATENCY_SECONDS=2 BENCH_BIG_CUSTOMERS=2000 BENCH_CALLGRIND_EVENTS=2000 \
    BENCH_OUT="$D/perf.md" sh "$CW_ROOT/tests/bench/bench.sh" >"$D/bench.out" 2>"$D/bench.err" ||
    { tail -n 40 "$D/bench.out" "$D/bench.err"; cw_fail "bench.sh failed"; }
echo "ok: bench.sh took $(( $(date +%s) - START )) s"
cat "$D/bench.out"

# 1. The file.
[ -s "$D/perf.md" ] || cw_fail "bench.sh wrote no $D/perf.md"
grep -q '^| measure | figure | target (issue 5) |$' "$D/perf.md" || cw_fail "no table header"
grep -q '^## How each figure is taken$' "$D/perf.md" || cw_fail "no methods section"
echo "ok: table and methods written"

# row LABEL — the one table row whose measure starts with LABEL (fails unless exactly one)
row() {
    _r=$(awk -F '|' -v l="$1" 'index($2, " " l) == 1' "$D/perf.md")
    [ "$(printf '%s\n' "$_r" | grep -c .)" = 1 ] || cw_fail "not exactly one row '$1'"
    printf '%s\n' "$_r"
}
# figure LABEL — the first number of the row's figure column
figure() {
    row "$1" | awk -F '|' '{ if (match($3, /[0-9]+(\.[0-9]+)?/)) print substr($3, RSTART, RLENGTH) }'
}

# 2. Every row with a positive figure.
n=0
for label in "kcat raw consume" "churnwatchd end to end" "churnwatchd excluding start-up" \
    "produce -> alert latency to the outbox" "produce -> alert latency to the alerts topic" \
    "of which before the broker" "Redis memory per customer, " "of which the customer key alone" \
    "churnwatchd peak RSS (VmHWM), " "churnwatchd consuming 2000 new customers" \
    "Redis memory per customer at 2000 customers" "churnwatchd peak RSS (VmHWM) at 2000" \
    "timer sweep, 2000 customers due" "churnwatch replay, CDNOW" \
    "churnwatch replay, simulator" "churnwatch replay under callgrind, simulator (2000 events)" \
    "churnwatch replay under callgrind, CDNOW (2000 events)" "kcat produce"; do
    v=$(figure "$label")
    awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' || cw_fail "row '$label': figure '$v' is not positive"
    echo "ok: $label: $v"
    n=$((n + 1))
done
cw_assert_eq "$n" "$(grep -c '^| [^m-]' "$D/perf.md")" "rows in the table"

# 3. Targets with a verdict and a ratio.
for label in "churnwatchd excluding start-up" "produce -> alert latency to the outbox" \
    "produce -> alert latency to the alerts topic" "Redis memory per customer at 2000" \
    "churnwatchd peak RSS (VmHWM) at 2000" "churnwatch replay, CDNOW" \
    "churnwatch replay, simulator"; do
    row "$label" | awk -F '|' '{ exit !($4 ~ /: (met|NOT met) \(figure\/target [0-9.]+\)/) }' ||
        cw_fail "row '$label': no verdict in the target column"
done
echo "ok: every target has a verdict"

# 4. Consistency.
sweep=$(row "timer sweep, 2000 customers due" | awk -F '|' '{ print $3 }')
case $sweep in *", 2000 alerts)"*) ;; *) cw_fail "sweep: not 2000 alerts: $sweep" ;; esac
for label in "produce -> alert latency to the outbox" "produce -> alert latency to the alerts topic"; do
    row "$label" | awk -F '|' '{ split($3, v, " / "); exit !(v[1] + 0 <= v[2] + 0 && v[2] + 0 <= v[3] + 0) }' ||
        cw_fail "$label: percentiles out of order"
done
a_outbox=$(row "produce -> alert latency to the outbox" | sed -n 's/.*p50 \/ p99 \/ max (\([0-9]*\) alerts.*/\1/p')
a_topic=$(row "produce -> alert latency to the alerts topic" | sed -n 's/.*p50 \/ p99 \/ max (\([0-9]*\) alerts.*/\1/p')
[ "${a_outbox:-0}" -gt 0 ] || cw_fail "no alerts measured at the outbox"
cw_assert_eq "$a_topic" "$a_outbox" "alerts measured at the outbox and on the alerts topic"
echo "50-bench-smoke: all checks passed"
