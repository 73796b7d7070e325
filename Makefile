# The two commands of the README.
#   make demo  — install baseguard in .venv and assess the bundled example estate, offline
#   make test  — install baseguard with its test tools and run lint, types and the tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

# The demo keeps its own vulnerability database (built from the bundled, partial feed
# snapshot) so that it never replaces a real one in the user cache.
DEMO_DB := .demo/vulndb.sqlite

demo: install
	BASEGUARD_VULNDB=$(DEMO_DB) $(BIN)/baseguard -q db update --from examples/feeds
	BASEGUARD_VULNDB=$(DEMO_DB) $(BIN)/baseguard assess examples/estate \
		--images examples/images --offline --catalog examples/catalog.yaml -o table

lint: install-test
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
