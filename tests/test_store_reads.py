"""rag/store/reads.py through ReadoutStore: exact passages back, filters, listing, vectors."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from rag.config import Settings
from rag.lexical import LexicalIndex
from rag.schema import Filters, Readout
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings
from tests.samples import EG, KG, US, ask, put
from tests.support import chunk_rows


def test_dense_search_returns_exact_passages(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, EG, US)
    top = ask(fake_store, "Kyrgyzstan Taiwan Xinjiang")[0]
    assert top.doc_id == "xi-japarov"
    assert KG.text[top.start : top.end] == top.text
    assert "Kyrgyzstan supports China" in top.text
    assert (top.title, top.date) == ("Xi Japarov call", "2021-02-22")
    assert 0 < top.score <= 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(languages=("fr",)), {"xi-sisi"}),
        (Filters(languages=("en", "fr")), {"xi-japarov", "xi-sisi", "biden-xi"}),
        (Filters(languages=("de",)), set()),
        (Filters(languages=("en",), since="2021-02-20"), {"xi-japarov"}),
        (Filters(languages=("en",), sources=("White House",)), {"biden-xi"}),
        (Filters(since="2021-02-20"), {"xi-japarov", "xi-sisi"}),
        (Filters(until="2021-02-15"), {"biden-xi"}),
        (Filters(countries=("KG",)), {"xi-japarov"}),
        (Filters(countries=("CN", "US")), {"biden-xi"}),
        (Filters(sources=("White House",)), {"biden-xi"}),
        (Filters(doc_ids=("xi-sisi",)), {"xi-sisi"}),
    ],
)
def test_filters_restrict_dense_search(
    fake_store: ReadoutStore, filters: Filters, expected: set[str]
) -> None:
    put(fake_store, KG, EG, US)
    assert {p.doc_id for p in ask(fake_store, "Xi Jinping", filters, k=20)} == expected


@pytest.mark.parametrize(
    "filters",
    [Filters(since="2021-02-20", languages=("en",)), Filters(countries=("CN", "US")),
     Filters(sources=("Xinhua",)), Filters(until="2020-01-01")],
)
def test_search_among_the_lexical_index_ids_equals_chromas_filter(
    fake_store: ReadoutStore, settings: Settings, filters: Filters
) -> None:
    """The retriever hands the ids its in-memory columns allow to Chroma instead of the
    filter: the same passages must come back."""
    put(fake_store, KG, EG, US)
    vector = fake_store.embeddings.embed_query("Xi Jinping")
    lexical = LexicalIndex(fake_store, settings.store_dir)
    lexical.sync()
    ids = lexical.matching_ids(filters)
    by_ids = fake_store.dense_vectors(vector, 20, filters, within=ids)
    by_filter = fake_store.dense_vectors(vector, 20, filters)
    assert [p.chunk_id for p, _ in by_ids] == [p.chunk_id for p, _ in by_filter]
    assert all(KG.text[p.start : p.end] == p.text for p, _ in by_ids if p.doc_id == KG.doc_id)


def test_offsets_from_the_lexical_index_cut_the_same_passages_as_chunk_metadata(
    fake_store: ReadoutStore, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retriever gives the store the chunks' offsets from the lexical index, so that
    Chroma's metadata, which costs more than the search, is not read; a chunk the index
    does not know yet (written since its last sync) is read from its metadata."""
    put(fake_store, KG, EG, US)
    lexical = LexicalIndex(fake_store, settings.store_dir)
    lexical.sync()
    vector = fake_store.embeddings.embed_query("Xi Jinping Taiwan")
    plain = fake_store.dense_vectors(vector, 20, Filters())
    included = _queries(monkeypatch, "include")
    known = fake_store.dense_vectors(vector, 20, Filters(), offsets=lexical.offsets)
    assert [(p, v.tolist()) for p, v in known] == [(p, v.tolist()) for p, v in plain]
    assert included
    assert not any("metadatas" in str(include) for _, include in included)
    unknown = fake_store.dense_vectors(vector, 20, Filters(), offsets=lambda ids: {})
    assert [p for p, _ in unknown] == [p for p, _ in plain]
    bm25 = [(p.chunk_id, p.language) for p, _ in plain]
    assert ([p for p, _ in fake_store.passage_vectors(bm25, lexical.offsets)]
            == [p for p, _ in fake_store.passage_vectors(bm25)])


