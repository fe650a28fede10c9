#!/bin/sh
# demo.sh — `make demo`: churnwatchd watching 18 months of real CDNOW orders, live.
#
# Starts a redis-server and the development broker (4 partitions per topic) on free ports,
# writes a config from config/demo.yaml, turns tests/data/cdnow/CDNOW_sample.txt plus
# generated complaints and a simulated population (tests/tools/simulate.c) with complaint,
# support and account-manager stories into one time-ordered stream, starts build/churnwatchd, and produces
# the stream at about one simulated month per second while a kcat consumer on churn-alerts prints
# every alert as it arrives. Then it waits for the daemon to catch up (its offsets in
# Redis cover every event and no alert has arrived for 3 s), stops it with SIGTERM and
# prints a summary. Everything runs in a temporary directory, removed at the end.
#
# Environment: CW_BIN (default build), CW_DEMO_DATA (a CDNOW file; default the sample),
# CW_DEMO_PACE (seconds per simulated month, default 0.8), CW_DEMO_SHOW (alerts printed per
# month of alert time, a number or "all"; default 4), CW_DEMO_TIMEOUT (catch-up wait in seconds, default 60),
# CW_KEEP=1 (keep the temporary directory: logs, config, stream, alerts.jsonl).
set -u
CW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$CW_ROOT" || exit 2
. tests/tools/lib.sh
cw_install_trap
CW_LOG_TAILS=0 # on failure the summary shows the daemon's log itself

DATA=${CW_DEMO_DATA:-tests/data/cdnow/CDNOW_sample.txt}
PACE=${CW_DEMO_PACE:-0.8}
SHOW=${CW_DEMO_SHOW:-4}
TIMEOUT=${CW_DEMO_TIMEOUT:-60}
TEMPLATE=config/demo.yaml
SIMULATE=$CW_ROOT/build/simulate
SIM_CUSTOMERS=${CW_DEMO_SIM_CUSTOMERS:-300}
PARTITIONS=4

say() {
    echo "demo: $*"
}

# Reports a churnwatchd that exited when it should not have, with its log, and exits 1.
daemon_died() {
    wait "$DAEMON" 2>/dev/null
    _rc=$?
    cw_forget_pid "$DAEMON"
    say "churnwatchd exited with status $_rc $1; last lines of its log:"
    tail -n 30 "$D/churnwatchd.log" | cut -c1-200 | sed 's/^/    /'
    cw_fail "churnwatchd exited $1 (CW_KEEP=1 keeps $D for a closer look)"
}

[ -x "$CW_BIN/churnwatchd" ] || cw_fail "$CW_BIN/churnwatchd is missing: run 'make all' first"
[ -x "$CW_DEVBROKER" ] || cw_fail "$CW_DEVBROKER is missing: run 'make all' first"
[ -f "$TEMPLATE" ] || cw_fail "$TEMPLATE is missing"
[ -f "$DATA" ] || cw_fail "$DATA is missing"
for tool in kcat redis-server redis-cli ss; do
    command -v "$tool" >/dev/null 2>&1 || cw_fail "$tool is not installed: run 'make deps'"
done

say "churnwatch on 18 months of real CDNOW orders (plus generated complaints):"
say "  redis-server + development broker + $CW_BIN/churnwatchd, all on free local ports;"
say "  the orders are produced month by month and alerts are printed as they arrive."

cw_tmpdir
D=$CW_TMPDIR
S=$D/stream
mkdir -p "$S"

# --- 1. redis-server, development broker, config --------------------------------------
cw_start_redis "$D"
cw_start_broker "$D" "$PARTITIONS"
cw_config "$TEMPLATE" "$D/churnwatch.yaml"
PREFIX=$(sed -n 's/^[[:space:]]*key_prefix:[[:space:]]*"\{0,1\}\([^"#[:space:]]*\).*/\1/p' \
    "$D/churnwatch.yaml" | head -n 1)
PREFIX=${PREFIX:-cw}
say "redis-server on 127.0.0.1:$CW_REDIS_PORT, development broker at $CW_BROKERS" \
    "($PARTITIONS partitions per topic)"

