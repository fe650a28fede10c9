#!/bin/sh
# 12-lifecycle.sh — the life cycle of the real binaries around the event pipeline, in
# this order:
#   1. command line: --version, usage (exit 2), --check-config on a good and on a broken
#      config (exit 1, both errors as FILE:LINE:COL: ...), the same with `churnwatch
#      check-config`, and churnwatchd refusing to start on the broken config;
#   5. `make install DESTDIR=... PREFIX=/usr`: files and modes, the installed binaries
#      accept the installed config, an edited config survives a second install, the unit's
#      Exec paths exist, `systemd-analyze verify` is silent, `systemd-analyze security`
#      rates the unit's exposure 2.0 or lower (OK), sysusers creates the account;
#   2. Redis unreachable at start-up: churnwatchd says so (naming host:port), retries with
#      a back-off without busy-looping or exiting (and a second daemon stopped meanwhile
#      exits 0); once a redis-server listens on that port it connects, gets its partition
#      and commits the offsets;
#   3. Kafka unreachable at start-up (devbroker's only broker down before the start): it
#      stays up without spinning (a second daemon stopped meanwhile exits 0); once the
#      broker is back it consumes and commits;
#   4. SIGHUP on that daemon: a changed valid config is applied (a shorter
#      complaint_unresolved.older_than makes an alert fire that the old value would not),
#      also to a complaint that arrived before the reload; a broken config is refused with
#      its errors and the daemon goes on with the config it had (the shorter threshold
#      still fires); SIGTERM then exits 0 with "stopped".
# A daemon misbehaviour that does not make the rest meaningless is reported with bug() and
# fails the script at the end, after all other checks. Uses lifecycle.yaml as the config
# template. Takes about 25 s.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
TEMPLATE=$CW_ROOT/tests/integration/lifecycle.yaml
CLK_TCK=$(getconf CLK_TCK)
STARTED=$(date +%s)

# ---- helpers ---------------------------------------------------------------------------

# mkconf OUT BROKERS REDIS_PORT GROUP PREFIX OLDER_THAN — a config from the template,
# written next to OUT and renamed into place (a daemon never reads half a file).
mkconf() {
    sed -e "s|@BROKERS@|$2|g" -e "s|@REDIS_PORT@|$3|g" -e "s|@GROUP@|$4|g" \
        -e "s|@PREFIX@|$5|g" -e "s|@OLDER_THAN@|$6|g" "$TEMPLATE" >"$1.tmp" &&
        mv "$1.tmp" "$1" || cw_fail "cannot write $1"
}

# mkbad IN OUT — IN with exactly two errors: rules.order_gap.factor "abc" (column 13) and
# logging.level "loud" (column 10). Sets BAD_L1 and BAD_L2 to their line numbers.
mkbad() {
    sed -e 's/^    factor: 3$/    factor: abc/' -e 's/^  level: info$/  level: loud/' \
        "$1" >"$2.tmp" && mv "$2.tmp" "$2" || cw_fail "cannot write $2"
    BAD_L1=$(grep -n '^    factor: abc$' "$2" | cut -d: -f1)
    BAD_L2=$(grep -n '^  level: loud$' "$2" | cut -d: -f1)
    [ -n "$BAD_L1" ] && [ -n "$BAD_L2" ] || cw_fail "could not derive a broken config from $1"
}

# check_two_errors FILE TEXTFILE WHAT — TEXTFILE holds exactly the two errors of mkbad's
# FILE, in order, each as FILE:LINE:COL: key: message.
check_two_errors() {
    _te_n=$(wc -l <"$2" | tr -d ' ')
    [ "$_te_n" = 2 ] || { cat "$2"; cw_fail "$3: expected 2 error lines, got $_te_n"; }
    _te_1=$(sed -n 1p "$2")
    _te_2=$(sed -n 2p "$2")
    case $_te_1 in
    "$1:$BAD_L1:13: rules.order_gap.factor: "*'"abc"') ;;
    *) cw_fail "$3: first error: '$_te_1'" ;;
    esac
    case $_te_2 in
    "$1:$BAD_L2:10: logging.level: "*'"loud"') ;;
    *) cw_fail "$3: second error: '$_te_2'" ;;
    esac
    echo "ok: $3: both errors as FILE:LINE:COL"
}

