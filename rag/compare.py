"""An alignment as the user reads it: rows side by side, the topics each side alone raises,
and a Markdown export with both readouts' titles, dates, sources and links.

Readout text is escaped as everywhere else (``rag.highlight``): the export renders literally
in any Markdown viewer, and each sentence keeps its readout id and character offsets.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rag.align import Alignment, Match, Sentence
from rag.collection import country_name
from rag.highlight import escape_markdown, safe_url
from rag.metadata import find_countries
from rag.pairs import readout_ref
from rag.schema import Readout
from rag.sentences import first_sentence
from rag.topics import topics_in


@dataclass(frozen=True)
class Row:
    """One line of the side-by-side view: a match, or a sentence of one side alone."""

    a: tuple[Sentence, ...]
    b: tuple[Sentence, ...]
    similarity: float | None = None  # None: one-sided

    @property
    def one_sided(self) -> bool:
        return not (self.a and self.b)


@dataclass(frozen=True)
class Comparison:
    """An alignment with what the view and the export show of it."""

    alignment: Alignment
    rows: tuple[Row, ...]
    topics_only_a: tuple[str, ...]  # named by a, never by b (the two parties left out)
    topics_only_b: tuple[str, ...]

    @property
    def a(self) -> Readout:
        return self.alignment.a

    @property
    def b(self) -> Readout:
        return self.alignment.b

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``readouts compare --json``."""
        al = self.alignment
        return {
            "a": readout_ref(self.a), "b": readout_ref(self.b),
            "matches": [m.to_dict() for m in al.matches],
            "only_a": [s.to_dict() for s in al.only_a],
            "only_b": [s.to_dict() for s in al.only_b],
            "topics_only_a": list(self.topics_only_a),
            "topics_only_b": list(self.topics_only_b),
        }


def rows(alignment: Alignment) -> tuple[Row, ...]:
    """Rows in ``a``'s order: each sentence of ``a`` with its matches in ``b`` (a sentence of
    ``b`` that sums up two of ``a`` shows on both rows); a sentence of ``b`` alone comes after
    the row of the last matched sentence of ``b`` before it."""
    by_a: dict[int, list[Match]] = {}
    for m in alignment.matches:
        by_a.setdefault(m.a.index, []).append(m)
    out: list[Row] = []
    row_of_b: dict[int, int] = {}  # matched sentence of b -> its first row
    for s in alignment.sentences_a:
        ms = sorted(by_a.get(s.index, []), key=lambda m: m.b.index)
        for m in ms:
            row_of_b.setdefault(m.b.index, len(out))
        best = max((m.similarity for m in ms), default=None)
        out.append(Row((s,), tuple(m.b for m in ms), best))
    inserts: dict[int, list[Sentence]] = {}  # row after which -> sentences of b alone
    last = -1
    for s in alignment.sentences_b:
        if s.index in row_of_b:
            last = max(last, row_of_b[s.index])
        else:
            inserts.setdefault(last, []).append(s)
    merged = [Row((), (s,)) for s in inserts.get(-1, [])]
    for i, row in enumerate(out):
        merged.append(row)
        merged.extend(Row((), (s,)) for s in inserts.get(i, []))
    return tuple(merged)


def parties(readout: Readout) -> frozenset[str]:
    """The countries of a readout's title and first sentence: the two sides themselves
    ("President Xi Jinping of China", 美国总统), never a topic one side alone raises."""
    head = f"{readout.title}\n{first_sentence(readout.text)}"
    return frozenset(country_name(code) for code in find_countries(head))


def compare(alignment: Alignment) -> Comparison:
    """Rows, and the topics each readout raises that the other never names."""
    # Cities are left out: "Beijing" often stands for China, which the other side names.
    topics_a = topics_in(alignment.a.title + "\n" + alignment.a.text, places=False)
    topics_b = topics_in(alignment.b.title + "\n" + alignment.b.text, places=False)
    sides = parties(alignment.a) | parties(alignment.b)
    return Comparison(alignment, rows(alignment), tuple(sorted(topics_a - topics_b - sides)),
                      tuple(sorted(topics_b - topics_a - sides)))


def side_label(readout: Readout) -> str:
    """A short name for a side: its source, else its id."""
    return readout.source or readout.doc_id


def _readout_block(letter: str, r: Readout) -> str:
    url = safe_url(r.url)
    link = f"  \n<{url}>" if url else ""
    return (f"**{letter}.** {escape_markdown(r.title or r.doc_id)}  \n"
            f"{escape_markdown(r.date or 'undated')} · {escape_markdown(r.language)} · "
            f"{escape_markdown(r.source)} · `{r.doc_id}`{link}")


