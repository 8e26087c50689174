# IDMS — `make test` is what CI runs; `make demo` shows the product.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# System packages the build and the hardware tests need (pcsc for issue 3/5,
# python3-venv for libosdp interop in 4/5, slapd + ldap-utils for the directory
# tests of 17: the tests start their own slapd, never the package's service).
APT_PACKAGES := libpcsclite-dev pcscd vsmartcard-vpcd python3-venv pkg-config chromium chromium-driver slapd ldap-utils
BARE_METAL := thumbv7em-none-eabihf
BENCH_DIR ?= target/bench-data
BENCH_USERS ?= 1000000
# The project-local Python environment: libosdp (interop tests, benchmarks),
# openapi-spec-validator and schemathesis (make openapi-check), scim2-cli and
# scim2-server (tests/it/scim_tester.rs).
VENV := .venv
# Seconds each cargo-fuzz target runs in `make test` (12 targets).
FUZZ_SECONDS ?= 5

.PHONY: help deps venv check test test-only nostd doc fuzz-smoke openapi-check vectors demo bench bench-levels bench-open-levels bench-cli-delay bench-ldap bench-scim bench-tap bench-osdp bench-purge bench-open bench-http bench-ui bench-doors bench-drill clean-bench screenshots

help:
	@echo "make test    install what is missing, then fmt + clippy + the whole test suite"
	@echo "make demo    build, create ./demo-data with a few people and cards, print what to try"
	@echo "make bench   divan benchmarks (decide, expunge); make bench-open: 1M-user open"
	@echo "make screenshots  every page of the web UI in Chromium, into docs/screenshots/"

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@rustup target list --installed 2>/dev/null | grep -qx $(BARE_METAL) || rustup target add $(BARE_METAL) || \
	  echo "note: $(BARE_METAL) unavailable; the no_std build runs on the host target instead"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

check:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

# firmware-protocol must build without std, for a bare-metal MCU when the
# toolchain has the target.
nostd:
	@if rustup target list --installed 2>/dev/null | grep -qx $(BARE_METAL); then \
	  $(CARGO) build --locked -p firmware-protocol --no-default-features --target $(BARE_METAL); \
	else \
	  $(CARGO) build --locked -p firmware-protocol --no-default-features; \
	fi

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

# The suite, then the machine's pcscd as it was (the hardware tests run the
# simulator's); installs cargo-nextest when missing; fails if a daemon the
# tests started is left running.
test-only:
	CARGO=$(CARGO) scripts/test-suite.sh

# Every decoder of firmware-protocol under libFuzzer for FUZZ_SECONDS each
# (installs cargo-fuzz when missing; runs on stable with RUSTC_BOOTSTRAP).
fuzz-smoke:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-smoke.sh

# The OpenAPI document: openapi-spec-validator, then schemathesis against a
# real `idms serve` (OPENAPI_FUZZ_SECONDS of fuzzing in all, default 150).
openapi-check: venv
	scripts/openapi-check.sh

test: deps venv check nostd doc test-only fuzz-smoke openapi-check

DEMO_LISTEN ?= 127.0.0.1:8080

# The door-controller test vectors (docs/contract/vectors.json), written
# from a service in-process; `make test` fails while they are out of date.
vectors:
	IDMS_WRITE_VECTORS=1 cargo nextest run --locked -E 'test(/contract::the_test_vectors/)'

# The demo: demo people and cards, pcscd with the simulator's virtual
# readers, the service watching them, and a hw-sim prompt to tap cards.
# Quitting the prompt (or end of input) stops the service.
demo: deps
	$(CARGO) build --locked --bin idms
	$(CARGO) build --locked -p hw-sim --bin hw-sim
	rm -rf demo-data
	./target/debug/idms --data-dir demo-data init
	./target/debug/idms --data-dir demo-data demo | sed 's#^  idms #  ./target/debug/idms #'
	./target/debug/hw-sim pcscd
	./target/debug/idms --data-dir demo-data --json controller add --name demo-sim --door front \
	  | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p' > demo-data/controller.token
	@test -s demo-data/controller.token || { echo "no controller token"; exit 1; }
	@./target/debug/idms --data-dir demo-data serve --listen $(DEMO_LISTEN) > demo-data/serve.log 2>&1 & \
	  echo $$! > demo-data/serve.pid; \
	  touch demo-data/controller.in; \
	  tail -n +1 -f demo-data/controller.in | ./target/debug/hw-sim controller --url http://$(DEMO_LISTEN) \
	    --token-file demo-data/controller.token --door front --data-dir demo-data/controller \
	    > demo-data/controller.log 2>&1 & \
	  echo $$! > demo-data/controller.pid; \
	  echo; echo "idms serve runs on $(DEMO_LISTEN) (log: demo-data/serve.log)."; \
	  echo "A simulated door controller for door 'front' runs beside it (log: demo-data/controller.log)."; \
	  echo "Tap a card at it from another terminal, then read the answer in the log:"; \
	  echo "  echo 'tap 04A1B2C3' >> demo-data/controller.in; tail -n 2 demo-data/controller.log"; \
	  echo "  (also: 'tap 04C0FFEE', 'sync', 'upload', 'status'; stop the service and tap again: the answer comes"; \
	  echo "  from the controller's list, offline, and is uploaded once the service is back)"; \
	  echo "Watch taps in another terminal (the admin token is printed above):"; \
	  echo "  curl -N -H 'Authorization: Bearer TOKEN' http://$(DEMO_LISTEN)/api/v1/readers/events"; \
	  echo "  ./target/debug/idms --data-dir demo-data readers --watch"; \
	  echo "Then tap at the prompt: 'tap 0 04A1B2C3' (Ada's card), 'tap 0 04112233445566 ultralight' (a new card),"; \
	  echo "'tap 0 08AABBCC random' (a random-UID card, refused). 'quit' stops the demo."; \
	  ./target/debug/hw-sim serve; kill $$(cat demo-data/serve.pid) $$(cat demo-data/controller.pid) 2>/dev/null; \
	  echo >> demo-data/controller.in; true

