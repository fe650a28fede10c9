# lib.sh — shell helpers for the demo and the integration tests (POSIX sh; sourced).
#
#   CW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
#   . "$CW_ROOT/tests/tools/lib.sh"
#   cw_install_trap                    # cleanup on exit, Ctrl-C and SIGTERM
#   cw_tmpdir                          # sets CW_TMPDIR (call directly, not in $(...))
#   cw_start_redis "$CW_TMPDIR"        # exports CW_REDIS_PORT
#   cw_start_broker "$CW_TMPDIR" 4     # exports CW_BROKERS
#   cw_config config/demo.yaml "$CW_TMPDIR/cw.yaml"
#   cw_spawn "$CW_TMPDIR/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$CW_TMPDIR/cw.yaml"
#   DAEMON=$CW_LAST_PID
#   cw_produce orders orders.tsv
#   cw_wait_for 'test "$(cw_redis DBSIZE)" -gt 0' 10 || cw_fail "no state written"
#   cw_stop_pid "$DAEMON" || cw_fail "churnwatchd exited with status $?"
#
# Also: cw_redis ARGS, cw_consume TOPIC [FMT], cw_spawn_split OUT ERR CMD, cw_broker_ctl
# "down 1", cw_assert_eq EXP ACT WHAT, cw_pid_alive PID, cw_forget_pid PID, cw_free_port,
# cw_stop_redis, cw_restart_redis, cw_stop_broker, cw_log MSG, cw_metrics_port LOG,
# cw_http URL, cw_metric FILE SERIES, cw_start_prometheus DIR CONFIG, cw_prom_query EXPR,
# cw_stop_prometheus. Each is described where it is defined.
#
# Processes are started in the background of the calling shell (never inside $(...)), so
# their pids are known and `wait` can collect their exit status. Everything started here is
# stopped by cw_cleanup, which also removes the temporary directories (unless CW_KEEP=1),
# prints the tail of every *.log in them when the script is failing, and turns a sanitizer
# report found in those logs into a failure.
#
# Scripts may run with `set -u` (the helpers reference no unset variable).
#
# Environment:
#   CW_ROOT     the repository (default: the current directory)
#   CW_BIN      where churnwatchd and churnwatch are (default $CW_ROOT/build; the integration
#               runner sets $CW_ROOT/build/san). build/devbroker always comes from build/.
#   CW_KEEP=1   keep the temporary directories for a post-mortem
#   CW_LOG_TAILS=0  do not print the logs' last lines when failing

: "${CW_ROOT:=$(pwd)}"
if [ ! -f "$CW_ROOT/tests/tools/lib.sh" ]; then
    echo "lib.sh: CW_ROOT=$CW_ROOT is not the churnwatch repository" >&2
    exit 2