# run CMD... — runs CMD with stdout in $D/out, stderr in $D/err, status in RC.
run() {
    "$@" >"$D/out" 2>"$D/err"
    RC=$?
}

# CPU time (user + system, clock ticks) used so far by PID.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# assert_idle PID SECONDS WHAT — PID stays alive and uses under 10% of a CPU for SECONDS.
assert_idle() {
    # the pid must be the daemon itself, not a shell waiting for it
    cw_assert_eq churnwatchd "$(cat "/proc/$1/comm" 2>/dev/null)" "$3: process name of pid $1"
    _ai_t0=$(cpu_ticks "$1") || cw_fail "$3: no /proc/$1/stat"
    sleep "$2"
    cw_pid_alive "$1" || cw_fail "$3: churnwatchd exited"
    _ai_t1=$(cpu_ticks "$1")
    _ai_used=$((_ai_t1 - _ai_t0))
    _ai_max=$(($2 * CLK_TCK / 10))
    [ "$_ai_used" -lt "$_ai_max" ] ||
        cw_fail "$3: churnwatchd used $_ai_used ticks of CPU in $2 s (limit $_ai_max): busy loop?"
    echo "ok: $3: alive, $_ai_used of $_ai_max CPU ticks in $2 s"
}

# wait_log FILE FIXED_STRING TIMEOUT WHAT
wait_log() {
    _wl_file=$1
    _wl_text=$2
    # shellcheck disable=SC2016
    cw_wait_for 'grep -qF -- "$_wl_text" "$_wl_file"' "$3" ||
        cw_fail "$4: no '$2' in $(basename "$1")"
    echo "ok: $4"
}

# offset PREFIX TOPIC — the committed offset of TOPIC partition 0 in Redis (empty if none).
offset() {
    cw_redis HGET "$1:{p0}:off" "$2"
}

# wait_offset PREFIX TOPIC VALUE TIMEOUT
wait_offset() {
    _wo_prefix=$1
    _wo_topic=$2
    _wo_want=$3
    # shellcheck disable=SC2016
    cw_wait_for 'test "$(offset "$_wo_prefix" "$_wo_topic")" = "$_wo_want"' "$4" ||
        cw_fail "$1 $2: offset in Redis is '$(offset "$1" "$2")', expected $3"
    echo "ok: $1 $2 offset = $3"
}

# stop_within PID SECONDS WHAT — SIGTERM makes PID exit with status 0 within SECONDS.
stop_within() {
    _sw_t0=$(date +%s)
    cw_stop_pid "$1" "$2"
    _sw_rc=$?
    [ "$_sw_rc" -eq 0 ] || cw_fail "$3: churnwatchd exited with status $_sw_rc on SIGTERM (137: killed after $2 s)"
    echo "ok: $3: exit status 0 after $(($(date +%s) - _sw_t0)) s"
}

# Findings that do not stop the script: reported together at the end, then it fails.
BUGS=""
bug() {
    echo "BUG: $*"
    BUGS="$BUGS
  - $*"
}

day() { date -u -d "2020-01-01 +$1 days" +%Y-%m-%dT%H:%M:%SZ; }
order() { # CUSTOMER DAY
    printf '%s\t{"type":"order","customer_id":"%s","ts":"%s","order_id":"%s-%s","amount":10}\n' \
        "$1" "$1" "$(day "$2")" "$1" "$2" >"$D/in.tsv"
    cw_produce orders "$D/in.tsv" || cw_fail "cannot produce an order"
}
complaint() { # CUSTOMER DAY
    printf '%s\t{"type":"complaint.opened","customer_id":"%s","ts":"%s","complaint_id":"%s-c"}\n' \
        "$1" "$1" "$(day "$2")" "$1" >"$D/in.tsv"
    cw_produce complaints "$D/in.tsv" || cw_fail "cannot produce a complaint"
}

# ---- 1. command line -------------------------------------------------------------------

D1=$CW_BIN/churnwatchd
CLI=$CW_BIN/churnwatch
mkconf "$D/good.yaml" 127.0.0.1:9092 6379 lc-check cw 7d
mkbad "$D/good.yaml" "$D/bad.yaml"

