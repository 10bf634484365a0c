"""Faults and concurrency: kill -9 at each step of the write protocol, parallel workers,
ingesting while answering (threads in one process; processes on a server), and stores of
another model or format (a clear message and ``--rebuild``, never mixed vectors)."""

from __future__ import annotations

import functools
import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from ingest import cli
from ingest.pipeline import WorkerError, ingest_parallel, ingest_paths
from rag.assistant import build_assistant
from rag.config import Settings
from rag.embeddings import build_embeddings
from rag.errors import StoreMismatchError
from rag.schema import Filters
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings
from tests.legacy import write_format_1
from tests.support import (
    MB,
    PROJECT,
    TOPICS,
    ChromaServer,
    Keyed,
    SlowHashing,
    assert_consistent,
    assert_readers_see_whole_readouts,
    child_env,
    readouts_command,
    record,
    run_python,
    write_jsonl,
)

N = 10


def _settings(tmp_path: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", data_dir=tmp_path / "data", chroma_host=None,
                    refusal_threshold=0.0)  # refusal off: consistency is the point


def _ingest(store: ReadoutStore, *paths: Path, prune: bool = False):
    return ingest_paths(store, list(paths), max_bytes=MB, max_chars=120, prune=prune)


def _reopen(settings: Settings) -> ReadoutStore:
    """The store through a fresh client: an embedded client keeps the vectors it loaded, so
    after another process wrote, only a new one sees them (why the docs say: ingest through
    the app, or use a server, while the app runs)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    return ReadoutStore(settings, HashingEmbeddings())


# --- kill -9 at each step of the write protocol ------------------------------------------------

KILLED_INGEST = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import ingest.pipeline
    from ingest.pipeline import ingest_paths
    from rag.config import Settings
    from rag.store import ReadoutStore
    from tests.fakes import HashingEmbeddings

    store_dir, data, label, method, only, nth, when, prune = sys.argv[1:]
    nth = int(nth)
    ingest.pipeline.WRITE_GROUP_CHUNKS = 5  # several groups, so kills land between them
    calls = 0

    class KillAt:
        '''A Chroma collection whose nth call of one method is the process's last.'''

        def __init__(self, inner, name):
            self._inner, self._name = inner, name

        def __getattr__(self, attr):
            value = getattr(self._inner, attr)
            if (self._name, attr) != (label, method):
                return value

            def call(*args, **kwargs):
                global calls
                if only and kwargs.get("ids") != [only]:
                    return value(*args, **kwargs)
                calls += 1
                if calls == nth and when == "before":
                    os.kill(os.getpid(), signal.SIGKILL)
                result = value(*args, **kwargs)
                if calls == nth:
                    os.kill(os.getpid(), signal.SIGKILL)
                return result

            return call

    store = ReadoutStore(Settings(store_dir=store_dir), HashingEmbeddings())
    collections = store.collections  # the stamps share this object
    collections.docs = KillAt(collections.docs, "docs")
    collections.state = KillAt(collections.state, "state")
    # every language's vectors collection is "chunks", those created during the run too
    for code, collection in list(collections.languages.items()):
        collections.languages[code] = KillAt(collection, "chunks")
    for_language = collections.for_language

    def wrapped(code):
        collection = for_language(code)
        if not isinstance(collection, KillAt):
            collection = collections.languages[code] = KillAt(collection, "chunks")
        return collection

    collections.for_language = wrapped
    ingest_paths(store, [Path(data)], max_bytes=2**20, max_chars=120, prune=prune == "prune")
    sys.exit(3)  # the kill point was never reached
""")


def _kill_at(settings: Settings, data: Path, point: str, prune: bool = False) -> None:
    """Run an ingest in a child process that SIGKILLs itself at ``point``:
    "collection.method[=record id][#nth call][@before]" (default: after the first call)."""
    target, _, when = point.partition("@")
    call, _, nth = target.partition("#")
    call, _, only = call.partition("=")
    label, method = call.split(".")
    done = run_python(KILLED_INGEST, str(settings.store_dir), str(data), label, method, only,
                      nth or "1", when or "after", "prune" if prune else "keep")
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


