"""Sentence boundaries with exact offsets, and no break where readouts must not break."""

from __future__ import annotations

import pytest

from rag.sentences import sentence_spans


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "M. Xi a indiqué que la Chine était prête. M. Japarov a remercié la Chine.",
            ["M. Xi a indiqué que la Chine était prête.", "M. Japarov a remercié la Chine."],
        ),
        (
            "Il a cité « la Ceinture et la Route. » Les deux parties ont signé.",
            ["Il a cité « la Ceinture et la Route. »", "Les deux parties ont signé."],
        ),
        (
            "Mr. Biden spoke with the U.S. team in Washington. They agreed.",
            ["Mr. Biden spoke with the U.S. team in Washington.", "They agreed."],
        ),
        (
            "国家主席习近平同美国总统拜登通电话。两国元首互致问候！",
            ["国家主席习近平同美国总统拜登通电话。", "两国元首互致问候！"],
        ),
        ("No stop at the end", ["No stop at the end"]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert _sentences(text) == expected


def test_a_long_word_before_a_stop_is_no_abbreviation() -> None:
    # Only the last few characters before a stop are looked at: a word longer than that
    # window must not pass for an initial or an abbreviation because it was cut.
    word = "supercalifragilisticexpialidociousMr"
    assert _sentences(f"It was {word}. Then it ended.") == [f"It was {word}.", "Then it ended."]
    assert _sentences("Talks with Mr. Biden. Then it ended.") == [
        "Talks with Mr. Biden.", "Then it ended."]
