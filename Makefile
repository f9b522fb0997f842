# Junheng: `make run` and `make test` are all a fresh machine needs (Python 3.11).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
DEMO_SCALE ?= 0.02

.PHONY: run test dev demo bench bench-scale lint clean screenshot

# The environment is (re)built when missing or when pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

# DAGSTER_HOME holds the instance state; its dagster.yaml is the project's own.
$(DAGSTER_HOME)/dagster.yaml:
	@mkdir -p $(DAGSTER_HOME)
	@ln -sf $(CURDIR)/dagster.yaml $@

# Demo feeds are written only when no landing zone is given (JUNHENG_LANDING unset), and
# only into an empty one: demo feeds made with other options are kept (`make demo` rewrites
# them), files that are not demo feeds are never touched.
run: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
ifndef JUNHENG_LANDING
	$(BIN)/junheng demo-feeds --scale $(DEMO_SCALE) --if-missing
endif
	$(BIN)/junheng run

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# `dg dev`: the webserver and the daemon, on the project's Definitions ([tool.dg] in
# pyproject.toml). VIRTUAL_ENV tells dg which environment is the project's.
# dagster dev warns that the dagster.yaml in the project folder is not DAGSTER_HOME's: it
# is, through the link $(DAGSTER_HOME)/dagster.yaml (the instance lives in .dagster_home,
# beside `make run`'s runs). That one line is dropped; every other line passes.
DEV_BENIGN := dagster.yaml) in the current folder, but your DAGSTER_HOME
dev: $(STAMP) $(DAGSTER_HOME)/dagster.yaml
	@set -o pipefail; VIRTUAL_ENV=$(CURDIR)/$(VENV) $(BIN)/dg dev 2>&1 \
		| grep --line-buffered -vF "$(DEV_BENIGN)"

# (Re)writes the demo feeds with `make run`'s options, whatever the landing zone holds.
demo: $(STAMP)
	$(BIN)/junheng demo-feeds --scale $(DEMO_SCALE)

# City-scale benchmark: generates (or reuses) --scale 1.0 feeds in data/bench, prints a table.
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

# Scaling benchmark (not a test): pension ingest and P1 at scales 0.25-6.7 on both engines
# and a bare-DuckDB floor; generates (or reuses, with --keep) its feeds in data/bench-scale.
bench-scale: $(STAMP)
	$(BIN)/python scripts/bench_scale.py $(BENCH_SCALE_ARGS)

# Render the latest release's index.html in headless Chromium (apt-get install chromium
# fonts-noto-cjk), as a phone (390 px) and a desktop (1400 px) see it.
screenshot:
	SCREENSHOT_WIDTH=390 scripts/screenshot.sh
	SCREENSHOT_WIDTH=1400 scripts/screenshot.sh

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .dagster_home data warehouse/*.duckdb warehouse/*.duckdb.wal \
		warehouse/query_snapshots
