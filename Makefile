# contactd — the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: demo test lint bench install services tools build clean prompts chaos

services:
	@scripts/services.sh

tools:
	@scripts/tools.sh

build: tools
	$(CARGO) build --release --bin contactd

## The daemon against the built-in FreeSWITCH simulator, on local Redis and PostgreSQL.
demo: services build
	./target/release/contactd demo

## Everything: unit, integration (real Redis + PostgreSQL + simulator), trace replay,
## FreeSWITCH config (frslint) and the systemd unit.
test: services tools
	$(CARGO) test --lib --bins --tests --no-fail-fast -- --test-threads=4

## The fault matrix (tests/chaos): every scenario, one CHAOS line each (about 9 minutes).
## One alone: cargo test --test chaos -- --scenario NAME
chaos: services tools
	$(CARGO) test --test chaos -- --all

## Voice prompts (ru, en; 8 kHz 16-bit mono WAV) into target/prompts: copy to prompts.dir.
prompts:
	scripts/prompts.sh target/prompts

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

bench: services tools
	$(CARGO) bench --bench contactd_bench

install: build
	install -Dm0755 target/release/contactd $(DESTDIR)$(PREFIX)/bin/contactd
	install -Dm0644 systemd/contactd.service $(DESTDIR)/etc/systemd/system/contactd.service
	install -Dm0644 systemd/contactd.sysusers.conf $(DESTDIR)/usr/lib/sysusers.d/contactd.conf
	install -Dm0644 systemd/contactd.tmpfiles.conf $(DESTDIR)/usr/lib/tmpfiles.d/contactd.conf
	install -Dm0640 contactd.example.toml $(DESTDIR)/etc/contactd/contactd.example.toml
	install -d $(DESTDIR)$(PREFIX)/share/contactd
	cp -rL sql fs-conf dialplans $(DESTDIR)$(PREFIX)/share/contactd/
	@echo "installed; next: systemd-sysusers, systemd-tmpfiles --create, edit /etc/contactd/contactd.toml, systemctl enable --now contactd"

clean:
	$(CARGO) clean
