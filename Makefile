# Quick start:  make demo   (set up and run the main job end to end)
#               make test   (set up with test extras and run the suite)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.fincrime-installed

.PHONY: setup setup-test system-deps demo test test-slow lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes, so the second run is fast.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the project uses: Graphviz (static chain pictures), Chromium (browser tests),
# Virtuoso (a second real SPARQL server for store tests). Installed only when missing.
system-deps:
	@bash scripts/system-deps.sh

demo: setup system-deps
	$(BIN)/fincrime demo

test: setup system-deps
	$(BIN)/python -m pytest -q

test-slow: setup system-deps
	$(BIN)/python -m pytest -q -m slow

lint: setup
	$(BIN)/ruff check fincrime tests bench

bench: setup
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python bench/reason.py

clean:
	rm -rf $(VENV) .fincrime input output bench/data bench/out
