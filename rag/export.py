"""A conversation -> one Markdown file with its citations, to keep or share a session's findings.

Readout text is escaped as in the UI, so the file renders literally in any Markdown viewer;
each quote keeps its readout id and character offsets so anyone can check it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rag.highlight import answer_markdown, escape_markdown, safe_url
from rag.schema import Answer, Citation, Passage


def _cite_line(c: Citation) -> str:
    url = safe_url(c.url)
    link = f" <{url}>" if url else ""
    return (
        f"- **\\[{c.n}\\]** {escape_markdown(c.title)} ({escape_markdown(c.date or 'undated')})"
        f", {escape_markdown(c.source)}{link}  \n"
        f"  `{c.doc_id}` chars {c.start}-{c.end}\n\n"
        "  > " + escape_markdown(c.quote).replace("\n", "\n  > ")
    )


def _passage_line(p: Passage) -> str:
    return (
        f"- {escape_markdown(p.title)} ({escape_markdown(p.date or 'undated')}), "
        f"`{p.chunk_id}`"
    )


def answer_section(number: int, answer: Answer) -> str:
    """One question and its answer, sources and (for a refusal) closest passages."""
    parts = [f"## {number}. {escape_markdown(answer.question)}", answer_markdown(answer.text)]
    if answer.notice:
        parts.append(f"*Note: {escape_markdown(answer.notice)}*")
    if answer.citations:
        parts.append("**Sources**\n\n" + "\n".join(_cite_line(c) for c in answer.citations))
    if not answer.answered and answer.passages:
        parts.append("**Closest passages**\n\n"
                     + "\n".join(_passage_line(p) for p in answer.passages))
    parts.append(f"*Answered by: {escape_markdown(answer.answerer)}*")
    return "\n\n".join(parts)


def conversation_markdown(answers: Sequence[Answer], when: dt.datetime | None = None) -> str:
    """The whole conversation, oldest first, as a Markdown document."""
    stamp = (when or dt.datetime.now()).strftime("%Y-%m-%d %H:%M")
    head = f"# Readouts conversation\n\nExported {stamp}; {len(answers)} questions."
    return "\n\n".join([head, *(answer_section(i, a) for i, a in enumerate(answers, 1))]) + "\n"
