#!/bin/sh
# 49-cli.sh — the operator's commands on live state (churnwatch inspect, top, ack, silence,
# unsilence, check-config --json) against the real daemon, redis-server and the development
# broker. Clock: event, so event time alone decides what fires; customers are produced to
# explicit partitions (the CLI must find them by probing).
#
#   phase 1: alice (key; order_gap + complaint_unresolved: alarm), bob (order_gap: watch),
#            carol (strategic; complaint_unresolved: watch) in partition 0, erin (order_gap:
#            watch) in partition 1, dave not at risk. Checks `inspect` (text and --json read
#            with jq), `top` (order, --level, --tier, --limit, --json), error messages.
#   phase 2: `ack` bob's order_gap alert and `silence` carol; the clock moves 19 days: alice's
#            order_gap repeats (every 5 days) go out, bob's do not; carol's resolved notice
#            is held and her new episode is not sent while dave's fires. `unsilence carol`:
#            the held resolved notice and a re-send of the new episode with
#            "silence_ended": true arrive.
#   phase 3: bob orders: his resolved notice goes out (and the acknowledgement is deleted);
#            his next episode (a new alert_id) fires as usual.
#   phase 4: the at-risk sets and their "@risk" marks removed (state from an earlier
#            version): the restarted daemon rebuilds the same sets.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
command -v jq >/dev/null 2>&1 || cw_fail "jq is not installed (make deps)"
cw_start_redis "$D"
cw_start_broker "$D" 2
CLI=$CW_BIN/churnwatch
# every run of the CLI leaves its stderr in cli.log, which cw_cleanup checks for sanitizer
# reports (leaks in error paths too)
cli() { "$CLI" "$@" 2>>"$D/cli.log"; }
cli_err() { "$CLI" "$@" 2>"$D/err"; _ce=$?; cat "$D/err" >>"$D/cli.log"; return $_ce; }

cat >"$D/cw.yaml" <<EOF
kafka:
  brokers: "$CW_BROKERS"
  group_id: it49
  alerts_topic: churn-alerts
  batch: {max_messages: 200, max_time: 50ms}
  properties: {session.timeout.ms: 6000, heartbeat.interval.ms: 500}
  topics:
    - name: orders
    - name: complaints
    - name: support
    - name: customers
redis:
  host: 127.0.0.1
  port: $CW_REDIS_PORT
  key_prefix: cw
engine:
  clock: event
  timer_interval: 100ms
rules:
  order_gap: {factor: 3, min_orders: 3, min_gap: 0, repeat_interval: 5d}
  complaint_unresolved: {older_than: 7d, repeat_interval: "0"}
  first_repeat_overdue: {repeat_interval: "0"}
  spend_drop: {repeat_interval: "0"}
  open_complaints: {repeat_interval: "0"}
  complaint_reopened: {repeat_interval: "0"}
  support_unanswered: {repeat_interval: "0"}
  low_satisfaction: {repeat_interval: "0"}
  unsubscribed: {repeat_interval: "0"}
  manager_changed: {repeat_interval: "0"}
sinks:
  log: true
logging:
  level: info
EOF

