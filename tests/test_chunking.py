"""Chunks keep exact offsets, pack whole sentences, and have stable ids."""

from __future__ import annotations

import pytest

from ingest.chunking import chunk_readout
from rag.schema import Readout
from rag.sentences import paragraph_spans, sentence_spans
from tests.conftest import corpus_records


def _readout(text: str) -> Readout:
    return Readout(doc_id="d1", text=text, title="Call", date="2021-02-22")


def test_chunks_are_exact_spans_with_header() -> None:
    text = "First paragraph is short.\n\n" + ("A long sentence here. " * 60) + "\nLast one."
    chunks = chunk_readout(_readout(text), max_chars=300)
    assert len(chunks) > 3
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert len(c.text) <= 300
        assert c.embed_text == f"Call — 2021-02-22\n{c.text}"
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_short_paragraphs_are_merged_but_long_ones_are_not() -> None:
    text = "Short one.\nShort two.\n" + "x" * 50 + " end.\n" + ("Long sentence. " * 20)
    chunks = chunk_readout(_readout(text), max_chars=200)
    assert chunks[0].text.startswith("Short one.\nShort two.")
    assert all(len(c.text) <= 200 for c in chunks)


def test_a_sentence_longer_than_the_limit_is_cut_at_spaces() -> None:
    text = "word " * 400
    chunks = chunk_readout(_readout(text.strip()), max_chars=250)
    assert all(0 < len(c.text) <= 250 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_chunk_ids_are_stable_and_change_with_content() -> None:
    a = chunk_readout(_readout("Same text."), 700)
    b = chunk_readout(_readout("Same text."), 700)
    c = chunk_readout(_readout("Other text."), 700)
    assert [x.chunk_id for x in a] == [x.chunk_id for x in b]
    assert a[0].chunk_id != c[0].chunk_id


@pytest.mark.parametrize("language", ["en", "fr", "zh"])
def test_real_readouts_chunk_exactly(language: str) -> None:
    for record in corpus_records(language, limit=80):
        readout = Readout(doc_id=record["id"], text=record["text"], title=record["title"])
        chunks = chunk_readout(readout, 700)
        assert chunks
        assert all(record["text"][c.start : c.end] == c.text for c in chunks)
        assert all(len(c.text) <= 700 for c in chunks)


@pytest.mark.parametrize("language", ["en", "fr", "zh"])
def test_real_readouts_are_packed_whole_sentences(language: str) -> None:
    # Consecutive paragraphs share a chunk while they fit: two neighbours never would have
    # fitted together, so a readout has as few chunks (and embedded headers) as the bound
    # allows; and no chunk starts or ends inside a sentence.
    for record in corpus_records(language, limit=80):
        text = record["text"]
        readout = Readout(doc_id=record["id"], text=text, title=record["title"])
        chunks = chunk_readout(readout, 700)
        sentences = [s for a, b in paragraph_spans(text) for s in sentence_spans(text, a, b)]
        starts, ends = {a for a, _ in sentences}, {b for _, b in sentences}
        for chunk, after in zip(chunks, chunks[1:], strict=False):
            assert after.end - chunk.start > 700
        assert all(c.start in starts and c.end in ends for c in chunks)
