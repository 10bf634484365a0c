"""The golden snapshot (bench/golden.py): on a fresh store of the whole shared corpus with the
default model, every bench question ranks the same readouts in its top 5 and is answered or
refused as recorded. A change shows as a per-question diff; if it is intended, review it and
run `python bench/golden.py --write`.

Chroma's HNSW index is approximate and built anew here, so a near-tie may fall the other way
on another machine: up to ``TOLERATED`` of the questions may differ (all are listed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from rag.assistant import build_assistant, open_store
from rag.config import Settings
from tests.conftest import PROJECT_ROOT, SHARED_CORPUS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
TOLERATED = 0.01


def _golden_module():
    path = PROJECT_ROOT / "bench" / "golden.py"
    spec = importlib.util.spec_from_file_location("golden", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_bench_question_keeps_its_top_readouts_and_its_answer(
        tmp_path: Path) -> None:
    files = sorted(SHARED_CORPUS.glob("readouts-*.jsonl"))
    if not files:
        pytest.skip("../shared/corpus is not available")
    golden = _golden_module()
    settings = Settings(store_dir=tmp_path / "store", data_dir=tmp_path, chroma_host=None,
                        embedder="e5-small")
    store = open_store(settings)
    ingest_paths(store, files, max_bytes=50 * 2**20, max_chars=settings.chunk_max_chars)
    new = golden.snapshot(build_assistant(settings, store), golden.questions())
    old = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    changed = golden.differences(old, new)
    assert set(new) == set(old), "the bench sets changed: run python bench/golden.py --write"
    assert len(changed) <= TOLERATED * len(old), (
        f"{len(changed)} of {len(old)} questions changed:\n" + "\n".join(changed))
