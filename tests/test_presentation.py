"""What the UI shows, computed outside it: escaping and highlights, export, collection counts."""

from __future__ import annotations

import datetime as dt
import html

import pytest

from rag.collection import collection_stats, country_name, timeline_rows
from rag.export import conversation_markdown
from rag.highlight import (
    Highlight,
    anchor_id,
    answer_markdown,
    escape_markdown,
    highlight_html,
    readout_highlights,
    safe_url,
    scroll_script,
)
from rag.schema import Answer, Citation, Passage, ReadoutInfo

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![x](http://evil/x.png)",
    "# Heading\n- item\n1. first\n> quote\n---",
    "**bold** _it_ `code` ~~strike~~ $x^2$ :red[colour] :smile: a|b &amp; &#60;b&#62;",
    "<https://evil.example> www.evil.example\\",
]
READOUT = "Intro. The King of Atlantis agreed to the <b>treaty</b>. Then they left."
QUOTE = "The King of Atlantis agreed to the <b>treaty</b>."


def _citation(n: int = 1, doc_id: str = "atl", start: int | None = None) -> Citation:
    start = READOUT.index(QUOTE) if start is None else start
    return Citation(
        n=n, doc_id=doc_id, title="Atlantis <b>call</b>", date="2024-05-03", source="Gov [x](y)",
        url="https://gov.example/atl", chunk_id=f"{doc_id}:0", text=READOUT, quote=QUOTE,
        start=start, end=start + len(QUOTE),
    )


def _answer(answered: bool = True) -> Answer:
    passage = Passage(doc_id="atl", chunk_id="atl:0", title="Atlantis <b>call</b>",
                      date="2024-05-03", language="en", source="Gov", url=None, text=READOUT,
                      start=0, end=len(READOUT))
    citations = (_citation(),) if answered else ()
    text = f"{QUOTE} [1]" if answered else "The readouts do not contain an answer."
    return Answer("What did <Atlantis> agree?", answered, text, citations, (passage,))


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_markdown_renders_as_the_literal_text(text: str) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    parser = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    rendered = parser.render(escape_markdown(text))
    body = rendered.strip().removeprefix("<p>").removesuffix("</p>")
    assert html.unescape(body.replace("<br />", "")) == text
    for tag in ("<a ", "<img", "<script", "<h1", "<li", "<strong", "<em", "<code", "<hr"):
        assert tag not in rendered


def test_answer_markdown_bolds_markers_and_keeps_the_answerers_list() -> None:
    assert answer_markdown("A <b> [1] B [2]") == "A \\<b\\> **\\[1\\]** B **\\[2\\]**"
    listed = answer_markdown("- 2021, Call: said x [1]\n- 2022, Call: y [2]")
    assert listed == "- 2021, Call\\: said x **\\[1\\]**  \n- 2022, Call\\: y **\\[2\\]**"


def test_highlight_html_escapes_everything_and_marks_spans() -> None:
    text = "a <script>x</script> b & c"
    out = highlight_html(text, [Highlight(2, 20, "1", anchor_id(1), focus=True),
                                Highlight(10, 24, "2"), Highlight(50, 60, "3")])
    assert out == (
        'a <mark class="ro-hl ro-focus" id="ro-cite-1">&lt;script&gt;x&lt;/script&gt;</mark>'
        '<sup class="ro-marker">[1]</sup><mark class="ro-hl"> b &amp;</mark>'
        '<sup class="ro-marker">[2]</sup> c'
    )


def test_readout_highlights_skip_other_readouts_and_moved_quotes() -> None:
    answer = Answer("q", True, "t", (_citation(1), _citation(2, doc_id="other"),
                                     _citation(3, start=0)))
    marks = readout_highlights(answer, READOUT, "atl", focus=1)
    assert marks == [Highlight(7, 7 + len(QUOTE), "1", "ro-cite-1", focus=True)]


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://www.whitehouse.gov/a?b=1#c", True),
        ("http://admin.ch/x", True),
        (" https://padded.example/ ", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//evil.example/x", False),
        ("https://evil.example/\"onmouseover=alert(1)", False),
        ("https://a b.example", False),
        ("ftp://files.example/x", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, safe: bool) -> None:
    assert (safe_url(url) is not None) == safe


def test_scroll_script_holds_only_our_anchor() -> None:
    script = scroll_script(3)
    assert "getElementById('ro-cite-3')" in script
    assert "<" not in script.removeprefix("<script>").removesuffix("</script>")
    with pytest.raises(ValueError, match="invalid literal"):
        scroll_script("x');alert(1);//")  # type: ignore[arg-type]


def test_conversation_markdown_keeps_citations_checkable_and_escaped() -> None:
    exported = conversation_markdown([_answer(), _answer(answered=False)],
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


INFOS = [
    ReadoutInfo("a", "Call A", "2021-02-22", "fr", "MFA", None, ("CN", "KG"), "a.txt", "h", 1),
    ReadoutInfo("b", "Call B", "2022-03-01", "en", "WH", None, ("UA", "RU"), "b.txt", "h", 1),
    ReadoutInfo("c", "Call C", "2022-06-01", "en", "WH", None, ("UA",), "c.txt", "h", 1),
    ReadoutInfo("d", "Undated", None, "en", "", None, ("KG",), "d.txt", "h", 1),
]


def test_collection_stats() -> None:
    stats = collection_stats(INFOS)
    assert stats.total == 4
    assert stats.by_language == {"en": 3, "fr": 1}
    assert stats.by_year == {"2021": 1, "2022": 2, "undated": 1}
    assert stats.sources == ("MFA", "WH")
    assert stats.countries == ("CN", "KG", "RU", "UA")  # China, Kyrgyzstan, Russia, Ukraine
    assert (stats.first_date, stats.last_date) == (dt.date(2021, 2, 22), dt.date(2022, 6, 1))
    assert collection_stats([]).first_date is None


def test_timeline_rows_by_source_and_by_country() -> None:
    by_source = timeline_rows(INFOS, "source")
    assert [(r["doc_id"], r["source"]) for r in by_source] == [("a", "MFA"), ("b", "WH"),
                                                                ("c", "WH")]
    assert by_source[0]["countries"] == "China, Kyrgyzstan"
    by_country = timeline_rows(INFOS, "country", countries=["ua"])
    assert [(r["doc_id"], r["country"]) for r in by_country] == [("b", "Ukraine"),
                                                                  ("c", "Ukraine")]
    assert [r["doc_id"] for r in timeline_rows(INFOS, "source", countries=["KG"])] == ["a"]
    top = timeline_rows(INFOS, "country", max_lanes=1)
    assert {r["country"] for r in top} == {"Ukraine"}


def test_country_name_falls_back_to_the_code() -> None:
    assert (country_name("kg"), country_name("TW"), country_name("XK")) == \
        ("Kyrgyzstan", "Taiwan", "XK")
