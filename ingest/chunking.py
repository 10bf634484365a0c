"""Readout -> Chunks: consecutive paragraphs packed up to the size bound, long ones split at
sentences, with exact offsets.

Packing matters for speed: every chunk is embedded with the readout's title and date as a
header, so fewer, fuller chunks mean fewer headers and fewer texts to embed and store.
"""

from __future__ import annotations

from rag.schema import Chunk, Readout
from rag.sentences import paragraph_spans, sentence_spans


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
    """Chunk boundaries: whole paragraphs (or, for a paragraph over the bound, runs of whole
    sentences) packed greedily while the span from the chunk's start fits ``max_chars``."""
    bounds: list[tuple[int, int]] = []
    for a, b in paragraph_spans(text):
        pieces = [(a, b)] if b - a <= max_chars else _split_long(text, a, b, max_chars)
        for s, e in pieces:
            if bounds and e - bounds[-1][0] <= max_chars:
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
