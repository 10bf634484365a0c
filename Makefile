# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PORT ?= 8501
TORCH := torch==2.13.0

.PHONY: run test install install-dev ingest lint bench clean

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

# Ingest is incremental: unchanged readouts are skipped without embedding.
ingest: install
	$(VENV)/bin/readouts ingest --prune data/ || [ $$? -eq 1 ]  # 1: some files failed, the rest is in

run: ingest
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --browser.gatherUsageStats false

test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

bench: install-dev
	$(PY) bench/ingest.py
	$(PY) bench/eval.py
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) data/.store .pytest_cache .ruff_cache
