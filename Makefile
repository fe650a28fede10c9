# churnwatch — one Makefile for the daemon, the CLI, the test tools and the tests.
#
#   make            build build/churnwatchd and build/churnwatch (release flags)
#   make deps       install the Debian 12 packages the build and the tests need
#   make check      unit tests + integration tests, built with ASan and UBSan
#   make demo       the embedded default: redis-server + development broker + CDNOW orders
#   make install    PREFIX=/usr/local DESTDIR= (binaries, unit, example config)

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= gcc
PKGS     := rdkafka yaml-0.1 hiredis libsystemd libcjson libmicrohttpd
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

.PHONY: all deps check unit integration demo install clean bench fmt
all: build/churnwatchd build/churnwatch $(patsubst tests/tools/%.c,build/%,$(TOOLSRC))

$(REL)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(CFLAGS) -c $< -o $@

$(SAN)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(BASEFLAGS) $(SANFLAGS) -c $< -o $@

build/churnwatchd: $(call rel_obj,daemon/churnwatchd.c $(LIBSRC))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
build/churnwatch: $(call rel_obj,daemon/churnwatch.c $(LIBSRC))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)
build/%: $(REL)/tests/tools/%.o $(call rel_obj,$(LIBSRC))
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

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
	  $(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d
	install -m 0755 build/churnwatchd $(DESTDIR)$(PREFIX)/sbin/churnwatchd
	install -m 0755 build/churnwatch $(DESTDIR)$(PREFIX)/bin/churnwatch
	install -m 0644 systemd/churnwatchd.service $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 systemd/churnwatch.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/churnwatch.conf
	[ -e $(DESTDIR)/etc/churnwatch/churnwatch.yaml ] || \
	  install -m 0640 config/churnwatch.yaml $(DESTDIR)/etc/churnwatch/churnwatch.yaml

fmt:
	clang-format -i daemon/*.c daemon/*.h tests/unit/*.c tests/tools/*.c

clean:
	rm -rf build

# Fuzzing (tests/fuzz, docs/fuzzing.md): libFuzzer harnesses for the event decoder and the
# config parser, built with clang, the library sources too, into build/fuzz/.
#   make fuzz [FUZZ_TIME=60]   each harness for FUZZ_TIME seconds over a copy of its corpus
#   make fuzz-smoke            the same for 15 s each (tests/integration/30-fuzz-smoke.sh)
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
fuzz-smoke:
	FUZZ_SEED=1 $(MAKE) fuzz FUZZ_TIME=15

-include $(shell find build -name '*.d' 2>/dev/null)

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