bench:
	$(CARGO) bench --locked --bench core

# Tap latency through pcscd: pcscd reports a card → the SSE client has it (TAPS taps, default 200).
bench-tap: deps
	$(CARGO) bench --locked --bench tap

# OSDP poll cycle on one pty line at 115200 baud, 1/8/32 PDs, our CP vs libosdp's (CPU per poll).
bench-osdp: venv
	$(CARGO) bench --locked --bench osdp
	$(CARGO) bench --locked -p firmware-protocol --bench frames

# Purge-job expunge rate at 10k and 100k people, and door-decision latency (in-process and HTTP) while it runs.
# Issue 10/12: decide at a door with 1,000 doors and 200 access levels (median, p99), next to plain decide.
bench-levels:
	$(CARGO) bench --locked --bench core -- decide

# A schedule edited with the CLI while idms serve runs: the delay until the service applied its position.
bench-cli-delay:
	$(CARGO) bench --locked --bench cli_delay

# The LDAP client against a local slapd of LDAP_BENCH_ENTRIES people (default 100,000):
# full paged fetch (entries/s), ID-only search, incremental fetch after 1 % changed.
bench-ldap:
	$(CARGO) bench --locked --bench ldap

# SCIM: POST /Users and PATCH p50/p99 under 16 clients, and door p99 during a 100,000-person provisioning.
bench-scim:
	$(CARGO) bench --locked --bench scim

bench-purge:
	$(CARGO) bench --locked --bench purge

# Opening a database of $(BENCH_USERS) users / credentials: index build time and peak RSS.
bench-open:
	$(CARGO) build --locked --release --bin idms
	@if [ ! -f $(BENCH_DIR)/idms.db ]; then \
	  ./target/release/idms --data-dir $(BENCH_DIR) init && \
	  ./target/release/idms --data-dir $(BENCH_DIR) dev seed --users $(BENCH_USERS); fi
	./target/release/idms --data-dir $(BENCH_DIR) dev open-stats
	./target/release/idms --data-dir $(BENCH_DIR) dev open-stats

# The same with 1,000 doors and 200 access levels, each person holding 1 to 3 (issue 10/12).
bench-open-levels:
	$(CARGO) build --locked --release --bin idms
	@if [ ! -f $(BENCH_DIR)-levels/idms.db ]; then \
	  ./target/release/idms --data-dir $(BENCH_DIR)-levels init && \
	  ./target/release/idms --data-dir $(BENCH_DIR)-levels dev seed --users $(BENCH_USERS) --levels 200; fi
	./target/release/idms --data-dir $(BENCH_DIR)-levels dev open-stats
	./target/release/idms --data-dir $(BENCH_DIR)-levels dev open-stats

# The web UI at 1M people: people search and person record server time vs the JSON API; page weight.
bench-ui: bench-open
	BENCH_DIR=$(BENCH_DIR) BENCH_USERS=$(BENCH_USERS) $(CARGO) bench --locked --bench ui

# The door controllers' feed at 1M credentials (DOORS_CREDENTIALS): snapshot bytes plain / gzip and per entry,
# server time for every page, and the simulated controller's (hw-sim) time to fetch and apply it end to end.
bench-doors:
	BENCH_DIR=$(BENCH_DIR) $(CARGO) bench --locked --bench doors

clean-bench:
	rm -rf $(BENCH_DIR)

# Door decisions over HTTP against a 1M-credential database vs a constant-answer baseline (wrk, 64 connections).
bench-http:
	./scripts/bench-http.sh

# The partition drill: idms serve killed for DRILL_SECS (120) while the simulated controller decides
# DRILL_TAPS (10,000) times offline; then the upload time after reconnect and the events lost (must be 0).
bench-drill:
	$(CARGO) bench --locked --bench drill

# Every page of the web UI, from the browser tests' tour (tests/it/ui_browser/tour.rs).
screenshots: deps
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots cargo nextest run --locked -E 'test(/ui_browser::tour::/)'