run "$D1" --version
cw_assert_eq 0 "$RC" "churnwatchd --version: status"
grep -Eqx 'churnwatchd [0-9]+\.[0-9]+\.[0-9]+.*' "$D/out" || cw_fail "churnwatchd --version printed '$(cat "$D/out")'"
run "$CLI" --version
cw_assert_eq 0 "$RC" "churnwatch --version: status"
grep -Eqx 'churnwatch [0-9]+\.[0-9]+\.[0-9]+.*' "$D/out" || cw_fail "churnwatch --version printed '$(cat "$D/out")'"

run "$D1"
cw_assert_eq 2 "$RC" "churnwatchd without arguments: status"
grep -q '^usage: churnwatchd' "$D/err" || cw_fail "churnwatchd without arguments: no usage on stderr"
[ ! -s "$D/out" ] || cw_fail "churnwatchd without arguments wrote to stdout"
run "$CLI"
cw_assert_eq 2 "$RC" "churnwatch without arguments: status"
grep -q '^usage: churnwatch' "$D/err" || cw_fail "churnwatch without arguments: no usage on stderr"

run "$D1" --check-config -c "$D/good.yaml"
cw_assert_eq 0 "$RC" "churnwatchd --check-config GOOD: status"
grep -q 'configuration OK$' "$D/out" || cw_fail "churnwatchd --check-config GOOD printed '$(cat "$D/out")'"
[ ! -s "$D/err" ] || cw_fail "churnwatchd --check-config GOOD: stderr: $(cat "$D/err")"

run "$D1" --check-config -c "$D/bad.yaml"
cw_assert_eq 1 "$RC" "churnwatchd --check-config BAD: status"
grep -q 'configuration OK' "$D/out" "$D/err" && cw_fail "churnwatchd --check-config BAD said OK"
check_two_errors "$D/bad.yaml" "$D/err" "churnwatchd --check-config BAD"
cp "$D/err" "$D/errs-daemon"

run "$CLI" check-config "$D/good.yaml"
cw_assert_eq 0 "$RC" "churnwatch check-config GOOD: status"
grep -qx 'configuration OK' "$D/out" || cw_fail "churnwatch check-config GOOD printed '$(cat "$D/out")'"
run "$CLI" check-config -c "$D/good.yaml"
cw_assert_eq 0 "$RC" "churnwatch check-config -c GOOD: status"

run "$CLI" check-config "$D/bad.yaml"
cw_assert_eq 1 "$RC" "churnwatch check-config BAD: status"
grep -q 'configuration OK' "$D/out" "$D/err" && cw_fail "churnwatch check-config BAD said OK"
check_two_errors "$D/bad.yaml" "$D/err" "churnwatch check-config BAD"
cmp -s "$D/err" "$D/errs-daemon" || cw_fail "churnwatch and churnwatchd report the errors differently"

# Not in check mode either: the daemon does not start on a broken config.
run timeout 20 "$D1" -c "$D/bad.yaml"
cw_assert_eq 1 "$RC" "churnwatchd -c BAD: status"
check_two_errors "$D/bad.yaml" "$D/err" "churnwatchd -c BAD"

# ---- 5. make install -------------------------------------------------------------------

R=$D/root
(cd "$CW_ROOT" && make -s install DESTDIR="$R" PREFIX=/usr) >"$D/install.out" 2>&1 ||
    { cat "$D/install.out"; cw_fail "make install failed"; }
