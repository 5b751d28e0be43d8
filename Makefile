# The two commands of the README.  Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test venv lint bench bench-audit clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	$(VENV)/bin/python demo/run_demo.py

test: venv
	$(VENV)/bin/python -m ruff check pipx_secure tests benchmarks demo
	$(VENV)/bin/python -m mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest -n 2 tests

lint: venv
	$(VENV)/bin/python -m ruff format --check pipx_secure tests benchmarks demo

bench: venv
	$(VENV)/bin/python -m pip install --quiet -e '.[bench]'
	$(VENV)/bin/python benchmarks/run.py

bench-audit: venv
	$(VENV)/bin/python benchmarks/audit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
