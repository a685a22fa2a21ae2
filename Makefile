# Teiki: `make demo` sets everything up and runs the demo merchant end to end; `make test` tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)

export DAGSTER_HOME := $(CURDIR)/dagster_home
# The venv first on PATH: `dagster dev` re-parses dbt on reload and looks for `dbt` there.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo test test-slow dev install manifest browser bi-clients dashboard clean

install: $(STAMP)

# Re-runs only when pyproject.toml changes. uv installs the ~120 packages in seconds where pip
# takes over a minute (ARCHITECTURE.md, known traps).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	@touch $@

# The file rule re-parses when a dbt file changed; the recipe re-parses when the manifest was
# parsed for other sources than the configured ones (an API source's variables set or unset),
# which no file date shows.
manifest: $(MANIFEST)
	@$(BIN)/python -m orchestration.transform.prepare --if-stale

# dagster-dbt needs manifest.json at import time; outside `dagster dev` nothing else makes it.
$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -m orchestration.transform.prepare
	@touch $@

demo: install manifest
	$(BIN)/python -m orchestration.demo

browser:
	@scripts/ensure_chromium.sh

# The Evidence dashboard of the BI snapshot in force (README "Dashboard"); run `make demo` first.
dashboard: install
	@scripts/ensure_node.sh
	$(BIN)/python scripts/dashboard.py

# DuckDB 1.x clients the BI snapshot must open (tests/orchestration/publish/test_bi_clients.py):
# PyPI's DuckDB CLI and the oldest 1.x Python package in a folder of their own (not the venv, whose
# duckdb is 2.0), and Node's client from npm (the one Evidence uses). Cached: re-installed only
# when the pins change.
BI_CLIENTS := tests/bi_clients
BI_DUCKDB_CLI := duckdb-cli==1.5.6
BI_DUCKDB_PY := duckdb==1.0.0
bi-clients: $(BI_CLIENTS)/python/.installed $(BI_CLIENTS)/node_modules/.installed

$(BI_CLIENTS)/python/.installed: Makefile | $(STAMP)
	rm -rf $(BI_CLIENTS)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python --target $(BI_CLIENTS)/python/cli '$(BI_DUCKDB_CLI)'
	$(BIN)/uv pip install --quiet --python $(BIN)/python --target $(BI_CLIENTS)/python/py '$(BI_DUCKDB_PY)'
	@touch $@

$(BI_CLIENTS)/node_modules/.installed: $(BI_CLIENTS)/package.json $(BI_CLIENTS)/package-lock.json
	@scripts/ensure_node.sh
	cd $(BI_CLIENTS) && npm ci --no-audit --no-fund --silent
	@touch $@

# The everyday suite; `test-slow` holds the few suites over its 10-minute budget (CI runs both).
test: install manifest browser bi-clients
	$(BIN)/python -m pytest -q -m "not slow"

# pytest exits 5 when nothing is marked slow: not a failure.
test-slow: install manifest browser bi-clients
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]

# The UI's address. On a taken port `dagster dev` would keep its daemon and schedules running
# without a UI, so nothing starts unless the port is free (scripts/check_port_free.py).
DEV_HOST ?= 127.0.0.1
DEV_PORT ?= 3000

dev: install manifest
	@$(BIN)/python scripts/check_port_free.py $(DEV_HOST) $(DEV_PORT)
	$(BIN)/dagster dev -h $(DEV_HOST) -p $(DEV_PORT) -w workspace.yaml

clean:
	rm -rf data dbt_project/target dbt_project/logs dagster_home/storage dagster_home/history dagster_home/logs dagster_home/schedules