for spec in 755:usr/sbin/churnwatchd 755:usr/bin/churnwatch \
    644:usr/lib/systemd/system/churnwatchd.service 644:usr/lib/sysusers.d/churnwatch.conf \
    640:etc/churnwatch/churnwatch.yaml; do
    f=${spec#*:}
    [ -f "$R/$f" ] || cw_fail "make install did not install $f"
    cw_assert_eq "${spec%%:*}" "$(stat -c %a "$R/$f")" "mode of $f"
done
run "$R/usr/sbin/churnwatchd" --version
cw_assert_eq "$("$D1" --version)" "$(cat "$D/out")" "installed churnwatchd --version"
run "$R/usr/sbin/churnwatchd" --check-config -c "$R/etc/churnwatch/churnwatch.yaml"
cw_assert_eq 0 "$RC" "installed churnwatchd --check-config on the installed config: status"
grep -q 'configuration OK$' "$D/out" || cw_fail "installed config: $(cat "$D/out" "$D/err")"
run "$R/usr/bin/churnwatch" check-config "$R/etc/churnwatch/churnwatch.yaml"
cw_assert_eq 0 "$RC" "installed churnwatch check-config on the installed config: status"

# Every program and config file the unit names is where make install put it (PREFIX=/usr).
UNIT=$R/usr/lib/systemd/system/churnwatchd.service
for p in $(grep '^Exec' "$UNIT" | tr ' =' '\n\n' | grep -E '^/(usr|etc)/' | sort -u); do
    [ -e "$R$p" ] || cw_fail "the unit names $p, which make install did not install"
done
grep -q '^Type=notify$' "$UNIT" || cw_fail "the unit is not Type=notify"
echo "ok: the unit's Exec paths exist in the installed tree"

# An operator's edits to the config survive a second install.
echo "# edited by the operator" >>"$R/etc/churnwatch/churnwatch.yaml"
(cd "$CW_ROOT" && make -s install DESTDIR="$R" PREFIX=/usr) >"$D/install.out" 2>&1 ||
    { cat "$D/install.out"; cw_fail "second make install failed"; }
tail -n 1 "$R/etc/churnwatch/churnwatch.yaml" | grep -qx '# edited by the operator' ||
    cw_fail "a second make install overwrote the edited config"
echo "ok: second install keeps the edited config"

if command -v systemd-analyze >/dev/null 2>&1; then
    # Offline: the unit with its paths pointed into the installed tree (verify checks that
    # the programs exist); --man=no: the man page is not installed. Unknown keys and bad
    # values only print warnings, so any output is a failure.
    sed "s|/usr/sbin/churnwatchd|$R/usr/sbin/churnwatchd|g" "$UNIT" >"$D/churnwatchd.service"
    systemd-analyze verify --man=no "$D/churnwatchd.service" >"$D/verify.out" 2>&1
    rc=$?
    cat "$D/verify.out"
    cw_assert_eq 0 "$rc" "systemd-analyze verify: status"
    [ ! -s "$D/verify.out" ] || cw_fail "systemd-analyze verify complained about the unit"
    # Hardening: the unit's exposure level must be OK, 2.0 or lower. The last line reads
    # "→ Overall exposure level for churnwatchd.service: 1.1 OK 🙂" ("->" and ":-)" in
    # the C locale); the lines marked ✗ say what is left open.
    systemd-analyze security --offline=true --no-pager "$D/churnwatchd.service" \
        >"$D/security.out" 2>&1
    rc=$?
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9]*\.[0-9]\).*/\1/p' \
        "$D/security.out")
    [ "$rc" -eq 0 ] && [ -n "$score" ] ||
        { cat "$D/security.out"; cw_fail "systemd-analyze security: status $rc, no exposure level"; }
    awk -v s="$score" 'BEGIN { exit !(s + 0 <= 2.0) }' ||
        { grep -v '✓' "$D/security.out"; cw_fail "systemd-analyze security: exposure $score > 2.0"; }
    echo "ok: systemd-analyze security: exposure level $score (at most 2.0)"
else
    echo "note: systemd-analyze not found; unit verification skipped"
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers --dry-run --root="$R" >"$D/sysusers.out" 2>&1 ||
        { cat "$D/sysusers.out"; cw_fail "systemd-sysusers rejected churnwatch.conf"; }
    grep -q "Creating user 'churnwatch'" "$D/sysusers.out" ||
        { cat "$D/sysusers.out"; cw_fail "sysusers.d/churnwatch.conf does not create the user"; }
    echo "ok: sysusers.d creates the churnwatch user"
else
    echo "note: systemd-sysusers not found; sysusers check skipped"
fi

# ---- 2. Redis unreachable at start-up --------------------------------------------------

cw_start_broker "$D" 1 --topics orders,complaints,lc-alerts
P=$(cw_free_port) || cw_fail "no free port"
mkconf "$D/redis-late.yaml" "$CW_BROKERS" "$P" lc-redis-late cwr 7d
LOG2=$D/churnwatchd-redis-late.log
cw_spawn "$LOG2" "$D1" -c "$D/redis-late.yaml"
DAEMON=$CW_LAST_PID
wait_log "$LOG2" "redis 127.0.0.1:$P: cannot connect" 3 "Redis down: the log names 127.0.0.1:$P"
grep -F "redis 127.0.0.1:$P: cannot connect" "$LOG2" | head -n 1 | grep -q 'retrying in [0-9]* ms' ||
    cw_fail "Redis down: the message does not say it retries"
