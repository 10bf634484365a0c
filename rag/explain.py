"""Why a passage ranks where it does, and how sure the model is that the readouts answer: what
the app shows on demand beside a source, as plain rows (rendered as data, never as HTML)."""

from __future__ import annotations

from rag.ranking.signals import SIGNALS
from rag.schema import Answer, Passage


def signal_summary(name: str) -> str:
    """The first sentence of a signal's docstring: what it measures."""
    doc = " ".join((SIGNALS[name].__doc__ or "").split()) if name in SIGNALS else ""
    return doc.split(": ")[0].split(". ")[0].rstrip(".")


def why_passage(passage: Passage) -> list[dict[str, str | float]]:
    """Each signal that counted for ``passage``, largest contribution first."""
    parts = sorted(passage.score_parts, key=lambda part: abs(part[1]), reverse=True)
    return [{"signal": name, "contribution": round(value, 4),
             "what it measures": signal_summary(name)} for name, value in parts]


def answerability_line(answer: Answer) -> str | None:
    """The model's probability that the readouts answer the question, in words."""
    if answer.answerability is None:
        return None
    verdict = "answered" if answer.answered else "refused"
    return f"Probability that the readouts answer this question: {answer.answerability:.0%} " \
           f"({verdict})."


def passage_of(answer: Answer, chunk_id: str) -> Passage | None:
    """The retrieved passage a citation quotes from."""
    return next((p for p in answer.passages if p.chunk_id == chunk_id), None)
