# Propolis: the two commands for a fresh machine are `make run` and `make test`.
# Both create the virtualenv and install everything themselves.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export RUST_LIB_BACKTRACE ?= 0

.PHONY: install system-deps run test lint proto proto-check buf-breaking policy-test pytest bench bench-scan clean

# Debian packages the test suite needs: Go to build a real binary for the scanner, the OCI
# registry (docker-registry) the registry tests start on loopback, and each ecosystem's own
# version comparison (rpm, RubyGems, Composer, Go's x/mod, Rust's semver crate, Maven) that the
# version-ordering tests use as oracles.
DEB_PACKAGES := golang-go docker-registry rpm ruby php-cli php-composer-semver golang-golang-x-mod-dev \
	librust-semver-dev libmaven3-core-java

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "not root: tests that need$$missing will skip (install them with apt-get)"; fi

## Start Propolis on the embedded default: a private NATS with JetStream plus every service.
run: install
	$(BIN)/propolis up

## The whole test suite: lint, contracts, Rego unit tests, pytest.
test: install system-deps lint proto-check buf-breaking policy-test pytest

lint: install
	$(BIN)/ruff check services tests tools loadtests
	$(BIN)/buf lint
	$(BIN)/mypy

proto: install
	$(PY) tools/genproto.py

proto-check: install
	$(PY) tools/genproto.py --check

# Breaking-change check of proto/ against main, once main has a baseline.
buf-breaking: install
	@if git rev-parse --verify -q main >/dev/null && git cat-file -e main:proto 2>/dev/null; then \
		echo "buf breaking against main"; $(BIN)/buf breaking --against '.git#branch=main'; \
	else echo "buf breaking: no baseline on main yet, skipped"; fi

policy-test: install
	$(BIN)/propolis policy test policies

pytest: install
	$(BIN)/pytest -q

## Decision-latency benchmarks (run on purpose, not part of `make test`).
bench: install
	$(PY) loadtests/decision_latency.py

## Image cataloguing against the decompression floor and Trivy (real Debian packages, see docs/benchmarks.md).
bench-scan: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) loadtests/scan_bench.py $(BENCH_SCAN_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
