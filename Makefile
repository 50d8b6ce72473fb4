# Nearby. `make test` runs every test against a real PostGIS; it sets up what it needs: a virtual
# environment with the packages of pyproject.toml, and, when DATABASE_URL is unset, the
# project's own PostGIS (scripts/localdb).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.installed

.PHONY: test setup db

test: $(READY)
	scripts/with-db $(BIN)/pytest

setup: $(READY)

db:
	@scripts/localdb

$(READY): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@
