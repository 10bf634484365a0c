"""BM25 over the stored chunks (bm25s), persisted beside the store and kept in step with it.

The index is a cache derived from the store: it records the store's generation stamp, and
``LexicalIndex.sync`` rebuilds it (from the chunks in Chroma) only when that stamp moved, so
every process sharing a store, embedded or server, answers from the same readouts (an
embedded store reopens its client then, see ``ReadoutStore.catch_up``).
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import bm25s
import numpy as np

from rag.schema import Filters
from rag.stems import KnownStems
from rag.store import ReadoutStore
from rag.tokenize import tokens

log = logging.getLogger(__name__)
CACHE_FORMAT = "5"  # bump when the cached files change: older caches are rebuilt
INLINE_BUILD_S = 2.0  # an index whose last build took longer is rebuilt in the background
REBUILD_GAP = 4.0  # ... and not again before this many build times have passed


class LexicalHit(NamedTuple):
    """A BM25 match, with its language: the collection that holds its vector."""

    chunk_id: str
    score: float
    language: str


@dataclass(frozen=True)
class _Column:
    """A string column as codes into its distinct values: at 470k chunks, their languages,
    sources and readout ids cost a few MB instead of a Python string each, and filter as
    integers."""

    names: list[str]
    codes: np.ndarray

    @classmethod
    def of(cls, values: list[str]) -> _Column:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values),
                            dtype=np.int32, count=len(values))
        return cls(list(index), codes)

    def isin(self, wanted: tuple[str, ...]) -> np.ndarray:
        """True for the rows whose value is one of ``wanted``."""
        return np.isin(self.codes, [i for i, name in enumerate(self.names) if name in wanted])


@dataclass
class _Rows:
    """Per-chunk metadata as arrays, so filters become vectorised masks."""

    chunk_ids: list[str]
    doc_ids: _Column
    dates: np.ndarray
    languages: _Column
    sources: _Column
    countries: dict[str, np.ndarray]  # alpha-2 -> row numbers that mention it

    @functools.cached_property
    def language_counts(self) -> dict[str, int]:
        """Chunks per language, most frequent first; counted once per index, not per question."""
        counts = np.bincount(self.languages.codes, minlength=len(self.languages.names))
        ranked = sorted(zip(self.languages.names, counts.tolist(), strict=True),
                        key=lambda item: (-item[1], item[0]))
        return {name: n for name, n in ranked if n}

    def mask(self, filters: Filters) -> np.ndarray | None:
        """1.0 for rows the filters allow, else 0.0; None when nothing is filtered."""
        if filters.is_empty():
            return None
        keep = np.ones(len(self.chunk_ids), dtype=bool)
        if filters.since:
            keep &= self.dates >= int(filters.since.replace("-", ""))
        if filters.until:
            keep &= self.dates <= int(filters.until.replace("-", ""))
        if filters.languages:
            keep &= self.languages.isin(filters.languages)
        if filters.sources:
            keep &= self.sources.isin(filters.sources)
        if filters.doc_ids:
            keep &= self.doc_ids.isin(filters.doc_ids)
        for code in filters.countries:
            has = np.zeros(len(self.chunk_ids), dtype=bool)
            has[self.countries.get(code.upper(), np.empty(0, dtype=np.int64))] = True
            keep &= has
        return keep.astype(np.float32)


@dataclass(frozen=True)
class _Snapshot:
    """One built index, swapped in whole: a question never mixes two builds."""

    generation: str
    bm25: bm25s.BM25 | None
    rows: _Rows
    centroids: dict[str, np.ndarray]  # per language, see store.language_centroids

    @functools.cached_property
    def known(self) -> KnownStems:
        """The vocabulary's stems, computed on the first question that needs them."""
        return KnownStems(self.bm25.vocab_dict if self.bm25 is not None else ())


_NONE = _Column([], np.empty(0, dtype=np.int32))
_EMPTY = _Snapshot("", None, _Rows([], _NONE, np.empty(0, dtype=np.int64), _NONE, _NONE, {}),
                   {})


