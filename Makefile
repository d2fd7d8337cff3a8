# fcdesk developer commands. Needs only python3 (>= 3.11) and make; everything else is installed
# into .venv from PyPI, pinned by constraints.txt.
#
#   make run     start the app
#   make test    run the test suite headless (includes the import-layering checks)
#   make bench   run the benchmarks in bench/
#   make lock    re-pin constraints.txt from a clean throwaway venv (then review the diff)
#   make package           build the one-folder app with PyInstaller into dist/fcdesk/
#   make package-test      build it (if out of date) and run the frozen app's --self-test
#   make install-desktop   add fcdesk to this user's application menu (desktop entry, icons, MIME type)
#   make uninstall-desktop remove what install-desktop added
#   make clean   remove .venv and build/test leftovers
#
# Override the interpreter with `make PYTHON=python3.12 test`.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK_VENV := .venv-lock

.PHONY: venv run test bench lock clean package package-test install-desktop uninstall-desktop

venv: $(STAMP)

# Re-installs whenever pyproject.toml, setup.py or constraints.txt changes.
$(STAMP): pyproject.toml setup.py constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --upgrade pip
	$(VPY) -m pip install -c constraints.txt -e '.[test,package]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/fcdesk

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VPY) -m pytest -q

bench: $(STAMP)
	$(VPY) -m bench

# One-folder PyInstaller build into dist/fcdesk/, skipped when nothing that goes into it changed.
package: $(STAMP)
	$(VPY) packaging/build.py

package-test: $(STAMP)
	$(VPY) packaging/build.py --self-test

install-desktop: $(STAMP)
	$(VENV)/bin/fcdesk install-desktop

uninstall-desktop: $(STAMP)
	$(VENV)/bin/fcdesk install-desktop --uninstall

# Resolve the newest versions allowed by pyproject.toml in an empty venv and pin all of them
# (the editable fcdesk itself excluded). Review `git diff constraints.txt`, run `make test`.
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install -e '.[test,package]'
	$(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | grep -v '^pip==' > constraints.txt  # --all: keep setuptools pinned
	rm -rf $(LOCK_VENV)
	@echo "constraints.txt regenerated; the next make target reinstalls .venv"

clean:
	rm -rf $(VENV) $(LOCK_VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
