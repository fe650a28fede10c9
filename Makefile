# churnwatch — one Makefile for the daemon, the CLI, the test tools and the tests.
#
#   make            build build/churnwatchd and build/churnwatch (release flags)
#   make deps       install the Debian 12 packages the build and the tests need
#   make check      unit tests + integration tests, built with ASan and UBSan
#   make demo       the embedded default: redis-server + development broker + CDNOW orders
#   make install    PREFIX=/usr/local DESTDIR= (binaries, unit, sysusers entry, man pages,
#                   example config; UNITDIR, SYSUSERSDIR and MANDIR move those)
#   make deb        build/churnwatch_VERSION_ARCH.deb with debhelper (debian/)
#
# The release build honours the usual CPPFLAGS, CFLAGS and LDFLAGS (dpkg-buildflags sets
# them for the package: fortify, stack protector, relro/now).

PREFIX   ?= /usr/local
DESTDIR  ?=
UNITDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
MANDIR   ?= $(PREFIX)/share/man
# the one version, daemon/version.h (debian/changelog must agree: make deb checks)
VERSION  := $(shell sed -n 's/^.define CW_VERSION "\(.*\)"$$/\1/p' daemon/version.h)
CC       ?= gcc
PKGS     := rdkafka yaml-0.1 hiredis libsystemd libcjson libcurl libcrypto libmicrohttpd
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASEFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(WARN) -MMD -MP -Idaemon \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDLIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