fi
: "${CW_BIN:=$CW_ROOT/build}"
case $CW_BIN in /*) ;; *) CW_BIN=$CW_ROOT/$CW_BIN ;; esac
CW_DEVBROKER=$CW_ROOT/build/devbroker
CW_TAB=$(printf '\t')

CW_PIDS=""         # every background process started here, most recent first
CW_TMPDIRS=""      # every directory made by cw_tmpdir
CW_TMPDIR=""       # the most recent one
CW_LAST_PID=""     # pid of the last cw_spawn
CW_REDIS_PID=""
CW_REDIS_ARGS=""
CW_BROKER_PID=""
CW_BROKER_CTL=""
CW_PROM_PID=""
CW_PROM_PORT=""
CW_HTTP_STATUS=""
CW_CLEANED=""
CW_REDIS_PORT=${CW_REDIS_PORT:-}
CW_BROKERS=${CW_BROKERS:-}

export CW_ROOT CW_BIN

cw_log() {
    echo "$(date +%H:%M:%S) $*" >&2
}

# Prints "FAIL: message" and exits 1 (running cw_cleanup through the EXIT trap).
cw_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# cw_assert_eq EXPECTED ACTUAL WHAT — fails the script unless the two strings are equal.
cw_assert_eq() {
    if [ "$1" != "$2" ]; then
        cw_fail "$3: expected '$1', got '$2'"
    fi
    echo "ok: $3 = $2"
}

# Installs cw_cleanup for EXIT, INT and TERM (a signal ends the script after cleaning up).
cw_install_trap() {
    trap 'cw_cleanup' EXIT
    trap 'cw_cleanup; trap - EXIT; exit 130' INT
    trap 'cw_cleanup; trap - EXIT; exit 143' TERM
}

# Makes a new temporary directory, remembered for cleanup, and sets CW_TMPDIR to it.
# Call it directly (`cw_tmpdir`), not as `$(cw_tmpdir)`: a subshell would forget it.
cw_tmpdir() {
    CW_TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/churnwatch.XXXXXX") || cw_fail "mktemp -d failed"
    CW_TMPDIRS="$CW_TMPDIR $CW_TMPDIRS"
}

# True while PID is a running process (a zombie counts as gone).
cw_pid_alive() {
    _pa_st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    case $_pa_st in Z*|"") return 1 ;; esac
    return 0
}

# cw_stop_pid PID [TIMEOUT_S] — SIGTERM, then SIGKILL after TIMEOUT_S (default 10).
# Returns the process's exit status when it is a child of this shell (else 0), 137 if it
# had to be killed. Forgets the pid either way.
cw_stop_pid() {
    _sp_pid=$1
    _sp_left=$(( ${2:-10} * 10 ))
    _sp_rc=0
    _sp_killed=""
    kill -TERM "$_sp_pid" 2>/dev/null
    while cw_pid_alive "$_sp_pid"; do
        if [ "$_sp_left" -le 0 ]; then
            echo "lib.sh: pid $_sp_pid did not stop on SIGTERM, sending SIGKILL" >&2
            kill -KILL "$_sp_pid" 2>/dev/null
            _sp_killed=1
            break
        fi
        sleep 0.1
        _sp_left=$((_sp_left - 1))
    done
    wait "$_sp_pid" 2>/dev/null
    _sp_rc=$?
    [ "$_sp_rc" -eq 127 ] && _sp_rc=0   # not our child: no status to report
    [ -n "$_sp_killed" ] && _sp_rc=137
    cw_forget_pid "$_sp_pid"
    return "$_sp_rc"
}

cw_forget_pid() {
    _fp_new=""
    for _fp_p in $CW_PIDS; do
        [ "$_fp_p" = "$1" ] || _fp_new="$_fp_new $_fp_p"
    done
    CW_PIDS=$_fp_new
}

# cw_spawn LOGFILE CMD [ARGS...] — starts CMD in the background with stdout and stderr to
# LOGFILE; sets CW_LAST_PID and remembers the pid for cleanup.
cw_spawn() {
    _sw_log=$1
    shift
    "$@" >"$_sw_log" 2>&1 &
    CW_LAST_PID=$!
    CW_PIDS="$CW_LAST_PID $CW_PIDS"
}

# cw_spawn_split OUTFILE ERRFILE CMD [ARGS...] — the same with stdout and stderr apart.
cw_spawn_split() {
    _sw_out=$1
    _sw_err=$2
    shift 2
    "$@" >"$_sw_out" 2>"$_sw_err" &
    CW_LAST_PID=$!
    CW_PIDS="$CW_LAST_PID $CW_PIDS"
}

# cw_wait_for CMD TIMEOUT_S — evaluates CMD (a shell string) every 0.1 s until it succeeds
# (return 0) or TIMEOUT_S seconds have passed (return 1).
cw_wait_for() {
    _wf_left=$(( ${2:-10} * 10 ))
    while ! eval "$1" >/dev/null 2>&1; do
        [ "$_wf_left" -le 0 ] && return 1
        sleep 0.1
        _wf_left=$((_wf_left - 1))
    done
    return 0
}

# Prints a TCP port on 127.0.0.1 nobody listens on. Ports come from 10000..29999, below
# Linux's ephemeral range (32768..60999), so the kernel does not hand them out meanwhile.
cw_free_port() {
    _fr_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    _fr_i=0
    while [ "$_fr_i" -lt 200 ]; do
        _fr_p=$(( 10000 + (_fr_r + _fr_i * 7919) % 20000 ))
        if [ -z "$(ss -Htln "sport = :$_fr_p" 2>/dev/null)" ]; then
            echo "$_fr_p"
            return 0
        fi
        _fr_i=$((_fr_i + 1))
    done
    echo "lib.sh: no free port found" >&2
    return 1
}

# cw_redis ARGS... — redis-cli against the test redis.
cw_redis() {
    redis-cli -p "$CW_REDIS_PORT" "$@"
}

# cw_start_redis DIR [REDIS_ARGS...] — starts redis-server on a free port (no persistence,
# data in DIR, log in DIR/redis.log), waits for PONG (10 s), exports CW_REDIS_PORT. Tries 3
# ports. REDIS_ARGS (simple words, e.g. --appendonly yes --appendfsync always) come last and
# override the defaults; cw_restart_redis reuses them.
cw_start_redis() {
    _sr_dir=$1
    shift
    CW_REDIS_ARGS="$*"
    for _sr_try in 1 2 3; do
        CW_REDIS_PORT=$(cw_free_port) || return 1
        export CW_REDIS_PORT
        # shellcheck disable=SC2086
        cw_spawn "$_sr_dir/redis.log" redis-server --port "$CW_REDIS_PORT" --bind 127.0.0.1 \
            --dir "$_sr_dir" --save '' --appendonly no --daemonize no $CW_REDIS_ARGS
        CW_REDIS_PID=$CW_LAST_PID
        # shellcheck disable=SC2016
        if cw_wait_for 'test "$(redis-cli -p "$CW_REDIS_PORT" ping)" = PONG' 10; then
            return 0
        fi
        cw_stop_pid "$CW_REDIS_PID" 2
        echo "lib.sh: redis-server on port $CW_REDIS_PORT did not answer:" >&2
        tail -n 5 "$_sr_dir/redis.log" >&2
    done
    cw_fail "cannot start redis-server"
}

# cw_restart_redis DIR — starts redis-server again on the same port, dir and arguments as
# the last cw_start_redis (after cw_stop_redis), log appended to DIR/redis.log; waits for
# PONG (10 s). With --appendonly yes the data comes back from DIR's AOF.
cw_restart_redis() {
    _rr_dir=$1
    # shellcheck disable=SC2086
    redis-server --port "$CW_REDIS_PORT" --bind 127.0.0.1 --dir "$_rr_dir" --save '' \
        --appendonly no --daemonize no ${CW_REDIS_ARGS:-} >>"$_rr_dir/redis.log" 2>&1 &
    CW_LAST_PID=$!
    CW_PIDS="$CW_LAST_PID $CW_PIDS"
    CW_REDIS_PID=$CW_LAST_PID
    # shellcheck disable=SC2016
    cw_wait_for 'test "$(redis-cli -p "$CW_REDIS_PORT" ping)" = PONG' 10 ||
        cw_fail "redis-server did not restart on port $CW_REDIS_PORT"
}

# Stops the redis-server started by cw_start_redis (its data is not saved).
cw_stop_redis() {
    [ -n "$CW_REDIS_PID" ] || return 0
    cw_stop_pid "$CW_REDIS_PID" 10
    CW_REDIS_PID=""
}

# cw_start_broker DIR [PARTITIONS [DEVBROKER_ARGS...]] — starts build/devbroker (default 4
# partitions per topic), waits for its bootstrap file (10 s), exports CW_BROKERS. Its
# control FIFO is DIR/broker.ctl (see cw_broker_ctl); its log DIR/devbroker.log.
cw_start_broker() {
    _sb_dir=$1
    _sb_parts=${2:-4}
    if [ $# -ge 2 ]; then shift 2; else shift $#; fi
    [ -x "$CW_DEVBROKER" ] || cw_fail "$CW_DEVBROKER not built (make build/devbroker)"
    rm -f "$_sb_dir/bootstrap" "$_sb_dir/broker.ctl"
    CW_BROKER_CTL=$_sb_dir/broker.ctl
    cw_spawn "$_sb_dir/devbroker.log" "$CW_DEVBROKER" --partitions "$_sb_parts" \
        --bootstrap-file "$_sb_dir/bootstrap" --control "$CW_BROKER_CTL" "$@"
    CW_BROKER_PID=$CW_LAST_PID
    if ! cw_wait_for "test -s '$_sb_dir/bootstrap'" 10; then
        tail -n 20 "$_sb_dir/devbroker.log" >&2
        cw_fail "devbroker did not start"
    fi
    CW_BROKERS=$(cat "$_sb_dir/bootstrap")
    export CW_BROKERS
}

# cw_broker_ctl COMMAND... — sends a control command to the devbroker ("down 1", "up 1",
# "rtt 1 500", "leader orders 0 2"; broker ids start at 1, -1 = all).
cw_broker_ctl() {
    cw_pid_alive "${CW_BROKER_PID:-0}" || cw_fail "cw_broker_ctl: devbroker is not running"
    # The broker holds the FIFO open for reading, so this open cannot block.
    echo "$*" >"$CW_BROKER_CTL"
}

cw_stop_broker() {
    [ -n "$CW_BROKER_PID" ] || return 0
    cw_stop_pid "$CW_BROKER_PID" 10
    CW_BROKER_PID=""
}

# cw_metrics_port LOG [TIMEOUT_S] — prints the port a churnwatchd serves /metrics on, read
# from its log line "metrics: serving ... (port N)" (waits up to TIMEOUT_S, default 10 s,
# for the line; returns 1 without it). For configs with metrics.listen "127.0.0.1:0".
cw_metrics_port() {
    cw_wait_for "grep -q 'metrics: serving .* (port [0-9]*)' '$1'" "${2:-10}" || return 1
    sed -n 's/.*metrics: serving .* (port \([0-9]*\)).*/\1/p' "$1" | tail -n 1
}

