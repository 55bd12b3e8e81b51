# Targets named in README.md. Each installs what it needs into .venv first.
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

$(BIN)/incident-copilot: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(BIN)/incident-copilot

demo: install
	$(BIN)/incident-copilot demo

test: install
	$(BIN)/ruff check . && $(BIN)/mypy && $(BIN)/pytest

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: install
	$(BIN)/python tests/benchmarks/bench_triage_ack.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

.PHONY: playground
playground: install
	$(BIN)/incident-copilot playground
