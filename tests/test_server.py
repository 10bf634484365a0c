"""Server mode against a real ``chroma run``: ingest, ask, update, remove; processes sharing
the server stay consistent; the server going away gives a clear error, then recovery."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.pipeline import ingest_parallel, ingest_paths
from rag.assistant import build_assistant
from rag.errors import StoreError
from rag.schema import Filters, Readout
from rag.store import ReadoutStore, open_client
from tests.legacy import write_format_1
from tests.support import (
    MB,
    PROJECT,
    ChromaServer,
    Keyed,
    assert_consistent,
    child_env,
    record,
    run_python,
    write_jsonl,
)

SEED = PROJECT / "data" / "seed-xi-japarov-2021-02-22.txt"
pytestmark = pytest.mark.slow  # every test here starts a Chroma server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One real Chroma server for the module; tests keep apart by collection name."""
    root = tmp_path_factory.mktemp("chroma")
    chroma = ChromaServer(root / "db", root / "server.log")
    chroma.start()
    yield chroma
    chroma.stop()


@pytest.fixture
def key() -> str:
    """A collection name of this test's own."""
    return f"t-{uuid.uuid4().hex[:10]}"


def _ingest(store: ReadoutStore, *paths: Path, prune: bool = False):
    return ingest_paths(store, list(paths), max_bytes=MB, max_chars=300, prune=prune)


def test_ingest_ask_update_remove_through_a_real_server(server, key, tmp_path) -> None:
    settings = server.settings(tmp_path / "cache")
    store = ReadoutStore(settings, Keyed(key))
    assert store.location == f"chroma://127.0.0.1:{server.port}"
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(4)])
    assert _ingest(store, data).added == ["r0", "r1", "r2", "r3"]
    assistant = build_assistant(settings, store)

    answer = assistant.ask("What did Kyrgyzstan raise about Taiwan?")
    assert answer.answered
    assert answer.citations[0].doc_id == "r0"
    for c in answer.citations:
        assert store.get_readout(c.doc_id).text[c.start : c.end] == c.quote

    write_jsonl(data, [record(0, version=2), record(1), record(2)])
    report = _ingest(store, data, prune=True)
    assert (report.updated, report.removed, report.unchanged) == (["r0"], ["r3"], ["r1", "r2"])
    assert "(version 2)" in store.get_readout("r0").text
    answer = assistant.ask("What did Kyrgyzstan raise about Taiwan in version 2?")
    assert "(version 2)" in answer.citations[0].text  # the passage is the new version

    assert store.remove("r1") is True
    assert store.get_readout("r1") is None
    assert "r1" not in {p.doc_id for p in assistant.ask("Egypt Xinjiang vaccines").passages}
    assert [i.doc_id for i in store.list_readouts()] == ["r0", "r2"]
    assert_consistent(store, tmp_path / "cache")


ASKER = textwrap.dedent("""
    import json, sys
    from rag.assistant import build_assistant
    from rag.config import Settings
    from rag.schema import Filters
    from rag.store import ReadoutStore
    from tests.support import Keyed

    settings = Settings(store_dir=sys.argv[1], refusal_threshold=0.0)  # refusal off
    store = ReadoutStore(settings, Keyed(sys.argv[2]))
    assistant = build_assistant(settings, store)
    print("ready", flush=True)
    for line in sys.stdin:
        answer = assistant.ask(line.strip())
        hits = assistant.lexical.search(line.strip(), 10, Filters())
        print(json.dumps({
            "cited": [c.doc_id for c in answer.citations],
            "lexical": sorted({h.chunk_id.split(":")[0] for h in hits}),
            "generation": assistant.lexical.generation,
        }), flush=True)
""")

WRITER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from ingest.pipeline import ingest_parallel, ingest_paths
    from ingest.shard import Shard
    from rag.config import Settings
    from rag.store import ReadoutStore
    from tests.support import Keyed

    settings = Settings(store_dir=sys.argv[1])
    store = ReadoutStore(settings, Keyed(sys.argv[2]))
    report = ingest_paths(store, [Path(sys.argv[3])], max_bytes=2**20, max_chars=300,
                          shard=Shard.parse(sys.argv[4]))
    print(json.dumps(report.to_dict()))
