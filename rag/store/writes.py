"""Writing the store so that a process killed at any point leaves it readable and repairable.

A group of readouts is written as *mark dirty -> write chunks -> commit text and hash ->
delete stale chunks -> clear dirty* (a readout new to the store commits clean at once: it has
no stale chunks). Readers trust only chunks whose hash is the committed hash of their
readout, and ``repair`` finishes or undoes whatever a killed run left dirty. A chunk is
written in its readout's language's collection; stale chunks are deleted from every
language's collection (a readout's language may change with an update).

Several writers may share a Chroma server if their readouts are disjoint (``ingest --shard``):
``repair`` only touches the caller's share, and in server mode only dirty marks older than
its grace period, so it never undoes a write that another live process is making.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rag.schema import Chunk, Readout
from rag.store.locks import Stamps
from rag.store.reads import doc_pages, pages
from rag.store.schema import (
    CHANGED,
    GONE,
    Collections,
    Meta,
    chunk_meta,
    doc_meta,
    dummies,
    vectors,
    where,
)

WRITE_ROWS = 1000  # chunk rows per upsert call, well under Chroma's maximum batch
WriteItem = tuple[Readout, Sequence[Chunk], Sequence[Sequence[float]]]  # a readout to write


def write_readouts(cols: Collections, stamps: Stamps, items: Sequence[WriteItem]) -> None:
    """Add or replace readouts with their chunks' vectors, each step for the whole group
    (every Chroma call costs ~30 ms on the embedded store)."""
    if not items:
        return
    doc_ids = [readout.doc_id for readout, _, _ in items]
    hashes = [readout.content_hash for readout, _, _ in items]
    rows: list[tuple[str, Sequence[float], Meta]] = [
        (c.chunk_id, vector, chunk_meta(readout, c, content_hash))
        for (readout, chunks, vectors), content_hash in zip(items, hashes, strict=True)
        for c, vector in zip(chunks, vectors, strict=True)
    ]
    by_language: dict[str, list[tuple[str, Sequence[float], Meta]]] = {}
    for row in rows:
        by_language.setdefault(str(row[2]["language"]), []).append(row)
    stamps.will_commit()
    known = mark_dirty(cols, *doc_ids)
    for language, language_rows in sorted(by_language.items()):
        collection = cols.for_language(language)
        for i in range(0, len(language_rows), WRITE_ROWS):
            group = language_rows[i : i + WRITE_ROWS]
            collection.upsert(
                ids=[cid for cid, _, _ in group], embeddings=vectors([v for _, v, _ in group]),
                metadatas=[m for _, _, m in group],
            )
    # Readouts unknown before this write have no older chunks to drop: their commit is
    # final at once (two calls fewer per group on a first ingest).
    cols.docs.upsert(
        ids=doc_ids, embeddings=dummies(len(items)),
        documents=[readout.text for readout, _, _ in items],
        metadatas=[
            {**doc_meta(readout, h, len(chunks), dirty=bool(known)), CHANGED: time.time()}
            for (readout, chunks, _), h in zip(items, hashes, strict=True)
        ],
    )
    if known:
        stale = {"$and": [{"doc_id": {"$in": doc_ids}}, {"hash": {"$nin": hashes}}]}
        delete_everywhere(cols, stale)
        cols.docs.update(ids=doc_ids,
                         metadatas=[{"dirty": False, CHANGED: time.time()}] * len(items))
    stamps.committed()


def remove_many(cols: Collections, stamps: Stamps, doc_ids: Sequence[str]) -> list[str]:
    """Remove readouts and their chunks; returns those that were stored, in the order
    given."""
    found = cols.docs.get(ids=list(doc_ids), include=[])["ids"] if doc_ids else []
    if not found:
        return []
    stamps.will_commit()
    cols.docs.update(
        ids=found, metadatas=[{"hash": "", "dirty": True, "dirty_at": time.time()}] * len(found),
    )
    delete_everywhere(cols, {"doc_id": {"$in": found}})
    cols.docs.delete(ids=found)
    cols.state.upsert(ids=[GONE + d for d in found], embeddings=dummies(len(found)),
                      documents=[""] * len(found), metadatas=[{"at": time.time()}] * len(found))
    stamps.committed()
    gone = set(found)
    return [d for d in doc_ids if d in gone]


def repair(cols: Collections, stamps: Stamps, mine: Callable[[str], bool], grace: float) -> int:
    """Finish or undo what interrupted runs left in the readouts ``mine`` accepts, leaving
    dirty marks younger than ``grace`` seconds alone; returns how many readouts it fixed."""
    fixed = 0
    cols.refresh()
    for meta in list(doc_pages(cols.docs, where={"dirty": True})):
        doc_id, committed = meta["id"], meta.get("hash") or ""
        if not mine(doc_id) or time.time() - float(meta.get("dirty_at", 0)) < grace:
            continue
        if committed:
            older = {"$and": [{"doc_id": doc_id}, {"hash": {"$ne": committed}}]}
            delete_everywhere(cols, older, refresh=False)
            cols.docs.update(ids=[doc_id], metadatas=[{"dirty": False, CHANGED: time.time()}])
        else:
            delete_everywhere(cols, {"doc_id": doc_id}, refresh=False)
            cols.docs.delete(ids=[doc_id])
        fixed += 1
    fixed += drop_orphan_chunks(cols, mine)
    if stamps.clear_pending() or fixed:
        stamps.bump()
    return fixed


def delete_everywhere(cols: Collections, clause: Meta, refresh: bool = True) -> None:
    """Delete the chunks ``clause`` picks in every language's collection, including those
    that other processes created since this one opened (``refresh``: one more call)."""
    if refresh:
        cols.refresh()
    for collection in cols.vectors():
        collection.delete(where=where(clause))


def mark_dirty(cols: Collections, *doc_ids: str) -> set[str]:
    """Mark readouts as being written; returns those that had a record already."""
    now = time.time()
    known = set(cols.docs.get(ids=list(doc_ids), include=[])["ids"])
    if known:
        cols.docs.update(
            ids=sorted(known), metadatas=[{"dirty": True, "dirty_at": now}] * len(known)
        )
    new = [d for d in doc_ids if d not in known]
    if new:
        cols.docs.upsert(
            ids=new, embeddings=dummies(len(new)), documents=[""] * len(new),
            metadatas=[{"hash": "", "dirty": True, "dirty_at": now}] * len(new),
        )
    return known


def drop_orphan_chunks(cols: Collections, mine: Callable[[str], bool]) -> int:
    """Delete chunks whose readout record is gone (left by writers that raced each other);
    returns how many readouts they belonged to.

    A writer creates the readout record before its first chunk, so a doc_id is only an
    orphan if its record is still absent after the scan.
    """
    known = {m["id"] for m in doc_pages(cols.docs)}
    suspects: set[str] = set()
    for collection in cols.vectors():
        for got in pages(collection.get, include=["metadatas"]):
            suspects |= {str(m["doc_id"]) for m in got["metadatas"] or []
                         if m["doc_id"] not in known}
    suspects = {d for d in suspects if mine(d)}
    if suspects:
        suspects -= set(cols.docs.get(ids=sorted(suspects), include=[])["ids"])
    if suspects:
        delete_everywhere(cols, {"doc_id": {"$in": sorted(suspects)}}, refresh=False)
    return len(suspects)


