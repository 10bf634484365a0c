# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?= 8501
TORCH := torch==2.13.0

.PHONY: run test install install-dev ingest bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch first: 2.13.0 is a CPU build on local disk; any other request pulls a CUDA build.
$(VENV)/.installed: $(PY) pyproject.toml
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

DATA_DIR := $(or $(READOUTS_DATA_DIR),data)
STORE_DIR := $(or $(READOUTS_STORE_DIR),data/.store)
# What the last ingest saw (data files' names, sizes and times, and the READOUTS_ settings):
# `make run` skips the ingest step, a few seconds of model loading, when none of it changed.
INGEST_KEY := $(shell { find $(DATA_DIR) -path '*/.*' -prune -o -type f -printf '%p %s %T@\n'; \
	env | grep '^READOUTS_'; } 2>/dev/null | sort | md5sum | cut -c1-16)
INGEST_STAMP := $(STORE_DIR)/.ingested-$(INGEST_KEY)

# Ingest is incremental: unchanged readouts are skipped without embedding.
# Exit code 1 means some files failed (the summary says which); the rest is in.
ingest: install
	$(VENV)/bin/readouts ingest --prune $(DATA_DIR) || [ $$? -eq 1 ]
	@mkdir -p $(STORE_DIR) && rm -f $(STORE_DIR)/.ingested-* && touch $(INGEST_STAMP)

$(INGEST_STAMP):
	$(MAKE) --no-print-directory ingest

run: install $(INGEST_STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --browser.gatherUsageStats false

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest

bench: install-dev
	$(PY) bench/ingest.py
	$(PY) bench/eval.py
	$(PY) bench/latency.py
	$(PY) bench/pairs.py
	$(PY) bench/align.py

clean:
	rm -rf $(VENV) data/.store .pytest_cache .ruff_cache .mypy_cache
