# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8080

.PHONY: run test lint typecheck validate pytest bench bench-terraform package lock tf-check tf-fmt tf-validate tf-test tf-unlock-modules tf-require checkov clean

$(STAMP): pyproject.toml
	@echo "Creating $(VENV) and installing the dev dependencies (about a minute, once)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: the product on this machine: local API Gateway + development issuer + tenant_configs/
ISSUER_PORT ?=
ARGS ?=
run: $(STAMP)
	$(BIN)/tenant-authz local --port $(PORT) $(if $(ISSUER_PORT),--issuer-port $(ISSUER_PORT)) $(ARGS)

## test: lint, format check, type check, tenant-config validation, Terraform checks, the test suite
test: lint typecheck validate tf-check checkov pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)
	$(BIN)/tenant-authz validate tenant_configs/

pytest: $(STAMP)
	$(BIN)/pytest -q

## package: the reproducible Lambda zip Terraform deploys (build/lambda-$(ARCH)-py$(PYTHON_VERSION).zip), from the pins of platform/lambda-constraints.txt
ARCH           ?= arm64
PYTHON_VERSION ?= 3.12
package: $(STAMP)
	$(BIN)/tenant-authz package --arch $(ARCH) --python $(PYTHON_VERSION) --cache-dir build/.pip-cache

## lock: re-resolve the zip's dependencies (newest versions pyproject.toml allows) into platform/lambda-constraints.txt
lock: $(STAMP)
	$(BIN)/tenant-authz package --lock --arch $(ARCH) --python $(PYTHON_VERSION) --cache-dir build/.pip-cache

# Terraform runs offline: the AWS provider comes from the filesystem mirror /opt/tf-plugins.
TFCLI    := $(CURDIR)/.tfcli
TF_ROOTS := terraform/platform terraform/tenants $(sort $(wildcard terraform/modules/*)) $(sort $(wildcard terraform/modules/*/examples/*))
TF_TESTS := $(patsubst %/tests,%,$(sort $(wildcard terraform/platform/tests terraform/tenants/tests terraform/modules/*/tests terraform/modules/*/examples/*/tests)))
export TF_CLI_CONFIG_FILE := $(TFCLI)/terraformrc
export TF_IN_AUTOMATION   := 1
export CHECKPOINT_DISABLE := 1

.tfcli/terraformrc:
	@mkdir -p $(TFCLI)
	@printf '%s\n' 'provider_installation {' \
	  '  filesystem_mirror {' \
	  '    path    = "/opt/tf-plugins"' \
	  '    include = ["registry.terraform.io/hashicorp/aws"]' \
	  '  }' \
	  '  direct {' \
	  '    exclude = ["registry.terraform.io/hashicorp/aws"]' \
	  '  }' \
	  '}' > $@

## tf-check: terraform fmt, init + validate of every root, module and example, terraform test
tf-check: tf-fmt tf-validate tf-test

# In CI (CI=true) a missing terraform is a failure; on a laptop the Terraform checks are skipped.
tf-require:
	@command -v terraform >/dev/null 2>&1 || { \
	  if [ "$$CI" = "true" ]; then echo "terraform is not on PATH: CI must run the Terraform checks" >&2; exit 1; fi; \
	  echo "terraform is not on PATH: skipping the Terraform checks (they run in CI)" >&2; }

tf-fmt: tf-require .tfcli/terraformrc
	@! command -v terraform >/dev/null 2>&1 || terraform fmt -check -recursive -diff terraform

# Directories are checked two at a time (the machines have 2 cores); each has its own
# TF_DATA_DIR under .tfcli/, so nothing is written into terraform/ but lock files.
TF_JOBS ?= 2
tf-validate: tf-require .tfcli/terraformrc
	@! command -v terraform >/dev/null 2>&1 || printf '%s\n' $(TF_ROOTS) | xargs -P $(TF_JOBS) -I{} sh -c '\
	  dir={}; data=$(TFCLI)/data/$$(echo $$dir | tr / _); mkdir -p $(TFCLI)/data; \
	  { TF_DATA_DIR=$$data terraform -chdir=$$dir init -backend=false -input=false -no-color \
	    && TF_DATA_DIR=$$data terraform -chdir=$$dir validate -no-color; } >$$data.validate.log 2>&1 \
	  && echo "terraform validate: $$dir: ok" || { cat $$data.validate.log; exit 1; }'
	@$(MAKE) --no-print-directory tf-unlock-modules

tf-test: tf-validate
	@! command -v terraform >/dev/null 2>&1 || printf '%s\n' $(TF_TESTS) | xargs -P $(TF_JOBS) -I{} sh -c '\
	  dir={}; data=$(TFCLI)/data/$$(echo $$dir | tr / _); \
	  { TF_DATA_DIR=$$data terraform -chdir=$$dir init -backend=false -input=false -no-color >/dev/null \
	    && TF_DATA_DIR=$$data terraform -chdir=$$dir test -no-color; } >$$data.test.log 2>&1 \
	  && echo "terraform test: $$dir: $$(tail -n 1 $$data.test.log)" \
	  || { cat $$data.test.log; $(MAKE) --no-print-directory tf-unlock-modules; exit 1; }'
	@$(MAKE) --no-print-directory tf-unlock-modules

# Reusable modules keep no lock file (only the roots do): init writes one, this removes it.
tf-unlock-modules:
	@find terraform/modules -name .terraform.lock.hcl -delete

## checkov: static analysis of terraform/ (its own venv: checkov pins conflicting dependencies)
CHECKOV_VENV    := .venv-checkov
CHECKOV_VERSION ?= 3.3.30
$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	touch $@

checkov: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --directory terraform --framework terraform --skip-download --quiet --compact

## bench: warm/repeated/cold decision costs as ratios to raw signature verification, then SSM at scale (simulated)
bench: $(STAMP)
	$(BIN)/python benchmarks/decision_bench.py
	$(BIN)/python benchmarks/ssm_simulation.py

## bench-terraform: plan time and memory of one tenant group at 1,000 and 10,000 tenants (moto, ~5 min)
bench-terraform: $(STAMP) .tfcli/terraformrc
	$(BIN)/python benchmarks/terraform_scale.py

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
