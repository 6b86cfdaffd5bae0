# portpilot: plain Makefile. `make`, `make check`, `make demo`, `make asan`,
# `make fuzz`, `make bench`, `make install`, `make clean`.

VERSION   = 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
B        ?= build
SAN      ?=

PP_CFLAGS = -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -DPP_VERSION='"$(VERSION)"' \
            -Iinclude -I/usr/include/iniparser $(SAN) -MMD -MP
# libcurl is not linked: core/http.c loads it on first use (-ldl)
LIBS      = -liniparser -lncursesw -lpcap -lssl -lcrypto -ldl
# the nftables backend (core/backend-nft.c, core/nft-ops.c; core/backend.c lists it)
LIBS     += $(shell pkg-config --libs libnftables 2>/dev/null || echo -lnftables)
# and its element updates as one netlink batch (core/nft-batch.c)
LIBS     += $(shell pkg-config --libs libnftnl libmnl 2>/dev/null || echo -lnftnl -lmnl)
PP_CFLAGS += -DPP_HAVE_NFTABLES
# the conntrack flush of changed ports over ctnetlink (core/conntrack.c)
LIBS     += $(shell pkg-config --libs libnetfilter_conntrack 2>/dev/null || echo -lnetfilter_conntrack -lnfnetlink)
LDFLAGS_PP = $(SAN)

