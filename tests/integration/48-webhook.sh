#!/bin/sh
# 48-webhook.sh — the webhook sink (docs/sinks.md) against build/webhook-recv:
#  1. the receiver answers 500 to the first 3 requests: the outbox retries with back-off
#     and every alert arrives in a 2xx-answered request exactly once per alert_id (the
#     same ones as on the Kafka alerts topic); every request is signed, and the signature
#     checks out with `openssl dgst -sha256 -hmac` over "TIMESTAMP.BODY"; the configured
#     header is sent;
#  2. HTTPS with a self-signed certificate is refused by default (TLS verification): the
#     alerts wait in the outbox, none is lost; with ca_file pointing at the certificate
#     they are delivered after a restart, each once.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
RECV=$CW_ROOT/build/webhook-recv
[ -x "$RECV" ] || cw_fail "$RECV not built (make build/webhook-recv)"
cw_start_redis "$D"
cw_start_broker "$D" 1
cw_config "$CW_ROOT/tests/integration/daemon.yaml" "$D/cw.tmpl"
CW_TEST_WEBHOOK_SECRET='test secret 48'
export CW_TEST_WEBHOOK_SECRET

# webhook_config PREFIX GROUP BLOCK_FILE OUT — the test config with the webhook section.
webhook_config() {
    sed -e "s/@GROUP@/$2/" -e "s/@PREFIX@/$1/" -e 's/@ALERTS@/alerts-48/' "$D/cw.tmpl" |
        awk -v f="$3" '{ print } /^sinks:$/ { while ((getline l < f) > 0) print l }' >"$4"
}
# start_recv NAME ARGS... — a receiver recording into $D/NAME; sets RECV_PORT
start_recv() {
    _n=$1
    shift
    mkdir -p "$D/$_n"
    cw_spawn "$D/$_n.log" "$RECV" --dir "$D/$_n" --port-file "$D/$_n.port" "$@"
    cw_wait_for "test -s '$D/$_n.port'" 10 || cw_fail "webhook-recv $_n did not start"
    RECV_PORT=$(cat "$D/$_n.port")
}
# ok_ids NAME — alert_ids in the bodies of the requests NAME answered 200, one per line
ok_ids() {
    [ -f "$D/$1/requests.log" ] || return 0
    awk '$2 == 200 { print $1 }' "$D/$1/requests.log" |
        while read -r k; do jq -r '.[].alert_id' "$D/$1/$k.body"; done
}
header() { # FILE NAME — the value of header NAME (any case)
    awk -v n="$2" 'BEGIN { n = tolower(n) } { i = index($0, ": ") }
        tolower(substr($0, 1, i - 1)) == n { print substr($0, i + 2) }' "$1" | tr -d '\r'
}

opened() { # customer day
    printf '%s\t{"type":"complaint.opened","customer_id":"%s","ts":"2024-01-%02dT00:00:00Z","complaint_id":"k"}\n' "$1" "$1" "$2"
}
# five complaints, then an event 9 days later: five complaint_unresolved alerts
{ for c in a b c d e; do opened "$c" 1; done; opened z 10; } >"$D/complaints.tsv"
cw_produce complaints "$D/complaints.tsv" || cw_fail produce

# ---- 1. failures, retries, signatures ----
start_recv r1 --fail-first 3
cat >"$D/webhook1.yaml" <<YAML
  webhook:
    url: http://127.0.0.1:$RECV_PORT/hook
    secret: {env: CW_TEST_WEBHOOK_SECRET}
    timeout: 2s
    max_alerts: 2
    headers:
      X-Test: churnwatch-48
YAML
webhook_config cwa it48a "$D/webhook1.yaml" "$D/cw1.yaml"
cw_spawn "$D/churnwatchd-1.log" "$CW_BIN/churnwatchd" -c "$D/cw1.yaml"
pid=$CW_LAST_PID
cw_wait_for 'test "$(ok_ids r1 | sort -u | wc -l)" -ge 5' 90 ||
    cw_fail "alerts not delivered to the webhook: $(ok_ids r1 | sort -u | wc -l) of 5"
last=$(cw_redis XREVRANGE 'cwa:{p0}:outbox' + - COUNT 1 | head -n 1)
cw_wait_for "test \"\$(cw_redis GET 'cwa:{p0}:sink:webhook')\" = '$last'" 30 ||
    cw_fail "the webhook sink's cursor did not reach the end of the outbox"
cw_stop_pid "$pid" 30 || cw_fail "churnwatchd exit status $?"
cat "$D/r1/requests.log"

cw_assert_eq "500 500 500" "$(head -n 3 "$D/r1/requests.log" | awk '{ printf "%s%s", s, $2; s = " " }')" \
    "statuses of the first 3 requests"
cw_assert_eq 0 "$(awk '$2 != 200 && $2 != 500' "$D/r1/requests.log" | wc -l | tr -d ' ')" \
    "requests answered neither 200 nor 500"
