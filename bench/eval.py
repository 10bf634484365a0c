"""Answer quality on labelled question sets: the shipped model, cross-validated models, signal
ablations, or any build of the system black-box through its CLI.

Usage:
  python bench/eval.py [--sets S ...]        the shipped weights on each set ("dev" figures
                                             for the sets they were fitted on)
  python bench/eval.py --cv                  leave one set out: each set scored by a model
                                             fitted on the other sets only
  python bench/eval.py --ablate SIGNAL|all   what each signal is worth on held-out folds
  python bench/eval.py --cli [--sets S ...]  black-box: `readouts ask --json -` on each set
                                             (READOUTS_EVAL_PYTHONPATH runs another checkout)

Measures (answerable questions unless said): hit@5 (a top-5 passage holds half a gold
sentence), cross_hit@5 (same, gold only in another language), cited_readout and cited_passage
(the first citation's readout is gold; its passage holds a gold sentence; over answered
questions), cited_sentence (a citation covers a gold sentence), list_recall (share of gold
readouts a list answer cites), refusal (of unanswerable questions; false_premise_refusal of
those close to a real readout), false_refusals, exact_spans (every citation's quote is
text[start:end] of its stored readout; all questions).
Ingests ../shared/corpus into bench/out/store-<embedder> first (incremental).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from common import OUT, ROOT, bench_settings, ensure_ingested
from learn import (
    TRAINING_SETS,
    Learner,
    filters_of,
    gather,
    gold_spans,
    load_sets,
    metrics,
    overlaps,
    readout_texts,
)

from rag.assistant import Assistant, build_assistant
from rag.ranking.model import RankingModel
from rag.ranking.signals import SIGNALS

COLUMNS = ("hit@5", "cross_hit@5", "cited_readout", "cited_passage", "cited_sentence",
           "list_recall", "refusal", "false_premise_refusal", "false_refusals", "exact_spans")


def table(rows: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of figures, one row per set."""
    head = "| set | questions | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 2)]
    for name, m in rows.items():
        cells = [f"{m[c]:.3f}" if m[c] == m[c] else "" for c in COLUMNS]
        lines.append(f"| {name} | {m['questions']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def by_set(records: Sequence[dict]) -> dict[str, dict[str, Any]]:
    """Figures per set, then all sets pooled."""
    sets = dict.fromkeys(r["set"] for r in records)
    rows = {name: metrics([r for r in records if r["set"] == name]) for name in sets}
    if len(rows) > 1:
        rows["all"] = metrics(records)
    return rows


def shipped(assistant: Assistant, sets: Sequence[str]) -> list[dict]:
    """Records of the shipped model on ``sets``."""
    examples = gather(assistant, load_sets(sets))
    return Learner(assistant, examples).evaluate(assistant.model, examples)


def cross_validated(assistant: Assistant, sets: Sequence[str],
                    signals: Sequence[str] | None = None) -> list[dict]:
    """Records of each set from models fitted on the other sets only."""
    examples = gather(assistant, load_sets(sets))
    folds = Learner(assistant, examples, signals=signals).cross_validate()
    return [r for records in folds.values() for r in records]


def ablation(assistant: Assistant, sets: Sequence[str], which: str) -> str:
    """Pooled held-out figures without each signal, against all signals."""
    examples = gather(assistant, load_sets(sets))
    names = list(SIGNALS) if which == "all" else [which]
    full = metrics([r for rs in Learner(assistant, examples).cross_validate().values()
                    for r in rs])
    rows = {"all signals": full}
    for name in names:
        kept = [s for s in SIGNALS if s != name]
        folds = Learner(assistant, examples, signals=kept).cross_validate()
        rows[f"without {name}"] = metrics([r for rs in folds.values() for r in rs])
    lines = [table(rows), "", "Change against all signals (held-out folds; negative: the "
             "signal helps):", "", "| without | " + " | ".join(COLUMNS) + " |",
             "|" + " --- |" * (len(COLUMNS) + 1)]
    for label, m in rows.items():
        if label == "all signals":
            continue
        cells = [f"{m[c] - full[c]:+.3f}" if m[c] == m[c] and full[c] == full[c] else ""
                 for c in COLUMNS]
        lines.append(f"| {label.removeprefix('without ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def through_cli(assistant: Assistant, sets: Sequence[str]) -> list[dict]:
    """Records of the system as a user runs it: `readouts ask --json -`, one process, one
    question per line (another checkout with READOUTS_EVAL_PYTHONPATH)."""
    questions = load_sets(sets)
    texts = readout_texts(assistant, questions)
    lines = [json.dumps({"question": q["question"], **_cli_filters(q)}, ensure_ascii=False)
             for q in questions]
    env = {**os.environ, "READOUTS_STORE_DIR": str(assistant.settings.store_dir),
           "READOUTS_EMBEDDER": assistant.settings.embedder, "ANONYMIZED_TELEMETRY": "False"}
    other = os.environ.get("READOUTS_EVAL_PYTHONPATH")
    if other:
        env["PYTHONPATH"] = other
    done = subprocess.run([sys.executable, "-m", "ingest.cli", "ask", "--json", "-"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True,
                          env=env, cwd=other or ROOT, check=False)
    if done.returncode not in (0, 1):
        sys.exit(f"readouts ask failed:\n{done.stderr[-3000:]}")
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    records = [score_json(q, a, gold_spans(q, texts)) for q, a in zip(questions, answers,
                                                                       strict=True)]
    for record, answer in zip(records, answers, strict=True):
        record["exact"] = all(_stored(assistant, texts, c["doc_id"])[c["start"]:c["end"]]
                              == c["quote"] for c in answer.get("citations") or [])
    return records


def _stored(assistant: Assistant, texts: dict[str, str], doc_id: str) -> str:
    """The stored text of a readout, read once."""
    if doc_id not in texts:
        readout = assistant.store.get_readout(doc_id)
        texts[doc_id] = readout.text if readout else ""
    return texts[doc_id]


def _cli_filters(q: dict[str, Any]) -> dict[str, Any]:
    f = filters_of(q)
    out: dict[str, Any] = {}
    if f.since:
        out["since"] = f.since
    if f.until:
        out["until"] = f.until
    if f.languages:
        out["lang"] = list(f.languages)
    return out


def score_json(q: dict[str, Any], answer: dict[str, Any], spans: list) -> dict[str, Any]:
    """A record (as ``learn.score_answer``) from the CLI's JSON answer."""
    gold_docs = {g["doc_id"] for g in q["gold"]}
    citations = answer.get("citations") or []
    passages = answer.get("passages") or []
    first = citations[0] if citations else None
    passage = next((p for p in passages if first and p["chunk_id"] == first["chunk_id"]), None)
    cited = set(c["doc_id"] for c in citations)
    return {
        "id": q["id"], "set": q["set"], "kind": q.get("kind"), "lang": q.get("lang"),
        "answerable": bool(q["answerable"]), "answered": bool(answer.get("answered")),
        "premise": q.get("premise"), "cross": bool(q.get("cross_lingual")),
        "hit": any(overlaps(p["doc_id"], p["start"], p["end"], spans) for p in passages[:5]),
        "cited_readout": bool(first) and first["doc_id"] in gold_docs,
        "cited_passage": bool(passage) and overlaps(passage["doc_id"], passage["start"],
                                                    passage["end"], spans),
        "cited_sentence": any(overlaps(c["doc_id"], c["start"], c["end"], spans)
                              for c in citations),
        "list_recall": len(gold_docs & cited) / len(gold_docs) if gold_docs else None,
        "probability": answer.get("answerability"),
        "top": [p["doc_id"] for p in passages[:5]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="e5-small")
    parser.add_argument("--sets", nargs="+", default=list(TRAINING_SETS),
                        help="set names in bench/ (devset, heldout...) or .jsonl paths")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--cv", action="store_true")
    mode.add_argument("--ablate", metavar="SIGNAL|all", choices=[*SIGNALS, "all"])
    mode.add_argument("--cli", action="store_true")
    parser.add_argument("--save", metavar="NAME", help="also write the records to "
                        "bench/out/eval-NAME.jsonl")
    args = parser.parse_args()

    settings = bench_settings(args.embedder)
    ensure_ingested(settings)
    model = None
    if args.cv or args.ablate or args.cli:  # the shipped weights are not used here
        from fit import neutral_model
        model = neutral_model()
    assistant = build_assistant(settings, model=model or RankingModel.load())
    if args.ablate:
        print(ablation(assistant, args.sets, args.ablate))
        return
    if args.cv:
        records = cross_validated(assistant, args.sets)
    elif args.cli:
        records = through_cli(assistant, args.sets)
    else:
        records = shipped(assistant, args.sets)
    print(table(by_set(records)))
    if args.save:
        OUT.mkdir(parents=True, exist_ok=True)
        with (OUT / f"eval-{args.save}.jsonl").open("w", encoding="utf-8") as out:
            for r in records:
                out.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
