# gupcheck: `make run` analyses the bundled example, `make test` runs the whole test suite.
# Both set up what they need: a virtualenv in .venv; `make test` also installs the system
# packages the tests use (Debian kernel headers and sources, a kernel image, QEMU and busybox for
# `gupcheck validate`) and the SARIF Multitool.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE := testdata/example
PYTHON_SOURCES := analyzer rules tests bench scripts

.PHONY: run test setup lint fuzz clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/.installed

# The example has findings, so gupcheck exits 1 on it: that is the demo working, and `make run` exits 0;
# any other status (no findings, an error) fails it.
run: setup
	@$(BIN)/gupcheck $(EXAMPLE); status=$$?; [ $$status -eq 1 ] || \
	  { echo "make run: expected the example's findings (exit status 1), got $$status" >&2; exit 1; }

test: setup lint
	bash scripts/setup-kernel.sh
	bash scripts/setup-sarif-tools.sh
	bash scripts/setup-qemu.sh
	$(BIN)/python -m pytest -q

# The fuzz test with many more generated inputs than CI runs (FUZZ_COUNT of them, from FUZZ_SEED).
FUZZ_COUNT ?= 400
FUZZ_SEED ?= $(shell date +%s)
fuzz: setup
	bash scripts/setup-kernel.sh
	GUPCHECK_FUZZ_COUNT=$(FUZZ_COUNT) GUPCHECK_FUZZ_SEED=$(FUZZ_SEED) $(BIN)/python -m pytest -q tests/test_fuzz.py

# ruff (lint and format) over the project's Python, mypy over the package.
lint: setup
	$(BIN)/ruff check $(PYTHON_SOURCES)
	$(BIN)/ruff format --check $(PYTHON_SOURCES)
	bash scripts/mypy.sh

clean:
	rm -rf $(VENV) .tools .cache .pytest_cache .ruff_cache *.egg-info
