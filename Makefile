# The two commands a new machine needs:  `make run`  and  `make test`.
# Everything else here is what they do, step by step.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev lint migrate demo worker beat clean

## run: set everything up (venv, pip, npm, database, demo data) and serve the app on http://127.0.0.1:8000
run: setup migrate demo
	@echo "Open http://$(HOST):$(PORT)/ and sign in with one of the demo users above."
	$(PY) manage.py runserver $(HOST):$(PORT)

## test: set everything up and run the linter and the whole test suite
test: setup-dev
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

setup: $(VENV)/.deps node_modules/.package-lock.json

setup-dev: setup $(VENV)/.deps-dev

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.deps-dev: requirements-dev.txt requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.package-lock.json: package-lock.json package.json
	npm ci --no-audit --no-fund
	touch $@

migrate: setup
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

lint: setup-dev
	$(VENV)/bin/ruff check .

## worker / beat: run Celery against CELERY_BROKER_URL (only needed when a broker is configured)
worker: setup
	$(VENV)/bin/celery -A pbr worker --loglevel=INFO

beat: setup
	$(VENV)/bin/celery -A pbr beat --loglevel=INFO --schedule var/celerybeat-schedule

clean:
	rm -rf $(VENV) node_modules staticfiles var/*.sqlite3
