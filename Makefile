# Everything runs from a local virtualenv that these targets create and keep current.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
DEMO_ENV := DJANGO_SETTINGS_MODULE=config.settings.local DJANGO_DEBUG=1

.PHONY: help install run test lint typecheck bench bench-quick soak clean
.PHONY: lock fmt

# List the targets with what each does.
help:
	@awk '/^# / { if (!doc) doc = substr($$0, 3); next } /^[a-z-]+:/ && doc { split($$1, t, ":"); printf "  %-12s %s\n", t[1], doc } { doc = "" }' $(MAKEFILE_LIST)

# Create the venv and install the pinned requirements (again whenever they change).
install: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "this project needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Migrate, load demo data once, and serve the API on 127.0.0.1:8000 (SQLite unless DATABASE_URL is set).
run: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo --if-empty
	$(DEMO_ENV) $(PY) manage.py runserver 127.0.0.1:8000

# Run the whole test suite (PostgreSQL/Redis/Celery when DATABASE_URL/CELERY_BROKER_URL are set).
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Lint with ruff.
lint: install
	$(VENV)/bin/ruff check .

# Type-check eventstore, orders_write, orders_read and config with mypy (settings in pyproject.toml).
typecheck: install
	$(VENV)/bin/mypy

# Format the code and apply ruff's safe fixes (CI checks both with `ruff format --check` and `ruff check`).
fmt: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

LOCK := CUSTOM_COMPILE_COMMAND="make lock" $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe \
	--strip-extras --no-emit-index-url --no-emit-find-links

# Recompile the hashed locks after editing requirements/*.in: requirements/base.txt (production), requirements.txt (dev).
lock: install
	$(LOCK) --output-file requirements/base.txt requirements/base.in
	$(LOCK) --output-file requirements.txt requirements/dev.in

# Run every benchmark (needs DATABASE_URL on PostgreSQL, and a Redis CELERY_BROKER_URL for projections); bench-quick for short runs.
bench: install
	for b in append commands profile_commands profile_reads projections reads verify temporal; do $(PY) bench/$$b.py || exit 1; done
bench-quick: install
	for b in append commands profile_commands profile_reads projections reads verify temporal; do $(PY) bench/$$b.py --quick || exit 1; done

# Soak: the whole stack (gunicorn, 2 Celery workers, beat, run_projector, a read database) under random
# commands and scheduled faults, checked against the suite's own model; ends with one JSON line, fails on any
# loss, duplicate, view mismatch, 500 or unexpected answer. Needs DATABASE_URL on PostgreSQL (only its server is
# used: it creates and drops its own databases, Redis and processes). SOAK_SECONDS (300), SOAK_CLIENTS, SOAK_SEED.
soak: install
	$(PY) -m tests.soak

# Remove the venv and the local SQLite database.
clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm staticfiles
