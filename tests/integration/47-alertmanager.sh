#!/bin/sh
# 47-alertmanager.sh — the Alertmanager sink (docs/sinks.md) against the real
# prometheus-alertmanager (clustering off, storage in the temporary directory), whose own
# webhook notifications go to build/webhook-recv:
#  1. two order_gap alerts (customers a and d) appear in Alertmanager's API with the
#     labels and annotations of docs/sinks.md, the same alert_id, summary, evidence and
#     action as on the Kafka alerts topic, startsAt = started_at;
#  2. a firing alert stays active past its first endsAt (re-sent every resend_interval,
#     2 s here, from the Redis hash of firing alerts);
#  3. an order resolves a's alert: Alertmanager notifies it resolved with endsAt = the
#     resolving event's time, and later re-sends never bring it back; an unanswered
#     ticket raises d to alarm: its order_gap alert with severity=alarm arrives in the
#     same request as the resolve of its severity=watch copy, so no stale copy stays;
#  4. across a restart: with the daemon stopped d's alerts expire in Alertmanager; the
#     new daemon re-sends them from Redis as soon as it owns the partition.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
AM_BIN=${CW_ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
RECV=$CW_ROOT/build/webhook-recv
[ -x "$AM_BIN" ] || cw_fail "$AM_BIN not installed (apt-get install prometheus-alertmanager)"
[ -x "$RECV" ] || cw_fail "$RECV not built (make build/webhook-recv)"
cw_start_redis "$D"
cw_start_broker "$D" 1

# Alertmanager's notifications (send_resolved) go to a receiver that records them
mkdir -p "$D/notes"
cw_spawn "$D/recv.log" "$RECV" --dir "$D/notes" --port-file "$D/recv.port"
cw_wait_for "test -s '$D/recv.port'" 10 || cw_fail "webhook-recv did not start"
cat >"$D/alertmanager.yml" <<YAML
route:
  receiver: recv
  group_by: [customer_id, alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: recv
    webhook_configs:
      - url: http://127.0.0.1:$(cat "$D/recv.port")/am
        send_resolved: true
YAML
AM_PORT=$(cw_free_port) || cw_fail "no free port"
AM=http://127.0.0.1:$AM_PORT
mkdir -p "$D/am-data"
cw_spawn "$D/alertmanager.log" "$AM_BIN" --config.file="$D/alertmanager.yml" \
    --storage.path="$D/am-data" --web.listen-address="127.0.0.1:$AM_PORT" \
    --cluster.listen-address=
cw_wait_for "curl -sf '$AM/-/ready'" 30 || cw_fail "alertmanager did not start"

cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
cat >"$D/am.yaml" <<YAML
  alertmanager:
    url: $AM/
    resend_interval: 2s
    timeout: 2s
    generator_url: http://churnwatch.example/customers
YAML
sed -e 's/@GROUP@/it47/' -e 's/@PREFIX@/cw/' -e 's/@ALERTS@/alerts-47/' "$D/cw.tmpl" |
    awk -v f="$D/am.yaml" '{ print } /^sinks:$/ { while ((getline l < f) > 0) print l }' \
        >"$D/cw.yaml"

am_alerts() { curl -sf "$AM/api/v2/alerts"; } # the active ones
am_alert() { am_alerts | jq -c ".[] | select(.labels.customer_id == \"$1\")"; }
am_count() { am_alerts | jq length; }
am_list() { am_alerts | jq -r '.[].labels | "\(.customer_id) \(.alertname) \(.severity)"' | sort; }
epoch() { date -u -d "$1" +%s; }
HASH='cw:{p0}:sink:alertmanager:firing'

day() { date -u -d "2020-01-01 +$1 days" +%Y-%m-%dT%H:%M:%SZ; }
ord() { printf '%s\t{"type":"order","customer_id":"%s","ts":"%s","order_id":"%s","amount":%s}\n' "$1" "$1" "$(day "$2")" "$3" "$4"; }
{
    ord a 0 a1 10; ord a 10 a2 20; ord a 20 a3 30     # typical gap 10 d: fires on day 50
    ord d 0 d1 5; ord d 1 d2 5; ord d 2 d3 5          # typical gap 1 d: fires on day 5
    ord z 60 z1 1                                     # the clock reaches day 60
} >"$D/orders.tsv"
cw_produce orders "$D/orders.tsv" || cw_fail "produce orders"
cw_spawn "$D/churnwatchd-1.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID

# ---- 1. the alerts, labels and annotations ----
cw_wait_for 'test "$(am_count)" = 2' 60 || cw_fail "alerts not in Alertmanager: $(am_alerts)"
am_alerts | jq -c '.[] | {labels, annotations, startsAt, endsAt}'
kafka_a=$(cw_consume alerts-47 | jq -c 'select(.customer_id == "a")')
[ -n "$kafka_a" ] || cw_fail "no alert for a on the Kafka alerts topic"
a=$(am_alert a)
cw_assert_eq '{"alertname":"order_gap","customer_id":"a","severity":"watch","source":"churnwatch","tier":"standard"}' \
    "$(echo "$a" | jq -cS .labels)" "labels of a's alert"
cw_assert_eq "action,alert_id,evidence,score,signals,summary" \
    "$(echo "$a" | jq -r '.annotations | keys | join(",")')" "annotations of a's alert"
for f in alert_id summary action; do
    cw_assert_eq "$(echo "$kafka_a" | jq -r .$f)" "$(echo "$a" | jq -r .annotations.$f)" "annotation $f"
done
cw_assert_eq "$(echo "$kafka_a" | jq -cS .evidence)" "$(echo "$a" | jq -r .annotations.evidence | jq -cS .)" \
    "annotation evidence (the evidence object as JSON text)"
cw_assert_eq "$(echo "$kafka_a" | jq -r '.signals | join(",")')" "$(echo "$a" | jq -r .annotations.signals)" \
    "annotation signals"
cw_assert_eq "2020-02-20T00:00:00.000Z" "$(echo "$a" | jq -r .startsAt)" "startsAt (started_at)"
cw_assert_eq "http://churnwatch.example/customers" "$(echo "$a" | jq -r .generatorURL)" "generatorURL"
cw_assert_eq 2 "$(cw_redis HLEN "$HASH")" "firing alerts in the Redis hash"
"$(dirname "$AM_BIN")/amtool" --alertmanager.url="$AM" alert query customer_id=a 2>/dev/null |
    grep -q order_gap || cw_fail "amtool does not list a's alert"

# ---- 2. re-sent before endsAt: still active after its first endsAt ----
d=$(am_alert d)
ends1=$(echo "$d" | jq -r .endsAt)
cw_wait_for "test \$(date -u +%s) -gt \$(( \$(epoch '$ends1') + 1 ))" 30 || cw_fail "clock"
d=$(am_alert d)
[ -n "$d" ] || cw_fail "d's alert expired at its first endsAt $ends1: not re-sent"
ends2=$(echo "$d" | jq -r .endsAt)
[ "$(epoch "$ends2")" -gt "$(epoch "$ends1")" ] || cw_fail "d's endsAt did not move: $ends1 -> $ends2"
echo "ok: d still active after its first endsAt $ends1 (now ends $ends2)"

# ---- 3. resolved; a change of level ----
{
    ord a 61 a4 40                                    # resolves a's order_gap
    printf 'd\t{"type":"support.opened","customer_id":"d","ts":"%s","ticket_id":"t1"}\n' "$(day 61)"
    ord z 70 z2 1           # the clock: d's ticket is unanswered after 2 d, d goes to alarm
} >"$D/more.tsv"
cw_produce orders "$D/more.tsv" || cw_fail "produce the resolving order"
resolved() { # CUSTOMER SEVERITY — endsAt of Alertmanager's resolved notifications
    for f in "$D"/notes/*.body; do
        [ -f "$f" ] && jq -r ".alerts[] | select(.labels.customer_id == \"$1\" and .labels.severity == \"$2\" and .status == \"resolved\") | .endsAt" "$f"
    done
}
cw_wait_for 'test -n "$(resolved a watch)"' 60 || cw_fail "Alertmanager did not notify a's alert resolved"
cw_assert_eq "2020-03-02T00:00:00Z" "$(resolved a watch | sort -u)" "endsAt of a's resolved notification"
cw_wait_for 'am_list | grep -q "^d order_gap alarm$"' 60 || cw_fail "d's order_gap not raised to alarm: $(am_list)"
expected="d order_gap alarm
d support_unanswered alarm"
cw_assert_eq "$expected" "$(am_list)" "active alerts once d is at alarm (the watch copy resolved)"
cw_wait_for 'test -n "$(resolved d watch)"' 60 || cw_fail "no resolved notification for d's watch copy"
cw_assert_eq 2 "$(cw_redis HLEN "$HASH")" "firing alerts in the Redis hash"
# two more re-send rounds (d's endsAt moves twice): a stays resolved, no watch copy
e0=$(am_alert d | jq -r 'select(.labels.alertname == "order_gap") | .endsAt')
cw_wait_for "test \"\$(am_alert d | jq -r 'select(.labels.alertname == \"order_gap\") | .endsAt')\" != '$e0'" 30 || cw_fail "no re-send"
e1=$(am_alert d | jq -r 'select(.labels.alertname == "order_gap") | .endsAt')
cw_wait_for "test \"\$(am_alert d | jq -r 'select(.labels.alertname == \"order_gap\") | .endsAt')\" != '$e1'" 30 || cw_fail "no re-send"
cw_assert_eq "$expected" "$(am_list)" "active alerts after two more re-sends"
cw_stop_pid "$pid" 30 || cw_fail "churnwatchd exit status $?"

# ---- 4. across a restart ----
cw_wait_for 'test "$(am_count)" = 0' 30 || cw_fail "d's alerts did not expire with the daemon stopped"
echo "ok: d's alerts expired in Alertmanager while the daemon was stopped"
cw_spawn "$D/churnwatchd-2.log" "$CW_BIN/churnwatchd" -c "$D/cw.yaml"
pid=$CW_LAST_PID
cw_wait_for 'test "$(am_count)" = 2' 60 || cw_fail "d's alerts not re-sent after the restart: $(am_list)"
cw_assert_eq "$expected" "$(am_list)" "active alerts after the restart"
for e in $(am_alerts | jq -r '.[].endsAt'); do
    [ "$(epoch "$e")" -gt "$(date -u +%s)" ] || cw_fail "re-sent with an endsAt in the past: $e"
done
cw_stop_pid "$pid" 30 || cw_fail "churnwatchd exit status $?"
echo "47-alertmanager: ok"
