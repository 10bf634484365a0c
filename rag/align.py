"""Two readouts of one event, aligned sentence by sentence across languages.

Each sentence of each readout is embedded with the project's multilingual embedder. Every
candidate pair of sentences (one of each readout) is described by a few named features
(``FEATURES``: the cosine of their centred vectors, which leaves what each sentence says once
what all sentences of its readout share, their language and the event, is taken out; how far
that cosine is below the best of each sentence, in both directions (both 0: each is the
other's best); the subjects, countries, people and figures both name; how far apart they stand
in their readouts; how their lengths compare). A logistic model fitted on hand-labelled
pairs (``bench/align.py --fit`` writes ``rag/align_model.json``) turns them into a
probability, and a pair matches when it reaches the fitted threshold, so a long CCTV sentence
may match the two White House sentences it sums up. Sentences left without a counterpart
are one-sided: what only one side said. Every sentence keeps its exact offsets into its
readout (``readout.text[start:end] == sentence.text``).
"""

from __future__ import annotations

import functools
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.fitted import Logistic
from rag.schema import Readout
from rag.sentences import sentence_spans
from rag.topics import topics_in

MODEL_PATH = Path(__file__).resolve().with_name("align_model.json")
REFIT = "python bench/align.py --fit"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_WORD = re.compile(r"\w")


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
    similarity: float  # centred cosine of the two sentences' vectors
    confidence: float = 1.0  # the fitted model's probability that they say the same thing

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.to_dict(), "b": self.b.to_dict(),
                "similarity": round(self.similarity, 3), "confidence": round(self.confidence, 3)}


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
    spans = [(a, b) for a, b in sentence_spans(readout.text)
             if _WORD.search(readout.text, a, b)]  # not a stray bullet or dash
    return tuple(Sentence(readout.doc_id, i, a, b, readout.text[a:b])
                 for i, (a, b) in enumerate(spans))


def centred(vectors: np.ndarray) -> np.ndarray:
    """Rows minus their mean, normalised again (a single row is left as it is)."""
    if len(vectors) < 2:
        return vectors
    rows = vectors - vectors.mean(axis=0, keepdims=True)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(rows / norms)


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
    return np.asarray(centred(vectors[: len(a)]) @ centred(vectors[len(a):]).T)


@dataclass(frozen=True)
class Grid:
    """Every candidate pair of sentences of two readouts, and what their features read."""

    a: tuple[Sentence, ...]
    b: tuple[Sentence, ...]
    cosine: np.ndarray  # (len(a), len(b)) centred cosines

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.a), len(self.b)


def cosine(g: Grid) -> np.ndarray:
    """The centred cosine of the two sentences' vectors: what they say, less what every
    sentence of their readout shares (its language, the event)."""
    return g.cosine


def gap_a(g: Grid) -> np.ndarray:
    """How far the pair's cosine is below the best cosine of the sentence of ``a`` with any
    sentence of ``b`` (0 for its best partner): the rank of the pair in ``a``'s direction."""
    return np.asarray(g.cosine - g.cosine.max(axis=1, keepdims=True))


def gap_b(g: Grid) -> np.ndarray:
    """The same gap in ``b``'s direction: below the best of the sentence of ``b``."""
    return np.asarray(g.cosine - g.cosine.max(axis=0, keepdims=True))


def _shared(xs: Sequence[frozenset[str]], ys: Sequence[frozenset[str]]) -> np.ndarray:
    """log(1 + how many items each pair of sets shares)."""
    counts = np.array([[len(x & y) for y in ys] for x in xs], dtype=np.float64)
    return np.log1p(counts.reshape(len(xs), len(ys)))


def shared_subjects(g: Grid) -> np.ndarray:
    """Subjects, countries and people both sentences name, in any language (``rag.topics``:
    Taiwan is 台湾, Yellen 耶伦): the embedder alone finds a White House sentence on Taiwan
    close to many CCTV sentences of the same call."""
    return _shared([topics_in(s.text) for s in g.a], [topics_in(s.text) for s in g.b])


def shared_numbers(g: Grid) -> np.ndarray:
    """Figures both sentences write in digits (a date, a sum, an anniversary)."""
    return _shared([frozenset(_NUMBER.findall(s.text)) for s in g.a],
                   [frozenset(_NUMBER.findall(s.text)) for s in g.b])


def _places(sentences: Sequence[Sentence]) -> np.ndarray:
    """Each sentence's place in its readout, from 0 (first) to 1 (last)."""
    return np.arange(len(sentences), dtype=np.float64) / max(len(sentences) - 1, 1)


def position_gap(g: Grid) -> np.ndarray:
    """How far apart the two sentences stand in their readouts (0 to 1): both sides open
    with who spoke to whom and tend to tell the rest in the same order."""
    return np.asarray(np.abs(_places(g.a)[:, None] - _places(g.b)[None, :]))


def _shares(sentences: Sequence[Sentence]) -> np.ndarray:
    """Each sentence's length as a share of its readout's sentences (comparable across
    scripts: a Chinese sentence is shorter in characters than its English translation)."""
    lengths = np.array([len(s.text) for s in sentences], dtype=np.float64)
    return np.asarray(lengths / max(lengths.sum(), 1.0))


def length_ratio(g: Grid) -> np.ndarray:
    """|log| of the ratio of the two sentences' shares of their readouts: a translation
    keeps its share, a one-line mention does not say what a long paragraph says."""
    if not (g.a and g.b):
        return np.zeros(g.shape)
    return np.asarray(np.abs(np.log(_shares(g.a)[:, None] / _shares(g.b)[None, :])))


FEATURES = {f.__name__: f for f in (cosine, gap_a, gap_b, shared_subjects, shared_numbers,
                                    position_gap, length_ratio)}


@functools.cache
def alignment_model(path: Path = MODEL_PATH) -> Logistic:
    """The fitted decision (``rag/align_model.json``, written by ``bench/align.py --fit``)."""
    return Logistic.load(path, tuple(FEATURES), REFIT)


def grid(a: Sequence[Sentence], b: Sequence[Sentence], embeddings: Embeddings) -> Grid:
    """The candidate pairs of two readouts' sentences, their cosines computed."""
    if not (a and b):
        return Grid(tuple(a), tuple(b), np.zeros((len(a), len(b))))
    return Grid(tuple(a), tuple(b), similarity_matrix(a, b, embeddings).astype(np.float64))


def feature_values(g: Grid, names: Sequence[str] = tuple(FEATURES)) -> np.ndarray:
    """(len(a), len(b), features): every feature of every candidate pair."""
    if not (g.a and g.b):
        return np.zeros((*g.shape, len(names)))
    return np.stack([FEATURES[name](g) for name in names], axis=-1)


def align(a: Readout, b: Readout, embeddings: Embeddings,
          model: Logistic | None = None) -> Alignment:
    """Align readout ``a`` with readout ``b`` sentence by sentence: a pair matches when the
    fitted model's probability reaches its threshold."""
    model = model or alignment_model()
    g = grid(sentences(a), sentences(b), embeddings)
    probability = model.probabilities(feature_values(g, model.names))
    hits = sorted((int(i), int(j)) for i, j in np.argwhere(probability >= model.threshold))
    matches = tuple(Match(g.a[i], g.b[j], float(g.cosine[i, j]), float(probability[i, j]))
                    for i, j in hits)
    return Alignment(a, b, g.a, g.b, matches)
