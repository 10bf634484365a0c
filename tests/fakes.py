"""A deterministic embedder with designed geometry, for fast tests that need no model.

Each word hashes to one of ``DIM`` axes, so texts that share words have a higher cosine:
a test can predict which passage is closest to a question.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rag.embeddings import ReadoutEmbeddings
from rag.tokenize import tokens

DIM = 256


class HashingEmbeddings(ReadoutEmbeddings):
    """Bag of words hashed into ``DIM`` axes; L2-normalised by the base class."""

    key = "fake-hash"

    def __init__(self, batch_size: int = 8) -> None:
        self.batch_size = batch_size
        self.calls = 0  # how many passages were embedded: lets tests prove skip-unchanged

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        self.calls += len(texts)
        return np.stack([self._vector(t) for t in texts])

    def _embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    @staticmethod
    def _vector(text: str) -> np.ndarray:
        vec = np.zeros(DIM, dtype=np.float32)
        for word in tokens(text):
            vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        vec[0] += 0.01  # never the zero vector
        return vec