day() { date -u -d "2020-01-01 +$1 days" +%Y-%m-%dT%H:%M:%SZ; }
ord() { printf '%s\t{"type":"order","customer_id":"%s","ts":"%s","order_id":"%s","amount":%s}\n' "$1" "$1" "$(day "$2")" "$3" "$4"; }
cmpl() { printf '%s\t{"type":"complaint.%s","customer_id":"%s","ts":"%s","complaint_id":"%s"}\n' "$1" "$2" "$1" "$(day "$3")" "$4"; }
tier() { printf '%s\t{"type":"customer.updated","customer_id":"%s","ts":"%s","tier":"%s"}\n' "$1" "$1" "$(day "$2")" "$3"; }
produce() { # TOPIC PARTITION FILE
    CW_KCAT_OPTS="-p $2" cw_produce "$1" "$3" || cw_fail "produce $1/$2"
}
# alerts on the topic: "customer rule status alert_id repeat silence_ended ts" per line
alerts() {
    cw_consume churn-alerts | jq -r '[.customer_id, .rule, .status, .alert_id,
        (.repeat // false), (.silence_ended // false), .ts] | join(" ")'
}
count() { alerts | grep -c "$1" || true; }
applied() { # the total of the offsets committed for TOPIC over both partitions
    cw_applied cw "$1" 2
}

# ---- phase 1 -------------------------------------------------------------------------
{ ord alice 0 a1 10; ord alice 10 a2 20; ord alice 20 a3 30
  ord bob 0 b1 5; ord bob 10 b2 5; ord bob 20 b3 5
  ord dave 0 d1 7; ord dave 5 d2 7; ord dave 10 d3 7; ord dave 45 d4 7
  ord zed 52 z1 1; } >"$D/o0.tsv"
{ cmpl alice opened 30 ac1; cmpl carol opened 40 cc1; } >"$D/c0.tsv"
{ tier alice 1 key; tier carol 1 strategic; } >"$D/u0.tsv"
{ ord erin 0 e1 3; ord erin 10 e2 3; ord erin 20 e3 3; ord yan 52 y1 1; } >"$D/o1.tsv"
produce orders 0 "$D/o0.tsv"
produce complaints 0 "$D/c0.tsv"
produce customers 0 "$D/u0.tsv"
produce orders 1 "$D/o1.tsv"

cw_spawn "$D/churnwatchd.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
DAEMON=$CW_LAST_PID
cw_wait_for 'test "$(applied orders)" = 15 && test "$(applied complaints)" = 2 && test "$(applied customers)" = 2' 60 ||
    cw_fail "churnwatchd did not apply phase 1"
# alice 2, bob 1, carol 1, erin 1 firing notices (+ alice's escalation to alarm)
cw_wait_for 'test "$(count " firing ")" -ge 6' 30 || cw_fail "phase 1 alerts did not arrive"
cw_wait_swept cw 2
alerts >"$D/alerts1.txt"
cat "$D/alerts1.txt"

# inspect, text
"$CLI" inspect -c "$D/cw.yaml" alice >"$D/inspect.txt" 2>"$D/inspect.err" ||
    cw_fail "inspect alice: status $? ($(cat "$D/inspect.err"))"
cat "$D/inspect.txt"
line() { grep "^$1 " "$D/inspect.txt" | sed "s/^$1  *//"; }
cw_assert_eq 0 "$(line partition)" "inspect: partition"
cw_assert_eq "3, spend 60.00" "$(line orders)" "inspect: orders"
cw_assert_eq "key (set by customer.updated)" "$(line tier)" "inspect: tier"
cw_assert_eq alarm "$(line level)" "inspect: level"
cw_assert_eq 60.00 "$(line score)" "inspect: score"
cw_assert_eq "order_gap, complaint_unresolved" "$(line signals)" "inspect: signals"
cw_assert_eq "1 open" "$(line complaints)" "inspect: complaints"
grep -q "opened 2020-01-31T00:00:00.000Z (22.0 d before the clock)" "$D/inspect.txt" ||
    cw_fail "inspect: the open complaint's age"
cw_assert_eq "2020-01-21T00:00:00.000Z (32.0 d before the clock)" "$(line 'last order')" "inspect: last order"
cw_assert_eq "2020-02-25T00:00:00.001Z (in 3.0 d)" "$(line 'next timer')" "inspect: next timer (order_gap repeat)"
grep -q '^open alerts: 2$' "$D/inspect.txt" || cw_fail "inspect: open alerts"
for id in $(grep '^alice .* firing ' "$D/alerts1.txt" | awk '{print $4}' | sort -u); do
    grep -q "^  $id  " "$D/inspect.txt" || cw_fail "inspect: alert $id not listed"
done
grep -q '5 of the customer.s messages found, the latest 5 shown' "$D/inspect.txt" ||
    cw_fail "inspect: recent events"
grep -q 'orders: offsets 0\.\.11' "$D/inspect.txt" || cw_fail "inspect: how far back it looked"

# inspect, JSON
cli inspect -c "$D/cw.yaml" --json --events 3 alice >"$D/inspect.json" || cw_fail "inspect --json"
j() { jq -r "$1" "$D/inspect.json"; }
cw_assert_eq "alice 0 3 60 alarm key" "$(j '"\(.customer_id) \(.partition) \(.state.orders) \(.score) \(.level) \(.state.tier)"')" "inspect --json: fields"
cw_assert_eq "order_gap complaint_unresolved" "$(j '.signals | join(" ")')" "inspect --json: signals"
cw_assert_eq "$(grep '^alice order_gap firing ' "$D/alerts1.txt" | awk '{print $4}' | sort -u)" \
    "$(j '.alerts[] | select(.rule == "order_gap") | .alert_id')" "inspect --json: order_gap alert_id"
cw_assert_eq "2 22 false" "$(j '"\(.alerts | length) \(.state.complaints[0].age_days) \(.alerts[0].acknowledged)"')" "inspect --json: alerts, complaint age"
cw_assert_eq "3 5 complaint.opened" "$(j '"\(.recent_events.events | length) \(.recent_events.matched) \(.recent_events.events[2].type)"')" "inspect --json: recent events"
cw_assert_eq "2020-02-22T00:00:00.000Z 2020-02-22T00:00:00.000Z" "$(j '"\(.clock) \(.evaluated_at)"')" "inspect --json: evaluated at the partition clock"
cw_assert_eq 1 "$(cli inspect -c "$D/cw.yaml" --json --events 0 erin | jq -r .partition)" "inspect erin: partition 1"

# errors
cli_err inspect -c "$D/cw.yaml" nobody >/dev/null
cw_assert_eq 1 "$?" "inspect of an unknown customer: status"
grep -q 'unknown customer "nobody"' "$D/err" || cw_fail "unknown customer: $(cat "$D/err")"
DEAD=$(cw_free_port)
sed "s/port: $CW_REDIS_PORT/port: $DEAD/" "$D/cw.yaml" >"$D/dead.yaml"
cli_err top -c "$D/dead.yaml" >/dev/null
cw_assert_eq 1 "$?" "top with Redis unreachable: status"
grep -q "127.0.0.1:$DEAD" "$D/err" || cw_fail "Redis unreachable: no host:port in '$(cat "$D/err")'"
cli_err ack -c "$D/cw.yaml" 0123456789abcdef >/dev/null
cw_assert_eq 1 "$?" "ack of an unknown alert: status"
cli_err unsilence -c "$D/cw.yaml" erin >/dev/null
cw_assert_eq 1 "$?" "unsilence of a customer not silenced: status"
grep -q 'customer erin is not silenced' "$D/err" || cw_fail "unsilence: $(cat "$D/err")"
cli silence -c "$D/cw.yaml" --for 2x carol >/dev/null
cw_assert_eq 2 "$?" "silence --for 2x: status"
printf 'kafka:\n  brokerz: x\n' >"$D/bad.yaml"
cli check-config --json "$D/bad.yaml" >"$D/cc.json"
cw_assert_eq 1 "$?" "check-config --json of a bad file: status"
cw_assert_eq "false 2 2 3" "$(jq -r '"\(.ok) \(.errors | length) \(.errors[] | select(.message | test("brokerz")) | "\(.line) \(.column)")"' "$D/cc.json")" "check-config --json: the errors"
"$CLI" check-config "$D/bad.yaml" 2>"$D/cc.err"
cw_assert_eq 1 "$?" "check-config of a bad file: status"
grep -q "^$D/bad.yaml:2:3: " "$D/cc.err" || cw_fail "check-config: no FILE:LINE:COL error"
cat "$D/cc.err" "$D/inspect.err" >>"$D/cli.log"
cw_assert_eq "true" "$(cli check-config --json "$D/cw.yaml" | jq -r .ok)" "check-config --json of a good file"

# top
cli top -c "$D/cw.yaml" >"$D/top.txt" || cw_fail "top: status $?"
cat "$D/top.txt"
cw_assert_eq "4 customers at risk in 2 partitions; 4 shown" "$(head -n 1 "$D/top.txt")" "top: header"
cw_assert_eq "alice bob carol erin" "$(sed 1,2d "$D/top.txt" | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')" "top: order"
tj() { cli top -c "$D/cw.yaml" --json "$@" | jq -r '[.customers[] | .customer_id] | join(" ")'; }
cw_assert_eq "alice" "$(tj --level alarm)" "top --level alarm"
cw_assert_eq "alice bob carol erin" "$(tj --level watch)" "top --level watch"
cw_assert_eq "carol" "$(tj --tier strategic)" "top --tier strategic"
cw_assert_eq "bob erin" "$(tj --tier standard)" "top --tier standard"
cw_assert_eq "alice bob" "$(tj --limit 2)" "top --limit 2"
cw_assert_eq "60 alarm key order_gap,complaint_unresolved 2020-01-21T00:00:00.000Z" \
    "$(cli top -c "$D/cw.yaml" --json --limit 1 | jq -r '.customers[0] | "\(.score) \(.level) \(.tier) \(.signals | join(",")) \(.last_order)"')" "top --json: fields"
cw_assert_eq "bob 30 carol 30 alice 60" "$(cw_redis ZRANGE 'cw:{p0}:risk' 0 -1 WITHSCORES | tr '\n' ' ' | sed 's/ $//')" "at-risk set of partition 0"
cw_assert_eq "erin 30" "$(cw_redis ZRANGE 'cw:{p1}:risk' 0 -1 WITHSCORES | tr '\n' ' ' | sed 's/ $//')" "at-risk set of partition 1"

# ---- phase 2: ack and silence ----------------------------------------------------------
BOB=$(grep '^bob order_gap firing ' "$D/alerts1.txt" | awk '{print $4}' | sort -u)
CAROL1=$(grep '^carol complaint_unresolved firing ' "$D/alerts1.txt" | awk '{print $4}' | sort -u)
cli ack -c "$D/cw.yaml" --note "called him" "$BOB" >"$D/ack.txt" || cw_fail "ack: status $?"
cat "$D/ack.txt"
grep -q "customer bob, rule order_gap" "$D/ack.txt" || cw_fail "ack: output"
# the order of the issue: CUSTOMER --for DURATION (options after the id)
cli silence carol -c "$D/cw.yaml" --for 1h --note "on holiday" || cw_fail "silence: status $?"
cli silence -c "$D/cw.yaml" --list >"$D/list.txt" || cw_fail "silence --list"
cat "$D/list.txt"
grep -q '^carol .* on holiday$' "$D/list.txt" || cw_fail "silence --list: carol"
cw_assert_eq "carol 0 true" "$(cli silence -c "$D/cw.yaml" --list --json | jq -r '.silences[0] | "\(.customer_id) \(.partition) \(.active)"')" "silence --list --json"
cw_assert_eq "true called him" "$(cli inspect -c "$D/cw.yaml" --json --events 0 bob | jq -r '.alerts[0] | "\(.acknowledged) \(.note)"')" "inspect: acknowledged"
# the daemon has read both (it logs what it holds when that changes)
cw_wait_for "grep -q 'silenced customers: 1 \\[carol until .*acknowledged alerts: 1 \\[$BOB\\]' '$D/churnwatchd.log'" 30 ||
    cw_fail "the daemon did not read the silence and the acknowledgement"

before_alice=$(count '^alice order_gap firing .* true false')
{ cmpl carol resolved 60 cc1; cmpl carol opened 61 cc2; cmpl dave opened 61 dc1; } >"$D/c0b.tsv"
produce complaints 0 "$D/c0b.tsv"
printf '%s\n' "$(ord zed 71 z2 1)" >"$D/o0b.tsv"
produce orders 0 "$D/o0b.tsv"
cw_wait_for 'test "$(count "^dave complaint_unresolved firing")" = 1' 30 || cw_fail "dave's alert did not arrive"
cw_wait_for 'test "$(count "^alice order_gap firing .* true false")" = 4' 30 ||
    cw_fail "alice's repeats (days 55..70) did not arrive: $(count '^alice order_gap firing .* true false')"
cw_wait_swept cw 2
cw_assert_eq 0 "$before_alice" "alice's repeats before phase 2"
cw_assert_eq 0 "$(count "^bob order_gap firing $BOB true")" "bob's repeats after the ack"
cw_assert_eq 1 "$(count '^carol ')" "carol's notices while silenced (the phase 1 firing only)"
cw_assert_eq 1 "$(cw_redis HLEN 'cw:{p0}:silenced')" "what the silence keeps back, in Redis"

cli unsilence -c "$D/cw.yaml" carol || cw_fail "unsilence: status $?"
cw_wait_for 'test "$(count "^carol ")" = 3' 30 || cw_fail "carol's notices after the silence did not arrive"
alerts >"$D/alerts2.txt"
grep '^carol ' "$D/alerts2.txt"
cw_assert_eq "carol complaint_unresolved resolved $CAROL1 false false 2020-03-01T00:00:00.000Z" \
    "$(grep '^carol ' "$D/alerts2.txt" | sed -n 2p)" "carol: the held resolved notice"
new=$(grep '^carol ' "$D/alerts2.txt" | sed -n 3p)
case $new in
    "carol complaint_unresolved firing "*" false true 2020-03-12T00:00:00.000Z") ;;
    *) cw_fail "carol: the re-send at the end of the silence: '$new'" ;;
