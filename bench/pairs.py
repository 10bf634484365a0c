"""Pair detection over the shared corpus, scored against bench/pairs-labelled.jsonl.

Loads the corpus files (no store needed), finds the pairs with ``rag.pairs`` and the
embedder, and prints precision, recall, and every miss and false pair.

``--fit`` fits ``rag/pairs_model.json`` (logistic regression over the named features of
every candidate) and first measures that recipe honestly: each group of candidates that share
readouts (one event and its neighbours) is scored by weights fitted without it (leave one
group out); the confidence a pair needs is the threshold that best meets the targets (0.9 /
0.9) on those held-out confidences.

``--heldout bench/pairs-heldout.jsonl`` also checks the detector on pairs labelled by reading
the corpus, never fitted on: readouts of one event, and near misses (the same people on the
same days, another event; a preview of the event) it must not pair.
Run: ``python bench/pairs.py [--fit] [--all] [--heldout FILE]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from common import ROOT, corpus_files
from logistic import best_threshold, fit_logistic, probabilities, provenance

from ingest.loaders import load_file
from rag.embeddings import build_embeddings
from rag.fitted import Logistic
from rag.pairs import (
    FEATURES,
    MODEL_PATH,
    Profile,
    best_only,
    confidence_floor,
    features,
    find_pairs,
    pairs_model,
    scored_candidates,
)

LABELS = ROOT / "bench" / "pairs-labelled.jsonl"
EMBEDDER = "e5-small"  # the embedder the openings' similarity is fitted with
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


def features_x(cands: Sequence[Scored]) -> np.ndarray:
    return np.array([[features(a, b, s)[f] for f in FEATURES] for a, b, s in cands])


def kept(cands: Sequence[Scored], prob: np.ndarray, floor: float) -> set[tuple[str, str]]:
    """The pairs ``find_pairs`` keeps with these confidences and this threshold."""
    scored = [(a, b, float(p)) for (a, b, _), p in zip(cands, prob, strict=True)]
    return {key(a.doc_id, b.doc_id) for a, b, p in best_only(scored) if p >= floor}


def worst_ratio(found: set[tuple[str, str]], gold: set[tuple[str, str]]) -> float:
    """The worse of precision / 0.9 and recall / 0.9 (the targets)."""
    f = prf(found, gold)
    return min(f["precision"], f["recall"]) / 0.9


def fit(cands: Sequence[Scored], gold: set[tuple[str, str]]) -> None:
    """Leave-one-group-out confidences, the threshold that best meets the targets on them,
    then the weights fitted on every candidate, written to rag/pairs_model.json."""
    x = features_x(cands)
    y = np.array([key(a.doc_id, b.doc_id) in gold for a, b, _ in cands])
    g = np.array(groups(cands))
    prob = np.zeros(len(cands))
    for group in sorted(set(g)):
        train = g != group
        if y[train].all() or not y[train].any():
            prob[~train] = y[train].mean()
            continue
        weights, intercept = fit_logistic(x[train], y[train])
        prob[~train] = probabilities(weights, intercept, x[~train])
    floor = best_threshold(prob, lambda t: worst_ratio(kept(cands, prob, t), gold))
    found = kept(cands, prob, floor)
    for (a, b, _), p, truth in zip(cands, prob, y, strict=True):
        if truth != (key(a.doc_id, b.doc_id) in found) or p >= floor / 2:
            print(f"{'gold' if truth else '    '} {p:.3f} {a.doc_id[:40]} | {b.doc_id[:40]}")
    cv = prf(found, gold)
    print(f"leave-one-group-out, threshold {floor}:", json.dumps(cv))
    weights, intercept = fit_logistic(x, y)
    model = Logistic({f: round(weights[i], 4) for i, f in enumerate(FEATURES)},
                     round(intercept, 4), floor,
                     provenance([LABELS.name], candidates=len(cands), pairs=int(y.sum()),
                                embedder=EMBEDDER, objective="worse of precision/0.9 and "
                                "recall/0.9, leave one group out", leave_one_group_out=cv))
    model.save(MODEL_PATH)
    print(f"wrote {MODEL_PATH.relative_to(ROOT)}:", json.dumps(model.to_json()["weights"]))


def check_heldout(path: Path, found: set[tuple[str, str]]) -> None:
    """How the detector decides the held-out labelled pairs (``same_event`` true or false)."""
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    same = {key(r["a"], r["b"]) for r in rows if r["same_event"]}
    other = {key(r["a"], r["b"]) for r in rows if not r["same_event"]}
    for r in rows:
        paired = key(r["a"], r["b"]) in found
        mark = "ok   " if paired == r["same_event"] else "WRONG"
        print(f"held-out {mark} {'paired' if paired else 'apart '} {r['a'][:40]} | "
              f"{r['b'][:40]}: {r['why']}")
    print("held-out:", json.dumps({
        "same_event": len(same), "found": len(same & found),
        "recall": round(len(same & found) / len(same), 3) if same else None,
        "near_misses": len(other), "wrongly_paired": len(other & found)}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--embedder", default=EMBEDDER)
    parser.add_argument("--all", action="store_true", help="print every candidate")
    parser.add_argument("--fit", action="store_true", help="fit rag/pairs_model.json")
    parser.add_argument("--heldout", type=Path, help="pairs labelled by reading the corpus")
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
    floor = confidence_floor()
    found = {key(p.a.doc_id, p.b.doc_id): p for p in every if p.confidence >= floor}
    for p in every:
        k = key(p.a.doc_id, p.b.doc_id)
        mark = ("TP" if k in gold else "FP") if k in found else ("FN" if k in gold else "  ")
        if args.all or mark in ("FP", "FN"):
            print(f"{mark} {p.confidence:.3f} {p.a.date} {p.a.doc_id[:40]} | {p.b.date} "
                  f"{p.b.doc_id[:40]} | {'; '.join(p.why)}")
    for a, b in sorted(gold - {key(p.a.doc_id, p.b.doc_id) for p in every}):
        print(f"FN (not kept as a candidate) {a} | {b}")
    if args.heldout:
        check_heldout(args.heldout, set(found))
    print(json.dumps({"readouts": len(readouts), "labelled": len(gold), **prf(set(found), gold),
                      "seconds": round(seconds, 1), "embedder": args.embedder,
                      "threshold": floor,
                      "weights": pairs_model().to_json()["weights"]}))


if __name__ == "__main__":
    main()
