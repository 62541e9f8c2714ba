# Two commands on a fresh machine: `make run` (set up, then serve on the embedded defaults under
# ./.tally/) and `make test` (set up, then every test suite). Everything else is a step of those.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup setup-test browser run test lint bench clean

$(VENV)/.installed: pyproject.toml setup.py ledger/scoring/_features.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

tools/ipfs/node_modules/.installed: tools/ipfs/package.json tools/ipfs/package-lock.json
	npm ci --prefix tools/ipfs --no-audit --no-fund --loglevel=error
	touch $@

browser:
	sh tools/install-browser.sh

setup: $(VENV)/.installed node_modules/.installed

setup-test: setup tools/ipfs/node_modules/.installed browser

run: setup
	$(BIN)/tally serve

# The suite runs on TEST_WORKERS processes (pytest-xdist): most tests wait on servers, chains,
# browsers and databases they start, so three workers keep two cores busy; the few tests timed
# against a wall clock (marked serial) run first, alone. Each file's tests share a worker, in
# order, so a test may check what the ones before it in its file counted (tests/fuzz/test_schema.py).
TEST_WORKERS ?= 3

test: setup-test
	$(BIN)/python -m pytest -m serial
	$(BIN)/python -m pytest -m "not serial" -n $(TEST_WORKERS) --dist loadfile
	npx hardhat test

# The extension: extension/ itself loads unpacked once vendor/ is filled; build/extension/ is the
# release folder and build/tally-extension.zip its package. TALLY_API_URL=https://... adds a
# deployment's API origin to the host permissions and to the wallet bridge's allowed pages.
.PHONY: extension
extension: node_modules/.installed
	node extension/build.mjs --out build/extension
	rm -f build/tally-extension.zip
	cd build/extension && python3 -m zipfile -c ../tally-extension.zip *
	@echo "extension: build/extension (load unpacked) and build/tally-extension.zip"

lint: setup
	$(BIN)/ruff check ledger anchoring api tally tests bench
	$(BIN)/mypy --strict ledger anchoring api tally
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) node_modules .tally

# The architecture picture (docs/architecture.md) from its Graphviz source.
.PHONY: diagram
diagram: docs/architecture.svg

docs/architecture.svg: docs/architecture.dot
	dot -Tsvg docs/architecture.dot -o $@

# The long form of the fault scenarios (tests/faults): at least 30 SIGKILLs, every fault, outages
# of about 30 s; ends with the invariant table (201s, kills, epochs, audit). Takes a while.
.PHONY: soak
soak: setup-test
	TALLY_SOAK=1 $(BIN)/python -m pytest tests/faults
