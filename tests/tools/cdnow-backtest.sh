#!/bin/sh
# cdnow-backtest.sh — backtest of churnwatch's order-absence rules on the full CDNOW purchase
# history (23,570 customers, 69,659 purchase lines), against the customers' real behaviour
# afterwards. POSIX sh + awk (mawk-compatible); method and results: docs/backtest-cdnow.md.
#
#   sh tests/tools/cdnow-backtest.sh [-c CONFIG] [-b CHURNWATCH] [-m MASTER] [-k DIR]
#
#   -c CONFIG      replay configuration (default config/backtest-cdnow.yaml)
#   -b CHURNWATCH  the churnwatch binary (default $CW_BIN/churnwatch, else build/churnwatch)
#   -m MASTER      the purchase file (default tests/data/cdnow/CDNOW_master.txt)
#   -k DIR         keep the intermediate files in DIR (events.jsonl, alerts.jsonl,
#                  flagged.txt, customers.txt, labels.csv) instead of a removed temporary directory
#
# Method:
#   1. The master file becomes one order event per line (cdnow-events.awk -v plain=1),
#      globally time-ordered (stable sort on ts, so file order is kept within a ts); only
#      orders up to the end of the calibration period (1997-09-30) are kept.
#   2. `churnwatch replay -c CONFIG --until 1997-09-30T23:59:59Z` runs the rules over them.
#   3. A customer is *flagged* when an order_gap or first_repeat_overdue alert is open at the
#      cutoff: a firing notice with no later resolved notice of the same alert_id.
#   4. A customer *churned* when the master file has no purchase of theirs from 1997-10-01
#      to 1998-06-30 (the holdout period). Positive class = churned.
#   5. Precision = TP/(TP+FP), recall = TP/(TP+FN), specificity = TN/(TN+FP), balanced
#      accuracy = (recall + specificity)/2, for three groups: the repeat buyers (at least
#      two distinct purchase days in the calibration period: 9,451 customers, the "repeat
#      buyers" of the BG/NBD literature), the one-time buyers, and all 23,570 customers.
#
# Output (stdout): a header, then one row per group:
#   group customers churned flagged TP FP FN TN precision recall specificity balanced_accuracy
# Exit status: 0 on success, 1 when a step fails, 2 on a usage error. Deterministic: the
# same input and configuration give the same output.
set -u

CUTOFF_DAY=19970930                 # last day of the calibration period (39 weeks)
HOLDOUT_FROM=19971001               # holdout period, inclusive
HOLDOUT_TO=19980630
UNTIL=1997-09-30T23:59:59Z          # replay clock at the end
NEXT_TS=1997-10-01                  # events with ts before this are kept

ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
CONFIG=$ROOT/config/backtest-cdnow.yaml
MASTER=$ROOT/tests/data/cdnow/CDNOW_master.txt
BIN=""
KEEP=""

usage() {
    echo "usage: cdnow-backtest.sh [-c CONFIG] [-b CHURNWATCH] [-m MASTER] [-k DIR]" >&2
    exit 2
}

while getopts c:b:m:k: opt; do
    case $opt in
        c) CONFIG=$OPTARG ;;
        b) BIN=$OPTARG ;;
        m) MASTER=$OPTARG ;;
        k) KEEP=$OPTARG ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage

if [ -z "$BIN" ]; then
    if [ -n "${CW_BIN:-}" ] && [ -x "${CW_BIN}/churnwatch" ]; then
        BIN=${CW_BIN}/churnwatch
    else
        BIN=$ROOT/build/churnwatch
    fi
fi

fail() {
    echo "cdnow-backtest.sh: $*" >&2
    exit 1
}

[ -x "$BIN" ] || fail "no churnwatch binary at $BIN (run make)"
[ -r "$CONFIG" ] || fail "cannot read config $CONFIG"
[ -r "$MASTER" ] || fail "cannot read $MASTER"

if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP" || fail "cannot create $KEEP"
    WORK=$KEEP
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/cdnow-backtest.XXXXXX") || fail "mktemp -d failed"
    trap 'rm -rf "$WORK"' EXIT
    trap 'rm -rf "$WORK"; trap - EXIT; exit 130' INT
    trap 'rm -rf "$WORK"; trap - EXIT; exit 143' TERM
fi

TAB=$(printf '\t')

# 1. Events: order events of the calibration period, globally time-ordered.
awk -v plain=1 -v sortable=1 -f "$ROOT/tests/tools/cdnow-events.awk" "$MASTER" \
    >"$WORK/sortable.tsv" || fail "cdnow-events.awk failed"
awk -F "$TAB" -v next_ts="$NEXT_TS" '$1 < next_ts' "$WORK/sortable.tsv" |
    LC_ALL=C sort -s -t "$TAB" -k1,1 | cut -f2- >"$WORK/events.jsonl" ||
    fail "cannot sort the events"
rm -f "$WORK/sortable.tsv"
[ -s "$WORK/events.jsonl" ] || fail "no events before $NEXT_TS in $MASTER"

# 2. Replay up to the cutoff.
"$BIN" replay -c "$CONFIG" --until "$UNTIL" "$WORK/events.jsonl" \
    >"$WORK/alerts.jsonl" 2>"$WORK/replay.err" ||
    { cat "$WORK/replay.err" >&2; fail "churnwatch replay failed"; }

