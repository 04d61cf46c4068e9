# Two commands for a new user (see README.md):
#   make roadmap   install into .venv if needed, then run the roadmap scenario
#   make test      install into .venv if needed, then run the test suite (pytest)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JOBS   ?= 2

.PHONY: roadmap test install bench docs clean

$(BIN)/equitysim: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "equitysim needs Python >= 3.12 (see .python-version)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/equitysim

roadmap: install
	$(BIN)/equitysim run scenarios/roadmap.toml --replications 500 --seed 1 --jobs $(JOBS)

test: install
	$(BIN)/python -m pytest -n $(JOBS)

bench: install
	$(BIN)/python benchmarks/run.py

docs: install
	$(BIN)/equitysim params --markdown > docs/parameters.md
	$(BIN)/python scripts/validation.py --jobs $(JOBS)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
