# Task runner. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 1

.PHONY: install demo test test-fast compat lint typecheck bench bench-env clean

# pip shows its progress: on a fresh machine this step takes a minute or two (#13).
$(STAMP): pyproject.toml
	@echo "==> installing tracker and its dev and ML extras into $(VENV) (pip's progress follows)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -e ".[dev,ml-cpu,spark]"
# axe-core for the accessibility tests (tests/test_site_a11y.py), kept out of the site (#18)
	if command -v npm >/dev/null; then npm install -s --no-audit --no-fund --prefix .axe axe-core@4; fi
	touch $(STAMP)
	@echo "==> installed: $(BIN)/tracker (source $(BIN)/activate puts tracker on your PATH)"

install: $(STAMP)

## Train the example into a fresh demo store (./tracking, or DEMO_STORE), build ./site, and
## print how to open it. A store the demo made is deleted and made again; any other is kept.
DEMO_STORE ?= tracking
demo: $(STAMP)
	$(BIN)/python scripts/demo.py --store $(DEMO_STORE) --site site

## The whole test suite, lint and type checks included.
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

## MLflow-style scripts (tests/compat/scripts) run against tracker; prints "N of M pass".
compat: $(STAMP)
	$(BIN)/python -m tests.compat

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard tracker tests benchmarks examples scripts)

typecheck: $(STAMP)
	$(BIN)/mypy

## Performance figures quoted in the README (MLflow's too after `make bench-env`).
bench: $(STAMP)
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.registry_state
	$(BIN)/python -m benchmarks.autolog_overhead
	$(BIN)/python -m benchmarks.site
	$(BIN)/python -m benchmarks.s3
	$(BIN)/python -m benchmarks.spark_views
	$(BIN)/python -m benchmarks.spark_sweep

## MLflow for `make bench`, in its own venv (mlflow 3.x pins pyarrow<26).
bench-env:
	test -x .venv-bench/bin/python || $(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q -U pip "mlflow>=2.10"

clean:
	rm -rf $(VENV) .venv-bench tracking site .pytest_cache .mypy_cache .ruff_cache