NEW_READOUTS = [
    "docs.upsert#1",  # readouts marked dirty, nothing else yet
    "chunks.upsert#1",  # chunks written, readouts not committed
    "docs.upsert#2",  # the first group committed (new readouts commit in one step)
    "chunks.upsert#3",  # in a later group
    "state.upsert#2@before",  # a group committed, the next one not started
    "state.upsert=generation@before",  # everything committed, the run's stamp not written
]


@pytest.mark.slow
@pytest.mark.parametrize("point", NEW_READOUTS)
def test_kill_9_while_adding_then_rerun_is_consistent(tmp_path, point: str) -> None:
    settings = _settings(tmp_path)
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(N)])
    build_assistant(settings, _reopen(settings)).lexical.sync()  # a reader's cache, empty
    _kill_at(settings, data, point)
    store = _reopen(settings)
    assert_readers_see_whole_readouts(store)
    report = _ingest(store, data)
    assert report.failed == []
    assert sorted(report.added + report.unchanged) == sorted(f"r{i}" for i in range(N))
    assert_consistent(store, settings.store_dir)


UPDATES = [
    "docs.update#1",  # existing readouts marked dirty
    "chunks.upsert#1",  # new chunks beside the old ones
    "docs.upsert#1",  # new texts written, still dirty
    "chunks.delete#1",  # old chunks dropped, still dirty
    "docs.update#2",  # first group committed
    "docs.delete#1",  # prune: chunks gone, record being deleted
    "state.upsert=generation@before",  # everything committed, the run's stamp not written
]


@pytest.mark.slow
@pytest.mark.parametrize("point", UPDATES)
def test_kill_9_while_updating_and_pruning_then_rerun_is_consistent(tmp_path, point) -> None:
    settings = _settings(tmp_path)
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(N)])
    store = ReadoutStore(settings, HashingEmbeddings())
    _ingest(store, data)
    old = {i: store.get_readout(f"r{i}").text for i in range(N)}
    build_assistant(settings, store).lexical.sync()  # a reader's cache, before the crash
    newer = [record(i, version=2 if i % 2 else 1) for i in range(N - 1)]
    write_jsonl(data, newer)
    _kill_at(settings, data, point, prune=True)

    store = _reopen(settings)
    assert_readers_see_whole_readouts(store)
    for i in range(N - 1):  # each readout is whole: its old text or its new one
        assert store.get_readout(f"r{i}").text in (old[i], newer[i]["text"])
    report = _ingest(store, data, prune=True)
    assert report.failed == []
    assert store.count() == N - 1
    for i in range(N - 1):
        assert f"(version {2 if i % 2 else 1})" in store.get_readout(f"r{i}").text
    assert_consistent(store, settings.store_dir)  # the reader's cache followed the stamp


def _stopped(process: psutil.Process) -> bool:
    """Exited (a zombie waiting for init to reap it counts)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


PARALLEL_INGEST = textwrap.dedent("""
    import functools, sys
    from pathlib import Path
    import ingest.pipeline
    from ingest.pipeline import ingest_parallel
    from rag.config import Settings
    from rag.store import ReadoutStore
    from tests.support import SlowHashing

    ingest.pipeline.WRITE_EVERY_S = 0.5  # workers run this too: many small groups

    if __name__ == "__main__":
        store = ReadoutStore(Settings(store_dir=sys.argv[1]), SlowHashing())
        print("ready", flush=True)
        ingest_parallel(store, [Path(sys.argv[2])], workers=2,
                        make_embeddings=functools.partial(SlowHashing, 4, 0.2),
                        max_bytes=2**20, max_chars=120,
                        progress=lambda tally: tally.written and print("written", flush=True))
