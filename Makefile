# Two commands for a newcomer: `make demo` and `make test`. Each bootstraps
# what it needs into local virtual environments.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The oscrypto backend is tested in an environment of its own (elements-oscrypto).
OSC_VENV := .venv-oscrypto

# Seconds of fuzzing in `make test` (CI); run fuzz/run_campaign.sh for longer.
FUZZ_SECONDS ?= 60

.PHONY: demo test lint unit oscrypto-test fuzz-smoke test-clock-moved bench docs docs-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,dev,fuzz,docs]'
	touch $@

$(OSC_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(OSC_VENV)
	$(OSC_VENV)/bin/python -m pip install -q --upgrade pip
	$(OSC_VENV)/bin/python -m pip install -q -e '.[test,oscrypto]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/pyscep demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests fuzz bench docs
	$(BIN)/ruff format --check src tests fuzz bench docs
	$(BIN)/mypy --strict

# Branch coverage of the message layer and the policy is reported (aim: 100%).
unit: $(VENV)/.installed
	$(BIN)/python -bb -m pytest --cov=pyscep.messages --cov=pyscep.policy --cov-report=term

# The shared backend suite and the openssl interop tests, on oscrypto.
oscrypto-test: $(OSC_VENV)/.installed
	PYSCEP_BACKENDS=oscrypto $(OSC_VENV)/bin/python -bb -m pytest tests/test_crypto_backends.py tests/test_cms_openssl.py

# A bounded fuzz campaign: fails on any non-pyscep exception or an input over 1 s.
fuzz-smoke: $(VENV)/.installed
	PYTHON=$(BIN)/python fuzz/run_campaign.sh $(FUZZ_SECONDS)

# Parse time and memory on growing hostile inputs (prints numbers; not a test).
bench: $(VENV)/.installed
	$(BIN)/python bench/scep_bench.py
	$(BIN)/python bench/scaling_bench.py
	$(BIN)/python bench/parse_bench.py
	$(BIN)/python bench/server_bench.py

# The documentation site, warnings as errors; then every page opened in headless
# Chromium (console, links, anchors) and a screenshot of the landing page kept.
docs: $(VENV)/.installed
	rm -rf docs/_build
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

docs-check: docs
	$(BIN)/python docs/check_site.py docs/_build/html

# The tests that start a program (marker `external`: openssl, the peers, pyscep's CLI;
# tests/conftest.py fails a test that starts one unmarked) again with the clock moved
# by libfaketime, in every process they start: past every one-year fixture made at the
# fixed test time (tests.helpers.NOW), ten years on, and back before NOW whatever
# today is (CLOCK_BEFORE). The monotonic clock is left alone (a faked one hangs every
# timed wait); tests/clock_moved/ mends time.sleep for that. Marker `real_clock`:
# a peer libfaketime cannot reach (tests/conftest.py says which and why).
CLOCK_SHIFT_DAYS ?= 400 3653
CLOCK_BEFORE ?= 2026-11-01

test-clock-moved: $(VENV)/.installed
	@command -v faketime >/dev/null || { echo "test-clock-moved needs faketime (Debian package faketime)"; exit 1; }
	@now=$$(date -u +%s); before=$$(date -u -d $(CLOCK_BEFORE) +%s); failed=; \
	for days in $(CLOCK_SHIFT_DAYS) $$(( (before - now) / 86400 - 1 )); do \
	  seconds=$$((days * 86400)); offset=$$([ $$seconds -lt 0 ] || printf +)$$seconds; \
	  echo "== external tests, clock moved $$days days: $$(faketime -f $$offset date -u)"; \
	  PYSCEP_CLOCK_SHIFT=$$seconds PYTHONPATH=$(CURDIR)/tests/clock_moved \
	    faketime --exclude-monotonic -f $$offset \
	    $(BIN)/python -bb -m pytest -q -p no:cacheprovider -m "external and not real_clock" \
	    || failed="$$failed $$days"; \
	done; \
	[ -z "$$failed" ] || { echo "== failed with the clock moved (days):$$failed"; exit 1; }

test: lint unit oscrypto-test fuzz-smoke docs-check test-clock-moved

clean:
	rm -rf $(VENV) $(OSC_VENV) .mypy_cache .pytest_cache .ruff_cache .hypothesis docs/_build