# 3. Customers with an open order_gap / first_repeat_overdue alert at the cutoff, one line
#    each: customer_id rule [rule]. Notices are in time order, so an alert is open when its
#    last notice is a firing one.
awk '
function str(line, key,    s) {
    if (!match(line, "\"" key "\": *\"[^\"]*\""))
        return ""
    s = substr(line, RSTART, RLENGTH)
    sub("^\"" key "\": *\"", "", s)
    return substr(s, 1, length(s) - 1)
}
{
    rule = str($0, "rule")
    if (rule != "order_gap" && rule != "first_repeat_overdue")
        next
    id = str($0, "alert_id")
    if (!(id in CUST)) {
        N++
        ORDER[N] = id
    }
    CUST[id] = str($0, "customer_id")
    RULE[id] = rule
    STATUS[id] = str($0, "status")
}
END {
    for (i = 1; i <= N; i++) {
        id = ORDER[i]
        if (STATUS[id] != "firing")
            continue
        c = CUST[id]
        if (!(c in FLAG)) {
            M++
            CORDER[M] = c
            FLAG[c] = RULE[id]
        } else {
            FLAG[c] = FLAG[c] " " RULE[id]
        }
    }
    for (i = 1; i <= M; i++)
        print CORDER[i], FLAG[CORDER[i]]
}' "$WORK/alerts.jsonl" >"$WORK/flagged.txt" || fail "cannot read the alerts"

# 4. Per customer from the master file: purchase days in the calibration period, and
#    whether they bought in the holdout period. One line each: c<id> cal_days holdout_bought
#    (customers.txt); the same as labels for `churnwatch replay --labels` (labels.csv:
#    customer_id,churned,group).
awk -v cut="$CUTOFF_DAY" -v from="$HOLDOUT_FROM" -v to="$HOLDOUT_TO" '
{ sub(/\r$/, "") }
$1 !~ /^[0-9]+$/ { next }
{
    date = (NF == 5) ? $3 : $2
    c = "c" $1
    if (!(c in DAYS)) {
        N++
        ORDER[N] = c
        DAYS[c] = 0
        LATER[c] = 0
    }
    if (date + 0 <= cut && !((c, date) in SEEN)) {
        SEEN[c, date] = 1
        DAYS[c]++
    }
    if (date + 0 >= from && date + 0 <= to)
        LATER[c] = 1
}
END {
    for (i = 1; i <= N; i++)
        print ORDER[i], DAYS[ORDER[i]], LATER[ORDER[i]]
}' "$MASTER" >"$WORK/customers.txt" || fail "cannot read $MASTER"
awk 'BEGIN { print "customer_id,churned,group" }
     { print $1 "," ($3 == 0 ? 1 : 0) "," ($2 >= 2 ? "repeat_buyer" : "one_time_buyer") }' \
    "$WORK/customers.txt" >"$WORK/labels.csv" || fail "cannot write the labels"

# 5. The confusion matrices.
grep "^replay:" "$WORK/replay.err"
awk -v config="$CONFIG" '
function ratio(a, b) { return b > 0 ? sprintf("%.3f", a / b) : "n/a" }
function row(g,    n, r, s, ba) {
    n = TP[g] + FP[g] + FN[g] + TN[g]
    r = (TP[g] + FN[g]) > 0 ? TP[g] / (TP[g] + FN[g]) : 0
    s = (TN[g] + FP[g]) > 0 ? TN[g] / (TN[g] + FP[g]) : 0
    ba = ((TP[g] + FN[g]) > 0 && (TN[g] + FP[g]) > 0) ? sprintf("%.3f", (r + s) / 2) : "n/a"
    printf("%-16s %9d %7d %7d %6d %6d %6d %6d %9s %6s %11s %17s\n", g, n, TP[g] + FN[g],
           TP[g] + FP[g], TP[g], FP[g], FN[g], TN[g], ratio(TP[g], TP[g] + FP[g]),
           ratio(TP[g], TP[g] + FN[g]), ratio(TN[g], TN[g] + FP[g]), ba)
}
FNR == NR {
    FLAG[$1] = 1
    for (i = 2; i <= NF; i++)
        BYRULE[$i]++
    next
}
{
    c = $1
    churned = ($3 == 0)
    flagged = (c in FLAG)
    delete FLAG[c]
    g2 = ($2 >= 2) ? "repeat_buyers" : "one_time_buyers"
    for (k = 1; k <= 2; k++) {
        g = (k == 1) ? g2 : "all"
        if (churned && flagged) TP[g]++
        else if (!churned && flagged) FP[g]++
        else if (churned) FN[g]++
        else TN[g]++
    }
}
END {
    unknown = 0
    for (c in FLAG)
        unknown++
    printf("config: %s\n", config)
    printf("flagged at the cutoff: order_gap %d, first_repeat_overdue %d\n",
           BYRULE["order_gap"] + 0, BYRULE["first_repeat_overdue"] + 0)
    if (unknown > 0)
        printf("warning: %d flagged customer(s) not in the purchase file\n", unknown)
    printf("%-16s %9s %7s %7s %6s %6s %6s %6s %9s %6s %11s %17s\n", "group", "customers",
           "churned", "flagged", "TP", "FP", "FN", "TN", "precision", "recall",
           "specificity", "balanced_accuracy")
    row("repeat_buyers")
    row("one_time_buyers")
    row("all")
}' "$WORK/flagged.txt" "$WORK/customers.txt" || fail "cannot compute the figures"
