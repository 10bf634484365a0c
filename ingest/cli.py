"""The ``readouts`` command: ingest, ask, list, show, remove, pairs, compare. A public contract:
keep it stable (add fields, never rename or drop them).

Exit codes: 0 success; 1 done, but something failed (a file not ingested, an id not found,
a question in a batch that errored); 2 bad usage, bad settings, or the store/model unusable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ingest.shard import WHOLE, Shard
from rag.config import Settings
from rag.errors import ConfigError, ReadoutsError, StoreMismatchError
from rag.schema import Answer, Filters

if TYPE_CHECKING:
    from rag.store import ReadoutStore

OK, PARTIAL, ERROR = 0, 1, 2


def _iso_date(value: str) -> str:
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date like 2021-02-22") from exc


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"'{value}' is not a number of workers (1 or more)")
    return int(value)


def _shard(value: str) -> Shard:
    try:
        return Shard.parse(value)
    except ReadoutsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="readouts", description="Ask questions of diplomatic readouts, with exact citations."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ing = sub.add_parser("ingest", help="add, update (and with --prune remove) readouts")
    ing.add_argument("paths", nargs="+", type=Path, help="files or folders (recursive)")
    ing.add_argument("--prune", action="store_true",
                     help="remove stored readouts whose file or record is gone")
    ing.add_argument("--rebuild", action="store_true",
                     help="drop this embedder's collections first and re-embed everything")
    ing.add_argument("--json", action="store_true", help="print the report as JSON")
    ing.add_argument("--workers", type=_workers, default=1,
                     help="processes that load and embed in parallel (this one writes)")
    ing.add_argument("--shard", type=_shard, default=WHOLE, metavar="I/N",
                     help="only the I-th of N shares of the readouts (by doc_id), for N "
                          "machines ingesting into one Chroma server")

    ask = sub.add_parser("ask", help="answer a question with cited passages")
    ask.add_argument("question", help="the question, or - to read one per line from stdin")
    ask.add_argument("--k", type=int, default=None, help="passages to retrieve")
    ask.add_argument("--since", type=_iso_date, help="only readouts on or after YYYY-MM-DD")
    ask.add_argument("--until", type=_iso_date, help="only readouts on or before YYYY-MM-DD")
    ask.add_argument("--lang", action="append", default=[], help="only this language (repeat)")
    ask.add_argument("--source", action="append", default=[], help="only this source (repeat)")
    ask.add_argument("--country", action="append", default=[],
                     help="only readouts mentioning this ISO country code (repeat)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")

    lst = sub.add_parser("list", help="list stored readouts")
    lst.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="print one stored readout in full")
    show.add_argument("doc_id")
    show.add_argument("--json", action="store_true")

    pairs = sub.add_parser("pairs", help="list readouts of one event by the two sides")
    pairs.add_argument("--json", action="store_true")

    cmp = sub.add_parser("compare", help="align two readouts sentence by sentence")
    cmp.add_argument("doc_a")
    cmp.add_argument("doc_b")
    cmp.add_argument("--json", action="store_true")
    cmp.add_argument("--markdown", action="store_true", help="print the Markdown export")

    rem = sub.add_parser("remove", help="remove readouts by id")
    rem.add_argument("doc_ids", nargs="+")
    rem.add_argument("--json", action="store_true")
    return parser


def _filters(args: argparse.Namespace, extra: dict[str, Any] | None = None) -> Filters:
    extra = extra or {}
    langs = extra.get("lang", extra.get("language", args.lang))
    return Filters(
        since=_iso_date(extra["since"]) if extra.get("since") else args.since,
        until=_iso_date(extra["until"]) if extra.get("until") else args.until,
        languages=tuple([langs] if isinstance(langs, str) else langs or ()),
        sources=tuple(extra.get("sources", args.source) or ()),
        countries=tuple(c.upper() for c in extra.get("countries", args.country) or ()),
    )


def _print_answer(answer: Answer, out: TextIO) -> None:
    out.write(answer.text + "\n")
    if answer.notice:
        out.write(f"\nNote: {answer.notice}\n")
    if answer.citations:
        out.write("\nSources:\n")
        for c in answer.citations:
            out.write(f"[{c.n}] {c.title} ({c.date or 'undated'}) {c.doc_id} "
                      f"chars {c.start}-{c.end}\n    \"{c.quote}\"\n")
    also = answer.also_retrieved if answer.answered else answer.passages
    if also:
        out.write("\nClosest passages:\n" if not answer.answered else "\nAlso retrieved:\n")
        for p in also:
            out.write(f"- {p.title} ({p.date or 'undated'}) {p.chunk_id}\n")


def _check_embedder(store: ReadoutStore) -> None:
    """An empty store beside another model's readouts is a setting mistake, not "no answer"."""
    if not store.is_empty():
        return
    others = store.other_embedders()
    if others:
        raise StoreMismatchError(
            f"The store at {store.location} has no readouts embedded with "
            f"'{store.embeddings.key}' (READOUTS_EMBEDDER) but has some embedded with "
            f"{', '.join(repr(o) for o in others)}. Set READOUTS_EMBEDDER to that model, or "
            "embed the readouts with this one: readouts ingest data/"
        )