""")


@pytest.mark.slow
def test_kill_9_of_a_parallel_ingest_leaves_no_worker_and_a_repairable_store(tmp_path) -> None:
    settings = _settings(tmp_path)
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(80)])
    script = tmp_path / "parallel.py"
    script.write_text(PARALLEL_INGEST)
    proc = subprocess.Popen([sys.executable, str(script), str(settings.store_dir), str(data)],
                            cwd=PROJECT, env=child_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 60
    workers: list[psutil.Process] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if "spawn_main" in " ".join(p.cmdline())]
        time.sleep(0.1)
    assert proc.stdout.readline().strip() == "written"  # a group committed, others on their way
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    deadline = time.monotonic() + 15
    while not all(_stopped(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(_stopped(w) for w in workers)  # orphaned workers see the writer gone and stop
    store = _reopen(settings)
    assert_readers_see_whole_readouts(store)
    report = _ingest(store, data)
    assert len(report.added) + len(report.unchanged) == 80
    assert report.unchanged  # killed mid-run: some groups were already committed
    assert_consistent(store, settings.store_dir)


# --- parallel workers ----------------------------------------------------------------------


@pytest.mark.slow
def test_parallel_ingest_reports_like_a_single_process(tmp_path) -> None:
    settings = _settings(tmp_path)
    folder = tmp_path / "data"
    write_jsonl(folder / "a.jsonl", [record(i) for i in range(12)])
    (folder / "b.jsonl").write_text(json.dumps(record(12)) + "\n{broken\n", encoding="utf-8")
    (folder / "empty.txt").write_text("", encoding="utf-8")
    store = ReadoutStore(settings, HashingEmbeddings())
    run = functools.partial(ingest_parallel, store, [folder, tmp_path / "missing"], workers=3,
                            make_embeddings=HashingEmbeddings, max_bytes=MB, max_chars=120)
    first = run()
    assert first.added == sorted(f"r{i}" for i in range(13))
    assert sorted((Path(f.path).name, f.record) for f in first.failed) == [
        ("b.jsonl", "line 2"), ("empty.txt", None), ("missing", None)]
    assert run().unchanged == first.added
    write_jsonl(folder / "a.jsonl", [record(i, version=2) for i in range(6)])
    third = run(prune=True)
    assert (third.updated, third.removed) == (sorted(f"r{i}" for i in range(6)),
                                              sorted(f"r{i}" for i in range(6, 12)))
    assert third.unchanged == ["r12"]  # b.jsonl failed in part: its readouts stay
    assert_consistent(store, settings.store_dir)


@pytest.mark.slow
def test_workers_with_another_embedder_are_refused(tmp_path) -> None:
    store = ReadoutStore(_settings(tmp_path), HashingEmbeddings())
    data = write_jsonl(tmp_path / "data" / "a.jsonl", [record(0)])
    with pytest.raises(StoreMismatchError, match="refusing to mix"):
        ingest_parallel(store, [data], workers=2, make_embeddings=functools.partial(
            Keyed, "other"), max_bytes=MB, max_chars=120)
    assert store.is_empty()


@pytest.mark.slow
def test_a_failing_worker_stops_the_run_with_its_reason(tmp_path) -> None:
    store = ReadoutStore(_settings(tmp_path), HashingEmbeddings())
    data = write_jsonl(tmp_path / "data" / "a.jsonl", [record(0)])
    with pytest.raises(WorkerError, match="An ingest worker failed: ConfigError: Unknown"):
        ingest_parallel(store, [data], workers=2, make_embeddings=functools.partial(
            build_embeddings, "no-such-model", 16), max_bytes=MB, max_chars=120)


# --- ingesting while answering -------------------------------------------------------------


SAME_TOPIC = [{f"r{i}" for i in range(first, 100, len(TOPICS))} for first in range(2)]


def _check_answer(store: ReadoutStore, answer, expected: str | set[str]) -> None:
    assert answer.answered
    expected = {expected} if isinstance(expected, str) else expected
    assert answer.citations[0].doc_id in expected
    for c in answer.citations:
        assert store.get_readout(c.doc_id).text[c.start : c.end] == c.quote


@pytest.mark.slow
def test_one_thread_ingests_while_another_answers(tmp_path) -> None:
    """The app's own process (embedded store): an upload ingests while sessions ask."""
    settings = _settings(tmp_path)
    store = ReadoutStore(settings, SlowHashing(pause=0.02))
    base = write_jsonl(tmp_path / "data" / "base.jsonl", [record(i) for i in range(2)])
    _ingest(store, base)
    assistant = build_assistant(settings, store)
    more = tmp_path / "data" / "more.jsonl"
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for step in range(1, 5):
                write_jsonl(more, [record(i) for i in range(2, 2 + 10 * step)])
                with store.exclusive():
                    _ingest(store, more)
                    assistant.lexical.sync()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    writer = threading.Thread(target=ingest)
    writer.start()
    latencies = []
    while writer.is_alive() or not latencies:
        started = time.perf_counter()
        # readouts of one topic differ by their code word only, which the fitted ranker weighs
        # little against the hashing embedder's noise: any readout of the topic is right
        _check_answer(store, assistant.ask("Kyrgyzstan Taiwan railways k0x"), SAME_TOPIC[0])
        _check_answer(store, assistant.ask("Egypt Xinjiang vaccines k1x"), SAME_TOPIC[1])
        latencies.append(time.perf_counter() - started)
    writer.join()
    assert errors == []
    assert max(latencies) < 5.0  # never stuck behind the writer ("database is locked")
    assert store.count() == 42
    assert_consistent(store, settings.store_dir)


