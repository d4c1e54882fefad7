# Atelier — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test test-pg lint format typecheck check openapi docs migration bench bench-scaling bench-inprocess bench-compare bench-instructions fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP) ## install, migrate the SQLite database under ./var and serve on 127.0.0.1:8000
	$(BIN)/atelier serve

test: $(STAMP) ## install and run the whole suite (SQLite unless ATELIER_TEST_DATABASE_URL is set)
	$(BIN)/python -m pytest

test-pg: $(STAMP) ## the whole suite against the local PostgreSQL
	ATELIER_TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(BIN)/mypy app bench

check: lint typecheck test

openapi: $(STAMP) ## regenerate the committed contract from the code (review the diff!)
	$(BIN)/python -m app.contract write

docs: $(STAMP) ## regenerate the state diagram of docs/architecture.md from the transition table
	$(BIN)/python -m app.docs write

migration: $(STAMP) ## autogenerate a migration: make migration m="what changes"
	mkdir -p var
	rm -f var/autogen.db
	ATELIER_DATABASE_URL=sqlite:///var/autogen.db $(BIN)/alembic upgrade head
	ATELIER_DATABASE_URL=sqlite:///var/autogen.db $(BIN)/alembic revision --autogenerate -m "$(m)"
	rm -f var/autogen.db

bench: $(STAMP) ## benchmark against a bare FastAPI endpoint (needs wrk: apt-get install wrk)
	$(BIN)/python -m bench.run $(ARGS)

fuzz: $(STAMP) ## long contract fuzzing with a random seed, printed first: make fuzz EXAMPLES=2000 [SEED=n]
	@seed=$(or $(SEED),$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')); \
	echo "make fuzz: seed $$seed, $(or $(EXAMPLES),500) examples (to replay: make fuzz SEED=$$seed EXAMPLES=$(or $(EXAMPLES),500))"; \
	ATELIER_FUZZ_RANDOM=1 ATELIER_FUZZ_EXAMPLES=$(or $(EXAMPLES),500) $(BIN)/python -m pytest tests/contract --hypothesis-seed=$$seed $(ARGS)

bench-scaling: $(STAMP) ## list latency as the table grows from 10k to 1M orders (needs wrk)
	$(BIN)/python -m bench.scaling $(ARGS)

bench-inprocess: $(STAMP) ## CPU per request of each operation, in-process (no wrk; compare checkouts)
	$(BIN)/python -m bench.inprocess $(ARGS)

bench-compare: $(STAMP) ## in-process CPU per request, the working tree against a revision, alternated: make bench-compare BASE=main
	$(BIN)/python -m bench.compare --base $(or $(BASE),HEAD) $(ARGS)

bench-instructions: $(STAMP) ## instructions per request of each operation, counted by callgrind (needs valgrind)
	$(BIN)/python -m bench.instructions $(ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
