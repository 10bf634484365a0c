"""Incremental ingestion: files -> readouts -> chunks -> store, with a report.

Unchanged readouts (same content hash) are skipped before any embedding; changed ones
replace all their chunks; ``prune`` removes readouts whose file or record is gone. A run
killed at any point is repaired by the next one (see ``ReadoutStore.repair``).

A run can take one ``Shard`` of the readouts (a stable hash of the doc_id), so that several
machines share one Chroma server, and ``ingest_parallel`` spreads a run over worker processes
that load and embed their shares while this process alone writes (Chroma's embedded store
allows one writer).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from ingest.loaders import LoadFailure
from ingest.scan import Committed, Scan, committed, estimate_readouts
from ingest.shard import WHOLE, Shard
from rag.embeddings import ReadoutEmbeddings, build_embeddings
from rag.errors import ReadoutsError, StoreMismatchError
from rag.schema import Chunk, Readout
from rag.store import ReadoutStore, WriteItem

STAMP_EVERY_S = 30.0  # how often a long run lets readers' lexical indexes catch up
# Chunks per grouped write. Every write has a fixed cost (measured on the embedded store:
# 9.0 ms of CPU per chunk in groups of 32, 4.3 in groups of 128, 3.6 in groups of 512), and
# with the write of one group overlapping the embedding of the next, a kill loses at most
# two groups of embedding: 128 keeps that under 300 chunks (about 40 s of e5 on two cores).
WRITE_GROUP_CHUNKS = 128
WRITE_EVERY_S = 30.0  # ... or fewer, when embedding is slow (a kill loses no more)
QUEUE_ITEMS = 8  # groups embedded ahead of the writer: bounds memory
POLL_S = 1.0


class Tally(NamedTuple):
    """Where a run stands, for progress bars."""

    done: int  # readouts of this run written, found unchanged or failed
    total: int  # readouts expected (estimated before the run; never under ``done``)
    embedded: int  # chunks embedded
    written: int  # chunks committed to the store


Progress = Callable[[Tally], None]


class WorkerError(ReadoutsError):
    """An ingest worker process failed or died; what was written before stays committed."""


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

    def record_writes(self, group: Sequence[WriteItem], stored: Mapping[str, Committed]) -> None:
        """Count readouts written: updated if they were stored before, else added."""
        for readout, chunks, _ in group:
            (self.updated if readout.doc_id in stored else self.added).append(readout.doc_id)
            self.chunks_embedded += len(chunks)


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def _prune(
    store: ReadoutStore,
    stored: Mapping[str, Committed],
    paths: Sequence[Path],
    shard: Shard,
    seen: set[str],
    failed_paths: set[str],
) -> list[str]:
    """Remove this share's stored readouts whose file (under ``paths``) no longer has them."""
    roots = [p.resolve() for p in paths]
    gone = [
        doc_id for doc_id, known in stored.items()
        if shard.owns(doc_id) and doc_id not in seen
        and _under(known.path, roots) and known.path not in failed_paths
    ]
    return store.remove_many(gone)


