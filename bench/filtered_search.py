"""Language-scoped dense search in format 2 (one vector per chunk, in its language's
``<prefix>-vectors-<code>``) against format 1's per-language copies (issue 15).

Usage: python bench/filtered_search.py OLD_STORE [--k 40] [--questions bench/devset.jsonl]

OLD_STORE is a store written in format 1 (it holds ``<prefix>-chunks`` and
``<prefix>-lang-<code>``); it is copied to a temporary folder and never changed. Each
question is searched in each language's format-1 collection, then the copy is opened by
today's ReadoutStore, which migrates it (timed; nothing is embedded again), and the same
questions are searched through the migrated store: Chroma's raw query of the language's own
collection, ``ReadoutStore.dense_vectors`` with a language filter (what retrieval calls, per
language), and ``dense_search`` without a filter (every language's collection, merged).
Prints recall@k against the exact top k (brute force over the language's vectors, or over
all of them for the unfiltered search), latencies (p50, p95), and on-disk sizes before and
after the migration and after ``chroma vacuum`` (SQLite keeps the pages that the dropped
rows freed), as JSON. The one-collection layout with ``where={"language": ...}`` measured
14.5 ms p50 at 5,079 chunks (docs/scale.md) and is gone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, bench_settings, devset, percentile


def _exact_top(by_language: dict[str, Any], lang: str, vector: list[float], k: int
               ) -> list[str]:
    """The true k nearest chunks of a language by cosine (brute force)."""
    ids, matrix = by_language[lang]
    query = np.asarray(vector, dtype=np.float64)
    scores = matrix @ (query / np.linalg.norm(query))
    return [ids[i] for i in np.argsort(-scores)[:k]]


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old_store", type=Path)
    parser.add_argument("--k", type=int, default=40)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--questions", type=Path, default=ROOT / "bench" / "devset.jsonl")
    args = parser.parse_args()

    import chromadb
    from chromadb.api.shared_system_client import SharedSystemClient

    from rag.embeddings import build_embeddings
    from rag.schema import Filters
    from rag.store import ReadoutStore
    from rag.store.schema import Names

    work = Path(tempfile.mkdtemp(prefix="filtered-search-"))
    store_dir = work / "store"
    shutil.copytree(args.old_store, store_dir)
    size_before = _du(store_dir)
    embeddings = build_embeddings(args.embedder)
    questions = [q["question"] for q in devset(args.questions)]
    vectors = [embeddings.embed_query(q) for q in questions]
    names = Names.of(embeddings.key)

    client = chromadb.PersistentClient(path=str(store_dir))
    langs = {n.removeprefix(f"{names.prefix}-lang-"): client.get_collection(n)
             for n in names.legacy_languages([c.name for c in client.list_collections()])}
    if not langs:
        sys.exit(f"{args.old_store} holds no format-1 language collections for {embeddings.key}")
    counts = {lang: c.count() for lang, c in langs.items()}
    client_vectors = {}  # language -> (ids, unit vectors), for the exact top k
    for lang, collection in langs.items():
        got = collection.get(include=["embeddings"])
        matrix = np.asarray(got["embeddings"], dtype=np.float64)
        client_vectors[lang] = (got["ids"], matrix / np.linalg.norm(matrix, axis=1)[:, None])
    old: dict[tuple[int, str], list[str]] = {}
    old_ms: list[float] = []
    for lang, collection in langs.items():
        collection.query(query_embeddings=[vectors[0]], n_results=1)  # load the index
        for i, vector in enumerate(vectors):
            started = time.perf_counter()
            got = collection.query(query_embeddings=[vector], n_results=args.k, include=[])
            old_ms.append((time.perf_counter() - started) * 1000)
            old[i, lang] = got["ids"][0]
    del client, langs
    SharedSystemClient.clear_system_cache()

    exact = {key: _exact_top(client_vectors, key[1], vectors[key[0]], args.k)
             for key in old}
    settings = bench_settings(args.embedder, store_dir)
    embedded = {"n": 0}
    embed_documents = embeddings.embed_documents

    def counted(texts: list[str]) -> list[list[float]]:
        embedded["n"] += len(texts)
        return embed_documents(texts)

    embeddings.embed_documents = counted  # type: ignore[method-assign]
    started = time.perf_counter()
    store = ReadoutStore(settings, embeddings)
    migrate_s = time.perf_counter() - started
    collections = store.vector_collections
    for collection in collections.values():
        collection.query(query_embeddings=[vectors[0]], n_results=1)  # load the index
    raw_ms: list[float] = []
    store_ms: list[float] = []
    new_old: list[float] = []
    new_exact: list[float] = []
    store_exact: list[float] = []
    old_exact: list[float] = []
    for (i, lang), expected in old.items():
        started = time.perf_counter()
        got = collections[lang].query(query_embeddings=[vectors[i]], n_results=args.k,
                                      include=[])
        raw_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        found = store.dense_vectors(vectors[i], args.k, Filters(languages=(lang,)))
        store_ms.append((time.perf_counter() - started) * 1000)
        if expected:
            truth = set(exact[i, lang])
            new_old.append(len(set(expected) & set(got["ids"][0])) / len(expected))
            old_exact.append(len(truth & set(expected)) / len(truth))
            new_exact.append(len(truth & set(got["ids"][0])) / len(truth))
            store_exact.append(len(truth & {p.chunk_id for p, _ in found}) / len(truth))
    everything = {"": (
        [cid for ids, _ in client_vectors.values() for cid in ids],
        np.vstack([matrix for _, matrix in client_vectors.values()]),
    )}
    all_ms: list[float] = []
    all_exact: list[float] = []
    for vector in vectors:
        started = time.perf_counter()
        found_all = store.dense_search(vector, args.k, Filters())
        all_ms.append((time.perf_counter() - started) * 1000)
        truth = set(_exact_top(everything, "", vector, args.k))
        all_exact.append(len(truth & {p.chunk_id for p in found_all}) / len(truth))
    size_after = _du(store_dir)
    chunks = {lang: c.count() for lang, c in collections.items()}
    del store, collections
    SharedSystemClient.clear_system_cache()
    vacuum = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))
    subprocess.run([vacuum, "vacuum", "--path", str(store_dir), "--force"], check=True,
                   capture_output=True)
    size_vacuumed = _du(store_dir)

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}

    result: dict[str, Any] = {
        "questions": len(questions), "k": args.k, "chunks_per_language_format_1": counts,
        "chunks_per_language": chunks, "chunks": sum(chunks.values()),
        "migration_s": round(migrate_s, 1), "embedded_during_migration": embedded["n"],
        "recall_at_k_format_1_vs_exact": round(float(np.mean(old_exact)), 4),
        "recall_at_k_language_collection_vs_exact": round(float(np.mean(new_exact)), 4),
        "recall_at_k_language_collection_vs_exact_min": round(float(np.min(new_exact)), 4),
        "recall_at_k_language_collection_vs_format_1": round(float(np.mean(new_old)), 4),
        "recall_at_k_store_vs_exact": round(float(np.mean(store_exact)), 4),
        "recall_at_k_store_vs_exact_min": round(float(np.min(store_exact)), 4),
        "recall_at_k_all_languages_vs_exact": round(float(np.mean(all_exact)), 4),
        "format_1_per_language_ms": stats(old_ms),
        "language_collection_ms": stats(raw_ms),
        "store_dense_vectors_one_language_ms": stats(store_ms),
        "store_dense_search_all_languages_ms": stats(all_ms),
        "size_before_mb": round(size_before / 2**20, 1),
        "size_after_migration_mb": round(size_after / 2**20, 1),
        "size_after_chroma_vacuum_mb": round(size_vacuumed / 2**20, 1),
    }
    print(json.dumps(result, indent=1))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
