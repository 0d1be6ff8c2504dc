# Tideover: `make demo` to see it run, `make test` to check it. `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= postgresql://postgres@127.0.0.1:5432/tideover

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z][a-z-]+:.*## ' Makefile | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

venv: $(BIN)/.installed ## Create the virtual environment with the pinned dependencies

demo: venv ## Seed the demo chain, replay the outage scenario, serve on http://127.0.0.1:8000
	$(BIN)/tideover demo --serve

up: venv ## Serve an empty Tideover (migrates, prints the first login)
	$(BIN)/tideover up

chromium: ## Install Debian's Chromium for the browser tests (when missing)
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: venv ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv chromium lint ## Lint, every test on SQLite and PostgreSQL, the delivery tests again on RQ + Redis (each run even if one before failed; skipped when unreachable, required in CI), all reported
	scripts/test-both.sh $(BIN) $(PG_URL)

test-rq: venv ## Notification, outbox, scheduler and status-page tests on RQ + Redis (skipped without Redis; required in CI)
	scripts/test-rq.sh $(BIN) $(PG_URL)

test-sqlite: venv ## The tests on SQLite only
	$(BIN)/pytest -p xdist -n 2

test-postgres: venv ## The tests on PostgreSQL only
	scripts/test-postgres.sh $(BIN) $(PG_URL)

test-slow: venv ## The long stress runs (more property-test sequences, bigger exactly-once drains, randomised agent fault runs), both databases
	TIDEOVER_SLOW=1 $(BIN)/pytest -p xdist -n 2 tideover/loyalty tideover/notifications tideover/sales tideover/agent
	TIDEOVER_SLOW=1 scripts/test-postgres.sh $(BIN) $(PG_URL)
	TIDEOVER_SLOW=1 scripts/test-rq.sh $(BIN) $(PG_URL)

bench: venv ## Every benchmark, each against its reference in the same run (see docs/benchmarks.md)
	-$(BIN)/python bench/statuspage.py
	-$(BIN)/python bench/ingest.py
	-$(BIN)/python bench/notify.py --rounds 3
	-$(BIN)/python bench/notify_parts.py
	-$(BIN)/python bench/outbox_marks.py
	-$(BIN)/python bench/outbox_marks.py --db sqlite
	-$(BIN)/python bench/outbox_batch_writes.py
	-$(BIN)/python bench/outbox_page_room.py
	-$(BIN)/python bench/email_build.py
	-$(BIN)/python bench/pg_round_trip.py
	-$(BIN)/python bench/detect.py
	-$(BIN)/python bench/ratelimit.py
	-$(BIN)/python bench/agent.py
	-$(BIN)/python bench/campaign.py
	-$(BIN)/python bench/prune.py
	-$(BIN)/python bench/respond.py

eval-nab: venv ## Score the detector on the whole Numenta Anomaly Benchmark (NAB=/path/to/NAB)
	@test -n "$(NAB)" || (echo "Set NAB=/path/to/NAB (a copy of NAB with data/ and labels/)"; exit 2)
	$(BIN)/tideover detect evaluate --nab $(NAB) --results data/nab-results

format: venv ## Reformat the code with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: ## Re-pin requirements.lock from a fresh resolve of pyproject.toml
	rm -rf /tmp/tideover-lock && $(PYTHON) -m venv /tmp/tideover-lock
	/tmp/tideover-lock/bin/pip install --quiet . $$(sed -n '/^dev = \[/,/^\]/p' pyproject.toml | grep -o '"[^"]*"' | tr -d '"')
	/tmp/tideover-lock/bin/pip freeze --exclude tideover > requirements.lock

.PHONY: help venv demo up chromium lint test test-rq test-sqlite test-postgres test-slow bench eval-nab format lock
