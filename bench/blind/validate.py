"""Check a blind question set before it is sealed: every field present, kinds and premises
consistent, every gold sentence an exact substring of its readout in the shared corpus.

Usage (by the set's writer, who sees only the corpus and BRIEF.md):
  python3 validate.py SET.jsonl [CORPUS_DIR]     prints OK, or one line per problem; then counts
"""

import collections
import json
import sys
from pathlib import Path

CORPUS = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/work/shared/corpus")
KINDS = {"fact", "date", "speaker", "who", "cross-lingual", "list", "when"}
FIELDS = ("id", "question", "lang", "kind", "cross_lingual", "answerable", "premise", "gold",
          "filters")


def problems(q: dict, texts: dict[str, str]) -> list[str]:
    """What is wrong with one question, if anything."""
    found = [f"missing {key}" for key in FIELDS if key not in q]
    if found:
        return found
    if q["lang"] not in ("en", "fr", "zh"):
        found.append(f"lang {q['lang']!r}")
    if q["answerable"]:
        if q["kind"] not in KINDS or q["premise"] is not None or not q["gold"]:
            found.append("an answerable question needs a known kind, premise null and gold")
    elif q["kind"] != "unanswerable" or q["premise"] not in ("false", "absent") or q["gold"]:
        found.append("an unanswerable question needs kind unanswerable, premise false or "
                     "absent, and no gold")
    for g in q["gold"]:
        if g["doc_id"] not in texts:
            found.append(f"unknown doc_id {g['doc_id']}")
        elif g["sentence"] not in texts[g["doc_id"]]:
            found.append(f"not an exact substring of {g['doc_id']}: {g['sentence'][:60]}")
    found += [f"unknown filter {k}" for k in q["filters"]
              if k not in ("since", "until", "language")]
    return found


def main() -> None:
    texts = {}
    for path in CORPUS.glob("readouts-*.jsonl"):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                texts[record["id"]] = record["text"]
    with Path(sys.argv[1]).open(encoding="utf-8") as lines:
        questions = [json.loads(line) for line in lines if line.strip()]
    errors, counts = [], collections.Counter()
    ids = collections.Counter(q.get("id") for q in questions)
    errors += [f"{i}: duplicate id" for i, n in ids.items() if n > 1]
    for q in questions:
        errors += [f"{q.get('id')}: {p}" for p in problems(q, texts)]
        if q.get("answerable"):
            counts[("answerable", q.get("lang"))] += 1
            counts[("kind", q.get("kind"))] += 1
            counts["cross_lingual"] += bool(q.get("cross_lingual"))
        else:
            counts[("premise", q.get("premise"))] += 1
    print("\n".join(errors) if errors else "OK")
    print(dict(counts))


if __name__ == "__main__":
    main()
