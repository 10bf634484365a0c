"""Who may write, and how readers learn that something was written.

The writer lock keeps a second writer out of an embedded store (Chroma's embedded mode is one
writer). The generation stamp, a random value in the state collection, changes with every
commit: each process compares it with the one it saw to know that its lexical index (and,
embedded, its client) must follow.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import filelock

from rag.config import Settings
from rag.errors import StoreError
from rag.store.schema import PENDING, Collections, dummies

LOCK_WAIT_S = 10.0  # how long a writer waits for another writer of the embedded store
GENERATION = "generation"  # the state record that holds the stamp
_HELD: set[Path] = set()  # lock files this process holds (see held_here)


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
    path = (settings.store_dir / "writer.lock").resolve()
    # Not reentrant on purpose: a second holder in this process is refused like another
    # process would be (each FileLock opens the file anew).
    lock = filelock.FileLock(path, timeout=LOCK_WAIT_S)
    try:
        lock.acquire(poll_interval=0.2)
    except filelock.Timeout:
        raise StoreError(
            f"Another process is writing to the store at {settings.store_dir}. "
            "Wait for it to finish (or stop it) and try again."
        ) from None
    _HELD.add(path)
    try:
        yield
    finally:
        _HELD.discard(path)
        lock.release()


@contextlib.contextmanager
def writing(settings: Settings) -> Iterator[None]:
    """The writer lock, unless this process holds it already (a store opened inside
    ``writer_lock`` that must migrate its collections)."""
    if (settings.store_dir / "writer.lock").resolve() in _HELD:
        yield
        return
    with writer_lock(settings):
        yield


class Stamps:
    """This process's view of the generation stamp, and the stamps of its own commits.

    ``every``: None stamps each commit at once; a number of seconds publishes at most that
    often (every stamp makes each reader rebuild its lexical index), with a per-writer
    "pending" record meanwhile so that ``repair`` stamps the commits of a writer killed first.
    """

    def __init__(self, collections: Collections, server_mode: bool) -> None:
        self.collections = collections  # replaced by the store when it reopens its client
        self.server_mode = server_mode
        self.seen = ""  # the stamp as of the client's opening or our last write
        self.stale = False  # another process wrote before one of our own stamps
        self.writer_id = uuid.uuid4().hex[:12]
        self.every: float | None = None
        self._stamped_at = 0.0
        self._unstamped = False

    def read(self) -> str:
        """The stamp in the store now ("" before the first commit)."""
        got = self.collections.state.get(ids=[GENERATION], include=["metadatas"])
        metas = got["metadatas"]
        return str(metas[0]["value"]) if got["ids"] and metas else ""

    def opened(self) -> None:
        """The client (re)opened: it sees everything up to the current stamp."""
        self.seen, self.stale = self.read(), False

    def will_commit(self) -> None:
        """Before committing anything: inside ``every``, say that commits will wait for a
        stamp, so that ``repair`` stamps them if this process dies first."""
        if self.every is not None:
            self.collections.state.upsert(
                ids=[PENDING + self.writer_id], embeddings=dummies(1), documents=[""],
                metadatas=[{"since": time.time()}],
            )
            self._unstamped = True

    def committed(self) -> None:
        """Stamp a commit now, or (inside ``every``) when the interval is up."""
        if self.every is None:
            self.bump()
        elif time.monotonic() - self._stamped_at >= self.every:
            self.flush()

    def start(self, seconds: float) -> None:
        """Publish at most every ``seconds`` from now on (until ``flush`` and ``stop``)."""
        self.every, self._stamped_at = seconds, time.monotonic()

    def stop(self) -> None:
        self.every = None

    def flush(self) -> None:
        """Publish the stamp of unstamped commits and drop this writer's pending record."""
        if self._unstamped:
            self.bump()
            self.collections.state.delete(ids=[PENDING + self.writer_id])
            self._unstamped = False
        self._stamped_at = time.monotonic()

    def clear_pending(self) -> bool:
        """Drop the "pending" records of writers killed before stamping; True if any."""
        got = self.collections.state.get(include=[])
        pending = [i for i in got["ids"] if i.startswith(PENDING)]
        if pending:
            self.collections.state.delete(ids=pending)
        return bool(pending)

    def bump(self) -> None:
        """Publish a new stamp."""
        # Another process stamped since we looked: our stamp must not hide it (catch_up).
        if not self.server_mode and self.read() != self.seen:
            self.stale = True
        self.seen = uuid.uuid4().hex
        self.collections.state.upsert(
            ids=[GENERATION], embeddings=dummies(1), documents=[""],
            metadatas=[{"value": self.seen}],
        )
