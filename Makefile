# Two entry points for a fresh machine: `make demo` and `make test` (ruff, pytest and the
# documentation build, `make docs`, with Sphinx warnings as errors).
# Both create ./.venv and install torch (CPU build) *before* the rest, so pip does not
# pull a multi-GB CUDA build through seisbench/torch-geometric.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test docs lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m seisbench_genie.demo

test: $(STAMP)
	$(VENV)/bin/ruff check seisbench_genie tests
	$(PY) -m pytest
	$(MAKE) docs

# HTML documentation in docs/_build/html; the gallery examples run (on one thread) as it builds.
docs: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(VENV)/bin/ruff check seisbench_genie tests

clean:
	rm -rf $(VENV)
