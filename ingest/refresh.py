"""Ingest from inside a running app, on its shared store, while every session keeps asking.

Chroma's embedded client is not process-safe, so the app never starts another process to
ingest: it writes through its own store, one run at a time per process, under the store's
writer lock (which the CLI honours too), then brings the lexical index in step.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ingest.pipeline import IngestReport, Progress, Tally, ingest_paths
from rag.assistant import Assistant
from rag.errors import ReadoutsError, StoreError

_RUN_LOCK = threading.Lock()  # one ingestion at a time in this process, whatever the session
BUSY = ("Another ingestion is already running in this app. Wait for it to finish and try "
        "again; questions keep working meanwhile.")


def ingest_into(
    assistant: Assistant,
    paths: Sequence[Path],
    *,
    prune: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest ``paths`` into the assistant's own store; questions see the result at once."""
    if not _RUN_LOCK.acquire(blocking=False):
        raise StoreError(BUSY)
    try:
        settings = assistant.settings
        with assistant.store.exclusive():
            report = ingest_paths(
                assistant.store, paths, max_bytes=int(settings.max_file_mb * 2**20),
                max_chars=settings.chunk_max_chars, prune=prune, progress=progress,
            )
            assistant.lexical.sync()
        return report
    finally:
        _RUN_LOCK.release()


@dataclass
class IngestJob:
    """One background ingestion: its progress while it runs, then its report or error."""

    paths: tuple[Path, ...]
    prune: bool = False
    done: int = 0  # readouts written, found unchanged or failed so far
    total: int = 0  # readouts expected (0 until the files are counted)
    report: IngestReport | None = None
    error: str | None = None
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self.finished.is_set()

    def progress(self, tally: Tally) -> None:
        """The pipeline's progress callback."""
        self.done, self.total = tally.done, tally.total


class Ingester:
    """Runs the app's ingestions, one at a time, in a background thread.

    Not in the session's script: Streamlit stops a script at its next ``st`` call whenever
    the user clicks or asks something, which would cut an ingestion short; in the background
    it runs to the end while the same user (and every other session) keeps asking.
    """

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.job: IngestJob | None = None  # the latest, running or finished
        self._lock = threading.Lock()

    def start(self, paths: Sequence[Path], prune: bool = False) -> IngestJob:
        """Start ingesting ``paths``; StoreError if an ingestion is running already."""
        with self._lock:
            if self.job is not None and self.job.running:
                raise StoreError(BUSY)
            job = self.job = IngestJob(tuple(paths), prune)
        threading.Thread(target=self._run, args=(job,), name="readouts-ingest",
                         daemon=True).start()
        return job

    def _run(self, job: IngestJob) -> None:
        try:
            job.report = ingest_into(self.assistant, job.paths, prune=job.prune,
                                     progress=job.progress)
        except ReadoutsError as exc:
            job.error = str(exc)
        finally:  # anything else propagates to the thread's excepthook, i.e. the app's log
            if job.report is None and job.error is None:
                job.error = "The ingestion stopped on an unexpected error: see the app's log."
            job.finished.set()
