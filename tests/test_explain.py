"""What "Why this passage" shows (rag/explain.py)."""

from __future__ import annotations

from rag.explain import answerability_line, passage_of, signal_summary, why_passage
from rag.schema import Answer, Passage

P = Passage(doc_id="d", chunk_id="d#0", title="", date=None, language="en", source="s",
            url=None, text="Xi spoke.", start=0, end=9, score=0.5,
            score_parts=(("lexical", 0.1), ("dense", 0.6), ("preview", -0.2)))


def test_the_signals_that_placed_a_passage_largest_first_with_what_they_measure() -> None:
    rows = why_passage(P)
    assert [r["signal"] for r in rows] == ["dense", "preview", "lexical"]
    assert rows[0]["contribution"] == 0.6
    assert rows[1]["what it measures"] == signal_summary("preview")
    assert signal_summary("preview").startswith("1 for a press secretary's preview")


def test_the_answerability_probability_in_words() -> None:
    answer = Answer("q", False, "no", passages=(P,), answerability=0.123)
    assert answerability_line(answer) == (
        "Probability that the readouts answer this question: 12% (refused).")
    assert answerability_line(Answer("q", True, "yes")) is None
    assert passage_of(answer, "d#0") is P
    assert passage_of(answer, "other") is None
