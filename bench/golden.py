"""The golden snapshot: for every question of the bench sets, the readouts of its top 5
passages and whether it is answered, with the shipped weights on the whole shared corpus
(e5-small). tests/test_golden.py rebuilds it on a fresh store and compares: any change to
retrieval, ranking or refusal shows, question by question, as a diff to review.

Usage: python bench/golden.py [--write]   (prints the differences; --write saves the new one)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
GOLDEN = BENCH / "golden.json"
SETS = ("devset", "heldout", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6",
        "heldout7", "heldout8", "heldout9", "heldout10", "heldout11", "heldout12", "heldout13",
        "heldout14", "heldout15", "heldout16", "heldout17", "heldout18", "heldout19")


def questions() -> list[dict[str, Any]]:
    """Every question of the bench sets, in order."""
    out = []
    for name in SETS:
        path = BENCH / f"{name}.jsonl"
        if path.exists():
            out += [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return out


def snapshot(assistant: Any, items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Question id -> {"top": the distinct readouts of the top 5 passages, "answered"}."""
    from rag.schema import Filters

    out = {}
    for q in items:
        f = q.get("filters") or {}
        lang = f.get("language")
        filters = Filters(since=f.get("since"), until=f.get("until"),
                          languages=(lang,) if lang else ())
        answer = assistant.ask(q["question"], filters, 5)
        top = list(dict.fromkeys(p.doc_id for p in answer.passages[:5]))
        out[q["id"]] = {"top": top, "answered": answer.answered}
    return out


def differences(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[str]:
    """One line per question whose snapshot changed."""
    lines = []
    for qid in sorted(set(old) | set(new)):
        a, b = old.get(qid), new.get(qid)
        if a != b:
            lines.append(f"{qid}: {a} -> {b}")
    return lines


def main() -> None:
    sys.path.insert(0, str(BENCH))
    from common import bench_settings, ensure_ingested

    from rag.assistant import build_assistant

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    settings = bench_settings("e5-small")
    ensure_ingested(settings)
    new = snapshot(build_assistant(settings), questions())
    old = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
    changed = differences(old, new)
    print("\n".join(changed) or "no change")
    print(f"{len(changed)} of {len(new)} questions changed", file=sys.stderr)
    if args.write:
        GOLDEN.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


if __name__ == "__main__":
    main()
