"""Fit the ranking weights, the answerability model and the refusal threshold on the labelled
question sets, and write them to rag/ranking/weights.json with the report that produced them
(bench/fit-report.md). Deterministic: the same store and sets give the same file.

Usage: python bench/fit.py [--embedder e5-small] [--max-false-refusals 0.06]
                           [--sets devset heldout ...] [--dry-run]
Ingests ../shared/corpus into bench/out/store-<embedder> first (incremental).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
from dataclasses import replace

from common import ROOT, bench_settings, ensure_ingested
from learn import MAX_FALSE_REFUSALS, TRAINING_SETS, Learner, gather, load_sets, metrics

from rag.assistant import build_assistant
from rag.ranking.model import WEIGHTS_PATH, Linear, RankingModel
from rag.ranking.signals import SIGNALS

REPORT = ROOT / "bench" / "fit-report.md"


def neutral_model() -> RankingModel:
    """A model that ranks by nothing and never refuses: gathering does not use weights."""
    return RankingModel(Linear(dict.fromkeys(SIGNALS, 0.0)), Linear({}, 0.0), 0.0)


def commit() -> str:
    """The code's commit, for the record."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--max-false-refusals", type=float, default=MAX_FALSE_REFUSALS,
                        help="share of answerable questions the threshold may refuse, on "
                             "held-out folds")
    parser.add_argument("--sets", nargs="+", default=list(TRAINING_SETS))
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args()

    settings = bench_settings(args.embedder)
    ensure_ingested(settings)
    assistant = build_assistant(settings, model=neutral_model())
    questions = load_sets(args.sets)
    examples = gather(assistant, questions, settings.top_k)
    learner = Learner(assistant, examples, max_false_refusals=args.max_false_refusals)
    model = learner.fit()
    sets = sorted({ex.set for ex in examples})
    fitted = replace(model, meta={
        "fitted_on": sets, "questions": len(examples), "embedder": settings.embedder,
        "max_false_refusals": args.max_false_refusals, "commit": commit(),
        "date": dt.date.today().isoformat(), "report": "bench/fit-report.md",
    })
    in_sample = metrics(learner.evaluate(fitted, examples))
    print(json.dumps(fitted.to_json(), indent=2))
    print(json.dumps(in_sample, indent=2))
    if args.dry_run:
        return
    WEIGHTS_PATH.write_text(json.dumps(fitted.to_json(), indent=2) + "\n", encoding="utf-8")
    REPORT.write_text(report(fitted, in_sample), encoding="utf-8")


def report(model: RankingModel, in_sample: dict[str, float | int]) -> str:
    """The training report shipped beside the weights."""
    lines = [
        "# Training report of rag/ranking/weights.json", "",
        f"Written by `bench/fit.py` on {model.meta['date']} from the code atop commit "
        f"{model.meta['commit']}, "
        f"embedder {model.meta['embedder']}, from {model.meta['questions']} questions of the "
        f"sets {', '.join(model.meta['fitted_on'])}.", "",
        "## Ranking signals (pairwise logistic regression; weight per unit of the signal)", "",
        "| signal | weight |", "| --- | --- |",
        *[f"| {name} | {w:+.4f} |" for name, w in model.ranking.weights.items()], "",
        "## Answerability (logistic regression; log-odds per unit of the feature)", "",
        "| feature | weight |", "| --- | --- |",
        f"| (intercept) | {model.answerability.intercept:+.4f} |",
        *[f"| {name} | {w:+.4f} |" for name, w in model.answerability.weights.items()], "",
        "## Citing (logistic regression over the sentences of the best readout's top "
        "passages; log-odds per unit)", "",
        "| feature | weight |", "| --- | --- |",
        f"| (intercept) | {model.citing.intercept:+.4f} |",
        *[f"| {name} | {w:+.4f} |" for name, w in model.citing.weights.items()], "",
        f"Refusal threshold: {model.threshold:.4f}, the highest that refuses at most "
        f"{model.meta['max_false_refusals']:.0%} of the answerable questions on held-out "
        "folds (answerability models fitted without the question's set).", "",
        "## In-sample figures (fitted on these very questions: not a measure of quality; "
        "see `bench/eval.py --cv` and the first runs of blind sets in the README)", "",
        "| measure | value |", "| --- | --- |",
        *[f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |"
          for k, v in in_sample.items()], "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
