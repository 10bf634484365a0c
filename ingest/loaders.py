"""Files -> Readouts: text, Markdown, HTML, PDF, DOCX, JSON and JSON Lines.

Nothing here raises for bad input: every file or record that cannot become a readout is
reported as a ``LoadFailure`` with a reason the user can act on, and the good records of the
same file still load.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import threading
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.readable import unreadable_reason
from rag.errors import LoadError
from rag.metadata import (
    READOUT_LANGUAGES,
    derive_title,
    detect_language,
    find_countries,
    find_date,
)
from rag.schema import Readout, Scalar

SUPPORTED_SUFFIXES = (
    ".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl",
)
_META_FIELDS = ("id", "title", "date", "language", "source", "url")
_MB = 1024 * 1024
_SNIFF_BYTES = 8192
_MAX_UNZIPPED_BYTES = 200 * _MB
_MIN_UNZIPPED_BYTES = 16 * _MB  # python-docx's own blank template unpacks to 0.8 MB
# Keys that other tools put in front matter for the fields we know (the White House archive
# uses "source_url" and "permalink").
_FIELD_ALIASES = {"lang": "language", "source_url": "url", "permalink": "url"}
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_NUMERIC_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ][\d:.+\-Z ]*)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_TOO_DEEP = "invalid JSON: nested too deeply to be a readout record"
_NOT_TEXT = "not readable text"


@dataclass(frozen=True)
class LoadFailure:
    """A file or record that was not loaded, and why: what the ingest summary prints."""

    path: str
    reason: str
    record: str | None = None  # "line 12", "record 3 (id=abc)"


@dataclass(frozen=True)
class LoadResult:
    """The readouts of one file and the failures met on the way."""

    readouts: list[Readout]
    failures: list[LoadFailure]


# --- discovery ---------------------------------------------------------------------------------


def _is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def _walk(folder: Path) -> Iterator[Path | LoadFailure]:
    """Supported files under ``folder``; symbolic links leading outside it become failures."""
    root = folder.resolve()
    for dirpath, dirnames, filenames in os.walk(folder):
        # Hidden folders hold stores and caches (data/.store), never readouts.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in dirnames:  # os.walk does not enter linked folders; say so if outside
            linked = Path(dirpath, name)
            if linked.is_symlink() and not _resolved(linked).is_relative_to(root):
                yield LoadFailure(str(linked), f"symbolic link to a folder outside {folder}")
        for name in sorted(filenames):
            # "~$x.docx" is Word's lock file next to an open document.
            if name.startswith((".", "~$")):
                continue
            path = Path(dirpath, name)
            if not _is_supported(path):
                continue
            if path.is_symlink():
                target = _resolved(path)
                if not target.exists():
                    yield LoadFailure(str(path), "broken symbolic link")
                    continue
                if not target.is_relative_to(root):
                    yield LoadFailure(str(path), f"symbolic link to a file outside {folder}")
                    continue
            yield path


def _resolved(link: Path) -> Path:
    """The link's target; a loop of links resolves to no file (a "broken link")."""
    try:
        return link.resolve()
    except (RuntimeError, OSError):  # Python raises RuntimeError for a symlink loop
        return link.parent / f"{link.name} (symbolic link loop)"


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[LoadFailure]]:
    """Readout files named by ``paths`` (files or folders walked recursively), sorted.

    Inside folders, hidden entries and unsupported files are skipped silently; a missing path
    or an explicitly named unsupported file is a failure. Symbolic links to folders are not
    followed (their targets inside the folder are walked anyway).
    """
    files: dict[Path, Path] = {}  # resolved -> as found, so a file reached twice loads once
    failures: list[LoadFailure] = []
    for given in paths:
        if given.is_dir():
            for found in _walk(given):
                if isinstance(found, LoadFailure):
                    failures.append(found)
                elif (known := files.get(found.resolve())) is None or known.is_symlink():
                    files[found.resolve()] = found  # the file's own name makes its doc_id
        elif given.is_file():
            if _is_supported(given):
                files.setdefault(given.resolve(), given)
            else:
                failures.append(LoadFailure(str(given), _unsupported_reason(given)))
        elif given.is_symlink():
            failures.append(LoadFailure(str(given), "broken symbolic link"))
        else:
            failures.append(LoadFailure(str(given), "no such file or folder"))
    return sorted(files.values()), failures


