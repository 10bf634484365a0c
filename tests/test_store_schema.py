"""rag/store/schema.py and the opening checks: names per embedder, cosine space, format."""

from __future__ import annotations

import re

import pytest

from rag.config import Settings
from rag.errors import StoreMismatchError
from rag.store import FORMAT_VERSION, ReadoutStore, open_client
from rag.store.schema import Names, probe_string, same_probe
from tests.fakes import HashingEmbeddings
from tests.samples import EG, KG, put


def test_language_collections_use_cosine_and_the_docs_collection_holds_the_format(
    fake_store: ReadoutStore,
) -> None:
    assert fake_store.vector_collections == {}  # created at the first write of a language
    put(fake_store, KG, EG)
    collections = fake_store.vector_collections
    assert sorted(collections) == ["en", "fr"]
    for code, collection in collections.items():
        assert collection.name == f"readouts-fake-hash-vectors-{code}"
        assert collection.configuration["hnsw"]["space"] == "cosine"
        assert not [k for k in collection.metadata if k.startswith("hnsw:")]
        assert collection.metadata["language"] == code
    meta = fake_store.collections.docs.metadata
    assert (meta["format"], meta["embedder"]) == (FORMAT_VERSION, "fake-hash")
    assert same_probe(meta["probe"], fake_store._probe)


def test_a_store_reopened_finds_its_language_collections(
    fake_store: ReadoutStore, settings: Settings
) -> None:
    put(fake_store, KG, EG)
    again = ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)
    assert sorted(again.vector_collections) == ["en", "fr"]
    assert again.language_centroids().keys() == {"en", "fr"}


def test_names_are_per_embedder_and_within_chromas_limits() -> None:
    names = Names.of("e5-small")
    assert (names.language("en"), names.docs, names.state) == (
        "readouts-e5-small-vectors-en", "readouts-e5-small-docs", "readouts-e5-small-state")
    long = Names.of("x" * 80)
    assert len(long.language("en")) <= 63
    odd = {names.language(code) for code in ("zh-Hant", "x" * 60, "pt br", "", "é")}
    assert len(odd) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]", n) for n in odd)
    assert names.language("pt br") != names.language("pt_br")
    assert names.legacy_languages(["readouts-e5-small-lang-en", "readouts-other-lang-en"]) == [
        "readouts-e5-small-lang-en"]


def test_another_embedder_gets_its_own_collections(settings: Settings) -> None:
    first = ReadoutStore(settings, HashingEmbeddings())
    put(first, KG)

    class Other(HashingEmbeddings):
        key = "other-model"

    second = ReadoutStore(settings, Other(), client=first.client)
    assert second.count() == 0
    assert second.other_embedders() == ["fake-hash"]


def test_a_store_of_another_format_is_refused(fake_store: ReadoutStore, settings) -> None:
    fake_store.collections.docs.modify(metadata={"format": "0"})
    with pytest.raises(StoreMismatchError, match="another version of Readouts"):
        ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)


def test_a_store_of_another_model_under_the_same_name_is_refused(
    fake_store: ReadoutStore, settings
) -> None:
    meta = dict(fake_store.collections.docs.metadata)
    fake_store.collections.docs.modify(metadata={**meta, "probe": "256:" + ",".join(["0.5"] * 8)})
    with pytest.raises(StoreMismatchError, match="different model"):
        ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)


def test_probes_tolerate_float_noise_not_another_model() -> None:
    probe = probe_string([0.1, 0.2, 0.3])
    assert same_probe(probe, probe_string([0.1005, 0.2, 0.3]))
    assert not same_probe(probe, probe_string([0.2, 0.2, 0.3]))
    assert not same_probe(probe, probe_string([0.1, 0.2, 0.3, 0.4]))


def test_rebuild_starts_empty(fake_store: ReadoutStore, settings) -> None:
    put(fake_store, KG)
    rebuilt = ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client, rebuild=True)
    assert rebuilt.is_empty()
    assert rebuilt.vector_collections == {}
    names = [c.name for c in rebuilt.client.list_collections()]
    assert not [n for n in names if "-vectors-" in n]


def test_the_unreleased_all_languages_layout_is_refused(settings: Settings) -> None:
    client = open_client(settings)
    client.get_or_create_collection("readouts-fake-hash-vectors", embedding_function=None)
    with pytest.raises(StoreMismatchError, match="--rebuild"):
        ReadoutStore(settings, HashingEmbeddings(), client=client)
    rebuilt = ReadoutStore(settings, HashingEmbeddings(), client=client, rebuild=True)
    assert "readouts-fake-hash-vectors" not in [c.name for c in client.list_collections()]
    assert rebuilt.is_empty()
