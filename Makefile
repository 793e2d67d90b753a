# Shortcuts for people who have make; the README's two commands need only Python.
.DEFAULT_GOAL := help
BIN := .venv/bin

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: ## create .venv/ with the locked dependencies
	python3 scripts/dev.py setup

serve: ## set up and start the service on 127.0.0.1:4410
	python3 scripts/dev.py serve

test: ## set up, lint, type-check and run the whole test suite
	python3 scripts/dev.py test

fmt: ## format and fix what ruff can
	$(BIN)/ruff format src tests scripts && $(BIN)/ruff check --fix src tests scripts

lint: ## ruff, mypy and the import boundaries
	$(BIN)/ruff check src tests scripts && $(BIN)/mypy && $(BIN)/lint-imports --no-cache --no-logo

migrate: ## apply the database migrations
	$(BIN)/voke-esm migrate

migration: ## autogenerate a migration: make migration m="what changed"
	$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

.PHONY: help install serve test fmt lint migrate migration
