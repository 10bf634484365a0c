"""What the UI shows of answers and readouts, computed outside it: escaped Markdown, highlighted
quotes, safe links and the scroll script."""

from __future__ import annotations

import html

import pytest

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
from rag.schema import Answer
from tests.samples import QUOTE, READOUT, citation

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![x](http://evil/x.png)",
    "# Heading\n- item\n1. first\n> quote\n---",
    "**bold** _it_ `code` ~~strike~~ $x^2$ :red[colour] :smile: a|b &amp; &#60;b&#62;",
    "<https://evil.example> www.evil.example\\",
]


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
    answer = Answer("q", True, "t", (citation(1), citation(2, doc_id="other"),
                                     citation(3, start=0)))
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
