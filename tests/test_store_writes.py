"""rag/store/writes.py through ReadoutStore: one row per chunk, updates, removal, repair."""

from __future__ import annotations

import numpy as np

from ingest.chunking import chunk_readout
from rag.config import Settings
from rag.schema import Filters, Readout
from rag.store import ReadoutStore
from rag.store.schema import CHUNK_KEYS
from tests.fakes import HashingEmbeddings
from tests.samples import EG, KG, US, ask, put
from tests.support import assert_consistent, chunk_rows


def test_each_chunk_is_one_row_with_its_vector_and_filter_metadata(
    fake_store: ReadoutStore,
) -> None:
    put(fake_store, KG, EG, US)
    names = [c.name for c in fake_store.client.list_collections()]
    assert sorted(names) == sorted(
        f"readouts-fake-hash-{s}" for s in ("vectors-en", "vectors-fr", "docs", "state"))
    got = chunk_rows(fake_store, include=["metadatas", "embeddings", "documents"])
    assert len(got["ids"]) == len(set(got["ids"])) == 3
    assert got["documents"] == [None] * 3  # texts are cut from the readouts, never stored twice
    by_id = dict(zip(got["ids"], got["metadatas"], strict=True))
    meta = by_id[chunk_readout(KG, 700)[0].chunk_id]
    assert set(meta) == {*CHUNK_KEYS, "c_CN", "c_KG"}
    assert (meta["language"], meta["date_int"], meta["source"]) == ("en", 20210222, "Xinhua")
    stored = np.asarray(got["embeddings"][got["ids"].index(chunk_readout(KG, 700)[0].chunk_id)])
    expected = fake_store.embeddings.embed_documents([chunk_readout(KG, 700)[0].embed_text])[0]
    assert np.allclose(stored, expected, atol=1e-6)


def test_update_replaces_all_chunks(fake_store: ReadoutStore) -> None:
    put(fake_store, KG)
    changed = Readout(**{**KG.__dict__, "text": "Xi Jinping and Japarov discussed railways."})
    put(fake_store, changed)
    ids = chunk_rows(fake_store)["ids"]
    assert len(ids) == 1
    assert ids[0].startswith(f"xi-japarov:{changed.content_hash[:12]}")
    assert fake_store.get_readout("xi-japarov").text == changed.text


def test_remove_deletes_text_and_chunks(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, US)
    generation = fake_store.generation()
    assert fake_store.remove("xi-japarov") is True
    assert fake_store.remove("xi-japarov") is False
    assert fake_store.get_readout("xi-japarov") is None
    assert all(p.doc_id == "biden-xi" for p in ask(fake_store, "Kyrgyzstan", k=10))
    assert chunk_rows(fake_store, where={"doc_id": "xi-japarov"})["ids"] == []
    assert fake_store.generation() != generation


def _stage_chunks(store: ReadoutStore, readout: Readout, **meta: object) -> None:
    """Chunks written as a killed run leaves them: before their readout's commit."""
    chunks = chunk_readout(readout, 700)
    store.collections.for_language(str(meta.get("language", "en"))).add(
        ids=[c.chunk_id for c in chunks],
        embeddings=store.embeddings.embed_documents([c.embed_text for c in chunks]),
        metadatas=[{"doc_id": readout.doc_id, "hash": readout.content_hash, "index": c.index,
                    "start": c.start, "end": c.end, "date_int": 0, "language": "en",
                    "source": "", **meta} for c in chunks],  # type: ignore[arg-type]
    )


def test_repair_undoes_a_half_written_new_readout(fake_store: ReadoutStore) -> None:
    """A run killed after writing chunks but before the commit leaves nothing visible."""
    put(fake_store, US)
    fake_store._mark_dirty(KG.doc_id)
    _stage_chunks(fake_store, KG)
    assert all(p.doc_id == "biden-xi" for p in ask(fake_store, "Kyrgyzstan Taiwan", k=10))
    assert fake_store.repair() == 1
    assert len(chunk_rows(fake_store)["ids"]) == len(chunk_readout(US, 700))
    assert [i.doc_id for i in fake_store.list_readouts()] == ["biden-xi"]


def test_repair_keeps_the_old_version_of_an_interrupted_update(fake_store: ReadoutStore) -> None:
    put(fake_store, KG)
    changed = Readout(**{**KG.__dict__, "text": "Entirely new text about railways."})
    fake_store._mark_dirty(KG.doc_id)
    _stage_chunks(fake_store, changed)
    assert fake_store.repair() == 1
    assert fake_store.get_readout("xi-japarov") == KG
    assert {m["hash"] for m in chunk_rows(fake_store)["metadatas"]} == {KG.content_hash}


def test_repair_drops_orphan_chunks_of_a_readout_never_recorded(fake_store: ReadoutStore) -> None:
    put(fake_store, US)
    _stage_chunks(fake_store, KG)  # no readout record at all: writers that raced
    assert fake_store.repair() == 1
    assert {m["doc_id"] for m in chunk_rows(fake_store)["metadatas"]} == {"biden-xi"}


def _languages_of(store: ReadoutStore, doc_id: str) -> dict[str, int]:
    """language collection -> how many chunks of ``doc_id`` it holds."""
    return {code: n for code, c in store.vector_collections.items()
            if (n := len(c.get(where={"doc_id": doc_id})["ids"]))}


def test_an_update_that_changes_the_language_leaves_no_stale_chunk(
    fake_store: ReadoutStore, settings: Settings,
) -> None:
    put(fake_store, KG, EG)
    assert _languages_of(fake_store, KG.doc_id) == {"en": 1}
    in_french = Readout(**{**KG.__dict__, "language": "fr",
                           "text": "Xi Jinping et Sadyr Japarov ont parlé de chemins de fer."})
    put(fake_store, in_french)
    assert _languages_of(fake_store, KG.doc_id) == {"fr": 1}
    [chunk] = chunk_readout(in_french, 700)  # found even when asked under its old language
    [(passage, _)] = fake_store.passage_vectors([(chunk.chunk_id, "en")])
    assert (passage.language, passage.text) == ("fr", in_french.text[chunk.start : chunk.end])
    assert fake_store.dense_search(fake_store.embeddings.embed_query("Japarov"), 5,
                                   Filters(languages=("en",))) == []
    assert_consistent(fake_store, settings.store_dir)
    # ... also when another store wrote a version in a language that this one has never
    # opened: it must still find the stale chunks there.
    put(fake_store, KG)
    other = ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)
    put(other, Readout(**{**KG.__dict__, "language": "de", "text": "Xi und Japarov."}))
    assert "de" not in fake_store.vector_collections
    put(fake_store, in_french)
    assert _languages_of(fake_store, KG.doc_id) == {"fr": 1}
    assert_consistent(fake_store, settings.store_dir)


def test_remove_and_repair_reach_every_language(fake_store: ReadoutStore) -> None:
    put(fake_store, KG, EG, US)
    assert fake_store.remove_many(["xi-sisi", "xi-japarov"]) == ["xi-sisi", "xi-japarov"]
    assert {m["doc_id"] for m in chunk_rows(fake_store)["metadatas"]} == {"biden-xi"}
    _stage_chunks(fake_store, EG, language="fr")  # an orphan in French
    assert fake_store.repair() == 1
    assert {m["doc_id"] for m in chunk_rows(fake_store)["metadatas"]} == {"biden-xi"}
