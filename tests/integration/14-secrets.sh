#!/bin/sh
# 14-secrets.sh — secrets kept out of the config file, against a redis-server that wants a
# password (requirepass: the default user) and has an ACL user (alice):
#   1. redis.password from a file (relative to the config), from the environment and from
#      a systemd credential ($CREDENTIALS_DIRECTORY), as the default user and as alice:
#      each churnwatchd connects and processes the orders (offsets committed in Redis).
#      The last one also takes kafka.properties sasl.password from a file and runs with
#      --debug and librdkafka's debug=conf: the password reaches librdkafka, whose
#      configuration dump shows it [redacted]. (The development broker, librdkafka's mock
#      cluster, has no SASL, so security.protocol stays plaintext and the broker never
#      checks it.)
#   2. a wrong password: churnwatchd says AUTH failed (WRONGPASS), takes no partition,
#      keeps retrying without exiting, and stops cleanly on SIGTERM;
#   3. a missing file, variable or credential: --check-config fails with
#      FILE:LINE:COL: key: reason;
#   4. a literal secret in a config file every user can read: --check-config warns and
#      says how to fix it (both programs); at mode 0640 it does not.
# No secret appears in any output or log of the test. Takes about 30 s.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
STARTED=$(date +%s)
D1=$CW_BIN/churnwatchd
CLI=$CW_BIN/churnwatch

# Distinct values, so that a leak is found by a plain grep at the end.
DEFAULT_PW=cw-default-pw-4f1c9e
ALICE_PW=cw-alice-pw-83d2a7
WRONG_PW=cw-wrong-pw-0b6e55
KAFKA_PW=cw-kafka-pw-c7a014
LITERAL_PW=cw-literal-pw-5e9f31
ALL_PWS="$DEFAULT_PW $ALICE_PW $WRONG_PW $KAFKA_PW $LITERAL_PW"

# ---- helpers ---------------------------------------------------------------------------

# mkconf FILE GROUP PREFIX REDIS_LINES [KAFKA_PROPERTY_LINES] — a config (mode 0600) with
# extra lines in redis: (user, password) and in kafka.properties.
mkconf() {
    cat >"$1.tmp" <<EOF
kafka:
  brokers: "$CW_BROKERS"
  group_id: "$2"
  batch:
    max_messages: 200
    max_time: 50ms
  properties:
    session.timeout.ms: 6000
    heartbeat.interval.ms: 500
${5:-}
  topics:
    - name: orders
redis:
  host: 127.0.0.1
  port: $CW_REDIS_PORT
  key_prefix: "$3"
$4
engine:
  clock: event
  timer_interval: 100ms
logging:
  level: info
metrics:
  listen: "127.0.0.1:0"
EOF
    chmod 600 "$1.tmp" && mv "$1.tmp" "$1" || cw_fail "cannot write $1"
}

# run CMD... — runs CMD with stdout in $D/out, stderr in $D/err (both kept, numbered, for
# the leak check at the end), status in RC.
RUNS=0
run() {
    RUNS=$((RUNS + 1))
    "$@" >"$D/run$RUNS.out.log" 2>"$D/run$RUNS.err.log"
    RC=$?
    cp "$D/run$RUNS.out.log" "$D/out"
    cp "$D/run$RUNS.err.log" "$D/err"
}

