"""What the store keeps and where: collection names, the format, the metadata of each row.

Per embedder (so that vectors of two models never mix): ``<prefix>-vectors-<code>`` per
language, one row per chunk of a readout in that language, its vector once (HNSW, cosine)
and the metadata filters and deletions read, created at the first write of that language;
``<prefix>-docs``: each readout's full text and metadata (no meaningful vector), whose
collection metadata holds the format and the model's probe (it always exists);
``<prefix>-state``: the generation stamp and the writers' pending marks. A chunk's text is
never stored: it is cut from its readout's text by its offsets.

A search in one language is a plain HNSW query of its own collection: Chroma's metadata
filter is evaluated row by row and grows with the store (14.5 ms against 1.5 ms per query
at 5k chunks, see docs/scale.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from rag.schema import Chunk, Readout, ReadoutInfo

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateCollectionConfiguration
    from chromadb.api.models.Collection import Collection
    from chromadb.api.types import Where

FORMAT_VERSION = "2"  # 1: chunks twice (``-chunks`` and ``-lang-<code>``), see migrate.py
NAME_MAX = 63  # Chroma's longest collection name
SAFE_CODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?")  # kept as it is in a name
PROBE_TEXT = "Readouts probe: Xi Jinping spoke with Sadyr Japarov on 22 February 2021."
PROBE_DIMS = 8  # leading dimensions of the probe vector kept in the collection metadata
PROBE_TOLERANCE = 0.01  # thread counts and CPUs move floats a little, another model a lot
DUMMY = [1.0]  # docs/state records carry no meaningful vector
PENDING = "pending-"  # state ids of writers whose commits are not yet stamped
GONE = "gone-"  # state ids recording when a readout was removed (``changes_since``)
CHANGED = "changed_at"  # a readout record's last write, wall clock (``changes_since``)
# Chunk metadata: what filters (``where_clause``, ``matches``), deletions and repair read, and
# the chunk's span in its readout. Every stored key costs Chroma an indexed row per chunk; the
# readout's own fields (title, url, ...) live once in the docs collection.
CHUNK_KEYS = ("doc_id", "hash", "index", "start", "end", "date_int", "language", "source")

Meta = dict[str, Any]


def vectors(rows: Sequence[Sequence[float]]) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Vectors as Chroma takes them: one float32 array."""
    return np.asarray(rows, dtype=np.float32)


