"""Write bench/pairs-labelled.jsonl: the other-side pairs the shared corpus labels.

The corpus's ``same_event_ids`` link each readout to the other side's readout of the same
call or meeting; they are the gold list that ``bench/pairs.py`` scores pair detection
against, never an input to it. ``parallel_ids`` (Swiss FR/EN translations) are not pairs.
Run: ``python bench/pairs_labels.py`` (rewrites the file; its content is checked in).
"""

from __future__ import annotations

import json

from common import ROOT, corpus_files

LABELS = ROOT / "bench" / "pairs-labelled.jsonl"


def labelled_pairs() -> list[dict[str, str]]:
    """Unordered pairs (a < b) of the corpus's ``same_event_ids``, with both titles."""
    records = {}
    for path in corpus_files():
        for line in path.open(encoding="utf-8"):
            record = json.loads(line)
            records[record["id"]] = record
    pairs = {}
    for record in records.values():
        for other in record.get("same_event_ids") or ():
            a, b = sorted((record["id"], other))
            pairs[(a, b)] = {"a": a, "b": b, "date_a": records[a]["date"],
                             "date_b": records[b]["date"], "title_a": records[a]["title"],
                             "title_b": records[b]["title"]}
    return [pairs[key] for key in sorted(pairs)]


def main() -> None:
    rows = labelled_pairs()
    with LABELS.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} labelled pairs -> {LABELS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
