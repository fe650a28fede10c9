#!/bin/sh
# 18-hostile-input.sh — hostile messages through Kafka: every file of the decoder's fuzz
# seed corpus (invalid UTF-8, NUL bytes, deep nesting, huge numbers, duplicate keys,
# truncated JSON, ...), messages at the size limit and beyond it, and an event dated
# thousands of years ahead, between the events of an ordinary customer "g". The daemon must
# keep running, consume every offset, reject each bad message with a reason (counted, and
# copied to the dead-letter topic with its reason header), and g's state must be exactly
# what the ordinary events alone produce (compared with a second run without the hostile
# messages); the far-future event must not move the partition clock. g's orders are dated
# 2025, after every valid event of the corpus (which belong to other customers and are
# late by then): with clock: event, a later valid event of another customer in the same
# partition would legitimately move the clock and fire g's timers.
# The hostile run logs in JSON (logging.format: json): every line of its log must be one
# JSON object of valid UTF-8 without a control character, whatever the rejected messages
# held, and the rejects carry their topic, partition, offset and reason as fields.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cw_start_redis "$D"
cw_start_broker "$D" 1 --topics orders,complaints,support,customers,orders-ref,alerts-h,alerts-r,churn-dlq
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
sed -e "s/@GROUP@/it18h/" -e "s/@PREFIX@/cwh/" -e "s/@ALERTS@/alerts-h/" \
    -e 's/^  level: info$/  level: info\n  format: json/' "$D/cw.tmpl" >"$D/cw-h.yaml"
grep -q '^  format: json$' "$D/cw-h.yaml" || cw_fail "template has no logging.level: info"
sed -e "s/@GROUP@/it18r/" -e "s/@PREFIX@/cwr/" -e "s/@ALERTS@/alerts-r/" \
    -e "s/- name: orders$/- name: orders-ref/" "$D/cw.tmpl" >"$D/cw-r.yaml"
grep -q 'name: orders-ref' "$D/cw-r.yaml" || cw_fail "template has no orders topic"

good() { # n day: one of g's orders
    printf '{"type":"order","customer_id":"g","ts":"2025-01-%02dT00:00:00Z","order_id":"o%d","amount":%d}' "$2" "$1" "$((10 * $1))"
}
one() { # topic file: the file's bytes as one message keyed g
    kcat -P -b "$CW_BROKERS" -t "$1" -k g "$2" || cw_fail "kcat -P $2"
}
n=0
send_good() {
    n=$((n + 1))
    good "$n" "$((n * 5))" >"$D/good.$n"
    one orders "$D/good.$n"
    one orders-ref "$D/good.$n"
}
send_good
send_good
hostile=0
for f in "$CW_ROOT"/tests/fuzz/corpus/decode/*; do
    one orders "$f"
    hostile=$((hostile + 1))
done
send_good
# at the size limit (65536 bytes) and one byte beyond it
for size in 65536 65537 200000; do
    awk -v n="$size" 'BEGIN { s = "{\"type\":\"order\",\"customer_id\":\"big\",\"ts\":0,\"order_id\":\"o\",\"amount\":1,\"pad\":\""; printf "%s", s; for (i = length(s) + 2; i < n; i++) printf "x"; printf "\"}" }' >"$D/size.$size"
    test "$(wc -c <"$D/size.$size")" -eq "$size" || cw_fail "size.$size has $(wc -c <"$D/size.$size") bytes"
    one orders "$D/size.$size"
    hostile=$((hostile + 1))
done
printf '{"type":"order","customer_id":"future","ts":"9999-01-01T00:00:00Z","order_id":"f","amount":1}' >"$D/future"
one orders "$D/future"
hostile=$((hostile + 1))
send_good
send_good
# what the broker holds (kcat sends no message for an empty file)
total=$(cw_consume orders '%o\n' | wc -l | tr -d ' ')
echo "messages: $total ($n ordinary, $hostile hostile files)"

cw_spawn "$D/churnwatchd-h.log" "$CW_BIN/churnwatchd" -c "$D/cw-h.yaml"
H=$CW_LAST_PID
cw_spawn "$D/churnwatchd-r.log" "$CW_BIN/churnwatchd" -c "$D/cw-r.yaml"
R=$CW_LAST_PID
cw_wait_for "test \"\$(cw_redis HGET 'cwh:{p0}:off' orders)\" = $total" 60 ||
    cw_fail "offsets: $(cw_redis HGET 'cwh:{p0}:off' orders) of $total"
cw_wait_for "test \"\$(cw_redis HGET 'cwr:{p0}:off' orders-ref)\" = $n" 60 ||
    cw_fail "reference offsets: $(cw_redis HGET 'cwr:{p0}:off' orders-ref) of $n"
sleep 1
cw_pid_alive "$H" || cw_fail "churnwatchd exited"
cw_stop_pid "$H" 20 || cw_fail "churnwatchd exit status $?"
cw_stop_pid "$R" 20 || cw_fail "reference churnwatchd exit status $?"

a=$(cw_redis --no-raw GET 'cwh:{p0}:c:g')
b=$(cw_redis --no-raw GET 'cwr:{p0}:c:g')
test -n "$b" || cw_fail "no state for g in the reference run"
cw_assert_eq "$b" "$a" "g's stored state"
clock=$(cw_redis HGET 'cwh:{p0}:off' @clock)
test "$clock" -lt 4102444800000 || cw_fail "the partition clock jumped to $clock"
echo "ok: partition clock $clock (before 2100)"
grep -q "rejected (bad_timestamp): ts 9999-01-01T00:00:00.000Z is more than engine.max_future" \
    "$D/churnwatchd-h.log" || cw_fail "the far-future event was not rejected with its reason"
grep -q 'rejected (too_large)' "$D/churnwatchd-h.log" || cw_fail "no too_large rejection"
rejected=$(grep -o 'rejected [0-9]*' "$D/churnwatchd-h.log" | tail -n 1 | cut -d' ' -f2)
dlq=$(cw_consume churn-dlq | wc -l | tr -d ' ')
echo "rejected (daemon's count): $rejected; dead-letter messages: $dlq"
test "$rejected" -ge 15 || cw_fail "only $rejected rejections"
cw_consume churn-dlq '%h\n' | grep -c 'churnwatch.reason=' >"$D/hdr"
cw_assert_eq "$rejected" "$(cat "$D/hdr")" "dead-letter messages with a churnwatch.reason header"
LOG=$D/churnwatchd-h.log
not_json=$(grep -cv '^{"ts":"[0-9T:.-]*Z","level":"[a-z]*","msg":".*}$' "$LOG" || true)
cntrl=$(LC_ALL=C grep -c '[[:cntrl:]]' "$LOG" || true)
not_utf8=$(LC_ALL=C.UTF-8 grep -caxv '.*' "$LOG" || true)
echo "log: $(wc -l <"$LOG" | tr -d ' ') lines; not JSON objects: $not_json, with control characters: $cntrl, not UTF-8: $not_utf8"
[ "$not_json" = 0 ] && [ "$cntrl" = 0 ] && [ "$not_utf8" = 0 ] ||
    cw_fail "churnwatchd's JSON log has malformed lines: $(grep -v '^{"ts"' "$LOG" | head -n 3)"
grep -q '"topic":"orders","partition":0,"offset":[0-9]*,"reason":"too_large"}$' "$LOG" ||
    cw_fail "the too_large reject has no topic/partition/offset/reason fields"
echo "ok: JSON log lines, the rejects with their fields"
echo "18-hostile-input: ok"
