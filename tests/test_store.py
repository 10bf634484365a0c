"""The Chroma store: exact passages back, filters, removal, crash repair, clear mismatches."""

from __future__ import annotations

import pytest

from ingest.chunking import chunk_readout
from rag.config import Settings
from rag.errors import StoreError, StoreMismatchError
from rag.lexical import LexicalIndex
from rag.schema import Filters, Readout
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings

KG = Readout(
    doc_id="xi-japarov", title="Xi Japarov call", date="2021-02-22", language="en",
    source="Xinhua", countries=("CN", "KG"),
    text="Xi Jinping spoke with Sadyr Japarov.\nKyrgyzstan supports China on Taiwan and "
         "Xinjiang.\nBoth sides will deepen vaccine cooperation.",
)
EG = Readout(
    doc_id="xi-sisi", title="Xi Sisi call", date="2021-02-22", language="fr",
    source="Xinhua", countries=("CN", "EG"),
    text="Xi Jinping a parlé avec Abdel Fattah al-Sisi.\nL'Égypte soutient la Chine.",
)
US = Readout(
    doc_id="biden-xi", title="Biden Xi call", date="2021-02-10", language="en",
    source="White House", countries=("CN", "US"),
    text="President Biden spoke with President Xi Jinping about Taiwan and trade.",
)


def _put(store: ReadoutStore, *readouts: Readout) -> None:
    for r in readouts:
        store.write_readout(r, chunk_readout(r, 700))


def _ask(store: ReadoutStore, question: str, filters: Filters = Filters(), k: int = 5):
    return store.dense_search(store.embeddings.embed_query(question), k, filters)


def test_dense_search_returns_exact_passages(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG, EG, US)
    top = _ask(fake_store, "Kyrgyzstan Taiwan Xinjiang")[0]
    assert top.doc_id == "xi-japarov"
    assert KG.text[top.start : top.end] == top.text
    assert "Kyrgyzstan supports China" in top.text
    assert (top.title, top.date) == ("Xi Japarov call", "2021-02-22")
    assert 0 < top.score <= 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(languages=("fr",)), {"xi-sisi"}),
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
    _put(fake_store, KG, EG, US)
    assert {p.doc_id for p in _ask(fake_store, "Xi Jinping", filters, k=20)} == expected


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
    _put(fake_store, KG, EG, US)
    vector = fake_store.embeddings.embed_query("Xi Jinping")
    lexical = LexicalIndex(fake_store, settings.store_dir)
    lexical.sync()
    ids = lexical.matching_ids(filters)
    by_ids = fake_store.dense_vectors(vector, 20, filters, within=ids)
    by_filter = fake_store.dense_vectors(vector, 20, filters)
    assert [p.chunk_id for p, _ in by_ids] == [p.chunk_id for p, _ in by_filter]
    assert all(KG.text[p.start : p.end] == p.text for p, _ in by_ids if p.doc_id == KG.doc_id)


def test_a_passage_of_an_older_version_is_never_shown(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG)
    old = fake_store.dense_search(fake_store.embeddings.embed_query("Taiwan"), 1, Filters())[0]
    changed = Readout(**{**KG.__dict__, "text": "Xi Jinping and Japarov discussed railways."})
    _put(fake_store, changed)
    assert fake_store.passage_vectors([(old.chunk_id, "en")]) == []
    new = fake_store.dense_search(fake_store.embeddings.embed_query("railways"), 1, Filters())[0]
    [(again, vector)] = fake_store.passage_vectors([(new.chunk_id, "en")])
    assert again.text == changed.text[new.start : new.end] == new.text
    assert vector.shape == (len(fake_store.embeddings.embed_query("x")),)


def test_full_text_and_listing(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG, US)
    assert fake_store.get_readout("xi-japarov") == KG
    assert fake_store.get_readout("missing") is None
    assert [i.doc_id for i in fake_store.list_readouts()] == ["biden-xi", "xi-japarov"]
    assert fake_store.count() == 2


