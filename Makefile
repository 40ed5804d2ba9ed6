# The two commands a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# embedded SQLite instance for demo and dev, git-ignored
LOCAL_HOME := $(CURDIR)/.dagster_home

.PHONY: install demo dev lint test bench validate clean

$(BIN)/overnight: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/overnight

$(LOCAL_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(LOCAL_HOME)
	cp dagster.yaml $@

demo: install $(LOCAL_HOME)/dagster.yaml  ## run the whole nightly chain once on bundled samples
	DAGSTER_HOME=$(LOCAL_HOME) OVERNIGHT_HOME=$(LOCAL_HOME)/overnight-home $(BIN)/overnight demo

dev: install $(LOCAL_HOME)/dagster.yaml  ## the UI and daemon on workspace.yaml
	DAGSTER_HOME=$(LOCAL_HOME) OVERNIGHT_HOME=$(LOCAL_HOME)/overnight-home $(BIN)/overnight demo --inputs-only
	DAGSTER_HOME=$(LOCAL_HOME) OVERNIGHT_HOME=$(LOCAL_HOME)/overnight-home \
	  OVERNIGHT_DEMO_FIRST_NIGHT=$$(cat $(LOCAL_HOME)/overnight-demo-first-night) $(BIN)/dagster dev -w workspace.yaml

lint: install  ## the house rules: ruff's lint and format
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint  ## the house rules, then the whole suite on 2 workers, a module per worker (no tests collected is a failure)
	$(BIN)/pytest -n 2 --dist loadfile; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: a suite that runs nothing proves nothing" >&2; exit 1; fi; \
	exit $$status

bench: install  ## the figures the issues ask for
	$(BIN)/python benchmarks/run_all.py

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml

clean:
	rm -rf $(VENV) .dagster_home .pytest_cache
