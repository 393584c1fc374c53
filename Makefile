# Two set-up commands for a fresh machine: `make demo` (main job on the bundled data) and `make test`.
# `make demo` installs only the core (catalog, latency, planner, export); `make test` installs `dev`
# (every extra plus the test tools). Activate the venv with `. .venv/bin/activate` to type `computemoat`.
VENV ?= .venv
PY := $(VENV)/bin/python
CORE_STAMP := $(VENV)/.core-stamp
STAMP := $(VENV)/.installed-stamp
TYPED ?= src/computemoat

.PHONY: demo test lint typecheck bench readme clean

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(CORE_STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e .
	touch $(CORE_STAMP)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP) $(CORE_STAMP)

demo: $(CORE_STAMP)
	$(VENV)/bin/computemoat plan

test: $(STAMP)
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(PY) scripts/check_layers.py src/computemoat
	$(VENV)/bin/mypy src/computemoat

# mypy with pyproject's [tool.mypy] (strict for model, planner, latency); `make typecheck TYPED=src/computemoat/cli`
typecheck: $(STAMP)
	$(VENV)/bin/mypy $(TYPED)

bench: $(STAMP)
	for b in bench/*_bench.py; do $(PY) $$b || exit 1; done

# rerun the README tour and rewrite its output blocks (tests/cli/test_readme_tour.py checks them)
readme: $(STAMP)
	$(PY) scripts/refresh_readme.py

clean:
	rm -rf $(VENV) build *.egg-info
