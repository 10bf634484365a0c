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
import hashlib
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_readout
from ingest.loaders import LoadFailure, discover, load_file
from ingest.shard import WHOLE, Shard
from rag.embeddings import ReadoutEmbeddings, build_embeddings
from rag.errors import ReadoutsError, StoreMismatchError
from rag.schema import Chunk, Readout
from rag.store import ReadoutStore, WriteItem

Progress = Callable[[int, int], None]  # (chunks embedded so far, chunks to embed)
STAMP_EVERY_S = 30.0  # how often a long run lets readers' lexical indexes catch up
WRITE_GROUP_CHUNKS = 512  # chunks per grouped write
WRITE_EVERY_S = 5.0  # ... or fewer, when embedding is slow (a kill loses no more)
MAX_CHUNKS = 1000  # per readout (the corpus's longest has 14): more is a mistake or an attack
QUEUE_ITEMS = 8  # groups embedded ahead of the writer: bounds memory
POLL_S = 1.0


class WorkerError(ReadoutsError):
    """An ingest worker process failed or died; what was written before stays committed."""


def _failure_key(failure: LoadFailure) -> str:
    """Failures have no doc_id; their file and record pick the one share that reports them."""
    return f"{failure.path}\x00{failure.record or ''}"


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

    def record_writes(self, group: Sequence[WriteItem], stored: Mapping[str, Any]) -> None:
        """Count readouts written: updated if they were stored before, else added."""
        for readout, chunks, _ in group:
            (self.updated if readout.doc_id in stored else self.added).append(readout.doc_id)
            self.chunks_embedded += len(chunks)


@dataclass
class _Plan:
    """What one share of a run has to do, decided before any embedding."""

    todo: list[tuple[Readout, list[Chunk]]]
    unchanged: list[str]
    failed: list[LoadFailure]
    seen: set[str]  # doc_ids found in this share: prune keeps them
    failed_paths: set[str]  # files with any failure: prune never removes their readouts

    @property
    def chunks(self) -> int:
        return sum(len(chunks) for _, chunks in self.todo)


def _own_id(readout: Readout) -> Readout:
    """The readout under an id made from its whole path, not just its file name: two files
    named readout.txt in two folders are two readouts."""
    digest = hashlib.sha1(readout.path.encode("utf-8")).hexdigest()[:8]
    return replace(readout, doc_id=f"{readout.doc_id}-{digest}")


def _held_elsewhere(readout: Readout, read: Mapping[str, Readout],
                    stored: Mapping[str, Mapping[str, Any]]) -> bool:
    """True when another file already holds the id made from this readout's file name: read
    earlier in this run, or stored from a file that is still there (a stored readout whose
    file is gone was moved or renamed here: it keeps its id)."""
    if readout.doc_id in read:
        return read[readout.doc_id].path != readout.path
    other = str(stored.get(readout.doc_id, {}).get("path") or "")
    return bool(other) and other != readout.path and Path(other).exists()


def _load_all(
    files: Sequence[Path], max_bytes: int, stored: Mapping[str, Mapping[str, Any]]
) -> tuple[list[Readout], list[LoadFailure], set[str]]:
    """Readouts of every file (first id wins), the failures, and the paths with a failure."""
    readouts: dict[str, Readout] = {}
    failures: list[LoadFailure] = []
    failed_paths: set[str] = set()
    for path in files:
        result = load_file(path, max_bytes)
        failures.extend(result.failures)
        if result.failures:
            failed_paths.add(str(path.resolve()))
        for readout in result.readouts:
            if readout.id_from_path and _held_elsewhere(readout, readouts, stored):
                readout = _own_id(readout)
            first = readouts.get(readout.doc_id)
            if first is not None:
                failures.append(LoadFailure(
                    str(path), f"duplicate id '{readout.doc_id}': already read from {first.path}",
                    None,
                ))
                continue
            readouts[readout.doc_id] = readout
    return list(readouts.values()), failures, failed_paths


def _plan(
    paths: Sequence[Path],
    stored: Mapping[str, Mapping[str, Any]],
    shard: Shard,
    max_bytes: int,
    max_chars: int,
) -> _Plan:
    """Load everything (duplicates are only seen whole), keep this share, skip unchanged.

    ``stored``: doc_id -> the committed readout's "hash" and "path" (every share's)."""
    files, missing = discover(paths)
    readouts, failures, failed_paths = _load_all(files, max_bytes, stored)
    mine = [r for r in readouts if shard.owns(r.doc_id)]
    plan = _Plan(
        todo=[], unchanged=[], seen={r.doc_id for r in mine}, failed_paths=failed_paths,
        failed=[f for f in [*missing, *failures] if shard.owns(_failure_key(f))],
    )
    for readout in mine:
        if stored.get(readout.doc_id, {}).get("hash") == readout.content_hash:
            plan.unchanged.append(readout.doc_id)
            continue
        chunks = chunk_readout(readout, max_chars)
        if len(chunks) > MAX_CHUNKS:
            plan.failed.append(LoadFailure(
                readout.path, f"{len(chunks)} chunks, over the limit of {MAX_CHUNKS} per "
                "readout (one huge line or a whole book?): split it into several readouts",
                f"id={readout.doc_id}",
            ))
            continue
        plan.todo.append((readout, chunks))
    return plan


