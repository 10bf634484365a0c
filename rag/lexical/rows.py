"""Per-chunk columns of the lexical index (readout, date, language, source, countries) as
arrays, so that a filter is a vectorised mask over every indexed chunk."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.schema import Filters

_NO_ROWS = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Column:
    """A string column as codes into its distinct values: at 470k chunks, their languages,
    sources and readout ids cost a few MB instead of a Python string each, and filter as
    integers."""

    names: list[str]
    codes: np.ndarray

    @classmethod
    def of(cls, values: Iterable[str]) -> Column:
        index: dict[str, int] = {}
        codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32)
        return cls(list(index), codes)

    def isin(self, wanted: Iterable[str]) -> np.ndarray:
        """True for the rows whose value is one of ``wanted``."""
        wanted = set(wanted)
        return np.isin(self.codes, [i for i, name in enumerate(self.names) if name in wanted])

    def then(self, other: Column) -> Column:
        """This column's rows followed by ``other``'s, one list of names for both."""
        index = {name: i for i, name in enumerate(self.names)}
        remap = np.fromiter((index.setdefault(n, len(index)) for n in other.names),
                            dtype=np.int32, count=len(other.names))
        codes = remap[other.codes] if len(other.codes) else np.empty(0, np.int32)
        return Column(list(index), np.concatenate([self.codes, codes]).astype(np.int32))


@dataclass(frozen=True)
class Rows:
    """Per-chunk metadata as arrays, so filters become vectorised masks."""

    chunk_ids: list[str]
    doc_ids: Column
    dates: np.ndarray
    languages: Column
    sources: Column
    countries: dict[str, np.ndarray]  # alpha-2 -> row numbers that mention it
    starts: np.ndarray  # each chunk's offsets in its readout's text
    ends: np.ndarray

    @classmethod
    def of(cls, chunks: Iterable[tuple[str, Mapping[str, Any]]]) -> Rows:
        """Rows of (chunk_id, metadata) pairs, the metadata as ``store.iter_chunks`` gives."""
        builder = RowsBuilder()
        for chunk_id, meta in chunks:
            builder.add(chunk_id, meta)
        return builder.rows()

    def then(self, other: Rows) -> Rows:
        """These rows followed by ``other``'s (the delta after the base)."""
        n = len(self.chunk_ids)
        codes = sorted(set(self.countries) | set(other.countries))
        return Rows(
            self.chunk_ids + other.chunk_ids, self.doc_ids.then(other.doc_ids),
            np.concatenate([self.dates, other.dates]), self.languages.then(other.languages),
            self.sources.then(other.sources),
            {c: np.concatenate([self.countries.get(c, _NO_ROWS),
                                other.countries.get(c, _NO_ROWS) + n]) for c in codes},
            np.concatenate([self.starts, other.starts]), np.concatenate([self.ends, other.ends]),
        )

    @functools.cached_property
    def _row_of(self) -> dict[str, int]:
        return {cid: row for row, cid in enumerate(self.chunk_ids)}

    def offsets(self, chunk_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(start, end) in its readout's text of each of ``chunk_ids`` these rows hold.

        A chunk id names its readout's content hash and its place in it, so its offsets
        never change: the dense search reads them here instead of from Chroma, whose
        metadata costs more than the search itself (measured: 40 neighbours in 2.9 ms
        with their vectors, 6.6 ms with their metadata too)."""
        row_of = self._row_of
        rows = [(cid, row_of[cid]) for cid in chunk_ids if cid in row_of]
        return {cid: (int(self.starts[r]), int(self.ends[r])) for cid, r in rows}

    def mask(self, filters: Filters) -> np.ndarray | None:
        """True for rows the filters allow; None when nothing is filtered."""
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
            has[self.countries.get(code.upper(), _NO_ROWS)] = True
            keep &= has
        return keep


class RowsBuilder:
    """Rows collected one chunk at a time, keeping only the columns: a full build of 339k
    chunks must not hold each chunk's metadata dict (about 1 KB each) until the end."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.doc_ids: list[str] = []
        self.dates: list[int] = []
        self.languages: list[str] = []
        self.sources: list[str] = []
        self.countries: dict[str, list[int]] = {}
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, chunk_id: str, meta: Mapping[str, Any]) -> None:
        row = len(self.ids)
        self.ids.append(chunk_id)
        self.doc_ids.append(str(meta["doc_id"]))
        self.dates.append(int(meta["date_int"]))
        self.languages.append(str(meta["language"]))
        self.sources.append(str(meta["source"]))
        self.starts.append(int(meta["start"]))
        self.ends.append(int(meta["end"]))
        for code in filter(None, str(meta.get("countries", "")).split(",")):
            self.countries.setdefault(code, []).append(row)

    def rows(self) -> Rows:
        return Rows(self.ids, Column.of(self.doc_ids), np.array(self.dates, dtype=np.int64),
                    Column.of(self.languages), Column.of(self.sources),
                    {c: np.array(r, dtype=np.int64) for c, r in self.countries.items()},
                    np.array(self.starts, dtype=np.int64), np.array(self.ends, dtype=np.int64))


EMPTY_ROWS = Rows([], Column([], np.empty(0, np.int32)), np.empty(0, np.int64),
                  Column([], np.empty(0, np.int32)), Column([], np.empty(0, np.int32)), {},
                  np.empty(0, np.int64), np.empty(0, np.int64))
