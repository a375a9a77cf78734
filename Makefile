# contactd — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=
# The binary `make install` and `make deb` take; empty: a release build. The tests pass their
# debug build so that `make test` never builds a second, release, copy.
BIN ?=
# Where `make prompts` writes (the .deb always takes target/prompts: Cargo.toml's assets).
PROMPTS ?= target/prompts
# `make deb BIN=...` packages BIN from $(DEB_TARGET)/release (cargo-deb's target dir).
DEB_TARGET ?= target/deb-bin
DEB_OUT ?= target/debian
CARGO_DEB_VERSION := 3.8.0

SHARE = $(DESTDIR)$(PREFIX)/share/contactd

# Run after the rest, one at a time (see `test`).
APART = amd_notice:: faults_link::

.PHONY: demo test lint bench install services tools build clean prompts chaos scale deb cargo-deb

services:
	@scripts/services.sh

tools:
	@scripts/tools.sh

build:
	$(CARGO) build --release --bin contactd

## The daemon against the built-in FreeSWITCH simulator, on local Redis and PostgreSQL.
## The simulator refuses missing sound files, like the switch: the prompts come first.
demo: services build $(PROMPTS)/.generated
	./target/release/contactd demo --prompts $(PROMPTS)

## Everything: unit, integration (real Redis + PostgreSQL + simulator), trace replay,
## FreeSWITCH config (frslint), the systemd unit, `make install` and the .deb.
test: services tools
	$(CARGO) test --lib --bins --tests --no-fail-fast -- --test-threads=4 $(APART:%=--skip %)
	# tests that judge contactd's reaction time on a simulator running 4-10x fast: alone, where
	# a 100 ms stall of a loaded 2-core machine does not read as a subscriber's second
	$(CARGO) test --test suite -- --test-threads=1 $(APART)
	# the scale-out scenario alone afterwards: five processes of its own on 2 cores
	$(CARGO) test --test suite scale_e2e:: -- --ignored --test-threads=1

## The fault matrix (tests/chaos): every scenario, one CHAOS line each (about 14 minutes).
## One alone: cargo test --test chaos -- --scenario NAME
chaos: services tools
	$(CARGO) test --test chaos -- --all

## Issue 15's whole scale-out scenario (3 switches, 2 instances, Sentinel; 1–3 minutes).
scale: services tools
	$(CARGO) test --test suite scale_e2e:: -- --ignored --nocapture

## Voice prompts (ru, en; 8 kHz 16-bit mono WAV) and music on hold into $(PROMPTS).
prompts:
	rm -f $(PROMPTS)/.generated
	$(MAKE) --no-print-directory $(PROMPTS)/.generated

# Generated aside and moved in whole, so a reader never sees half a set.
$(PROMPTS)/.generated: scripts/prompts.sh
	set -e; tmp="$(PROMPTS).tmp.$$$$"; rm -rf "$$tmp"; scripts/prompts.sh "$$tmp"; \
	  touch "$$tmp/.generated"; rm -rf "$(PROMPTS)"; mv "$$tmp" "$(PROMPTS)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: services tools
	$(CARGO) bench --bench contactd_bench

## Binary, unit, sysusers/tmpfiles, config (kept if present), SQL, FreeSWITCH config,
## dialplans, prompts and music on hold. Without DESTDIR it also creates the contactd user
## and its directories (systemd-sysusers, systemd-tmpfiles).
install: $(if $(BIN),,build) $(PROMPTS)/.generated
	install -Dm0755 $(or $(BIN),target/release/contactd) $(DESTDIR)$(PREFIX)/bin/contactd
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/usr/lib/sysusers.d \
	  $(DESTDIR)/usr/lib/tmpfiles.d $(SHARE)
	sed 's|/usr/bin/contactd|$(PREFIX)/bin/contactd|' systemd/contactd.service \
	  > $(DESTDIR)/etc/systemd/system/contactd.service
	chmod 0644 $(DESTDIR)/etc/systemd/system/contactd.service
	install -m0644 systemd/contactd.sysusers $(DESTDIR)/usr/lib/sysusers.d/contactd.conf
	install -m0644 systemd/contactd.tmpfile $(DESTDIR)/usr/lib/tmpfiles.d/contactd.conf
	sed 's|"/usr/share/contactd/|"$(PREFIX)/share/contactd/|' contactd.example.toml \
	  > $(SHARE)/contactd.example.toml
	chmod 0644 $(SHARE)/contactd.example.toml
	install -d -m0750 $(DESTDIR)/etc/contactd
	@# an edited config is never overwritten; the example beside the share files shows new keys
	[ -e $(DESTDIR)/etc/contactd/contactd.toml ] || \
	  install -m0640 $(SHARE)/contactd.example.toml $(DESTDIR)/etc/contactd/contactd.toml
	rm -rf $(SHARE)/sql $(SHARE)/fs-conf $(SHARE)/dialplans $(SHARE)/prompts $(SHARE)/music
	cp -rL sql fs-conf dialplans $(SHARE)/
	install -d $(SHARE)/prompts $(SHARE)/music
	cp -r $(PROMPTS)/ru $(PROMPTS)/en $(SHARE)/prompts/
	cp -r $(PROMPTS)/music/8000 $(SHARE)/music/
	@if [ -z "$(DESTDIR)" ]; then \
	  echo "systemd-sysusers contactd.conf && systemd-tmpfiles --create contactd.conf"; \
	  systemd-sysusers contactd.conf && systemd-tmpfiles --create contactd.conf; \
	  if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	  echo "installed; next: README \"Running it for real\" (setup-db, config, FreeSWITCH, systemctl enable --now contactd)"; \
	fi

cargo-deb:
	@$(CARGO) deb --version >/dev/null 2>&1 || \
	  $(CARGO) install cargo-deb --locked --version $(CARGO_DEB_VERSION)

## The Debian package, in $(DEB_OUT): the same files as `make install` with PREFIX=/usr, the
## config as the conffile /etc/contactd/contactd.toml (Cargo.toml [package.metadata.deb]).
deb: cargo-deb
	$(MAKE) --no-print-directory PROMPTS=target/prompts target/prompts/.generated
ifeq ($(BIN),)
	$(CARGO) deb --locked --strip -o $(DEB_OUT)/
else
	@# cargo-deb takes the binary from <target dir>/release: give it BIN there
	rm -rf $(DEB_TARGET)/release && install -Dm0755 $(BIN) $(DEB_TARGET)/release/contactd
	CARGO_TARGET_DIR=$(abspath $(DEB_TARGET)) $(CARGO) deb --no-build --strip --fast -o $(DEB_OUT)/
endif

clean:
	$(CARGO) clean
