"""Files -> the readouts to embed, one file at a time: the streaming front of ingestion.

A scan keeps only the ids and paths of what it has read, never the readouts themselves: a
readout is loaded, compared with the store, chunked and handed on before the next file is
read, so memory stays bounded by one file and the batches in flight, whatever the corpus.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

from ingest.chunking import chunk_readout
from ingest.loaders import LoadFailure, discover, load_file
from ingest.shard import Shard
from rag.schema import Chunk, Readout

MAX_CHUNKS = 1000  # per readout (the corpus's longest has 14): more is a mistake or an attack


class Committed(NamedTuple):
    """What ingestion needs of a stored readout: its content hash and the file it came from."""

    hash: str
    path: str


def committed(stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Committed]:
    """The store's readout metadata cut to hash and path (a few MB at 100k readouts)."""
    return {d: Committed(str(m["hash"]), str(m.get("path") or "")) for d, m in stored.items()}


def failure_key(failure: LoadFailure) -> str:
    """Failures have no doc_id; their file and record pick the one share that reports them."""
    return f"{failure.path}\x00{failure.record or ''}"


def estimate_readouts(paths: Sequence[Path]) -> int:
    """How many readouts ``paths`` hold, for the progress bar's time left: a JSON Lines file
    counts its non-blank lines (a byte scan, no parsing), any other file one."""
    files, _ = discover(paths)
    total = 0
    for path in files:
        if path.suffix.lower() != ".jsonl":
            total += 1
            continue
        try:
            with path.open("rb") as stream:
                total += sum(1 for line in stream if line.strip())
        except OSError:
            total += 1  # the scan reports it
    return total


def _own_id(readout: Readout) -> Readout:
    """The readout under an id made from its whole path, not just its file name: two files
    named readout.txt in two folders are two readouts."""
    digest = hashlib.sha1(readout.path.encode("utf-8")).hexdigest()[:8]
    return replace(readout, doc_id=f"{readout.doc_id}-{digest}")


@dataclass
class Scan:
    """One pass over the files for one share of the readouts.

    ``todo`` yields the readouts that changed, with their chunks; meanwhile the scan records
    those found unchanged, the failures, and what ``prune`` must keep.
    """

    stored: Mapping[str, Committed]  # every share's committed readouts
    shard: Shard
    max_bytes: int
    max_chars: int
    unchanged: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    failed_paths: set[str] = field(default_factory=set)  # prune never removes their readouts
    read: dict[str, str] = field(default_factory=dict)  # doc_id -> path, every share's

    @property
    def seen(self) -> set[str]:
        """Doc ids found in this share: prune keeps them."""
        return {d for d in self.read if self.shard.owns(d)}

    @property
    def settled(self) -> int:
        """Readouts of this share dealt with without embedding: unchanged or failed."""
        return len(self.unchanged) + len(self.failed)

    def todo(self, paths: Sequence[Path]) -> Iterator[tuple[Readout, list[Chunk]]]:
        """The changed readouts of this share, chunked, in file order."""
        files, missing = discover(paths)
        self._fail(missing)
        for path in files:
            result = load_file(path, self.max_bytes)
            self._fail(result.failures)
            if result.failures:
                self.failed_paths.add(str(path.resolve()))
            for found in result.readouts:
                readout = self._unique(found, path)
                if readout is None or not self.shard.owns(readout.doc_id):
                    continue
                known = self.stored.get(readout.doc_id)
                if known is not None and known.hash == readout.content_hash:
                    self.unchanged.append(readout.doc_id)
                    continue
                chunks = chunk_readout(readout, self.max_chars)
                if len(chunks) > MAX_CHUNKS:
                    self._fail([LoadFailure(
                        readout.path, f"{len(chunks)} chunks, over the limit of {MAX_CHUNKS} "
                        "per readout (one huge line or a whole book?): split it into several "
                        "readouts", f"id={readout.doc_id}",
                    )])
                    continue
                yield readout, chunks

    def _fail(self, failures: Sequence[LoadFailure]) -> None:
        self.failed += [f for f in failures if self.shard.owns(failure_key(f))]

    def _unique(self, readout: Readout, path: Path) -> Readout | None:
        """The readout under an id no other file holds (first id wins), or None (a failure)."""
        if readout.id_from_path and self._held_elsewhere(readout):
            readout = _own_id(readout)
        first = self.read.get(readout.doc_id)
        if first is not None:
            self._fail([LoadFailure(
                str(path), f"duplicate id '{readout.doc_id}': already read from {first}", None,
            )])
            return None
        self.read[readout.doc_id] = readout.path
        return readout

    def _held_elsewhere(self, readout: Readout) -> bool:
        """True when another file already holds the id made from this readout's file name:
        read earlier in this run, or stored from a file that is still there (a stored readout
        whose file is gone was moved or renamed here: it keeps its id)."""
        if readout.doc_id in self.read:
            return self.read[readout.doc_id] != readout.path
        known = self.stored.get(readout.doc_id)
        other = known.path if known is not None else ""
        return bool(other) and other != readout.path and Path(other).exists()