# cw_http URL — prints the body of a GET (whatever the status) and sets CW_HTTP_STATUS to
# the status code (000 when nothing answered). Call it as `cw_http URL >FILE`, not in
# $(...), when the status is wanted.
cw_http() {
    # shellcheck disable=SC2034 # read by the scripts that source this file
    CW_HTTP_STATUS=$(curl -s -m 10 -o "$CW_TMPDIR/http.$$" -w '%{http_code}' "$1")
    cat "$CW_TMPDIR/http.$$" 2>/dev/null
    rm -f "$CW_TMPDIR/http.$$"
}

# cw_metric FILE SERIES — the value of SERIES (a metric name with its labels exactly as
# exposed, e.g. 'churnwatch_events_consumed_total{topic="orders"}') in FILE, a /metrics
# scrape; prints nothing when absent.
cw_metric() {
    awk -v s="$2" 'substr($0, 1, length(s) + 1) == s " " { print $2; exit }' "$1"
}

# cw_start_prometheus DIR CONFIG — starts /usr/bin/prometheus with CONFIG (a prometheus.yml)
# on a free loopback port, data in DIR/prometheus-data, log in DIR/prometheus.log; waits
# until it is ready (60 s) and exports CW_PROM_PORT.
cw_start_prometheus() {
    CW_PROM_PORT=$(cw_free_port) || return 1
    export CW_PROM_PORT
    cw_spawn "$1/prometheus.log" prometheus --config.file="$2" \
        --storage.tsdb.path="$1/prometheus-data" --web.listen-address="127.0.0.1:$CW_PROM_PORT"
    CW_PROM_PID=$CW_LAST_PID
    if ! cw_wait_for "curl -sf -m 5 http://127.0.0.1:$CW_PROM_PORT/-/ready" 60; then
        tail -n 20 "$1/prometheus.log" >&2
        cw_fail "prometheus did not become ready"
    fi
}

