#!/bin/sh
# run.sh — runs one libFuzzer harness for a while (`make fuzz`, `make fuzz-smoke`,
# docs/fuzzing.md).
#
#   sh tests/fuzz/run.sh NAME SECONDS        NAME: decode or config
#
# FUZZ_SEED=N fixes libFuzzer's random seed; FUZZ_RUNS=N stops after N inputs (SECONDS is
# then only an upper bound) and starts from the seeds alone, in a fresh
# build/fuzz/corpus-NAME-runs, with address-space randomisation off where `setarch -R` can
# turn it off (libFuzzer's comparison tracing sees pointer values). Together they make a
# run explore the same inputs, give or take a few, on every machine, fast or slow:
# make fuzz-smoke, run by make check, uses them, so that CI does not explore less on a
# slower machine, nor fail at random on a find a faster one never reached (a first CI
# failure of this kind: the newline-in-value seed). `make fuzz` explores with a fresh
# seed for a time.
# Runs build/fuzz/fuzz_NAME for SECONDS over build/fuzz/corpus-NAME, a working copy of
# tests/fuzz/corpus/NAME (the seeds are copied in each time; inputs found by earlier runs
# stay there), with tests/fuzz/NAME.dict. New inputs are only ever written under build/.
# A crash, a timeout, a leak or a broken invariant is saved as build/fuzz/artifacts/
# NAME-crash-... (or -timeout-, -leak-, -oom-) and the script exits 1; reproduce it with
#   build/fuzz/fuzz_NAME build/fuzz/artifacts/NAME-crash-...
# The last lines of the output are libFuzzer's final statistics (execs per second, ...).
set -u

CW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$CW_ROOT" || exit 2
if [ $# -ne 2 ]; then
    echo "usage: sh tests/fuzz/run.sh decode|config SECONDS" >&2
    exit 2
fi
name=$1
secs=$2
case $name in
decode) max_len=4096 ;;   # events are 100..200 bytes; the limit path starts at 200
config) max_len=16384 ;;  # config/churnwatch.yaml, the largest seed, is about 9 KiB
*)
    echo "run.sh: unknown harness $name" >&2
    exit 2
    ;;
esac

bin=build/fuzz/fuzz_$name
norandom=
corpus=build/fuzz/corpus-$name
limit="${secs}s"
if [ -n "${FUZZ_RUNS:-}" ]; then
    corpus=build/fuzz/corpus-$name-runs
    rm -rf "$corpus"
    limit="$FUZZ_RUNS inputs (at most ${secs}s)"
    if [ -n "${FUZZ_SEED:-}" ] && setarch -R true 2>/dev/null; then
        norandom="setarch -R"
    fi
fi
artifacts=build/fuzz/artifacts
[ -x "$bin" ] || { echo "run.sh: $bin is missing (make build/fuzz/fuzz_$name)" >&2; exit 2; }
mkdir -p "$corpus" "$artifacts" || exit 2
cp tests/fuzz/corpus/"$name"/* "$corpus"/ || exit 2

echo "fuzz_$name: $limit${FUZZ_SEED:+, seed $FUZZ_SEED}, over $corpus ($(ls "$corpus" | wc -l | tr -d ' ') inputs)"
# -timeout: one input taking over 10 s is a hang. -rss_limit_mb: the default, said out loud.
# ASAN_OPTIONS: libFuzzer saves the input; a core dump would only fill the disk.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:disable_coredump=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ${norandom:-} "$bin" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -max_total_time="$secs" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
    -dict=tests/fuzz/"$name".dict -artifact_prefix="$artifacts/$name-" \
    -print_final_stats=1 "$corpus" 2>build/fuzz/fuzz_"$name".log
rc=$?
grep -E '^#[0-9]+.*(DONE|pulse)|^stat::' build/fuzz/fuzz_"$name".log | tail -n 12
if [ "$rc" -ne 0 ]; then
    echo "run.sh: fuzz_$name FAILED (status $rc); full output in build/fuzz/fuzz_$name.log"
    grep -E 'ERROR|SUMMARY|invariant broken|runtime error|Test unit written' \
        build/fuzz/fuzz_"$name".log | head -n 20
    exit 1
fi
echo "fuzz_$name: no crash, hang or leak in $limit"
