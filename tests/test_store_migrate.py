"""rag/store/migrate.py: a store written in format 1 (every chunk twice) opens in today's
layout, each vector copied once, nothing embedded again, every readout still answerable."""

from __future__ import annotations

import numpy as np
import pytest
from chromadb.api.models.Collection import Collection

from rag.config import Settings
from rag.errors import StoreError, StoreMismatchError
from rag.schema import Filters, Readout
from rag.store import ReadoutStore, open_client
from rag.store.schema import Names
from tests.fakes import HashingEmbeddings
from tests.legacy import write_format_1
from tests.samples import EG, KG, US
from tests.support import assert_consistent

MORE = [
    Readout(doc_id=f"call-{i}", title=f"Call {i}", date=f"2022-03-{i + 1:02d}",
            language=("en", "fr", "zh")[i % 3], source="Xinhua", countries=("CN",),
            text=f"Leaders discussed topic{i} and project{i}. " * 40)
    for i in range(12)
]
READOUTS = [KG, EG, US, *MORE]


def _legacy_store(settings: Settings) -> tuple[int, dict[str, np.ndarray]]:
    """A format-1 store of READOUTS; its chunk count and vectors by chunk id."""
    client = open_client(settings)
    total = write_format_1(client, HashingEmbeddings(), READOUTS, max_chars=300)
    old = client.get_collection(Names.of("fake-hash").legacy_chunks, embedding_function=None)
    got = old.get(include=["embeddings"])
    return total, dict(zip(got["ids"], np.asarray(got["embeddings"]), strict=True))


def test_a_format_1_store_is_migrated_without_embedding_anything_again(
    settings: Settings,
) -> None:
    total, old_vectors = _legacy_store(settings)
    assert total > len(READOUTS)  # several chunks per long readout
    embeddings = HashingEmbeddings()
    store = ReadoutStore(settings, embeddings)
    assert embeddings.calls == 0  # no passage embedded: vectors were copied
    names = sorted(c.name for c in store.client.list_collections())
    assert names == sorted(f"readouts-fake-hash-{s}" for s in (
        "docs", "state", "vectors-en", "vectors-fr", "vectors-zh"))
    language_of = {r.doc_id: r.language for r in READOUTS}
    copied: list[str] = []
    for code, collection in store.vector_collections.items():  # each in its language's
        assert collection.configuration["hnsw"]["space"] == "cosine"
        got = collection.get(include=["embeddings", "metadatas"])
        assert {language_of[m["doc_id"]] for m in got["metadatas"]} == {code}
        assert {m["language"] for m in got["metadatas"]} == {code}
        for cid, vector in zip(got["ids"], got["embeddings"], strict=True):
            assert np.allclose(vector, old_vectors[cid], atol=1e-6)  # float32 copy
        copied += got["ids"]
    assert sorted(copied) == sorted(old_vectors)  # each vector once
    meta = store.collections.docs.metadata
    assert (meta["format"], meta["embedder"]) == ("2", "fake-hash")
    assert not [k for k in meta if k.startswith("hnsw:")]
    for readout in READOUTS:  # every readout answerable, in its language too
        assert store.get_readout(readout.doc_id) == readout
        vector = embeddings.embed_query(readout.text[:200])
        assert store.dense_search(vector, 1, Filters())[0].doc_id == readout.doc_id
        in_language = store.dense_search(vector, 1, Filters(languages=(readout.language,)))
        assert in_language[0].doc_id == readout.doc_id
    assert embeddings.calls == 0
    assert_consistent(store, settings.store_dir)
    again = ReadoutStore(settings, embeddings)  # opening again finds nothing to migrate
    assert sum(c.count() for c in again.vector_collections.values()) == total


def test_an_interrupted_migration_is_finished_by_the_next_open(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    total, _ = _legacy_store(settings)
    monkeypatch.setattr("rag.store.reads.PAGE", 5)
    calls = {"n": 0}
    upsert = Collection.upsert

    def dies_on_the_third(self: Collection, *args, **kwargs):  # noqa: ANN002, ANN003
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # as a kill would stop it, between two pages
        return upsert(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "upsert", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        ReadoutStore(settings, HashingEmbeddings())
    monkeypatch.setattr(Collection, "upsert", upsert)
    names = {c.name for c in open_client(settings).list_collections()}
    assert "readouts-fake-hash-chunks" in names  # not finished: still there
    store = ReadoutStore(settings, HashingEmbeddings())
    assert sum(c.count() for c in store.vector_collections.values()) == total
    assert_consistent(store, settings.store_dir)


def test_a_format_1_store_of_another_model_is_refused_not_copied(settings: Settings) -> None:
    write_format_1(open_client(settings), HashingEmbeddings(), [KG], probe="256:0.9,0.9")
    with pytest.raises(StoreMismatchError, match="different model"):
        ReadoutStore(settings, HashingEmbeddings())
    rebuilt = ReadoutStore(settings, HashingEmbeddings(), rebuild=True)
    assert rebuilt.is_empty()
    assert sorted(c.name for c in rebuilt.client.list_collections()) == sorted(
        f"readouts-fake-hash-{s}" for s in ("docs", "state"))


def test_an_older_format_than_1_is_refused(settings: Settings) -> None:
    client = open_client(settings)
    write_format_1(client, HashingEmbeddings(), [KG])
    old = client.get_collection("readouts-fake-hash-chunks", embedding_function=None)
    old.modify(metadata={"format": "0"})
    with pytest.raises(StoreError, match="another version of Readouts"):
        ReadoutStore(settings, HashingEmbeddings())


def test_migration_waits_for_another_writer(settings: Settings, monkeypatch) -> None:
    from rag.store import writer_lock

    monkeypatch.setattr("rag.store.locks.LOCK_WAIT_S", 0.3)
    _legacy_store(settings)
    other = Settings(store_dir=settings.store_dir)
    with writer_lock(other):  # held by this process: migration proceeds inside it (the CLI)
        assert ReadoutStore(settings, HashingEmbeddings()).count() == len(READOUTS)