# cw_prom_api PATH — prints the JSON answer of the Prometheus HTTP API (e.g.
# /api/v1/targets).
cw_prom_api() {
    curl -s -m 10 "http://127.0.0.1:$CW_PROM_PORT$1"
}

# cw_prom_query EXPR — prints the value of the first series an instant query returns,
# nothing when it returns none.
cw_prom_query() {
    curl -s -m 10 --data-urlencode "query=$1" "http://127.0.0.1:$CW_PROM_PORT/api/v1/query" |
        sed -n 's/.*"result":\[{"metric":{[^}]*},"value":\[[0-9.]*,"\([^"]*\)"\]}.*/\1/p'
}

cw_stop_prometheus() {
    [ -n "$CW_PROM_PID" ] || return 0
    cw_stop_pid "$CW_PROM_PID" 10
    CW_PROM_PID=""
}

# cw_produce TOPIC FILE — produces FILE's "KEY<TAB>VALUE" lines to TOPIC; fails if kcat
# cannot deliver them all. Extra kcat options may be given in CW_KCAT_OPTS.
cw_produce() {
    # shellcheck disable=SC2086
    kcat -P -b "$CW_BROKERS" -t "$1" -K "$CW_TAB" -X linger.ms=5 ${CW_KCAT_OPTS:-} <"$2"
}

