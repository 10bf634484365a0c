"""BM25 postings that can be added to without rebuilding: the statistics are read at query time.

A ``Postings`` segment holds, for each token, the rows (chunks) it occurs in and how often.
BM25's corpus statistics (how many rows hold a token, how many rows there are, their mean
length) are not baked into it, as a precomputed index (bm25s) bakes them: they are summed at
query time over every segment and only over live rows. So a changed readout costs a small new
segment and a mask over its old rows, instead of a rebuild of the whole index, and the
scores are the same as one index built over the live rows (Lucene's BM25, bm25s's default,
whose scores the ranking weights were fitted on).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

K1, B = 1.5, 0.75  # Lucene's and bm25s's defaults, which the ranking weights were fitted with
_BLOCK = 20_000  # rows counted at a time while building: bounds the temporary arrays


@dataclass(frozen=True, eq=False)  # compared and hashed by identity (per-segment caches)
class Postings:
    """Token -> (rows, counts), as compressed sparse rows by token id, and each row's length.

    Rows are numbered from 0 within the segment; ``Corpus`` places segments one after the
    other. A row with no token has length 0 and no postings.
    """

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, len(vocab) + 1: token t's postings are [indptr[t], indptr[t+1])
    rows: np.ndarray  # int32 row of each posting
    counts: np.ndarray  # uint16 occurrences of the token in that row
    lengths: np.ndarray  # float32 tokens per row

    @property
    def n_rows(self) -> int:
        return len(self.lengths)

    @classmethod
    def empty(cls) -> Postings:
        return cls({}, np.zeros(1, np.int64), np.empty(0, np.int32), np.empty(0, np.uint16),
                   np.empty(0, np.float32))

    @classmethod
    def build(cls, docs: Iterable[Sequence[str]]) -> Postings:
        """Postings of token lists, one per row, in order.

        Rows are counted a block at a time into (token, row, count) triples sorted by token,
        then each block's triples are placed straight into the final arrays (a counting sort:
        no sort of the whole corpus, no second copy). At 339k chunks (23M postings) the
        triples and the result take about 16 bytes per posting."""
        vocab: dict[str, int] = {}
        blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        lengths: list[int] = []
        ids: list[np.ndarray] = []
        row_of: list[np.ndarray] = []
        first = 0

        def flush() -> None:
            nonlocal ids, row_of, first
            if ids:
                span = len(lengths) - first
                keys, counts = np.unique(np.concatenate(ids) * span + np.concatenate(row_of),
                                         return_counts=True)  # by token, then row
                blocks.append(((keys // span).astype(np.int32),
                               (keys % span + first).astype(np.int32),
                               np.minimum(counts, np.iinfo(np.uint16).max).astype(np.uint16)))
            ids, row_of, first = [], [], len(lengths)

        for doc in docs:
            row = len(lengths)
            lengths.append(len(doc))
            if doc:
                ids.append(np.fromiter((vocab.setdefault(t, len(vocab)) for t in doc),
                                       dtype=np.int64, count=len(doc)))
                row_of.append(np.full(len(doc), row - first, dtype=np.int64))
            if row + 1 - first >= _BLOCK:
                flush()
        flush()
        size = len(vocab)
        per_block = [np.bincount(tokens, minlength=size) for tokens, _, _ in blocks]
        indptr = np.zeros(size + 1, np.int64)
        np.cumsum(np.sum(per_block, axis=0) if per_block else np.zeros(size, np.int64),
                  out=indptr[1:])
        rows = np.empty(int(indptr[-1]), np.int32)
        counts = np.empty(int(indptr[-1]), np.uint16)
        cursor = indptr[:-1].copy()
        for n_per in per_block:  # blocks in row order: rows stay ascending within a token
            tokens, block_rows, block_counts = blocks.pop(0)
            run_start = np.cumsum(n_per) - n_per
            at = cursor[tokens] + (np.arange(len(tokens)) - run_start[tokens])
            rows[at], counts[at] = block_rows, block_counts
            cursor += n_per
        return cls(vocab, indptr, rows, counts, np.asarray(lengths, dtype=np.float32))

    def of(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, counts) of ``token``, or None if no row holds it."""
        t = self.vocab.get(token)
        if t is None:
            return None
        start, end = self.indptr[t], self.indptr[t + 1]
        return self.rows[start:end], self.counts[start:end]


@dataclass(frozen=True)
class Corpus:
    """Segments placed one after the other in one row space, with the rows that count.

    ``live`` is False for rows of readouts changed or removed since their segment was built:
    they are neither scored nor counted in the statistics.
    """

    segments: tuple[Postings, ...]
    live: np.ndarray  # bool per row of the row space

    @property
    def offsets(self) -> list[int]:
        out, at = [], 0
        for seg in self.segments:
            out.append(at)
            at += seg.n_rows
        return out

    def knows(self, token: str) -> bool:
        return any(token in seg.vocab for seg in self.segments)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """Live rows (in the row space) holding ``token``, and its counts there."""
        rows: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for seg, offset in zip(self.segments, self.offsets, strict=True):
            found = seg.of(token)
            if found is not None:
                rows.append(found[0].astype(np.int64) + offset)
                counts.append(found[1])
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.uint16)
        at, n = np.concatenate(rows), np.concatenate(counts)
        alive = self.live[at]
        return at[alive], n[alive]

    @functools.cached_property
    def _norm(self) -> np.ndarray:
        """Each row's length term, k1 * (1 - b + b * length / mean live length)."""
        lengths = np.concatenate([seg.lengths for seg in self.segments]) if self.segments \
            else np.empty(0, np.float32)
        n = int(self.live.sum())
        avg = float(lengths[self.live].sum()) / n if n else 1.0
        return (K1 * ((1 - B) + B * lengths / np.float32(avg or 1.0))).astype(np.float32)

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 (Lucene) of every row for the query's tokens, a repeated token counting
        again, as bm25s scores them; 0 for dead rows."""
        norm = self._norm
        out = np.zeros(len(norm), dtype=np.float32)
        n = int(self.live.sum())
        if not n:
            return out
        for token in query:
            rows, counts = self.postings(token)
            if not len(rows):
                continue
            out[rows] += np.float32(idf(n, len(rows))) * (counts / (counts + norm[rows]))
        return out

    def rarity(self, token: str) -> float:
        """BM25's inverse document frequency of ``token`` over the live rows: the highest
        for a token no row holds."""
        return idf(int(self.live.sum()), len(self.postings(token)[0]))


def idf(n: int, df: int) -> float:
    """Lucene's BM25 inverse document frequency of a token held by ``df`` of ``n`` rows."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))
