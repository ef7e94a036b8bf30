# Every target that needs Python creates .venv first; a fresh machine needs only python3 (3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev

.PHONY: demo test unit lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sandbox]'
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,sandbox]'
	touch $@ $(STAMP_RUN)

demo: $(STAMP_RUN)
	$(BIN)/dcp demo

test: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# The fast tests: no sandbox server, Spark, end-to-end run or database server (under a minute).
unit: $(STAMP_DEV)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not slow and not spark and not db"

lint: $(STAMP_DEV)
	$(BIN)/ruff check dcp glue_jobs tests bench examples
	$(BIN)/ruff format --check dcp glue_jobs tests bench examples
	$(BIN)/mypy dcp glue_jobs

bench: $(STAMP_DEV)
	$(BIN)/python -m bench.masking
	$(BIN)/python -m bench.deploy
	$(BIN)/python -m bench.spark
	$(BIN)/python -m bench.sandbox
	$(BIN)/python -m bench.pipeline

clean:
	rm -rf $(VENV) .dcp .pytest_cache .mypy_cache .ruff_cache build *.egg-info