class LexicalIndex:
    """BM25 search over committed chunks, restricted by the same filters as dense search.

    A small index is rebuilt inside the question that notices the stamp moved. One whose
    last build took longer than ``INLINE_BUILD_S`` keeps answering while a background thread
    rebuilds, at most once per ``REBUILD_GAP`` build times: during a long ingest into a large
    store (the stamp moves every 30 s; a build took 128 s at 161k chunks) readers would
    otherwise stall or rebuild without end. Meanwhile new readouts are found by dense search
    only, and BM25 hits of changed or removed readouts are dropped by the store's hash check.
    """

    def __init__(self, store: ReadoutStore, cache_dir: Path):
        self.store = store
        self.cache_dir = cache_dir / f"lexical-{store.prefix}"
        self._snap = _EMPTY
        self._build_s = 0.0  # duration of the last build
        self._next_build = 0.0  # monotonic time before which no background build starts
        self._builder: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def _built(self) -> bool:
        """True once a build or a cached index has been swapped in (even of an empty store)."""
        return self._snap is not _EMPTY

    @property
    def generation(self) -> str:
        """The store stamp the index answers for."""
        return self._snap.generation

    @property
    def centroids(self) -> dict[str, np.ndarray]:
        """Per-language mean vectors, computed with the index (see store.language_centroids)."""
        return self._snap.centroids

    @property
    def chunk_ids(self) -> list[str]:
        """Every indexed chunk id."""
        return self._snap.rows.chunk_ids

    def sync(self) -> bool:
        """Load or rebuild so that the index matches the store; True if it changed now.

        With a slow build pending in the background this returns False and the previous
        index goes on answering. Called once per question: it is also where the store
        catches up with what other processes wrote (``ReadoutStore.catch_up``)."""
        current = self.store.catch_up()
        if self._built and current == self._snap.generation:
            return False
        with self._lock:
            if self._built and current == self._snap.generation:
                return False
            loaded = self._load(current)
            if loaded is not None:
                self._snap = loaded
                return True
            if self._built and self._build_s > INLINE_BUILD_S:
                self._build_in_background()
                return False
            self._build(current)
            return True

    def _build_in_background(self) -> None:
        if self._builder is not None and self._builder.is_alive():
            return
        if time.monotonic() < self._next_build:
            return

        def run() -> None:
            try:
                self._build(self.store.generation())
            except Exception:  # the old index keeps answering; the next question retries
                log.exception("Background rebuild of the lexical index failed")

        self._builder = threading.Thread(target=run, name="lexical-rebuild", daemon=True)
        self._builder.start()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild, if any (tests, benchmarks, shutdown)."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def language_counts(self) -> dict[str, int]:
        """Chunks per language, most frequent first (as of the last ``sync``)."""
        return self._snap.rows.language_counts

    def matching_ids(self, filters: Filters) -> list[str] | None:
        """Ids of the chunks that pass ``filters`` (as of the last ``sync``); None when
        nothing is filtered."""
        rows = self._snap.rows
        mask = rows.mask(filters)
        if mask is None:
            return None
        return [rows.chunk_ids[i] for i in np.flatnonzero(mask).tolist()]

    def readouts_naming(
        self, names: Sequence[Sequence[str]], countries: Sequence[str] = ()
    ) -> list[str]:
        """The readouts (doc ids, as of the last ``sync``) that name every one of ``names``,
        each given by its forms in any script ("Scholz", "朔尔茨"), in their title or text,
        and mention every one of ``countries`` (alpha-2 codes).

        Read from the index's postings: a form is found where all its tokens are (a Chinese
        name's bigrams, a Latin name's words), which costs a few array intersections however
        large the store."""
        snap = self._snap
        if snap.bm25 is None:
            return []
        postings = snap.bm25.scores
        vocab = snap.bm25.vocab_dict
        doc_codes = snap.rows.doc_ids.codes
        found: np.ndarray | None = None
        for code in countries:
            mentions = snap.rows.countries.get(code.upper(), np.empty(0, dtype=np.int64))
            docs = np.unique(doc_codes[mentions])
            found = docs if found is None else np.intersect1d(found, docs)
        for forms in names:
            rows: list[np.ndarray] = []
            for form in forms:
                ids = [vocab.get(word) for word in tokens(form)]
                if not ids or None in ids:
                    continue
                where = [postings["indices"][postings["indptr"][i] : postings["indptr"][i + 1]]
                         for i in ids]
                rows.append(functools.reduce(np.intersect1d, where))
            docs = np.unique(doc_codes[np.concatenate(rows)]) if rows else np.empty(0, np.int32)
            found = docs if found is None else np.intersect1d(found, docs)
        if found is None or not found.size:
            return []
        names_of = snap.rows.doc_ids.names
        return [names_of[code] for code in found.tolist()]

    def unknown(self, words: Sequence[str]) -> tuple[str, ...]:
        """The ``words`` (BM25 tokens) that no stored chunk contains in any inflection, as of
        the last ``sync`` (``rag.stems``)."""
        known = self._snap.known
        return tuple(w for w in words if not known.knows(w))

    def search(self, question: str, k: int, filters: Filters) -> list[LexicalHit]:
        """The best k chunks by BM25 (as of the last ``sync``), best first; empty if no term
        matches."""
        snap = self._snap
        query = tokens(question)
        if not query or snap.bm25 is None or not snap.rows.chunk_ids:
            return []
        known = [t for t in query if t in snap.bm25.vocab_dict]
        if not known:
            return []
        scores = snap.bm25.get_scores(known)  # retrieve() costs 50 ms at 161k chunks, this 2
        mask = snap.rows.mask(filters)
        if mask is not None:
            scores = scores * mask
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        rows = snap.rows
        return [
            LexicalHit(rows.chunk_ids[d], float(s), rows.languages.names[rows.languages.codes[d]])
            for d, s in zip(top.tolist(), scores[top].tolist(), strict=True)
            if s > 0
        ]

    def _build(self, generation: str) -> None:
        started = time.monotonic()
        ids: list[str] = []
        corpus: list[list[str]] = []
        doc_ids: list[str] = []
        dates: list[int] = []
        langs: list[str] = []
        sources: list[str] = []
        countries: dict[str, list[int]] = {}
        shared: dict[str, str] = {}  # one string object per distinct token, not per use
        heads: dict[str, list[str]] = {}
        for row, (chunk_id, text, meta) in enumerate(self.store.iter_chunks()):
            ids.append(chunk_id)
            head = heads.get(meta["doc_id"])
            if head is None:  # title and date count for every chunk, as in the embedded text
                heads.clear()
                head = heads[meta["doc_id"]] = tokens(f"{meta['title']} {meta['date']}")
            words = [shared.setdefault(t, t) for t in head + tokens(text)]
            corpus.append(words or ["\u2205"])
            doc_ids.append(meta["doc_id"])
            dates.append(int(meta["date_int"]))
            langs.append(meta["language"])
            sources.append(meta["source"])
            for code in filter(None, str(meta.get("countries", "")).split(",")):
                countries.setdefault(code, []).append(row)
        rows = _Rows(
            ids, _Column.of(doc_ids), np.array(dates, dtype=np.int64), _Column.of(langs),
            _Column.of(sources),
            {c: np.array(r, dtype=np.int64) for c, r in countries.items()},
        )
        bm25 = bm25s.BM25()
        if corpus:
            bm25.index(corpus, show_progress=False)
        snap = _Snapshot(generation, bm25 if corpus else None, rows,
                         self.store.language_centroids())
        self._snap = snap
        self._build_s = time.monotonic() - started
        self._next_build = time.monotonic() + REBUILD_GAP * self._build_s
        self._save(snap)

    def _save(self, snap: _Snapshot) -> None:
        """Write to a temp folder then rename: a reader never sees half an index."""
        rows = snap.rows
        self.cache_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_dir.parent, prefix=".lexical-tmp-"))
        try:
            if snap.bm25 is not None:
                snap.bm25.save(str(tmp / "bm25"))
            arrays: dict[str, Any] = {
                "dates": rows.dates, "doc_codes": rows.doc_ids.codes,
                "language_codes": rows.languages.codes, "source_codes": rows.sources.codes,
                **{f"c_{c}": r for c, r in rows.countries.items()},
                **{f"l_{lang}": v for lang, v in snap.centroids.items()},
            }
            np.savez(tmp / "rows.npz", **arrays)
            (tmp / "rows.json").write_text(json.dumps({
                "chunk_ids": rows.chunk_ids, "doc_ids": rows.doc_ids.names,
                "languages": rows.languages.names, "sources": rows.sources.names,
            }), encoding="utf-8")
            (tmp / "generation").write_text(f"{CACHE_FORMAT}:{snap.generation}",
                                            encoding="utf-8")
            old = self.cache_dir.with_name(self.cache_dir.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.cache_dir.exists():
                self.cache_dir.rename(old)
            tmp.rename(self.cache_dir)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:  # a read-only cache only costs a rebuild next start
            log.warning("Could not save the lexical index to %s: %s", self.cache_dir, exc)
            shutil.rmtree(tmp, ignore_errors=True)

    def _load(self, generation: str) -> _Snapshot | None:
        """The cached index of ``generation`` (another process may have built it), or None."""
        stamp = self.cache_dir / "generation"
        try:
            expected = f"{CACHE_FORMAT}:{generation}"
            if not stamp.exists() or stamp.read_text(encoding="utf-8") != expected:
                return None
            meta = json.loads((self.cache_dir / "rows.json").read_text(encoding="utf-8"))
            arrays = np.load(self.cache_dir / "rows.npz")
            bm25_dir = self.cache_dir / "bm25"
            bm25 = bm25s.BM25.load(str(bm25_dir), mmap=True) if bm25_dir.exists() else None
        except (OSError, ValueError, KeyError) as exc:
            log.warning("Lexical index cache unreadable, rebuilding: %s", exc)
            return None
        rows = _Rows(
            meta["chunk_ids"], _Column(meta["doc_ids"], arrays["doc_codes"]), arrays["dates"],
            _Column(meta["languages"], arrays["language_codes"]),
            _Column(meta["sources"], arrays["source_codes"]),
            {k[2:]: arrays[k] for k in arrays.files if k.startswith("c_")},
        )
        centroids = {k[2:]: arrays[k] for k in arrays.files if k.startswith("l_")}
        return _Snapshot(generation, bm25, rows, centroids)
