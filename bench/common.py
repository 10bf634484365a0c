"""Shared bench helpers: the shared corpus, a bench store, and the development set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402

CORPUS = Path(os.environ.get("READOUTS_BENCH_CORPUS", ROOT.parent / "shared" / "corpus"))
OUT = ROOT / "bench" / "out"
DEVSET = ROOT / "bench" / "devset.jsonl"


def bench_settings(embedder: str = "e5-small", store: Path | None = None) -> Settings:
    """Settings on a bench store (kept between runs under bench/out/) for ``embedder``."""
    slug = embedder.replace(":", "-").replace("/", "-")
    return Settings(store_dir=store or OUT / f"store-{slug}", embedder=embedder,
                    chroma_host=None)


def corpus_files() -> list[Path]:
    """The shared corpus files, or exit with a clear message."""
    files = sorted(CORPUS.glob("readouts-*.jsonl"))
    if not files:
        sys.exit(f"No corpus at {CORPUS}: set READOUTS_BENCH_CORPUS.")
    return files


def corpus_slice(limit: int, name: str) -> Path:
    """The corpus's first ``limit`` readouts (0: all), in file order, as one JSON Lines file
    ``bench/out/<name>-slice-<limit>.jsonl`` (one name per script: two may run at once)."""
    records: list[str] = []
    for path in corpus_files():
        records += [line for line in path.open(encoding="utf-8") if line.strip()]
    path = OUT / f"{name}-slice-{limit or 'all'}.jsonl"
    OUT.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(records[:limit] if limit else records), encoding="utf-8")
    return path


def devset(path: Path = DEVSET) -> list[dict]:
    """The development questions (bench/devset.jsonl), or another set in its format."""
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def ensure_ingested(settings: Settings) -> None:
    """Ingest the shared corpus into the bench store (incremental: cheap when done)."""
    from ingest.pipeline import ingest_paths
    from rag.assistant import open_store
    from rag.lexical import LexicalIndex

    store = open_store(settings)
    started = time.perf_counter()
    report = ingest_paths(store, corpus_files(), max_bytes=50 * 2**20,
                          max_chars=settings.chunk_max_chars)
    LexicalIndex(store, settings.store_dir).sync()
    print(f"store ready in {time.perf_counter() - started:.1f}s: {report.summary()}",
          file=sys.stderr)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_child(script: Path, *args: str) -> dict[str, Any]:
    """Run one bench phase in a fresh process (so its peak RSS is its own) and return the
    JSON object it prints last; exit with its stderr if it fails."""
    command = [sys.executable, str(script), *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False,
                          env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    if done.returncode:
        sys.exit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