def test_update_replaces_all_chunks(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG)
    changed = Readout(**{**KG.__dict__, "text": "Xi Jinping and Japarov discussed railways."})
    _put(fake_store, changed)
    ids = fake_store.chunks.get()["ids"]
    assert len(ids) == 1
    assert ids[0].startswith(f"xi-japarov:{changed.content_hash[:12]}")
    assert fake_store.get_readout("xi-japarov").text == changed.text


def test_remove_deletes_text_and_chunks(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG, US)
    generation = fake_store.generation()
    assert fake_store.remove("xi-japarov") is True
    assert fake_store.remove("xi-japarov") is False
    assert fake_store.get_readout("xi-japarov") is None
    assert all(p.doc_id == "biden-xi" for p in _ask(fake_store, "Kyrgyzstan", k=10))
    assert fake_store.generation() != generation


def test_repair_undoes_a_half_written_new_readout(fake_store: ReadoutStore) -> None:
    """A run killed after writing chunks but before the commit leaves nothing visible."""
    _put(fake_store, US)
    fake_store._mark_dirty(KG.doc_id)
    chunks = chunk_readout(KG, 700)
    fake_store.chunks.add_texts(
        [c.embed_text for c in chunks],
        metadatas=[{"doc_id": KG.doc_id, "hash": KG.content_hash, "date_int": 0, "start": 0,
                    "end": 1, "offset": 0, "title": "", "date": "", "language": "en",
                    "source": "", "url": ""} for c in chunks],
        ids=[c.chunk_id for c in chunks],
    )
    assert all(p.doc_id == "biden-xi" for p in _ask(fake_store, "Kyrgyzstan Taiwan", k=10))
    assert fake_store.repair() == 1
    assert len(fake_store.chunks.get()["ids"]) == len(chunk_readout(US, 700))
    assert [i.doc_id for i in fake_store.list_readouts()] == ["biden-xi"]


def test_repair_keeps_the_old_version_of_an_interrupted_update(fake_store: ReadoutStore) -> None:
    _put(fake_store, KG)
    changed = Readout(**{**KG.__dict__, "text": "Entirely new text about railways."})
    fake_store._mark_dirty(KG.doc_id)
    new_chunks = chunk_readout(changed, 700)
    fake_store.chunks.add_texts(
        [c.embed_text for c in new_chunks],
        metadatas=[{"doc_id": KG.doc_id, "hash": changed.content_hash, "date_int": 0} for _ in
                   new_chunks],
        ids=[c.chunk_id for c in new_chunks],
    )
    assert fake_store.repair() == 1
    assert fake_store.get_readout("xi-japarov") == KG
    assert {m["hash"] for m in fake_store.chunks.get()["metadatas"]} == {KG.content_hash}


def test_another_embedder_gets_its_own_collections(settings: Settings) -> None:
    first = ReadoutStore(settings, HashingEmbeddings())
    _put(first, KG)

    class Other(HashingEmbeddings):
        key = "other-model"

    second = ReadoutStore(settings, Other(), client=first.client)
    assert second.count() == 0
    assert second.other_embedders() == ["fake-hash"]


def test_a_store_of_another_format_is_refused(fake_store: ReadoutStore, settings) -> None:
    fake_store.chunks._collection.modify(metadata={"format": "0"})
    with pytest.raises(StoreMismatchError, match="another version of Readouts"):
        ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)


def test_unreachable_server_gives_a_clear_error(tmp_path) -> None:
    settings = Settings(store_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=9)
    with pytest.raises(StoreError, match="Cannot reach the Chroma server at 127.0.0.1:9"):
        ReadoutStore(settings, HashingEmbeddings())


def test_second_writer_is_refused_with_a_clear_message(fake_store, monkeypatch) -> None:
    monkeypatch.setattr("rag.store.LOCK_WAIT_S", 0.3)
    with (
        fake_store.exclusive(),
        pytest.raises(StoreError, match="Another process is writing"),
        fake_store.exclusive(),
    ):
        pass
