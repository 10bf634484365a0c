"""rag/lexical/bm25.py: segments scored with statistics summed at query time."""

from __future__ import annotations

import math

import numpy as np

from rag.lexical.bm25 import K1, B, Corpus, Postings

DOCS = [
    ["taiwan", "xinjiang", "vaccine"],
    ["taiwan", "trade", "trade", "tariffs"],
    ["climate", "finance", "kunming"],
    ["vaccine", "cooperation", "vaccine", "covax", "africa"],
    [],
    ["taiwan", "strait", "peace", "stability", "taiwan"],
]


def _one(docs: list[list[str]]) -> Corpus:
    seg = Postings.build(docs)
    return Corpus((seg,), np.ones(seg.n_rows, dtype=bool))


def test_scores_are_lucene_bm25() -> None:
    """The variant the ranking weights were fitted on: idf log(1 + (N - df + .5)/(df + .5)),
    tf / (tf + k1 (1 - b + b len/avg))."""
    scores = _one(DOCS).scores(["trade"])
    n, avg = len(DOCS), sum(map(len, DOCS)) / len(DOCS)
    idf = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))
    expected = idf * 2 / (2 + K1 * (1 - B + B * 4 / avg))
    assert math.isclose(float(scores[1]), expected, rel_tol=1e-5)
    assert np.count_nonzero(scores) == 1


def test_a_token_repeated_in_the_question_counts_again() -> None:
    corpus = _one(DOCS)
    assert np.allclose(corpus.scores(["vaccine", "vaccine"]), 2 * corpus.scores(["vaccine"]))


def test_segments_with_dead_rows_score_as_one_index_of_the_live_rows() -> None:
    """A changed readout: its old rows masked out, its new rows in a second segment. Scores,
    document frequencies and mean length must be those of a fresh build."""
    changed = ["taiwan", "question", "core", "interests"]
    first = Postings.build(DOCS)
    second = Postings.build([changed, ["kunming", "biodiversity"]])
    live = np.ones(first.n_rows + second.n_rows, dtype=bool)
    live[[1, 2]] = False  # rows 1 and 2 replaced by the second segment's
    split = Corpus((first, second), live)
    fresh = _one([DOCS[0], DOCS[3], DOCS[4], DOCS[5], changed, ["kunming", "biodiversity"]])
    for query in (["taiwan"], ["trade"], ["kunming", "vaccine"], ["taiwan", "core", "peace"]):
        got = split.scores(query)[live]
        assert np.allclose(got, fresh.scores(query), rtol=1e-6), query
    assert split.scores(["trade"]).max() == 0  # only a dead row held it


def test_postings_give_live_rows_in_the_row_space() -> None:
    first = Postings.build(DOCS)
    second = Postings.build([["taiwan"]])
    live = np.ones(first.n_rows + 1, dtype=bool)
    live[0] = False
    rows, counts = Corpus((first, second), live).postings("taiwan")
    assert rows.tolist() == [1, 5, 6]
    assert counts.tolist() == [1.0, 2.0, 1.0]
    assert Corpus((first, second), live).postings("nowhere")[0].size == 0


def test_no_live_row_scores_nothing() -> None:
    seg = Postings.build(DOCS)
    assert not Corpus((seg,), np.zeros(seg.n_rows, dtype=bool)).scores(["taiwan"]).any()
    assert Corpus((Postings.empty(),), np.zeros(0, dtype=bool)).scores(["taiwan"]).size == 0


def test_building_in_blocks_counts_as_building_at_once(monkeypatch) -> None:
    import rag.lexical.bm25

    whole = Postings.build(DOCS * 5)
    monkeypatch.setattr(rag.lexical.bm25, "_BLOCK", 4)
    blocks = Postings.build(DOCS * 5)
    assert whole.vocab == blocks.vocab
    for name in ("indptr", "rows", "counts", "lengths"):
        assert np.array_equal(getattr(whole, name), getattr(blocks, name)), name