ASK_LOOP = textwrap.dedent("""
    import json, sys, time
    from rag.assistant import build_assistant
    from rag.config import Settings
    from rag.errors import ReadoutsError
    from rag.store import ReadoutStore
    from tests.support import Keyed

    settings = Settings(store_dir=sys.argv[1], refusal_threshold=0.0)  # refusal off
    store = ReadoutStore(settings, Keyed(sys.argv[2]))
    assistant = build_assistant(settings, store)
    print("ready", flush=True)
    questions = [("Kyrgyzstan Taiwan railways k0x", "r0"), ("Egypt Xinjiang vaccines k1x", "r1")]
    wrong, errors, latencies = [], [], []
    end = time.monotonic() + float(sys.argv[3])
    while time.monotonic() < end:
        for question, expected in questions:
            started = time.perf_counter()
            try:
                answer = assistant.ask(question)
            except ReadoutsError as exc:
                errors.append(str(exc))
                continue
            latencies.append(time.perf_counter() - started)
            exact = all(store.get_readout(c.doc_id).text[c.start:c.end] == c.quote
                        for c in answer.citations)
            if not (answer.answered and answer.citations[0].doc_id == expected and exact):
                wrong.append(question)
    print(json.dumps({"asked": len(latencies), "max_s": max(latencies), "wrong": wrong,
                      "errors": errors, "readouts": store.count()}))
""")

SLOW_INGEST = textwrap.dedent("""
    import sys
    from pathlib import Path
    from ingest.pipeline import ingest_paths
    from rag.config import Settings
    from rag.store import ReadoutStore
    from tests.support import Keyed

    class Slow(Keyed):
        def _embed_passages(self, texts):
            __import__("time").sleep(0.05)
            return super()._embed_passages(texts)

    store = ReadoutStore(Settings(store_dir=sys.argv[1]), Slow(sys.argv[2], batch_size=4))
    report = ingest_paths(store, [Path(sys.argv[3])], max_bytes=2**20, max_chars=120)
    print(len(report.added), flush=True)
""")


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "db", tmp_path / "server.log")
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_an_ingest_process_and_two_asking_processes_share_a_server(chroma, tmp_path) -> None:
    key = "shared"
    base = write_jsonl(tmp_path / "data" / "base.jsonl", [record(i) for i in range(2)])
    done = run_python(SLOW_INGEST, str(tmp_path / "job"), key, str(base), env=chroma.env())
    assert done.returncode == 0, done.stderr
    askers = [
        subprocess.Popen(
            [sys.executable, "-c", ASK_LOOP, str(tmp_path / f"app{i}"), key, "12"],
            cwd=PROJECT, env=child_env(chroma.env()), text=True, stdout=subprocess.PIPE,
        )
        for i in range(2)
    ]
    for asker in askers:
        assert asker.stdout.readline().strip() == "ready"
    more = write_jsonl(tmp_path / "data" / "more.jsonl", [record(i) for i in range(2, 60)])
    job = run_python(SLOW_INGEST, str(tmp_path / "job"), key, str(more), env=chroma.env())
    assert job.returncode == 0, job.stderr
    assert job.stdout.strip() == "58"
    for asker in askers:
        result = json.loads(asker.communicate(timeout=120)[0])
        assert result["errors"] == []
        assert result["wrong"] == []
        assert result["asked"] > 10
        assert result["max_s"] < 5.0
    store = ReadoutStore(chroma.settings(tmp_path / "check"), Keyed(key))
    assert store.count() == 60
    assert_consistent(store, tmp_path / "check")