def test_several_searches_at_once_find_what_each_finds_alone(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, EG, US)
    vector = fake_store.embeddings.embed_query("Xi Jinping")
    ids = [cid for cid, _, _ in fake_store.iter_chunks() if cid.startswith("xi-japarov")]
    searches: list[tuple[Filters, list[str] | None]] = [
        (Filters(languages=("en",)), None), (Filters(languages=("fr",)), None),
        (Filters(languages=("en",)), ids), (Filters(languages=("de",)), None)]
    together = fake_store.dense_vectors_many(vector, 3, searches)
    alone = [fake_store.dense_vectors(vector, 3, f, within) for f, within in searches]
    assert [[p for p, _ in found] for found in together] == [[p for p, _ in found]
                                                            for found in alone]
    english, french, within, german = together
    assert {p.language for p, _ in english} == {"en"}
    assert {p.language for p, _ in french} == {"fr"}
    assert sorted(p.chunk_id for p, _ in within) == sorted(ids)
    assert german == []


def test_a_passage_of_an_older_version_is_never_shown(fake_store: ReadoutStore) -> None:
    put(fake_store, KG)
    old = ask(fake_store, "Taiwan", k=1)[0]
    changed = Readout(**{**KG.__dict__, "text": "Xi Jinping and Japarov discussed railways."})
    put(fake_store, changed)
    assert fake_store.passage_vectors([(old.chunk_id, "en")]) == []
    new = ask(fake_store, "railways", k=1)[0]
    [(again, vector)] = fake_store.passage_vectors([(new.chunk_id, "en")])
    assert again.text == changed.text[new.start : new.end] == new.text
    assert vector.shape == (len(fake_store.embeddings.embed_query("x")),)


def test_full_text_and_listing(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, US)
    assert fake_store.get_readout("xi-japarov") == KG
    assert fake_store.get_readout("missing") is None
    assert [i.doc_id for i in fake_store.list_readouts()] == ["biden-xi", "xi-japarov"]
    assert fake_store.count() == 2


def test_iter_chunks_gives_each_committed_chunk_with_its_exact_text(
    fake_store: ReadoutStore,
) -> None:
    put(fake_store, KG, EG)
    rows = list(fake_store.iter_chunks())
    assert Counter(meta["doc_id"] for _, _, meta in rows) == {"xi-japarov": 1, "xi-sisi": 1}
    for _, text, meta in rows:
        readout = {"xi-japarov": KG, "xi-sisi": EG}[meta["doc_id"]]
        assert text == readout.text[meta["start"] : meta["end"]]
        assert (meta["title"], meta["language"]) == (readout.title, readout.language)


def test_language_centroids_are_each_languages_mean_vector(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, EG, US)
    centroids = fake_store.language_centroids()
    assert set(centroids) == {"en", "fr"}
    got = chunk_rows(fake_store, include=["metadatas", "embeddings"])
    english = [v for v, m in zip(got["embeddings"], got["metadatas"], strict=True)
               if m["language"] == "en"]
    assert np.allclose(centroids["en"], np.mean(english, axis=0), atol=1e-6)


def _queries(monkeypatch: pytest.MonkeyPatch, argument: str = "where"
             ) -> list[tuple[str, object]]:
    """Every Chroma query from now on, as (collection name, its ``argument``)."""
    seen: list[tuple[str, object]] = []
    query = Collection.query

    def spy(self: Collection, *args: object, **kwargs: object) -> object:
        seen.append((self.name, kwargs.get(argument)))
        return query(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Collection, "query", spy)
    return seen


