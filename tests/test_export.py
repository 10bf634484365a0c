"""The conversation exported as Markdown: citations a reader can check, every field escaped."""

from __future__ import annotations

import datetime as dt

from rag.export import conversation_markdown
from tests.samples import QUOTE, answer


def test_conversation_markdown_keeps_citations_checkable_and_escaped() -> None:
    exported = conversation_markdown([answer(), answer(answered=False)],
                                     when=dt.datetime(2024, 5, 4, 9, 30))
    assert exported.startswith("# Readouts conversation\n\nExported 2024-05-04 09:30; 2 questions.")
    assert "## 1. What did \\<Atlantis\\> agree?" in exported
    assert "**\\[1\\]** Atlantis \\<b\\>call\\</b\\> (2024-05-03), Gov \\[x\\](y) " \
           "<https://gov.example/atl>" in exported
    assert f"`atl` chars 7-{7 + len(QUOTE)}" in exported
    assert "> The King of Atlantis agreed to the \\<b\\>treaty\\</b\\>." in exported
    assert "**Closest passages**\n\n- Atlantis \\<b\\>call\\</b\\> (2024-05-03), `atl:0`" \
           in exported
    assert "<b>" not in exported
