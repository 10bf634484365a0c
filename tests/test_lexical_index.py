"""rag/lexical/index.py on a real store: a large store's index follows each change with a
delta, scores as a fresh build would, and hands its build to the next process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

import rag.lexical.index
from rag.config import Settings
from rag.lexical import LexicalIndex
from rag.schema import Filters
from rag.store import ReadoutStore
from tests.samples import EG, KG, US, put

QUESTIONS = ["Taiwan", "Kyrgyzstan Xinjiang vaccine", "Xi Jinping", "trade Taiwan Biden",
             "Égypte Chine", "Kunming biodiversity"]


@pytest.fixture
def large(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every full build counts as slow: the index follows changes with deltas."""
    monkeypatch.setattr(rag.lexical.index, "INLINE_BUILD_S", -1.0)
    monkeypatch.setattr(rag.lexical.index, "REBUILD_GAP", 1e9)  # no background build


class Reads:
    """Counts the store's full scans (``iter_chunks()`` without readouts)."""

    def __init__(self, store: ReadoutStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = 0
        inner = store.iter_chunks

        def counted(doc_ids=None) -> Iterator:
            self.full += doc_ids is None
            yield from inner(doc_ids)

        monkeypatch.setattr(store, "iter_chunks", counted)


def _results(index: LexicalIndex) -> dict[str, list[tuple[str, float]]]:
    return {q: [(h.chunk_id, round(h.score, 4)) for h in index.search(q, 10, Filters())]
            for q in QUESTIONS}


def _fresh(store: ReadoutStore, tmp_path: Path) -> LexicalIndex:
    index = LexicalIndex(store, tmp_path / "fresh")
    index.sync()
    return index


@pytest.mark.usefixtures("large")
def test_changes_are_followed_without_a_full_scan_and_score_as_a_fresh_build(
    fake_store: ReadoutStore, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put(fake_store, KG, EG)
    index = LexicalIndex(fake_store, settings.store_dir)
    index.sync()
    reads = Reads(fake_store, monkeypatch)
    put(fake_store, US)  # added
    put(fake_store, replace(KG, text=KG.text.replace("vaccine", "Kunming biodiversity")))
    fake_store.remove("xi-sisi")
    assert index.sync()
    assert reads.full == 0
    assert index.search("Kunming", 5, Filters())[0].chunk_id.startswith("xi-japarov")
    assert index.search("vaccine", 5, Filters()) == []  # the old version's words are gone
    assert index.search("Égypte", 5, Filters()) == []
    assert index.readouts_naming([("Sisi",)]) == []
    assert index.matching_ids(Filters(languages=("fr",))) == []
    assert index.language_counts() == {"en": 2}
    fresh = _fresh(fake_store, tmp_path)
    assert sorted(index.chunk_ids) == sorted(fresh.chunk_ids)
    assert _results(index) == _results(fresh)
    assert index.offsets(index.chunk_ids) == _stored_offsets(fake_store)


@pytest.mark.usefixtures("large")
def test_the_next_process_starts_from_the_saved_build_and_catches_up(
    fake_store: ReadoutStore, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put(fake_store, KG, EG)
    LexicalIndex(fake_store, settings.store_dir).sync()  # builds and saves
    put(fake_store, US)
    fake_store.remove("xi-japarov")
    reads = Reads(fake_store, monkeypatch)
    later = LexicalIndex(fake_store, settings.store_dir)
    assert later.sync()
    assert reads.full == 0  # the saved build, then the two changes
    assert _results(later) == _results(_fresh(fake_store, tmp_path))
    assert later.offsets(later.chunk_ids) == _stored_offsets(fake_store)


def _stored_offsets(store: ReadoutStore) -> dict[str, tuple[int, int]]:
    """Each committed chunk's (start, end) as its metadata in the store says."""
    return {cid: (int(meta["start"]), int(meta["end"]))
            for cid, _, meta in store.iter_chunks()}


def test_a_small_store_is_rebuilt_and_scores_the_same(
    fake_store: ReadoutStore, settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    put(fake_store, KG, EG)
    index = LexicalIndex(fake_store, settings.store_dir)
    index.sync()
    reads = Reads(fake_store, monkeypatch)
    put(fake_store, US)
    assert index.sync()
    assert reads.full == 1
    assert _results(index) == _results(_fresh(fake_store, tmp_path))


@pytest.mark.usefixtures("large")
def test_a_store_started_again_is_not_updated_from_the_old_build(
    fake_store: ReadoutStore, settings: Settings, monkeypatch: pytest.MonkeyPatch,
) -> None:
    put(fake_store, KG, EG)
    LexicalIndex(fake_store, settings.store_dir).sync()
    fake_store.reset()  # ingest --rebuild: another store under the same name
    put(fake_store, US)
    reads = Reads(fake_store, monkeypatch)
    index = LexicalIndex(fake_store, settings.store_dir)
    index.sync()
    assert reads.full == 1
    assert index.search("Kyrgyzstan", 5, Filters()) == []
    assert index.search("Biden", 5, Filters())


def test_an_unreadable_saved_build_is_rebuilt(
    fake_store: ReadoutStore, settings: Settings
) -> None:
    put(fake_store, KG)
    index = LexicalIndex(fake_store, settings.store_dir)
    index.sync()
    (index.cache_dir / "rows.json").write_text("{not json", encoding="utf-8")
    again = LexicalIndex(fake_store, settings.store_dir)
    again.sync()
    assert again.search("Kyrgyzstan", 5, Filters())


def test_a_word_fewer_passages_hold_says_more_and_an_unknown_word_the_most(
    fake_store: ReadoutStore, settings: Settings
) -> None:
    put(fake_store, KG, EG, US)
    index = LexicalIndex(fake_store, settings.store_dir)
    index.sync()
    xi, taiwan, kyrgyzstan, whaling = index.rarity(["xi", "taiwan", "kyrgyzstan", "whaling"])
    assert xi < taiwan < kyrgyzstan < whaling  # in all three readouts, two, one, none
