"""Latency of the extractive answer with models loaded, over the development questions.

Usage: python bench/latency.py [--embedder e5-small] [--rounds 3]
Reports start-up (store + models + lexical index) and per-question p50/p95/max, split into
retrieval and answering.
"""

from __future__ import annotations

import argparse
import time

from common import bench_settings, devset, ensure_ingested, percentile

from rag.assistant import build_assistant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    settings = bench_settings(args.embedder)
    ensure_ingested(settings)
    started = time.perf_counter()
    assistant = build_assistant(settings)
    assistant.lexical.sync()
    assistant.ask("warm-up question about Taiwan")
    startup = time.perf_counter() - started

    total, retrieval, answering = [], [], []
    for _ in range(args.rounds):
        for q in devset():
            t0 = time.perf_counter()
            got = assistant.retrieve(q["question"])
            t1 = time.perf_counter()
            assistant.answerer.answer(q["question"], got)
            t2 = time.perf_counter()
            retrieval.append(t1 - t0)
            answering.append(t2 - t1)
            total.append(t2 - t0)
    print(f"store: {assistant.store.count()} readouts, embedder {settings.embedder}")
    print(f"start-up incl. first answer: {startup * 1000:.0f} ms")
    for name, values in (("total", total), ("retrieve", retrieval), ("answer", answering)):
        print(f"{name:9} p50 {percentile(values, 50) * 1000:6.1f} ms   "
              f"p95 {percentile(values, 95) * 1000:6.1f} ms   max {max(values) * 1000:6.1f} ms"
              f"   (n={len(values)})")


if __name__ == "__main__":
    main()
