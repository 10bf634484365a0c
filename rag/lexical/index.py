"""BM25 over the stored chunks, kept in step with the store, changed readout by readout.

The index is a cache derived from the store. It records the store's generation stamp and
``LexicalIndex.sync`` (once per question) follows the store when that stamp moved, so every
process sharing a store, embedded or server, answers from the same readouts (an embedded
store reopens its client then, see ``ReadoutStore.catch_up``).

How it follows depends on what a full build costs. A store whose index builds within
``INLINE_BUILD_S`` is simply rebuilt inside the question that notices the change. A larger
one is updated: the readouts committed or removed since the index's time (``as_of``, read
back with a margin of ``CLOCK_MARGIN_S``) are read from the store, their old rows are masked
out and their chunks form a small delta segment (``rag.lexical.bm25``: the statistics are
summed at query time, so the scores are those of one index over the live rows). When the
delta grows costly (a catch-up took more than ``DELTA_BUDGET_S``) a full build runs in a
background thread, at most once per ``REBUILD_GAP`` build times, and is swapped in once it
has caught up with what was written meanwhile. A question never waits for it, and never sees
a half-updated index: each state is a ``_Snapshot`` swapped in whole.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rag.lexical import cache
from rag.lexical.bm25 import Corpus, Postings
from rag.lexical.rows import EMPTY_ROWS, Rows, RowsBuilder
from rag.schema import Filters
from rag.stems import KnownStems
from rag.store import ReadoutStore
from rag.tokenize import tokens

log = logging.getLogger(__name__)
INLINE_BUILD_S = 2.0  # an index whose last build took longer is updated, not rebuilt inline
REBUILD_GAP = 4.0  # a background build starts at most once per this many build times
DELTA_BUDGET_S = 0.5  # a catch-up that takes longer starts a full build in the background
# Changes are read back from this long before the index's time: a commit is stamped with
# its writer's clock, which may lag (another machine on a server, a write in flight).
CLOCK_MARGIN_S = 300.0

Chunk = tuple[str, tuple[str, ...], Mapping[str, Any]]  # chunk id, tokens, metadata


class LexicalHit(NamedTuple):
    """A BM25 match, with its language: the collection that holds its vector."""

    chunk_id: str
    score: float
    language: str


_STEMS: weakref.WeakKeyDictionary[Postings, KnownStems] = weakref.WeakKeyDictionary()


def _stems_of(segment: Postings) -> KnownStems:
    """A segment's stems, computed once per segment (the base's outlives many deltas)."""
    known = _STEMS.get(segment)
    if known is None:
        known = _STEMS[segment] = KnownStems(segment.vocab)
    return known


@dataclass(frozen=True)
class _Snapshot:
    """One state of the index: a base segment built from the whole store, a delta segment of
    the readouts changed since, and which rows are live."""

    generation: str
    identity: str  # the store's (see ReadoutStore.identity)
    as_of: float  # wall-clock time up to which the store's changes are in
    base_rows: Rows
    delta_docs: Mapping[str, tuple[Chunk, ...]]  # changed readouts' chunks (none: removed)
    rows: Rows  # base rows then delta rows
    corpus: Corpus  # the base segment, then the delta segment
    hashes: Mapping[str, str]  # doc_id -> content hash, of every live readout
    centroids: Mapping[str, np.ndarray]  # per language, see store.language_centroids
    build_s: float  # how long the base took to build

    @property
    def base(self) -> Postings:
        """The segment of the last full build."""
        return self.corpus.segments[0]

    @functools.cached_property
    def language_counts(self) -> dict[str, int]:
        """Live chunks per language, most frequent first; counted once per snapshot."""
        names = self.rows.languages.names
        counts = np.bincount(self.rows.languages.codes[self.corpus.live], minlength=len(names))
        ranked = sorted(zip(names, counts.tolist(), strict=True),
                        key=lambda item: (-item[1], item[0]))
        return {name: n for name, n in ranked if n}

    def knows(self, word: str) -> bool:
        """Whether some indexed chunk holds ``word`` or an inflection of it."""
        return any(_stems_of(seg).knows(word) for seg in self.corpus.segments if seg.vocab)


def _snapshot(generation: str, identity: str, as_of: float, base: Postings, base_rows: Rows,
              hashes: Mapping[str, str], centroids: Mapping[str, np.ndarray], build_s: float,
              delta_docs: Mapping[str, tuple[Chunk, ...]] | None = None) -> _Snapshot:
    """A snapshot of a base and the chunks of the readouts changed since (``delta_docs``)."""
    delta_docs = delta_docs or {}
    chunks = [c for doc_id in sorted(delta_docs) for c in delta_docs[doc_id]]
    delta = Postings.build(c[1] for c in chunks) if chunks else Postings.empty()
    delta_rows = Rows.of((c[0], c[2]) for c in chunks)
    base_live = ~base_rows.doc_ids.isin(delta_docs) if delta_docs else \
        np.ones(base.n_rows, dtype=bool)
    live = np.concatenate([base_live, np.ones(delta.n_rows, dtype=bool)])
    return _Snapshot(generation, identity, as_of, base_rows, delta_docs,
                     base_rows.then(delta_rows), Corpus((base, delta), live), hashes, centroids,
                     build_s)


_EMPTY = _snapshot("", "", 0.0, Postings.empty(), EMPTY_ROWS, {}, {}, 0.0)


def _chunk_tokens(chunks: Iterable[tuple[str, str, Mapping[str, Any]]]
                  ) -> Iterable[Chunk]:
    """Each chunk's BM25 tokens: its readout's title and date (as in the embedded text), then
    its own text; one string object per distinct token, not per use."""
    shared: dict[str, str] = {}
    heads: dict[str, list[str]] = {}
    for chunk_id, text, meta in chunks:
        head = heads.get(meta["doc_id"])
        if head is None:
            heads.clear()
            head = heads[meta["doc_id"]] = tokens(f"{meta['title']} {meta['date']}")
        words = tuple(shared.setdefault(t, t) for t in head + tokens(text))
        yield chunk_id, words or ("\u2205",), meta


class LexicalIndex:
    """BM25 search over committed chunks, restricted by the same filters as dense search."""

    def __init__(self, store: ReadoutStore, cache_dir: Path):
        self.store = store
        self.cache_dir = cache_dir / f"lexical-{store.prefix}"
        self._snap = _EMPTY
        self._next_build = 0.0  # monotonic time before which no background build starts
        self._builder: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def generation(self) -> str:
        """The store stamp the index answers for."""
        return self._snap.generation

    @property
    def centroids(self) -> Mapping[str, np.ndarray]:
        """Per-language mean vectors, computed with the last full build (a mean over a
        large store barely moves with a few readouts)."""
        return self._snap.centroids

    @property
    def chunk_ids(self) -> list[str]:
        """Every live indexed chunk id."""
        snap = self._snap
        return [snap.rows.chunk_ids[i] for i in np.flatnonzero(snap.corpus.live).tolist()]

    def sync(self) -> bool:
        """Follow the store (see the module's docstring); True if the index changed now.

        Called once per question: it is also where the store catches up with what other
        processes wrote (``ReadoutStore.catch_up``)."""
        current = self.store.catch_up()
        snap = self._snap
        if snap is not _EMPTY and current == snap.generation:
            return False
        with self._lock:
            snap = self._snap
            if snap is not _EMPTY and current == snap.generation:
                return False
            if snap is _EMPTY or snap.build_s <= INLINE_BUILD_S:
                saved = self._saved(current)
                if saved is None:
                    self._snap = self._build(current)
                    return True
                snap = saved
            started = time.monotonic()
            self._snap = self._caught_up(replace(snap, generation=current))
            if time.monotonic() - started > DELTA_BUDGET_S and self._snap.delta_docs:
                self._build_in_background()
            return True

    def _saved(self, current: str) -> _Snapshot | None:
        """The index another process (or an earlier run) saved, if it can be brought up to
        date: of this store, and of its current stamp or of a store too large to rebuild."""
        saved = cache.load(self.cache_dir)
        if saved is None or saved.identity != self.store.identity():
            return None
        if saved.generation != current and saved.build_s <= INLINE_BUILD_S:
            return None
        return _snapshot(saved.generation, saved.identity, saved.as_of, saved.base,
                         saved.rows, saved.hashes, saved.centroids, saved.build_s)

    def _caught_up(self, snap: _Snapshot) -> _Snapshot:
        """``snap`` with the readouts committed or removed since its time folded in."""
        started = time.time()
        changed, removed = self.store.changes_since(snap.as_of - CLOCK_MARGIN_S)
        todo = sorted(d for d, meta in changed.items() if snap.hashes.get(d) != meta["hash"])
        gone = [d for d in removed if d in snap.hashes]
        if not todo and not gone:
            return replace(snap, as_of=started)
        delta_docs = dict(snap.delta_docs)
        hashes = dict(snap.hashes)
        for doc_id in gone:
            delta_docs[doc_id] = ()
            hashes.pop(doc_id, None)
        found: dict[str, list[Chunk]] = {}
        for chunk in _chunk_tokens(self.store.iter_chunks(todo)):
            found.setdefault(str(chunk[2]["doc_id"]), []).append(chunk)
        for doc_id in todo:
            chunks = found.get(doc_id, [])
            delta_docs[doc_id] = tuple(chunks)
            if chunks:
                hashes[doc_id] = str(chunks[0][2]["hash"])
            else:  # removed or rewritten between the two reads: the next stamp says which
                hashes.pop(doc_id, None)
        return _snapshot(snap.generation, snap.identity, started, snap.base, snap.base_rows,
                         hashes, snap.centroids, snap.build_s, delta_docs)

    def _build(self, generation: str) -> _Snapshot:
        """A full build from every committed chunk, saved for the next process."""
        started, as_of = time.monotonic(), time.time()
        identity = self.store.identity()
        builder = RowsBuilder()
        hashes: dict[str, str] = {}

        def words() -> Iterable[tuple[str, ...]]:
            for chunk_id, tokens_, meta in _chunk_tokens(self.store.iter_chunks()):
                builder.add(chunk_id, meta)
                hashes[str(meta["doc_id"])] = str(meta["hash"])
                yield tokens_

        base = Postings.build(words())
        rows = builder.rows()
        centroids = self.store.language_centroids()
        build_s = time.monotonic() - started
        self._next_build = time.monotonic() + REBUILD_GAP * build_s
        cache.save(self.cache_dir, cache.Saved(generation, identity, as_of, base, rows, hashes,
                                               centroids, build_s))
        return _snapshot(generation, identity, as_of, base, rows, hashes, centroids, build_s)

    def _build_in_background(self) -> None:
        if self._builder is not None and self._builder.is_alive():
            return
        if time.monotonic() < self._next_build:
            return

        def run() -> None:
            try:
                built = self._build(self.store.generation())
                with self._lock:  # what was written during the build, then the swap
                    generation = self._snap.generation
                    self._snap = self._caught_up(replace(built, generation=generation))
            except Exception:  # the current index keeps answering; a later question retries
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
        return self._snap.language_counts

    def offsets(self, chunk_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """Each indexed chunk's (start, end) in its readout (as of the last ``sync``); chunks
        not indexed yet are left out, for the store to read."""
        return self._snap.rows.offsets(chunk_ids)

    def matching_ids(self, filters: Filters) -> list[str] | None:
        """Ids of the chunks that pass ``filters`` (as of the last ``sync``); None when
        nothing is filtered."""
        snap = self._snap
        mask = snap.rows.mask(filters)
        if mask is None:
            return None
        return [snap.rows.chunk_ids[i] for i in np.flatnonzero(mask & snap.corpus.live).tolist()]

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
        doc_codes = snap.rows.doc_ids.codes
        found: np.ndarray | None = None
        for code in countries:
            mentions = snap.rows.countries.get(code.upper(), np.empty(0, dtype=np.int64))
            docs = np.unique(doc_codes[mentions[snap.corpus.live[mentions]]])
            found = docs if found is None else np.intersect1d(found, docs)
        for forms in names:
            rows: list[np.ndarray] = []
            for form in forms:
                words = tokens(form)
                if not words or not all(snap.corpus.knows(w) for w in words):
                    continue
                where = [snap.corpus.postings(w)[0] for w in words]
                rows.append(functools.reduce(np.intersect1d, where))
            docs = np.unique(doc_codes[np.concatenate(rows)]) if rows else np.empty(0, np.int32)
            found = docs if found is None else np.intersect1d(found, docs)
        if found is None or not found.size:
            return []
        names_of = snap.rows.doc_ids.names
        return [names_of[code] for code in found.tolist()]

    def rarity(self, words: Sequence[str]) -> tuple[float, ...]:
        """How much each of ``words`` (BM25 tokens) says about where it is found: its
        inverse document frequency over the live chunks, as of the last ``sync`` ("hydrogen"
        a lot, "cooperation" little; a word no chunk holds the most)."""
        corpus = self._snap.corpus
        return tuple(corpus.rarity(w) for w in words)

    def unknown(self, words: Sequence[str]) -> tuple[str, ...]:
        """The ``words`` (BM25 tokens) that no stored chunk contains in any inflection, as of
        the last ``sync`` (``rag.stems``)."""
        snap = self._snap
        return tuple(w for w in words if not snap.knows(w))

    def search(self, question: str, k: int, filters: Filters) -> list[LexicalHit]:
        """The best k chunks by BM25 (as of the last ``sync``), best first; empty if no term
        matches."""
        snap = self._snap
        query = [t for t in tokens(question) if snap.corpus.knows(t)]
        if not query or not snap.rows.chunk_ids:
            return []
        scores = snap.corpus.scores(query)
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