# A second daemon, stopped while it waits for Redis: exits 0 promptly.
cw_spawn "$D/churnwatchd-redis-stop.log" "$D1" -c "$D/redis-late.yaml"
STOPPER=$CW_LAST_PID
assert_idle "$DAEMON" 5 "Redis down"
grep -qF "redis 127.0.0.1:$P: cannot connect" "$D/churnwatchd-redis-stop.log" ||
    cw_fail "Redis down (second daemon): no 'cannot connect' message"
stop_within "$STOPPER" 5 "SIGTERM while waiting for Redis"
grep -q 'stopped' "$D/churnwatchd-redis-stop.log" || cw_fail "SIGTERM while waiting for Redis: no 'stopped'"
# The back-off also spaces the messages: the first attempt, then once the back-off reaches
# its maximum (about 6 s in) — not one per attempt.
n=$(grep -c 'cannot connect' "$LOG2")
[ "$n" -le 3 ] || cw_fail "Redis down: $n 'cannot connect' messages in ~6 s"
grep -q 'assigned' "$LOG2" && cw_fail "Redis down: a partition was taken without Redis"
echo "ok: Redis down: $n 'cannot connect' message(s), no partition taken"

cw_spawn "$D/redis.log" redis-server --port "$P" --bind 127.0.0.1 --dir "$D" --save '' \
    --appendonly no --daemonize no
# for lib.sh: cw_redis uses the port, cw_stop_redis the pid
# shellcheck disable=SC2034
CW_REDIS_PID=$CW_LAST_PID
export CW_REDIS_PORT="$P"
cw_wait_for 'test "$(cw_redis ping)" = PONG' 10 || cw_fail "redis-server on port $P did not start"
order o1 0
order o2 0
order o3 0
wait_log "$LOG2" "redis 127.0.0.1:$P: connected" 12 "Redis up: connected"
wait_offset cwr orders 3 30
wait_log "$LOG2" "partition 0: assigned" 1 "Redis up: partition 0 assigned"
cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd (Redis late) exited with status $? on SIGTERM"
grep -q 'stopped' "$LOG2" || cw_fail "churnwatchd (Redis late): no 'stopped' in the log"
echo "ok: Redis late: clean stop"

# ---- 3. Kafka unreachable at start-up --------------------------------------------------

cw_broker_ctl down 1
wait_log "$D/devbroker.log" "control: 'down 1' done" 5 "broker 1 down"
CONF=$D/kafka-late.yaml
mkconf "$CONF" "$CW_BROKERS" "$P" lc-kafka-late cwk 7d
LOG3=$D/churnwatchd-kafka-late.log
cw_spawn "$LOG3" "$D1" -c "$CONF"
DAEMON=$CW_LAST_PID
# A second daemon (its own group and prefix), stopped during the outage.
mkconf "$D/kafka-stop.yaml" "$CW_BROKERS" "$P" lc-kafka-stop cws 7d
cw_spawn "$D/churnwatchd-kafka-stop.log" "$D1" -c "$D/kafka-stop.yaml"
STOPPER=$CW_LAST_PID
wait_log "$LOG3" "redis 127.0.0.1:$P: connected" 5 "Kafka down: Redis connected"
assert_idle "$DAEMON" 4 "Kafka down"
stop_within "$STOPPER" 15 "SIGTERM while Kafka is down"
grep -q 'stopped' "$D/churnwatchd-kafka-stop.log" || cw_fail "SIGTERM while Kafka is down: no 'stopped'"
grep -q 'assigned' "$LOG3" && cw_fail "Kafka down: a partition was assigned with no broker"
grep -qiE 'refused|down|fail' "$LOG3" || cw_fail "Kafka down: nothing about the broker in the log"
echo "ok: Kafka down: the outage is in the log, no partition assigned"
cw_broker_ctl up 1
wait_log "$D/devbroker.log" "control: 'up 1' done" 5 "broker 1 up"
order o4 1
order o5 1
# The group starts from the beginning: the 3 orders of part 2 and these 2.
wait_offset cwk orders 5 30
grep -q 'partition 0: assigned' "$LOG3" || cw_fail "Kafka up: no 'partition 0: assigned'"

# ---- 4. SIGHUP -------------------------------------------------------------------------