""")


class Asker:
    """Another process asking questions through the same server (an app instance)."""

    def __init__(self, server: ChromaServer, cache: Path, key: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", ASKER, str(cache), key], cwd=PROJECT, text=True,
            env=child_env(server.env()), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert self.process.stdout.readline().strip() == "ready"

    def ask(self, question: str) -> dict:
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0


def _write(server: ChromaServer, cache: Path, key: str, data: Path, shard: str = "0/1") -> dict:
    done = run_python(WRITER, str(cache), key, str(data), shard, env=server.env())
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_an_ingest_job_and_an_asker_in_two_processes_stay_consistent(
    server, key, tmp_path
) -> None:
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(2)])
    _write(server, tmp_path / "job", key, data)
    asker = Asker(server, tmp_path / "app", key)
    try:
        before = asker.ask("Brazil climate soybeans")
        assert "r2" not in before["cited"]
        assert "r2" not in before["lexical"]
        write_jsonl(data, [record(i) for i in range(4)])
        assert _write(server, tmp_path / "job", key, data)["added"] == ["r2", "r3"]
        after = asker.ask("Brazil climate soybeans")
        assert after["generation"] != before["generation"]  # the lexical index followed
        assert "r2" in after["lexical"]
        assert after["cited"][0] == "r2"
    finally:
        asker.close()
    settings = server.settings(tmp_path / "check")
    assert_consistent(ReadoutStore(settings, Keyed(key)), tmp_path / "check")


def test_two_shards_ingested_at_once_cover_every_readout_once(server, key, tmp_path) -> None:
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(24)])
    jobs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path / f"m{i}"), key, str(data), f"{i}/2"],
            cwd=PROJECT, env=child_env(server.env()), text=True, stdout=subprocess.PIPE,
        )
        for i in range(2)
    ]
    reports = [json.loads(job.communicate(timeout=120)[0]) for job in jobs]
    first, second = (set(r["added"]) for r in reports)
    assert first
    assert second
    assert not first & second
    assert first | second == {f"r{i}" for i in range(24)}
    store = ReadoutStore(server.settings(tmp_path / "check"), Keyed(key))
    assert store.count() == 24
    assert_consistent(store, tmp_path / "check")


def test_server_going_away_gives_a_clear_error_then_recovers(tmp_path, key) -> None:
    chroma = ChromaServer(tmp_path / "db", tmp_path / "server.log")
    chroma.start()
    try:
        settings = chroma.settings(tmp_path / "cache")
        store = ReadoutStore(settings, Keyed(key))
        data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(3)])
        _ingest(store, data)
        assistant = build_assistant(settings, store)
        assert assistant.ask("Kyrgyzstan Taiwan").answered

        chroma.stop()
        where = f"127.0.0.1:{chroma.port}"
        for action in (
            lambda: assistant.ask("Kyrgyzstan Taiwan"),
            lambda: store.get_readout("r0"),
            lambda: store.list_readouts(),
            lambda: _ingest(store, write_jsonl(data, [record(i) for i in range(4)])),
        ):
            with pytest.raises(StoreError, match=f"Chroma server at {where}") as caught:
                action()
            assert "chroma run" in str(caught.value)

        chroma.start()  # same port, same data: the same client carries on
        assert assistant.ask("Kyrgyzstan Taiwan").citations[0].doc_id == "r0"
        assert _ingest(store, data).added == ["r3"]
        assert_consistent(store, tmp_path / "cache")
    finally:
        chroma.stop()


def test_parallel_workers_write_through_one_writer_in_server_mode(server, key, tmp_path) -> None:
    data = write_jsonl(tmp_path / "data" / "calls.jsonl", [record(i) for i in range(12)])
    store = ReadoutStore(server.settings(tmp_path / "cache"), Keyed(key))
    report = ingest_parallel(store, [data], workers=2, make_embeddings=functools.partial(
        Keyed, key), max_bytes=MB, max_chars=300)
    assert report.added == sorted(f"r{i}" for i in range(12))
    assert_consistent(store, tmp_path / "cache")


def test_cli_with_the_real_e5_model_against_a_server(server, tmp_path) -> None:
    env = child_env({**server.env(), "READOUTS_STORE_DIR": str(tmp_path / "cache")})
    cli = [sys.executable, "-m", "ingest.cli"]
    ingest = subprocess.run([*cli, "ingest", "--json", str(SEED)], cwd=PROJECT, env=env,
                            text=True, capture_output=True, timeout=300, check=False)
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    assert report["failed"] == []
    assert len(report["added"]) + len(report["unchanged"]) == 1
    question = "Que pense le Kirghizistan de la position de la Chine sur Taiwan ?"
    ask = subprocess.run([*cli, "ask", "--json", question], cwd=PROJECT, env=env, text=True,
                         capture_output=True, timeout=300, check=False)
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["answered"]
    text = SEED.read_text(encoding="utf-8").strip()
    assert any("Taiwan" in c["quote"] for c in answer["citations"])
    for c in answer["citations"]:
        assert text[c["start"] : c["end"]] == c["quote"]


def test_a_format_1_store_on_the_server_is_migrated_in_place(server, key, tmp_path) -> None:
    """The store's parts on a real server: migration of the old layout (nothing embedded
    again), one vector per chunk, language filters through ``where``, the cosine space."""
    settings = server.settings(tmp_path / "cache")
    readouts = [
        Readout(doc_id=f"r{i}", title=f"Call {i}", date=f"2022-03-{i + 1:02d}",
                language=("en", "fr")[i % 2], source="Xinhua", countries=("CN",),
                text=f"Leaders discussed topic{i} and project{i}. " * 20)
        for i in range(6)
    ]
    total = write_format_1(open_client(settings), Keyed(key), readouts, max_chars=300)
    embeddings = Keyed(key)
    store = ReadoutStore(settings, embeddings)
    assert embeddings.calls == 0
    names = {c.name for c in store.client.list_collections() if c.name.startswith(store.prefix)}
    assert names == {f"{store.prefix}-{s}" for s in ("vectors-en", "vectors-fr", "docs", "state")}
    assert {c.configuration["hnsw"]["space"] for c in store.vector_collections.values()} == {
        "cosine"}
    assert sum(c.count() for c in store.vector_collections.values()) == total
    for r in readouts:
        vector = embeddings.embed_query(r.text[:100])
        [top] = store.dense_search(vector, 1, Filters(languages=(r.language,)))
        assert top.doc_id == r.doc_id
        assert r.text[top.start : top.end] == top.text
    assert {p.language for p in store.dense_search(
        embeddings.embed_query("Leaders discussed"), 10, Filters(languages=("fr",)))} == {"fr"}
    assert embeddings.calls == 0
    assert_consistent(store, tmp_path / "cache")
