"""Ingesting from the app: one run at a time, questions keep working meanwhile, seen at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ingest.refresh
from ingest.refresh import Ingester, ingest_into
from rag.assistant import Assistant, build_assistant
from rag.config import Settings
from rag.errors import StoreError
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings

FIRST = "Atlantis agrees to the Poseidon treaty\n\nThe King of Atlantis agreed to the treaty."
SECOND = "Lemuria joins the Mu accord\n\nThe Queen of Lemuria signed the Mu fishing accord."


@pytest.fixture
def assistant(tmp_path: Path, write_file: Callable[..., Path]) -> Assistant:
    """An assistant on a real store that already holds the Atlantis readout."""
    settings = Settings(data_dir=tmp_path / "data", store_dir=tmp_path / "store",
                        chroma_host=None, refusal_threshold=-1)
    assistant = build_assistant(settings, ReadoutStore(settings, HashingEmbeddings()))
    ingest_into(assistant, [write_file("atlantis.txt", FIRST)])
    return assistant


def cited(assistant: Assistant, question: str) -> str:
    answer = assistant.ask(question)
    assert answer.answered
    return answer.citations[0].doc_id


def test_background_ingestion_runs_alone_while_questions_are_answered(
    assistant: Assistant, write_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    lemuria = write_file("lemuria.txt", SECOND)
    started, proceed = threading.Event(), threading.Event()
    real_ingest = ingest.refresh.ingest_paths

    def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        assert proceed.wait(30)
        return real_ingest(*args, **kwargs)

    monkeypatch.setattr(ingest.refresh, "ingest_paths", held)
    ingester = Ingester(assistant)
    job = ingester.start([lemuria])
    try:
        assert started.wait(30)
        assert job.running
        assert cited(assistant, "What did the King of Atlantis agree to?") == "atlantis"
        with pytest.raises(StoreError, match="already running"):
            ingester.start([lemuria])
        with pytest.raises(StoreError, match="already running"):
            ingest_into(assistant, [lemuria])
    finally:
        proceed.set()
    assert job.finished.wait(30)

    assert job.error is None
    assert job.report is not None
    assert job.report.added == ["lemuria"]
    assert job.done == job.total > 0
    assert cited(assistant, "What did the Queen of Lemuria sign?") == "lemuria"
    assert ingester.start([lemuria]).finished.wait(30), "a new run may start once one ended"


def test_a_failed_ingestion_reports_its_error(
    assistant: Assistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("Lost the connection to the Chroma server")

    monkeypatch.setattr(ingest.refresh, "ingest_paths", unreachable)
    job = Ingester(assistant).start([Path("data")])
    assert job.finished.wait(30)
    assert (job.report, job.error) == (None, "Lost the connection to the Chroma server")
