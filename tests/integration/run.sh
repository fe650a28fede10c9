#!/bin/sh
# run.sh — runs the integration tests: every tests/integration/[0-9][0-9]-*.sh, in order,
# each with sh in its own subshell, its output in build/test-logs/NAME.log.
#
#   sh tests/integration/run.sh [NAME_PART...]     e.g. `run.sh 01 devbroker` runs only
#                                                  the scripts whose names contain a part
#
# Prints "PASS NAME" or "FAIL NAME (see LOG)" plus the last 40 lines of the log for each
# script, then "integration: N passed, M failed"; exits 1 if any failed.
#
# Environment for the scripts: CW_ROOT (the repository, also the working directory) and
# CW_BIN (default build/san: the sanitizer builds of churnwatchd and churnwatch).
# CW_TEST_TIMEOUT (default 300) bounds each script in seconds.
set -u

CW_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$CW_ROOT" || exit 2
: "${CW_BIN:=$CW_ROOT/build/san}"
: "${CW_TEST_TIMEOUT:=300}"
export CW_ROOT CW_BIN

LOGDIR=build/test-logs
mkdir -p "$LOGDIR" || exit 2

selected() {
    [ $# -le 1 ] && return 0
    _name=$1
    shift
    for _part in "$@"; do
        case $_name in *"$_part"*) return 0 ;; esac
    done
    return 1
}

passed=0
failed=0
for t in tests/integration/[0-9][0-9]-*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    selected "$name" "$@" || continue
    log=$LOGDIR/$name.log
    start=$(date +%s)
    (timeout -k 10 "$CW_TEST_TIMEOUT" sh "$t") >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "run.sh: $name timed out after $CW_TEST_TIMEOUT s" >>"$log"
    fi
    echo "run.sh: exit status $rc after $secs s" >>"$log"
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (see $log)"
        tail -n 40 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done

echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
