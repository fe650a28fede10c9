#!/bin/sh
# run-all.sh — the test suite behind `make check`: the unit tests (build/san/unit_tests,
# Criterion, run from tests/), then the integration tests (tests/integration/run.sh).
# The last line is "N passed, M failed" over both; exits 1 on any failure.
# Assumes the binaries are built (`make check` builds them first). CW_UNIT_TESTS names
# another unit test binary (default build/san/unit_tests).
set -u

CW_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CW_ROOT" || exit 2
LOGDIR=build/test-logs
mkdir -p "$LOGDIR" || exit 2

# Unit tests. Criterion ends with
#   [====] Synthesis: Tested: X | Passing: Y | Failing: Z | Crashing: W
# where Failing already includes Crashing: failed = Tested - Passing.
UNIT=${CW_UNIT_TESTS:-build/san/unit_tests}
case $UNIT in /*) ;; *) UNIT=$CW_ROOT/$UNIT ;; esac
unit_log=$LOGDIR/unit.log
unit_pass=0
unit_fail=0
if [ -x "$UNIT" ]; then
    (cd tests && "$UNIT" --jobs 2) >"$unit_log" 2>&1
    unit_rc=$?
    synth=$(sed 's/\x1b\[[0-9;]*m//g' "$unit_log" | grep 'Synthesis:' | tail -n 1)
    if [ -n "$synth" ]; then
        tested=$(echo "$synth" | sed -n 's/.*Tested: *\([0-9]*\).*/\1/p')
        unit_pass=$(echo "$synth" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
        unit_fail=$((tested - unit_pass))
        echo "unit: $(echo "$synth" | sed 's/.*Synthesis: *//')"
    fi
    if [ -z "$synth" ] || { [ "$unit_rc" -ne 0 ] && [ "$unit_fail" -eq 0 ]; }; then
        echo "unit: $UNIT exited with status $unit_rc without a clean synthesis"
        unit_fail=$((unit_fail + 1))
    fi
    if [ "$unit_fail" -ne 0 ]; then
        sed 's/\x1b\[[0-9;]*m//g' "$unit_log" | grep -E '^\[(FAIL|----)\]' | head -n 60
        echo "unit: full output in $unit_log"
    fi
else
    echo "unit: $UNIT is missing (make build/san/unit_tests)"
    unit_fail=1
fi

# Integration tests: their output goes through to the terminal and into a file, from
# which the summary line is read.
int_out=$LOGDIR/integration.out
rm -f "$int_out.rc"
{ sh tests/integration/run.sh; echo $? >"$int_out.rc"; } | tee "$int_out"
int_rc=$(cat "$int_out.rc" 2>/dev/null || echo 1)
int_line=$(grep '^integration: [0-9]* passed, [0-9]* failed$' "$int_out" | tail -n 1)
int_pass=$(echo "$int_line" | sed -n 's/^integration: \([0-9]*\) passed.*/\1/p')
int_fail=$(echo "$int_line" | sed -n 's/.* \([0-9]*\) failed$/\1/p')
: "${int_pass:=0}"
: "${int_fail:=0}"
if [ "$int_rc" -ne 0 ] && [ "$int_fail" -eq 0 ]; then
    int_fail=1 # the runner itself failed
fi

total_pass=$((unit_pass + int_pass))
total_fail=$((unit_fail + int_fail))
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
