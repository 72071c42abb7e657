# `make run` serves on http://127.0.0.1:8000 (SQLite under ./var; HOST, PORT and the rest from env);
# `make test` runs the dependency-rule check, the linter, the type checker and the tests.
VENV ?= .venv
PYTHON ?= python3
# Re-install only when pyproject.toml changes, so repeated runs start at once.
STAMP := $(VENV)/.installed-stamp

# HOST, PORT and the other settings are read from the environment by the program itself
# (see README "Configuration"); `make run PORT=9000` works too: make passes command-line
# variables to the recipe's environment.

.PHONY: run test bench bench-read bench-board bench-hl7 bench-capacity install screenshots

install: $(STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/patient-services serve

test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python -m bench.visits
	$(VENV)/bin/python -m bench.streams

# Read side: projection catch-up over a 210,000-event store and flow-board latency.
bench-read: $(STAMP)
	$(VENV)/bin/python -m bench.projections

# Live flow board: SSE subscribers one server process keeps within 1 s, and their cost to the board.
bench-board: $(STAMP)
	$(VENV)/bin/python -m bench.board_subscribers

# HL7 v2 over MLLP (a day of ADT) vs visit commands over HTTP, on one server.
bench-hl7: $(STAMP)
	$(VENV)/bin/python -m bench.hl7

# Capacity: bookings racing into a busy clinic, and free-slot search over a year of 50 clinics.
bench-capacity: $(STAMP)
	$(VENV)/bin/python -m bench.capacity

# The README's pictures (docs/screenshots/): the browser tests' seeded screens, kept.
screenshots: $(STAMP)
	UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/browser/test_screenshots.py
