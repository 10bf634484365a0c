"""Sentence alignment on hand-labelled pairs, its fitted model, and its speed.

Each labelled pair lists, by sentence index (``rag.align.sentences``), the sentences of the
two readouts that say the same thing; every other sentence is one-sided. Figures: alignment
precision and recall (over matched sentence pairs) and the share of one-sided sentences found
one-sided; targets 0.85, 0.8 and 0.8.

``--fit`` fits the logistic model of ``rag.align`` on bench/align-labelled.jsonl and writes
``rag/align_model.json``. The threshold is the one that best meets the three targets (the
worst of the three ratios to its target) on probabilities each pair gets from a model fitted
without it. It first measures the recipe honestly: each labelled pair is aligned by a model
and a threshold fitted on the other pairs only (leave one pair out, the threshold itself
chosen by leave-one-out inside them). The held-out pairs (bench/align-heldout.jsonl) are
never fitted on: without ``--fit`` the script scores the packaged model on any label file and
times whole compares (sentences embedded at compare time, model loaded), in seconds and in
CPU seconds (which other processes on the machine do not inflate), with the load average.
Run: ``python bench/align.py [--fit] [--labels bench/align-heldout.jsonl]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import ROOT, corpus_files, percentile
from logistic import best_threshold, fit_logistic, probabilities, provenance

from ingest.loaders import load_file
from rag.align import FEATURES, MODEL_PATH, align, feature_values, grid, sentences
from rag.compare import compare
from rag.embeddings import build_embeddings
from rag.fitted import Logistic
from rag.schema import Readout

LABELS = ROOT / "bench" / "align-labelled.jsonl"
HELDOUT = ROOT / "bench" / "align-heldout.jsonl"
TARGETS = {"precision": 0.85, "recall": 0.8, "one_sided_recall": 0.8}
Case = tuple[dict[str, Any], np.ndarray]  # a label and its (len(a), len(b), features) values


def counts(label: dict[str, Any], found: set[tuple[int, int]]) -> np.ndarray:
    """[true matches, predicted, gold matches, gold one-sided, of them found one-sided]."""
    gold = {tuple(m) for m in label["matches"]}
    one_gold = one_found = 0
    for side, size in ((0, label["sentences_a"]), (1, label["sentences_b"])):
        alone_gold = set(range(size)) - {m[side] for m in gold}
        one_gold += len(alone_gold)
        one_found += len(alone_gold - {m[side] for m in found})
    return np.array([len(gold & found), len(found), len(gold), one_gold, one_found])


def figures(total: np.ndarray) -> dict[str, float]:
    tp, predicted, gold, one_gold, one_found = (int(x) for x in total)
    return {"precision": round(tp / predicted, 3) if predicted else 1.0,
            "recall": round(tp / gold, 3),
            "one_sided_recall": round(one_found / one_gold, 3) if one_gold else 1.0,
            "matched": predicted, "gold_matches": gold, "gold_one_sided": one_gold}


def worst_ratio(total: np.ndarray) -> float:
    """How far the figures are from their targets: the worst of the three ratios."""
    f = figures(total)
    return min(f[name] / target for name, target in TARGETS.items())


def xy(cases: list[Case]) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and gold labels of every candidate pair of ``cases``."""
    rows, gold = [], []
    for label, values in cases:
        matches = {tuple(m) for m in label["matches"]}
        rows.append(values.reshape(-1, values.shape[-1]))
        gold += [(i, j) in matches for i in range(values.shape[0])
                 for j in range(values.shape[1])]
    return np.concatenate(rows), np.array(gold)


def found(prob: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in np.argwhere(prob >= threshold)}


def held_out_probabilities(cases: list[Case]) -> list[np.ndarray]:
    """Each case's probabilities from a model fitted on the other cases."""
    out = []
    for k, (_, values) in enumerate(cases):
        weights, intercept = fit_logistic(*xy(cases[:k] + cases[k + 1:]))
        out.append(probabilities(weights, intercept, values))
    return out


def choose_threshold(cases: list[Case], probs: list[np.ndarray]) -> float:
    """The threshold whose alignments of ``cases`` best meet the targets."""
    def objective(t: float) -> float:
        return worst_ratio(sum((counts(label, found(p, t)) for (label, _), p
                                in zip(cases, probs, strict=True)), np.zeros(5)))
    return best_threshold(np.concatenate([p.ravel() for p in probs]), objective)