def dummies(n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """The placeholder vectors of ``n`` docs or state records."""
    return vectors([DUMMY] * n)


def where(clause: dict[str, Any]) -> Where:
    """A ``where`` clause built from our own values (Chroma's type wants exact lists)."""
    return cast("Where", clause)


def chunk_space() -> CreateCollectionConfiguration:
    """Chroma 1.x configuration of a vectors collection: HNSW with cosine distance."""
    return {"hnsw": {"space": "cosine"}}


@dataclass(frozen=True)
class Names:
    """The collection names of one embedder's store."""

    prefix: str

    @classmethod
    def of(cls, embedder_key: str) -> Names:
        """Names for an embedder (Chroma allows 3-63 characters)."""
        return cls(f"readouts-{embedder_key}"[:50].rstrip("-_."))

    @property
    def language_prefix(self) -> str:
        """What the names of the per-language vector collections start with."""
        return f"{self.prefix}-vectors-"

    def language(self, code: str) -> str:
        """The vectors collection of a language: the code itself when Chroma's name rules
        allow it, else a digest of it (after a ".", which no kept code contains)."""
        room = NAME_MAX - len(self.language_prefix)
        if SAFE_CODE.fullmatch(code) and len(code) <= room:
            return self.language_prefix + code
        return self.language_prefix + "x." + hashlib.sha1(code.encode()).hexdigest()[: room - 2]

    @property
    def docs(self) -> str:
        return f"{self.prefix}-docs"

    @property
    def state(self) -> str:
        return f"{self.prefix}-state"

    @property
    def single_vectors(self) -> str:
        """The one all-languages collection of a layout that never shipped (refused)."""
        return f"{self.prefix}-vectors"

    @property
    def legacy_chunks(self) -> str:
        """Format 1's chunks collection (see migrate.py)."""
        return f"{self.prefix}-chunks"

    def legacy_languages(self, found: Sequence[str]) -> list[str]:
        """Format 1's per-language copies among the collection names ``found``."""
        return sorted(n for n in found if n.startswith(f"{self.prefix}-lang-"))


def language_meta(meta: Meta, code: str) -> Meta:
    """A language collection's metadata: the store's embedder and format, and its language
    (read back on opening: a name may be a digest of the code)."""
    return {"embedder": meta["embedder"], "format": meta["format"], "language": code}


def language_collections(client: ClientAPI, names: Names, embedder: str) -> dict[str, str]:
    """language code -> collection name of this embedder's vector collections."""
    found: dict[str, str] = {}
    for c in client.list_collections():
        meta = dict(c.metadata or {})
        if (c.name.startswith(names.language_prefix) and "language" in meta
                and meta.get("embedder") == embedder):
            found[str(meta["language"])] = c.name
    return found


@dataclass
class Collections:
    """The open collections of one embedder (replaced together on reopening): readouts,
    state, and the vectors of each language, found on opening and created at the first
    write of a language."""

    client: ClientAPI
    names: Names
    meta: Meta
    docs: Collection
    state: Collection
    languages: dict[str, Collection] = field(default_factory=dict)

    def vectors(self) -> list[Collection]:
        """Every language's vectors collection, by language code."""
        return [c for _, c in sorted(dict(self.languages).items())]  # a copy: writers add

    def scope(self, languages: Sequence[str]) -> list[Collection]:
        """The collections of ``languages`` (those that exist), or all when none is named."""
        if not languages:
            return self.vectors()
        known = dict(self.languages)
        return [known[code] for code in dict.fromkeys(languages) if code in known]

    def refresh(self) -> None:
        """Open the language collections that other processes created since."""
        for code, name in language_collections(
                self.client, self.names, str(self.meta["embedder"])).items():
            if code not in self.languages:
                self.languages[code] = self.client.get_collection(name, embedding_function=None)

    def for_language(self, code: str) -> Collection:
        """The vectors collection of a language, created if it is new (by a writer)."""
        if code not in self.languages:
            self.languages[code] = language_collection(self.client, self.names, self.meta, code)
        return self.languages[code]


def language_collection(client: ClientAPI, names: Names, meta: Meta, code: str) -> Collection:
    """Get or create a language's vectors collection; a name shared with another language
    (two digests alike) is refused rather than mixed."""
    from rag.errors import StoreError

    collection = client.get_or_create_collection(
        names.language(code), configuration=chunk_space(), metadata=language_meta(meta, code),
        embedding_function=None,
    )
    found = (collection.metadata or {}).get("language")
    if found != code:
        raise StoreError(f"The collection {collection.name} holds language {found!r}, "
                         f"not {code!r}: rename one of the two language codes.")
    return collection


def collection_names(client: ClientAPI) -> list[str]:
    """Every collection name in the store."""
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def open_collections(client: ClientAPI, names: Names, meta: Meta) -> Collections:
    """Get or create the docs and state collections (``meta`` is only written on creation)
    and open every language's vectors collection."""
    collections = Collections(
        client=client, names=names, meta=meta,
        docs=client.get_or_create_collection(names.docs, metadata=meta, embedding_function=None),
        state=client.get_or_create_collection(
            names.state, metadata=meta, embedding_function=None
        ),
    )
    collections.refresh()
    return collections


def date_int(date: str | None) -> int:
    """A date as the integer filters compare: "2021-02-22" -> 20210222; none -> 0."""
    return int(date.replace("-", "")) if date else 0


def base_meta(readout: Readout) -> Meta:
    """The readout's fields as Chroma metadata."""
    return {
        "doc_id": readout.doc_id, "title": readout.title, "date": readout.date or "",
        "date_int": date_int(readout.date), "language": readout.language,
        "source": readout.source, "url": readout.url or "",
        "countries": ",".join(readout.countries),
    }


def chunk_meta(readout: Readout, chunk: Chunk, content_hash: str) -> Meta:
    """A chunk row's metadata: ``CHUNK_KEYS`` and a ``c_XX`` flag per country named."""
    meta: Meta = {
        "doc_id": readout.doc_id, "hash": content_hash, "index": chunk.index,
        "start": chunk.start, "end": chunk.end, "date_int": date_int(readout.date),
        "language": readout.language, "source": readout.source,
    }
    meta.update({f"c_{code}": True for code in readout.countries})
    return meta


def slim_chunk_meta(meta: Meta) -> Meta:
    """A chunk's metadata as this format keeps it (format 1 kept the readout's fields too)."""
    return {k: v for k, v in meta.items() if k in CHUNK_KEYS or k.startswith("c_")}


def doc_meta(readout: Readout, content_hash: str, n_chunks: int, dirty: bool) -> Meta:
    """A readout record's metadata: its fields, its committed hash, its state."""
    meta = base_meta(readout)
    meta.update(
        hash=content_hash, dirty=dirty, chunks=n_chunks, path=readout.path,
        extra=json.dumps(readout.extra, ensure_ascii=False),
    )
    return meta


def probe_string(vector: Sequence[float]) -> str:
    """The model's fingerprint: its output size and the first values of a fixed probe."""
    head = ",".join(f"{x:.4f}" for x in vector[:PROBE_DIMS])
    return f"{len(vector)}:{head}"


def same_probe(stored: str, current: str) -> bool:
    """True when two fingerprints come from the same model (within float noise)."""
    size, _, values = stored.partition(":")
    now_size, _, now_values = current.partition(":")
    if size != now_size or not values:
        return False
    pairs = zip(values.split(","), now_values.split(","), strict=False)
    return all(abs(float(a) - float(b)) <= PROBE_TOLERANCE for a, b in pairs)


def countries(meta: Meta) -> tuple[str, ...]:
    """The country codes of a readout record."""
    return tuple(c for c in str(meta.get("countries", "")).split(",") if c)


def info(meta: Meta) -> ReadoutInfo:
    """A readout record (its metadata with its ``id``) as a ``ReadoutInfo``."""
    return ReadoutInfo(
        doc_id=meta["id"], title=meta["title"], date=meta["date"] or None,
        language=meta["language"], source=meta["source"], url=meta["url"] or None,
        countries=countries(meta), path=meta["path"], content_hash=meta["hash"],
        chunks=int(meta["chunks"]),
    )


def readout(doc_id: str, text: str, meta: Meta) -> Readout:
    """A readout record (text and metadata) as a ``Readout``."""
    return Readout(
        doc_id=doc_id, text=text, title=meta["title"], date=meta["date"] or None,
        language=meta["language"], source=meta["source"], url=meta["url"] or None,
        countries=countries(meta), path=meta["path"],
        extra=json.loads(meta.get("extra") or "{}"),
    )


def chunk_key(chunk_id: str) -> tuple[str, str]:
    """(doc_id, content hash prefix) of a chunk id made by ``chunk_readout``."""
    parts = chunk_id.rsplit(":", 2)
    return (parts[0], parts[1]) if len(parts) == 3 else (chunk_id, "")