def _unsupported_reason(path: Path) -> str:
    kind = f"'{path.suffix}'" if path.suffix else "without a suffix"
    return f"unsupported file type {kind} (supported: {', '.join(SUPPORTED_SUFFIXES)})"


# --- loading -----------------------------------------------------------------------------------


def load_file(path: Path, max_bytes: int) -> LoadResult:
    """Readouts of one file, and what could not be loaded from it.

    ``max_bytes`` is the size limit, usually ``settings.max_file_mb * 1024 * 1024``; larger
    files are refused before they are read.
    """
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise LoadError("not a regular file")
        if size > max_bytes:
            raise LoadError(
                f"file is {size / _MB:.1f} MB, over the {max_bytes / _MB:g} MB limit "
                "(READOUTS_MAX_FILE_MB)"
            )
        suffix = path.suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise LoadError(_unsupported_reason(path))
        data = path.read_bytes()
        if suffix in (".json", ".jsonl"):
            return _load_collection(path, data, jsonl=suffix == ".jsonl")
        text, fields = _read_document(data, suffix, max_bytes)
        return LoadResult([_make_readout(text, fields, path, _slug(path.stem))], [])
    except LoadError as exc:
        return LoadResult([], [LoadFailure(str(path), str(exc))])
    except OSError as exc:
        return LoadResult([], [LoadFailure(str(path), f"cannot read: {exc.strerror or exc}")])


def _read_document(data: bytes, suffix: str, max_bytes: int) -> tuple[str, dict[str, Any]]:
    """Text and metadata fields of a single-readout file."""
    if suffix == ".pdf":
        return _read_pdf(data)
    if suffix == ".docx":
        return _read_docx(data, max_bytes)
    text = _decode(data)
    if suffix in (".html", ".htm"):
        return _read_html(text)
    return _split_front_matter(text)


def _load_collection(path: Path, data: bytes, *, jsonl: bool) -> LoadResult:
    """Readouts of a .json or .jsonl file: one per record; a bad record fails alone."""
    text = _decode(data)
    entries = _jsonl_entries(text) if jsonl else _json_entries(text)
    readouts: list[Readout] = []
    failures: list[LoadFailure] = []
    first_seen: dict[str, str] = {}
    stem = _slug(path.stem)
    for ordinal, (label, record) in enumerate(entries, start=1):
        if isinstance(record, LoadError):
            failures.append(LoadFailure(str(path), str(record), label))
            continue
        if not isinstance(record, dict):
            reason = f"a record must be a JSON object, got {_json_type(record)}"
            failures.append(LoadFailure(str(path), reason, label))
            continue
        given_id = record.get("id")
        if _has_value(given_id):
            shown = given_id if isinstance(given_id, str) else json.dumps(given_id)
            label_with_id = f"{label} (id={shown})"
        else:
            label_with_id = label
        try:
            fields = dict(record)
            text_value = fields.pop("text", None)
            if not isinstance(text_value, str) or not text_value.strip():
                raise LoadError("no text: a record needs a non-empty string field 'text'")
            readout = _make_readout(text_value, fields, path, f"{stem}-{ordinal}")
            if readout.doc_id in first_seen:
                raise LoadError(
                    f"duplicate id {readout.doc_id} (first seen at {first_seen[readout.doc_id]})"
                )
        except LoadError as exc:
            failures.append(LoadFailure(str(path), str(exc), label_with_id))
            continue
        first_seen[readout.doc_id] = label
        readouts.append(readout)
    if not readouts and not failures:
        failures.append(LoadFailure(str(path), "no records in file"))
    return LoadResult(readouts, failures)


