# astrohub: the two commands a newcomer runs are `make demo` and `make test`; both set up
# everything they need (a virtualenv from requirements.lock) on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# uv installs the lock; its own version is pinned here and in requirements.lock.
UV_VERSION := 0.13.8
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# This workplace keeps an offline copy of the pinned upstream artifacts (the chart, the kops
# CRDs) beside the clone; a user's clone has none and fetches them. ASTROHUB_FIXTURES wins.
export ASTROHUB_FIXTURES ?= $(abspath $(wildcard $(CURDIR)/../shared/fixtures))
# What runs as the notebook user (uid 1000) lives where that user can reach it, whatever the
# checkout's parents allow (src/astrohub/unprivileged.py).
export ASTROHUB_RUNTIME_DIR ?= /var/tmp/astrohub
# Tests and the demo stay on loopback: a proxy that goes nowhere, except for 127.0.0.1.
OFFLINE := HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost

# Debian packages the checks need: shellcheck lints the images' scripts, chromium runs
# the browser tests (driven by Playwright; never a downloaded browser), openssh-server and
# sudo play the CI node on loopback.
APT_PACKAGES := shellcheck chromium openssh-server sudo python3-venv
ECR_REGISTRY ?= $(ASTROHUB_ECR_REGISTRY)

PLAYBOOKS := $(wildcard playbooks/*.yml)
ROLES := $(notdir $(wildcard roles/*))

.PHONY: help demo test lint syntax unit integration integration-operator integration-teardown \
	integration-others integration-lifecycle molecule \
	images-test hub-test bench lock venv \
	localhub-venv scan-venv \
	system-deps clean images-lock images images-push

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on CI), every Ansible module run
# would otherwise compile boto3 anew.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## create the virtualenv from requirements.lock

# configurable-http-proxy for the local hubs, pinned in package-lock.json.
node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The local hub's single-user environment, on Debian's Python so uid 1000 can run it, named
# after its lock (astrohub.unprivileged.localhub_venv finds it there).
LOCALHUB_VENV := $(ASTROHUB_RUNTIME_DIR)/localhub-venv-$(shell sha256sum requirements-localhub.lock | cut -c1-12)
LAB_OVERRIDES := images/common/jupyterlab-overrides.json
$(LOCALHUB_VENV)/.installed: requirements-localhub.lock $(VENV)/.installed $(LAB_OVERRIDES)
	install -d -m 0755 $(ASTROHUB_RUNTIME_DIR)
	/usr/bin/python3 -m venv --without-pip $(LOCALHUB_VENV)
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(LOCALHUB_VENV)/bin/python requirements-localhub.lock
	install -D -m 0644 $(LAB_OVERRIDES) $(LOCALHUB_VENV)/share/jupyter/lab/settings/overrides.json
	touch $@

localhub-venv: $(LOCALHUB_VENV)/.installed ## the local hub's single-user environment (JupyterLab)

# The scanners (checkov, hadolint) in a venv of their own, shared by checkouts, keyed by lock.
SCAN_VENV := $(ASTROHUB_RUNTIME_DIR)/scan-venv-$(shell sha256sum requirements-scan.lock | cut -c1-12)
$(SCAN_VENV)/.installed: requirements-scan.lock $(VENV)/.installed
	install -d -m 0755 $(ASTROHUB_RUNTIME_DIR)
	/usr/bin/python3 -m venv --without-pip $(SCAN_VENV)
	$(BIN)/uv pip sync --quiet --python $(SCAN_VENV)/bin/python requirements-scan.lock
	touch $@

scan-venv: $(SCAN_VENV)/.installed ## checkov and hadolint for make lint

# The suites that need them depend on system-deps; `make test` installs them once, first, and
# runs the suites without that prerequisite (SYSTEM_DEPS empty): make starts a goal whose
# prerequisite is still running only after every other goal, which left hub-test to the last.
SYSTEM_DEPS ?= system-deps
system-deps: ## Debian packages the checks need (installed once, with apt-get)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: venv node_modules/.installed localhub-venv ## the platform against a local AWS emulator (no AWS account needed)
	$(BIN)/python -m astrohub_local.demo

# The suites are independent (each runs its own emulators, namespaces and ports), so they run
# side by side: the longest (the operator's deployment, one chain of runs) at normal priority,
# the others TEST_JOBS at a time, longest first, at a lower one, filling the CPU it leaves
# (enough of them that the short suites do not queue behind the long ones).
# Each suite's output is printed whole when it ends; every failing suite is reported.
LONGEST_SUITE := integration-operator
SUITES := integration-others integration-teardown molecule hub-test integration-lifecycle images-test unit lint syntax
TEST_JOBS ?= 4
test: venv node_modules/.installed localhub-venv scan-venv system-deps ## every check (CI runs exactly this)
	mkdir -p build; $(MAKE) --no-print-directory $(LONGEST_SUITE) > build/$(LONGEST_SUITE).log 2>&1 & longest=$$!; \
	rest=0; nice -n 10 $(MAKE) --no-print-directory --keep-going --output-sync=target \
	  -j$(TEST_JOBS) SYSTEM_DEPS= $(SUITES) || rest=$$?; \
	status=0; wait $$longest || status=$$?; cat build/$(LONGEST_SUITE).log; \
	if [ $$status -ne 0 ]; then echo "make: *** [$(LONGEST_SUITE)] Error $$status"; fi; \
	exit $$(( status || rest ))

lint: venv scan-venv ## ruff, ansible-lint (production, offline), parliament, hadolint and checkov
	$(BIN)/ruff check src tests collections .config roles
	$(BIN)/ruff format --check src tests collections .config roles
	$(BIN)/ansible-lint --offline --profile production
	$(BIN)/python tests/iam/parliament_lint.py
	$(OFFLINE) $(BIN)/python tests/scan/scan.py dockerfiles

# One ansible-playbook run per inventory checks every playbook (a run costs a second to start).
syntax: venv ## ansible-playbook --syntax-check of every playbook with both inventories
	@for inventory in hosts.example inventories/local; do \
	  $(BIN)/ansible-playbook -i $$inventory --syntax-check $(PLAYBOOKS) >/dev/null; \
	  echo "syntax ok with $$inventory: $(notdir $(PLAYBOOKS))"; \
	done

unit: venv node_modules/.installed scan-venv ## fast tests: config contract, emulator, logic, IAM evaluation
	$(OFFLINE) $(BIN)/pytest tests/unit

# Four processes side by side (under make -j): the tests that read the operator's deployment
# (tests/integration/conftest.py marks them), the teardown scopes' own deployments, the modules
# that share the day-2 deployment (settings changed, upgrade, restore) and the other modules.
# Much of each is waiting on the emulator.
# One deployment (conftest.day2) serves these, in this order.
LIFECYCLE_TESTS := tests/integration/test_optional_crds_cache.py tests/integration/test_upgrade.py \
  tests/integration/test_restore_home.py
integration: integration-operator integration-teardown integration-lifecycle integration-others ## the real playbooks against the emulator

integration-operator: venv scan-venv
	$(OFFLINE) $(BIN)/pytest -m operator_deployment tests/integration

integration-teardown: venv
	$(OFFLINE) $(BIN)/pytest -m "not operator_deployment" tests/integration/test_foundation.py

integration-lifecycle: venv scan-venv
	$(OFFLINE) $(BIN)/pytest -m "not operator_deployment" $(LIFECYCLE_TESTS)

integration-others: venv
	$(OFFLINE) $(BIN)/pytest -m "not operator_deployment" --ignore tests/integration/test_foundation.py \
	  $(addprefix --ignore ,$(LIFECYCLE_TESTS)) tests/integration

molecule: venv ## each role's molecule scenario against the emulator
	$(OFFLINE) $(BIN)/python tests/molecule_runner.py $(ROLES)

hub-test: venv node_modules/.installed localhub-venv $(SYSTEM_DEPS) ## login: local hub, OIDC provider, browser
	$(OFFLINE) $(BIN)/pytest -m "not bench" tests/hub

images-test: venv node_modules/.installed $(SYSTEM_DEPS) ## science images without Docker: locks, envs, checks
	$(OFFLINE) $(BIN)/pytest tests/images

images-lock: venv ## re-lock images/*/requirements.in (needs PyPI)
	$(BIN)/python -m astrohub.images lock

images: venv ## docker buildx build + smoke test of every image (needs Docker)
	$(BIN)/python -m astrohub.images build $(if $(ECR_REGISTRY),--registry $(ECR_REGISTRY))

images-push: venv ## ECR login, build, smoke test, push (needs Docker and AWS credentials)
	$(BIN)/python -m astrohub.images push --registry $(ECR_REGISTRY)

bench: venv node_modules/.installed localhub-venv $(SYSTEM_DEPS) ## deploy / re-run / teardown timings, AWS calls, upgrade login gap (build/bench.json)
	$(OFFLINE) $(BIN)/python tests/bench.py

lock: venv ## re-resolve requirements.lock and the localhub, scan and ci-node locks
	$(BIN)/uv pip compile --quiet pyproject.toml --extra local --extra dev --python-version 3.11 \
	  --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile --quiet requirements-localhub.in --python-version 3.11 \
	  --generate-hashes -o requirements-localhub.lock
	$(BIN)/uv pip compile --quiet requirements-scan.in --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements-scan.lock
	$(BIN)/uv pip compile --quiet requirements-ci-node.in --python-version 3.9 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements-ci-node.lock

clean: ## remove build output, node_modules, the virtualenv, the local hub and scanner venvs
	rm -rf build node_modules $(VENV) $(LOCALHUB_VENV) $(SCAN_VENV)
