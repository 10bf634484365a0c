"""The only module that talks to Chroma: readouts, their chunks and a change stamp.

Collections per embedder, so vectors of two models never mix: ``<prefix>-chunks`` (LangChain
``Chroma``, cosine, one vector per chunk), ``<prefix>-docs`` (full texts and metadata, no
meaningful vector), ``<prefix>-state`` (the generation stamp that tells every process sharing
the store that the lexical index must follow), and ``<prefix>-lang-<code>``: each language's
chunk vectors again, because a metadata filter costs Chroma a pass over every matching row
per query while a collection of its own is one HNSW search (retrieval asks per language).

Crash safety: readouts are written, a group at a time, as *mark dirty -> write chunks and their
language copies -> commit text and hash -> delete stale chunks -> clear dirty* (a readout new
to the store commits clean at once: it has no stale chunks). Readers only trust chunks whose
hash equals the committed hash of their readout, and ``repair()`` finishes or undoes whatever
a killed run left dirty.

Several writers may share a Chroma server if their readouts are disjoint (``ingest --shard``):
``repair`` only touches the caller's share, and in server mode only dirty marks older than
``REPAIR_GRACE_S``, so it never undoes a write that another live process is making.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from rag.config import Settings
from rag.embeddings import ReadoutEmbeddings
from rag.errors import StaleStoreError, StoreError, StoreMismatchError
from rag.schema import Chunk, Filters, Passage, Readout, ReadoutInfo

FORMAT_VERSION = "1"
PAGE = 2000  # rows per Chroma get() page: bounded memory on large stores
WRITE_ROWS = 1000  # chunk rows per upsert call, well under Chroma's maximum batch
CENTROID_SAMPLE, CENTROID_PAGE = 6000, 500  # chunks per collection read for a language mean
OVERFETCH_MIN, OVERFETCH = 200, 5  # filtered dense search: unfiltered neighbours to look at
DAY_LIST_MAX = 800  # date filters up to this many days are sent as a list of days
SELECTIVE_DAYS = 100  # ... and up to this many go straight to Chroma's filter
LOCK_WAIT_S = 10.0  # how long a writer waits for another writer of the embedded store
REPAIR_GRACE_S = 600.0  # server mode: a dirty mark younger than this may be a live write
PROBE_TEXT = "Readouts probe: Xi Jinping spoke with Sadyr Japarov on 22 February 2021."
PROBE_DIMS = 8  # leading dimensions of the probe vector kept in the collection metadata
PROBE_TOLERANCE = 0.01  # thread counts and CPUs move floats a little, another model a lot
LANG_COPY_KEYS = frozenset({"doc_id", "hash", "date_int", "source", "language", "start", "end"})
_DUMMY = [1.0]  # docs/state records carry no meaningful vector
_PENDING = "pending-"  # state ids of writers whose commits are not yet stamped

P = ParamSpec("P")
R = TypeVar("R")
WriteItem = tuple[Readout, Sequence[Chunk], Sequence[Sequence[float]]]  # a readout to write
_Hit = tuple[str, float, dict[str, Any], Any]  # chunk id, cosine distance, metadata, vector


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


@contextlib.contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """Hold the embedded store's writer lock (Chroma's embedded mode is one writer).

    Server mode needs no lock: the server serialises writes, and writers of disjoint shares of
    the readouts may share it.
    """
    if settings.server_mode:
        yield
        return
    settings.store_dir.mkdir(parents=True, exist_ok=True)
    with (settings.store_dir / "writer.lock").open("w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"Another process is writing to the store at {settings.store_dir}. "
                        "Wait for it to finish (or stop it) and try again."
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Gate:
    """Store calls run together; reopening the client waits for them and runs alone (a call
    in flight on a closed client would fail). Re-entrant for calls, which nest."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls = 0  # threads inside a call
        self._alone = False
        self._depth = threading.local()

    def held(self) -> bool:
        """True inside a call of this thread."""
        return bool(getattr(self._depth, "n", 0))

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        if not depth:
            with self._cond:
                self._cond.wait_for(lambda: not self._alone)
                self._calls += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if not depth:
                with self._cond:
                    self._calls -= 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._alone = True
            self._cond.wait_for(lambda: not self._calls)
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def _chroma_call(
    method: Callable[Concatenate[ReadoutStore, P], R],
) -> Callable[Concatenate[ReadoutStore, P], R]:
    """Chroma and connection failures of a store method become a ``StoreError`` that says
    where and what to do, rather than a traceback from httpx or Chroma."""

    @functools.wraps(method)
    def call(store: ReadoutStore, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with store._gate.call():
                return method(store, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            error = store._translate(exc)
            if error is None:
                raise
            raise error from exc

    return call


class ReadoutStore:
    """Readouts and their embedded chunks in Chroma, for one embedder."""

    def __init__(self, settings: Settings, embeddings: ReadoutEmbeddings, client: Any = None,
                 *, rebuild: bool = False):
        """Open (or create) this embedder's collections; ``rebuild`` drops them first, which
        is also the way out of a store of another format or model."""
        self.settings = settings
        self.embeddings = embeddings
        self._own_client = client is None  # a client given by the caller is not reopened
        self.client = client if client is not None else open_client(settings)
        self.prefix = _collection_prefix(embeddings.key)
        self._gate = _Gate()
        self._seen = ""  # the generation stamp as of the client's opening or our last write
        self._stale = False  # another process wrote before one of our own stamps
        self.writer_id = uuid.uuid4().hex[:12]
        self._write_lock = threading.RLock()
        self._stamp_every: float | None = None  # None: stamp every commit at once
        self._stamped_at = 0.0
        self._unstamped = False
        self._probe = _probe_string(embeddings.embed_query(PROBE_TEXT))
        if rebuild:
            self._drop_collections()
        self._open_collections()

    def _drop_collections(self) -> None:
        names = [f"{self.prefix}-{suffix}" for suffix in ("chunks", "docs", "state")]
        for name in names + self._lang_names():
            with contextlib.suppress(Exception):  # absent already
                self.client.delete_collection(name)

    def _lang_names(self) -> list[str]:
        found = (c if isinstance(c, str) else c.name for c in self.client.list_collections())
        return sorted(n for n in found if n.startswith(f"{self.prefix}-lang-"))

    def _open_collections(self) -> None:
        from langchain_chroma import Chroma

        meta = {
            "hnsw:space": "cosine", "embedder": self.embeddings.key, "format": FORMAT_VERSION,
            "probe": self._probe, "by_language": True,  # a new store starts complete
        }
        self._meta = meta
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
            self._langs = {
                name.removeprefix(f"{self.prefix}-lang-"): self.client.get_collection(
                    name, embedding_function=None)
                for name in self._lang_names()
            }
            self._seen, self._stale = self._read_generation(), False
        except Exception as exc:
            raise StoreError(f"Cannot open the Readouts collections: {exc}") from exc
        self._check_format()

    def _lang(self, language: str) -> Any:
        """The vector collection of one language, created on first use."""
        code = _lang_code(language)
        if code not in self._langs:
            self._langs[code] = self.client.get_or_create_collection(
                f"{self.prefix}-lang-{code}", embedding_function=None, metadata=self._meta
            )
        return self._langs[code]

    @property
    def _by_language(self) -> bool:
        """True once every chunk vector is also in its language's collection."""
        return bool((self.chunks._collection.metadata or {}).get("by_language"))

    def _check_format(self) -> None:
        """Refuse a collection of another format, or one whose vectors another model made
        under the same name (a changed model file, a renamed folder): never mix vectors."""
        meta = dict(self.chunks._collection.metadata or {})
        found = meta.get("format")
        if found != FORMAT_VERSION:
            raise StoreMismatchError(
                f"The store at {self.location} was written by another version of Readouts "
                f"(format {found}, expected {FORMAT_VERSION}). Rebuild it: "
                "readouts ingest --rebuild data/"
            )
        stored = meta.get("probe")
        if stored is None:  # written before probes were kept: adopt this model's probe
            meta = {k: v for k, v in meta.items() if not k.startswith("hnsw:")}
            self.chunks._collection.modify(metadata={**meta, "probe": self._probe})
        elif not _same_probe(str(stored), self._probe):
            raise StoreMismatchError(
                f"The vectors in the store at {self.location} were made by a different model "
                f"than the current '{self.embeddings.key}' (same name, other output). Rebuild "
                "it with this model: readouts ingest --rebuild data/ (or switch back to the "
                "model it was built with)."
            )

    def _translate(self, exc: Exception) -> StoreError | None:
        """The ``StoreError`` for a failure of Chroma or of the connection to its server."""
        import httpx
        from chromadb.errors import ChromaError, InternalError, InvalidArgumentError, NotFoundError

        if isinstance(exc, httpx.TransportError | ConnectionError):
            host, port = self.settings.chroma_host, self.settings.chroma_port
            return StoreError(
                f"Lost the connection to the Chroma server at {host}:{port} "
                f"({exc.__class__.__name__}: {exc}). Check that it is running (chroma run "
                f"--path DIR --host {host} --port {port}); Readouts reconnects by itself as "
                "soon as it answers again, nothing needs restarting."
            )
        if isinstance(exc, InvalidArgumentError) and "dimension" in str(exc):
            return StoreMismatchError(
                f"The store at {self.location} holds vectors of another size than the model "
                f"'{self.embeddings.key}' makes ({exc}). Rebuild it: readouts ingest --rebuild "
                "data/"
            )
        if isinstance(exc, NotFoundError):
            with contextlib.suppress(Exception):  # the next call finds the new collections
                self._open_collections()
            return StoreError(
                f"The Readouts collections at {self.location} were dropped while in use "
                f"(readouts ingest --rebuild in another process?): {exc}. Try again."
            )
        if isinstance(exc, InternalError) and "Error finding id" in str(exc):
            # Chunks that another process committed after this client opened (their
            # metadata is read fresh, their vectors not): reopen at the next catch_up.
            self._stale = True
            return StaleStoreError(
                f"The store at {self.location} changed while this process read it (another "
                f"process is writing): {exc}. Ask again."
            )
        if isinstance(exc, ChromaError):
            return StoreError(f"Chroma failed on the store at {self.location}: {exc}")
        return None

    @property
    def location(self) -> str:
        """Where the store lives, for messages."""
        if self.settings.server_mode:
            return f"chroma://{self.settings.chroma_host}:{self.settings.chroma_port}"
        return str(self.settings.store_dir)

    # ---- reading -------------------------------------------------------------------------

    @_chroma_call
    def generation(self) -> str:
        """A stamp that changes whenever a readout is committed or removed."""
        return self._read_generation()

    def _read_generation(self) -> str:
        got = self._state.get(ids=["generation"], include=["metadatas"])
        return str(got["metadatas"][0]["value"]) if got["ids"] else ""

    def catch_up(self) -> str:
        """The generation stamp, once this process sees what other processes wrote.

        An embedded client keeps the vector indexes it loaded: readouts that another process
        wrote since are in Chroma's SQLite (their metadata, which the lexical index reads) but
        not in those indexes (a search misses them, a read of their vectors fails: "Error
        finding id"). So when the stamp moved other than by this store's own writes, the
        client is closed, once the calls in flight are over, and opened again. A server
        serves every client the same state: nothing to do there, nor for a client given by
        the caller, nor inside a call (it would wait for itself).
        """
        current = self.generation()
        if (self.settings.server_mode or not self._own_client or self._gate.held()
                or (current == self._seen and not self._stale)):
            return current
        try:
            with self._gate.alone():
                current = self._read_generation()
                if current != self._seen or self._stale:  # or another thread just did it
                    self.client.close()
                    self.client = open_client(self.settings)
                    self._open_collections()
                return self._seen
        except StoreError:
            raise
        except Exception as exc:
            error = self._translate(exc)
            if error is None:
                raise
            raise error from exc

    def count(self) -> int:
        """Number of committed readouts."""
        return len(self.committed_hashes())

    @_chroma_call
    def is_empty(self) -> bool:
        """True when no readout was ever started here (cheap: no scan)."""
        return bool(self._docs.count() == 0)

    @_chroma_call
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

    @_chroma_call
    def committed_hashes(self) -> dict[str, dict[str, Any]]:
        """doc_id -> metadata of every committed readout (no text): drives skip-unchanged."""
        return {m["id"]: m for m in self._doc_pages() if m.get("hash")}

    def list_readouts(self) -> list[ReadoutInfo]:
        """Committed readouts, sorted by date then id."""
        infos = [_info(m) for m in self.committed_hashes().values()]
        return sorted(infos, key=lambda i: (i.date or "", i.doc_id))

    @_chroma_call
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

    @_chroma_call
    def dense_search(self, vector: list[float], k: int, filters: Filters) -> list[Passage]:
        """Top-k committed chunks by cosine similarity, restricted by ``filters``."""
        passages, _ = self._dense(vector, k, filters, with_vectors=False)
        return passages

    @_chroma_call
    def dense_vectors(
        self, vector: list[float], k: int, filters: Filters, within: Sequence[str] | None = None
    ) -> list[tuple[Passage, np.ndarray]]:
        """Top-k committed chunks by cosine, each with its stored vector for re-scoring.

        ``within``: the ids of the chunks that pass ``filters`` when the caller knows them
        (the lexical index does): one search among those ids, whatever the filter (measured
        at 161k chunks: a year's 7,160 English chunks in 25 ms against 784 ms through
        Chroma's row-by-row filter)."""
        passages, vectors = self._dense(vector, k, filters, with_vectors=True, within=within)
        return [(p, vectors[p.chunk_id]) for p in passages]

    def _dense(
        self, vector: list[float], k: int, filters: Filters, with_vectors: bool,
        within: Sequence[str] | None = None,
    ) -> tuple[list[Passage], dict[str, np.ndarray]]:
        hits = self._nearest(vector, k, filters, with_vectors, within)
        spans = [(cid, int(m["start"]), int(m["end"]), 1.0 - d) for cid, d, m, _ in hits]
        vectors = {cid: np.asarray(v, dtype=np.float32) for cid, _, _, v in hits if v is not None}
        return self._cut_from_texts(spans), vectors

    def _nearest(
        self, vector: list[float], k: int, filters: Filters, with_vectors: bool,
        within: Sequence[str] | None,
    ) -> list[_Hit]:
        """The k nearest chunks that pass ``filters`` (or among ``within``); a language
        filter picks that language's own collection instead of filtering."""
        if not (filters.languages and self._by_language):
            return self._search(self.chunks._collection, vector, k, filters, with_vectors, within)
        rest = replace(filters, languages=())
        hits: list[_Hit] = []
        for code in {_lang_code(language) for language in filters.languages}:
            if code in self._langs:
                hits += self._search(self._langs[code], vector, k, rest, with_vectors, within)
        return sorted(hits, key=lambda hit: hit[1])[:k]

    def _search(
        self, collection: Any, vector: list[float], k: int, filters: Filters, with_vectors: bool,
        within: Sequence[str] | None = None,
    ) -> list[_Hit]:
        """Nearest chunks of ``collection`` that pass ``filters``, with their metadata.

        Chroma evaluates a broad metadata filter row by row on each query (measured: ~100 ms
        per language-filtered query at 46k chunks, against ~10 ms unfiltered), so a broad
        filter asks the HNSW index, unfiltered, for more neighbours and filters them here:
        exact whenever k of them pass. A selective filter (a few weeks, a few readouts) goes
        to Chroma at once: it finds those rows through its index.
        """
        include = ["metadatas", "distances"] + (["embeddings"] if with_vectors else [])

        def query(n: int, where: dict[str, Any] | None, ids: list[str] | None = None) -> list[_Hit]:
            got = collection.query(query_embeddings=[vector], n_results=n, where=where,
                                   ids=ids, include=include)
            ids = got["ids"][0]
            vectors = got["embeddings"][0] if with_vectors else [None] * len(ids)
            return list(zip(ids, got["distances"][0], got["metadatas"][0], vectors, strict=True))

        if within is not None:
            return query(k, None, list(within)) if within else []
        where = where_clause(filters)
        if where is None or _selective(filters):
            return query(k, where)
        wide = max(OVERFETCH_MIN, OVERFETCH * k)
        for _ in range(2):
            seen = query(wide, None)
            hits = [hit for hit in seen if matches(hit[2], filters)]
            if len(hits) >= k or len(seen) < wide:  # enough, or the whole collection seen
                return hits[:k]
            if len(hits) * OVERFETCH < k:  # too selective for a wider look to find k
                break
            wide *= OVERFETCH
        return query(k, where)

    @_chroma_call
    def language_centroids(self) -> dict[str, np.ndarray]:
        """Mean chunk vector per language: the part of a vector that says "French", not what
        the passage says. Subtracting it lets a question find passages in other languages.

        Estimated from at most ``CENTROID_SAMPLE`` chunks per collection, read in pages spread
        over it, so that its cost stays flat as the store grows (reading every vector took
        137 s and 2 GB at 161k chunks)."""
        collections = list(self._langs.values()) if self._by_language else [self.chunks._collection]
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for collection in collections:
            total = collection.count()
            offsets = (
                range(0, total, CENTROID_PAGE) if total <= CENTROID_SAMPLE else
                np.linspace(0, total - CENTROID_PAGE, CENTROID_SAMPLE // CENTROID_PAGE).astype(int)
            )
            for offset in offsets:
                got = collection.get(limit=CENTROID_PAGE, offset=int(offset),
                                     include=["metadatas", "embeddings"])
                for meta, vec in zip(got["metadatas"], got["embeddings"], strict=True):
                    lang = meta["language"]
                    sums[lang] = sums.get(lang, 0) + np.asarray(vec, dtype=np.float64)
                    counts[lang] = counts.get(lang, 0) + 1
        return {lang: (sums[lang] / counts[lang]).astype(np.float32) for lang in sums}

    @_chroma_call
    def passage_vectors(
        self, chunks: Sequence[tuple[str, str]]
    ) -> list[tuple[Passage, np.ndarray]]:
        """Committed chunks given as (chunk_id, language), in the order given, with their
        stored vectors, so that candidates found by another retriever (BM25) can be scored
        densely too; unknown or stale ones are dropped. Read from each chunk's language
        collection, which its language's searches have loaded anyway."""
        by_language = self._by_language
        wanted: dict[str, list[str]] = {}  # collection name part -> chunk ids
        for cid, language in chunks:
            wanted.setdefault(_lang_code(language) if by_language else "", []).append(cid)
        metas: dict[str, dict[str, Any]] = {}
        vectors: dict[str, np.ndarray] = {}
        for code, ids in wanted.items():
            source = self._langs.get(code) if code else self.chunks._collection
            if source is None:
                continue
            got = source.get(ids=ids, include=["metadatas", "embeddings"])
            for cid, meta, vector in zip(got["ids"], got["metadatas"], got["embeddings"],
                                         strict=True):
                metas[cid], vectors[cid] = meta, np.asarray(vector, dtype=np.float32)
        spans = [(cid, int(metas[cid]["start"]), int(metas[cid]["end"]), 0.0)
                 for cid, _ in chunks if cid in metas]
        return [(p, vectors[p.chunk_id]) for p in self._cut_from_texts(spans)]

    def _cut_from_texts(self, spans: Sequence[tuple[str, int, int, float]]) -> list[Passage]:
        """Passages cut from their readouts' committed texts, read from the docs collection
        only: any read of a chunk collection makes Chroma load that collection's whole vector
        index (measured at 161k chunks: +420 MB and 1 s), which questions never need once
        the language collections answer the searches. A chunk id carries its readout's id
        and content hash, so a chunk of an older version is recognised and dropped."""
        keys = [_chunk_key(cid) for cid, *_ in spans]
        doc_ids = sorted({doc_id for doc_id, _ in keys})
        if not doc_ids:
            return []
        got = self._docs.get(ids=doc_ids, include=["metadatas", "documents"])
        docs = dict(zip(got["ids"], zip(got["metadatas"], got["documents"], strict=True),
                        strict=True))
        out: list[Passage] = []
        for (cid, start, end, score), (doc_id, short_hash) in zip(spans, keys, strict=True):
            meta, text = docs.get(doc_id, ({}, ""))
            committed = str(meta.get("hash") or "")
            if not (short_hash and committed.startswith(short_hash) and end <= len(text or "")):
                continue
            out.append(Passage(
                doc_id=doc_id, chunk_id=cid, title=meta["title"], date=meta["date"] or None,
                language=meta["language"], source=meta["source"], url=meta["url"] or None,
                text=text[start:end], start=start, end=end, score=score,
                countries=_countries(meta),
            ))
        return out

    def iter_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Every committed chunk as (chunk_id, exact text, its readout's metadata updated with
        its own), page by page.

        Read from the language collections' metadata and the readout texts: reading the
        chunks collection would load its whole vector index too (+1.2 GB at 470k chunks)."""
        with self._gate.call():  # the collections below stay open until the last page
            yield from self._iter_chunks()

    def _iter_chunks(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        sources = list(self._langs.values()) if self._by_language else [self.chunks._collection]
        for collection in sources:
            for got in self._pages(collection.get, include=["metadatas"]):
                doc_ids = sorted({m["doc_id"] for m in got["metadatas"]})
                if not doc_ids:
                    continue
                docs = self._docs.get(ids=doc_ids, include=["metadatas", "documents"])
                readouts = dict(zip(docs["ids"], zip(docs["metadatas"], docs["documents"],
                                                     strict=True), strict=True))
                for cid, meta in zip(got["ids"], got["metadatas"], strict=True):
                    readout, text = readouts.get(meta["doc_id"], ({}, ""))
                    if readout.get("hash") and readout["hash"] == meta["hash"]:
                        span = text[int(meta["start"]) : int(meta["end"])]
                        yield cid, span, {**readout, **meta}

    def _pages(self, get: Callable[..., Any], **query: Any) -> Iterator[dict[str, Any]]:
        """Pages of a Chroma ``get``; a generator cannot use ``_chroma_call``, so it maps
        failures itself."""
        offset = 0
        while True:
            try:
                got = get(limit=PAGE, offset=offset, **query)
            except Exception as exc:
                error = self._translate(exc)
                if error is None:
                    raise
                raise error from exc
            yield got
            if len(got["ids"]) < PAGE:
                return
            offset += PAGE

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the writer lock of this store (see ``writer_lock``)."""
        with writer_lock(self.settings):
            yield

    @_chroma_call
    def reset(self) -> None:
        """Drop this embedder's collections and start empty (``ingest --rebuild``)."""
        with self._write_lock:
            self._drop_collections()
            self._open_collections()

    @contextlib.contextmanager
    def stamp_every(self, seconds: float) -> Iterator[None]:
        """Publish the generation stamp at most every ``seconds`` (and at the end) while a
        long run commits readouts: every stamp makes each reader rebuild its lexical index.

        Until a stamp is published, a per-writer "pending" record says that commits are
        unstamped, so that ``repair`` can publish it if this process is killed.
        """
        self._stamp_every, self._stamped_at = seconds, time.monotonic()
        try:
            yield
        except BaseException:
            with contextlib.suppress(StoreError):  # the original error matters more
                self._flush_stamp()
            raise
        else:
            self._flush_stamp()
        finally:
            self._stamp_every = None

    def write_readout(self, readout: Readout, chunks: Sequence[Chunk]) -> None:
        """Add or replace one readout, embedding its chunks here; safe to kill at any point."""
        vectors = self.embeddings.embed_documents([c.embed_text for c in chunks])
        self.write_readouts([(readout, chunks, vectors)])

    @_chroma_call
    def write_readouts(self, items: Sequence[WriteItem]) -> None:
        """Add or replace readouts with their chunks' vectors; safe to kill at any point.

        The whole group goes through each step of the protocol together: every Chroma call
        costs ~30 ms on the embedded store, so one call per step and group, not per readout.
        Writes go to the Chroma collection itself (LangChain's ``add_texts`` would embed
        again what worker processes already embedded).
        """
        if not items:
            return
        doc_ids = [readout.doc_id for readout, _, _ in items]
        hashes = [readout.content_hash for readout, _, _ in items]
        rows: list[tuple[str, Sequence[float], str, dict[str, Any]]] = [
            (c.chunk_id, vector, c.embed_text, _chunk_meta(readout, c, content_hash))
            for (readout, chunks, vectors), content_hash in zip(items, hashes, strict=True)
            for c, vector in zip(chunks, vectors, strict=True)
        ]
        with self._write_lock:
            self._will_commit()
            known = self._mark_dirty(*doc_ids)
            for i in range(0, len(rows), WRITE_ROWS):
                ids, vectors, texts, metas = zip(*rows[i : i + WRITE_ROWS], strict=True)
                self.chunks._collection.upsert(
                    ids=list(ids), embeddings=[list(v) for v in vectors], documents=list(texts),
                    metadatas=list(metas),
                )
                self._upsert_by_language(ids, vectors, metas)
            # Readouts unknown before this write have no older chunks to drop: their commit
            # is final at once (two calls fewer per group on a first ingest).
            self._docs.upsert(
                ids=doc_ids, embeddings=[_DUMMY] * len(items),
                documents=[readout.text for readout, _, _ in items],
                metadatas=[
                    _doc_meta(readout, h, len(chunks), dirty=bool(known))
                    for (readout, chunks, _), h in zip(items, hashes, strict=True)
                ],
            )
            if known:
                stale = {"$and": [{"doc_id": {"$in": doc_ids}}, {"hash": {"$nin": hashes}}]}
                self._delete_chunks(stale)
                self._docs.update(ids=doc_ids, metadatas=[{"dirty": False}] * len(items))
            self._committed()

    def remove(self, doc_id: str) -> bool:
        """Remove a readout and its chunks; False if it was not stored."""
        return bool(self.remove_many([doc_id]))

    @_chroma_call
    def remove_many(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove readouts and their chunks (a few calls for all); returns those that were
        stored."""
        with self._write_lock:
            found = self._docs.get(ids=list(doc_ids), include=[])["ids"] if doc_ids else []
            if not found:
                return []
            self._will_commit()
            self._docs.update(
                ids=found, metadatas=[{"hash": "", "dirty": True, "dirty_at": time.time()}]
                * len(found),
            )
            self._delete_chunks({"doc_id": {"$in": found}})
            self._docs.delete(ids=found)
            self._committed()
            gone = set(found)
            return [d for d in doc_ids if d in gone]

    @_chroma_call
    def repair(self, owns: Callable[[str], bool] | None = None) -> int:
        """Finish or undo what an interrupted run left; returns how many readouts it fixed.

        ``owns`` limits it to the caller's share of the readouts (``ingest --shard``). On a
        server, where no lock keeps other writers out, a dirty mark younger than
        ``REPAIR_GRACE_S`` is left alone: it may be a write in progress (the next write of
        that readout settles it anyway).
        """
        mine = owns or (lambda _doc_id: True)
        grace = REPAIR_GRACE_S if self.settings.server_mode else 0.0
        fixed = 0
        with self._write_lock:
            if not self._by_language:
                self._fill_languages()
            for meta in list(self._doc_pages(where={"dirty": True})):
                doc_id, committed = meta["id"], meta.get("hash") or ""
                if not mine(doc_id) or time.time() - float(meta.get("dirty_at", 0)) < grace:
                    continue
                if committed:
                    self._drop_stale_chunks(doc_id, committed)
                    self._docs.update(ids=[doc_id], metadatas=[{"dirty": False}])
                else:
                    self._delete_chunks({"doc_id": doc_id})
                    self._docs.delete(ids=[doc_id])
                fixed += 1
            fixed += self._drop_orphan_chunks(mine)
            unstamped = self._clear_pending()
            if fixed or unstamped:
                self._bump()
        return fixed

    def _mark_dirty(self, *doc_ids: str) -> set[str]:
        """Mark readouts as being written; returns those that had a record already."""
        now = time.time()
        known = set(self._docs.get(ids=list(doc_ids), include=[])["ids"])
        if known:
            self._docs.update(
                ids=sorted(known), metadatas=[{"dirty": True, "dirty_at": now}] * len(known)
            )
        new = [d for d in doc_ids if d not in known]
        if new:
            self._docs.upsert(
                ids=new, embeddings=[_DUMMY] * len(new), documents=[""] * len(new),
                metadatas=[{"hash": "", "dirty": True, "dirty_at": now}] * len(new),
            )
        return known

    def _drop_stale_chunks(self, doc_id: str, keep_hash: str) -> None:
        self._delete_chunks({"$and": [{"doc_id": doc_id}, {"hash": {"$ne": keep_hash}}]})

    def _delete_chunks(self, where: dict[str, Any]) -> None:
        """Delete chunk rows everywhere they live: the chunks and the language collections."""
        self.chunks.delete(where=where)
        for collection in self._langs.values():
            collection.delete(where=where)

    def _upsert_by_language(
        self, ids: Sequence[str], vectors: Sequence[Sequence[float]],
        metas: Sequence[dict[str, Any]],
    ) -> None:
        by_language: dict[str, list[int]] = {}
        for i, meta in enumerate(metas):
            by_language.setdefault(str(meta.get("language") or "und"), []).append(i)
        for language, rows in by_language.items():
            self._lang(language).upsert(
                ids=[ids[i] for i in rows], embeddings=[list(vectors[i]) for i in rows],
                metadatas=[_filter_meta(metas[i]) for i in rows],
            )

    def _fill_languages(self) -> None:
        """Copy every chunk vector into its language's collection (a store written before
        they existed); readers use them once the chunks collection says they are complete."""
        for got in self._pages(self.chunks.get, include=["metadatas", "embeddings"]):
            self._upsert_by_language(got["ids"], got["embeddings"], got["metadatas"])
        meta = {k: v for k, v in (self.chunks._collection.metadata or {}).items()
                if not k.startswith("hnsw:")}
        self.chunks._collection.modify(metadata={**meta, "by_language": True})

    def _drop_orphan_chunks(self, mine: Callable[[str], bool]) -> int:
        """Chunks whose readout record is gone (left by writers that raced each other).

        A writer creates the readout record before its first chunk, so a doc_id is only an
        orphan if its record is still absent after the scan.
        """
        known = {m["id"] for m in self._doc_pages()}
        suspects: set[str] = set()
        for got in self._pages(self.chunks.get, include=["metadatas"]):
            suspects |= {m["doc_id"] for m in got["metadatas"] if m["doc_id"] not in known}
        suspects = {d for d in suspects if mine(d)}
        if suspects:
            suspects -= set(self._docs.get(ids=sorted(suspects), include=[])["ids"])
        for doc_id in suspects:
            self._delete_chunks({"doc_id": doc_id})
        return len(suspects)

    def _will_commit(self) -> None:
        """Inside ``stamp_every``, say (before committing anything) that commits will wait
        for a stamp, so that ``repair`` stamps them if this process dies first."""
        if self._stamp_every is not None:
            self._state.upsert(
                ids=[_PENDING + self.writer_id], embeddings=[_DUMMY], documents=[""],
                metadatas=[{"since": time.time()}],
            )
            self._unstamped = True

    def _committed(self) -> None:
        """Stamp a commit now, or (inside ``stamp_every``) when the interval is up."""
        if self._stamp_every is None:
            self._bump()
        elif time.monotonic() - self._stamped_at >= self._stamp_every:
            self._flush_stamp()

    @_chroma_call
    def _flush_stamp(self) -> None:
        if self._unstamped:
            self._bump()
            self._state.delete(ids=[_PENDING + self.writer_id])
            self._unstamped = False
        self._stamped_at = time.monotonic()

    def _clear_pending(self) -> bool:
        """Drop the "pending" records of writers killed before stamping; True if any."""
        got = self._state.get(include=[])
        pending = [i for i in got["ids"] if i.startswith(_PENDING)]
        if pending:
            self._state.delete(ids=pending)
        return bool(pending)

    def _bump(self) -> None:
        # Another process stamped since we looked: our stamp must not hide it (catch_up).
        if not self.settings.server_mode and self._read_generation() != self._seen:
            self._stale = True
        self._seen = uuid.uuid4().hex
        self._state.upsert(
            ids=["generation"], embeddings=[_DUMMY], documents=[""],
            metadatas=[{"value": self._seen}],
        )


def where_clause(filters: Filters) -> dict[str, Any] | None:
    """Chroma ``where`` for chunk metadata; None when nothing is filtered."""
    parts = _date_parts(filters.since, filters.until)
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


def _date_parts(since: str | None, until: str | None) -> list[dict[str, Any]]:
    """A date range as Chroma conditions: a span of up to ``DAY_LIST_MAX`` days becomes the
    list of its days, which Chroma finds through its index, while it scans for a range
    (measured on 22k chunks: 24 ms against 298 ms per query)."""
    if since and until:
        first, last = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
        span = (last - first).days + 1
        if span <= DAY_LIST_MAX:
            days = [_date_int((first + dt.timedelta(days=i)).isoformat()) for i in range(span)]
            return [{"date_int": {"$in": days or [-1]}}]  # until before since: nothing
    parts: list[dict[str, Any]] = []
    if since:
        parts.append({"date_int": {"$gte": _date_int(since)}})
    if until:
        parts.append({"date_int": {"$lte": _date_int(until)}})
    return parts


def _selective(filters: Filters) -> bool:
    """True for filters that keep few rows and that Chroma looks up through its index."""
    if filters.doc_ids:
        return True
    if not (filters.since and filters.until):
        return False
    span = dt.date.fromisoformat(filters.until) - dt.date.fromisoformat(filters.since)
    return span.days < SELECTIVE_DAYS


def _lang_code(language: str) -> str:
    """A language as a collection name part: "en", "fr", "zh", "und"."""
    return re.sub(r"[^a-z0-9]", "", language.lower()) or "und"


def matches(meta: dict[str, Any], filters: Filters) -> bool:
    """True when a chunk's metadata passes ``filters``: ``where_clause``, in Python."""
    date = int(meta.get("date_int", 0))
    return (
        (not filters.since or date >= _date_int(filters.since))
        and (not filters.until or date <= _date_int(filters.until))
        and (not filters.languages or meta.get("language") in filters.languages)
        and (not filters.sources or meta.get("source") in filters.sources)
        and (not filters.doc_ids or meta.get("doc_id") in filters.doc_ids)
        and all(meta.get(f"c_{code.upper()}") is True for code in filters.countries)
    )


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


def _filter_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """What a language collection keeps of a chunk's metadata: the keys that filters
    (``where_clause``, ``matches``) and deletions read, and the chunk's span in its readout
    (questions cut passages from the readout text). Every stored key costs Chroma an indexed
    row per chunk; the readout's own fields come from the docs collection."""
    return {k: v for k, v in meta.items() if k in LANG_COPY_KEYS or k.startswith("c_")}


def _doc_meta(readout: Readout, content_hash: str, n_chunks: int, dirty: bool) -> dict[str, Any]:
    meta = _base_meta(readout)
    meta.update(
        hash=content_hash, dirty=dirty, chunks=n_chunks, path=readout.path,
        extra=json.dumps(readout.extra, ensure_ascii=False),
    )
    return meta


def _probe_string(vector: Sequence[float]) -> str:
    """The model's fingerprint: its output size and the first values of a fixed probe."""
    head = ",".join(f"{x:.4f}" for x in vector[:PROBE_DIMS])
    return f"{len(vector)}:{head}"


def _same_probe(stored: str, current: str) -> bool:
    size, _, values = stored.partition(":")
    now_size, _, now_values = current.partition(":")
    if size != now_size or not values:
        return False
    pairs = zip(values.split(","), now_values.split(","), strict=False)
    return all(abs(float(a) - float(b)) <= PROBE_TOLERANCE for a, b in pairs)


def _countries(meta: dict[str, Any]) -> tuple[str, ...]:
    return tuple(c for c in str(meta.get("countries", "")).split(",") if c)


def _info(meta: dict[str, Any]) -> ReadoutInfo:
    return ReadoutInfo(
        doc_id=meta["id"], title=meta["title"], date=meta["date"] or None,
        language=meta["language"], source=meta["source"], url=meta["url"] or None,
        countries=_countries(meta), path=meta["path"], content_hash=meta["hash"],
        chunks=int(meta["chunks"]),
    )


def _chunk_key(chunk_id: str) -> tuple[str, str]:
    """(doc_id, content hash prefix) of a chunk id made by ``chunk_readout``."""
    parts = chunk_id.rsplit(":", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else (chunk_id, "")
