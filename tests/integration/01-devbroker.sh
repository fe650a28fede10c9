#!/bin/sh
# 01-devbroker.sh — the development broker works as the other tests assume: keyed messages
# keep one partition per key and their order, a consumer group reads everything and its
# committed offsets survive a restart of the member, and the control FIFO takes a broker
# down and up.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR

cw_start_broker "$D" 4 --topics it-orders
echo "devbroker at $CW_BROKERS"

# 1000 messages, 100 keys, payload "m<seq>-<key>": a key's payloads have increasing seq.
awk 'BEGIN { for (i = 0; i < 1000; i++) printf("k%02d\tm%04d-k%02d\n", i % 100, i, i % 100) }' \
    >"$D/in.tsv"
cw_produce it-orders "$D/in.tsv" || cw_fail "kcat could not produce"

# The mock group coordinator waits session.timeout.ms - 1 s for former members before a
# rebalance; a short session keeps the second run below fast.
GROUP_OPTS="-X auto.offset.reset=earliest -X session.timeout.ms=6000 -X heartbeat.interval.ms=500"
GROUP_OPTS="$GROUP_OPTS -X partition.assignment.strategy=range"
# shellcheck disable=SC2086
timeout 60 kcat -G it-group -b "$CW_BROKERS" $GROUP_OPTS -e -q -f '%p\t%k\t%s\n' it-orders \
    >"$D/out1.tsv" || cw_fail "kcat consumer group failed (status $?)"

cw_assert_eq 1000 "$(wc -l <"$D/out1.tsv" | tr -d ' ')" "messages consumed by the group"
cut -f2 "$D/in.tsv" | sort >"$D/in.payloads"
cut -f3 "$D/out1.tsv" | sort >"$D/out.payloads"
cmp -s "$D/in.payloads" "$D/out.payloads" || cw_fail "consumed payloads differ from produced"
echo "ok: payload sets equal"

# Every key lives in exactly one partition, and all 4 partitions are used.
cw_assert_eq 100 "$(cut -f1,2 "$D/out1.tsv" | sort -u | wc -l | tr -d ' ')" \
    "distinct (partition, key) pairs"
cw_assert_eq 4 "$(cut -f1 "$D/out1.tsv" | sort -u | wc -l | tr -d ' ')" "partitions used"

# Per key, payloads arrive in production order.
awk -F'\t' '{ seq = substr($3, 2, 4) + 0
              if ($2 in last && seq < last[$2]) { print "out of order: " $0; bad = 1 }
              last[$2] = seq }
            END { exit bad }' "$D/out1.tsv" || cw_fail "per-key order not kept"
echo "ok: per-key order kept"

# The group committed its offsets: a new member of the same group reads only new messages.
awk 'BEGIN { for (i = 1000; i < 1010; i++) printf("k%02d\tm%04d-k%02d\n", i % 100, i, i % 100) }' \
    >"$D/in2.tsv"
cw_produce it-orders "$D/in2.tsv" || cw_fail "kcat could not produce the second batch"
# shellcheck disable=SC2086
timeout 60 kcat -G it-group -b "$CW_BROKERS" $GROUP_OPTS -e -q -f '%s\n' it-orders \
    >"$D/out2.txt" || cw_fail "second kcat consumer failed (status $?)"
cw_assert_eq "$(cut -f2 "$D/in2.tsv" | sort | tr '\n' ' ')" \
    "$(sort "$D/out2.txt" | tr '\n' ' ')" "messages read after the restart of the member"

# Control FIFO: with broker 1 down nothing answers; after "up" metadata works again.
cw_broker_ctl down 1
if kcat -L -b "$CW_BROKERS" -t it-orders -m 2 >/dev/null 2>&1; then
    cw_fail "metadata request succeeded with the only broker down"
fi
echo "ok: broker down refuses clients"
cw_broker_ctl up 1
cw_wait_for "kcat -L -b '$CW_BROKERS' -t it-orders -m 2" 10 || cw_fail "broker did not come back"
echo "ok: broker up again"

cw_stop_broker || cw_fail "devbroker exited with status $? on SIGTERM"
echo "ok: devbroker stopped cleanly"