def _quote(s: Sentence) -> str:
    return f"> {escape_markdown(s.text)}  \n> `{s.doc_id}` chars {s.start}-{s.end}"


def _sentences_md(sentences: Sequence[Sentence]) -> str:
    return "\n>\n".join(_quote(s) for s in sentences)


def comparison_markdown(c: Comparison) -> str:
    """The whole comparison as a Markdown document."""
    al = c.alignment
    parts = ["# Comparison of two readouts", _readout_block("A", c.a), _readout_block("B", c.b),
             f"{len(al.matches)} matched sentence pairs; {len(al.only_a)} sentences only in A, "
             f"{len(al.only_b)} only in B."]
    for letter, topics in (("A", c.topics_only_a), ("B", c.topics_only_b)):
        listed = ", ".join(escape_markdown(t) for t in topics) or "none"
        parts.append(f"**Topics only {letter} raises:** {listed}")
    parts.append("## Said by both")
    for row in c.rows:
        if not row.one_sided:
            parts.append(f"**A** (similarity {row.similarity:.2f})\n\n{_sentences_md(row.a)}"
                         f"\n\n**B**\n\n{_sentences_md(row.b)}")
    for letter, readout, alone in (("A", c.a, al.only_a), ("B", c.b, al.only_b)):
        parts.append(f"## Only in {letter}: {escape_markdown(side_label(readout))}")
        parts.append(_sentences_md(alone) if alone else "(none)")
    return "\n\n".join(parts) + "\n"


def comparison_text(c: Comparison) -> str:
    """The comparison as plain text, one row a line or two (``readouts compare``)."""
    lines = [f"A: {c.a.title} ({c.a.date or 'undated'}, {c.a.source})",
             f"B: {c.b.title} ({c.b.date or 'undated'}, {c.b.source})"]
    lines += [f"Topics only {letter} raises: {', '.join(topics) or 'none'}"
              for letter, topics in (("A", c.topics_only_a), ("B", c.topics_only_b))]
    lines.append("")
    for row in c.rows:
        if not row.one_sided:
            lines += [f"= {row.similarity:.2f}  A: {' '.join(s.text for s in row.a)}",
                      f"         B: {' '.join(s.text for s in row.b)}"]
        else:
            letter, side = ("A", row.a) if row.a else ("B", row.b)
            lines.append(f"only {letter}: {' '.join(s.text for s in side)}")
    return "\n".join(lines) + "\n"


COMPARE_CSS = """<style>
.ro-compare { display: grid; grid-template-columns: 1fr 1fr; gap: .35rem 1.2rem;
  line-height: 1.5; font-size: .93rem; }
.ro-compare .ro-head { font-weight: 600; border-bottom: 1px solid rgba(128,128,128,.4); }
.ro-compare .ro-cell { padding: .2rem .4rem; border-radius: 4px; }
.ro-compare .ro-both { background: rgba(128,128,128,.08); }
.ro-compare mark.ro-alone { background: #fde68a; color: #1f2937; padding: 0 .1rem; }
.ro-compare .ro-sim { color: #6b7280; font-size: .8rem; margin-left: .3rem; }
</style>"""


def _cell(sentences: Sequence[Sentence], alone: bool, similarity: float | None) -> str:
    text = html.escape(" ".join(s.text for s in sentences))
    if alone and text:
        return f'<div class="ro-cell ro-one"><mark class="ro-alone">{text}</mark></div>'
    sim = f'<span class="ro-sim">{similarity:.2f}</span>' if similarity is not None else ""
    return f'<div class="ro-cell ro-both">{text}{sim}</div>' if text else \
        '<div class="ro-cell"></div>'


def comparison_html(c: Comparison) -> str:
    """The rows side by side as escaped HTML: matched sentences on one row, one-sided ones
    marked. Our own tags only; every piece of readout text goes through ``html.escape``."""
    head = "".join(f'<div class="ro-cell ro-head">{html.escape(side_label(r))} · '
                   f'{html.escape(r.date or "undated")}</div>' for r in (c.a, c.b))
    cells = "".join(_cell(row.a, row.one_sided, None) + _cell(row.b, row.one_sided,
                                                              row.similarity)
                    for row in c.rows)
    return f'<div class="ro-compare">{head}{cells}</div>'