# --- 2. the event stream ----------------------------------------------------------------
# Lines "TS<TAB>TOPIC<TAB>KEY<TAB>JSON", sorted by event time (stable: orders before
# complaints at equal times), then cut into runs of one month and one topic,
# $S/NNNNN.YYYY-MM.TOPIC, produced in name order.
label() {
    awk -F'\t' -v t="$1" 'BEGIN { OFS = "\t" } { print $1, t, $2, $3 }'
}
# The simulator's labelled population (tests/tools/simulate.c) over the same 18 months:
# complaint, support, unsubscribe and account-manager stories that the CDNOW data lacks.
# Its customer ids are renamed s000123 so they cannot be confused with CDNOW's c00123.
simulated() {
    "$SIMULATE" --customers "$SIM_CUSTOMERS" --seed 7 --start 1997-01-01 --days 545 --kafka |
        sed 's/^c/s/; s/"customer_id":"c/"customer_id":"s/' |
        awk -F'\t' 'BEGIN { OFS = "\t" }
            { t = "orders"
              if (index($2, "\"type\":\"complaint.")) t = "complaints"
              else if (index($2, "\"type\":\"support.")) t = "support"
              else if (index($2, "\"type\":\"customer.")) t = "customers"
              match($2, /"ts":"[^"]*"/)
              print substr($2, RSTART + 6, RLENGTH - 7), t, $1, $2 }'
}
{
    awk -v sortable=1 -f tests/tools/cdnow-events.awk "$DATA" | label orders
    awk -v sortable=1 -v complaints=1 -f tests/tools/cdnow-events.awk "$DATA" | label complaints
    simulated
} | LC_ALL=C sort -s -t "$CW_TAB" -k1,1 >"$D/stream.tsv" || cw_fail "cannot convert $DATA"
awk -F'\t' -v dir="$S" '
    { m = substr($1, 1, 7)
      if ($2 != topic || m != month) {
          if (f != "") close(f)
          n++; topic = $2; month = m
          f = sprintf("%s/%05d.%s.%s", dir, n, m, topic)
      }
      print $3 "\t" $4 > f }' "$D/stream.tsv"
count() { awk -F'\t' -v t="$1" '$2 == t' "$D/stream.tsv" | wc -l | tr -d ' '; }
N_ORDERS=$(count orders)
N_COMPLAINTS=$(count complaints)
N_SUPPORT=$(count support)
N_CUSTOMERS=$(count customers)
N_TOTAL=$((N_ORDERS + N_COMPLAINTS + N_SUPPORT + N_CUSTOMERS))
FIRST=$(head -n 1 "$D/stream.tsv" | cut -c1-10)
LAST=$(tail -n 1 "$D/stream.tsv" | cut -c1-10)
say "stream: $(basename "$DATA") orders + generated complaints + $SIM_CUSTOMERS simulated" \
    "customers: $N_TOTAL events ($N_ORDERS orders, $N_COMPLAINTS complaint, $N_SUPPORT support," \
    "$N_CUSTOMERS customer events), $FIRST .. $LAST"

# --- 3. churnwatchd and the alert printer ----------------------------------------------
cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/churnwatch.yaml"
DAEMON=$CW_LAST_PID
say "churnwatchd started (pid $DAEMON, log in $D/churnwatchd.log)"
if PORT=$(cw_metrics_port "$D/churnwatchd.log" 10); then
    say "metrics: http://127.0.0.1:$PORT/metrics (and /healthz, /readyz) while the demo runs"
fi

: >"$D/alerts.jsonl"
cw_spawn_split "$D/alerts.jsonl" "$D/kcat-alerts.log" \
    kcat -C -b "$CW_BROKERS" -t churn-alerts -o beginning -u -q -f '%s\n'
ALERTS=$CW_LAST_PID
# One short line per alert (the first $SHOW of each month; all are counted), e.g.
#   1997-09-30 FIRING   order_gap c00042 level=watch score=30 "no order for 95.0 days; ..."
# The fields are taken from the alert JSON with match() (the top-level keys come before
# "evidence"); whitespace around the colons is allowed.
tail -n +1 -f --pid="$ALERTS" "$D/alerts.jsonl" | awk -v show="$SHOW" '
    function str(k,    re, v) {
        re = "\"" k "\"[ \t]*:[ \t]*\"([^\"\\\\]|\\\\.)*\""
        if (!match($0, re)) return "?"
        v = substr($0, RSTART, RLENGTH)
        sub(/^"[^"]*"[ \t]*:[ \t]*"/, "", v)
        return substr(v, 1, length(v) - 1)
    }
    function num(k,    re, v) {
        re = "\"" k "\"[ \t]*:[ \t]*-?[0-9][0-9.eE+-]*"
        if (!match($0, re)) return "?"
        v = substr($0, RSTART, RLENGTH)
        sub(/^"[^"]*"[ \t]*:[ \t]*/, "", v)
        return v
    }
    {
        day = substr(str("ts"), 1, 10)
        month = substr(day, 1, 7)
        if (show != "all" && ++shown[month] > show + 0)
            next
        printf("%s %-8s %s %s %s level=%s score=%s \"%s\"\n", day, toupper(str("status")),
               str("rule"), str("customer_id"), str("tier"), str("level"), num("score"),
               str("summary"))
        fflush()
    }' &
