# The two commands a newcomer needs: `make run` and `make test`. Everything else is detail.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.DEFAULT_GOAL := help
.PHONY: help run test test-sqlite test-postgresql lint format translations extract-messages \
        install install-test browser-deps bench security-scan clean

help:
	@echo "make run    - install, migrate, create a development key store, seed the demo"
	@echo "              organisation and serve on http://$(HOST):$(PORT)"
	@echo "make test   - install test needs, lint, and run the suite on SQLite and PostgreSQL"
	@echo "make lint   - ruff (lint + format check) and mypy"
	@echo "make bench  - benchmarks against the loopback PostgreSQL (bench/README.md)"
	@echo "make security-scan - sqlmap and wapiti against a scratch instance on 127.0.0.1"
	@echo "              (reports in build/security-scan/, triage in docs/security.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Compiled catalogues (.mo) are build output, never committed.
translations: $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d complaints/translations

# After changing texts: refresh the template and add new messages to the Dutch catalogue,
# then translate them in complaints/translations/nl/LC_MESSAGES/messages.po.
extract-messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --no-location --sort-output --project complaints \
		-o complaints/translations/messages.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -w 100 \
		-i complaints/translations/messages.pot -d complaints/translations -l nl

run: install translations
	@mkdir -p instance
	COMPLAINTS_LOG_FORMAT=$${COMPLAINTS_LOG_FORMAT:-console} $(FLASK) db upgrade
	COMPLAINTS_LOG_FORMAT=$${COMPLAINTS_LOG_FORMAT:-console} $(FLASK) keys init --dev --if-missing
	COMPLAINTS_LOG_FORMAT=$${COMPLAINTS_LOG_FORMAT:-console} $(FLASK) demo seed
	@echo ""
	@echo "Serving on http://$(HOST):$(PORT)  (staff log-in: http://$(HOST):$(PORT)/aanmelden)"
	COMPLAINTS_LOG_FORMAT=$${COMPLAINTS_LOG_FORMAT:-console} $(FLASK) run --host $(HOST) --port $(PORT)

# Browser tests need Chromium and Java (Debian packages), axe-core and the Nu Html Checker
# (npm: vnu-jar); install them if missing. --ignore-scripts: vnu-jar's install script would
# download a Java of its own; Debian's is the one used.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "Chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi; }
	@command -v java >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; \
		else echo "Java is missing: sudo apt-get install default-jre-headless" >&2; exit 1; fi; }
	@test -f node_modules/axe-core/axe.min.js -a -f node_modules/vnu-jar/build/dist/vnu.jar || \
		npm ci --ignore-scripts --silent --no-audit --no-fund

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install-test translations browser-deps lint test-sqlite test-postgresql

test-sqlite: install-test translations
	$(BIN)/pytest --db sqlite

test-postgresql: install-test translations
	$(BIN)/pytest --db postgresql

# Benchmarks print numbers; they need the loopback PostgreSQL (see bench/README.md). One table
# at the end, the figures in bench/results/*.json. BENCH_ARGS=--quick for small sizes.
bench: install-test translations
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# sqlmap and wapiti (Debian packages) against a scratch instance on loopback; fails on a finding
# that tools/security-scan-allowlist.toml does not triage (docs/security.md).
security-scan: install-test translations
	$(BIN)/python tools/security_scan.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find complaints/translations -name '*.mo' -delete