# cw_applied PREFIX TOPIC NPARTS — the sum over partitions 0..NPARTS-1 of the next offsets
# of TOPIC that churnwatchd committed under key prefix PREFIX (one redis-cli call).
cw_applied() {
    seq 0 $(($3 - 1)) | sed "s/.*/HGET $1:{p&}:off $2/" | cw_redis |
        awk '{ n += $1 } END { print n + 0 }'
}

# cw_wait_applied PREFIX TOPIC NPARTS N TIMEOUT_S — polls every 20 ms until cw_applied
# reaches N (return 0) or TIMEOUT_S seconds have passed (return 1).
cw_wait_applied() {
    _wa_left=$(($5 * 50))
    while [ "$(cw_applied "$1" "$2" "$3")" -lt "$4" ]; do
        [ "$_wa_left" -le 0 ] && return 1
        sleep 0.02
        _wa_left=$((_wa_left - 1))
    done
}

# cw_due_behind PREFIX NPARTS [LATENESS_MS] — the number of due timers the sweep has not
# reached yet: over partitions 0..NPARTS-1, the cw:{pN}:due entries at or before the
# partition clock (@clock) minus engine.lateness. 0 once the daemon has swept every timer
# its clock allows.
CW_DUE_BEHIND_LUA='local n = 0
for p = 0, tonumber(ARGV[2]) - 1 do
  local k = ARGV[1] .. ":{p" .. p .. "}:"
  local clock = redis.call("HGET", k .. "off", "@clock")
  if clock then
    n = n + redis.call("ZCOUNT", k .. "due", "-inf", tonumber(clock) - tonumber(ARGV[3]))
  end
end
return n'
cw_due_behind() {
    cw_redis EVAL "$CW_DUE_BEHIND_LUA" 0 "$1" "$2" "${3:-0}"
}

# cw_wait_swept PREFIX NPARTS [LATENESS_MS] [TIMEOUT_S] — waits (default 30 s) until the
# daemon has swept every timer its clock allows (cw_due_behind is 0). Call it before
# stopping a run whose state is compared with another's: a run stopped right after its
# last commit, before its next sweep, would leave timers unswept that the other run fired.
cw_wait_swept() {
    cw_wait_for "test \"\$(cw_due_behind '$1' '$2' '${3:-0}')\" = 0" "${4:-30}" ||
        cw_fail "$1: $(cw_due_behind "$1" "$2" "${3:-0}") due timers not swept in ${4:-30} s"
}

