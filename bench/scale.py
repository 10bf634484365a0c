"""Scale: derive up to 100,000 readouts from the shared corpus, ingest them, and measure.

Usage: python bench/scale.py [--sizes 1400 10000 100000] [--embedder use-m3] [--workers 1]
                             [--rounds 2] [--fake-dims N] [--answer-only | --change-only]

The store grows size by size in bench/out/scale-<embedder>/ (each size only adds readouts).
For each size, a child process ingests (time, chunks/s, peak RSS, lexical index build) and a
fresh child process plays the app (start-up: build_assistant + first question; then the
extractive latency p50/p95 of the development questions, per stage, and peak RSS). Results
go to bench/out/scale-<embedder>.json. Derived readouts keep the corpus's languages and
lengths but vary names, dates and sentences, so none is a duplicate. Between the two, a
third child times how one changed, removed and re-added readout reaches the lexical index
(``phase_change``: the ``sync`` after each, and BM25 search p50/p95 before and after).

``--fake-dims N`` ingests with a deterministic N-dimension stand-in for the model (512: the
dimension of use-m3), to measure what the pipeline and Chroma hold at sizes whose real
embedding would take hours here; the answer phase is then skipped. The ingest peak RSS is
read before the lexical index is built (``ingest_peak_rss_mb``), and again after it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import OUT, bench_settings, corpus_files, devset, percentile, run_child

from rag.config import Settings
from rag.embeddings import ReadoutEmbeddings

DATA = OUT / "scale-data"
PART = 10_000  # derived readouts per file, so that each size adds whole files
SURNAMES = (
    "Aldana Brenner Castell Delacroix Eriksen Falk Galdós Halvorsen Ibarra Jovanić Kessler "
    "Lindqvist Moravec Nørgaard Okafor Petrakis Quintero Rasmussen Szabó Tamura Urquiza "
    "Valdés Weiland Xandri Yilmaz Zoltan"
).split()
ZH_NAMES = "林振华 周文斌 郑海涛 何国平 罗志强 高建新 谢明远 韩立群".split()
ZH_LEADERS = "习近平 李强 王毅 李克强 拜登 普京 马克龙 朔尔茨".split()
FILLERS = {
    "en": "Both sides agreed to hold the {n}th round of consultations in {city} next year.",
    "fr": "Les deux parties sont convenues de tenir à {city} le {n}e cycle de consultations.",
    "zh": "双方同意明年在{city}举行第{n}轮磋商。",
}
CITIES = "Geneva Vienna Nairobi Lima Hanoi Oslo Doha Tbilisi Dakar Almaty Quito Riga".split()
_CAPITAL = re.compile(r"(?<=[a-z,;] )([A-Z][a-zà-ÿ]{3,})\b")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")


def _vary_names(text: str, rng: random.Random) -> str:
    """Swap the most frequent capitalised names (not sentence starts) for invented ones."""
    counts: dict[str, int] = {}
    for name in _CAPITAL.findall(text):
        counts[name] = counts.get(name, 0) + 1
    top = sorted(counts, key=lambda n: (-counts[n], n))[:4]
    mapping = {name: rng.choice(SURNAMES) for name in top}
    for leader in ZH_LEADERS:
        mapping.setdefault(leader, rng.choice(ZH_NAMES))
    if not mapping:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in sorted(mapping, key=len, reverse=True)))
    return pattern.sub(lambda m: mapping[m.group(0)], text)


def _vary_sentences(text: str, rng: random.Random, language: str) -> str:
    """Shuffle the sentences of later paragraphs, drop one, add a filler sentence."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    out = paragraphs[:1]
    for paragraph in paragraphs[1:]:
        sentences = [s for s in _SENTENCE.split(paragraph) if s.strip()]
        rng.shuffle(sentences)
        if len(sentences) >= 3:
            sentences.pop(rng.randrange(len(sentences)))
        out.append(("" if language == "zh" else " ").join(sentences))
    filler = FILLERS.get(language, FILLERS["en"])
    out.append(filler.format(n=rng.randint(2, 40), city=rng.choice(CITIES)))
    return "\n\n".join(out)


