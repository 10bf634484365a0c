"""Passages -> Answer: the extractive answerer; the refusal is the answerability model's
(``rag.ranking.answerability``), which every answerer shares.

The extractive answer is made only of sentences copied from the readouts, each followed by
its marker, so every claim is exactly the cited span: ``document_text[start:end] == quote``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rag.config import Settings
from rag.ranking.answerability import Assessment, assess
from rag.ranking.citing import Pool, Sentence, feature_values, pool
from rag.ranking.model import RankingModel
from rag.retrieve import Retrieval
from rag.safety import neutralise_markers
from rag.schema import Answer, Citation, Passage

NOT_FOUND = "The readouts do not contain an answer to this question."


def citation(n: int, passage: Passage, start: int, end: int, quote: str) -> Citation:
    """A citation of ``quote`` found at ``start:end`` of the passage's readout."""
    return Citation(
        n=n, doc_id=passage.doc_id, title=passage.title, date=passage.date,
        source=passage.source, url=passage.url, chunk_id=passage.chunk_id, text=passage.text,
        quote=quote, start=start, end=end,
    )


class ExtractiveAnswerer:
    """Answers with the best sentences of the retrieved passages, each cited exactly."""

    name = "extractive"

    def __init__(self, settings: Settings, model: RankingModel):
        self.settings = settings
        self.model = model

    def answer(self, question: str, retrieval: Retrieval) -> Answer:
        """An answer citing exactly the sentences it is made of, or a refusal."""
        verdict = assess(retrieval, self.model, self.settings.refusal_threshold)
        if verdict.refusal:
            return refusal(question, retrieval, verdict, self.name)
        chosen = self._choose(question, retrieval)
        if not chosen:
            return refusal(question, retrieval, replace(
                verdict, refusal="no retrieved sentence reports on it"), self.name)
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
        return Answer(question, True, text, citations, retrieval.passages, self.name,
                      answer_notice(citations, retrieval), verdict.probability)

    def _choose(self, question: str, retrieval: Retrieval) -> list[Sentence]:
        """The sentences to cite, most probable first (``answer_sentences`` of them); for a
        list, one per readout."""
        whole = retrieval.facts.wants_list
        sentences = scored(pool(question, retrieval, whole), self.model)
        if whole:
            events = [s for s in sentences if s.passage.doc_id not in retrieval.previews]
            return self._one_per_readout(events or sentences)  # the call, not its announcement
        ranked = sorted(sentences, key=lambda s: s.score, reverse=True)
        return ranked[: self.settings.answer_sentences]

    def _one_per_readout(self, sentences: list[Sentence]) -> list[Sentence]:
        """For "who spoke with whom" questions: a sentence of each readout, by date; its first
        sentence when its opening passage was retrieved (it says who met whom and when), else
        the one that fits best."""
        best: dict[str, Sentence] = {}
        for s in sentences:
            kept = best.get(s.passage.doc_id)
            opens = s.start == 0
            if kept is None or (opens and kept.start != 0) or (
                    kept.start != 0 and s.score > kept.score):
                best[s.passage.doc_id] = s
        return sorted(best.values(), key=lambda s: (s.passage.date or "", s.start))


def scored(p: Pool, model: RankingModel) -> list[Sentence]:
    """The sentences of pool ``p`` with the citing model's log-odds."""
    names = model.citing.names
    return [replace(s, score=model.citing(feature_values(p, s, names))) for s in p.sentences]


def answer_notice(citations: Sequence[Citation], retrieval: Retrieval) -> str | None:
    """What the reader should know about an answer's sources, or None."""
    notices = [preview_notice(citations, retrieval), list_notice(retrieval)]
    return " ".join(n for n in notices if n) or None


def preview_notice(citations: Sequence[Citation], retrieval: Retrieval) -> str | None:
    """A warning when the answer quotes an announcement made before the event (the only
    record of Biden's January 2022 meeting with Kishida is the press secretary's preview)."""
    markers = [f"[{c.n}]" for c in citations if c.doc_id in retrieval.previews]
    if not markers:
        return None
    return (f"{', '.join(markers)} {'quotes' if len(markers) == 1 else 'quote'} an "
            "announcement made before the event: what was planned, not what was said.")


def list_notice(retrieval: Retrieval) -> str | None:
    """Says when a list was cut: the readouts hold more than it shows."""
    if not retrieval.left_out:
        return None
    if not retrieval.facts.since:  # "Which leaders did Biden call?"
        return (f"{retrieval.left_out} more readouts match, the least relevant, left out; "
                "name a period to list them all.")
    return (f"{retrieval.left_out} more readouts of these dates match; ask about a shorter "
            "period to list them all.")


def refusal(question: str, retrieval: Retrieval, verdict: Assessment, answerer: str) -> Answer:
    """A "not in the readouts" answer that still offers the closest passages."""
    text = f"{NOT_FOUND} ({verdict.refusal}; the closest passages are listed below.)"
    return Answer(question, False, text, (), retrieval.passages, answerer,
                  answerability=verdict.probability)