# cw_dump_state PREFIX NPARTS — prints what churnwatchd keeps under PREFIX for partitions
# 0..NPARTS-1: every customer's stored state (escaped, sorted by key), the offsets hash
# (partition clock and tier cut-offs included), the due timers, the held late events and
# the at-risk set.
# Two runs of the same input must print the same.
cw_dump_state() {
    _ds_p=0
    while [ "$_ds_p" -lt "$2" ]; do
        cw_redis --scan --pattern "$1:{p$_ds_p}:c:*" | sed "s/^$1://" | sort >"$CW_TMPDIR/keys.$$"
        sed "s/^/GET $1:/" "$CW_TMPDIR/keys.$$" | cw_redis --no-raw | paste -d' ' "$CW_TMPDIR/keys.$$" -
        echo "offsets p$_ds_p: $(cw_redis HGETALL "$1:{p$_ds_p}:off" | tr '\n' ' ')"
        echo "due p$_ds_p: $(cw_redis ZRANGE "$1:{p$_ds_p}:due" 0 -1 WITHSCORES | tr '\n' ' ')"
        echo "held p$_ds_p: $(cw_redis --no-raw ZRANGE "$1:{p$_ds_p}:held" 0 -1 WITHSCORES | tr '\n' ' ')"
        echo "risk p$_ds_p: $(cw_redis ZRANGE "$1:{p$_ds_p}:risk" 0 -1 WITHSCORES | tr '\n' ' ')"
        _ds_p=$((_ds_p + 1))
    done
    rm -f "$CW_TMPDIR/keys.$$"
}

# cw_assert_same_state EXPECTED ACTUAL WHAT — fails with "WHAT differs ..." unless the two
# cw_dump_state files are identical; on a difference prints the start of the diff and
# keeps the dumps and logs of the test in build/test-logs/NAME.evidence.PID.
cw_assert_same_state() {
    cmp -s "$1" "$2" && return 0
    diff "$1" "$2" | cut -c1-400 | head -n 20
    _as_e=$CW_ROOT/build/test-logs/$(basename "$0" .sh).evidence.$$
    mkdir -p "$_as_e" && cp "$CW_TMPDIR"/*.txt "$CW_TMPDIR"/*.log "$_as_e"/ 2>/dev/null &&
        echo "evidence saved in $_as_e"
    cw_fail "$3 differs from the uninterrupted run"
}

# cw_consume TOPIC [FORMAT] — prints every message now in TOPIC (kcat -f FORMAT, default
# '%s\n') and exits at the end of all partitions.
cw_consume() {
    kcat -C -b "$CW_BROKERS" -t "$1" -o beginning -e -q -f "${2:-%s\n}"
}

# cw_config TEMPLATE OUT — copies a config, replacing @BROKERS@, @REDIS_PORT@ and @DIR@
# (the temporary directory).
cw_config() {
    sed -e "s|@BROKERS@|$CW_BROKERS|g" -e "s|@REDIS_PORT@|$CW_REDIS_PORT|g" \
        -e "s|@DIR@|$CW_TMPDIR|g" "$1" >"$2" || cw_fail "cannot write $2"
}

# Stops everything started here (most recent first) and removes the temporary
# directories. Safe to call twice. When the script is failing, prints the last lines of
# each log in the temporary directories first; a sanitizer report in any of them makes
# the script fail.
cw_cleanup() {
    _cc_status=$?
    [ -n "$CW_CLEANED" ] && return "$_cc_status"
    CW_CLEANED=1
    for _cc_p in $CW_PIDS; do
        cw_stop_pid "$_cc_p" 5 >/dev/null 2>&1
    done
    _cc_san=""
    for _cc_d in $CW_TMPDIRS; do
        for _cc_f in "$_cc_d"/*.log; do
            [ -f "$_cc_f" ] || continue
            if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$_cc_f"; then
                _cc_san=1
                echo "=== sanitizer report in $(basename "$_cc_f"):" >&2
                grep -E -A 30 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$_cc_f" | head -n 60 >&2
            elif [ "$_cc_status" -ne 0 ] && [ "${CW_LOG_TAILS:-1}" = 1 ]; then
                echo "=== last lines of $(basename "$_cc_f"):" >&2
                tail -n 15 "$_cc_f" | cut -c1-300 >&2
            fi
        done
        if [ "${CW_KEEP:-0}" = 1 ]; then
            echo "lib.sh: kept $_cc_d" >&2
        else
            rm -rf "$_cc_d"
        fi
    done
    if [ -n "$_cc_san" ]; then
        echo "FAIL: sanitizer report (see above)" >&2
        exit 1
    fi
    return "$_cc_status"
}
