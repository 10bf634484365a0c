"""Reading the store: readout records, passages cut from their texts, dense search.

Every function takes the open ``Collections``; the store wraps them with its error
translation. Only committed data is returned: a chunk counts when its hash is the committed
hash of its readout, so a write in progress (or killed) never shows half a readout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.schema import Filters, Passage
from rag.store.filters import matches, selective, where_clause
from rag.store.schema import CHANGED, GONE, Collections, Meta, chunk_key, countries, vectors, where

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import GetResult, Include, Where

PAGE = 2000  # rows per Chroma get() page: bounded memory on large stores
CENTROID_SAMPLE, CENTROID_PAGE = 6000, 500  # chunks per language read for a language mean
OVERFETCH_MIN, OVERFETCH = 200, 5  # filtered dense search: unfiltered neighbours to look at

Hit = tuple[str, float, Meta, Any]  # chunk id, cosine distance, metadata, vector or None
Span = tuple[str, int, int, float]  # chunk id, start, end, score
# Chunk offsets known without asking Chroma (the lexical index's columns): chunk id ->
# (start, end); ids it does not know are read from the chunks' metadata.
Offsets = Callable[[Sequence[str]], Mapping[str, tuple[int, int]]]
# readout id -> (metadata, text) read during ``one_reading``; None outside it
_RECORDS: ContextVar[dict[str, tuple[Meta, str]] | None] = ContextVar(
    "readout_records", default=None)


def _rows(stored: Any) -> list[Any]:
    """Vectors as Chroma returns them (an array, a list of arrays, or None) as a list."""
    return [] if stored is None else list(stored)


def pages(get: Callable[..., GetResult], **query: Any) -> Iterator[GetResult]:
    """Pages of a Chroma ``get`` of ``PAGE`` rows."""
    offset = 0
    while True:
        got = get(limit=PAGE, offset=offset, **query)
        yield got
        if len(got["ids"]) < PAGE:
            return
        offset += PAGE


def doc_pages(docs: Collection, where: Where | None = None) -> Iterator[Meta]:
    """Every readout record's metadata with its ``id``, page by page."""
    for got in pages(docs.get, where=where, include=["metadatas"]):
        metas = got["metadatas"] or []
        yield from ({"id": i, **m} for i, m in zip(got["ids"], metas, strict=True))


def committed_hashes(docs: Collection) -> dict[str, Meta]:
    """doc_id -> metadata of every committed readout (no text)."""
    return {m["id"]: m for m in doc_pages(docs) if m.get("hash")}


def readout_record(docs: Collection, doc_id: str) -> tuple[str, Meta] | None:
    """A committed readout's text and metadata, or None."""
    got = docs.get(ids=[doc_id], include=["metadatas", "documents"])
    metas, texts = got["metadatas"] or [], got["documents"] or []
    if not got["ids"] or not metas[0].get("hash"):
        return None
    return texts[0] or "", dict(metas[0])


def spans_of(chunks: Collection, ids: Sequence[str], offsets: Offsets | None
             ) -> dict[str, Meta]:
    """``{"start", "end"}`` of each of ``ids`` in its readout: from ``offsets`` where it
    knows them, else from the chunks' metadata in one read."""
    known = dict(offsets(ids)) if offsets is not None else {}
    out: dict[str, Meta] = {cid: {"start": s, "end": e} for cid, (s, e) in known.items()}
    missing = [cid for cid in ids if cid not in known]
    if missing:
        got = chunks.get(ids=missing, include=["metadatas"])
        out.update((cid, dict(m)) for cid, m in zip(got["ids"], got["metadatas"] or [],
                                                    strict=True))
    return out


def nearest(
    chunks: Collection, vector: Sequence[float], k: int, filters: Filters, with_vectors: bool,
    within: Sequence[str] | None = None, offsets: Offsets | None = None,
) -> list[Hit]:
    """The k nearest chunks of one collection that pass ``filters`` (or among the ids
    ``within``, which must all be in it); each hit's metadata holds at least its offsets.

    Chroma evaluates a broad metadata filter row by row on each query (measured: ~100 ms per
    query at 46k chunks, against ~10 ms unfiltered), so a broad filter asks the HNSW index,
    unfiltered, for more neighbours and filters them here: exact whenever k of them pass. A
    selective filter (a few weeks, a few readouts, languages alone) goes to Chroma at once.
    Where nothing is filtered here, the offsets come from ``offsets`` when it knows them.
    """

    def query(n: int, where: Where | None, ids: list[str] | None = None,
              metadata: bool = True) -> list[Hit]:
        include: Include = ["distances"]
        if metadata or offsets is None:
            include.append("metadatas")
        if with_vectors:
            include.append("embeddings")
        got = chunks.query(query_embeddings=vectors([vector]), n_results=n, where=where, ids=ids,
                           include=include)
        found = got["ids"][0]
        distances = (got["distances"] or [[]])[0]
        if "metadatas" in include:
            metas = [dict(m) for m in (got["metadatas"] or [[]])[0]]
        else:
            spans = spans_of(chunks, found, offsets)
            metas = [spans[cid] for cid in found]
        stored: list[Any] = (_rows(_rows(got["embeddings"])[0]) if with_vectors
                             else [None] * len(found))
        return [(cid, float(d), m, v)
                for cid, d, m, v in zip(found, distances, metas, stored, strict=True)]

    if within is not None:
        return query(k, None, list(within), metadata=False) if within else []
    where: Any = where_clause(filters)
    if where is None or selective(filters):
        return query(k, where, metadata=False)
    wide = max(OVERFETCH_MIN, OVERFETCH * k)
    for _ in range(2):
        seen = query(wide, None)
        hits = [hit for hit in seen if matches(hit[2], filters)]
        if len(hits) >= k or len(seen) < wide:  # enough, or the whole collection seen
            return hits[:k]
        if len(hits) * OVERFETCH < k:  # too selective for a wider look to find k
            break
        wide *= OVERFETCH
    return query(k, where, metadata=False)


