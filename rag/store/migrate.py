"""Stores of an older format brought to this one, without embedding anything again.

Format 1 kept every chunk twice: in ``<prefix>-chunks`` (with the readout's fields and the
embedded text) and again in ``<prefix>-lang-<code>``. Its vectors, ids and filter metadata
are copied once, each into its language's ``<prefix>-vectors-<code>``; the docs collection
takes the format and probe; then the old collections are dropped. The old chunks collection
goes last but one: while it exists the migration is unfinished and the next open starts it
again (upserts of the same ids are idempotent), so a kill never leaves a store half-read.
Readout records and the generation stamp are kept as they are.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np

from rag.errors import StoreMismatchError
from rag.store.reads import pages
from rag.store.schema import (
    Meta,
    Names,
    collection_names,
    language_collection,
    same_probe,
    slim_chunk_meta,
)

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

LEGACY_FORMAT = "1"


def needs_migration(client: ClientAPI, names: Names) -> bool:
    """True when an older layout of this embedder's collections is present."""
    found = collection_names(client)
    return names.legacy_chunks in found or bool(names.legacy_languages(found))


def migrate(client: ClientAPI, names: Names, meta: Meta, where: str) -> int:
    """Move a format-1 store to this format; returns how many chunk rows were copied.

    ``meta`` is the store's metadata (format, embedder, probe: the current model's);
    ``where`` names the store in messages. A format-1 store of another model, or a store of
    an unknown format, is refused rather than copied.
    """
    copied = 0
    if names.legacy_chunks in collection_names(client):
        old = client.get_collection(names.legacy_chunks, embedding_function=None)
        check_legacy(dict(old.metadata or {}), str(meta["probe"]), where)
        new: dict[str, Collection] = {}
        for got in pages(old.get, include=["metadatas", "embeddings"]):
            if not got["ids"]:
                continue
            by_language: dict[str, list[int]] = {}
            for i, m in enumerate(got["metadatas"] or []):
                by_language.setdefault(str(m["language"]), []).append(i)
            rows = np.asarray(got["embeddings"], dtype=np.float32)
            metas = got["metadatas"] or []
            for language, picked in sorted(by_language.items()):
                if language not in new:
                    new[language] = language_collection(client, names, meta, language)
                new[language].upsert(
                    ids=[got["ids"][i] for i in picked], embeddings=rows[picked],
                    metadatas=[slim_chunk_meta(dict(metas[i])) for i in picked],
                )
            copied += len(got["ids"])
        docs = client.get_or_create_collection(names.docs, metadata=meta,
                                               embedding_function=None)
        kept = {k: v for k, v in (docs.metadata or {}).items()
                if not k.startswith("hnsw:") and k != "by_language"}
        docs.modify(metadata={**kept, **meta})
        client.delete_collection(names.legacy_chunks)
    for name in names.legacy_languages(collection_names(client)):
        with contextlib.suppress(Exception):  # another process dropped it first
            client.delete_collection(name)
    return copied


def check_legacy(meta: Meta, probe: str, where: str) -> None:
    """Refuse a format-1 chunks collection of another format or model."""
    found = meta.get("format")
    if found != LEGACY_FORMAT:
        raise StoreMismatchError(
            f"The store at {where} was written by another version of Readouts (format "
            f"{found}). Rebuild it: readouts ingest --rebuild data/"
        )
    stored = meta.get("probe")
    if stored is not None and not same_probe(str(stored), probe):
        raise StoreMismatchError(
            f"The vectors in the store at {where} were made by a different model than the "
            "current one (same name, other output). Rebuild it with this model: readouts "
            "ingest --rebuild data/ (or switch back to the model it was built with)."
        )
