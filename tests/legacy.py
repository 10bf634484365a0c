"""Stores as older versions of Readouts wrote them, written directly through chromadb, so
that migration is tested against the exact layout and not against today's code."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from ingest.chunking import chunk_readout
from rag.schema import Readout
from rag.store.schema import Names, base_meta, doc_meta, probe_string

FORMAT_1_LANG_KEYS = {"doc_id", "hash", "date_int", "source", "language", "start", "end"}


def write_format_1(client: Any, embeddings: Any, readouts: Sequence[Readout],
                   max_chars: int = 700, probe: str | None = None) -> int:
    """Write ``readouts`` in format 1 (Readouts up to this change): every chunk in
    ``<prefix>-chunks`` (``hnsw:space`` metadata, embedded text, the readout's fields) and
    again in ``<prefix>-lang-<code>``; returns the number of chunks."""
    from rag.store.schema import PROBE_TEXT

    names = Names.of(embeddings.key)
    meta = {
        "hnsw:space": "cosine", "embedder": embeddings.key, "format": "1",
        "probe": probe or probe_string(embeddings.embed_query(PROBE_TEXT)),
        "by_language": True,
    }
    chunks_col = client.get_or_create_collection(
        names.legacy_chunks, metadata=meta, embedding_function=None)
    docs = client.get_or_create_collection(names.docs, metadata=meta, embedding_function=None)
    state = client.get_or_create_collection(names.state, metadata=meta, embedding_function=None)
    total = 0
    for readout in readouts:
        chunks = chunk_readout(readout, max_chars)
        vectors = embeddings.embed_documents([c.embed_text for c in chunks])
        metas = []
        for c in chunks:
            m = base_meta(readout)
            m.update(hash=readout.content_hash, index=c.index, start=c.start, end=c.end,
                     offset=len(c.embed_text) - len(c.text))
            m.update({f"c_{code}": True for code in readout.countries})
            metas.append(m)
        ids = [c.chunk_id for c in chunks]
        chunks_col.upsert(ids=ids, embeddings=vectors, metadatas=metas,
                          documents=[c.embed_text for c in chunks])
        lang = client.get_or_create_collection(
            f"{names.prefix}-lang-{readout.language}", metadata=meta, embedding_function=None)
        lang.upsert(ids=ids, embeddings=vectors, metadatas=[
            {k: v for k, v in m.items() if k in FORMAT_1_LANG_KEYS or k.startswith("c_")}
            for m in metas])
        docs.upsert(ids=[readout.doc_id], embeddings=[[1.0]], documents=[readout.text],
                    metadatas=[doc_meta(readout, readout.content_hash, len(chunks), False)])
        total += len(chunks)
    state.upsert(ids=["generation"], embeddings=[[1.0]], documents=[""],
                 metadatas=[{"value": uuid.uuid4().hex}])
    return total