cw_assert_eq 5 "$(ok_ids r1 | wc -l | tr -d ' ')" "alerts in 2xx-answered requests"
cw_assert_eq "" "$(ok_ids r1 | sort | uniq -d | tr '\n' ' ')" "alert_ids delivered twice"
kafka_ids=$(cw_consume alerts-48 | jq -r .alert_id | sort -u | tr '\n' ' ')
cw_assert_eq "$kafka_ids" "$(ok_ids r1 | sort | tr '\n' ' ')" "webhook alert_ids = Kafka alert_ids"
grep -q 'webhook sink: a request of 2 alerts not delivered: HTTP 500' "$D/churnwatchd-1.log" ||
    cw_fail "the failed requests were not logged"

# every request: a JSON array of alert objects, at most max_alerts, signed, our headers
checked=0
for h in "$D"/r1/*.headers; do
    b=${h%.headers}.body
    cw_assert_eq array "$(jq -r type "$b")" "$(basename "$b") is a JSON array" >/dev/null
    n=$(jq length "$b")
    [ "$n" -ge 1 ] && [ "$n" -le 2 ] || cw_fail "$(basename "$b") holds $n alerts (max_alerts 2)"
    [ "$(header "$h" Content-Type)" = application/json ] || cw_fail "$h: no JSON content type"
    [ "$(header "$h" X-Test)" = churnwatch-48 ] || cw_fail "$h: configured header missing"
    ts=$(header "$h" X-Churnwatch-Timestamp)
    sig=$(header "$h" X-Churnwatch-Signature)
    [ -n "$ts" ] && [ -n "$sig" ] || cw_fail "$h: not signed"
    want=$({ printf '%s.' "$ts"; cat "$b"; } | openssl dgst -sha256 -hmac "$CW_TEST_WEBHOOK_SECRET" -r | cut -d' ' -f1)
    cw_assert_eq "sha256=$want" "$sig" "signature of $(basename "$b")" >/dev/null
    # a tampered body does not verify
    bad=$({ printf '%s.' "$ts"; cat "$b"; echo; } | openssl dgst -sha256 -hmac "$CW_TEST_WEBHOOK_SECRET" -r | cut -d' ' -f1)
    [ "sha256=$bad" != "$sig" ] || cw_fail "a changed body verifies"
    checked=$((checked + 1))
done
echo "ok: $checked requests signed, the signatures verified with openssl"
[ "$checked" -ge 6 ] || cw_fail "only $checked requests recorded"

# ---- 2. HTTPS: refused with a self-signed certificate, delivered with ca_file ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 1 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>"$D/openssl.log" ||
    cw_fail "openssl req failed"
start_recv r2 --cert "$D/cert.pem" --key "$D/key.pem"
cat >"$D/webhook2.yaml" <<YAML
  webhook:
    url: https://127.0.0.1:$RECV_PORT/hook
    timeout: 2s
YAML
webhook_config cwb it48b "$D/webhook2.yaml" "$D/cw2.yaml"
cw_spawn "$D/churnwatchd-2.log" "$CW_BIN/churnwatchd" -c "$D/cw2.yaml"
pid=$CW_LAST_PID
cw_wait_for "grep -q 'webhook sink: a request of .* not delivered: SSL certificate problem' '$D/churnwatchd-2.log'" 60 ||
    cw_fail "no refused certificate in the log"
grep 'webhook sink:.*SSL' "$D/churnwatchd-2.log" | head -n 1
cw_wait_for 'test "$(cw_redis XLEN "cwb:{p0}:outbox")" -ge 5' 30 || cw_fail "alerts not in the outbox"
cw_stop_pid "$pid" 30 || cw_fail "churnwatchd exit status $?"
cw_assert_eq 0 "$(ok_ids r2 | wc -l | tr -d ' ')" "alerts delivered over an unverified TLS connection"
cw_assert_eq 5 "$(cw_redis XLEN 'cwb:{p0}:outbox')" "alerts waiting in the outbox"
cw_assert_eq "" "$(cw_redis GET 'cwb:{p0}:sink:webhook')" "webhook cursor while refused"

printf '    ca_file: %s\n' "$D/cert.pem" >>"$D/webhook2.yaml"
webhook_config cwb it48b "$D/webhook2.yaml" "$D/cw3.yaml"
cw_spawn "$D/churnwatchd-3.log" "$CW_BIN/churnwatchd" -c "$D/cw3.yaml"
pid=$CW_LAST_PID
cw_wait_for 'test "$(ok_ids r2 | sort -u | wc -l)" -ge 5' 60 ||
    cw_fail "alerts not delivered over TLS with ca_file: $(ok_ids r2 | sort -u | wc -l) of 5"
last=$(cw_redis XREVRANGE 'cwb:{p0}:outbox' + - COUNT 1 | head -n 1)
cw_wait_for "test \"\$(cw_redis GET 'cwb:{p0}:sink:webhook')\" = '$last'" 30 ||
    cw_fail "the webhook sink's cursor did not reach the end of the outbox"
cw_stop_pid "$pid" 30 || cw_fail "churnwatchd exit status $?"
cat "$D/r2/requests.log"
cw_assert_eq "$kafka_ids" "$(ok_ids r2 | sort | tr '\n' ' ')" "alert_ids delivered over TLS, once each"
for h in "$D"/r2/*.headers; do
    [ -z "$(header "$h" X-Churnwatch-Signature)" ] || cw_fail "$h: signed without a secret"
done
echo "48-webhook: ok"
