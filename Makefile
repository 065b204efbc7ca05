# Task runner. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export OMP_NUM_THREADS ?= 1

.PHONY: install demo test test-fast lint typecheck bench bench-env clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e ".[dev,ml-cpu,spark]"
	touch $(STAMP)

install: $(STAMP)

## The main job on the default local store (./tracking): train the example, build the site.
demo: $(STAMP)
	$(BIN)/python -m examples.nyc_taxi
	$(BIN)/tracker build --out site --strict

## The whole test suite, lint and type checks included.
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider

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