def derive(record: dict[str, Any], variant: int) -> dict[str, Any]:
    """Variant ``variant`` (>= 1) of a corpus record: other names, date and sentences."""
    rng = random.Random(f"{record['id']}/{variant}")
    shift = rng.randint(-1500, 1500)
    date = record.get("date")
    if date:
        date = (dt.date.fromisoformat(date) + dt.timedelta(days=shift)).isoformat()
    years = shift // 365
    language = record.get("language") or "en"
    text = _YEAR.sub(lambda m: str(int(m.group(0)) + years), record["text"])
    text = _vary_sentences(_vary_names(text, rng), rng, language)
    return {**record, "id": f"{record['id']}-v{variant}", "date": date,
            "title": _vary_names(record.get("title") or "", rng), "text": text}


def corpus() -> list[dict[str, Any]]:
    """The shared corpus records, in a fixed order."""
    records = []
    for path in corpus_files():
        records += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return records


def data_files(size: int) -> list[Path]:
    """Files holding the first ``size`` readouts (originals first, then variants)."""
    base = corpus()
    DATA.mkdir(parents=True, exist_ok=True)
    files = []
    for start in range(0, size, PART):
        end = min(start + PART, size)
        path = DATA / f"readouts-{start:06d}-{end:06d}.jsonl"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            with tmp.open("w", encoding="utf-8") as out:
                for i in range(start, end):
                    record = base[i % len(base)]
                    variant = i // len(base)
                    row = derive(record, variant) if variant else record
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
            tmp.rename(path)
        files.append(path)
    return files


def _peak_mb() -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_rss_workers_mb": round(children, 1)}


def _disk_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


def scale_settings(embedder: str, store: Path | None) -> Settings:
    """Bench settings on the scale store. The refusal threshold is off: it is calibrated for
    e5, and every question should run the whole extractive path (the slowest)."""
    settings = bench_settings(embedder, store or OUT / f"scale-{embedder}")
    return settings.model_copy(update={"refusal_threshold": -1.0})


class StandInEmbeddings(ReadoutEmbeddings):
    """A fast deterministic embedder of a given dimension (``--fake-dims``): a unit vector
    seeded by the text's hash, so memory and Chroma costs are a model's without its time."""

    batch_size = 64

    def __init__(self, dims: int) -> None:
        self.dims = dims
        self.key = f"stand-in-{dims}"

    def _embed_passages(self, texts: list[str]) -> Any:
        seeds = [int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "big")
                 for t in texts]
        return np.stack([np.random.default_rng(seed).standard_normal(self.dims, np.float32)
                         for seed in seeds])


def phase_ingest(size: int, embedder: str, workers: int, store_dir: Path | None,
                 fake_dims: int = 0) -> dict[str, Any]:
    """Child process: bring the scale store up to ``size`` readouts."""
    from ingest.pipeline import default_embeddings_factory, ingest_parallel, ingest_paths
    from rag.assistant import build_assistant, open_store
    from rag.store import ReadoutStore

    if fake_dims:
        store_dir = store_dir or OUT / f"scale-stand-in-{fake_dims}"
    settings = scale_settings(embedder, store_dir)
    files = data_files(size)
    store = (ReadoutStore(settings, StandInEmbeddings(fake_dims)) if fake_dims
             else open_store(settings))
    options: dict[str, Any] = {"max_bytes": 200 * 2**20, "max_chars": settings.chunk_max_chars}
    started = time.perf_counter()
    with store.exclusive():
        if workers > 1:
            factory = default_embeddings_factory(settings.embedder, settings.embed_batch_size)
            report = ingest_parallel(store, files, workers=workers, make_embeddings=factory,
                                     **options)
        else:
            report = ingest_paths(store, files, **options)
    seconds = time.perf_counter() - started
    ingest_peak = _peak_mb()["peak_rss_mb"]
    lexical_started = time.perf_counter()
    build_assistant(settings, store).lexical.sync()
    return {
        "ingest_peak_rss_mb": ingest_peak, "stand_in_dims": fake_dims,
        "size": size, "embedder": embedder, "workers": workers,
        "ingest_s": round(seconds, 1), "added": len(report.added),
        "unchanged": len(report.unchanged), "failed": len(report.failed),
        "chunks_embedded": report.chunks_embedded,
        "chunks_per_s": round(report.chunks_embedded / seconds, 1) if seconds else 0.0,
        "lexical_build_s": round(time.perf_counter() - lexical_started, 1),
        "store_mb": _disk_mb(settings.store_dir), "loadavg_1m": round(os.getloadavg()[0], 2),
        **_peak_mb(),
    }


