# Every target creates or refreshes .venv by itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test walkthrough lint bench clean

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch is optional for users; the tests use it (scalars, examples, the HF Trainer). Pinned
	# and installed first: a looser requirement (accelerate's) would pull a multi-gigabyte CUDA build.
	$(BIN)/python -m pip install -q 'torch==2.13.0'
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

# trialbook (and the examples' dependencies) in .venv; then `source .venv/bin/activate`.
install: $(STAMP)
	@echo "trialbook is in $(BIN); put it on your PATH with: source $(BIN)/activate"

demo: $(STAMP)
	$(BIN)/python examples/demo/run_demo.py

test: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy src
	$(BIN)/python -m pytest -p no:cacheprovider --durations=25

# Every command of README.md and docs/*.md, in order, in one workspace (tests/docs/).
walkthrough: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider tests/docs

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) experiments .pytest_cache .mypy_cache .ruff_cache
