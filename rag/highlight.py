"""Document and user text -> safe Markdown or HTML, with cited spans highlighted.

Readouts are data from outside: every piece of their text (and of the user's) is escaped
here, and the only tags in the output are our own ``<div>``, ``<mark>`` and ``<sup>`` (and
the constant scroll script). The UI may pass these strings to ``st.html`` and ``st.markdown``;
nothing else may.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from rag.schema import Answer, Citation, Passage

# Characters that start Markdown (or Streamlit's :color[...] / :emoji: / $math$) constructs
# anywhere in a line; the rest only matter at the start of one.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>&~$|:])")
_MD_LINE_START = re.compile(r"^([ \t]*)([#+\-=])", re.MULTILINE)
_MD_ORDERED = re.compile(r"^([ \t]*\d+)([.)])", re.MULTILINE)
_ESCAPED_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")
_URL_UNSAFE = re.compile(r"[\s<>\"'`\\]")

CSS = """<style>
.ro-passage, .ro-readout { white-space: pre-wrap; line-height: 1.55; }
.ro-passage { border-left: 3px solid rgba(128,128,128,.4); padding: .1rem 0 .1rem .75rem;
  margin: .25rem 0 .5rem; font-size: .92rem; }
.ro-readout { max-height: 60vh; overflow-y: auto; padding-right: .5rem; }
mark.ro-hl { background: #fde68a; color: #1f2937; padding: 0 .1rem; border-radius: 2px; }
mark.ro-hl.ro-focus { background: #fbbf24; outline: 2px solid #d97706; }
sup.ro-marker { font-weight: 600; margin-left: .1rem; }
</style>"""


@dataclass(frozen=True)
class Highlight:
    """A span to mark in a text; ``label`` is shown as a marker after it."""

    start: int
    end: int
    label: str = ""
    anchor: str = ""  # id attribute, so the view can scroll to it
    focus: bool = False


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that renders literally: no links, HTML, headings or lists."""
    escaped = _MD_INLINE.sub(r"\\\1", text)
    escaped = _MD_LINE_START.sub(r"\1\\\2", escaped)
    return _MD_ORDERED.sub(r"\1\\\2", escaped)


def answer_markdown(text: str) -> str:
    """An answer's text as safe Markdown: markers in bold, its own "- " lines as a list."""
    lines = []
    for line in text.split("\n"):
        bullet = line.startswith("- ")
        body = _ESCAPED_MARKER.sub(r"**\\[\1\\]**", escape_markdown(line[2:] if bullet else line))
        lines.append(f"- {body}" if bullet else body)
    return "  \n".join(lines)  # hard breaks: the answerer's line breaks are meant


def safe_url(url: str | None) -> str | None:
    """The url if it is a plain http(s) link, else None (no ``javascript:`` or ``data:``)."""
    if not url:
        return None
    url = url.strip()
    if _URL_UNSAFE.search(url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def highlight_html(text: str, highlights: Sequence[Highlight]) -> str:
    """Escaped ``text`` with each highlight wrapped in ``<mark>``; overlaps are clipped."""
    out: list[str] = []
    pos = 0
    for h in sorted(highlights, key=lambda h: (h.start, h.end)):
        start, end = max(h.start, pos), min(h.end, len(text))
        if start >= end:
            continue
        out.append(html.escape(text[pos:start]))
        classes = "ro-hl ro-focus" if h.focus else "ro-hl"
        anchor = f' id="{html.escape(h.anchor)}"' if h.anchor else ""
        out.append(f'<mark class="{classes}"{anchor}>{html.escape(text[start:end])}</mark>')
        if h.label:
            out.append(f'<sup class="ro-marker">[{html.escape(h.label)}]</sup>')
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out)


@dataclass(frozen=True)
class CitedPassage:
    """A passage and the citations that quote it, in marker order."""

    passage: Passage | None
    citations: tuple[Citation, ...]

    @property
    def first(self) -> Citation:
        return self.citations[0]


def cited_passages(answer: Answer) -> list[CitedPassage]:
    """The answer's citations grouped by the passage they quote, in order of first marker."""
    passages = {p.chunk_id: p for p in answer.passages}
    groups: dict[str, list[Citation]] = {}
    for c in answer.citations:
        groups.setdefault(c.chunk_id, []).append(c)
    return [CitedPassage(passages.get(cid), tuple(cs)) for cid, cs in groups.items()]


def citation_spans(group: CitedPassage) -> list[Highlight]:
    """Where each quote sits inside its passage text."""
    spans = []
    for c in group.citations:
        if group.passage is not None:
            start = c.start - group.passage.start
        else:  # a passage the answer did not list: find the quote in the text it carries
            start = max(c.text.find(c.quote), 0)
        spans.append(Highlight(start, start + len(c.quote), str(c.n)))
    return spans


def passage_html(text: str, highlights: Sequence[Highlight] = ()) -> str:
    """One passage, escaped, with its quotes marked."""
    return f'<div class="ro-passage">{highlight_html(text, highlights)}</div>'


def readout_html(text: str, highlights: Sequence[Highlight]) -> str:
    """A whole readout, escaped, in a scrollable box with every highlight anchored."""
    return f'<div class="ro-readout">{highlight_html(text, highlights)}</div>'


def anchor_id(n: int) -> str:
    """The id of citation ``n``'s highlight in the readout view (0: the opened passage)."""
    return f"ro-cite-{int(n)}"


def readout_highlights(answer: Answer, text: str, doc_id: str, focus: int) -> list[Highlight]:
    """Every citation of ``answer`` into readout ``doc_id``, anchored; ``focus`` is the marker.

    A citation whose quote no longer sits at its offsets (the readout was re-ingested with
    another text since) is left out rather than marking the wrong words.
    """
    return [
        Highlight(c.start, c.end, str(c.n), anchor_id(c.n), focus=c.n == focus)
        for c in answer.citations
        if c.doc_id == doc_id and text[c.start : c.end] == c.quote
    ]


def passage_highlight(passage: Passage, text: str) -> list[Highlight]:
    """The passage itself, anchored, when opening a readout from an uncited passage."""
    if text[passage.start : passage.end] != passage.text:
        return []
    return [Highlight(passage.start, passage.end, "", anchor_id(0), focus=True)]


def scroll_script(n: int) -> str:
    """Our own script (no outside text in it) that scrolls the readout view to anchor ``n``.

    It holds no "<": Streamlit's sanitiser drops a script whose text looks like markup.
    """
    return (
        "<script>(function(){let tries=0;const go=()=>{"
        f"const el=document.getElementById('{anchor_id(n)}');"
        "if(el){el.scrollIntoView({block:'center',behavior:'smooth'});}"
        "else if(40>tries++){setTimeout(go,50);}};go();})();</script>"
    )