def phase_change(size: int, embedder: str, store_dir: Path | None, fake_dims: int = 0
                 ) -> dict[str, Any]:
    """Child process: how long one changed, removed and added readout take to reach BM25.

    A first index (the full build, or the saved one caught up) is made; then, one at a time,
    a readout is rewritten with a word no other holds, removed, and written back, and the
    time of the ``sync`` that follows each is taken, with a check that a search sees it.
    Lexical search latency is timed on the development questions before and after."""
    from dataclasses import replace as changed

    from ingest.chunking import chunk_readout
    from rag.assistant import open_store
    from rag.lexical import LexicalIndex
    from rag.schema import Filters
    from rag.store import ReadoutStore

    if fake_dims:
        store_dir = store_dir or OUT / f"scale-stand-in-{fake_dims}"
    settings = scale_settings(embedder, store_dir)
    store = (ReadoutStore(settings, StandInEmbeddings(fake_dims)) if fake_dims
             else open_store(settings))
    lexical = LexicalIndex(store, settings.store_dir)
    started = time.perf_counter()
    lexical.sync()
    first_s = time.perf_counter() - started
    rows = len(lexical.chunk_ids)
    questions = [q["question"] for q in devset()]

    def search_ms() -> dict[str, float]:
        times = []
        for q in questions:
            t0 = time.perf_counter()
            lexical.search(q, 40, Filters())
            times.append(time.perf_counter() - t0)
        return {"p50": round(percentile(times, 50) * 1000, 2),
                "p95": round(percentile(times, 95) * 1000, 2)}

    before = search_ms()
    ids = sorted(store.committed_hashes())
    doc_id = ids[len(ids) // 2]
    original = store.get_readout(doc_id)
    assert original is not None
    marker = "Zanzibarquintet"
    steps: dict[str, float] = {}
    edited = changed(original, text=original.text + f" {marker} accord.")
    for step, action, expect in (
        ("changed", lambda: store.write_readout(
            edited, chunk_readout(edited, settings.chunk_max_chars)), True),
        ("removed", lambda: store.remove(doc_id), False),
        ("added", lambda: store.write_readout(
            original, chunk_readout(original, settings.chunk_max_chars)), False),
    ):
        with store.exclusive():
            action()
        t0 = time.perf_counter()
        lexical.sync()
        steps[f"{step}_s"] = round(time.perf_counter() - t0, 3)
        hits = lexical.search(marker, 5, Filters())
        assert bool(hits) == expect, (step, hits)
    return {
        "size": size, "chunks": rows, "first_sync_s": round(first_s, 1), **steps,
        "search_before_ms": before, "search_after_ms": search_ms(),
        "loadavg_1m": round(os.getloadavg()[0], 2), **_peak_mb(),
    }


class _Stages:
    """Wall time per retrieval stage, by wrapping the assistant's collaborators."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner: Callable[..., Any] = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.times.setdefault(label, []).append(time.perf_counter() - started)

        setattr(owner, name, timed)


def _filters(question: dict[str, Any]) -> Any:
    from rag.schema import Filters

    f = question.get("filters") or {}
    langs = f.get("language") or f.get("languages") or ()
    return Filters(since=f.get("since"), until=f.get("until"),
                   languages=(langs,) if isinstance(langs, str) else tuple(langs))


def phase_answer(size: int, embedder: str, rounds: int, store_dir: Path | None) -> dict[str, Any]:
    """Child process: start like the app, then time the development questions."""
    from rag.assistant import build_assistant

    settings = scale_settings(embedder, store_dir)
    questions = devset()
    started = time.perf_counter()
    assistant = build_assistant(settings)
    first = assistant.ask(questions[0]["question"], _filters(questions[0]))
    startup = time.perf_counter() - started
    stages = _Stages()
    stages.wrap(assistant.store.embeddings, "embed_query", "embed_query")
    stages.wrap(assistant.store, "dense_search", "dense")
    stages.wrap(assistant.store, "dense_vectors_many", "dense")
    stages.wrap(assistant.lexical, "search", "lexical")
    stages.wrap(assistant.store, "passage_vectors", "fetch")
    stages.wrap(assistant.store, "generation", "generation")
    stages.wrap(assistant.answerer, "answer", "answer")
    totals = []
    answered = 0
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            answer = assistant.ask(q["question"], _filters(q))
            totals.append(time.perf_counter() - t0)
            answered += answer.answered
    ms = {
        name: {"p50": round(percentile(v, 50) * 1000, 1), "p95": round(percentile(v, 95) * 1000, 1)}
        for name, v in stages.times.items()
    }
    return {
        "size": size, "startup_s": round(startup, 2), "first_answered": first.answered,
        "questions": len(totals), "answered": answered,
        "p50_ms": round(percentile(totals, 50) * 1000, 1),
        "p95_ms": round(percentile(totals, 95) * 1000, 1),
        "max_ms": round(max(totals) * 1000, 1), "stages_ms": ms,
        "loadavg_1m": round(os.getloadavg()[0], 2), **_peak_mb(),
    }


SELF = Path(__file__).resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1400, 10_000, 100_000])
    parser.add_argument("--embedder", default="use-m3")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the questions")
    parser.add_argument("--store", type=lambda v: Path(v).resolve(),
                        help="the store (default bench/out/scale-EMB)")
    parser.add_argument("--answer-only", action="store_true",
                        help="measure answering on the store as it is (e.g. a snapshot)")
    parser.add_argument("--change-only", action="store_true",
                        help="only time how one changed readout reaches BM25, on the store")
    parser.add_argument("--fake-dims", type=int, default=0,
                        help="ingest with a stand-in embedder of this dimension; no answers")
    parser.add_argument("--phase", choices=["ingest", "change", "answer"],
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "ingest":
        print(json.dumps(phase_ingest(args.sizes[0], args.embedder, args.workers, args.store,
                                      args.fake_dims)))
        return
    if args.phase == "change":
        print(json.dumps(phase_change(args.sizes[0], args.embedder, args.store,
                                      args.fake_dims)))
        return
    if args.phase == "answer":
        print(json.dumps(phase_answer(args.sizes[0], args.embedder, args.rounds, args.store)))
        return
    sizes = sorted(args.sizes)
    suffix = f"-{args.store.name}" if args.store else ""
    suffix += f"-stand-in-{args.fake_dims}" if args.fake_dims else ""
    result_path = OUT / f"scale-{args.embedder}{suffix}.json"
    results = json.loads(result_path.read_text()) if result_path.exists() else {}
    for size in sizes:
        common = ["--sizes", str(size), "--embedder", args.embedder]
        if args.store:
            common += ["--store", str(args.store)]
        entry = results.setdefault(str(size), {})
        if not (args.answer_only or args.change_only):
            entry["ingest"] = run_child(SELF, "--phase", "ingest", "--workers",
                                        str(args.workers), "--fake-dims", str(args.fake_dims),
                                        *common)
            print(json.dumps(entry["ingest"]), flush=True)
        if not args.answer_only:
            entry["change"] = run_child(SELF, "--phase", "change", "--fake-dims",
                                        str(args.fake_dims), *common)
            print(json.dumps(entry["change"]), flush=True)
        if args.fake_dims or args.change_only:
            result_path.write_text(json.dumps(results, indent=2))
            continue
        entry["answer"] = run_child(SELF, "--phase", "answer", "--rounds",
                                    str(args.rounds), *common)
        print(json.dumps(entry["answer"]), flush=True)
        result_path.write_text(json.dumps(results, indent=2))
    print(f"\n{'readouts':>9} {'ingest s':>9} {'chunks/s':>9} {'store MB':>9} {'RSS ingest':>10} "
          f"{'start s':>8} {'p50 ms':>7} {'p95 ms':>7} {'RSS answer':>10}")
    for size in sizes:
        i, a = results[str(size)].get("ingest", {}), results[str(size)].get("answer", {})
        print(f"{size:>9} {i.get('ingest_s', '-'):>9} {i.get('chunks_per_s', '-'):>9} "
              f"{i.get('store_mb', '-'):>9} {i.get('ingest_peak_rss_mb', '-'):>10} "
              f"{a.get('startup_s', '-'):>8} {a.get('p50_ms', '-'):>7} "
              f"{a.get('p95_ms', '-'):>7} {a.get('peak_rss_mb', '-'):>10}")


if __name__ == "__main__":
    main()