CORE_SRC  = $(filter-out core/main.c,$(wildcard core/*.c))
TUI_SRC   = $(wildcard tui/*.c)
DDNS_SRC  = $(wildcard ddns/*.c)
PROBE_SRC = $(wildcard probe/*.c)
ALL_SRC   = $(CORE_SRC) $(TUI_SRC) $(DDNS_SRC) $(PROBE_SRC) core/main.c

obj = $(patsubst %.c,$(B)/%.o,$(1))
# Link order: the binary's entry, then modules, then the core they depend on. The two
# archives are one group: core's conf reader hands [ddns NAME] to ddns/conf-ddns.c.
LINK_LIBS = -Wl,--start-group $(B)/libppmod.a $(B)/libppcore.a -Wl,--end-group
MOD_OBJ   = $(call obj,$(TUI_SRC) $(DDNS_SRC) $(PROBE_SRC))
CORE_OBJ  = $(call obj,$(CORE_SRC))

UNIT_SRC   = $(wildcard tests/unit/test-*.c)
UNIT_BIN   = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_SRC  = $(wildcard bench/*.c)
BENCH_BIN  = $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC))

# Tests that simulate system-call failures wrap them at link time.
WRAP_test-save = -Wl,--wrap=rename -Wl,--wrap=fsync -Wl,--wrap=write
WRAP_test-conntrack = -Wl,--wrap=nfct_open -Wl,--wrap=nfct_query -Wl,--wrap=nfct_close \
                      -Wl,--wrap=nfct_callback_register -Wl,--wrap=nfct_callback_unregister \
                      -Wl,--wrap=pp_sysctl_read
WRAP_test-http = -Wl,--wrap=dlopen

.PHONY: all build-all deps check check-unit check-shell asan fuzz bench demo install clean
# ./portpilot points at the default build only: sanitizer and clang builds leave it alone.
all: $(B)/portpilot $(if $(filter build,$(B)),portpilot)

portpilot: $(B)/portpilot
	@ln -sf $(B)/portpilot portpilot

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(PP_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libppcore.a: $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/libppmod.a: $(MOD_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/portpilot: $(B)/core/main.o $(B)/libppmod.a $(B)/libppcore.a
	$(CC) $(LDFLAGS_PP) $(LDFLAGS) -o $@ $(B)/core/main.o $(LINK_LIBS) $(LIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libppmod.a $(B)/libppcore.a
	@mkdir -p $(dir $@)
	$(CC) $(PP_CFLAGS) $(CFLAGS) -Wno-unused-parameter -DPP_TOP='"$(CURDIR)"' $(LDFLAGS_PP) -o $@ $(filter %.c,$^) $(LINK_LIBS) \
		$(WRAP_$*) $(LIBS) -lcmocka

$(B)/bench/%: bench/%.c $(B)/libppmod.a $(B)/libppcore.a
	@mkdir -p $(dir $@)
	$(CC) $(PP_CFLAGS) $(CFLAGS) $(LDFLAGS_PP) -o $@ $(filter %.c,$^) $(LINK_LIBS) $(LIBS) -lm

# Everything that compiles: the binary, unit tests and benches (CI builds it with clang too).
build-all: all $(UNIT_BIN) $(BENCH_BIN)

deps:
	@sh tools/deps.sh

# The test command of the README: installs what is missing, builds, runs
# every suite (unit, CLI, lab, TUI) and ends with "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory build-all
	@sh tests/run.sh $(B) $(UNIT_BIN)

check-unit: all $(UNIT_BIN)
	@PP_ONLY=unit sh tests/run.sh $(B) $(UNIT_BIN)

asan: deps
	@$(MAKE) --no-print-directory B=build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" check-asan-run

.PHONY: check-asan-run
check-asan-run: all $(UNIT_BIN)
	@ASAN_OPTIONS=detect_leaks=1 PP_ONLY=unit,cli,lab,tui,ddns,probe sh tests/run.sh $(B) $(UNIT_BIN)

FUZZ_SECONDS ?= 30
# A fixed seed makes make check's short run the same walk on every machine (a slower
# box walks a shorter prefix of it); FUZZ_SEED=0 lets libFuzzer pick one, for exploring.
FUZZ_SEED ?= 1
# (core/table-ddns.c holds the table against portpilot.conf: a hook the fuzz target leaves unset.)
FUZZ_SRC = core/util.c core/ini-doc.c core/findings.c core/relay-conf.c \
	$(filter-out core/table-ddns.c,$(wildcard core/table-*.c))
# The DDNS parsers of remote input: provider answers, Cloudflare JSON, DNS answers.
FUZZ_DDNS_SRC = ddns/codes.c ddns/cf-answer.c ddns/dnscheck.c core/util.c
FUZZ_CC = clang -std=c11 -D_GNU_SOURCE -DPP_VERSION='"$(VERSION)"' -Iinclude -I/usr/include/iniparser \
	-g -O1 -fsanitize=fuzzer,address,undefined
# Each run starts from the committed seeds (and every input that once failed), never
# from what an earlier run added, so a failure reproduces from the log's seed.
fuzz: deps
	@mkdir -p $(B)/fuzz
	$(FUZZ_CC) -o $(B)/fuzz/fuzz-table tests/fuzz/fuzz-table.c $(FUZZ_SRC) -liniparser
	$(FUZZ_CC) -o $(B)/fuzz/fuzz-ddns tests/fuzz/fuzz-ddns.c $(FUZZ_DDNS_SRC)
	@cd $(B)/fuzz && rm -rf corpus-table corpus-ddns && mkdir corpus-table corpus-ddns && \
		cp $(CURDIR)/examples/*.ini $(CURDIR)/tests/fuzz/seeds-table/* corpus-table/ && \
		cp $(CURDIR)/tests/fuzz/seeds-ddns/* corpus-ddns/ && \
	for t in table ddns; do \
		./fuzz-$$t -seed=$(FUZZ_SEED) -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
			-print_final_stats=1 corpus-$$t > fuzz-$$t.log 2>&1; rc=$$?; tail -n 8 fuzz-$$t.log; \
		[ $$rc -eq 0 ] || { grep -B2 -A30 'ERROR\|oracle' fuzz-$$t.log | head -40; \
			echo "fuzz-$$t: FAILED (input saved in $(B)/fuzz; add it to tests/fuzz/seeds-$$t/)"; exit 1; }; \
	done

bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

demo: deps
	@$(MAKE) --no-print-directory all
	@sh tests/lab/demo.sh

install: $(B)/portpilot
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
		$(DESTDIR)$(PREFIX)/share/doc/portpilot/examples $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(B)/portpilot $(DESTDIR)$(PREFIX)/sbin/portpilot
	install -m 0644 man/portpilot.8 $(DESTDIR)$(PREFIX)/share/man/man8/portpilot.8
	install -m 0644 examples/*.ini $(DESTDIR)$(PREFIX)/share/doc/portpilot/examples/
	for u in systemd/*.service systemd/*.timer; do [ -f "$$u" ] || continue; \
		sed 's|@SBINDIR@|$(PREFIX)/sbin|g' "$$u" > $(DESTDIR)$(PREFIX)/lib/systemd/system/$$(basename $$u); done
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 0644 examples/portpilot.conf $(DESTDIR)$(PREFIX)/share/doc/portpilot/examples/portpilot.conf
	install -m 0644 completion/portpilot $(DESTDIR)$(PREFIX)/share/bash-completion/completions/portpilot

clean:
	rm -rf build build-asan build-clang portpilot

# make deb: the Debian package (debian/, debhelper), built from a copy of the source in
# DEB_DIR so that the work tree stays clean; the .deb and .changes land in DEB_DIR.
DEB_DIR ?= $(CURDIR)/$(B)/deb
DEB_JOBS ?= 2
.PHONY: deb
deb:
	@command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null || \
		{ echo "deb: needs dpkg-dev and debhelper (apt-get install dpkg-dev debhelper)"; exit 1; }
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)/portpilot-$(VERSION)
	tar -c --exclude-vcs --exclude='./build*' --exclude=./portpilot --exclude='./$(B)' -f - . | \
		tar -x -C $(DEB_DIR)/portpilot-$(VERSION)
	cd $(DEB_DIR)/portpilot-$(VERSION) && dpkg-buildpackage -us -uc -b -j$(DEB_JOBS) >../build.log 2>&1 || \
		{ tail -n 40 ../build.log; exit 1; }
	@ls $(DEB_DIR)/*.deb

-include $(shell find $(B) -name '*.d' 2>/dev/null)
