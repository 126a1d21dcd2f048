# dealer-vmi: `make demo` and `make test` are the only commands a fresh clone needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO := demo

ASSETS := planner/static/vendor/.installed
# Two pytest-xdist workers, one test file each at a time (module fixtures stay whole): the
# end-to-end tests wait on servers and subprocesses much of the time. PYTEST_WORKERS= runs serially.
PYTEST_WORKERS ?= -n 2 --dist loadfile

.PHONY: demo test test-fast lint bench browser clean serve web assets

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet "pip==26.3"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Front-end libraries (package.json / package-lock.json, from the npm registry) copied where
# report.html inlines them and the workbench serves them: never a CDN at run time.
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --silent
	mkdir -p $(@D)
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/htmx.org/dist/htmx.min.js $(@D)/
	touch $@

assets: $(ASSETS)

# Debian's chromium for the report test; skipped quietly where apt is not ours to use.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium not installed: browser tests will be skipped"; }

demo: $(STAMP) $(ASSETS)
	rm -rf $(DEMO)
	$(VENV)/bin/vmi generate --out $(DEMO)/landing
	$(VENV)/bin/vmi run --landing $(DEMO)/landing --warehouse $(DEMO)/warehouse.duckdb --out $(DEMO)/out

test: $(STAMP) $(ASSETS) browser
	$(PY) -m pytest $(PYTEST_WORKERS)

test-fast: $(STAMP) $(ASSETS)
	$(PY) -m pytest -m "not e2e and not slow and not browser"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) -m benchmarks.run_all

clean:
	rm -rf $(DEMO) dbt_project/target dbt_project/logs .pytest_cache node_modules planner/static/vendor

# Prefect server + work pool + deployments + worker (docs/operations.md); Ctrl-C stops it.
# Paths default to the demo folders (`make demo` first) unless VMI_* are set.
serve: $(STAMP)
	VMI_LANDING=$${VMI_LANDING:-$(CURDIR)/$(DEMO)/landing} \
	VMI_WAREHOUSE_FILE=$${VMI_WAREHOUSE_FILE:-$(CURDIR)/$(DEMO)/warehouse.duckdb} \
	VMI_OUT=$${VMI_OUT:-$(CURDIR)/$(DEMO)/out} \
	$(PY) -m flows.serve

# The planner workbench on loopback (docs/workbench.md); users come from VMI_USERS_FILE
# (`vmi users add NAME --role planner --users FILE`). Paths default to the demo folders.
web: $(STAMP) $(ASSETS)
	$(VENV)/bin/vmi serve-web \
	  --out $${VMI_OUT:-$(CURDIR)/$(DEMO)/out} \
	  --users $${VMI_USERS_FILE:-$(CURDIR)/$(DEMO)/users.json}
