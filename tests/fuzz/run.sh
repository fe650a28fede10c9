#!/bin/sh
# run.sh — runs one libFuzzer harness for a while (`make fuzz`, `make fuzz-smoke`,
# docs/fuzzing.md).
#
#   sh tests/fuzz/run.sh NAME SECONDS        NAME: decode or config
#
# FUZZ_SEED=N fixes libFuzzer's random seed (make fuzz-smoke, run by make check, uses 1, so
# that CI explores the same inputs every time instead of failing at random on a new find;
# `make fuzz` explores with a fresh seed).
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
corpus=build/fuzz/corpus-$name
artifacts=build/fuzz/artifacts
[ -x "$bin" ] || { echo "run.sh: $bin is missing (make build/fuzz/fuzz_$name)" >&2; exit 2; }
mkdir -p "$corpus" "$artifacts" || exit 2
cp tests/fuzz/corpus/"$name"/* "$corpus"/ || exit 2

echo "fuzz_$name: ${secs}s over $corpus ($(ls "$corpus" | wc -l | tr -d ' ') inputs)"
# -timeout: one input taking over 10 s is a hang. -rss_limit_mb: the default, said out loud.
# ASAN_OPTIONS: libFuzzer saves the input; a core dump would only fill the disk.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:disable_coredump=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$secs" -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
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
echo "fuzz_$name: no crash, hang or leak in ${secs}s"
