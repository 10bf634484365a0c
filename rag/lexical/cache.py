"""The lexical index's last full build on disk, beside the store, for the next process.

Written to a temporary folder then renamed, so a reader never sees half an index. The
postings are plain ``.npy`` files opened memory-mapped: processes on one machine share
their pages instead of each holding a copy.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.lexical.bm25 import Postings
from rag.lexical.rows import Column, Rows

log = logging.getLogger(__name__)
FORMAT = "7"  # bump when the files change: older caches are rebuilt
_POSTINGS = ("indptr", "rows", "counts", "lengths")


@dataclass(frozen=True)
class Saved:
    """A full build and what it was built from."""

    generation: str
    identity: str
    as_of: float
    base: Postings
    rows: Rows
    hashes: Mapping[str, str]
    centroids: Mapping[str, np.ndarray]
    build_s: float


def save(folder: Path, saved: Saved) -> None:
    """Replace the cache in ``folder``; a read-only disk only costs a rebuild next start."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".lexical-tmp-"))
    try:
        rows, base = saved.rows, saved.base
        for name in _POSTINGS:
            np.save(tmp / f"{name}.npy", getattr(base, name))
        arrays: dict[str, Any] = {
            "dates": rows.dates, "doc_codes": rows.doc_ids.codes,
            "language_codes": rows.languages.codes, "source_codes": rows.sources.codes,
            "starts": rows.starts, "ends": rows.ends,
            **{f"c_{c}": r for c, r in rows.countries.items()},
            **{f"l_{lang}": v for lang, v in saved.centroids.items()},
        }
        np.savez(tmp / "rows.npz", **arrays)
        (tmp / "rows.json").write_text(json.dumps({
            "chunk_ids": rows.chunk_ids, "doc_ids": rows.doc_ids.names,
            "languages": rows.languages.names, "sources": rows.sources.names,
            "vocab": sorted(base.vocab, key=base.vocab.__getitem__),
            "hashes": saved.hashes,
        }, ensure_ascii=False), encoding="utf-8")
        (tmp / "built.json").write_text(json.dumps({
            "format": FORMAT, "generation": saved.generation, "identity": saved.identity,
            "as_of": saved.as_of, "build_s": saved.build_s,
        }), encoding="utf-8")
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        log.warning("Could not save the lexical index to %s: %s", folder, exc)
        shutil.rmtree(tmp, ignore_errors=True)


def load(folder: Path) -> Saved | None:
    """The cache in ``folder``, or None if there is none of this format or it is unreadable."""
    try:
        built = json.loads((folder / "built.json").read_text(encoding="utf-8"))
        if built.get("format") != FORMAT:
            return None
        meta = json.loads((folder / "rows.json").read_text(encoding="utf-8"))
        arrays = np.load(folder / "rows.npz")
        postings = {n: np.load(folder / f"{n}.npy", mmap_mode="r") for n in _POSTINGS}
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError) as exc:
        log.warning("Lexical index cache unreadable, rebuilding: %s", exc)
        return None
    vocab = {word: i for i, word in enumerate(meta["vocab"])}
    rows = Rows(
        meta["chunk_ids"], Column(meta["doc_ids"], arrays["doc_codes"]), arrays["dates"],
        Column(meta["languages"], arrays["language_codes"]),
        Column(meta["sources"], arrays["source_codes"]),
        {k[2:]: arrays[k] for k in arrays.files if k.startswith("c_")},
        arrays["starts"], arrays["ends"],
    )
    centroids = {k[2:]: arrays[k] for k in arrays.files if k.startswith("l_")}
    return Saved(str(built["generation"]), str(built["identity"]), float(built["as_of"]),
                 Postings(vocab, **postings), rows, meta["hashes"], centroids,
                 float(built["build_s"]))
