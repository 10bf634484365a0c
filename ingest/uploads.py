"""Files uploaded from the browser -> files in the data folder, under names we chose.

The client's filename is never trusted: only its last component survives, reduced to safe
characters, never hidden, never a reserved device name, never overwriting a different file.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ingest.loaders import SUPPORTED_SUFFIXES

MAX_NAME_BYTES = 150  # well under the usual 255-byte limit, with room for "-NN"
MAX_SUFFIX_TRIES = 1000
# Device names Windows reserves whatever the extension: a share or a copy of data/ may meet one.
RESERVED_STEMS = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(1, 10)]
)
_UNSAFE = re.compile(r"[^\w.\-]+")  # \w is Unicode-aware: accented and CJK names stay readable
_DOTS = re.compile(r"\.{2,}")

Status = Literal["saved", "unchanged", "refused"]


@dataclass(frozen=True)
class UploadResult:
    """What became of one uploaded file; ``path`` is set unless it was refused."""

    client_name: str
    status: Status
    path: Path | None = None
    reason: str = ""


class UnsafeNameError(ValueError):
    """A client filename that cannot become a readout file name."""


def safe_name(client_name: str) -> str:
    """A plain file name derived from ``client_name``, or UnsafeNameError with the reason."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", client_name))[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    base = _DOTS.sub(".", _UNSAFE.sub("_", base.strip())).strip("._- ")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUPPORTED_SUFFIXES:
        kind = f"'{suffix}'" if suffix else "no suffix"
        raise UnsafeNameError(
            f"unsupported file type ({kind}); supported: {', '.join(SUPPORTED_SUFFIXES)}"
        )
    stem = stem.rstrip("._- ")  # its start is clean already: the whole name was stripped
    if stem.split(".")[0].lower() in RESERVED_STEMS:
        stem = f"upload-{stem}"
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1].rstrip("._- ")
    return stem + suffix


def _numbered(name: str, number: int) -> str:
    stem, suffix = os.path.splitext(name)
    return f"{stem}-{number}{suffix}"


def save_upload(data_dir: Path, client_name: str, content: bytes, max_bytes: int) -> UploadResult:
    """Save one upload into ``data_dir``; an identical existing file is reused, not duplicated."""
    if len(content) > max_bytes:
        return UploadResult(client_name, "refused", reason=(
            f"{len(content) / 2**20:.1f} MB is over the {max_bytes / 2**20:.0f} MB upload limit"
        ))
    if not content:
        return UploadResult(client_name, "refused", reason="the file is empty")
    try:
        name = safe_name(client_name)
    except UnsafeNameError as exc:
        return UploadResult(client_name, "refused", reason=str(exc))
    data_dir.mkdir(parents=True, exist_ok=True)
    for number in range(MAX_SUFFIX_TRIES):
        target = data_dir / (_numbered(name, number) if number else name)
        if target.is_symlink() or target.is_dir():
            continue
        if target.exists():
            if target.read_bytes() == content:
                return UploadResult(client_name, "unchanged", target)
            continue
        if _create(target, content):
            return UploadResult(client_name, "saved", target)
    return UploadResult(client_name, "refused", reason=f"too many files named like {name}")


def _create(target: Path, content: bytes) -> bool:
    """Write ``target`` whole or not at all; False if another writer created it first.

    The bytes go to a hidden temp file (the loaders skip hidden files) and are then linked in
    place, which fails instead of replacing a file that appeared meanwhile.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def save_uploads(
    data_dir: Path, files: Iterable[tuple[str, bytes]], max_bytes: int
) -> list[UploadResult]:
    """Save several uploads, in order, each under its own sanitised name."""
    return [save_upload(data_dir, name, content, max_bytes) for name, content in files]
