"""Incremental ingestion: files -> readouts -> chunks -> store, with a report.

Unchanged readouts (same content hash) are skipped before any embedding; changed ones
replace all their chunks; ``prune`` removes readouts whose file or record is gone. A run
killed at any point is repaired by the next one (see ``ReadoutStore.repair``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_readout
from ingest.loaders import LoadFailure, discover, load_file
from rag.schema import Chunk, Readout
from rag.store import ReadoutStore

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)


@dataclass
class IngestReport:
    """What a run did, readout by readout; the CLI and the UI print it."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[LoadFailure] = field(default_factory=list)
    repaired: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``readouts ingest --json``."""
        out = asdict(self)
        out["seconds"] = round(self.seconds, 3)
        return out

    def summary(self) -> str:
        """One line of counts, then one line per failure."""
        head = (
            f"added {len(self.added)}, updated {len(self.updated)}, "
            f"unchanged {len(self.unchanged)}, removed {len(self.removed)}, "
            f"failed {len(self.failed)}"
            f" ({self.chunks_embedded} chunks embedded in {self.seconds:.1f}s)"
        )
        if self.repaired:
            head += f"; repaired {self.repaired} readouts left by an interrupted run"
        lines = [head]
        for f in self.failed:
            where = f"{f.path} ({f.record})" if f.record else f.path
            lines.append(f"  FAILED {where}: {f.reason}")
        return "\n".join(lines)


def _load_all(
    files: Sequence[Path], max_bytes: int, report: IngestReport
) -> tuple[list[Readout], set[str]]:
    """Readouts of every file, first id wins; also the paths with any failure (never pruned)."""
    readouts: dict[str, Readout] = {}
    failed_paths: set[str] = set()
    for path in files:
        result = load_file(path, max_bytes)
        report.failed.extend(result.failures)
        if result.failures:
            failed_paths.add(str(path.resolve()))
        for readout in result.readouts:
            first = readouts.get(readout.doc_id)
            if first is not None:
                report.failed.append(LoadFailure(
                    str(path), f"duplicate id '{readout.doc_id}': already read from {first.path}",
                    None,
                ))
                continue
            readouts[readout.doc_id] = readout
    return list(readouts.values()), failed_paths


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def ingest_paths(
    store: ReadoutStore,
    paths: Sequence[Path],
    *,
    max_bytes: int,
    max_chars: int,
    prune: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the store in line with the readouts found under ``paths``."""
    started = time.perf_counter()
    report = IngestReport(repaired=store.repair())
    files, missing = discover(paths)
    report.failed.extend(missing)
    readouts, failed_paths = _load_all(files, max_bytes, report)

    stored = store.committed_hashes()
    todo: list[tuple[Readout, list[Chunk]]] = []
    for readout in readouts:
        previous = stored.get(readout.doc_id)
        if previous and previous["hash"] == readout.content_hash:
            report.unchanged.append(readout.doc_id)
        else:
            todo.append((readout, chunk_readout(readout, max_chars)))

    total = sum(len(chunks) for _, chunks in todo)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    if progress:
        progress(0, total)
    for readout, chunks in todo:
        store.write_readout(readout, chunks, on_batch=advance)
        (report.updated if readout.doc_id in stored else report.added).append(readout.doc_id)
        report.chunks_embedded += len(chunks)

    if prune:
        roots = [p.resolve() for p in paths]
        seen = {r.doc_id for r in readouts}
        for doc_id, meta in stored.items():
            path = meta.get("path", "")
            if doc_id not in seen and _under(path, roots) and path not in failed_paths:
                store.remove(doc_id)
                report.removed.append(doc_id)
    report.seconds = time.perf_counter() - started
    return report