# (a) A valid change: complaint_unresolved.older_than 7d -> 1d. A complaint opened on day
# 20 followed by an order on day 23 (the partition's event clock) fires on day 21 with 1d;
# with the old 7d it would be due on day 27 and stay silent. r0's complaint (also day 20)
# arrives before the reload, r1's after it: from day 23 on, both are open 3 days > 1d.
complaint r0 20
wait_offset cwk complaints 1 15
mkconf "$CONF" "$CW_BROKERS" "$P" lc-kafka-late cwk 1d
kill -HUP "$DAEMON"
wait_log "$LOG3" "reload: rules and thresholds reloaded" 5 "SIGHUP (valid): reloaded"
grep -q 'settings changed' "$LOG3" && cw_fail "SIGHUP (valid): claims Kafka/Redis settings changed"
cw_pid_alive "$DAEMON" || cw_fail "SIGHUP (valid): churnwatchd exited"
complaint r1 20
wait_offset cwk complaints 2 15
order z1 23
wait_offset cwk orders 6 15
wait_log "$LOG3" '"customer_id": "r1"' 10 "SIGHUP (valid): r1's complaint alert fired with the new threshold"
# r0 is due in the same timer sweep as r1. The daemon keeps each customer's next due time
# as computed with the threshold of its last evaluation (7d: day 27) and a reload does not
# recompute it, so r0 stays silent until the clock passes day 27 (r2's complaint, below).
if cw_wait_for "grep -qF '\"customer_id\": \"r0\"' '$LOG3'" 2; then
    echo "ok: SIGHUP (valid): r0's complaint, opened before the reload, fired with the new threshold"
else
    bug "a lowered threshold does not reach timers scheduled before SIGHUP: r0's complaint" \
        "(opened day 20, older_than 7d -> 1d by SIGHUP) did not fire at clock day 23 while" \
        "r1's (same day, arrived after the reload) did"
fi

# (b) A broken config: refused with its errors, the daemon keeps the config it had (1d).
mkbad "$CONF" "$D/broken.yaml"
cp "$D/broken.yaml" "$CONF.tmp" && mv "$CONF.tmp" "$CONF" || cw_fail "cannot write $CONF"
kill -HUP "$DAEMON"
wait_log "$LOG3" "reload: $CONF has errors, not reloading" 5 "SIGHUP (broken): not reloading"
# logged as error lines: "TIME error: FILE:LINE:COL: message"
grep -F "$CONF:" "$LOG3" | sed 's/^[0-9T:.-]*Z error: //' | grep -E "^$CONF:[0-9]+:[0-9]+: " \
    >"$D/reload-errors"
check_two_errors "$CONF" "$D/reload-errors" "SIGHUP (broken): errors in the log"
cw_assert_eq 1 "$(grep -c 'reload: rules and thresholds reloaded' "$LOG3")" "reloads applied"
cw_pid_alive "$DAEMON" || cw_fail "SIGHUP (broken): churnwatchd exited"
complaint r2 30
wait_offset cwk complaints 3 15
order z2 33
wait_offset cwk orders 7 15
wait_log "$LOG3" '"customer_id": "r2"' 10 "SIGHUP (broken): r2's alert fired with the kept threshold"

cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd exited with status $? on SIGTERM"
echo "ok: SIGTERM: exit status 0"
grep -q 'stopped' "$LOG3" || cw_fail "no 'stopped' in the log after SIGTERM"

# The alerts topic holds exactly these notices (r0's, late or not, carries its due time).
field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"; }
summary=$(cw_consume lc-alerts | while read -r json; do
    printf '%s %s %s %s\n' "$(echo "$json" | field customer_id)" "$(echo "$json" | field rule)" \
        "$(echo "$json" | field status)" "$(echo "$json" | field ts)"
done | sort)
expected="r0 complaint_unresolved firing 2020-01-22T00:00:00.000Z
r1 complaint_unresolved firing 2020-01-22T00:00:00.000Z
r2 complaint_unresolved firing 2020-02-01T00:00:00.000Z"
cw_assert_eq "$expected" "$summary" "alerts (customer rule status ts)"

[ -z "$BUGS" ] || cw_fail "all checks passed except these (daemon bugs, see the comments above):$BUGS"
echo "12-lifecycle: ok ($(($(date +%s) - STARTED)) s)"