# --- other processes' writes on the embedded store ----------------------------------------


class _Asker:
    """A running ``readouts ask --json -``, asked one line at a time as a script would."""

    def __init__(self, env: dict[str, str]) -> None:
        # As a script runs it: stdout a pipe, block-buffered unless the command flushes.
        env = {k: v for k, v in env.items() if k != "PYTHONUNBUFFERED"}
        self.process = subprocess.Popen(
            readouts_command("ask", "--json", "-"), cwd=PROJECT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )

    def ask(self, question: str, timeout: float = 120) -> dict:
        """Write one question, then read its answer: one line, flushed before the next
        question is even written."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        with selectors.DefaultSelector() as waiting:  # select() fails on fds over 1023
            waiting.register(self.process.stdout, selectors.EVENT_READ)
            ready = waiting.select(timeout)
        assert ready, f"no answer within {timeout} s to {question!r}"
        return json.loads(self.process.stdout.readline())

    def close(self) -> tuple[int, str]:
        """End of input: the exit code and what went to stderr."""
        _, err = self.process.communicate(timeout=60)
        return self.process.returncode, err


def _cli_env(tmp_path: Path) -> dict[str, str]:
    # the hashing embedder has no calibrated scale: answer whatever ranks first
    return child_env({"READOUTS_STORE_DIR": str(tmp_path / "store"),
                      "READOUTS_REFUSAL_THRESHOLD": "-1"})


def _readouts(env: dict[str, str], *args: str) -> str:
    """Run the readouts command in its own process, as another terminal would."""
    done = subprocess.run(readouts_command(*args), cwd=PROJECT, env=env, text=True,
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.slow
def test_a_running_ask_batch_answers_line_by_line_and_sees_other_processes_writes(
    tmp_path,
) -> None:
    env = _cli_env(tmp_path)
    _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "a.jsonl",
                                             [record(i) for i in range(3)])))
    asker = _Asker(env)
    first = asker.ask("Kyrgyzstan Taiwan railways k0x")
    assert first["citations"][0]["doc_id"] == "r0"

    _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "b.jsonl", [record(5)])))
    added = asker.ask("Chile lithium copper k5x")  # readout r5 exists only since just now
    assert added["answered"]
    assert added["citations"][0]["doc_id"] == "r5"
    shown = json.loads(_readouts(env, "show", "r5", "--json"))
    cite = added["citations"][0]
    assert shown["text"][cite["start"] : cite["end"]] == cite["quote"]

    _readouts(env, "remove", "r5")
    removed = asker.ask("Chile lithium copper k5x")
    assert "r5" not in {p["doc_id"] for p in removed["passages"]}
    assert all(c["doc_id"] != "r5" for c in removed["citations"])
    assert asker.ask("Egypt Xinjiang vaccines k1x")["citations"][0]["doc_id"] == "r1"
    assert asker.close() == (0, "")


@pytest.mark.slow
def test_an_assistant_kept_open_like_the_apps_sees_other_processes_writes(tmp_path) -> None:
    """The app keeps one assistant per process: it follows ingests and removals that the
    CLI makes in another process, on its next question."""
    env = _cli_env(tmp_path)
    _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "a.jsonl",
                                             [record(i) for i in range(3)])))
    settings = Settings(store_dir=tmp_path / "store", chroma_host=None, refusal_threshold=-1)
    assistant = build_assistant(settings, ReadoutStore(settings, HashingEmbeddings()))
    assert assistant.ask("Kyrgyzstan Taiwan railways k0x").citations[0].doc_id == "r0"
    for step in range(2):  # twice: the reopened client follows the next writes too
        _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "b.jsonl",
                                                 [record(5, version=step + 1)])))
        answer = assistant.ask("Chile lithium copper k5x")
        assert answer.citations[0].doc_id == "r5"
        assert f"(version {step + 1})" in assistant.store.get_readout("r5").text
        _check_answer(assistant.store, answer, "r5")
    _readouts(env, "remove", "r5")
    answer = assistant.ask("Chile lithium copper k5x")
    assert "r5" not in {p.doc_id for p in answer.passages}
    assert assistant.store.count() == 3
    assert_consistent(assistant.store, settings.store_dir)


@pytest.mark.slow
def test_a_write_between_catching_up_and_reading_costs_a_retry_not_an_error(
    tmp_path, monkeypatch
) -> None:
    """Another process commits right after this one caught up and read vectors (which
    loads them), before its lexical index reads the (always fresh) chunk metadata: BM25 then
    finds chunks whose vectors the client has not loaded. The question is asked once more,
    caught up, not failed."""
    env = _cli_env(tmp_path)
    _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "a.jsonl",
                                             [record(i) for i in range(3)])))
    settings = Settings(store_dir=tmp_path / "store", chroma_host=None, refusal_threshold=-1)
    assistant = build_assistant(settings, ReadoutStore(settings, HashingEmbeddings()))
    chunk_id = assistant.ask("Kyrgyzstan Taiwan railways k0x").citations[0].chunk_id
    caught_up = ReadoutStore.catch_up
    writes = [write_jsonl(tmp_path / "data" / "b.jsonl", [record(5)])]

    def then_another_process_writes(store: ReadoutStore) -> str:
        stamp = caught_up(store)
        if writes:
            store.passage_vectors([(chunk_id, "en")])  # another session's question
            _readouts(env, "ingest", str(writes.pop()))
        return stamp

    monkeypatch.setattr(ReadoutStore, "catch_up", then_another_process_writes)
    _readouts(env, "ingest", str(write_jsonl(tmp_path / "data" / "c.jsonl", [record(3)])))
    answer = assistant.ask("Chile lithium copper k5x")  # catches up with r3 but not r5
    assert writes == []
    _check_answer(assistant.store, answer, "r5")


# --- stores of another model or format -----------------------------------------------------


class Rotated(HashingEmbeddings):
    """Same name and size as the hashing embedder, other vectors: a changed model file."""

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.roll(super()._embed_passages(texts), 7, axis=1)

    def _embed_query(self, text: str) -> np.ndarray:
        return np.roll(super()._embed_query(text), 7)


class Wider(HashingEmbeddings):
    """Same name, another vector size."""

    def _embed_passages(self, texts: list[str]) -> np.ndarray:
        return np.pad(super()._embed_passages(texts), ((0, 0), (0, 3)))

    def _embed_query(self, text: str) -> np.ndarray:
        return np.pad(super()._embed_query(text), (0, 3))


@pytest.mark.parametrize("other", [Rotated, Wider])
def test_another_model_under_the_same_name_is_refused_then_rebuilt(tmp_path, other) -> None:
    settings = _settings(tmp_path)
    data = write_jsonl(tmp_path / "data" / "a.jsonl", [record(i) for i in range(3)])
    _ingest(ReadoutStore(settings, HashingEmbeddings()), data)
    with pytest.raises(StoreMismatchError, match="made by a different model.*--rebuild"):
        ReadoutStore(settings, other())
    rebuilt = ReadoutStore(settings, other(), rebuild=True)
    assert rebuilt.is_empty()
    assert _ingest(rebuilt, data).added == ["r0", "r1", "r2"]
    assert_consistent(rebuilt, settings.store_dir)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI on a store in tmp_path, with the hashing embedder instead of e5."""
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("READOUTS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("READOUTS_CHROMA_HOST", raising=False)
    monkeypatch.setattr("rag.embeddings.build_embeddings", lambda *_: HashingEmbeddings())
    return write_jsonl(tmp_path / "data" / "a.jsonl", [record(i) for i in range(3)])


def test_a_format_1_store_is_migrated_by_the_next_ingest_which_embeds_nothing(
    tmp_path, capsys
) -> None:
    settings = _settings(tmp_path)
    records = [{**record(i), "language": ("en", "fr")[i % 2]} for i in range(6)]
    data = write_jsonl(tmp_path / "data" / "a.jsonl", records)
    store = ReadoutStore(settings, HashingEmbeddings())
    _ingest(store, data)
    readouts = [store.get_readout(f"r{i}") for i in range(6)]
    store.reset()
    write_format_1(store.client, HashingEmbeddings(), readouts, max_chars=120)
    vector = store.embeddings.embed_query("Kyrgyzstan Taiwan railways")

    embeddings = HashingEmbeddings()
    older = ReadoutStore(settings, embeddings)
    assert [p.doc_id for p in older.dense_search(vector, 3, Filters(languages=("fr",)))]
    assert _ingest(older, data).unchanged == [f"r{i}" for i in range(6)]
    assert embeddings.calls == 0
    assert_consistent(older, settings.store_dir)


def test_a_store_of_an_older_format_needs_rebuild_and_gets_it(cli_env, tmp_path, capsys) -> None:
    settings = _settings(tmp_path)
    store = ReadoutStore(settings, HashingEmbeddings())
    _ingest(store, cli_env)
    store.collections.docs.modify(metadata={"format": "0"})
    assert cli.main(["ingest", str(cli_env)]) == cli.ERROR
    assert "readouts ingest --rebuild" in capsys.readouterr().err
    assert cli.main(["ingest", "--rebuild", "--json", str(cli_env)]) == cli.OK
    assert json.loads(capsys.readouterr().out)["added"] == ["r0", "r1", "r2"]
    assert_consistent(ReadoutStore(settings, HashingEmbeddings()), settings.store_dir)


def test_asking_a_store_built_by_another_embedder_says_which(
    cli_env, tmp_path, monkeypatch, capsys
) -> None:
    _ingest(ReadoutStore(_settings(tmp_path), HashingEmbeddings()), cli_env)
    monkeypatch.setattr("rag.assistant.build_embeddings", lambda *_: Keyed("other-model"))
    assert cli.main(["ask", "Kyrgyzstan Taiwan"]) == cli.ERROR
    err = capsys.readouterr().err
    assert "no readouts embedded with 'other-model'" in err
    assert "'fake-hash'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "--rebuild", "--shard", "0/2", "x"], "run it once without --shard"),
        (["ingest", "--shard", "2/2", "x"], "Invalid shard 2/2"),
        (["ingest", "--shard", "half", "x"], "Invalid shard 'half'"),
        (["ingest", "--workers", "0", "x"], "not a number of workers"),
    ],
)
def test_bad_shard_and_worker_options_are_refused(cli_env, capsys, argv, message) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == cli.ERROR
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_cli_workers_and_shards_with_the_real_model(tmp_path) -> None:
    data = write_jsonl(tmp_path / "data" / "a.jsonl", [record(i) for i in range(4)])
    env = child_env({"READOUTS_STORE_DIR": str(tmp_path / "store")})
    command = [sys.executable, "-m", "ingest.cli", "ingest", "--json"]

    def run(*args: str) -> dict:
        done = subprocess.run([*command, *args, str(data)], cwd=PROJECT, env=env, text=True,
                              capture_output=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    shard = run("--shard", "1/2")
    assert 0 < len(shard["added"]) < 4
    full = run("--workers", "2")
    assert sorted(full["added"] + full["unchanged"]) == ["r0", "r1", "r2", "r3"]
    assert full["unchanged"] == sorted(shard["added"])