def _under(path: str, roots: Sequence[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)


def _prune(
    store: ReadoutStore,
    stored: Mapping[str, Mapping[str, Any]],
    paths: Sequence[Path],
    shard: Shard,
    seen: set[str],
    failed_paths: set[str],
) -> list[str]:
    """Remove this share's stored readouts whose file (under ``paths``) no longer has them."""
    roots = [p.resolve() for p in paths]
    gone = [
        doc_id for doc_id, meta in stored.items()
        if shard.owns(doc_id) and doc_id not in seen
        and _under(meta.get("path", ""), roots) and meta.get("path", "") not in failed_paths
    ]
    return store.remove_many(gone)


class _Counter:
    """Chunks written so far against chunks to write, for the progress callback."""

    def __init__(self, progress: Progress | None, total: int = 0):
        self.progress, self.total, self.done = progress, total, 0
        self.advance(0)

    def advance(self, n: int) -> None:
        self.done += n
        if self.progress:
            self.progress(self.done, self.total)


def _embedded(
    todo: Sequence[tuple[Readout, list[Chunk]]],
    embeddings: ReadoutEmbeddings,
    batch: int,
    on_embedded: Callable[[int], None],
) -> Iterator[WriteItem]:
    """Readouts with their chunks' vectors, embedding the chunks of consecutive readouts in
    full batches (e5 runs markedly faster on full batches than on one readout's few chunks)."""
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
    """Bring the store in line with the readouts found under ``paths`` (this shard of them)."""
    started = time.perf_counter()
    report = IngestReport(repaired=store.repair(owns=shard.owns))
    stored = store.committed_hashes()
    plan = _plan(paths, stored, shard, max_bytes, max_chars)
    report.unchanged, report.failed = plan.unchanged, plan.failed
    counter = _Counter(progress, plan.chunks)
    batch = store.settings.embed_batch_size
    with store.stamp_every(STAMP_EVERY_S):
        embedded = _embedded(plan.todo, store.embeddings, batch, counter.advance)
        _write_behind(store, _groups(embedded), lambda group: report.record_writes(group, stored))
        if prune:
            report.removed = _prune(store, stored, paths, shard, plan.seen, plan.failed_paths)
    report.seconds = time.perf_counter() - started
    return report


# --- worker processes ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything a worker process needs: it shares nothing else with the writer."""

    paths: list[Path]
    share: Shard
    stored: dict[str, dict[str, str]]  # doc_id -> committed "hash" and "path"
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
    """Worker process: plan one share, embed what changed, send it all to the writer."""
    threading.Thread(target=_exit_with_writer, args=(job.writer_pid,), daemon=True).start()
    # Each worker gets its part of the cores: several multi-threaded embedders on the same
    # cores only slow each other down.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(job.threads)
    try:
        embeddings = job.make_embeddings()
        plan = _plan(job.paths, job.stored, job.share, job.max_bytes, job.max_chars)
        summary = (plan.unchanged, plan.failed, plan.seen, plan.failed_paths, plan.chunks)
        out.put(("plan", embeddings.key, *summary))
        for group in _groups(_embedded(plan.todo, embeddings, job.batch, lambda _n: None)):
            out.put(("group", group))
        out.put(("done",))
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
    """Like ``ingest_paths``, with ``workers`` processes that each load and embed one share
    of ``shard``; this process alone writes, so it is safe on the embedded store too.

    ``make_embeddings`` must build the store's embedder (checked: vectors never mix).
    """
    started = time.perf_counter()
    report = IngestReport(repaired=store.repair(owns=shard.owns))
    stored = store.committed_hashes()
    context = multiprocessing.get_context("spawn")  # no fork of Chroma's threads and handles
    inbox = context.Queue(maxsize=QUEUE_ITEMS)
    threads = max(1, (os.cpu_count() or 1) // workers)
    procs = []
    for part in shard.split(workers):
        job = _Job(
            list(paths), part,
            {d: {"hash": m["hash"], "path": str(m.get("path") or "")} for d, m in stored.items()},
            max_bytes, max_chars, store.settings.embed_batch_size, make_embeddings, threads,
            os.getpid(),
        )
        procs.append(context.Process(target=_embed_share, args=(job, inbox), daemon=True))
    for proc in procs:
        proc.start()
    seen: set[str] = set()
    failed_paths: set[str] = set()
    counter = _Counter(progress)
    try:
        with store.stamp_every(STAMP_EVERY_S):
            running = len(procs)
            while running:
                message = _receive(inbox, procs)
                kind = message[0]
                if kind == "plan":
                    _, key, unchanged, failed, part_seen, part_failed, chunks = message
                    if key != store.embeddings.key:
                        raise StoreMismatchError(
                            f"An ingest worker built the embedder '{key}', the store uses "
                            f"'{store.embeddings.key}': refusing to mix their vectors."
                        )
                    report.unchanged += unchanged
                    report.failed += failed
                    seen |= part_seen
                    failed_paths |= part_failed
                    counter.total += chunks
                    counter.advance(0)
                elif kind == "group":
                    store.write_readouts(message[1])
                    report.record_writes(message[1], stored)
                    counter.advance(sum(len(chunks) for _, chunks, _ in message[1]))
                elif kind == "error":
                    raise WorkerError(f"An ingest worker failed: {message[1]}")
                else:
                    running -= 1
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