esac
cw_wait_for 'test "$(cw_redis HLEN "cw:{p0}:silence")" = 0 && test "$(cw_redis HLEN "cw:{p0}:silenced")" = 0' 30 ||
    cw_fail "the ended silence is still in Redis"

# ---- phase 3: the acknowledged episode resolves, the next one fires ---------------------
printf '%s\n' "$(ord bob 72 b4 5)" >"$D/o0c.tsv"
produce orders 0 "$D/o0c.tsv"
cw_wait_for "test \"\$(count '^bob order_gap resolved $BOB')\" = 1" 30 || cw_fail "bob's resolved notice did not arrive"
cw_wait_for "test \"\$(cw_redis HEXISTS 'cw:{p0}:ack' '$BOB')\" = 0" 30 || cw_fail "the acknowledgement was not deleted"
printf '%s\n' "$(ord zed 150 z3 1)" >"$D/o0d.tsv"
produce orders 0 "$D/o0d.tsv"
cw_wait_for 'test "$(count "^bob order_gap firing .* false false 2020-05-24")" = 1' 30 ||
    cw_fail "bob's next episode did not fire"
alerts >"$D/alerts3.txt"
test "$(grep '^bob order_gap firing .* 2020-05-24' "$D/alerts3.txt" | awk '{print $4}')" != "$BOB" ||
    cw_fail "bob's next episode has the acknowledged id"