@contextlib.contextmanager
def one_reading() -> Iterator[None]:
    """Within it, each readout's record is read from Chroma once (per thread or task): one
    question cuts passages from the same readouts for each language and each search, and
    reading a readout's text and metadata costs more than finding its chunks. Its passages
    then also all come from one version of each readout."""
    if _RECORDS.get() is not None:  # within an outer one: its records stand
        yield
        return
    token = _RECORDS.set({})
    try:
        yield
    finally:
        _RECORDS.reset(token)


def cut_from_texts(docs: Collection, spans: Sequence[Span]) -> list[Passage]:
    """Passages cut from their readouts' committed texts. A chunk id carries its readout's
    id and content hash, so a chunk of an older version is recognised and dropped."""
    keys = [chunk_key(cid) for cid, *_ in spans]
    doc_ids = sorted({doc_id for doc_id, _ in keys})
    if not doc_ids:
        return []
    memo = _RECORDS.get()
    records = memo if memo is not None else {}
    unread = [doc_id for doc_id in doc_ids if doc_id not in records]
    if unread:
        got = docs.get(ids=unread, include=["metadatas", "documents"])
        records.update((doc_id, (dict(meta), text or "")) for doc_id, meta, text in
                       zip(got["ids"], got["metadatas"] or [], got["documents"] or [],
                           strict=True))
    out: list[Passage] = []
    for (cid, start, end, score), (doc_id, short_hash) in zip(spans, keys, strict=True):
        meta, text = records.get(doc_id, ({}, ""))
        committed = str(meta.get("hash") or "")
        if not (short_hash and committed.startswith(short_hash) and end <= len(text)):
            continue
        out.append(Passage(
            doc_id=doc_id, chunk_id=cid, title=str(meta["title"]),
            date=str(meta["date"]) or None, language=str(meta["language"]),
            source=str(meta["source"]), url=str(meta["url"]) or None,
            text=text[start:end], start=start, end=end, score=score,
            countries=countries(dict(meta)),
        ))
    return out


def _top(
    cols: Collections, vector: Sequence[float], k: int, filters: Filters, with_vectors: bool,
    within: Sequence[str] | None, offsets: Offsets | None,
) -> list[Hit]:
    """The k nearest chunks over the collections of ``filters``' languages, merged by
    distance."""
    scoped = cols.scope(filters.languages)
    rest = replace(filters, languages=())
    hits: list[Hit] = []
    for collection in scoped:
        ids = within
        if within is not None and len(scoped) > 1:
            ids = collection.get(ids=list(within), include=[])["ids"] if within else []
            if not ids:
                continue
        hits += nearest(collection, vector, k, rest, with_vectors, ids, offsets)
    return sorted(hits, key=lambda hit: hit[1])[:k]


def dense(
    cols: Collections, vector: Sequence[float], k: int, filters: Filters, with_vectors: bool,
    within: Sequence[str] | None = None, offsets: Offsets | None = None,
) -> tuple[list[Passage], dict[str, np.ndarray]]:
    """Top-k committed passages by cosine, and their vectors when asked.

    Languages pick collections, never a ``where`` clause: the named languages' collections,
    or every one merged by distance. ``within``: asked of each of those collections (a
    collection fails on an id it lacks, so with several the ids are first sorted out)."""
    [found] = dense_many(cols, vector, k, [(filters, within)], with_vectors, offsets)
    return [p for p, _ in found], {p.chunk_id: v for p, v in found if v is not None}


def dense_many(
    cols: Collections, vector: Sequence[float], k: int,
    searches: Sequence[tuple[Filters, Sequence[str] | None]], with_vectors: bool,
    offsets: Offsets | None = None,
) -> list[list[tuple[Passage, np.ndarray | None]]]:
    """For each (filters, within) search, as ``dense`` does: its top-k committed passages,
    each with its vector when asked. The passages of all the searches are cut from their
    readouts in one read, which costs about as much for one readout as for forty."""
    tops = [_top(cols, vector, k, f, with_vectors, within, offsets) for f, within in searches]
    spans = {cid: (cid, int(m["start"]), int(m["end"]), 1.0 - d)
             for top in tops for cid, d, m, _ in top}
    cut = {p.chunk_id: p for p in cut_from_texts(cols.docs, list(spans.values()))}
    return [[(cut[cid], None if v is None else np.asarray(v, dtype=np.float32))
             for cid, _, _, v in top if cid in cut] for top in tops]