PRINTER=$!
CW_PIDS="$PRINTER $CW_PIDS"

# The daemon claims a partition by incrementing its epoch key in Redis; wait for all of
# them (the mock broker's first group join takes about 3 s) so the stream is seen live.
# shellcheck disable=SC2317 # called through cw_wait_for's eval
epochs() {
    cw_redis --scan --pattern "$PREFIX:{p*}:epoch" | wc -l | tr -d ' '
}
if cw_wait_for "[ \"\$(epochs)\" -ge $PARTITIONS ]" 30; then
    say "churnwatchd owns all $PARTITIONS partitions; producing one simulated month per ${PACE}s"
else
    cw_pid_alive "$DAEMON" || daemon_died "at start-up"
    say "churnwatchd has not claimed its partitions after 30 s; producing anyway"
fi

# --- 4. produce, month by month ---------------------------------------------------------
month=""
n_o=0
n_c=0
progress() {
    printf 'demo: %s  +%4d orders  +%3d other events   (%d alerts so far)\n' \
        "$month" "$n_o" "$n_c" "$(wc -l <"$D/alerts.jsonl")"
}
for f in "$S"/*; do
    name=${f##*/}                  # NNNNN.YYYY-MM.TOPIC
    m=${name#*.}
    m=${m%.*}
    topic=${name##*.}
    if [ -n "$month" ] && [ "$m" != "$month" ]; then
        progress
        n_o=0
        n_c=0
        sleep "$PACE"
    fi
    month=$m
    cw_produce "$topic" "$f" || cw_fail "kcat could not produce $f to $topic"
    c=$(wc -l <"$f")
    case $topic in
    orders) n_o=$((n_o + c)) ;;
    *) n_c=$((n_c + c)) ;;
    esac
    cw_pid_alive "$DAEMON" || daemon_died "while the stream was produced"
done
[ -n "$month" ] && progress

# --- 5. wait until the daemon has caught up ----------------------------------------------
# Caught up = the offsets churnwatchd stored in Redis with its state (hash
# PREFIX:{pN}:off, field = topic, value = next offset) add up to every event produced,
# and no alert has arrived for 3 s.
offsets() { # prints "SUM KEYS"
    cw_redis --scan --pattern "$PREFIX:{p*}:off" | while read -r key; do
        cw_redis HMGET "$key" orders complaints support customers
    done | awk -v keys="$(cw_redis --scan --pattern "$PREFIX:{p*}:off" | wc -l)" \
        '{ s += $1 } END { print s + 0, keys + 0 }'
}
say "all $N_TOTAL events produced; waiting for churnwatchd to catch up (at most ${TIMEOUT}s)"
caught_up=""
waited=0
quiet=0
last_size=-1
while [ "$waited" -lt $((TIMEOUT * 2)) ]; do
    cw_pid_alive "$DAEMON" || break
    size=$(wc -c <"$D/alerts.jsonl")
    if [ "$size" -eq "$last_size" ]; then quiet=$((quiet + 1)); else quiet=0; fi
    last_size=$size
    # shellcheck disable=SC2046
    set -- $(offsets)
    if [ "$1" -eq "$N_TOTAL" ] && [ "$quiet" -ge 6 ]; then
        caught_up=1
        break
    fi
    sleep 0.5
    waited=$((waited + 1))
done
# shellcheck disable=SC2046
set -- $(offsets)
OFF_SUM=$1
OFF_KEYS=$2
if [ -n "$caught_up" ]; then
    say "caught up: the offsets in Redis cover all $N_TOTAL events, no new alert for 3 s"
elif ! cw_pid_alive "$DAEMON"; then
    say "churnwatchd is no longer running"