cw_assert_eq 0 "$(grep -c "^bob order_gap firing $BOB true" "$D/alerts3.txt")" "bob's repeats, in the end"

cw_wait_swept cw 2
cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd exited with status $?"

# ---- phase 4: state from before the at-risk set existed gets one ------------------------
risk() { for p in 0 1; do echo "p$p: $(cw_redis ZRANGE "cw:{p$p}:risk" 0 -1 WITHSCORES | tr '\n' ' ')"; done; }
risk >"$D/risk-before.txt"
cat "$D/risk-before.txt"
grep -q 'dave [0-9]' "$D/risk-before.txt" || cw_fail "dave is not in the at-risk set"
cw_redis DEL 'cw:{p0}:risk' 'cw:{p1}:risk' >/dev/null
cw_redis HDEL 'cw:{p0}:off' @risk >/dev/null
cw_redis HDEL 'cw:{p1}:off' @risk >/dev/null
cw_spawn "$D/churnwatchd2.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
DAEMON=$CW_LAST_PID
cw_wait_for 'test "$(cw_redis HGET "cw:{p0}:off" @risk)" = 1 && test "$(cw_redis HGET "cw:{p1}:off" @risk)" = 1' 60 ||
    cw_fail "the at-risk sets were not rebuilt"
grep -q 'building the at-risk set' "$D/churnwatchd2.log" || cw_fail "no rebuild in the log"
risk >"$D/risk-after.txt"
cw_assert_eq "$(cat "$D/risk-before.txt")" "$(cat "$D/risk-after.txt")" "the rebuilt at-risk sets"
cw_stop_pid "$DAEMON" 20 || cw_fail "churnwatchd (second run) exited with status $?"
echo "49-cli: ok"
