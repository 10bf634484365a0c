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


class ConceptEmbeddings(ReadoutEmbeddings):
    """Texts as the concepts they name, across languages: each concept is an axis, found by
    any of its forms ("Taiwan", "台湾"). Every text also gets a large axis for its script, as
    a real multilingual model puts much of a language into every vector, so that only
    centring lets sentences of two languages meet: a test can predict every similarity."""

    key = "fake-concepts"

    def __init__(self, concepts: dict[str, tuple[str, ...]], script_weight: float = 3.0,
                 batch_size: int = 8) -> None:
        self.batch_size = batch_size
        self.script_weight = script_weight
        self.concepts = list(concepts.items())
        self.dim = len(self.concepts) + 3  # + Latin script, Chinese script, a constant

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vector(t) for t in texts])

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        for axis, (_, forms) in enumerate(self.concepts):
            vec[axis] = float(any(form in text for form in forms))
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in text)
        vec[len(self.concepts) + int(chinese)] = self.script_weight
        vec[-1] = 0.01
        return vec
