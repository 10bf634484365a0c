"""The golden snapshot (bench/golden.py): on a fresh store of the whole shared corpus with the
default model, every bench question ranks the same readouts in its top 5 and is answered or
refused as recorded. A change shows as a per-question diff; if it is intended, review it and
run `python bench/golden.py --write`.

The corpus's passage vectors are the model's own, recorded by bench/record_vectors.py and
replayed (15 minutes of embedding saved), checked on a sample against the live model;
questions are embedded live.

Chroma's HNSW index is approximate and built anew here, so a near-tie may fall the other way
on another machine: up to ``TOLERATED`` of the questions may differ (all are listed)."""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from ingest.chunking import chunk_readout
from ingest.pipeline import ingest_paths
from rag.assistant import build_assistant
from rag.config import Settings
from rag.embeddings import build_embeddings
from rag.store import ReadoutStore
from tests.conftest import PROJECT_ROOT, SHARED_CORPUS
from tests.recorded import E5_CORPUS, RecordedEmbeddings, text_key

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
TOLERATED = 0.01
SAMPLED = 3  # readouts per language whose recorded vectors are checked against the model


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
    embeddings = RecordedEmbeddings(build_embeddings(settings.embedder), E5_CORPUS)
    store = ReadoutStore(settings, embeddings)
    ingest_paths(store, files, max_bytes=50 * 2**20, max_chars=settings.chunk_max_chars)
    _check_the_recording(store, embeddings, settings.chunk_max_chars)
    new = golden.snapshot(build_assistant(settings, store), golden.questions())
    old = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    changed = golden.differences(old, new)
    assert set(new) == set(old), "the bench sets changed: run python bench/golden.py --write"
    assert len(changed) <= TOLERATED * len(old), (
        f"{len(changed)} of {len(old)} questions changed:\n" + "\n".join(changed))


def _check_the_recording(store: ReadoutStore, embeddings: RecordedEmbeddings,
                         max_chars: int) -> None:
    """The replayed vectors are the live model's (float16 aside), on the chunks of a few
    readouts of each language; chunks the recording lacked were embedded live, which is
    right but slow, so say how to record them."""
    infos = store.list_readouts()
    sample = [i for lang in ("en", "fr", "zh")
              for i in [i for i in infos if i.language == lang][:SAMPLED]]
    texts = []
    for info in sample:
        readout = store.get_readout(info.doc_id)
        assert readout is not None
        texts += [c.embed_text for c in chunk_readout(readout, max_chars)]
    recorded = [(t, embeddings.recorded.get(text_key(t))) for t in texts]
    kept = [(t, v) for t, v in recorded if v is not None]
    live = embeddings.live.embed_documents([t for t, _ in kept])
    for (_, old), new in zip(kept, live, strict=True):
        assert float(np.dot(old, new)) > 0.9999, "stale: run python bench/record_vectors.py"
    if embeddings.embedded_live:
        warnings.warn(f"{embeddings.embedded_live} chunks were not recorded and were embedded "
                      "live: run python bench/record_vectors.py", stacklevel=1)
