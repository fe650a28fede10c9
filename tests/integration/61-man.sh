#!/bin/sh
# 61-man.sh — the man pages (man/, installed by `make install` and the package):
#   1. groff -man -ww -z and man --warnings print no warning for any page;
#   2. churnwatch.yaml(5) names every key of daemon/config.c's tables (each `.name = "..."`
#      descriptor, and every rule name) on a line of its own, so a key added to the parser
#      without a line in the man page fails here;
#   3. churnwatchd(8) names every option of churnwatchd's usage text, and churnwatch(1)
#      every command and option of churnwatch's.
# Needs no build products but the release binaries for 3. Takes a second.
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cd "$CW_ROOT" || cw_fail "cd $CW_ROOT"
PAGES="man/churnwatchd.8 man/churnwatch.1 man/churnwatch.yaml.5"

# ---- 1. warnings -----------------------------------------------------------------------

for p in $PAGES; do
    groff -man -ww -z "$p" >"$D/groff.out" 2>&1 || cw_fail "groff failed on $p"
    [ ! -s "$D/groff.out" ] || { cat "$D/groff.out"; cw_fail "groff warns about $p"; }
    if command -v man >/dev/null 2>&1; then
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" >"$D/man.out" 2>"$D/man.err" ||
            cw_fail "man -l $p failed"
        [ ! -s "$D/man.err" ] || { cat "$D/man.err"; cw_fail "man warns about $p"; }
        grep -q '^NAME' "$D/man.out" || cw_fail "$p renders without a NAME section"
    fi
done
echo "ok: no warnings from groff -ww$(command -v man >/dev/null 2>&1 && echo ' and man --warnings')"

# ---- 2. every configuration key in churnwatch.yaml(5) ----------------------------------

# a key's own line: ".B key", ".BR key ...", ".B section.key" (roff escapes removed)
sed 's/\\-/-/g' man/churnwatch.yaml.5 | sed -n 's/^\.BR\{0,1\} \([a-z_.]*\).*/\1/p' |
    tr '.' '\n' | sort -u >"$D/man-keys"
{
    sed -n 's/.*\.name = "\([a-z_]*\)".*/\1/p' daemon/config.c
    # rule names and the keys of a topic entry, which are not in a descriptor table
    sed -n 's/.*\[RULE_[A-Z_]*\] = "\([a-z_]*\)".*/\1/p' daemon/*.c
    echo name; echo type; echo fields; echo tiers
} | sort -u >"$D/code-keys"
test "$(wc -l <"$D/code-keys")" -gt 60 || cw_fail "found only $(wc -l <"$D/code-keys") keys in config.c"
missing=$(comm -23 "$D/code-keys" "$D/man-keys" | tr '\n' ' ')
[ -z "$missing" ] || cw_fail "churnwatch.yaml(5) does not document: $missing"
echo "ok: churnwatch.yaml(5) has all $(wc -l <"$D/code-keys" | tr -d ' ') key and rule names of the parser"

# ---- 3. options --------------------------------------------------------------------------

BIN=${CW_BIN:-build}
if [ -x "$BIN/churnwatchd" ] && [ -x "$BIN/churnwatch" ]; then
    for o in $("$BIN/churnwatchd" --help | grep -o -- '--[a-z-]*' | sort -u); do
        grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" man/churnwatchd.8 ||
            cw_fail "churnwatchd(8) does not document $o"
    done
    for o in $("$BIN/churnwatch" --help | grep -o -- '--[a-z-]*' | sort -u) replay check-config; do
        grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" man/churnwatch.1 ||
            cw_fail "churnwatch(1) does not document $o"
    done
    echo "ok: every option of the usage texts is in the man pages"
else
    echo "note: $BIN/churnwatchd or churnwatch missing; options not checked"
fi
echo "61-man: ok"
