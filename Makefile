# Two commands for a newcomer: `make demo` and `make test`. Each bootstraps
# what it needs into local virtual environments.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oscrypto backend is tested in an environment of its own (elements-oscrypto).
OSC_VENV := .venv-oscrypto

.PHONY: demo test lint unit oscrypto-test clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $@

$(OSC_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OSC_VENV)
	$(OSC_VENV)/bin/python -m pip install -q --upgrade pip
	$(OSC_VENV)/bin/python -m pip install -q -e '.[test,oscrypto]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/pyscep demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy --strict

unit: $(VENV)/.installed
	$(BIN)/python -bb -m pytest

# The shared backend suite and the openssl interop tests, on oscrypto.
oscrypto-test: $(OSC_VENV)/.installed
	PYSCEP_BACKENDS=oscrypto $(OSC_VENV)/bin/python -bb -m pytest tests/test_backends.py tests/test_cms_openssl.py

test: lint unit oscrypto-test

clean:
	rm -rf $(VENV) $(OSC_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis
