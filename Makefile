# Nearby: two commands on a fresh machine.
#   make run    the service with the Helsinki demo data on http://127.0.0.1:8000/
#   make test   the whole test suite against a real PostGIS, the console's in a real chromium
# Both set up what they need: a virtual environment with the packages of pyproject.toml, the web
# console's and API reference's libraries from npm (app/web/node_modules), and, when
# DATABASE_URL is unset, the project's own PostGIS (scripts/localdb); the tests also Debian's
# chromium (scripts/chromium) and the TypeScript client's npm packages (clients/typescript).
# `make wheel` builds dist/nearby-*.whl, which carries the migrations, demo data and console.
# `make client-types` regenerates clients/typescript/src/schema.d.ts from the app's document.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.installed
WEB_READY := app/web/node_modules/.installed
CLIENT := clients/typescript
CLIENT_READY := $(CLIENT)/node_modules/.installed
export NEARBY_ADMIN_KEY ?= dev-admin-key

.PHONY: run test bench setup lint db wheel client-types

# `make run` keeps the demo owner's key in .state/, so a restart leaves the console signed in.
run: $(READY) $(WEB_READY)
	NEARBY_STATE_DIR=$${NEARBY_STATE_DIR:-$(CURDIR)/.state} scripts/with-db $(BIN)/nearby serve --demo

test: $(READY) $(WEB_READY) $(CLIENT_READY)
	@command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }  # the README's quick start
	NEARBY_CHROMIUM=$$(scripts/chromium) scripts/with-db $(BIN)/pytest

bench: $(READY)
	scripts/with-db $(BIN)/python -m bench

setup: $(READY) $(WEB_READY)

wheel: $(READY) $(WEB_READY)
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation \
		-w dist .

lint: $(READY)
	$(BIN)/ruff check app spatial tests bench scripts
	$(BIN)/mypy

db:
	@scripts/localdb

# The document comes from the app itself (no server, no database): the one the service serves.
client-types: $(READY) $(CLIENT_READY)
	$(BIN)/python -c 'import json; from app.main import create_app; from app.settings import Settings; print(json.dumps(create_app(Settings(database_url="postgresql://unused/openapi")).openapi()))' > $(CLIENT)/openapi.json
	cd $(CLIENT) && npm run --silent types

$(READY): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

$(WEB_READY): app/web/package.json app/web/package-lock.json
	cd app/web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CLIENT_READY): $(CLIENT)/package.json $(CLIENT)/package-lock.json
	cd $(CLIENT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
