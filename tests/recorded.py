"""Recorded vectors of a real embedder, replayed: the golden test's store of the whole shared
corpus without 15 minutes of embedding on every run (bench/record_vectors.py says why).

Only passages are replayed, and only texts whose exact recording exists; questions and any
other text go to the live model, so a stale recording costs time, not truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from rag.embeddings import ReadoutEmbeddings

E5_CORPUS = Path(__file__).resolve().parent / "recordings" / "e5-small-corpus.npz"


def text_key(text: str) -> bytes:
    """The recording's key of an embedded text: the first 16 bytes of its SHA-256 (as
    bench/record_vectors.py writes it)."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:16]


class RecordedEmbeddings(ReadoutEmbeddings):
    """``live``'s passage vectors from a recording where it has them, live otherwise; the
    same key as ``live``, so the store, its collections and centroids are the model's."""

    def __init__(self, live: ReadoutEmbeddings, recording: Path) -> None:
        self.live = live
        self.key = live.key
        self.batch_size = live.batch_size
        with np.load(recording) as arrays:
            keys, vectors = arrays["keys"], arrays["vectors"].astype(np.float32)
        self.recorded = {bytes(k): v for k, v in zip(keys, vectors, strict=True)}
        self.embedded_live = 0  # passages the recording lacked

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        found = [self.recorded.get(text_key(t)) for t in texts]
        missing = [t for t, v in zip(texts, found, strict=True) if v is None]
        fresh = iter(np.asarray(self.live.embed_documents(missing), dtype=np.float32)
                     if missing else [])
        self.embedded_live += len(missing)
        return np.stack([v if v is not None else next(fresh) for v in found])

    def _embed_query(self, text: str) -> np.ndarray:
        return np.asarray(self.live.embed_query(text), dtype=np.float32)
