"""Retrieval and answer quality on the development set, hybrid against dense and BM25 alone.

Usage: python bench/eval.py [--embedder e5-small] [--k 5] [--verbose] [--questions FILE]
Ingests ../shared/corpus into bench/out/store-<embedder> first (incremental).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from common import DEVSET, OUT, bench_settings, devset, ensure_ingested

from rag.assistant import build_assistant
from rag.schema import Filters


def gold_spans(question: dict, texts: dict[str, str]) -> list[tuple[str, int, int]]:
    """(doc_id, start, end) of each gold sentence in its readout."""
    spans = []
    for gold in question["gold"]:
        text = texts[gold["doc_id"]]
        start = text.find(gold["sentence"])
        spans.append((gold["doc_id"], start, start + len(gold["sentence"])))
    return spans


def overlaps(doc_id: str, start: int, end: int, spans: list[tuple[str, int, int]]) -> bool:
    """True when [start, end) of doc_id covers at least half of a gold sentence."""
    for gold_doc, gs, ge in spans:
        if gold_doc == doc_id and min(end, ge) - max(start, gs) >= 0.5 * (ge - gs):
            return True
    return False


def filters_of(question: dict) -> Filters:
    f = question.get("filters") or {}
    langs = f.get("language") or f.get("languages") or ()
    return Filters(since=f.get("since"), until=f.get("until"),
                   languages=(langs,) if isinstance(langs, str) else tuple(langs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--questions", type=Path, default=DEVSET,
                        help="question set (default bench/devset.jsonl; bench/heldout.jsonl "
                             "was written blind, to check that the figures carry over)")
    args = parser.parse_args()

    settings = bench_settings(args.embedder)
    ensure_ingested(settings)
    assistant = build_assistant(settings)
    questions = devset(args.questions)
    texts: dict[str, str] = {}
    for q in questions:
        for g in q["gold"]:
            if g["doc_id"] not in texts:
                readout = assistant.store.get_readout(g["doc_id"])
                texts[g["doc_id"]] = readout.text if readout else ""

    hits: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    answers = defaultdict(list)
    misses = []
    for q in questions:
        spans = gold_spans(q, texts)
        groups = ["all", "cross-lingual" if q["cross_lingual"] else "same-language"]
        for mode in ("hybrid", "dense", "lexical"):
            if not q["answerable"]:
                continue
            got = assistant.retriever.retrieve(q["question"], filters_of(q), args.k, mode=mode)
            hit = any(overlaps(p.doc_id, p.start, p.end, spans) for p in got.passages[: args.k])
            for g in groups:
                hits[mode][g].append(hit)
            if mode == "hybrid" and not hit:
                misses.append((q["id"], q["question"], [p.doc_id for p in got.passages]))
        answer = assistant.ask(q["question"], filters_of(q), args.k)
        exact = True
        for c in answer.citations:
            full = assistant.store.get_readout(c.doc_id)
            exact &= bool(full) and full.text[c.start : c.end] == c.quote
        record = {
            "id": q["id"], "answerable": q["answerable"], "answered": answer.answered,
            "cross": q["cross_lingual"], "exact": exact,
            "cit_doc": [c.doc_id in {g["doc_id"] for g in q["gold"]} for c in answer.citations],
            "cit_gold": [overlaps(c.doc_id, c.start, c.end, spans) for c in answer.citations],
        }
        answers["all"].append(record)
        if args.verbose and (answer.answered != q["answerable"]):
            print(f"  {q['id']} answerable={q['answerable']} answered={answer.answered}: "
                  f"{q['question']}\n     -> {answer.text[:160]}")

    report: dict[str, dict] = {"retrieval_hit@k": {}, "answers": {}}
    print(f"\nhit@{args.k} (a top-{args.k} passage holds a gold sentence), answerable questions")
    print(f"{'mode':8} {'all':>14} {'same-language':>14} {'cross-lingual':>14}")
    for mode, groups in hits.items():
        row = {g: sum(v) / len(v) for g, v in groups.items()}
        report["retrieval_hit@k"][mode] = {g: round(x, 3) for g, x in row.items()}
        print(f"{mode:8} " + " ".join(
            f"{row.get(g, float('nan')):>8.3f} ({len(groups.get(g, []))})"
            for g in ("all", "same-language", "cross-lingual")))

    recs = answers["all"]
    answerable = [r for r in recs if r["answerable"]]
    unanswerable = [r for r in recs if not r["answerable"]]
    cited = [c for r in answerable if r["answered"] for c in r["cit_doc"]]
    cited_gold = [c for r in answerable if r["answered"] for c in r["cit_gold"]]
    answered_ok = [r for r in answerable if r["answered"]]
    metrics = {
        "citation_precision_doc": sum(cited) / max(1, len(cited)),
        "citation_precision_sentence": sum(cited_gold) / max(1, len(cited_gold)),
        "answers_with_a_gold_citation": sum(any(r["cit_gold"]) for r in answered_ok)
        / max(1, len(answered_ok)),
        "exact_spans": sum(r["exact"] for r in recs) / len(recs),
        "refusal_rate_unanswerable": sum(not r["answered"] for r in unanswerable)
        / max(1, len(unanswerable)),
        "false_refusals": sum(not r["answered"] for r in answerable) / max(1, len(answerable)),
        "questions": len(recs),
    }
    report["answers"] = {k: round(v, 3) for k, v in metrics.items()}
    print("\nanswers (extractive):")
    for k, v in report["answers"].items():
        print(f"  {k:32} {v}")
    if args.verbose:
        print("\nhybrid misses:")
        for qid, text, docs in misses:
            print(f"  {qid} {text}\n     got {docs}")
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.questions == DEVSET else f"-{args.questions.stem}"
    slug = settings.embedder.replace(":", "-").replace("/", "-")
    (OUT / f"eval-{slug}{suffix}.json").write_text(
        json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
