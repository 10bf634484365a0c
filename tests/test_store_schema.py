"""rag/store/schema.py and the opening checks: names per embedder, cosine space, format."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.errors import StoreMismatchError
from rag.store import FORMAT_VERSION, ReadoutStore
from rag.store.schema import Names, probe_string, same_probe
from tests.fakes import HashingEmbeddings
from tests.samples import KG, put


def test_the_vectors_collection_uses_cosine_through_chroma_configuration(
    fake_store: ReadoutStore,
) -> None:
    assert fake_store.chunks.configuration["hnsw"]["space"] == "cosine"
    meta = fake_store.chunks.metadata
    assert not [k for k in meta if k.startswith("hnsw:")]
    assert (meta["format"], meta["embedder"]) == (FORMAT_VERSION, "fake-hash")


def test_names_are_per_embedder_and_within_chromas_limits() -> None:
    names = Names.of("e5-small")
    assert (names.vectors, names.docs, names.state) == (
        "readouts-e5-small-vectors", "readouts-e5-small-docs", "readouts-e5-small-state")
    assert len(Names.of("x" * 80).vectors) <= 63
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
    fake_store.chunks.modify(metadata={"format": "0"})
    with pytest.raises(StoreMismatchError, match="another version of Readouts"):
        ReadoutStore(settings, HashingEmbeddings(), client=fake_store.client)


def test_a_store_of_another_model_under_the_same_name_is_refused(
    fake_store: ReadoutStore, settings
) -> None:
    meta = dict(fake_store.chunks.metadata)
    fake_store.chunks.modify(metadata={**meta, "probe": "256:" + ",".join(["0.5"] * 8)})
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
    assert rebuilt.chunks.count() == 0
