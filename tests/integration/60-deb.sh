#!/bin/sh
# 60-deb.sh — the Debian package (`make deb`, debian/): builds it, then checks it without
# installing it into the system:
#   1. dpkg-deb --info: name, version (daemon/version.h), architecture, dependencies (the
#      shared libraries, systemd-sysusers);
#   2. dpkg-deb --contents: both programs, the unit in /lib/systemd/system, the sysusers
#      entry, the config as a conffile of mode 0640, the three man pages, the docs (the
#      Markdown uncompressed: the unit's Documentation= links README.md);
#   3. maintainer scripts: valid sh, sysusers at configure, the config's statoverride
#      root:churnwatch 0640, the unit neither enabled nor started on a fresh install but
#      restarted after an upgrade and stopped on removal;
#   4. the tree extracted with dpkg-deb -x: the programs print the version and accept the
#      shipped config (churnwatchd --check-config, churnwatch check-config); every path
#      the unit runs is in the package; the packaged man pages render without warnings;
#   5. lintian, when it is installed (install-deps does not install it: ~120 packages):
#      its output is shown, errors fail the test, warnings and pedantic tags do not;
#   6. the build left the source tree alone (dpkg-buildpackage ran on a copy in build/deb).
# Takes about 20 s (a release build of the two programs with the Debian build flags).
set -u
CW_ROOT=${CW_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$CW_ROOT/tests/tools/lib.sh"
cw_install_trap
cw_tmpdir
D=$CW_TMPDIR
cd "$CW_ROOT" || cw_fail "cd $CW_ROOT"

VERSION=$(sed -n 's/^#define CW_VERSION "\(.*\)"$/\1/p' daemon/version.h)
ARCH=$(dpkg --print-architecture)
DEB=build/churnwatch_${VERSION}_${ARCH}.deb
[ -n "$VERSION" ] || cw_fail "no CW_VERSION in daemon/version.h"
cw_assert_eq "$VERSION" "$(dpkg-parsechangelog -l debian/changelog -S Version)" \
    "debian/changelog's version"

# ---- build -----------------------------------------------------------------------------

rm -f "$DEB"
# run by `make check`: the outer make's jobserver is not ours
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make deb >"$D/make-deb.out" 2>&1 ||
    { tail -n 40 "$D/make-deb.out"; cw_fail "make deb failed"; }
[ -f "$DEB" ] || cw_fail "make deb did not write $DEB"
echo "ok: make deb wrote $DEB ($(wc -c <"$DEB" | tr -d ' ') bytes)"

# ---- 1. control fields -----------------------------------------------------------------

dpkg-deb --info "$DEB" >"$D/info" || cw_fail "dpkg-deb --info"
field() { dpkg-deb --field "$DEB" "$1"; }
cw_assert_eq churnwatch "$(field Package)" "Package"
cw_assert_eq "$VERSION" "$(field Version)" "Version"
cw_assert_eq "$ARCH" "$(field Architecture)" "Architecture"
for dep in librdkafka1 libhiredis libyaml libcjson libsystemd0 systemd-sysusers; do
    field Depends | grep -q "$dep" || cw_fail "Depends lacks $dep: $(field Depends)"
done
echo "ok: Depends: $(field Depends)"

# ---- 2. contents -----------------------------------------------------------------------

dpkg-deb --contents "$DEB" >"$D/contents" || cw_fail "dpkg-deb --contents"
# MODE OWNER PATH of a file in the package, e.g. "-rwxr-xr-x root/root ./usr/sbin/x"
has() {
    awk -v m="$1" -v o="$2" -v p="./$3" '$1 == m && $2 == o && $6 == p { f = 1 } END { exit !f }' \
        "$D/contents" || { grep -F "$3" "$D/contents"; cw_fail "package: no $1 $2 $3"; }
}
has -rwxr-xr-x root/root usr/sbin/churnwatchd
has -rwxr-xr-x root/root usr/bin/churnwatch
has -rw-r--r-- root/root lib/systemd/system/churnwatchd.service
has -rw-r--r-- root/root usr/lib/sysusers.d/churnwatch.conf
has -rw-r----- root/root etc/churnwatch/churnwatch.yaml
has -rw-r--r-- root/root usr/share/man/man1/churnwatch.1.gz
has -rw-r--r-- root/root usr/share/man/man5/churnwatch.yaml.5.gz
has -rw-r--r-- root/root usr/share/man/man8/churnwatchd.8.gz
for doc in README.md operations.md configuration.md rules.md cli.md metrics.md sinks.md copyright; do
    has -rw-r--r-- root/root "usr/share/doc/churnwatch/$doc"
done
echo "ok: programs, unit, sysusers entry, config (0640), man pages and docs in the package"

# ---- 3. maintainer scripts -------------------------------------------------------------

dpkg-deb --control "$DEB" "$D/control" || cw_fail "dpkg-deb --control"
cw_assert_eq /etc/churnwatch/churnwatch.yaml "$(cat "$D/control/conffiles")" "conffiles"
for s in preinst postinst prerm postrm; do
    [ -f "$D/control/$s" ] || continue
    sh -n "$D/control/$s" || cw_fail "$s is not valid sh"
done
grep -q 'systemd-sysusers .*churnwatch.conf' "$D/control/postinst" ||
    cw_fail "postinst does not create the account (systemd-sysusers churnwatch.conf)"
grep -q 'dpkg-statoverride --update --add root churnwatch 0640 "$conf"' "$D/control/postinst" ||
    cw_fail "postinst does not give the config to group churnwatch"
# after sysusers (the group must exist first)
awk '/systemd-sysusers/ { s = NR } /dpkg-statoverride --update/ { o = NR } END { exit !(s && o > s) }' \
    "$D/control/postinst" || cw_fail "postinst: statoverride before the account exists"
# --no-enable: only re-enabled if it was; deb-systemd-invoke starts an enabled (or running)
# unit only, so a fresh install starts nothing, and an upgrade restarts it
grep -q "deb-systemd-helper debian-installed 'churnwatchd.service'" "$D/control/postinst" ||
    cw_fail "postinst enables the unit on a fresh install"
grep -q "deb-systemd-invoke \$_dh_action 'churnwatchd.service'" "$D/control/postinst" ||
    cw_fail "postinst does not restart the unit after an upgrade"
grep -A1 '"$1" = remove' "$D/control/prerm" 2>/dev/null |
    grep -q "deb-systemd-invoke stop 'churnwatchd.service'" ||
    cw_fail "prerm does not stop the unit on removal"
if grep -q "deb-systemd-invoke stop" "$D/control/preinst" 2>/dev/null; then
    cw_fail "preinst stops the unit before an upgrade (and nothing would start it again)"
fi
grep -q 'dpkg-statoverride --remove /etc/churnwatch/churnwatch.yaml' "$D/control/postrm" ||
    cw_fail "postrm does not remove the statoverride on purge"
echo "ok: maintainer scripts"

# ---- 4. the extracted tree -------------------------------------------------------------

R=$D/root
dpkg-deb -x "$DEB" "$R" || cw_fail "dpkg-deb -x"
cw_assert_eq "churnwatchd $VERSION" "$("$R/usr/sbin/churnwatchd" --version)" "churnwatchd --version"
cw_assert_eq "churnwatch $VERSION" "$("$R/usr/bin/churnwatch" --version)" "churnwatch --version"
"$R/usr/sbin/churnwatchd" --check-config -c "$R/etc/churnwatch/churnwatch.yaml" >"$D/out" 2>&1 ||
    { cat "$D/out"; cw_fail "churnwatchd --check-config rejects the shipped config"; }
grep -q 'configuration OK$' "$D/out" || cw_fail "churnwatchd --check-config: $(cat "$D/out")"
"$R/usr/bin/churnwatch" check-config "$R/etc/churnwatch/churnwatch.yaml" >"$D/out" 2>&1 ||
    { cat "$D/out"; cw_fail "churnwatch check-config rejects the shipped config"; }
echo "ok: the packaged programs accept the packaged config"
# the binaries are hardened (dpkg-buildflags): full RELRO and BIND_NOW
if command -v readelf >/dev/null 2>&1; then
    readelf -d "$R/usr/sbin/churnwatchd" | grep -q 'BIND_NOW' ||
        cw_fail "churnwatchd was not linked with -z now (LDFLAGS not honoured?)"
    readelf -lW "$R/usr/sbin/churnwatchd" | grep -q 'GNU_RELRO' ||
        cw_fail "churnwatchd has no RELRO segment"
    echo "ok: churnwatchd linked with RELRO and BIND_NOW"
fi
UNIT=$R/lib/systemd/system/churnwatchd.service
for p in $(grep '^Exec' "$UNIT" | tr ' =' '\n\n' | grep -E '^/(usr|etc)/' | sort -u); do
    [ -e "$R$p" ] || cw_fail "the unit runs $p, which the package does not have"
done
echo "ok: every path the unit runs is in the package"
if command -v man >/dev/null 2>&1; then
    for m in man1/churnwatch.1.gz man5/churnwatch.yaml.5.gz man8/churnwatchd.8.gz; do
        LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$R/usr/share/man/$m" >"$D/man.out" 2>"$D/man.err" ||
            cw_fail "man -l $m failed: $(cat "$D/man.err")"
        [ ! -s "$D/man.err" ] || { cat "$D/man.err"; cw_fail "man warns about $m"; }
        grep -q . "$D/man.out" || cw_fail "man -l $m printed nothing"
    done
    echo "ok: the packaged man pages render without warnings"
fi

# ---- 5. lintian ------------------------------------------------------------------------

if command -v lintian >/dev/null 2>&1; then
    lintian -I --pedantic build/deb/churnwatch_"${VERSION}"_"${ARCH}".changes >"$D/lintian" 2>&1
    grep -v 'running with root privileges' "$D/lintian" | sed 's/^/lintian: /'
    if grep -q '^E: ' "$D/lintian"; then
        cw_fail "lintian reports errors"
    fi
    echo "ok: lintian: $(grep -c '^E: ' "$D/lintian") errors, $(grep -c '^W: ' "$D/lintian") warnings, $(grep -cE '^[IP]: ' "$D/lintian") info/pedantic tags"
else
    echo "note: lintian is not installed (apt-get install lintian); skipped"
fi

# ---- 6. the source tree ----------------------------------------------------------------

for f in debian/files debian/churnwatch debian/.debhelper debian/debhelper-build-stamp \
    debian/churnwatch.substvars ../churnwatch_"${VERSION}"_"${ARCH}".deb; do
    [ ! -e "$f" ] || cw_fail "make deb left $f in the source tree"
done
echo "ok: the source tree is untouched (the build ran in build/deb)"
echo "60-deb: ok"