# Every daemon/*.c is library code except the two program entry points.
MAINS    := daemon/churnwatchd.c daemon/churnwatch.c
LIBSRC   := $(filter-out $(MAINS),$(wildcard daemon/*.c daemon/sinks/*.c))
UNITSRC  := $(wildcard tests/unit/*.c)
TOOLSRC  := $(wildcard tests/tools/*.c)

REL := build/obj
SAN := build/san

rel_obj = $(patsubst %.c,$(REL)/%.o,$(1))
san_obj = $(patsubst %.c,$(SAN)/obj/%.o,$(1))

# keep intermediate objects (tools are built through a pattern rule)
.SECONDARY:

.PHONY: all deps check unit integration demo install clean bench fmt deb
all: build/churnwatchd build/churnwatch $(patsubst tests/tools/%.c,build/%,$(TOOLSRC))

$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(SAN)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@

build/churnwatchd: $(call rel_obj,daemon/churnwatchd.c $(LIBSRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
build/churnwatch: $(call rel_obj,daemon/churnwatch.c $(LIBSRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
build/%: $(REL)/tests/tools/%.o $(call rel_obj,$(LIBSRC))
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
# The HTTP(S) receiver of the sink tests (47, 48) serves with libmicrohttpd: a test tool's
# library only, not linked into the daemon.
$(REL)/tests/tools/webhook-recv.o: BASEFLAGS += $(shell pkg-config --cflags libmicrohttpd)
build/webhook-recv: LDLIBS += $(shell pkg-config --libs libmicrohttpd)

$(SAN)/churnwatchd: $(call san_obj,daemon/churnwatchd.c $(LIBSRC))
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)
$(SAN)/churnwatch: $(call san_obj,daemon/churnwatch.c $(LIBSRC))
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS)
$(SAN)/unit_tests: $(call san_obj,$(UNITSRC) $(LIBSRC))
	$(CC) $(SANFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs criterion)

deps:
	@sh tests/tools/install-deps.sh

unit: $(SAN)/unit_tests
	cd tests && ../$(SAN)/unit_tests --jobs 2

SANBINS := $(SAN)/churnwatchd $(SAN)/churnwatch $(patsubst tests/tools/%.c,build/%,$(TOOLSRC))
integration: $(SANBINS)
	sh tests/integration/run.sh

check: deps
	$(MAKE) all $(SAN)/unit_tests $(SANBINS)
	sh tests/run-all.sh

demo: deps
	$(MAKE) all
	sh tests/tools/demo.sh

install: build/churnwatchd build/churnwatch
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/churnwatch \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0755 build/churnwatchd $(DESTDIR)$(PREFIX)/sbin/churnwatchd
	install -m 0755 build/churnwatch $(DESTDIR)$(PREFIX)/bin/churnwatch
	sed 's|/usr/sbin/churnwatchd|$(PREFIX)/sbin/churnwatchd|g' systemd/churnwatchd.service \
	  >$(DESTDIR)$(UNITDIR)/churnwatchd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/churnwatchd.service
	install -m 0644 systemd/churnwatch.sysusers $(DESTDIR)$(SYSUSERSDIR)/churnwatch.conf
	install -m 0644 man/churnwatch.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/churnwatch.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/churnwatchd.8 $(DESTDIR)$(MANDIR)/man8/
	[ -e $(DESTDIR)/etc/churnwatch/churnwatch.yaml ] || \
	  install -m 0640 config/churnwatch.yaml $(DESTDIR)/etc/churnwatch/churnwatch.yaml

# The Debian package (debian/; tests/integration/60-deb.sh). dpkg-buildpackage writes its
# results next to the source tree and its work files into debian/, so it runs on a copy
# of the sources in build/deb/; the package is copied to build/. DEB_BUILD_OPTIONS is
# passed on (e.g. nocheck, noopt).
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_SRC  := build/deb/churnwatch-$(VERSION)
deb: deps
	@v=$$(dpkg-parsechangelog -l debian/changelog -S Version) && [ "$$v" = "$(VERSION)" ] || \
	  { echo "make deb: daemon/version.h says $(VERSION), debian/changelog $$v" >&2; exit 1; }
	rm -rf build/deb
	mkdir -p $(DEB_SRC)
	cp -a Makefile README.md config daemon debian docs man systemd $(DEB_SRC)/
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="parallel=2 $(DEB_BUILD_OPTIONS)" \
	  dpkg-buildpackage -b -us -uc >../build.log 2>&1 || \
	  { tail -n 40 ../build.log; echo "make deb: dpkg-buildpackage failed (build/deb/build.log)" >&2; exit 1; }
	cp build/deb/churnwatch_$(VERSION)_$(DEB_ARCH).deb build/
	@echo "make deb: build/churnwatch_$(VERSION)_$(DEB_ARCH).deb"

fmt:
	clang-format -i daemon/*.c daemon/*.h tests/unit/*.c tests/tools/*.c

clean:
	rm -rf build

# Fuzzing (tests/fuzz, docs/fuzzing.md): libFuzzer harnesses for the event decoder and the
# config parser, built with clang, the library sources too, into build/fuzz/.
#   make fuzz [FUZZ_TIME=60]   each harness for FUZZ_TIME seconds over a copy of its corpus
#   make fuzz-smoke            seed 1, a fixed number of inputs each, from the seeds alone: the
#                              same inputs on every machine (tests/integration/30-fuzz-smoke.sh)
FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FUZZ      := build/fuzz
FUZZFLAGS := -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZBINS  := $(FUZZ)/fuzz_decode $(FUZZ)/fuzz_config
.PHONY: fuzz fuzz-smoke fuzz-build
$(FUZZ)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(BASEFLAGS) $(FUZZFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
$(FUZZ)/fuzz_%: $(FUZZ)/obj/tests/fuzz/fuzz_%.o $(patsubst %.c,$(FUZZ)/obj/%.o,$(LIBSRC))
	$(FUZZ_CC) $(FUZZFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)
fuzz-build: $(FUZZBINS)
fuzz: $(FUZZBINS)
	sh tests/fuzz/run.sh decode $(FUZZ_TIME)
	sh tests/fuzz/run.sh config $(FUZZ_TIME)
# About 10 s each on the 2-core development machine; the time is only an upper bound.
FUZZ_SMOKE_RUNS_decode := 1000000
FUZZ_SMOKE_RUNS_config := 60000
fuzz-smoke: $(FUZZBINS)
	FUZZ_SEED=1 FUZZ_RUNS=$(FUZZ_SMOKE_RUNS_decode) sh tests/fuzz/run.sh decode 120
	FUZZ_SEED=1 FUZZ_RUNS=$(FUZZ_SMOKE_RUNS_config) sh tests/fuzz/run.sh config 120

-include $(shell find build -path build/deb -prune -o -name '*.d' -type f -print 2>/dev/null)

# Benchmark (issue 5; tests/bench/bench.sh, docs/PERFORMANCE.md): its own devbroker and
# redis-server, release binaries. Prints figures, never fails on a slow machine; not part
# of `make check` (only its smoke test, tests/integration/50-bench-smoke.sh, is).
#   make bench          1,000,000 events over 125,000 customers, latency at 20,000 events/s,
#                       1,000,000 customers in Redis, timer sweep, callgrind; writes
#                       docs/PERFORMANCE.md (a few minutes)
#   make bench-smoke    the same with small numbers (seconds), writes build/PERFORMANCE-smoke.md
# The load generator (build/loadgen) and the outbox follower (build/outbox-tail) are test
# tools (tests/tools/*.c), built like devbroker and simulate. tests/integration/
# 50-bench-smoke.sh runs the bench with tiny numbers, hence the release binaries below.
BENCHBINS := build/churnwatchd build/churnwatch build/devbroker build/simulate build/loadgen \
             build/outbox-tail
.PHONY: bench-smoke
bench: $(BENCHBINS)
	sh tests/bench/bench.sh
bench-smoke: $(BENCHBINS)
	BENCH_EVENTS=50000 BENCH_BIG_CUSTOMERS=20000 BENCH_LATENCY_SECONDS=3 \
	  BENCH_CALLGRIND_EVENTS=5000 BENCH_OUT=build/PERFORMANCE-smoke.md sh tests/bench/bench.sh
integration: $(BENCHBINS)
