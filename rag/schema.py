"""Frozen records that flow through the pipeline; framework types are converted at the edges."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Readout:
    """One readout: its exact text and the metadata users filter and cite by."""

    doc_id: str
    text: str
    title: str = ""
    date: str | None = None  # ISO YYYY-MM-DD of the call or meeting
    language: str = "und"
    source: str = ""
    url: str | None = None
    countries: tuple[str, ...] = ()  # ISO 3166 alpha-2 codes mentioned
    path: str = ""  # file it came from, for --prune
    extra: dict[str, Scalar] = field(default_factory=dict)
    # doc_id made from the file name, so another file may share it (not part of equality)
    id_from_path: bool = field(default=False, compare=False)

    @property
    def content_hash(self) -> str:
        """Hash of everything stored for the readout: equal hash means nothing to re-embed."""
        payload = json.dumps(
            [self.doc_id, self.text, self.title, self.date, self.language, self.source,
             self.url, list(self.countries), sorted(self.extra.items())],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Chunk:
    """A span of a readout: ``readout.text[start:end] == text`` always holds."""

    chunk_id: str
    doc_id: str
    index: int
    text: str
    start: int
    end: int
    header: str = ""  # title and date, prepended for embedding only

    @property
    def embed_text(self) -> str:
        """What the embedder and the lexical index see: header plus the exact text."""
        return f"{self.header}\n{self.text}" if self.header else self.text


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with the metadata of its readout and its retrieval score."""

    doc_id: str
    chunk_id: str
    title: str
    date: str | None
    language: str
    source: str
    url: str | None
    text: str
    start: int
    end: int
    score: float = 0.0
    countries: tuple[str, ...] = ()
    # what placed it: (signal, weight times value) for each signal that counted
    score_parts: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the CLI contract (no ``n``)."""
        return {
            "doc_id": self.doc_id, "title": self.title, "date": self.date,
            "language": self.language, "source": self.source, "url": self.url,
            "chunk_id": self.chunk_id, "text": self.text, "start": self.start,
            "end": self.end, "score": round(self.score, 6),
            "score_parts": {name: round(value, 6) for name, value in self.score_parts},
        }


@dataclass(frozen=True)
class Citation:
    """Marker ``[n]`` of an answer: ``document_text[start:end] == quote`` always holds."""

    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    url: str | None
    chunk_id: str
    text: str  # the whole passage the quote sits in
    quote: str
    start: int  # offsets of the quote in the full readout text
    end: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form of the CLI contract."""
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """What the user sees: the answer text with markers, what it cites, what else was found."""

    question: str
    answered: bool
    text: str
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    answerer: str = "extractive"
    notice: str | None = None  # e.g. "LLM unreachable, extractive answer instead"
    answerability: float | None = None  # the model's probability that the readouts answer it

    @property
    def also_retrieved(self) -> tuple[Passage, ...]:
        """Retrieved passages that no citation uses."""
        cited = {c.chunk_id for c in self.citations}
        return tuple(p for p in self.passages if p.chunk_id not in cited)

    def to_dict(self) -> dict[str, Any]:
        """The ``readouts ask --json`` object."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "answerer": self.answerer,
            "notice": self.notice,
            "answerability": None if self.answerability is None else round(
                self.answerability, 4),
        }


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions on retrieval; empty fields restrict nothing."""

    since: str | None = None  # ISO date, inclusive
    until: str | None = None  # ISO date, inclusive
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()  # ISO alpha-2; a readout must mention all of them
    doc_ids: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing is restricted."""
        return not (self.since or self.until or self.languages or self.sources
                    or self.countries or self.doc_ids)


@dataclass(frozen=True)
class ReadoutInfo:
    """A stored readout without its text: what ``readouts list`` shows."""

    doc_id: str
    title: str
    date: str | None
    language: str
    source: str
    url: str | None
    countries: tuple[str, ...]
    path: str
    content_hash: str
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``readouts list --json``."""
        return asdict(self)
