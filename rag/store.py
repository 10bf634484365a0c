"""The only module that talks to Chroma: readouts, their chunks and a change stamp.

Three collections per embedder, so vectors of two models never mix:
``<prefix>-chunks`` (LangChain ``Chroma``, cosine, one vector per chunk), ``<prefix>-docs``
(full texts and metadata, no meaningful vector) and ``<prefix>-state`` (the generation stamp
that tells every process sharing the store that the lexical index must follow).

Crash safety: a readout is written as *mark dirty -> write chunks -> commit text and hash ->
delete stale chunks -> clear dirty*. Readers only trust chunks whose hash equals the committed
hash of their readout, and ``repair()`` finishes or undoes whatever a killed run left dirty.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from rag.config import Settings
from rag.embeddings import ReadoutEmbeddings
from rag.errors import StoreError, StoreMismatchError
from rag.schema import Chunk, Filters, Passage, Readout, ReadoutInfo

FORMAT_VERSION = "1"
PAGE = 2000  # rows per Chroma get() page: bounded memory on large stores
LOCK_WAIT_S = 10.0  # how long a writer waits for another writer of the embedded store
_DUMMY = [1.0]  # docs/state records carry no meaningful vector


def _date_int(date: str | None) -> int:
    return int(date.replace("-", "")) if date else 0


def _collection_prefix(key: str) -> str:
    return f"readouts-{key}"[:50].rstrip("-_.")


def open_client(settings: Settings) -> Any:
    """An embedded ``PersistentClient`` or, when a host is set, an ``HttpClient``."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.server_mode:
        try:
            client = chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({exc.__class__.__name__}). Start it (chroma run --path DIR --port "
                f"{settings.chroma_port}) or unset READOUTS_CHROMA_HOST to use the local store."
            ) from exc
        return client
    try:
        settings.store_dir.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.store_dir), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(f"Cannot open the local store at {settings.store_dir}: {exc}") from exc


