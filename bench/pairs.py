"""Pair detection over the shared corpus, scored against bench/pairs-labelled.jsonl.

Loads the corpus files (no store needed), finds the pairs with ``rag.pairs`` and the
embedder, and prints precision, recall, and every miss and false pair.

``--fit`` fits the weights of ``rag.pairs.WEIGHTS`` (logistic regression over the named
features of every candidate) and first measures that recipe honestly: each group of
candidates that share readouts (one event and its neighbours) is scored by weights fitted
without it (leave one group out).
Run: ``python bench/pairs.py [--fit] [--all]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from common import ROOT, corpus_files

from ingest.loaders import load_file
from rag.embeddings import build_embeddings
from rag.pairs import (
    FEATURES,
    MIN_CONFIDENCE,
    WEIGHTS,
    Profile,
    best_only,
    features,
    find_pairs,
    scored_candidates,
)

LABELS = ROOT / "bench" / "pairs-labelled.jsonl"
Scored = tuple[Profile, Profile, float]


def key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def prf(found: set[tuple[str, str]], gold: set[tuple[str, str]]) -> dict[str, float]:
    hits = found & gold
    return {"found": len(found), "true": len(hits),
            "precision": round(len(hits) / len(found), 3) if found else 0.0,
            "recall": round(len(hits) / len(gold), 3)}


def groups(cands: Sequence[Scored]) -> list[int]:
    """Connected components of the candidate graph: a group per event and its neighbours."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b, _ in cands:
        parent[root(a.doc_id)] = root(b.doc_id)
    names = {r: i for i, r in enumerate(sorted({root(a.doc_id) for a, _, _ in cands}))}
    return [names[root(a.doc_id)] for a, _, _ in cands]


def fit(cands: Sequence[Scored], gold: set[tuple[str, str]]) -> None:
    """Leave-one-group-out precision and recall, then the weights fitted on everything."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def model() -> Any:
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))

    x = np.array([[features(a, b, s)[f] for f in FEATURES] for a, b, s in cands])
    y = np.array([key(a.doc_id, b.doc_id) in gold for a, b, _ in cands])
    g = np.array(groups(cands))
    prob = np.zeros(len(cands))
    for group in sorted(set(g)):
        train = g != group
        if y[train].all() or not y[train].any():
            prob[~train] = y[train].mean()
            continue
        prob[~train] = model().fit(x[train], y[train]).predict_proba(x[~train])[:, 1]
    cv = [(a, b, float(p)) for (a, b, _), p in zip(cands, prob, strict=True)]
    found = {key(a.doc_id, b.doc_id) for a, b, p in best_only(cv) if p >= MIN_CONFIDENCE}
    for (a, b, p), truth in zip(cv, y, strict=True):
        if truth != (key(a.doc_id, b.doc_id) in found) or p >= 0.2:
            print(f"{'gold' if truth else '    '} {p:.3f} {a.doc_id[:40]} | {b.doc_id[:40]}")
    print("leave-one-group-out:", json.dumps(prf(found, gold)))
    scaler, lr = model().fit(x, y).steps[0][1], model().fit(x, y).steps[1][1]
    coef = lr.coef_[0] / scaler.scale_  # the same model on unscaled features
    bias = lr.intercept_[0] - float(coef @ scaler.mean_)
    weights = {"bias": round(float(bias), 3)}
    weights.update({f: round(float(w), 3) for f, w in zip(FEATURES, coef, strict=True)})
    print("weights fitted on all candidates:", json.dumps(weights))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--all", action="store_true", help="print every candidate")
    parser.add_argument("--fit", action="store_true", help="fit and cross-validate WEIGHTS")
    args = parser.parse_args()
    gold = {key(r["a"], r["b"]) for r in map(json.loads, LABELS.open(encoding="utf-8"))}
    readouts = [r for path in corpus_files() for r in load_file(path, 50 * 2**20).readouts]
    embeddings = build_embeddings(args.embedder)
    if args.fit:
        fit(scored_candidates(readouts, embeddings), gold)
        return
    started = time.perf_counter()
    every = find_pairs(readouts, embeddings, min_confidence=0.0)
    seconds = time.perf_counter() - started
    found = {key(p.a.doc_id, p.b.doc_id): p for p in every if p.confidence >= MIN_CONFIDENCE}
    for p in every:
        k = key(p.a.doc_id, p.b.doc_id)
        mark = ("TP" if k in gold else "FP") if k in found else ("FN" if k in gold else "  ")
        if args.all or mark in ("FP", "FN"):
            print(f"{mark} {p.confidence:.3f} {p.a.date} {p.a.doc_id[:40]} | {p.b.date} "
                  f"{p.b.doc_id[:40]} | {'; '.join(p.why)}")
    for a, b in sorted(gold - {key(p.a.doc_id, p.b.doc_id) for p in every}):
        print(f"FN (not kept as a candidate) {a} | {b}")
    print(json.dumps({"readouts": len(readouts), "labelled": len(gold), **prf(set(found), gold),
                      "seconds": round(seconds, 1), "embedder": args.embedder,
                      "weights": WEIGHTS}))


if __name__ == "__main__":
    main()
