# fcdesk developer commands. Needs only python3 (>= 3.11) and make; everything else is installed
# into .venv from PyPI, pinned by constraints.txt.
#
#   make run     start the app
#   make test    run the test suite headless (includes the import-layering checks)
#   make bench   run the benchmarks in bench/
#   make lock    re-pin constraints.txt from a clean throwaway venv (then review the diff)
#   make clean   remove .venv and build/test leftovers
#
# Override the interpreter with `make PYTHON=python3.12 test`.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK_VENV := .venv-lock

.PHONY: venv run test bench lock clean

venv: $(STAMP)

# Re-installs whenever pyproject.toml, setup.py or constraints.txt changes.
$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fcdesk

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q

bench: $(STAMP)
	$(VPY) -m bench

# Resolve the newest versions allowed by pyproject.toml in an empty venv and pin all of them
# (the editable fcdesk itself excluded). Review `git diff constraints.txt`, run `make test`.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -e '.[test,package]'
	$(LOCK_VENV)/bin/python -m pip freeze --exclude-editable > constraints.txt
	rm -rf $(LOCK_VENV)
	@echo "constraints.txt regenerated; the next make target reinstalls .venv"

clean:
	rm -rf $(VENV) $(LOCK_VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
