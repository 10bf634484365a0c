"""Shared fixtures: settings on a temp store, real Chroma, a fake or the real embedder."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.config import Settings
from rag.store import ReadoutStore
from tests.fakes import HashingEmbeddings

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on an empty store and data folder in tmp_path."""
    return Settings(
        data_dir=tmp_path / "data", store_dir=tmp_path / "store", chroma_host=None,
        embedder="e5-small",
    )


@pytest.fixture
def fake_store(settings: Settings) -> ReadoutStore:
    """A real embedded Chroma store with the fast hashing embedder."""
    return ReadoutStore(settings, HashingEmbeddings())


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[..., Path]:
    """Write text into tmp_path/data/<name> and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def corpus_records(language: str, ids: list[str] | None = None, limit: int = 0) -> list[dict]:
    """Records of ../shared/corpus (skips the test when the corpus is absent)."""
    path = SHARED_CORPUS / f"readouts-{language}.jsonl"
    if not path.exists():
        pytest.skip("../shared/corpus is not available")
    records = [json.loads(line) for line in path.open(encoding="utf-8")]
    if ids is not None:
        records = [r for r in records if r["id"] in ids]
    return records[:limit] if limit else records