def _jsonl_entries(text: str) -> Iterator[tuple[str, Any]]:
    # Split on "\n" only: str.splitlines() would also split on U+2028, valid inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield f"line {number}", json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"line {number}", LoadError(f"invalid JSON: {exc.msg} (column {exc.colno})")
        except RecursionError:
            yield f"line {number}", LoadError(_TOO_DEEP)


def _json_entries(text: str) -> list[tuple[str, Any]]:
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadError(
            f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except RecursionError:
        raise LoadError(_TOO_DEEP) from None
    if isinstance(content, dict):
        return [("record 1", content)]
    if isinstance(content, list):
        return [(f"record {i}", record) for i, record in enumerate(content, start=1)]
    raise LoadError(
        f"JSON must be a record object or a list of records, got {_json_type(content)}"
    )


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "a number", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --- decoding and formats ----------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _decode(data: bytes) -> str:
    """Text of a text-format file, with line endings normalised to "\\n".

    Text decoded from a byte-order mark's encoding or a guessed one must read as text: the
    bytes after a UTF-16 mark may be anything, and they always decode to some characters."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    wide = encoding in ("utf-16", "utf-32")  # their NUL bytes are text
    if not wide and b"\x00" in data[:_SNIFF_BYTES]:
        raise LoadError("binary file (contains NUL bytes), not a text readout")
    unsure = None
    if wide and encoding:
        unsure = (f"the file starts with a {encoding.upper()} byte-order mark, but what follows "
                  f"is not {encoding.upper()} text")
    try:
        text = data.decode(encoding or "utf-8")
    except UnicodeDecodeError:
        if unsure:
            raise LoadError(f"cannot decode: {unsure}") from None
        guessed = _guess_decode(data) if encoding is None else None
        if guessed is None:
            raise LoadError("cannot decode: not UTF-8 and no encoding detected") from None
        text = guessed
        unsure = "not UTF-8, and the guessed encoding gives no text either: save it as UTF-8"
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise LoadError("empty file")
    if unsure and (reason := unreadable_reason(text)):
        raise LoadError(f"{_NOT_TEXT}: {reason} ({unsure})")
    return text


def _guess_decode(data: bytes) -> str | None:
    """charset-normalizer's guess, or None when it has no plausible candidate."""
    from charset_normalizer import from_bytes

    # Without a BOM a UTF-16/32 guess is noise (real UTF-16 Latin text has NULs, refused above).
    matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    if not matches:
        return None
    best = matches[0]
    # On short texts several code pages decode equally well; Windows-1252 is by far the most
    # likely for Western text, and picking cp1250 instead turns "à Genève" into "ŕ Genčve".
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return str(next((m for m in tied if m.encoding == "cp1252"), best))


def _split_front_matter(text: str) -> tuple[str, dict[str, Any]]:
    """Body and YAML front matter (between "---" lines) of a text or Markdown file."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, {}
    import yaml

    try:
        fields = yaml.safe_load(match[1] or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise LoadError(f"front matter is not valid YAML: {problem}{where}") from exc
    if fields is None:  # "---" then "---": an empty front matter
        fields = {}
    if not isinstance(fields, dict):
        return text, {}  # a Markdown rule ("---") that is no front matter: keep it all
    body = text[match.end():]
    if not body.strip():
        raise LoadError("no text after the front matter")
    return body, {str(key): value for key, value in fields.items()}


def _read_html(html: str) -> tuple[str, dict[str, Any]]:
    import trafilatura
    from trafilatura.settings import Document

    # Like pypdf below, a parser fed arbitrary pages may fail in any way; the failure names it.
    try:
        document = trafilatura.bare_extraction(
            html, favor_precision=True, include_comments=False, with_metadata=True
        )
    except Exception as exc:
        raise LoadError(f"cannot parse HTML ({type(exc).__name__}: {exc})") from exc
    # A Document (``as_dict`` is not asked for), or None when nothing could be extracted.
    if not isinstance(document, Document) or not (document.text and document.text.strip()):
        raise LoadError("no main text found in the HTML page")
    fields = {"title": document.title, "url": document.url}
    return document.text, {key: value for key, value in fields.items() if value}


class _Kept(logging.Handler):
    """Keeps the messages of the log records it receives."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


_LIBRARY_LOG_LOCK = threading.Lock()


@contextlib.contextmanager
def _library_log(name: str) -> Iterator[list[str]]:
    """The warnings that library ``name`` logs meanwhile, kept instead of printed.

    pypdf logs what it repairs in a damaged file ("invalid pdf header", "EOF marker not
    found"); without logging set up (the CLI, the app) Python prints them to stderr beside our
    own line for the same file. They are about the file being read: its failure reason says
    them. The lock keeps two threads from swapping the logger's settings at once."""
    logger = logging.getLogger(name)
    kept = _Kept()
    with _LIBRARY_LOG_LOCK:
        propagate = logger.propagate
        logger.addHandler(kept)
        logger.propagate = False
        try:
            yield kept.messages
        finally:
            logger.removeHandler(kept)
            logger.propagate = propagate


def _read_pdf(data: bytes) -> tuple[str, dict[str, Any]]:
    from pypdf import PdfReader

    # pypdf can fail with almost any exception on a damaged file: the failure names it rather
    # than stopping the whole ingest.
    with _library_log("pypdf") as warned:
        try:
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise LoadError("PDF is password-protected: save an unprotected copy")
            pages = [(page.extract_text() or "").strip() for page in reader.pages]
            title = reader.metadata.title if reader.metadata else None
        except LoadError:
            raise
        except Exception as exc:
            notes = "".join(f"; {m}" for m in dict.fromkeys(warned))
            raise LoadError(f"cannot read PDF ({type(exc).__name__}: {exc}{notes})") from exc
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise LoadError("PDF has no text layer (scanned?): run OCR first")
    return text, {"title": title} if title else {}


def _read_docx(data: bytes, max_bytes: int) -> tuple[str, dict[str, Any]]:
    import docx

    limit = min(max(10 * max_bytes, _MIN_UNZIPPED_BYTES), _MAX_UNZIPPED_BYTES)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
        if unzipped > limit:
            raise LoadError(
                f"DOCX unpacks to {unzipped / _MB:.1f} MB, over the {limit / _MB:g} MB limit "
                "(zip bomb?)"
            )
        document = docx.Document(io.BytesIO(data))
    except LoadError:
        raise
    except Exception as exc:  # as for PDF: a damaged file may fail in any way
        raise LoadError(f"cannot read DOCX ({type(exc).__name__}: {exc})") from exc
    text = "\n".join(paragraph.text for paragraph in document.paragraphs).strip()
    if not text:
        raise LoadError("DOCX has no text")
    title = document.core_properties.title
    return text, {"title": title} if title else {}


# --- fields -> Readout -------------------------------------------------------------------------


def _make_readout(text: str, fields: Mapping[str, Any], path: Path, default_id: str) -> Readout:
    """A Readout from its text and the fields found with it; missing metadata is derived."""
    known: dict[str, Any] = {}
    extra: dict[str, Scalar] = {}
    # Canonical keys first, so that "url" beats its alias "source_url" when both are given.
    for key, value in sorted(fields.items(), key=lambda item: item[0] not in _META_FIELDS):
        name = _FIELD_ALIASES.get(key, key)
        if name in _META_FIELDS and name not in known:
            known[name] = value
        elif (scalar := _extra_value(value)) is not None:
            extra[key] = scalar
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if reason := unreadable_reason(text):  # a PDF's broken font map, a record of noise
        raise LoadError(f"{_NOT_TEXT}: {reason} (a binary file, or text in another encoding?)")
    language = _language_field(known.get("language")) or detect_language(text)
    title = _string_field(known, "title")
    title = " ".join(title.split()) if title else derive_title(text)
    given_id = _id_field(known.get("id"))
    return Readout(
        doc_id=given_id or default_id,
        text=text,
        title=title,
        date=_date_field(known.get("date")) or find_date(text, language),
        language=language,
        source=_string_field(known, "source") or "",
        url=_string_field(known, "url"),
        countries=find_countries(f"{title}\n{text}"),
        path=str(path.resolve()),
        extra=extra,
        id_from_path=not given_id,
    )


def _has_value(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _id_field(value: Any) -> str | None:
    if not _has_value(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise LoadError(f"'id' must be a string or an integer, got {_json_type(value)}")


def _string_field(fields: Mapping[str, Any], name: str) -> str | None:
    """A text field; numbers are taken as text (a title "1914"), other types are refused."""
    value = fields.get(name)
    if not _has_value(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LoadError(f"'{name}' must be a string, got {_json_type(value)}")


def _date_field(value: Any) -> str | None:
    """ISO date of a record's ``date``: "2021-02-22", "2021/02/22", "22 February 2021"…"""
    if not _has_value(value):
        return None
    if isinstance(value, dt.datetime):  # YAML front matter yields dates, not strings
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise LoadError(f"'date' must be a string, got {_json_type(value)}")
    text = value.strip()
    if match := (_NUMERIC_DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)):
        try:
            return dt.date(*map(int, match.groups())).isoformat()
        except ValueError:
            raise LoadError(f"date '{value}' does not exist") from None
    import dateparser

    # A closed language list: with all 200 locales an unparseable value costs seconds.
    parsed = dateparser.parse(
        text,
        languages=list(READOUT_LANGUAGES),
        settings={"REQUIRE_PARTS": ["day", "month", "year"], "DATE_ORDER": "DMY",
                  "PREFER_DAY_OF_MONTH": "first", "RETURN_AS_TIMEZONE_AWARE": False},
    )
    if parsed is None:
        raise LoadError(f"date '{value}' is not a full date (expected YYYY-MM-DD)")
    return parsed.date().isoformat()


def _language_field(value: Any) -> str | None:
    """ISO 639-1 code of a record's ``language``: "fr", "FR", "fr-CH", "fra" or "French"."""
    if not _has_value(value):
        return None
    if not isinstance(value, str):
        raise LoadError(f"'language' must be a string, got {_json_type(value)}")
    import pycountry

    text = value.strip()
    if text.lower() == "und":
        return "und"
    code = re.split(r"[-_]", text)[0].lower()
    language = (
        pycountry.languages.get(alpha_2=code) if len(code) == 2
        else pycountry.languages.get(alpha_3=code) if len(code) == 3
        else None
    )
    if language is None:
        try:
            language = pycountry.languages.lookup(text)
        except LookupError:
            language = None
    if language is None or not hasattr(language, "alpha_2"):
        raise LoadError(f"language '{value}' is not an ISO 639-1 code (e.g. 'en', 'fr', 'zh')")
    return str(language.alpha_2)


def _extra_value(value: Any) -> Scalar | None:
    """Extra fields as stored metadata: scalars as they are, structures as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _slug(stem: str) -> str:
    """Readable id from a file name: lowercase ASCII letters, digits, ".", "_" and "-".

    Letters without an ASCII form (Chinese) would vanish, so a short hash of the name is added
    to keep "习近平-biden" and "拜登-biden" apart.
    """
    ascii_chars = [
        unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode() for ch in stem
    ]
    lost = any(ch.isalnum() and not asc for ch, asc in zip(stem, ascii_chars, strict=True))
    # A character without ASCII form ("–", "·") separates words like a space does.
    joined = "".join(ascii_ch or " " for ascii_ch in ascii_chars)
    slug = re.sub(r"[^a-z0-9._]+", "-", joined.lower()).strip("-._")
    if lost or not slug:
        digest = hashlib.sha1(stem.encode("utf-8")).hexdigest()[:8]
        slug = f"{slug}-{digest}" if slug else f"readout-{digest}"
    return slug
