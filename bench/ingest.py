"""Ingest speed: our pipeline against the embedder alone and a plain LangChain pipeline.

Usage: python bench/ingest.py [--embedder e5-small] [--limit N] [--workers 1] [--no-baseline]

Ingests ../shared/corpus (or READOUTS_BENCH_CORPUS; --limit N: its first N readouts) into a
fresh store and prints the first-ingest time (wall, and CPU seconds: steadier when other jobs
share the cores), the re-ingest time of the unchanged corpus, chunks/s and peak RSS. Before
it, the embedder alone embeds exactly the texts the ingest embeds, in the same batches: the
ratio of the two is the pipeline's overhead (the goal: at most 1.10). Then the same readouts
go through RecursiveCharacterTextSplitter + the same embedder +
``langchain_chroma.Chroma.from_documents`` as the baseline; both sides are also given per
thousand embedded tokens (the model's own tokenizer for e5, else per thousand characters),
since our chunks carry a title and date header that the baseline's do not. Each side runs
in its own child process, so that each peak RSS is its own. Results:
bench/out/ingest-<embedder>-<limit>-w<workers>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path
from typing import Any

from common import OUT, bench_settings, corpus_slice, run_child


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, workers) / 1024, 1)


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and its finished children: steadier than
    wall time when other jobs share the cores."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _size(embeddings: Any, texts: list[str]) -> tuple[int, str]:
    """How much text ``texts`` feed the model: its tokens where it can count them (e5),
    else characters."""
    counter = getattr(getattr(embeddings, "_model", None), "token_count", None)
    if callable(counter):
        return sum(int(counter(t)) for t in texts), "tokens"
    return sum(len(t) for t in texts), "chars"


def run_embedder(embedder: str, data: Path) -> dict[str, Any]:
    """Child process: the embedder alone on exactly the texts our ingest embeds (same
    chunks, same order, same batches), and nothing else."""
    from ingest.scan import Scan
    from ingest.shard import WHOLE
    from rag.embeddings import build_embeddings

    settings = bench_settings(embedder)
    scan = Scan({}, WHOLE, 200 * 2**20, settings.chunk_max_chars)
    texts = [c.embed_text for _, chunks in scan.todo([data]) for c in chunks]
    embeddings = build_embeddings(embedder, settings.embed_batch_size)
    started, cpu = time.perf_counter(), _cpu_s()
    embeddings.embed_documents(texts)
    seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    size, unit = _size(embeddings, texts)
    return {
        "side": "embedder alone", "embedder": embedder, "readouts": len(scan.read),
        "chunks": len(texts), "first_ingest_s": round(seconds, 1),
        "first_ingest_cpu_s": round(cpu, 1), "chunks_per_s": round(len(texts) / seconds, 1),
        "embedded": size, "unit": unit, "peak_rss_mb": _peak_rss_mb(),
    }


def run_ours(embedder: str, data: Path, workers: int) -> dict[str, Any]:
    """Child process: first ingest into a fresh store, then the unchanged re-ingest."""
    from ingest.pipeline import default_embeddings_factory, ingest_parallel, ingest_paths
    from rag.assistant import build_assistant, open_store

    store_dir = OUT / f"ingest-bench-{embedder}"
    shutil.rmtree(store_dir, ignore_errors=True)
    settings = bench_settings(embedder, store_dir)
    store = open_store(settings)
    options: dict[str, Any] = {"max_bytes": 200 * 2**20, "max_chars": settings.chunk_max_chars}

    def ingest() -> Any:
        if workers > 1:
            factory = default_embeddings_factory(settings.embedder, settings.embed_batch_size)
            return ingest_parallel(store, [data], workers=workers, make_embeddings=factory,
                                   **options)
        return ingest_paths(store, [data], **options)

    started, cpu = time.perf_counter(), _cpu_s()
    first = ingest()
    first_s, first_cpu = time.perf_counter() - started, _cpu_s() - cpu
    lexical_started = time.perf_counter()
    build_assistant(settings, store).lexical.sync()
    lexical_s = time.perf_counter() - lexical_started
    started = time.perf_counter()
    again = ingest()
    again_s = time.perf_counter() - started
    return {
        "side": "readouts", "embedder": embedder, "workers": workers,
        "readouts": len(first.added), "failed": len(first.failed),
        "chunks": first.chunks_embedded, "first_ingest_s": round(first_s, 1),
        "first_ingest_cpu_s": round(first_cpu, 1),
        "lexical_index_s": round(lexical_s, 1),
        "with_lexical_s": round(first_s + lexical_s, 1),
        "chunks_per_s": round(first.chunks_embedded / first_s, 1),
        "reingest_s": round(again_s, 2), "reingest_unchanged": len(again.unchanged),
        "reingest_share": round(again_s / first_s, 4), "peak_rss_mb": _peak_rss_mb(),
    }


def run_baseline(embedder: str, data: Path, chunk_chars: int) -> dict[str, Any]:
    """Child process: RecursiveCharacterTextSplitter + the embedder + Chroma.from_documents."""
    import chromadb
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from rag.embeddings import build_embeddings

    store_dir = OUT / f"ingest-baseline-{embedder}"
    shutil.rmtree(store_dir, ignore_errors=True)
    embeddings = build_embeddings(embedder)
    started, cpu = time.perf_counter(), _cpu_s()
    docs = [
        Document(page_content=r["text"], metadata={k: r.get(k) or "" for k in (
            "id", "title", "date", "language", "source", "url")})
        for r in (json.loads(line) for line in data.open(encoding="utf-8"))
    ]
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=70)
    chunks = splitter.split_documents(docs)
    client = chromadb.PersistentClient(
        path=str(store_dir), settings=chromadb.config.Settings(anonymized_telemetry=False)
    )
    Chroma.from_documents(chunks, embeddings, client=client, collection_name="baseline",
                          collection_metadata={"hnsw:space": "cosine"})
    seconds, cpu = time.perf_counter() - started, _cpu_s() - cpu
    size, unit = _size(embeddings, [c.page_content for c in chunks])
    return {
        "side": "langchain baseline", "embedded": size, "unit": unit, "embedder": embedder,
        "readouts": len(docs),
        "chunks": len(chunks), "first_ingest_s": round(seconds, 1),
        "first_ingest_cpu_s": round(cpu, 1),
        "chunks_per_s": round(len(chunks) / seconds, 1), "peak_rss_mb": _peak_rss_mb(),
    }


SELF = Path(__file__).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--limit", type=int, default=0, help="first N readouts (0: all)")
    parser.add_argument("--workers", type=int, default=1, help="ingest worker processes")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain run")
    parser.add_argument("--side", choices=["embedder", "ours", "baseline"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "ours":
        print(json.dumps(run_ours(args.embedder, args.data, args.workers)))
        return
    if args.side == "embedder":
        print(json.dumps(run_embedder(args.embedder, args.data)))
        return
    if args.side == "baseline":
        chunk_chars = bench_settings(args.embedder).chunk_max_chars
        print(json.dumps(run_baseline(args.embedder, args.data, chunk_chars)))
        return

    data = corpus_slice(args.limit, "ingest")
    common = ["--embedder", args.embedder, "--data", str(data)]
    alone = run_child(SELF, "--side", "embedder", *common)
    print(json.dumps(alone), flush=True)
    ours = run_child(SELF, "--side", "ours", "--workers", str(args.workers), *common)
    ours.update(embedded=alone["embedded"], unit=alone["unit"])  # the same texts
    print(json.dumps(ours), flush=True)
    results = [alone, ours]
    if not args.no_baseline:
        results.append(run_child(SELF, "--side", "baseline", *common))
        print(json.dumps(results[-1]), flush=True)
    load = round(os.getloadavg()[0], 2)
    overhead = {
        "wall": round(ours["first_ingest_s"] / alone["first_ingest_s"], 3),
        "cpu": round(ours["first_ingest_cpu_s"] / alone["first_ingest_cpu_s"], 3),
        "wall_with_lexical_index": round(ours["with_lexical_s"] / alone["first_ingest_s"], 3),
    }
    out = OUT / f"ingest-{args.embedder}-{args.limit or 'all'}-w{args.workers}.json"
    out.write_text(json.dumps({"load_1m_at_end": load, "overhead": overhead,
                               "results": results}, indent=2))
    unit = alone["unit"]
    print(f"\n{'side':20} {'readouts':>8} {'chunks':>7} {'first s':>8} {'CPU s':>7} "
          f"{'chunks/s':>9} {'k' + unit:>8} {'s/k' + unit:>9} {'re-ingest s':>11} "
          f"{'peak RSS MB':>11}")
    for r in results:
        per_k = r["first_ingest_s"] / (r["embedded"] / 1000)
        print(f"{r['side']:20} {r['readouts']:>8} {r['chunks']:>7} {r['first_ingest_s']:>8} "
              f"{r['first_ingest_cpu_s']:>7} {r['chunks_per_s']:>9} "
              f"{r['embedded'] / 1000:>8.1f} {per_k:>9.3f} "
              f"{r.get('reingest_s', '-'):>11} {r['peak_rss_mb']:>11}")
    print(f"\ningest / embedder alone on the same texts: wall {overhead['wall']}x, CPU "
          f"{overhead['cpu']}x; with the lexical index build {overhead['wall_with_lexical_index']}x"
          f" (goal: at most 1.10x)")
    print(f"(1-minute load average at the end: {load}; results in {out})")


if __name__ == "__main__":
    main()
