#!/bin/sh
# 30-fuzz-smoke.sh — the libFuzzer harnesses (tests/fuzz, docs/fuzzing.md) build with
# clang and run a fixed number of inputs each with seed 1 (`make fuzz-smoke`: 1,000,000
# events, 60,000 configs) without a crash, a hang, a leak or a broken invariant. Each
# starts from a copy of its seed corpus under build/fuzz/; nothing is written into tests/.
# A failing input is left in build/fuzz/artifacts/ and its name is printed. Takes about
# 20 s here (a minute more the first time, to build).
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cd "$CW_ROOT" || cw_fail "cannot cd to $CW_ROOT"

command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 ||
    cw_fail "${FUZZ_CC:-clang} is missing: run 'make deps' (clang, libclang-rt-14-dev)"

# Run from `make check` (through run-all.sh) this make is not a child recipe of that make;
# its jobserver is not ours to use.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 fuzz-build ||
    cw_fail "building the fuzz harnesses failed"
for h in decode config; do
    [ -x build/fuzz/fuzz_$h ] || cw_fail "build/fuzz/fuzz_$h is missing after make fuzz-build"
done

rm -rf build/fuzz/artifacts
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s fuzz-smoke || cw_fail "make fuzz-smoke failed"

# A harness that failed has exited non-zero above; an artifact left behind means the same.
left=$(ls build/fuzz/artifacts 2>/dev/null | head -n 5)
[ -z "$left" ] || cw_fail "fuzz artifacts left in build/fuzz/artifacts: $left"
echo "ok: fuzz_decode and fuzz_config ran their smoke inputs without a failure"
