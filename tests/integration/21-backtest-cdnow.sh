#!/bin/sh
# 21-backtest-cdnow.sh — the real-data backtest (docs/backtest-cdnow.md): runs
# tests/tools/cdnow-backtest.sh with the tuned config/backtest-cdnow.yaml on the full CDNOW
# history and checks
#   1. the fixed figures of the data: 49,086 orders up to the cutoff, all accepted; 23,570
#      customers, 16,512 of them churned; 9,451 repeat buyers, 4,458 of them churned;
#   2. every row is a consistent confusion matrix (TP+FP+FN+TN = customers, ...);
#   3. both rules flag customers: order_gap among the repeat buyers, first_repeat_overdue
#      among the one-time buyers: every one of the 13,954 customers with a single order
#      bought more than 180 days before the cutoff, so with after <= 180d all are flagged,
#      and with min_orders 2 order_gap flags the other 165 one-time buyers (several orders
#      on their only purchase day: typical gap floored at one day);
#   4. the balanced accuracy does not regress: repeat buyers >= BA_REPEAT_FLOOR, all
#      customers >= BA_ALL_FLOOR (measured: 0.651 and 0.704; BG/NBD: 0.641 on repeat buyers);
#   5. a second run prints the same bytes (deterministic);
#   6. `churnwatch replay --labels` on the same events and labels reports the same
#      "any rule, flagged at the cutoff" confusion matrix (an independent computation).
# Takes about 3 s with the sanitizer build.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cd "$CW_ROOT" || cw_fail "no $CW_ROOT"

BA_REPEAT_FLOOR=0.645
BA_ALL_FLOOR=0.700

[ -x "$CW_BIN/churnwatch" ] || cw_fail "no $CW_BIN/churnwatch (build it first)"
START=$(date +%s)
sh tests/tools/cdnow-backtest.sh -b "$CW_BIN/churnwatch" -c config/backtest-cdnow.yaml \
    -k "$D/run1" >"$D/out1.txt" 2>"$D/err1.txt" ||
    { cat "$D/out1.txt" "$D/err1.txt"; cw_fail "cdnow-backtest.sh failed"; }
SECS=$(( $(date +%s) - START ))
cat "$D/out1.txt"
echo "ok: backtest took $SECS s"
[ "$SECS" -le 30 ] || cw_fail "the backtest took $SECS s (limit 30)"

# col GROUP N — column N of GROUP's row.
col() {
    awk -v g="$1" -v n="$2" '$1 == g { print $n; found = 1 } END { if (!found) print "none" }' \
        "$D/out1.txt"
}

# 1. Data figures.
grep -q '^replay: 49086 events, 49086 accepted, 0 rejected' "$D/out1.txt" ||
    cw_fail "replay did not accept the 49086 orders of the calibration period"
cw_assert_eq 23570 "$(col all 2)" "customers"
cw_assert_eq 16512 "$(col all 3)" "churned customers"
cw_assert_eq 9451 "$(col repeat_buyers 2)" "repeat buyers"
cw_assert_eq 4458 "$(col repeat_buyers 3)" "churned repeat buyers"
cw_assert_eq 14119 "$(col one_time_buyers 2)" "one-time buyers"
cw_assert_eq 12054 "$(col one_time_buyers 3)" "churned one-time buyers"
cw_assert_eq 23571 "$(wc -l <"$D/run1/labels.csv" | tr -d ' ')" "labels.csv lines"

# 2. Consistent confusion matrices; the groups add up.
for g in repeat_buyers one_time_buyers all; do
    awk -v g="$g" '$1 == g {
        ok = ($5 + $6 + $7 + $8 == $2) && ($5 + $7 == $3) && ($5 + $6 == $4)
        exit !ok }' "$D/out1.txt" || cw_fail "$g: inconsistent confusion matrix"
done
awk '{ for (i = 2; i <= 8; i++) S[$1, i] = $i }
     END { for (i = 2; i <= 8; i++)
               if (S["repeat_buyers", i] + S["one_time_buyers", i] != S["all", i]) exit 1 }' \
    "$D/out1.txt" || cw_fail "repeat + one-time buyers do not add up to all customers"
echo "ok: confusion matrices consistent"

# 3. Both rules flag.
NOG=$(sed -n 's/^flagged at the cutoff: order_gap \([0-9]*\), .*/\1/p' "$D/out1.txt")
NFR=$(sed -n 's/^flagged at the cutoff: .*first_repeat_overdue \([0-9]*\)$/\1/p' "$D/out1.txt")
[ "${NOG:-0}" -gt 3000 ] || cw_fail "order_gap flagged ${NOG:-0} customers (expected > 3000)"
cw_assert_eq 13954 "${NFR:-0}" "customers flagged by first_repeat_overdue"
cw_assert_eq 14119 "$(col one_time_buyers 4)" "one-time buyers flagged"

# 4. No regression of the balanced accuracy.
BA_REP=$(col repeat_buyers 12)
BA_ALL=$(col all 12)
awk -v v="$BA_REP" -v f="$BA_REPEAT_FLOOR" 'BEGIN { exit !(v + 0 >= f + 0) }' ||
    cw_fail "balanced accuracy of the repeat buyers $BA_REP < $BA_REPEAT_FLOOR"
echo "ok: balanced accuracy, repeat buyers $BA_REP >= $BA_REPEAT_FLOOR"
awk -v v="$BA_ALL" -v f="$BA_ALL_FLOOR" 'BEGIN { exit !(v + 0 >= f + 0) }' ||
    cw_fail "balanced accuracy of all customers $BA_ALL < $BA_ALL_FLOOR"
echo "ok: balanced accuracy, all customers $BA_ALL >= $BA_ALL_FLOOR"

# 5. Deterministic.
sh tests/tools/cdnow-backtest.sh -b "$CW_BIN/churnwatch" -c config/backtest-cdnow.yaml \
    -k "$D/run2" >"$D/out2.txt" 2>"$D/err2.txt" || cw_fail "second run failed"
cmp -s "$D/out1.txt" "$D/out2.txt" || cw_fail "second run printed something else"
cmp -s "$D/run1/alerts.jsonl" "$D/run2/alerts.jsonl" || cw_fail "second run: other alerts"
echo "ok: deterministic"

# 6. `churnwatch replay --labels` (the C backtest) scores the same alerts: its "any rule, at
#    cutoff" confusion matrix must equal this script's row for all customers.
if "$CW_BIN/churnwatch" 2>&1 | grep -q -e "--labels"; then
    "$CW_BIN/churnwatch" replay -c config/backtest-cdnow.yaml --until 1997-09-30T23:59:59Z \
        --labels "$D/run1/labels.csv" "$D/run1/events.jsonl" >"$D/labels-report.txt" \
        2>"$D/labels-err.txt" || cw_fail "churnwatch replay --labels failed"
    C_ROW=$(awk '/^flagged at the cutoff/ { on = 1 } on && $1 == "any" && $2 == "rule" {
                 print $3, $4, $5, $6; exit }' "$D/labels-report.txt")
    SH_ROW=$(awk '$1 == "all" { print $5, $6, $7, $8 }' "$D/out1.txt")
    cw_assert_eq "$SH_ROW" "$C_ROW" "replay --labels at cutoff (TP FP FN TN)"
else
    echo "skip: churnwatch replay has no --labels"
fi
echo "21-backtest-cdnow: all checks passed"
