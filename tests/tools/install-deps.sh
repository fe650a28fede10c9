#!/bin/sh
# install-deps.sh — installs the Debian 12 packages that building and testing churnwatch
# need (`make deps`). Idempotent: checks each package with dpkg and does nothing, quickly,
# when all are present; otherwise runs `apt-get update` once and installs what is missing.
# Uses sudo when not run as root.
#
# Note: on Debian, installing redis-server starts a system redis on port 6379 in some
# environments (its postinst). The tests and the demo start their own redis-server on a free
# port and never use 6379.
set -eu

PACKAGES="build-essential pkg-config librdkafka-dev libyaml-dev libhiredis-dev libcjson-dev
libsystemd-dev libcriterion-dev redis-server redis-tools kcat iproute2 procps systemd"
# The fuzz harnesses (make fuzz, tests/integration/30-fuzz-smoke.sh): libFuzzer's runtime
# (libclang_rt.fuzzer-x86_64.a) is in libclang-rt-14-dev, which clang only recommends on
# Debian 12, and recommends are not installed here.
PACKAGES="$PACKAGES clang libclang-rt-14-dev"
# The metrics endpoint (daemon/http_server.c) is served by libmicrohttpd;
# tests/integration/46-metrics.sh scrapes it with curl, lints it with promtool and scrapes
# it with a real Prometheus (the prometheus package has both binaries; like redis-server,
# its postinst may start a system instance, on port 9090, which the tests never use).
PACKAGES="$PACKAGES libmicrohttpd-dev curl prometheus"
# tests/integration/49-cli.sh reads the CLI's --json output (and the alerts) with jq.
PACKAGES="$PACKAGES jq"
# The benchmark's instruction counts (make bench, tests/integration/50-bench-smoke.sh):
# `churnwatch replay` under valgrind --tool=callgrind.
PACKAGES="$PACKAGES valgrind"
# The HTTP sinks (docs/sinks.md): libcurl (OpenSSL flavour) and libcrypto for the daemon;
# for their tests (47-alertmanager, 48-webhook) Alertmanager itself (amtool comes with
# it), libmicrohttpd for build/webhook-recv, and curl, openssl and jq in the scripts.
# prometheus-alertmanager may start a system Alertmanager on port 9093 where services
# run; the tests start their own on a free port.
PACKAGES="$PACKAGES libcurl4-openssl-dev libssl-dev libmicrohttpd-dev prometheus-alertmanager
curl openssl jq"
# The Debian package (make deb, tests/integration/60-deb.sh): debhelper and dpkg-dev build
# it (Rules-Requires-Root: no, so no fakeroot). The man pages are checked with groff and
# man (61-man.sh). lintian (~120 packages, 77 MB) is not installed here: 60-deb.sh runs
# it when it is present.
PACKAGES="$PACKAGES debhelper dpkg-dev groff-base man-db"

missing=""
for pkg in $PACKAGES; do
    # "install ok installed" is the only state in which a package is fully usable.
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-deps: missing:$missing; run as root or install sudo" >&2
    exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
echo "install-deps: done"
