"""Readout -> Chunks: paragraphs, split at sentences when too long, with exact offsets."""

from __future__ import annotations

from rag.schema import Chunk, Readout
from rag.sentences import paragraph_spans, sentence_spans

MIN_CHARS = 200  # shorter paragraphs join the next one: a lone "M. Xi said:" answers nothing


def chunk_header(readout: Readout) -> str:
    """Title and date, prepended to each chunk for embedding and lexical matching only."""
    parts = [readout.title.strip(), readout.date or ""]
    return " — ".join(p for p in parts if p)


def _split_long(text: str, a: int, b: int, max_chars: int) -> list[tuple[int, int]]:
    """Pack the sentences of ``text[a:b]`` into pieces of at most ``max_chars``."""
    pieces: list[tuple[int, int]] = []
    for s, e in sentence_spans(text, a, b):
        while e - s > max_chars:  # one huge sentence: cut at the last space that fits
            cut = text.rfind(" ", s, s + max_chars)
            cut = cut if cut > s else s + max_chars
            pieces.append((s, cut))
            s = cut
            while s < e and text[s].isspace():
                s += 1
        if pieces and e - pieces[-1][0] <= max_chars and pieces[-1][1] <= s:
            pieces[-1] = (pieces[-1][0], e)
        elif e > s:
            pieces.append((s, e))
    return pieces


def span_bounds(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Chunk boundaries: paragraphs, short ones merged, long ones split at sentences."""
    bounds: list[tuple[int, int]] = []
    for a, b in paragraph_spans(text):
        pieces = [(a, b)] if b - a <= max_chars else _split_long(text, a, b, max_chars)
        for s, e in pieces:
            short = bool(bounds) and bounds[-1][1] - bounds[-1][0] < MIN_CHARS
            if short and e - bounds[-1][0] <= max_chars:
                bounds[-1] = (bounds[-1][0], e)
            else:
                bounds.append((s, e))
    return bounds


def chunk_readout(readout: Readout, max_chars: int) -> list[Chunk]:
    """Chunks whose ``text`` is exactly ``readout.text[start:end]``; ids stable per content."""
    header = chunk_header(readout)
    prefix = f"{readout.doc_id}:{readout.content_hash[:12]}"
    return [
        Chunk(
            chunk_id=f"{prefix}:{i}", doc_id=readout.doc_id, index=i,
            text=readout.text[s:e], start=s, end=e, header=header,
        )
        for i, (s, e) in enumerate(span_bounds(readout.text, max_chars))
    ]