class ReadoutStore:
    """Readouts and their embedded chunks in Chroma, for one embedder."""

    def __init__(self, settings: Settings, embeddings: ReadoutEmbeddings, client: Any = None):
        self.settings = settings
        self.embeddings = embeddings
        self.client = client if client is not None else open_client(settings)
        self.prefix = _collection_prefix(embeddings.key)
        self._write_lock = threading.RLock()
        self._open_collections()

    def _open_collections(self) -> None:
        from langchain_chroma import Chroma

        meta = {"hnsw:space": "cosine", "embedder": self.embeddings.key, "format": FORMAT_VERSION}
        try:
            self.chunks = Chroma(
                client=self.client,
                collection_name=f"{self.prefix}-chunks",
                embedding_function=self.embeddings,
                collection_metadata=meta,
            )
            self._docs = self.client.get_or_create_collection(
                f"{self.prefix}-docs", embedding_function=None, metadata=meta
            )
            self._state = self.client.get_or_create_collection(
                f"{self.prefix}-state", embedding_function=None, metadata=meta
            )
        except Exception as exc:
            raise StoreError(f"Cannot open the Readouts collections: {exc}") from exc
        self._check_format()

    def _check_format(self) -> None:
        found = (self.chunks._collection.metadata or {}).get("format")
        if found != FORMAT_VERSION:
            raise StoreMismatchError(
                f"The store at {self.location} was written by another version of Readouts "
                f"(format {found}, expected {FORMAT_VERSION}). Rebuild it: "
                "readouts ingest --rebuild data/"
            )

    @property
    def location(self) -> str:
        """Where the store lives, for messages."""
        if self.settings.server_mode:
            return f"chroma://{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.settings.store_dir)

    # ---- reading -------------------------------------------------------------------------

    def generation(self) -> str:
        """A stamp that changes whenever a readout is committed or removed."""
        got = self._state.get(ids=["generation"], include=["metadatas"])
        return str(got["metadatas"][0]["value"]) if got["ids"] else ""

    def count(self) -> int:
        """Number of committed readouts."""
        return len(self.committed_hashes())

    def other_embedders(self) -> list[str]:
        """Embedder keys that have readouts in this store but are not the current one."""
        keys = []
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.endswith("-docs") and name != f"{self.prefix}-docs":
                other = self.client.get_collection(name, embedding_function=None)
                if other.count():
                    keys.append(name.removeprefix("readouts-").removesuffix("-docs"))
        return keys

    def _doc_pages(self, where: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            got = self._docs.get(where=where, include=["metadatas"], limit=PAGE, offset=offset)
            yield from ({"id": i, **m} for i, m in zip(got["ids"], got["metadatas"], strict=True))
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    def committed_hashes(self) -> dict[str, dict[str, Any]]:
        """doc_id -> metadata of every committed readout (no text): drives skip-unchanged."""
        return {m["id"]: m for m in self._doc_pages() if m.get("hash")}

    def list_readouts(self) -> list[ReadoutInfo]:
        """Committed readouts, sorted by date then id."""
        infos = [_info(m) for m in self.committed_hashes().values()]
        return sorted(infos, key=lambda i: (i.date or "", i.doc_id))

    def get_readout(self, doc_id: str) -> Readout | None:
        """A committed readout with its full text, or None."""
        got = self._docs.get(ids=[doc_id], include=["metadatas", "documents"])
        if not got["ids"] or not got["metadatas"][0].get("hash"):
            return None
        m = got["metadatas"][0]
        return Readout(
            doc_id=doc_id, text=got["documents"][0], title=m["title"], date=m["date"] or None,
            language=m["language"], source=m["source"], url=m["url"] or None,
            countries=_countries(m), path=m["path"], extra=json.loads(m.get("extra") or "{}"),
        )

    def dense_search(self, vector: list[float], k: int, filters: Filters) -> list[Passage]:
        """Top-k committed chunks by cosine similarity, restricted by ``filters``."""
        hits = self.chunks.similarity_search_by_vector_with_relevance_scores(
            vector, k=k, filter=where_clause(filters)
        )
        rows = [(doc.id, doc.page_content, doc.metadata, 1.0 - dist) for doc, dist in hits]
        return self._valid_passages(rows)

    def passages(self, chunk_ids: Sequence[str]) -> list[Passage]:
        """Committed chunks by id, in the order given; unknown or stale ids are dropped."""
        if not chunk_ids:
            return []
        got = self.chunks.get(ids=list(chunk_ids), include=["metadatas", "documents"])
        by_id = {
            i: (i, d, m, 0.0)
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return self._valid_passages([by_id[i] for i in chunk_ids if i in by_id])

    def _valid_passages(self, rows: list[tuple[str, str, dict[str, Any], float]]) -> list[Passage]:
        doc_ids = sorted({m["doc_id"] for _, _, m, _ in rows})
        committed = {}
        if doc_ids:
            got = self._docs.get(ids=doc_ids, include=["metadatas"])
            metas = zip(got["ids"], got["metadatas"], strict=True)
            committed = {i: m.get("hash") for i, m in metas}
        return [
            _passage(cid, text, m, score)
            for cid, text, m, score in rows
            if m.get("hash") and committed.get(m["doc_id"]) == m["hash"]
        ]

    def iter_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every committed chunk as (chunk_id, embedded text, metadata), page by page."""
        committed = {i: m["hash"] for i, m in self.committed_hashes().items()}
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas", "documents"], limit=PAGE, offset=offset)
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if committed.get(meta["doc_id"]) == meta["hash"]:
                    yield cid, doc, meta
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the embedded store's writer lock (Chroma's embedded mode is one writer).

        Server mode needs no lock: the server serialises writes and several ingest workers
        may share it.
        """
        if self.settings.server_mode:
            yield
            return
        path = self.settings.store_dir / "writer.lock"
        with path.open("w") as handle:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"Another process is writing to the store at {self.location}. "
                            "Wait for it to finish (or stop it) and try again."
                        ) from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def reset(self) -> None:
        """Drop this embedder's collections and start empty (``ingest --rebuild``)."""
        with self._write_lock:
            for suffix in ("chunks", "docs", "state"):
                with contextlib.suppress(Exception):
                    self.client.delete_collection(f"{self.prefix}-{suffix}")
            self._open_collections()

    def write_readout(
        self,
        readout: Readout,
        chunks: Sequence[Chunk],
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """Add or replace a readout and all its chunks; safe to kill at any point."""
        new_hash = readout.content_hash
        with self._write_lock:
            self._mark_dirty(readout.doc_id)
            batch = self.settings.embed_batch_size
            for i in range(0, len(chunks), batch):
                part = chunks[i : i + batch]
                self.chunks.add_texts(
                    texts=[c.embed_text for c in part],
                    metadatas=[_chunk_meta(readout, c, new_hash) for c in part],
                    ids=[c.chunk_id for c in part],
                )
                if on_batch:
                    on_batch(len(part))
            self._docs.upsert(
                ids=[readout.doc_id], embeddings=[_DUMMY], documents=[readout.text],
                metadatas=[_doc_meta(readout, new_hash, len(chunks), dirty=True)],
            )
            self._drop_stale_chunks(readout.doc_id, new_hash)
            self._docs.update(
                ids=[readout.doc_id],
                metadatas=[_doc_meta(readout, new_hash, len(chunks), dirty=False)],
            )
            self._bump()

    def remove(self, doc_id: str) -> bool:
        """Remove a readout and its chunks; False if it was not stored."""
        with self._write_lock:
            got = self._docs.get(ids=[doc_id], include=["metadatas"])
            if not got["ids"]:
                return False
            self._docs.update(ids=[doc_id], metadatas=[{"hash": "", "dirty": True}])
            self.chunks.delete(where={"doc_id": doc_id})
            self._docs.delete(ids=[doc_id])
            self._bump()
            return True

    def repair(self) -> int:
        """Finish or undo what an interrupted run left; returns how many readouts it fixed."""
        fixed = 0
        with self._write_lock:
            for meta in list(self._doc_pages(where={"dirty": True})):
                doc_id, committed = meta["id"], meta.get("hash") or ""
                if committed:
                    self._drop_stale_chunks(doc_id, committed)
                    self._docs.update(ids=[doc_id], metadatas=[{"dirty": False}])
                else:
                    self.chunks.delete(where={"doc_id": doc_id})
                    self._docs.delete(ids=[doc_id])
                fixed += 1
            fixed += self._drop_orphan_chunks()
            if fixed:
                self._bump()
        return fixed

    def _mark_dirty(self, doc_id: str) -> None:
        got = self._docs.get(ids=[doc_id], include=["metadatas"])
        if got["ids"]:
            self._docs.update(ids=[doc_id], metadatas=[{"dirty": True}])
        else:
            self._docs.upsert(
                ids=[doc_id], embeddings=[_DUMMY], documents=[""],
                metadatas=[{"hash": "", "dirty": True}],
            )

    def _drop_stale_chunks(self, doc_id: str, keep_hash: str) -> None:
        self.chunks.delete(where={"$and": [{"doc_id": doc_id}, {"hash": {"$ne": keep_hash}}]})

    def _drop_orphan_chunks(self) -> int:
        """Chunks whose readout record is gone (a run killed before its first docs write)."""
        known = {m["id"] for m in self._doc_pages()}
        orphans: set[str] = set()
        offset = 0
        while True:
            got = self.chunks.get(include=["metadatas"], limit=PAGE, offset=offset)
            orphans |= {m["doc_id"] for m in got["metadatas"] if m["doc_id"] not in known}
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        for doc_id in orphans:
            self.chunks.delete(where={"doc_id": doc_id})
        return len(orphans)

    def _bump(self) -> None:
        self._state.upsert(
            ids=["generation"], embeddings=[_DUMMY], documents=[""],
            metadatas=[{"value": uuid.uuid4().hex}],
        )


def where_clause(filters: Filters) -> dict[str, Any] | None:
    """Chroma ``where`` for chunk metadata; None when nothing is filtered."""
    parts: list[dict[str, Any]] = []
    if filters.since:
        parts.append({"date_int": {"$gte": _date_int(filters.since)}})
    if filters.until:
        parts.append({"date_int": {"$lte": _date_int(filters.until)}})
    if filters.languages:
        parts.append({"language": {"$in": list(filters.languages)}})
    if filters.sources:
        parts.append({"source": {"$in": list(filters.sources)}})
    if filters.doc_ids:
        parts.append({"doc_id": {"$in": list(filters.doc_ids)}})
    parts.extend({f"c_{code.upper()}": True} for code in filters.countries)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def _base_meta(readout: Readout) -> dict[str, Any]:
    return {
        "doc_id": readout.doc_id, "title": readout.title, "date": readout.date or "",
        "date_int": _date_int(readout.date), "language": readout.language,
        "source": readout.source, "url": readout.url or "",
        "countries": ",".join(readout.countries),
    }


def _chunk_meta(readout: Readout, chunk: Chunk, content_hash: str) -> dict[str, Any]:
    meta = _base_meta(readout)
    meta.update(
        hash=content_hash, index=chunk.index, start=chunk.start, end=chunk.end,
        offset=len(chunk.embed_text) - len(chunk.text),
    )
    meta.update({f"c_{code}": True for code in readout.countries})
    return meta


def _doc_meta(readout: Readout, content_hash: str, n_chunks: int, dirty: bool) -> dict[str, Any]:
    meta = _base_meta(readout)
    meta.update(
        hash=content_hash, dirty=dirty, chunks=n_chunks, path=readout.path,
        extra=json.dumps(readout.extra, ensure_ascii=False),
    )
    return meta


def _countries(meta: dict[str, Any]) -> tuple[str, ...]:
    return tuple(c for c in str(meta.get("countries", "")).split(",") if c)


def _info(meta: dict[str, Any]) -> ReadoutInfo:
    return ReadoutInfo(
        doc_id=meta["id"], title=meta["title"], date=meta["date"] or None,
        language=meta["language"], source=meta["source"], url=meta["url"] or None,
        countries=_countries(meta), path=meta["path"], content_hash=meta["hash"],
        chunks=int(meta["chunks"]),
    )


def _passage(chunk_id: str, stored: str, meta: dict[str, Any], score: float) -> Passage:
    return Passage(
        doc_id=meta["doc_id"], chunk_id=chunk_id, title=meta["title"],
        date=meta["date"] or None, language=meta["language"], source=meta["source"],
        url=meta["url"] or None, text=stored[int(meta["offset"]) :], start=int(meta["start"]),
        end=int(meta["end"]), score=score, countries=_countries(meta),
    )