elif [ "$OFF_KEYS" -eq 0 ]; then
    say "timed out after ${TIMEOUT}s: there is no offset key $PREFIX:{pN}:off in Redis, so" \
        "churnwatchd has not stored any batch yet (see its log below)"
else
    say "timed out after ${TIMEOUT}s: the offsets churnwatchd stored in Redis cover $OFF_SUM" \
        "of $N_TOTAL events"
fi

# --- 6. stop everything, count, summarize ------------------------------------------------
# Customers with state, counted before redis goes away.
N_STATE=$(cw_redis --scan --pattern "$PREFIX:*:c:*" | wc -l | tr -d ' ')
daemon_rc=0
if cw_pid_alive "$DAEMON"; then
    cw_stop_pid "$DAEMON" 30 || daemon_rc=$?
else
    wait "$DAEMON" 2>/dev/null
    daemon_rc=$?
    cw_forget_pid "$DAEMON"
fi
sleep 1 # alerts the daemon flushed on its way out reach the consumer
cw_stop_pid "$ALERTS" 5
wait "$PRINTER" 2>/dev/null
cw_forget_pid "$PRINTER"

echo
say "summary"
echo "  events produced:        $N_TOTAL ($N_ORDERS orders, $N_COMPLAINTS complaint," \
    "$N_SUPPORT support, $N_CUSTOMERS customer events)"
echo "  offsets stored in Redis: $OFF_SUM of $N_TOTAL"
echo "  customers with state:   $N_STATE (keys $PREFIX:{pN}:c:*)"
echo "  churnwatchd exit:       $daemon_rc$( [ "$daemon_rc" -eq 0 ] || echo ' (expected 0)')"
awk '
    function str(k,    re, v) {
        re = "\"" k "\"[ \t]*:[ \t]*\"[^\"]*\""
        if (!match($0, re)) return "?"
        v = substr($0, RSTART, RLENGTH)
        sub(/^"[^"]*"[ \t]*:[ \t]*"/, "", v)
        return substr(v, 1, length(v) - 1)
    }
    { r = str("rule"); s = str("status"); if (!(r in seen)) { seen[r] = 1; order[++n] = r }
      cnt[r, s]++; tot[s]++; who[str("customer_id")] = 1
      if (s == "firing") tiers[str("tier")]++ }
    END {
        c = 0; for (k in who) c++
        printf("  alerts:                 %d firing, %d resolved, for %d customers\n",
               tot["firing"], tot["resolved"], c)
        if (n > 0) printf("      %-22s %7s %9s\n", "rule", "firing", "resolved")
        for (i = 1; i <= n; i++)
            printf("      %-22s %7d %9d\n", order[i], cnt[order[i], "firing"],
                   cnt[order[i], "resolved"])
        printf("  firing alerts by tier:  strategic %d, key %d, standard %d\n",
               tiers["strategic"], tiers["key"], tiers["standard"])
    }' "$D/alerts.jsonl"

# --- 7. the operator's view of the live state (docs/cli.md) ------------------------------
echo
say "churnwatch top --limit 5 (the riskiest customers, from Redis)"
cli_ok=1
"$CW_BIN/churnwatch" top -c "$D/churnwatch.yaml" --limit 5 | sed 's/^/    /' || cli_ok=""
TOP=$("$CW_BIN/churnwatch" top -c "$D/churnwatch.yaml" --limit 1 --json |
    jq -r '.customers[0].customer_id // empty')
if [ -n "$TOP" ]; then
    say "churnwatch inspect $TOP --events 5 (its state, signals, open alerts, recent events)"
    "$CW_BIN/churnwatch" inspect -c "$D/churnwatch.yaml" --events 5 "$TOP" | sed 's/^/    /' ||
        cli_ok=""
else
    cli_ok=""
fi
[ -n "$cli_ok" ] || say "the operator's commands failed"

ok=1
[ -n "$caught_up" ] || ok=""
[ -n "$cli_ok" ] || ok=""
[ "$daemon_rc" -eq 0 ] || ok=""
if [ -z "$ok" ]; then
    echo
    say "last lines of churnwatchd.log:"
    tail -n 30 "$D/churnwatchd.log" | cut -c1-200 | sed 's/^/    /'
    say "FAILED (CW_KEEP=1 keeps $D for a closer look)"
    exit 1
fi
[ "${CW_KEEP:-0}" = 1 ] && say "files kept in $D"
say "done"
exit 0