def passage_vectors(
    cols: Collections, chunks: Sequence[tuple[str, str]], offsets: Offsets | None = None
) -> list[tuple[Passage, np.ndarray]]:
    """Committed chunks given as (chunk_id, language), in the order given, with their stored
    vectors; unknown or stale ones are dropped. Each is looked for in its language's
    collection, then (if not there: its readout changed language) in the others."""
    if not chunks:
        return []
    metas: dict[str, Meta] = {}
    stored: dict[str, np.ndarray] = {}

    def read(collection: Collection, ids: list[str]) -> None:
        got = collection.get(ids=ids, include=["embeddings"])
        metas.update(spans_of(collection, got["ids"], offsets))
        stored.update((cid, np.asarray(v, dtype=np.float32))
                      for cid, v in zip(got["ids"], _rows(got["embeddings"]), strict=True))

    by_language: dict[str, list[str]] = {}
    for cid, language in chunks:
        by_language.setdefault(language, []).append(cid)
    known = dict(cols.languages)
    for language, ids in by_language.items():
        if language in known:
            read(known[language], ids)
    missing = [cid for cid, _ in chunks if cid not in metas]
    for language, collection in sorted(known.items()):
        if missing and language not in by_language:
            read(collection, missing)
            missing = [cid for cid in missing if cid not in metas]
    spans = [(cid, int(metas[cid]["start"]), int(metas[cid]["end"]), 0.0)
             for cid, _ in chunks if cid in metas]
    return [(p, stored[p.chunk_id]) for p in cut_from_texts(cols.docs, spans)]


def language_centroids(cols: Collections) -> dict[str, np.ndarray]:
    """Mean chunk vector per language, from at most ``CENTROID_SAMPLE`` chunks of its
    collection, read in pages spread over its rows so that the cost stays flat as the store
    grows (reading every vector took 137 s and 2 GB at 161k chunks)."""
    out: dict[str, np.ndarray] = {}
    for language, collection in sorted(dict(cols.languages).items()):
        total = collection.count()
        offsets = (
            range(0, total, CENTROID_PAGE) if total <= CENTROID_SAMPLE else
            np.linspace(0, total - CENTROID_PAGE, CENTROID_SAMPLE // CENTROID_PAGE).astype(int)
        )
        found = [
            np.asarray(v, dtype=np.float64)
            for offset in offsets
            for v in _rows(collection.get(limit=CENTROID_PAGE, offset=int(offset),
                                          include=["embeddings"])["embeddings"])
        ]
        if found:
            out[language] = np.mean(found, axis=0).astype(np.float32)
    return out


def iter_chunks(cols: Collections, doc_ids: Sequence[str] | None = None
                ) -> Iterator[tuple[str, str, Meta]]:
    """Every committed chunk (of ``doc_ids`` when given) as (chunk_id, exact text, its
    readout's metadata updated with its own), language by language, page by page."""
    if doc_ids is not None and not doc_ids:
        return
    clause = None if doc_ids is None else where({"doc_id": {"$in": list(doc_ids)}})
    for collection in cols.vectors():
        yield from _committed_chunks(cols, collection, clause)


def changes_since(cols: Collections, since: float) -> tuple[dict[str, Meta], list[str]]:
    """Readouts committed (written, or their write finished) at or after ``since`` (wall
    clock), with their records' metadata, and the ids of readouts removed since then.

    Two ``where`` reads of a few rows each, whatever the size of the store: what lets the
    lexical index follow one changed readout without reading them all."""
    changed = {m["id"]: m for m in doc_pages(cols.docs, where({CHANGED: {"$gte": since}}))
               if m.get("hash")}
    removed = [str(i) for got in pages(cols.state.get, where=where({"at": {"$gte": since}}),
                                       include=[])
               for i in got["ids"] if str(i).startswith(GONE)]
    return changed, [i.removeprefix(GONE) for i in removed if i.removeprefix(GONE)
                     not in changed]


def _committed_chunks(cols: Collections, collection: Collection, clause: Where | None = None
                      ) -> Iterator[tuple[str, str, Meta]]:
    for got in pages(collection.get, where=clause, include=["metadatas"]):
        metas: list[Meta] = [dict(m) for m in got["metadatas"] or []]
        doc_ids = sorted({str(m["doc_id"]) for m in metas})
        if not doc_ids:
            continue
        docs = cols.docs.get(ids=doc_ids, include=["metadatas", "documents"])
        readouts = dict(zip(docs["ids"], zip(docs["metadatas"] or [], docs["documents"] or [],
                                             strict=True), strict=True))
        for cid, meta in zip(got["ids"], metas, strict=True):
            record, text = readouts.get(str(meta["doc_id"]), ({}, ""))
            if record.get("hash") and record["hash"] == meta["hash"]:
                span = (text or "")[int(meta["start"]) : int(meta["end"])]
                yield cid, span, {**record, **meta}
