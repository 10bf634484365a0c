"""Incremental ingestion: add, skip unchanged without embedding, update, prune, fail cleanly,
and survive a kill -9 at any moment."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from rag.config import Settings
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings
from tests.support import chunk_rows

MB = 2**20
PROJECT = Path(__file__).resolve().parents[1]


def _ingest(store: ReadoutStore, *paths: Path, prune: bool = False):
    return ingest_paths(store, list(paths), max_bytes=MB, max_chars=300, prune=prune)


def _record(i: int, text: str | None = None) -> dict:
    return {"id": f"r{i}", "title": f"Call {i}", "date": f"2021-02-{i + 1:02d}",
            "language": "en", "source": "Test", "url": None,
            "text": text or f"President A spoke with leader {i} about topic {i}. " * 3}


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def assert_consistent(store: ReadoutStore) -> None:
    """Every committed readout has exactly its chunks; no orphan, stale or duplicate chunk."""
    committed = store.committed_hashes()
    rows = chunk_rows(store, include=["metadatas"])
    by_doc: dict[str, list[dict]] = {}
    for meta in rows["metadatas"]:
        by_doc.setdefault(meta["doc_id"], []).append(meta)
    assert set(by_doc) == set(committed)
    for doc_id, metas in by_doc.items():
        assert {m["hash"] for m in metas} == {committed[doc_id]["hash"]}
        assert sorted(m["index"] for m in metas) == list(range(committed[doc_id]["chunks"]))
    assert store.collections.docs.get(where={"dirty": True})["ids"] == []


def test_add_then_skip_unchanged_without_embedding(fake_store, tmp_path) -> None:
    data = _jsonl(tmp_path / "data" / "a.jsonl", [_record(i) for i in range(3)])
    first = _ingest(fake_store, data)
    assert (first.added, first.failed) == (["r0", "r1", "r2"], [])
    calls = fake_store.embeddings.calls
    second = _ingest(fake_store, data)
    assert second.unchanged == ["r0", "r1", "r2"]
    assert (second.added, second.updated, second.chunks_embedded) == ([], [], 0)
    assert fake_store.embeddings.calls == calls
    assert_consistent(fake_store)


def test_changed_readout_replaces_all_its_chunks(fake_store, tmp_path) -> None:
    data = _jsonl(tmp_path / "data" / "a.jsonl", [_record(0), _record(1)])
    _ingest(fake_store, data)
    _jsonl(data, [_record(0, "A completely different text about railways."), _record(1)])
    report = _ingest(fake_store, data)
    assert (report.updated, report.unchanged) == (["r0"], ["r1"])
    assert "railways" in fake_store.get_readout("r0").text
    assert_consistent(fake_store)


def test_files_of_the_same_name_in_two_folders_are_two_readouts(fake_store, tmp_path) -> None:
    """Ids come from file names; a second readout.txt must never replace the first, whether
    both come in one run or the second comes alone later."""
    first = tmp_path / "2021" / "readout.txt"
    second = tmp_path / "2022" / "readout.txt"
    for path, text in ((first, "On February 10, 2021, Biden spoke with Xi about trade."),
                       (second, "On March 3, 2022, Macron spoke with Xi about climate.")):
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    _ingest(fake_store, first.parent)
    alone = _ingest(fake_store, second.parent)
    assert alone.updated == []
    assert alone.added == [f"readout-{_path_digest(second)}"]
    both = _ingest(fake_store, tmp_path)
    assert both.failed == []
    assert sorted(both.unchanged) == sorted(["readout", f"readout-{_path_digest(second)}"])
    texts = {i.doc_id: fake_store.get_readout(i.doc_id).text
             for i in fake_store.list_readouts()}
    assert texts["readout"].startswith("On February 10, 2021")
    assert_consistent(fake_store)


def test_a_moved_file_keeps_its_id(fake_store, tmp_path) -> None:
    old = tmp_path / "inbox" / "call.txt"
    old.parent.mkdir()
    old.write_text("On February 10, 2021, Biden spoke with Xi about trade.", encoding="utf-8")
    _ingest(fake_store, tmp_path)
    new = tmp_path / "2021" / "call.txt"
    new.parent.mkdir()
    old.rename(new)
    report = _ingest(fake_store, tmp_path)
    assert report.added == []
    assert [i.doc_id for i in fake_store.list_readouts()] == ["call"]


def _path_digest(path: Path) -> str:
    return hashlib.sha1(str(path.resolve()).encode("utf-8")).hexdigest()[:8]


def test_prune_removes_readouts_whose_file_or_record_is_gone(fake_store, tmp_path) -> None:
    folder = tmp_path / "data"
    _jsonl(folder / "a.jsonl", [_record(0), _record(1)])
    (folder / "b.txt").write_text("On February 10, 2021, A met B in Geneva.", encoding="utf-8")
    _ingest(fake_store, folder)
    _jsonl(folder / "a.jsonl", [_record(0)])
    (folder / "b.txt").unlink()
    without = _ingest(fake_store, folder)
    assert without.removed == []  # no --prune: nothing removed
    pruned = _ingest(fake_store, folder, prune=True)
    assert sorted(pruned.removed) == ["b", "r1"]
    assert [i.doc_id for i in fake_store.list_readouts()] == ["r0"]
    assert_consistent(fake_store)


def test_prune_never_removes_readouts_of_a_file_that_failed(fake_store, tmp_path) -> None:
    folder = tmp_path / "data"
    path = _jsonl(folder / "a.jsonl", [_record(0), _record(1)])
    _ingest(fake_store, folder)
    path.write_text(json.dumps(_record(0)) + "\n{broken json\n", encoding="utf-8")
    report = _ingest(fake_store, folder, prune=True)
    assert report.removed == []
    assert [f.record for f in report.failed] == ["line 2"]
    assert fake_store.count() == 2


def test_bad_files_are_reported_and_good_ones_still_stored(fake_store, tmp_path) -> None:
    folder = tmp_path / "data"
    _jsonl(folder / "good.jsonl", [_record(0)])
    (folder / "empty.txt").write_text("", encoding="utf-8")
    (folder / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (folder / "big.txt").write_text("x " * MB, encoding="utf-8")
    _jsonl(folder / "later.jsonl", [_record(0)])
    report = _ingest(fake_store, folder)
    assert report.added == ["r0"]
    reasons = {Path(f.path).name: f.reason for f in report.failed}
    assert set(reasons) == {"empty.txt", "binary.txt", "big.txt", "later.jsonl"}
    assert "duplicate id 'r0'" in reasons["later.jsonl"]
    assert "over the" in reasons["big.txt"]
    assert_consistent(fake_store)


def test_missing_path_is_a_failure_not_a_crash(fake_store, tmp_path) -> None:
    report = _ingest(fake_store, tmp_path / "nope")
    assert len(report.failed) == 1
    assert report.added == []


CRASHING_INGEST = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {project!r})
    from pathlib import Path
    from ingest.pipeline import ingest_paths
    from rag.config import Settings
    from rag.store import ReadoutStore
    from tests.fakes import HashingEmbeddings

    class Slow(HashingEmbeddings):
        def _embed_passages(self, texts):
            time.sleep(0.1)  # keeps the run long enough to be killed mid-way
            return super()._embed_passages(texts)

    store = ReadoutStore(Settings(store_dir=Path({store!r})), Slow(batch_size=2))
    print("ready", flush=True)
    ingest_paths(store, [Path({data!r})], max_bytes=2**20, max_chars=120)
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.4, 1.1, 1.9])
def test_kill_9_at_any_moment_is_repaired_by_the_next_run(tmp_path, delay: float) -> None:
    data = _jsonl(tmp_path / "data" / "a.jsonl", [_record(i) for i in range(25)])
    settings = Settings(store_dir=tmp_path / "store")
    script = CRASHING_INGEST.format(project=str(PROJECT), store=str(settings.store_dir),
                                    data=str(data))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL  # killed mid-run, not finished
    store = ReadoutStore(settings, HashingEmbeddings())
    assert len(store.committed_hashes()) < 25
    report = _ingest(store, data)
    assert report.failed == []
    assert len(report.added) + len(report.unchanged) == 25
    assert store.count() == 25
    assert_consistent(store)



def test_files_stream_through_the_first_readouts_are_written_before_the_last_file_is_read(
    fake_store, tmp_path, monkeypatch
) -> None:
    """Memory does not grow with the corpus: each group is embedded and committed while later
    files are still unread, so a killed run keeps its early readouts too."""
    import ingest.pipeline
    import ingest.scan

    monkeypatch.setattr(ingest.pipeline, "WRITE_GROUP_CHUNKS", 4)
    folder = tmp_path / "data"
    for n in range(12):  # one chunk per readout, 16 chunks per embedding batch
        _jsonl(folder / f"part-{n:02d}.jsonl",
               [{**_record(i), "date": "2021-03-01"} for i in range(n * 3, n * 3 + 3)])
    events: list[str] = []
    real_load = ingest.scan.load_file
    monkeypatch.setattr(ingest.scan, "load_file",
                        lambda path, max_bytes: events.append(f"read {path.name}")
                        or real_load(path, max_bytes))
    real_write = fake_store.write_readouts
    monkeypatch.setattr(fake_store, "write_readouts",
                        lambda items: events.append("write") or real_write(items))
    report = _ingest(fake_store, folder)
    assert len(report.added) == 36
    assert events.index("write") < events.index("read part-11.jsonl")
    assert_consistent(fake_store)


def test_progress_counts_readouts_to_the_total_and_chunks_embedded_then_written(
    fake_store, tmp_path
) -> None:
    from ingest.pipeline import Tally

    data = _jsonl(tmp_path / "data" / "a.jsonl", [_record(i) for i in range(5)])
    seen: list[Tally] = []
    ingest_paths(fake_store, [data], max_bytes=MB, max_chars=300, progress=seen.append)
    assert seen[0] == Tally(0, 5, 0, 0)
    assert seen[-1].done == seen[-1].total == 5
    assert seen[-1].embedded == seen[-1].written > 0
    assert all(t.written <= t.embedded for t in seen)
    assert [t.done for t in seen] == sorted(t.done for t in seen)
    again: list[Tally] = []
    _jsonl(data, [_record(i) for i in range(6)])  # one new readout, five unchanged
    ingest_paths(fake_store, [data], max_bytes=MB, max_chars=300, progress=again.append)
    assert again[-1].done == again[-1].total == 6
    assert again[-1].written == fake_store.committed_hashes()["r5"]["chunks"]
