# Parcours — `make run` starts everything, `make test` checks everything. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
APP := .venv-app/bin/python
RASA := .venv-rasa/bin/rasa
UV := .venv-app/bin/uv
TEST_PG_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
export PYTHONPATH := $(CURDIR)
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help install run train lint test test-app test-app-pg test-engine test-integration nlu-eval triage-eval bench lock clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

.venv-app/.installed: requirements/app.lock
	@py=$$(scripts/find-python 3.12) || exit 1; \
	  [ -x $(APP) ] || $$py -m venv .venv-app; \
	  $(APP) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION); \
	  $(UV) pip sync -q --python $(APP) requirements/app.lock
	@touch $@

.venv-rasa/.installed: requirements/rasa.lock .venv-app/.installed
	@py=$$(scripts/find-python 3.10) || exit 1; \
	  [ -x .venv-rasa/bin/python ] || $(UV) venv -q --python $$py .venv-rasa; \
	  $(UV) pip sync -q --python .venv-rasa/bin/python requirements/rasa.lock
	@touch $@

install: .venv-app/.installed .venv-rasa/.installed ## create both environments from the lock files

lock: .venv-app/.installed ## re-resolve the lock files from requirements/*.in
	$(UV) pip compile -q requirements/app.in --python-version 3.12 -o requirements/app.lock
	$(UV) pip compile -q requirements/rasa.in --python-version 3.10 -o requirements/rasa.lock

train: install ## train the engine's model if its inputs changed
	@$(APP) -m bot train

run: install ## set up, train if needed, seed the demo hospital and start everything
	@$(APP) -m bot run

lint: install ## ruff (errors, imports, likely bugs) and mypy (strict on core, conversation, messaging)
	$(APP) -m ruff check .
	$(APP) -m mypy

test: install lint train test-app test-app-pg test-engine test-integration ## the whole suite (lint, SQLite, PostgreSQL, engine, stack)

test-app: install ## unit and API tests on SQLite
	$(APP) -m pytest -q -m "not integration" tests

test-app-pg: install ## unit and API tests on PostgreSQL
	TEST_DATABASE=postgresql TEST_PG_URL=$(TEST_PG_URL) $(APP) -m pytest -q -m "not integration" tests

test-engine: install train ## rasa data validate, engine-fix checks, conversation tests, NLU evaluation per language
	$(RASA) data validate --config config.yml --domain domain.yml --data nlu stories
	.venv-rasa/bin/python tests/engine/check_engine_tuning.py
	$(RASA) test core --model models/parcours.tar.gz --stories tests/stories --fail-on-prediction-errors --out results/core
	.venv-rasa/bin/python tests/nlu/evaluate.py --model models/parcours.tar.gz --threshold 0.90

test-integration: install train ## the whole stack started as `make run` does, on PostgreSQL
	TEST_DATABASE=postgresql TEST_PG_URL=$(TEST_PG_URL) $(APP) -m pytest -q -m integration tests

nlu-eval: install train ## NLU intent F1 per language on the held-out sets
	.venv-rasa/bin/python tests/nlu/evaluate.py --model models/parcours.tar.gz --threshold 0.90

triage-eval: install ## triage scores on the blind corpus, dev part and frozen test part, per category
	$(APP) -m tests.triage.blind_eval

bench: install train ## latency, throughput, CPU and memory, ours against the stock `rasa init` assistant
	$(APP) -m bench

clean: ## remove environments, models, runtime data
	rm -rf .venv-app .venv-rasa models results var
