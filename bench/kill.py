"""Kill -9 during a whole-corpus ingest, then ingest again: what is lost, what is redone.

Usage: python bench/kill.py [--embedder e5-small] [--at 0.5] [--limit N]

A real ``readouts ingest --json`` of ../shared/corpus (or its first N readouts) into a fresh
store is killed with SIGKILL once the fraction ``--at`` of the corpus's chunks is committed,
as its progress bar on a pseudo-terminal says. The same command is then run again. Printed
and saved to bench/out/kill-<embedder>.json: the chunks embedded and committed at the kill
(their difference is the embedding the kill lost: the goal is at most one write group, see
``ingest.pipeline.WRITE_GROUP_CHUNKS``), the chunks the second run embedded (the goal: exactly
those not committed before), and whether every readout is stored once with exactly its
chunks. ``tests/test_cli.py`` runs the same protocol on 150 readouts.
"""

from __future__ import annotations

import argparse
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
from typing import Any

from common import OUT, corpus_files, corpus_slice

ROOT = Path(__file__).resolve().parents[1]


def _bar(terminal: int, proc: subprocess.Popen[bytes], until_written: int
         ) -> tuple[int, int]:
    """Read the progress bar until ``until_written`` chunks are committed; the last
    (embedded, written) it showed."""
    shown, counts = "", (0, 0)
    readable = select.poll()
    readable.register(terminal, select.POLLIN)
    while counts[1] < until_written:
        if proc.poll() is not None:
            raise SystemExit("the ingest ended before it could be killed: use a lower --at")
        if readable.poll(1000):
            shown = (shown + os.read(terminal, 65536).decode("utf-8", "replace"))[-4096:]
            found = re.findall(r"embedded=(\d+), written=(\d+)", shown)
            counts = (int(found[-1][0]), int(found[-1][1])) if found else counts
    return counts


def _state(store_dir: Path, embedder: str) -> dict[str, Any]:
    """Readouts and chunks committed in the store, after repairing what the kill left."""
    from rag.config import Settings
    from rag.embeddings import build_embeddings
    from rag.store import ReadoutStore

    settings = Settings(store_dir=store_dir, embedder=embedder, chroma_host=None)
    store = ReadoutStore(settings, build_embeddings(embedder))
    repaired = store.repair()
    committed = store.committed_hashes()
    rows = sum(c.count() for c in store.vector_collections.values())
    return {"repaired": repaired, "readouts": len(committed),
            "chunks": sum(int(m["chunks"]) for m in committed.values()), "vector_rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--at", type=float, default=0.5, help="share of chunks committed")
    parser.add_argument("--limit", type=int, default=0, help="only the first N readouts")
    args = parser.parse_args()
    from ingest.pipeline import WRITE_GROUP_CHUNKS

    files = [corpus_slice(args.limit, "kill")] if args.limit else corpus_files()
    from ingest.scan import Scan
    from ingest.shard import WHOLE
    from rag.config import Settings

    scan = Scan({}, WHOLE, 200 * 2**20, Settings(embedder=args.embedder).chunk_max_chars)
    expected = sum(len(chunks) for _, chunks in scan.todo(files))  # chunking, no embedding
    total_readouts = len(scan.read)
    store_dir = OUT / f"kill-{args.embedder}"
    shutil.rmtree(store_dir, ignore_errors=True)
    env = {**{k: v for k, v in os.environ.items() if k != "READOUTS_CHROMA_HOST"},
           "PYTHONPATH": str(ROOT), "READOUTS_EMBEDDER": args.embedder,
           "READOUTS_STORE_DIR": str(store_dir),
           "TQDM_MININTERVAL": "0", "TQDM_NCOLS": "160", "TQDM_NROWS": "24"}
    command = [str(Path(sys.executable).parent / "readouts"), "ingest",
               *map(str, files), "--json"]
    terminal, bar = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=bar)
    os.close(bar)
    try:
        embedded, written = _bar(terminal, proc, int(args.at * expected))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        os.close(terminal)
        if proc.poll() is None:
            proc.kill()
    killed_after = time.perf_counter() - started
    at_kill = _state(store_dir, args.embedder)
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    report = json.loads(again.stdout)
    final = _state(store_dir, args.embedder)
    result = {
        "embedder": args.embedder, "readouts": total_readouts, "chunks": expected,
        "killed_after_s": round(killed_after, 1),
        "bar_at_kill": {"embedded": embedded, "written": written},
        "committed_at_kill": at_kill,
        "lost_chunks": embedded - at_kill["chunks"], "write_group_chunks": WRITE_GROUP_CHUNKS,
        "second_run": {"added": len(report["added"]), "unchanged": len(report["unchanged"]),
                       "failed": len(report["failed"]),
                       "chunks_embedded": report["chunks_embedded"]},
        "final": final,
        "redone_exactly_the_rest": report["chunks_embedded"] == final["chunks"]
        - at_kill["chunks"],
        "every_readout_once": final["readouts"] == total_readouts
        and final["vector_rows"] == final["chunks"],
    }
    (OUT / f"kill-{args.embedder}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