# line_of FILE TEXT — the number of the first line of FILE that contains TEXT.
line_of() {
    grep -nF -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# processes NAME REDIS_LINES [KAFKA_PROPERTY_LINES [ENV=VALUE... [-- DAEMON_ARGS...]]] —
# runs churnwatchd with that config and environment until it has committed both orders
# to Redis under key prefix NAME, then stops it (exit status 0).
processes() {
    _p_name=$1
    mkconf "$D/$_p_name.yaml" "sec-$_p_name" "$_p_name" "$2" "${3:-}"
    shift 2
    [ $# -gt 0 ] && shift
    _p_env=""
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        _p_env="$_p_env $1"
        shift
    done
    [ $# -gt 0 ] && shift
    # shellcheck disable=SC2086
    cw_spawn "$D/$_p_name.log" env $_p_env "$D1" "$@" -c "$D/$_p_name.yaml"
    _p_pid=$CW_LAST_PID
    # shellcheck disable=SC2016
    cw_wait_for 'test "$(cw_redis HGET "$_p_name:{p0}:off" orders)" = 2' 40 ||
        cw_fail "$_p_name: churnwatchd did not commit the orders (offset '$(cw_redis HGET "$_p_name:{p0}:off" orders)')"
    test "$(cw_redis EXISTS "$_p_name:{p0}:c:s1")" = 1 || cw_fail "$_p_name: no state for customer s1"
    grep -q "redis 127.0.0.1:$CW_REDIS_PORT: connected" "$D/$_p_name.log" ||
        cw_fail "$_p_name: no 'connected' in the log"
    cw_stop_pid "$_p_pid" 20 || cw_fail "$_p_name: churnwatchd exited with status $? on SIGTERM"
    echo "ok: $_p_name: authenticated, processed the orders, stopped"
}

# ---- Redis with a password and an ACL user, the broker, two orders ----------------------

CW_REDIS_PORT=$(cw_free_port) || cw_fail "no free port"
export CW_REDIS_PORT
# The passwords are on redis-server's command line: acceptable for a throw-away test
# server (an operator would put them in redis.conf or an ACL file).
cw_spawn "$D/redis.log" redis-server --port "$CW_REDIS_PORT" --bind 127.0.0.1 --dir "$D" \
    --save '' --appendonly no --daemonize no --requirepass "$DEFAULT_PW" \
    --user alice on ">$ALICE_PW" '~*' '&*' '+@all'
# shellcheck disable=SC2034
CW_REDIS_PID=$CW_LAST_PID
# redis-cli (cw_redis) authenticates as the default user from the environment.
REDISCLI_AUTH=$DEFAULT_PW
export REDISCLI_AUTH
cw_wait_for 'test "$(cw_redis ping)" = PONG' 10 || cw_fail "redis-server did not start"
test "$(REDISCLI_AUTH='' redis-cli -p "$CW_REDIS_PORT" ping 2>&1)" != PONG ||
    cw_fail "redis-server answers without a password"
test "$(REDISCLI_AUTH=$ALICE_PW redis-cli -p "$CW_REDIS_PORT" --user alice ping 2>&1)" = PONG ||
    cw_fail "the ACL user alice cannot log in"
echo "ok: redis-server wants a password; ACL user alice"

cw_start_broker "$D" 1 --topics orders
printf 's1\t{"type":"order","customer_id":"s1","ts":"2020-01-01T00:00:00Z","order_id":"o1","amount":10}\n' >"$D/orders.tsv"
printf 's2\t{"type":"order","customer_id":"s2","ts":"2020-01-02T00:00:00Z","order_id":"o2","amount":10}\n' >>"$D/orders.tsv"
cw_produce orders "$D/orders.tsv" || cw_fail "cannot produce the orders"

# ---- 1. the three sources --------------------------------------------------------------

printf '%s\n' "$DEFAULT_PW" >"$D/default.pw"
chmod 600 "$D/default.pw"
processes fromfile "  password: {file: default.pw}"

processes fromenv "  user: alice
  password: {env: CW_TEST_REDIS_PASSWORD}" "" "CW_TEST_REDIS_PASSWORD=$ALICE_PW"

# As systemd's LoadCredential= leaves them: a private directory, files mode 0400.
mkdir -m 700 "$D/credentials" || cw_fail "mkdir credentials"
printf '%s' "$ALICE_PW" >"$D/credentials/redis-password"
printf '%s\n' "$KAFKA_PW" >"$D/kafka.pw"
chmod 400 "$D/credentials/redis-password" "$D/kafka.pw"
processes fromcredential "  user: alice
  password:
    credential: redis-password" "    sasl.username: churnwatch
    sasl.password: {file: kafka.pw}
    debug: conf" "CREDENTIALS_DIRECTORY=$D/credentials" -- --debug
grep -q 'sasl.password = \[redacted\]' "$D/fromcredential.log" ||
    cw_fail "fromcredential: librdkafka's configuration dump has no 'sasl.password = [redacted]'"
echo "ok: fromcredential: sasl.password reached librdkafka, which shows it [redacted]"

# ---- 2. a wrong password ---------------------------------------------------------------

printf '%s\n' "$WRONG_PW" >"$D/wrong.pw"
mkconf "$D/wrong.yaml" sec-wrong wrong "  user: alice
  password: {file: wrong.pw}"
cw_spawn "$D/wrong.log" "$D1" -c "$D/wrong.yaml"
WRONG=$CW_LAST_PID
cw_wait_for "grep -q 'AUTH' '$D/wrong.log'" 10 || cw_fail "wrong password: nothing about AUTH in the log"
grep "AUTH" "$D/wrong.log" | head -n 1 | grep -q "redis 127.0.0.1:$CW_REDIS_PORT: .*WRONGPASS" ||
    cw_fail "wrong password: the error does not name the server and WRONGPASS: $(grep AUTH "$D/wrong.log" | head -n 1)"
sleep 2
cw_pid_alive "$WRONG" || cw_fail "wrong password: churnwatchd exited instead of retrying"
grep -q 'connected' "$D/wrong.log" && cw_fail "wrong password: the log says connected"
grep -q 'assigned' "$D/wrong.log" && cw_fail "wrong password: a partition was taken"
cw_stop_pid "$WRONG" 10 || cw_fail "wrong password: churnwatchd exited with status $? on SIGTERM"
echo "ok: wrong password: $(grep -c AUTH "$D/wrong.log") AUTH error(s) naming the server, no partition, clean stop"

# ---- 2b. no password for a server that wants one: a clear hint, no retry storm --------

mkconf "$D/nopw.yaml" sec-nopw nopw ""
cw_spawn "$D/nopw.log" "$D1" -c "$D/nopw.yaml"
NOPW=$CW_LAST_PID
cw_wait_for "grep -q 'NOAUTH' '$D/nopw.log'" 10 || cw_fail "no password: nothing about NOAUTH in the log"
grep -q 'PING: NOAUTH.*set redis.password' "$D/nopw.log" ||
    cw_fail "no password: no hint to set redis.password: $(grep NOAUTH "$D/nopw.log" | head -n 1)"
sleep 2
cw_pid_alive "$NOPW" || cw_fail "no password: churnwatchd exited instead of retrying"
n=$(grep -c NOAUTH "$D/nopw.log")
test "$n" -le 3 || cw_fail "no password: $n NOAUTH errors in 2 s (retry storm)"
grep -q 'assigned' "$D/nopw.log" && cw_fail "no password: a partition was taken"
cw_stop_pid "$NOPW" 10 || cw_fail "no password: churnwatchd exited with status $? on SIGTERM"
echo "ok: no password: $n NOAUTH error(s) with a hint, no partition, clean stop"

# ---- 3. a secret that cannot be read ---------------------------------------------------

# check_missing NAME REDIS_LINE MARKER COLUMN MESSAGE [ENV...] — --check-config on a config
# whose redis lines are REDIS_LINE fails with exactly one error, at the line holding MARKER.
check_missing() {
    _cm_conf=$D/$1.yaml
    mkconf "$_cm_conf" "sec-$1" "$1" "$2"
    _cm_line=$(line_of "$_cm_conf" "$3")
    _cm_want="$_cm_conf:$_cm_line:$4: $5"
    shift 5
    run env "$@" "$D1" --check-config -c "$_cm_conf"
    cw_assert_eq 1 "$RC" "check-config with an unreadable secret: status"
    cw_assert_eq "$_cm_want" "$(cat "$D/err")" "check-config with an unreadable secret: error"
    grep -q 'configuration OK' "$D/out" && cw_fail "check-config said OK"
}
check_missing nofile "  password: {file: missing.pw}" "missing.pw" 14 \
    "redis.password.file: cannot read secret file $D/missing.pw: No such file or directory"
check_missing noenv "  password: {env: CW_TEST_UNSET}" "CW_TEST_UNSET" 14 \
    "redis.password.env: environment variable CW_TEST_UNSET is not set" -u CW_TEST_UNSET
check_missing nocred "  password: {credential: redis-password}" "redis-password" 14 \
    "redis.password.credential: credential redis-password: \$CREDENTIALS_DIRECTORY is not set (systemd sets it for a unit with LoadCredential=redis-password:PATH; elsewhere use {file: PATH} or {env: NAME})" \
    -u CREDENTIALS_DIRECTORY
: >"$D/empty.pw"
check_missing emptyfile "  password: {file: empty.pw}" "empty.pw" 14 \
    "redis.password.file: secret file $D/empty.pw is empty"
check_missing nocredfile "  password: {credential: other}" "other" 14 \
    "redis.password.credential: cannot read credential other ($D/credentials/other): No such file or directory" \
    "CREDENTIALS_DIRECTORY=$D/credentials"

# ---- 4. a literal secret in a file others can read -------------------------------------

mkconf "$D/literal.yaml" sec-literal literal "  password: $LITERAL_PW"
L=$(line_of "$D/literal.yaml" "$LITERAL_PW")
WARN="$D/literal.yaml:$L:13: redis.password: a secret is written out in a file that every user can read (mode 0644): chmod 640 $D/literal.yaml"
chmod 644 "$D/literal.yaml"
run "$D1" --check-config -c "$D/literal.yaml"
cw_assert_eq 0 "$RC" "check-config, literal secret, mode 0644: status"
grep -q 'configuration OK$' "$D/out" || cw_fail "check-config, mode 0644: no 'configuration OK'"
cw_assert_eq 1 "$(grep -c 'every user can read' "$D/err")" "warnings, mode 0644"
grep -qF "$WARN" "$D/err" || cw_fail "check-config, mode 0644: expected '$WARN', got '$(cat "$D/err")'"
grep -qF '{credential: NAME}' "$D/err" || cw_fail "check-config, mode 0644: the warning does not name the other sources"
run "$CLI" check-config "$D/literal.yaml"
cw_assert_eq 0 "$RC" "churnwatch check-config, literal secret, mode 0644: status"
grep -qF "$WARN" "$D/err" || cw_fail "churnwatch check-config, mode 0644: no warning: '$(cat "$D/err")'"
chmod 640 "$D/literal.yaml"
run "$D1" --check-config -c "$D/literal.yaml"
cw_assert_eq 0 "$RC" "check-config, literal secret, mode 0640: status"
[ ! -s "$D/err" ] || cw_fail "check-config, mode 0640: stderr: $(cat "$D/err")"
echo "ok: literal secret: a warning at 0644, none at 0640"

# ---- no secret in any output or log -----------------------------------------------------

for pw in $ALL_PWS; do
    for f in "$D"/*.log; do
        if grep -qF -- "$pw" "$f"; then
            cw_fail "a secret appears in $(basename "$f"): $(grep -nF -- "$pw" "$f" | head -n 3 | sed "s/$pw/<SECRET>/g")"
        fi
    done
done
echo "ok: no secret in $(ls "$D"/*.log | wc -l | tr -d ' ') logs and outputs"
echo "14-secrets: ok ($(($(date +%s) - STARTED)) s)"
