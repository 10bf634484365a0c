"""Two readouts of one event, aligned sentence by sentence across languages.

Each sentence of each readout is embedded with the project's multilingual embedder. Two
sentences are scored by the cosine of their centred vectors (each readout's mean sentence
vector taken out, which removes what all its sentences share, their language and the event
itself, and leaves what each says) plus ``TOPIC_WEIGHT`` for each subject, country or person
both name (``rag.topics``: Taiwan is 台湾, Yellen 耶伦). A pair matches when its score is at
least ``MATCH_THRESHOLD`` and within ``MARGIN`` of the best score of both its sentences, so a
long CCTV sentence may match the two White House sentences it sums up. Sentences left
without a counterpart are one-sided: what only one side said. Every sentence keeps its exact
offsets into its readout (``readout.text[start:end] == sentence.text``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.schema import Readout
from rag.sentences import sentence_spans
from rag.topics import topics_in

# Chosen on bench/align-labelled.jsonl by bench/align.py --grid (README: figures).
MATCH_THRESHOLD = 0.22
MARGIN = 0.10
TOPIC_WEIGHT = 0.10
MAX_SHARED_TOPICS = 3
MIN_SENTENCE_CHARS = 2


@dataclass(frozen=True)
class Sentence:
    """One sentence of a readout: ``readout.text[start:end] == text``."""

    doc_id: str
    index: int  # its rank among the readout's sentences
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Match:
    """A sentence of readout ``a`` and one of readout ``b`` that say the same thing."""

    a: Sentence
    b: Sentence
    similarity: float  # centred cosine plus shared subjects (see the module docstring)

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(),
                "similarity": round(self.similarity, 3)}


@dataclass(frozen=True)
class Alignment:
    """What both readouts say (``matches``) and what each says alone."""

    a: Readout
    b: Readout
    sentences_a: tuple[Sentence, ...]
    sentences_b: tuple[Sentence, ...]
    matches: tuple[Match, ...]  # in the order of ``a``'s sentences

    @property
    def only_a(self) -> tuple[Sentence, ...]:
        """Sentences of ``a`` with no counterpart in ``b``."""
        matched = {m.a.index for m in self.matches}
        return tuple(s for s in self.sentences_a if s.index not in matched)

    @property
    def only_b(self) -> tuple[Sentence, ...]:
        """Sentences of ``b`` with no counterpart in ``a``."""
        matched = {m.b.index for m in self.matches}
        return tuple(s for s in self.sentences_b if s.index not in matched)


def sentences(readout: Readout) -> tuple[Sentence, ...]:
    """The sentences of a readout with their exact offsets."""
    spans = [(a, b) for a, b in sentence_spans(readout.text) if b - a >= MIN_SENTENCE_CHARS]
    return tuple(Sentence(readout.doc_id, i, a, b, readout.text[a:b])
                 for i, (a, b) in enumerate(spans))


def centred(vectors: np.ndarray) -> np.ndarray:
    """Rows minus their mean, normalised again (a single row is left as it is)."""
    if len(vectors) < 2:
        return vectors
    rows = vectors - vectors.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return rows / norms


# embedder -> sentence -> vector (weak: a model's vectors go with the model). A chat answer
# from an alignment, then the compare view of the same two readouts, embed them once.
_VECTORS: weakref.WeakKeyDictionary[Embeddings, dict[str, np.ndarray]] = \
    weakref.WeakKeyDictionary()
VECTORS_CACHED = 20_000


def sentence_vectors(texts: Sequence[str], embeddings: Embeddings) -> np.ndarray:
    """One normalised vector per text, embedding only those not seen before."""
    known = _VECTORS.setdefault(embeddings, {})
    # Batches of sentences of like length pad less (measured: 38 sentences 3.3 s -> 2.7 s).
    missing = sorted({t for t in texts if t not in known}, key=len)
    if missing:
        if len(known) + len(missing) > VECTORS_CACHED:
            known.clear()
        vectors = np.asarray(embeddings.embed_documents(missing), dtype=np.float32)
        known.update(zip(missing, vectors, strict=True))
    return np.stack([known[t] for t in texts])


def similarity_matrix(a: Sequence[Sentence], b: Sequence[Sentence],
                      embeddings: Embeddings) -> np.ndarray:
    """Centred cosine of every sentence of ``a`` with every sentence of ``b``."""
    vectors = sentence_vectors([s.text for s in (*a, *b)], embeddings)
    return centred(vectors[: len(a)]) @ centred(vectors[len(a):]).T


def shared_topics(a: Sequence[Sentence], b: Sequence[Sentence]) -> np.ndarray:
    """How many subjects, countries or people each pair of sentences both name (capped)."""
    ta, tb = [topics_in(s.text) for s in a], [topics_in(s.text) for s in b]
    return np.array([[min(len(x & y), MAX_SHARED_TOPICS) for y in tb] for x in ta],
                    dtype=np.float32).reshape(len(a), len(b))


def match_pairs(score: np.ndarray, threshold: float = MATCH_THRESHOLD,
                margin: float = MARGIN) -> list[tuple[int, int]]:
    """(i, j) pairs whose score reaches ``threshold`` and is within ``margin`` of the best
    score of sentence i and of sentence j."""
    if score.size == 0:
        return []
    near_row = score >= score.max(axis=1, keepdims=True) - margin
    near_col = score >= score.max(axis=0, keepdims=True) - margin
    hits = np.nonzero(near_row & near_col & (score >= threshold))
    return sorted((int(i), int(j)) for i, j in zip(*hits, strict=True))


def pair_scores(a: Sequence[Sentence], b: Sequence[Sentence],
                embeddings: Embeddings) -> np.ndarray:
    """The score of every pair of sentences (see the module docstring)."""
    if not (a and b):
        return np.zeros((len(a), len(b)), dtype=np.float32)
    return similarity_matrix(a, b, embeddings) + TOPIC_WEIGHT * shared_topics(a, b)


def align(a: Readout, b: Readout, embeddings: Embeddings) -> Alignment:
    """Align readout ``a`` with readout ``b`` sentence by sentence."""
    sa, sb = sentences(a), sentences(b)
    score = pair_scores(sa, sb, embeddings)
    matches = tuple(Match(sa[i], sb[j], float(score[i, j])) for i, j in match_pairs(score))
    return Alignment(a, b, sa, sb, matches)