def _ask(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.assistant import build_assistant

    assistant = build_assistant(settings)
    _check_embedder(assistant.store)
    if args.question != "-":
        answer = assistant.ask(args.question, _filters(args), args.k)
        if args.json:
            out.write(json.dumps(answer.to_dict(), ensure_ascii=False) + "\n")
        else:
            _print_answer(answer, out)
        return OK
    status = OK
    for number, line in enumerate(sys.stdin, 1):
        line = line.strip()
        if not line:
            continue
        question, extra = line, {}
        try:
            if line.startswith("{"):
                extra = json.loads(line)
                question = str(extra.get("question", ""))
            answer = assistant.ask(question, _filters(args, extra), extra.get("k", args.k))
            record: dict[str, Any] = answer.to_dict()
        except (ReadoutsError, ValueError, argparse.ArgumentTypeError) as exc:
            status = PARTIAL
            record = {"question": question, "line": number, "error": str(exc)}
        if args.json:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif "error" in record:
            out.write(f"line {number}: {record['error']}\n\n")
        else:
            _print_answer(answer, out)
            out.write("\n")
        out.flush()
    return status


def _ingest(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from tqdm import tqdm

    from ingest.pipeline import (
        Tally,
        default_embeddings_factory,
        ingest_parallel,
        ingest_paths,
    )
    from rag.assistant import build_assistant
    from rag.embeddings import build_embeddings
    from rag.store import ReadoutStore, writer_lock

    if args.rebuild and args.shard.count > 1:
        raise ConfigError(
            "--rebuild drops every readout of this embedder, other shards' too: run it once "
            "without --shard, then start the shards."
        )
    embeddings = build_embeddings(settings.embedder, settings.embed_batch_size)
    with writer_lock(settings):
        store = ReadoutStore(settings, embeddings, rebuild=args.rebuild)
        # Readouts/s and the time left; the chunk counts show what a kill would lose
        # (embedded but not yet written).
        bar = tqdm(total=0, unit="readout", desc="ingesting", disable=None, file=sys.stderr)

        def progress(tally: Tally) -> None:
            bar.total = tally.total
            bar.set_postfix(embedded=tally.embedded, written=tally.written, refresh=False)
            bar.update(tally.done - bar.n)

        options: dict[str, Any] = {
            "max_bytes": int(settings.max_file_mb * 1024 * 1024),
            "max_chars": settings.chunk_max_chars, "prune": args.prune,
            "progress": progress, "shard": args.shard,
        }
        if args.workers > 1:
            factory = default_embeddings_factory(settings.embedder, settings.embed_batch_size)
            report = ingest_parallel(
                store, args.paths, workers=args.workers, make_embeddings=factory, **options
            )
        else:
            report = ingest_paths(store, args.paths, **options)
        bar.close()
        build_assistant(settings, store).lexical.sync()
    if args.json:
        out.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(report.summary() + "\n")
    return PARTIAL if report.failed else OK


def _list(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.assistant import open_store

    infos = open_store(settings).list_readouts()
    if args.json:
        out.write(json.dumps([i.to_dict() for i in infos], ensure_ascii=False) + "\n")
        return OK
    for i in infos:
        out.write(f"{i.date or 'undated':10}  {i.language:3} {i.doc_id}  {i.title}\n")
    out.write(f"{len(infos)} readouts\n")
    return OK


def _show(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.assistant import open_store

    store = open_store(settings)
    readout = store.get_readout(args.doc_id)
    if readout is None:
        sys.stderr.write(f"readouts: no readout with id '{args.doc_id}'\n")
        return PARTIAL
    if args.json:
        from rag.pairs import other_side, readout_ref

        record = {k: getattr(readout, k) for k in (
            "doc_id", "title", "date", "language", "source", "url", "countries", "path", "text")}
        record["other_side"] = [
            {**readout_ref(p.other(readout.doc_id)), "confidence": round(p.confidence, 3),
             "why": list(p.why)}
            for p in other_side(readout, store, store.embeddings)]
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        out.write(f"{readout.title}\n{readout.date or 'undated'} · {readout.language} · "
                  f"{readout.source}\n{readout.url or ''}\n\n{readout.text}\n")
    return OK


def _remove(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.assistant import build_assistant, open_store

    store = open_store(settings)
    with store.exclusive():
        result = {doc_id: store.remove(doc_id) for doc_id in args.doc_ids}
        build_assistant(settings, store).lexical.sync()
    missing = [d for d, ok in result.items() if not ok]
    if args.json:
        out.write(json.dumps({"removed": [d for d, ok in result.items() if ok],
                              "not_found": missing}) + "\n")
    else:
        for doc_id, ok in result.items():
            out.write(f"{'removed' if ok else 'not found'}: {doc_id}\n")
    return PARTIAL if missing else OK


def _pairs(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.assistant import open_store
    from rag.pairs import stored_pairs

    store = open_store(settings)
    pairs = stored_pairs(store, store.embeddings)
    if args.json:
        out.write(json.dumps([p.to_dict() for p in pairs], ensure_ascii=False) + "\n")
        return OK
    for p in pairs:
        out.write(f"{p.confidence:.2f}  {p.a.date or 'undated'} {p.a.doc_id}  <->  "
                  f"{p.b.date or 'undated'} {p.b.doc_id}\n      {p.a.title} | {p.b.title}\n"
                  f"      why: {'; '.join(p.why)}\n")
    out.write(f"{len(pairs)} pairs\n")
    return OK


def _compare(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    from rag.align import align
    from rag.assistant import open_store
    from rag.compare import compare, comparison_markdown, comparison_text

    store = open_store(settings)
    ids = (args.doc_a, args.doc_b)
    found = [r for r in map(store.get_readout, ids) if r is not None]
    if len(found) < 2:
        missing = sorted(set(ids) - {r.doc_id for r in found})
        sys.stderr.write(f"readouts: no readout with id {', '.join(repr(m) for m in missing)}\n")
        return PARTIAL
    comparison = compare(align(found[0], found[1], store.embeddings))
    if args.json:
        out.write(json.dumps(comparison.to_dict(), ensure_ascii=False) + "\n")
    else:
        out.write(comparison_markdown(comparison) if args.markdown else comparison_text(comparison))
    return OK


COMMANDS = {"ingest": _ingest, "ask": _ask, "list": _list, "show": _show, "remove": _remove,
            "pairs": _pairs, "compare": _compare}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``readouts`` command; returns the exit code."""
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        settings = Settings()
        return COMMANDS[args.command](args, settings, out)
    except ReadoutsError as exc:
        sys.stderr.write(f"readouts: {exc}\n")
        return ERROR
    except ValueError as exc:  # pydantic settings validation
        sys.stderr.write(f"readouts: invalid setting: {exc}\n")
        return ERROR


if __name__ == "__main__":
    sys.exit(main())
