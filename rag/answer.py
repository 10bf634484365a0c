"""Passages -> Answer: the extractive answerer, and the evidence checks every answerer shares.

The extractive answer is made only of sentences copied from the readouts, each followed by
its marker, so every claim is exactly the cited span: ``document_text[start:end] == quote``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.config import Settings
from rag.retrieve import Retrieval
from rag.safety import looks_like_instruction, neutralise_markers
from rag.schema import Answer, Citation, Filters, Passage
from rag.sentences import sentence_spans
from rag.tokenize import fold, tokens

NOT_FOUND = "The readouts do not contain an answer to this question."
CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence, located in its readout."""

    passage: Passage
    rank: int
    start: int  # offsets in the readout text
    end: int
    score: float

    @property
    def quote(self) -> str:
        return self.passage.text[self.start - self.passage.start : self.end - self.passage.start]


def citation(n: int, passage: Passage, start: int, end: int, quote: str) -> Citation:
    """A citation of ``quote`` found at ``start:end`` of the passage's readout."""
    return Citation(
        n=n, doc_id=passage.doc_id, title=passage.title, date=passage.date,
        source=passage.source, url=passage.url, chunk_id=passage.chunk_id, text=passage.text,
        quote=quote, start=start, end=end,
    )


def evidence_problem(question: str, retrieval: Retrieval, settings: Settings) -> str | None:
    """Why the passages cannot answer the question, or None when they may."""
    if not retrieval.passages:
        return "no readout matches the question and filters"
    if retrieval.best_dense < settings.refusal_threshold:
        return "no passage is close enough to the question"
    facts = retrieval.facts
    window = facts.date_filters(Filters())
    if window.since and not any(
        p.date and window.since <= p.date <= (window.until or p.date) for p in retrieval.passages
    ):
        return f"no readout between {facts.since} and {facts.until} matches the question"
    missing = missing_names(retrieval)
    if missing:
        return f"the readouts found do not mention {', '.join(missing)}"
    return None


def missing_names(retrieval: Retrieval) -> list[str]:
    """Names the question uses that no retrieved passage mentions (Latin-script passages only:
    a name cannot be checked against Chinese text, so then nothing is reported)."""
    passages = retrieval.passages
    if not retrieval.facts.names or any(p.language in CJK_LANGUAGES for p in passages):
        return []
    haystack = fold(" ".join(f"{p.title} {p.text}" for p in passages))
    return [n for n in retrieval.facts.names
            if not re.search(rf"(?<!\w){re.escape(n)}(?!\w)", haystack)]


def _sentences(question: str, retrieval: Retrieval) -> list[Sentence]:
    wanted = set(tokens(question))
    top = retrieval.passages[0].score or 1.0
    out = []
    for rank, p in enumerate(retrieval.passages):
        prior = p.score / top
        for s, e in sentence_spans(p.text):
            if looks_like_instruction(p.text[s:e]):
                continue
            words = set(tokens(p.text[s:e]))
            overlap = len(wanted & words) / len(wanted) if wanted else 0.0
            out.append(Sentence(p, rank, p.start + s, p.start + e, 0.6 * overlap + 0.4 * prior))
    return out


class ExtractiveAnswerer:
    """Answers with the best sentences of the retrieved passages, each cited exactly."""

    name = "extractive"

    def __init__(self, settings: Settings):
        self.settings = settings

    def answer(self, question: str, retrieval: Retrieval) -> Answer:
        """An answer citing exactly the sentences it is made of, or a refusal."""
        problem = evidence_problem(question, retrieval, self.settings)
        if problem:
            return refusal(question, retrieval, problem, self.name)
        chosen = self._choose(question, retrieval)
        if not chosen:
            return refusal(question, retrieval, "no retrieved sentence reports on it", self.name)
        citations = tuple(
            citation(n, s.passage, s.start, s.end, s.quote) for n, s in enumerate(chosen, 1)
        )
        if retrieval.facts.wants_list:
            text = "\n".join(
                f"- {c.date or 'undated'}, {neutralise_markers(c.title)}: "
                f"{neutralise_markers(c.quote)} [{c.n}]" for c in citations
            )
        else:
            text = " ".join(f"{neutralise_markers(c.quote)} [{c.n}]" for c in citations)
        return Answer(question, True, text, citations, retrieval.passages, self.name)

    def _choose(self, question: str, retrieval: Retrieval) -> list[Sentence]:
        sentences = _sentences(question, retrieval)
        if retrieval.facts.wants_list:
            return self._one_per_readout(sentences)
        ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
        best = ranked[0].score if ranked else 0.0
        chosen: list[Sentence] = []
        for s in ranked:
            if len(chosen) == self.settings.answer_sentences or s.score < 0.6 * best:
                break
            if s.rank < 3 and sum(c.passage.doc_id == s.passage.doc_id for c in chosen) < 2:
                chosen.append(s)
        return sorted(chosen, key=lambda s: (s.rank, s.start))

    def _one_per_readout(self, sentences: list[Sentence]) -> list[Sentence]:
        """For "who spoke with whom" questions: the best sentence of each readout, by date."""
        best: dict[str, Sentence] = {}
        for s in sentences:
            kept = best.get(s.passage.doc_id)
            if kept is None or s.score > kept.score:
                best[s.passage.doc_id] = s
        return sorted(best.values(), key=lambda s: (s.passage.date or "", s.start))


def refusal(question: str, retrieval: Retrieval, reason: str, answerer: str) -> Answer:
    """A "not in the readouts" answer that still offers the closest passages."""
    text = f"{NOT_FOUND} ({reason}; the closest passages are listed below.)"
    return Answer(question, False, text, (), retrieval.passages, answerer)

