# FaceAtlas: `make run` starts the app, `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint bench demo setup browser clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt requirements-ray.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first: the pinned CPU build, so nothing pulls a CUDA wheel.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo: setup
	$(PY) -m core demo --if-missing

run: demo
	$(VENV)/bin/streamlit run Home.py

browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium for the browser tests (apt-get)"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "apt-get could not install chromium: browser tests will be skipped"; \
	else echo "chromium not installed (installing it needs root and apt-get): browser tests will be skipped"; fi

# The whole suite (what CI runs); markers and --durations come from pyproject.toml. Tests draw their own small
# demos in temporary homes, so the 6,000-image demo is not drawn first.
test: setup browser
	$(PY) -m pytest -q tests

# The edit loop: everything but the slow, browser and Ray tests (not a substitute for `make test`).
test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser and not ray" tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) -m bench.run_all --nice 10 $(BENCH_ARGS)

clean-cache:
	find cache -mindepth 1 -maxdepth 1 ! -name README.md -exec rm -rf {} +
