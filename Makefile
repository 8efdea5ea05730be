# Two commands do all the set-up: `make demo` and `make test` (each creates .venv if missing).
# Python 3.11-3.13: PYTHON=/path/to/python3.x if given, else the newest of python3.13, python3.12 and
# python3.11 on PATH (scripts/python.sh says which, and what to install when there is none).
# An existing .venv is kept even if another Python made it: `make clean-venv` removes it.
PYTHON ?=
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export AIRFOIL_HOME ?= $(CURDIR)/.airfoil

.PHONY: demo test lint types unit bench bytecode clean clean-venv python

python:
	@PYTHON="$(PYTHON)" bash scripts/python.sh $(VENV)

$(STAMP): pyproject.toml constraints.txt | python
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	@# the build's leftover metadata beside the code would make Airflow see airfoil's plugin twice
	rm -rf src/airfoil.egg-info
	touch $(STAMP)

demo: $(STAMP) bytecode
	$(BIN)/airfoil run examples/breast_cancer/pipeline.yaml
	$(BIN)/airfoil run examples/cars/pipeline.yaml
	$(BIN)/airfoil run examples/seattle_weather/pipeline.yaml
	$(BIN)/airfoil models list breast_cancer
	$(BIN)/airfoil predict breast_cancer --input examples/breast_cancer/incoming/patients-2024-06-01.csv
	$(BIN)/airfoil monitor breast_cancer --since 2000-01-01
	$(BIN)/airfoil run examples/transient_weather/pipeline.yaml
	$(BIN)/airfoil transient run examples/transient_weather/pipeline.yaml \
		--conf-file examples/transient_weather/request.json
	$(BIN)/airfoil report breast_cancer
	$(BIN)/airfoil report cars
	@# your own data: a first spec inferred from a file (here cars.csv), checked, ready for `airfoil run`
	$(BIN)/airfoil init examples/cars/data/cars.csv --target Miles_per_Gallon \
		--output $(AIRFOIL_HOME)/init/cars.yaml --force
	$(BIN)/airfoil validate $(AIRFOIL_HOME)/init/cars.yaml

# airfoil's own bytecode, written once. With PYTHONDONTWRITEBYTECODE set (as on the CI machine) Python
# never caches it, so every process (each `airfoil` command, each test's subprocess) would compile
# the modules it imports again (~0.1 s of CPU each). Python checks the cache against the sources:
# an edited file is never run stale.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q src

lint: $(STAMP)
	$(BIN)/ruff check src tests bench dags examples
	$(BIN)/ruff format --check src tests bench dags examples
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

test: lint types bytecode
	bash .ci/services.sh
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

unit: $(STAMP) bytecode
	$(BIN)/pytest -q tests/unit

bench: $(STAMP) bytecode
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/pipeline.py --rounds 2
	$(BIN)/python bench/serve.py --workers 1 2
	$(BIN)/python bench/batch.py --sizes 1000000,16000000
	$(BIN)/python bench/score_task.py --runs 5
	$(BIN)/python bench/onnx_models.py
	$(BIN)/python bench/transient.py
	$(BIN)/python bench/monitor.py
	$(BIN)/python bench/report.py
	$(BIN)/python bench/cluster.py

clean:
	rm -rf .airfoil .pytest_cache .mypy_cache .ruff_cache
	find src tests -name __pycache__ -type d -prune -exec rm -rf {} +

clean-venv:
	rm -rf $(VENV)