class _Counter:
    """The run's tally, passed to the progress callback whenever it moves."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total = progress, total
        self.readouts = self.embedded = self.written = 0
        self.settled: Callable[[], int] = lambda: 0  # unchanged or failed, so far

    def chunks_embedded(self, n: int) -> None:
        self.embedded += n
        self.tell()

    def group_written(self, group: Sequence[WriteItem]) -> None:
        self.readouts += len(group)
        self.written += sum(len(chunks) for _, chunks, _ in group)
        self.tell()

    def tell(self) -> None:
        if self.progress:
            done = self.readouts + self.settled()
            self.total = max(self.total, done)
            self.progress(Tally(done, self.total, max(self.embedded, self.written),
                                self.written))


def _embedded(
    todo: Iterable[tuple[Readout, list[Chunk]]],
    embeddings: ReadoutEmbeddings,
    batch: int,
    on_embedded: Callable[[int], None],
) -> Iterator[WriteItem]:
    """Readouts with their chunks' vectors, embedding the chunks of consecutive readouts in
    full batches (e5 runs markedly faster on full batches than on one readout's few chunks).
    It pulls readouts from ``todo`` only as the batches need them."""
    waiting: deque[tuple[Readout, list[Chunk]]] = deque()
    texts: list[str] = []
    vectors: list[list[float]] = []

    def embed(n: int) -> None:
        vectors.extend(embeddings.embed_documents(texts[:n]))
        del texts[:n]
        on_embedded(n)

    for readout, chunks in todo:
        waiting.append((readout, chunks))
        texts.extend(c.embed_text for c in chunks)
        while len(texts) >= batch:
            embed(batch)
        while waiting and len(waiting[0][1]) <= len(vectors):
            done, done_chunks = waiting.popleft()
            yield done, done_chunks, vectors[: len(done_chunks)]
            del vectors[: len(done_chunks)]
    if texts:
        embed(len(texts))
    for done, done_chunks in waiting:
        yield done, done_chunks, vectors[: len(done_chunks)]
        del vectors[: len(done_chunks)]


def _groups(items: Iterable[WriteItem]) -> Iterator[list[WriteItem]]:
    """Readouts to write together: every write call has a fixed cost, so group them, but
    write at least every ``WRITE_EVERY_S`` so that a killed run loses little."""
    group: list[WriteItem] = []
    chunks = 0
    since = time.monotonic()
    for item in items:
        group.append(item)
        chunks += len(item[1])
        if chunks >= WRITE_GROUP_CHUNKS or time.monotonic() - since >= WRITE_EVERY_S:
            yield group
            group, chunks, since = [], 0, time.monotonic()
    if group:
        yield group


def _write_behind(
    store: ReadoutStore,
    groups: Iterable[list[WriteItem]],
    on_written: Callable[[list[WriteItem]], None],
) -> None:
    """Write each group in a writer thread while the next one is being embedded.

    Chroma's writes then cost little wall time beside the embedder. At most one group is
    in flight and groups are written in order, each through the whole crash-safe protocol,
    so a kill leaves exactly what a sequential run would; a write error stops the run at
    the next group.
    """

    def write(group: list[WriteItem]) -> None:
        store.write_readouts(group)
        on_written(group)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="readouts-writer") as writer:
        pending: Future[None] | None = None
        for group in groups:
            if pending is not None:
                pending.result()
            pending = writer.submit(write, group)
        if pending is not None:
            pending.result()


def _expected(paths: Sequence[Path], shard: Shard) -> int:
    """Readouts this share should meet: the estimate, cut by the number of shares."""
    return -(-estimate_readouts(paths) // shard.count)


def ingest_paths(
    store: ReadoutStore,
    paths: Sequence[Path],
    *,
    max_bytes: int,
    max_chars: int,
    prune: bool = False,
    progress: Progress | None = None,
    shard: Shard = WHOLE,
) -> IngestReport:
    """Bring the store in line with the readouts found under ``paths`` (this shard of them).

    Streams: each file is read, chunked, embedded and written in bounded groups before the
    rest is read, so memory does not grow with the corpus."""
    started = time.perf_counter()
    report = IngestReport(repaired=store.repair(owns=shard.owns))
    stored = committed(store.committed_hashes())
    scan = Scan(stored, shard, max_bytes, max_chars)
    counter = _Counter(progress, _expected(paths, shard) if progress else 0)
    counter.settled = lambda: scan.settled
    counter.tell()

    def written(group: list[WriteItem]) -> None:
        report.record_writes(group, stored)
        counter.group_written(group)

    batch = store.settings.embed_batch_size
    with store.stamp_every(STAMP_EVERY_S):
        embedded = _embedded(scan.todo(paths), store.embeddings, batch,
                             counter.chunks_embedded)
        _write_behind(store, _groups(embedded), written)
        report.unchanged, report.failed = scan.unchanged, scan.failed
        if prune:
            report.removed = _prune(store, stored, paths, shard, scan.seen, scan.failed_paths)
    counter.tell()
    report.seconds = time.perf_counter() - started
    return report


# --- worker processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs: it shares nothing else with the writer."""

    paths: list[Path]
    share: Shard
    stored: dict[str, Committed]
    max_bytes: int
    max_chars: int
    batch: int
    make_embeddings: Callable[[], ReadoutEmbeddings]
    threads: int
    writer_pid: int


def _exit_with_writer(writer_pid: int) -> None:
    """A worker's watchdog: once the writer is gone (killed), stop at once, even while
    blocked flushing a queue that nobody reads any more."""
    while os.getppid() == writer_pid:
        time.sleep(POLL_S)
    os._exit(0)


def _embed_share(job: _Job, out: Any) -> None:
    """Worker process: scan one share, embed what changed, stream it to the writer."""
    threading.Thread(target=_exit_with_writer, args=(job.writer_pid,), daemon=True).start()
    # Each worker gets its part of the cores: several multi-threaded embedders on the same
    # cores only slow each other down.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(job.threads)
    try:
        embeddings = job.make_embeddings()
        out.put(("start", embeddings.key))
        scan = Scan(job.stored, job.share, job.max_bytes, job.max_chars)
        todo = scan.todo(job.paths)
        for group in _groups(_embedded(todo, embeddings, job.batch, lambda _n: None)):
            out.put(("group", str(job.share), group, scan.settled))
        out.put(("done", str(job.share), scan.unchanged, scan.failed, scan.seen,
                 scan.failed_paths))
    except Exception as exc:  # it must cross the process boundary: the writer reports it
        out.put(("error", f"{exc.__class__.__name__}: {exc}"))


def default_embeddings_factory(spec: str, batch_size: int) -> Callable[[], ReadoutEmbeddings]:
    """A picklable recipe for the configured embedder, built inside each worker."""
    return functools.partial(build_embeddings, spec, batch_size)


def ingest_parallel(
    store: ReadoutStore,
    paths: Sequence[Path],
    *,
    workers: int,
    make_embeddings: Callable[[], ReadoutEmbeddings],
    max_bytes: int,
    max_chars: int,
    prune: bool = False,
    progress: Progress | None = None,
    shard: Shard = WHOLE,
) -> IngestReport:
    """Like ``ingest_paths``, with ``workers`` processes that each scan and embed one share
    of ``shard``; this process alone writes, so it is safe on the embedded store too.

    ``make_embeddings`` must build the store's embedder (checked: vectors never mix).
    """
    started = time.perf_counter()
    report = IngestReport(repaired=store.repair(owns=shard.owns))
    stored = committed(store.committed_hashes())
    context = multiprocessing.get_context("spawn")  # no fork of Chroma's threads and handles
    inbox = context.Queue(maxsize=QUEUE_ITEMS)
    threads = max(1, (os.cpu_count() or 1) // workers)
    procs = [
        context.Process(target=_embed_share, daemon=True, args=(_Job(
            list(paths), part, stored, max_bytes, max_chars, store.settings.embed_batch_size,
            make_embeddings, threads, os.getpid(),
        ), inbox))
        for part in shard.split(workers)
    ]
    for proc in procs:
        proc.start()
    seen: set[str] = set()
    failed_paths: set[str] = set()
    settled: dict[str, int] = {}  # share -> readouts it found unchanged or failed so far
    counter = _Counter(progress, _expected(paths, shard) if progress else 0)
    counter.settled = lambda: sum(settled.values())
    try:
        with store.stamp_every(STAMP_EVERY_S):
            running = len(procs)
            while running:
                message = _receive(inbox, procs)
                kind = message[0]
                if kind == "start" and message[1] != store.embeddings.key:
                    raise StoreMismatchError(
                        f"An ingest worker built the embedder '{message[1]}', the store uses "
                        f"'{store.embeddings.key}': refusing to mix their vectors."
                    )
                if kind == "group":
                    _, part, group, settled[part] = message
                    store.write_readouts(group)
                    report.record_writes(group, stored)
                    counter.group_written(group)
                elif kind == "error":
                    raise WorkerError(f"An ingest worker failed: {message[1]}")
                elif kind == "done":
                    _, part, unchanged, failed, part_seen, part_failed = message
                    report.unchanged += unchanged
                    report.failed += failed
                    settled[part] = len(unchanged) + len(failed)
                    seen |= part_seen
                    failed_paths |= part_failed
                    running -= 1
                    counter.tell()
            if prune:
                report.removed = _prune(store, stored, paths, shard, seen, failed_paths)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
    for names in (report.added, report.updated, report.unchanged, report.removed):
        names.sort()
    report.failed.sort(key=lambda f: (f.path, f.record or ""))
    report.seconds = time.perf_counter() - started
    return report


def _receive(inbox: Any, procs: Sequence[Any]) -> tuple[Any, ...]:
    """The next message from the workers; WorkerError if one died without a word."""
    while True:
        try:
            message: tuple[Any, ...] = inbox.get(timeout=POLL_S)
            return message
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead:
                raise WorkerError(
                    f"An ingest worker died (exit code {dead[0].exitcode}). What was written "
                    "is committed; run the same command again to finish."
                ) from None