def fit(cases: list[Case], heldout: list[Case], embedder: str) -> None:
    """Leave-one-pair-out figures of the recipe, then the model on all labelled pairs."""
    cv = np.zeros(5)
    for k, (label, values) in enumerate(cases):
        rest = cases[:k] + cases[k + 1:]
        threshold = choose_threshold(rest, held_out_probabilities(rest))
        weights, intercept = fit_logistic(*xy(rest))
        got = counts(label, found(probabilities(weights, intercept, values), threshold))
        print(f"  left out {label['a'][:30]} | {label['b'][:30]}: threshold {threshold}, "
              f"{json.dumps(figures(got))}")
        cv += got
    print("leave one pair out:", json.dumps(figures(cv)))
    threshold = choose_threshold(cases, held_out_probabilities(cases))
    weights, intercept = fit_logistic(*xy(cases))
    held = sum((counts(label, found(probabilities(weights, intercept, values), threshold))
                for label, values in heldout), np.zeros(5))
    print("held-out pairs, model fitted on all labelled pairs:", json.dumps(figures(held)))
    model = Logistic({name: round(weights[i], 6) for i, name in enumerate(FEATURES)},
                     round(intercept, 6), threshold, provenance(
                         [LABELS.name], pairs=len(cases), embedder=embedder,
                         objective="worst of precision/0.85, recall/0.8, one-sided/0.8",
                         leave_one_pair_out=figures(cv), heldout=figures(held)))
    model.save(MODEL_PATH)
    print(f"wrote {MODEL_PATH.relative_to(ROOT)}: threshold {threshold}")


def load_labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--fit", action="store_true", help="fit rag/align_model.json")
    parser.add_argument("--labels", type=Path, default=LABELS,
                        help="labelled pairs to score (bench/align-heldout.jsonl: held out)")
    args = parser.parse_args()
    labels = load_labels(args.labels)
    heldout = load_labels(HELDOUT) if args.fit else []
    wanted = {x for label in labels + heldout for x in (label["a"], label["b"])}
    readouts: dict[str, Readout] = {r.doc_id: r for path in corpus_files()
                                    for r in load_file(path, 50 * 2**20).readouts
                                    if r.doc_id in wanted}
    embeddings = build_embeddings(args.embedder)
    embeddings.embed_documents(["warm-up"])
    if args.fit:
        def case(label: dict[str, Any]) -> Case:
            sa, sb = sentences(readouts[label["a"]]), sentences(readouts[label["b"]])
            assert (len(sa), len(sb)) == (label["sentences_a"], label["sentences_b"])
            return label, feature_values(grid(sa, sb, embeddings))
        fit([case(x) for x in labels], [case(x) for x in heldout], args.embedder)
        return
    seconds, cpu, total = [], [], np.zeros(5)
    for label in labels:
        a, b = readouts[label["a"]], readouts[label["b"]]
        started, cpu_started = time.perf_counter(), time.process_time()
        comparison = compare(align(a, b, embeddings))
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        al = comparison.alignment
        sizes = (len(al.sentences_a), len(al.sentences_b))
        assert sizes == (label["sentences_a"], label["sentences_b"]), label["a"]
        got = counts(label, {(m.a.index, m.b.index) for m in al.matches})
        total += got
        print(f"{a.doc_id[:36]} | {b.doc_id[:36]}: {sizes[0]}+{sizes[1]} sentences, "
              f"{seconds[-1]:.2f}s ({cpu[-1]:.2f}s of CPU), {json.dumps(figures(got))}")
    started = time.perf_counter()  # the same two readouts again: their sentences are known
    compare(align(readouts[labels[0]["a"]], readouts[labels[0]["b"]], embeddings))
    again = time.perf_counter() - started
    print(json.dumps({"pairs": len(labels), "labels": args.labels.name, **figures(total),
                      "compare_s_p50": round(percentile(seconds, 50), 2),
                      "compare_s_max": round(max(seconds), 2), "compare_again_s": round(again, 3),
                      "compare_cpu_s_p50": round(percentile(cpu, 50), 2),
                      "compare_cpu_s_max": round(max(cpu), 2), "load": os.getloadavg()[0],
                      "embedder": args.embedder}))


if __name__ == "__main__":
    main()
