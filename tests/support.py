"""Helpers for the server, concurrency and hostile-input tests: a real Chroma server, readout
fixtures, child processes, and the full consistency check of store, lexical index and texts."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.chunking import chunk_readout
from rag.assistant import Assistant, build_assistant
from rag.config import Settings
from rag.lexical import LexicalIndex
from rag.ranking.model import Linear, RankingModel
from rag.schema import Readout
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings

PROJECT = Path(__file__).resolve().parents[1]
CHROMA = Path(sys.executable).parent / "chroma"
MB = 2**20
TOPICS = (
    ("Kyrgyzstan", "Taiwan", "railways"), ("Egypt", "Xinjiang", "vaccines"),
    ("Brazil", "climate", "soybeans"), ("Kenya", "ports", "fisheries"),
    ("Norway", "Arctic", "salmon"), ("Chile", "lithium", "copper"),
)


class Keyed(HashingEmbeddings):
    """The hashing embedder under its own collection name, so that tests sharing one server
    never see each other's readouts."""

    def __init__(self, key: str, batch_size: int = 8) -> None:
        super().__init__(batch_size)
        self.key = key


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """A real ``chroma run`` on a local port, its data in ``path``; stop and start it again
    on the same port to play a server that goes away and comes back."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path, self.log, self.port = path, log, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1",
                 "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"chroma run did not answer: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment of a child process that uses this server."""
        return {"READOUTS_CHROMA_HOST": "127.0.0.1", "READOUTS_CHROMA_PORT": str(self.port)}

    def settings(self, cache_dir: Path, **fields: Any) -> Settings:
        """Settings of one "machine" using the server (its own lexical cache folder)."""
        values: dict[str, Any] = {
            "store_dir": cache_dir, "chroma_host": "127.0.0.1", "chroma_port": self.port,
            "embedder": "e5-small", "refusal_threshold": 0.0,  # refusal off
        }
        return Settings(**{**values, **fields})


def record(i: int, version: int = 1) -> dict[str, Any]:
    """A readout record about the i-th topic (topics repeat; its code word "k<i>x" does not);
    ``version`` changes its text."""
    country, subject, trade = TOPICS[i % len(TOPICS)]
    return {
        "id": f"r{i}", "title": f"Call {i} with {country}", "date": f"2021-03-{i % 28 + 1:02d}",
        "language": "en", "source": "Test",
        "text": f"On March {i % 28 + 1}, 2021, the minister spoke with the leader of {country} "
                f"(file k{i}x).\n"
                f"{country} raised {subject} in call {i} (version {version}).\n"
                f"Both sides agreed to expand trade in {trade} for round {i}.",
    }


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a child Python process that imports the project and the tests."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "ANONYMIZED_TELEMETRY": "False"}
    for key in [k for k in env if k.startswith("READOUTS_")]:
        del env[key]
    return {**env, **(extra or {})}


