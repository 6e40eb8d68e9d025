# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv/ when needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-live serve test lint bench chaos chaos-fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## replay a seeded day of outcomes into the sandbox CRM and print the summary
	$(BIN)/ctihub demo

demo-live: $(STAMP)  ## the demo, then keep serving on 127.0.0.1:8080 to open the panel and dashboard
	$(BIN)/ctihub demo --keep-running --port 8080

serve: $(STAMP)  ## run the hub on the embedded default (SQLite + sandbox Zendesk)
	$(BIN)/ctihub serve --sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint  ## lint, layer contracts, then every test (PostgreSQL ones skip off CI when unreachable)
	$(BIN)/pytest

bench: $(STAMP)  ## ingestion throughput and latency on SQLite and PostgreSQL behind gunicorn
	$(BIN)/python bench/ingest.py --backend both

chaos: $(STAMP)  ## chaos at full size: kill -9 during a replay (PostgreSQL), 30 % CRM faults, fuzzed bodies
	$(BIN)/python bench/chaos_kill.py --crm both --events 5000 --kills 50 --check
	$(BIN)/python bench/chaos_faults.py --crm both --outcomes 2000 --rate 0.3 --check
	$(MAKE) chaos-fuzz

chaos-fuzz: $(STAMP)  ## 10,000 mutated bodies per public endpoint, SQLite then PostgreSQL (issue 11, 14(c))
	$(BIN)/python bench/chaos_fuzz.py --backend sqlite --per-endpoint 10000
	$(BIN)/python bench/chaos_fuzz.py --backend postgresql --per-endpoint 10000

clean:
	rm -rf $(VENV) var build *.egg-info