def test_a_language_filter_searches_only_that_languages_collection(
    fake_store: ReadoutStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(fake_store, KG, EG, US)
    seen = _queries(monkeypatch)
    found = ask(fake_store, "Xi Jinping", Filters(languages=("fr",)), k=10)
    assert {p.doc_id for p in found} == {"xi-sisi"}
    assert seen == [("readouts-fake-hash-vectors-fr", None)]  # no where clause at all
    seen.clear()
    found = ask(fake_store, "Xi Jinping", Filters(languages=("en",), sources=("Xinhua",)), k=10)
    assert {p.doc_id for p in found} == {"xi-japarov"}
    assert {name for name, _ in seen} == {"readouts-fake-hash-vectors-en"}
    assert all("language" not in str(where) for _, where in seen)
    seen.clear()
    assert ask(fake_store, "Xi Jinping", Filters(languages=("de",)), k=10) == []
    assert seen == []  # no German collection: nothing to ask


def test_an_unfiltered_search_merges_every_language_by_distance(
    fake_store: ReadoutStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(fake_store, KG, EG, US)
    vector = fake_store.embeddings.embed_query("Xi Jinping Kyrgyzstan Egypt")
    per_language = [p for code in ("en", "fr")
                    for p in fake_store.dense_search(vector, 10, Filters(languages=(code,)))]
    seen = _queries(monkeypatch)
    merged = fake_store.dense_search(vector, 2, Filters())
    assert sorted(name for name, _ in seen) == [
        "readouts-fake-hash-vectors-en", "readouts-fake-hash-vectors-fr"]
    best = sorted(per_language, key=lambda p: -p.score)[:2]
    assert [p.chunk_id for p in merged] == [p.chunk_id for p in best]
    assert [p.score for p in merged] == sorted((p.score for p in merged), reverse=True)
    everything = fake_store.dense_search(vector, 10, Filters())
    assert {p.language for p in everything} == {"en", "fr"}


def test_ids_within_several_languages_are_asked_of_each(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, EG, US)
    ids = [cid for cid, _, _ in fake_store.iter_chunks()]
    vector = fake_store.embeddings.embed_query("Xi Jinping")
    found = fake_store.dense_vectors(vector, 10, Filters(), within=ids)
    assert sorted(p.chunk_id for p, _ in found) == sorted(ids)
    french = [cid for cid in ids if cid.startswith("xi-sisi")]
    assert [p.chunk_id for p, _ in fake_store.dense_vectors(vector, 10, Filters(),
                                                           within=french)] == french
    assert fake_store.dense_vectors(vector, 10, Filters(), within=[]) == []



def test_a_language_another_store_wrote_first_is_found_after_catching_up(
    fake_store: ReadoutStore, settings: Settings
) -> None:
    put(fake_store, KG)
    reader = ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)
    reader.catch_up()
    put(fake_store, EG)  # the reader has never seen a French collection
    assert "fr" not in reader.vector_collections
    reader.catch_up()
    assert {p.doc_id for p in ask(reader, "Xi Jinping", Filters(languages=("fr",)))} == {
        "xi-sisi"}
    assert {p.language for p in ask(reader, "Xi Jinping", k=10)} == {"en", "fr"}


def test_changes_since_names_the_readouts_written_and_removed_after_a_time(
    fake_store: ReadoutStore,
) -> None:
    put(fake_store, KG, EG)
    since = time.time()
    put(fake_store, US)
    put(fake_store, replace(KG, text=KG.text + " More."))
    fake_store.remove("xi-sisi")
    changed, removed = fake_store.changes_since(since)
    assert set(changed) == {"biden-xi", "xi-japarov"}
    assert changed["xi-japarov"]["hash"] == fake_store.committed_hashes()["xi-japarov"]["hash"]
    assert removed == ["xi-sisi"]
    put(fake_store, EG)  # back again: changed, no longer removed
    changed, removed = fake_store.changes_since(since)
    assert "xi-sisi" in changed
    assert removed == []
    assert fake_store.changes_since(time.time() + 60) == ({}, [])