def run_python(script: str, *args: str, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with ``args`` in a child Python process; the caller checks its exit."""
    return subprocess.run(
        [sys.executable, "-c", script, *args], cwd=PROJECT, env=child_env(env), text=True,
        capture_output=True, timeout=timeout, check=False,
    )


FAKE_CLI = textwrap.dedent("""
    import sys
    import rag.assistant, rag.embeddings
    from ingest import cli
    from tests.fakes import HashingEmbeddings

    def fake(*args):  # the hashing embedder instead of the packaged model: no model load
        return HashingEmbeddings()

    rag.embeddings.build_embeddings = rag.assistant.build_embeddings = fake
    sys.exit(cli.main(sys.argv[1:]))
""")


def readouts_command(*args: str) -> list[str]:
    """The ``readouts`` command line (as a child process, with the hashing embedder)."""
    return [sys.executable, "-c", FAKE_CLI, *args]


def chunk_rows(store: ReadoutStore, **query: Any) -> dict[str, list[Any]]:
    """A Chroma ``get`` of every language's vectors collection (including those that
    other processes created), as one result: ids, metadatas, embeddings, documents."""
    store.collections.refresh()
    out: dict[str, list[Any]] = {"ids": [], "metadatas": [], "embeddings": [], "documents": []}
    for collection in store.vector_collections.values():
        got = collection.get(**query)
        for key, rows in out.items():
            found = got.get(key)
            rows.extend(list(found) if found is not None else [None] * len(got["ids"]))
    return out


def assert_consistent(store: ReadoutStore, cache_dir: Path) -> None:
    """Store, lexical index and texts agree: same readouts, no duplicate, stale or orphan
    chunk, no half-written readout, every chunk's text exactly where its offsets say."""
    committed = store.committed_hashes()
    rows = chunk_rows(store, include=["metadatas"])
    assert len(rows["ids"]) == len(set(rows["ids"]))  # one row (one vector) per chunk
    for language, collection in store.vector_collections.items():  # each in its language's
        languages = {m["language"] for m in collection.get(include=["metadatas"])["metadatas"]}
        assert languages <= {language}
    by_doc: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for cid, meta in zip(rows["ids"], rows["metadatas"], strict=True):
        by_doc.setdefault(meta["doc_id"], []).append((cid, meta))
    assert set(by_doc) == set(committed)
    for doc_id, chunks in by_doc.items():
        info = committed[doc_id]
        assert {m["hash"] for _, m in chunks} == {info["hash"]}
        assert {m["language"] for _, m in chunks} == {info["language"]}
        assert sorted(m["index"] for _, m in chunks) == list(range(info["chunks"]))
        readout = store.get_readout(doc_id)
        assert readout is not None
        assert readout.content_hash == info["hash"]
        for _, meta in chunks:
            assert 0 <= meta["start"] < meta["end"] <= len(readout.text)
    assert store.collections.docs.get(where={"dirty": True})["ids"] == []
    pending = store.collections.state.get(include=[])["ids"]
    assert not [i for i in pending if i.startswith("pending-")]
    names = [c.name for c in store.client.list_collections()]
    assert not [n for n in names if n.startswith(f"{store.prefix}-lang-")]  # format 1's copies
    assert f"{store.prefix}-vectors" not in names  # no all-languages collection
    lexical = LexicalIndex(store, cache_dir)
    lexical.sync()
    indexed = lexical.chunk_ids
    assert len(indexed) == len(set(indexed))
    assert set(indexed) == set(rows["ids"])


def assert_readers_see_whole_readouts(store: ReadoutStore) -> None:
    """What readers trust (chunks whose hash is their readout's committed hash) is complete,
    even before ``repair``: a killed run never shows half a readout."""
    committed = store.committed_hashes()
    rows = chunk_rows(store, include=["metadatas"])
    trusted: dict[str, list[int]] = {}
    for meta in rows["metadatas"]:
        if committed.get(meta["doc_id"], {}).get("hash") == meta["hash"]:
            trusted.setdefault(meta["doc_id"], []).append(meta["index"])
    for doc_id, info in committed.items():
        assert sorted(trusted.get(doc_id, [])) == list(range(info["chunks"])), doc_id


class SlowHashing(HashingEmbeddings):
    """The hashing embedder at a model's pace, so that a run lasts long enough to be
    interrupted or overlapped."""

    def __init__(self, batch_size: int = 4, pause: float = 0.05) -> None:
        super().__init__(batch_size)
        self.pause = pause

    def _embed_passages(self, texts: list[str]) -> Any:
        time.sleep(self.pause)
        return super()._embed_passages(texts)


# Ranks by nothing and never refuses: for answer tests that must not depend on fitted weights.
NEVER_REFUSES = RankingModel(Linear({}), Linear({}, 0.0), threshold=0.0)
# The shipped weights with refusal off: for tests of which sentence is cited.
SHIPPED_NEVER_REFUSING = replace(RankingModel.load(), threshold=0.0)


def assistant_over(store: ReadoutStore, settings: Settings, readouts: list[Readout]) -> Assistant:
    """An assistant on ``store`` holding ``readouts``, with the shipped ranking model."""
    for readout in readouts:
        store.write_readout(readout, chunk_readout(readout, 700))
    return build_assistant(settings, store)
