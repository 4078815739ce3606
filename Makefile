# Thin wrappers over the `eventclf` CLI. Two commands do everything on a fresh machine:
#   make serve   set up, prepare the base model, train + export the default model if none is built, serve
#   make test    set up and run the whole test suite (slow tests included)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first, pinned to the CPU build, so nothing later pulls the CUDA build.
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
export BENTOML_DO_NOT_TRACK := true
export HF_HUB_DISABLE_TELEMETRY := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup base train export model serve test test-fast bench bench-quick lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[serve,train,dev]"
	@if $(BIN)/pip list 2>/dev/null | grep -qiE '^nvidia-(cu|cuda|cudnn|nccl)'; then \
		echo "error: CUDA packages were installed; install the CPU torch first (see TORCH_SPEC)"; exit 1; fi
	touch $@

base: setup
	$(BIN)/eventclf base prepare

train: setup
	$(BIN)/eventclf train

export: setup
	$(BIN)/eventclf export

# Builds models/default/bundle only when no valid bundle is there (a second `make serve` reuses it).
model: setup
	$(BIN)/eventclf ensure

serve: model
	$(BIN)/eventclf serve

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

bench: model
	$(BIN)/python -m benchmarks.run

bench-quick: setup
	$(BIN)/python -m benchmarks.run --quick

lint: setup
	$(BIN)/ruff check training serving tests benchmarks

clean:
	rm -rf $(VENV) models/base models/default
