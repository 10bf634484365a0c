"""Readouts of the same event by the two sides: the White House's and CCTV's account of one
Biden–Xi call, the Swiss and the Chinese release on one visit.

A pair is found from what the readouts say and when, never from links in their metadata.
Candidates are two readouts from different publishers, dated at most ``MAX_DAYS`` apart,
whose titles and openings name a person in common (any script, through the gazetteer).
Each is scored by named signals (``FEATURES``: whether each names the people the other opens
with, the people and countries they share, the days between them, the similarity of their
titles and openings in the multilingual embedder, whether one is a preview) with weights
fitted by ``bench/pairs.py --fit`` (``rag/pairs_model.json``, with the confidence a pair
needs); a readout then keeps only its most confident partner per publisher and language.
Translations of one release (the Swiss FR and EN versions, same publisher) are never paired
with each other: they are one side.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.embeddings import Embeddings

from rag.fitted import Logistic
from rag.metadata import find_countries
from rag.names import gazetteer
from rag.query import announces
from rag.schema import Readout, ReadoutInfo
from rag.sentences import first_sentence, sentence_spans

if TYPE_CHECKING:
    from rag.store import ReadoutStore

MAX_DAYS = 2  # CCTV airs the evening after; the White House may date a call the day before
OPENING_SENTENCES = 3  # who met whom is said in the title and the first sentences
OPENING_MAX_CHARS = 600
MODEL_PATH = Path(__file__).resolve().with_name("pairs_model.json")
REFIT = "python bench/pairs.py --fit"
_HOST = re.compile(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)", re.IGNORECASE)
# Second-level labels under which the registrable name is one more label down (fmprc.gov.cn).
_GENERIC_SLD = frozenset("gov com org net edu co ac go gob gouv mil".split())


@dataclass(frozen=True)
class Profile:
    """What pairing reads of a readout: who, where, when, and who published it."""

    readout: Readout
    day: dt.date | None
    domain: str  # registrable domain of the url ("" without one)
    people: frozenset[str]  # gazetteer labels of the persons the title and opening name
    countries: frozenset[str]  # ISO codes named in the title and opening
    opening: str  # title and first sentences: what the embedder compares
    people_in_text: frozenset[str] = frozenset()  # persons named anywhere in it
    preview: bool = False  # opens by announcing the event ("will speak ... this Friday")
    principals: frozenset[str] = frozenset()  # persons of the title and first sentence

    @property
    def doc_id(self) -> str:
        return self.readout.doc_id


@dataclass(frozen=True)
class Pair:
    """Two readouts of one event from different publishers, with how sure and why."""

    a: Readout
    b: Readout
    confidence: float
    why: tuple[str, ...]
    similarity: float  # cosine of their titles and openings in the embedder

    def other(self, doc_id: str) -> Readout:
        """The readout of the pair that is not ``doc_id``."""
        return self.b if doc_id == self.a.doc_id else self.a

    def to_dict(self) -> dict[str, Any]:
        """JSON form of ``readouts pairs --json``."""
        return {
            "a": readout_ref(self.a), "b": readout_ref(self.b),
            "confidence": round(self.confidence, 3), "similarity": round(self.similarity, 3),
            "why": list(self.why),
        }


def readout_ref(readout: Readout) -> dict[str, Any]:
    """A readout's id and the metadata that tells the two sides apart (no text)."""
    return {"doc_id": readout.doc_id, "title": readout.title, "date": readout.date,
            "language": readout.language, "source": readout.source, "url": readout.url}


def registrable_domain(url: str | None) -> str:
    """"whitehouse.gov" for https://www.whitehouse.gov/..., "fmprc.gov.cn" for its pages."""
    match = _HOST.match(url or "")
    if not match:
        return ""
    labels = match.group(1).lower().rstrip(".").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _GENERIC_SLD and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def one_publisher(source_a: str, url_a: str | None, source_b: str, url_b: str | None) -> bool:
    """The same source name, or pages of the same site (the Swiss FR and EN releases name
    their department in two languages but share admin.ch)."""
    domain = registrable_domain(url_a)
    return (source_a.strip().lower() == source_b.strip().lower()
            or bool(domain and domain == registrable_domain(url_b)))


def same_publisher(a: Profile, b: Profile) -> bool:
    """Whether two readouts come from one publisher (see ``one_publisher``)."""
    return one_publisher(a.readout.source, a.readout.url, b.readout.source, b.readout.url)


def opening_text(readout: Readout) -> str:
    """The title and the first sentences of a readout, at most ``OPENING_MAX_CHARS``."""
    spans = sentence_spans(readout.text)[:OPENING_SENTENCES]
    body = readout.text[spans[0][0]:spans[-1][1]] if spans else ""
    return f"{readout.title}\n{body}"[:OPENING_MAX_CHARS].strip()


def profile(readout: Readout) -> Profile:
    """A readout's pairing profile (no model involved)."""
    opening = opening_text(readout)
    people = frozenset(n.label for n in gazetteer().find(opening) if not n.place)
    try:
        day = dt.date.fromisoformat(readout.date) if readout.date else None
    except ValueError:
        day = None
    in_text = frozenset(n.label for n in gazetteer().find(f"{readout.title}\n{readout.text}")
                        if not n.place)
    head = f"{readout.title}\n{first_sentence(readout.text)}"
    principals = frozenset(n.label for n in gazetteer().find(head) if not n.place)
    return Profile(readout, day, registrable_domain(readout.url), people,
                   frozenset(find_countries(opening)), opening, in_text,
                   announces(readout.text), principals)


def candidates(profiles: Sequence[Profile], max_days: int = MAX_DAYS
               ) -> list[tuple[Profile, Profile]]:
    """Pairs of dated readouts from different publishers at most ``max_days`` apart that
    name at least one person in common."""
    dated = sorted((p for p in profiles if p.day), key=lambda p: (p.day, p.doc_id))
    out = []
    for i, a in enumerate(dated):
        for b in dated[i + 1:]:
            if (b.day - a.day).days > max_days:  # type: ignore[operator]
                break
            if a.people & b.people and not same_publisher(a, b):
                out.append((a, b))
    return out


# embedder -> opening -> vector (weak: a model's vectors go with the model)
_OPENINGS: weakref.WeakKeyDictionary[Embeddings, dict[str, np.ndarray]] = \
    weakref.WeakKeyDictionary()
OPENINGS_CACHED = 4096


def embed_openings(profiles: Sequence[Profile], embeddings: Embeddings) -> dict[str, np.ndarray]:
    """doc_id -> normalised vector of its title and opening. Vectors are kept for the
    process: a readout's neighbours are the candidates of the next readout asked about."""
    known = _OPENINGS.setdefault(embeddings, {})
    missing = list(dict.fromkeys(p.opening for p in profiles if p.opening not in known))
    if missing:
        if len(known) + len(missing) > OPENINGS_CACHED:
            known.clear()
        vectors = np.asarray(embeddings.embed_documents(missing), dtype=np.float32)
        known.update(zip(missing, vectors, strict=True))
    return {p.doc_id: known[p.opening] for p in profiles}


FEATURES = ("coverage", "people_text", "country_coverage", "gap", "similarity", "preview")


def coverage(a: Profile, b: Profile) -> float:
    """The share of each readout's principals (title and first sentence) that the other
    names anywhere, the smaller of the two: the readout of Parmelin's meeting with Putin
    names Parmelin, not Biden, whom the White House readout of the day before met."""
    shares = [len(x.principals & y.people_in_text) / len(x.principals)
              for x, y in ((a, b), (b, a)) if x.principals]
    return min(shares, default=0.0)


def country_coverage(a: Profile, b: Profile) -> float:
    """The share of each readout's opening countries that the other names anywhere, the
    smaller of the two: the readout of Biden's meeting with Duda names Poland, which the
    Swiss release on the Geneva talks of the same days never does."""
    shares = [len(x.countries & set(y.readout.countries)) / len(x.countries)
              for x, y in ((a, b), (b, a)) if x.countries]
    return min(shares, default=0.0)


def features(a: Profile, b: Profile, similarity: float) -> dict[str, float]:
    """The named signals that two candidate readouts tell one event."""
    gap = abs((b.day - a.day).days) if a.day and b.day else MAX_DAYS + 1
    return {
        "people_text": min(len(a.people_in_text & b.people_in_text), 3),  # anywhere
        "coverage": coverage(a, b),
        "country_coverage": country_coverage(a, b),
        "gap": gap,
        "similarity": similarity,
        "preview": float(a.preview or b.preview),  # "will speak ... this Friday"
    }


@functools.cache
def pairs_model(path: Path = MODEL_PATH) -> Logistic:
    """The fitted weights and the confidence a pair needs (``rag/pairs_model.json``, written
    by ``bench/pairs.py --fit``: logistic regression over every candidate of the shared
    corpus, labels from bench/pairs-labelled.jsonl)."""
    return Logistic.load(path, FEATURES, REFIT)


def confidence_floor() -> float:
    """The confidence under which a candidate is not a pair (the fitted threshold)."""
    return pairs_model().threshold


def score(a: Profile, b: Profile, similarity: float) -> tuple[float, tuple[str, ...]]:
    """Confidence that two candidate readouts tell the same event, and the reasons."""
    signals = features(a, b, similarity)
    confidence = float(pairs_model().probabilities(np.array([signals[n] for n in FEATURES])))
    gap = int(signals["gap"])
    why = [f"dates {gap} day{'s' if gap != 1 else ''} apart" if gap else "same date",
           f"both name {', '.join(sorted(a.people & b.people))}"]
    if signals["coverage"] == 1.0:
        why.append("each names the people the other opens with")
    if a.countries & b.countries:
        why.append(f"both name countries {', '.join(sorted(a.countries & b.countries))}")
    if a.readout.language != b.readout.language:
        why.append(f"{a.readout.language} and {b.readout.language}")
    why.append(f"titles and openings similar ({similarity:.2f})")
    if signals["preview"]:
        why.append("one announces the event before it happened")
    return confidence, tuple(why)


def scored_candidates(readouts: Sequence[Readout], embeddings: Embeddings,
                      max_days: int = MAX_DAYS) -> list[tuple[Profile, Profile, float]]:
    """Every candidate pair with the similarity of its titles and openings."""
    found = candidates([profile(r) for r in readouts], max_days)
    involved = list({p.doc_id: p for pair in found for p in pair}.values())
    vectors = embed_openings(involved, embeddings) if involved else {}
    return [(a, b, float(vectors[a.doc_id] @ vectors[b.doc_id])) for a, b in found]


def _side(p: Profile) -> tuple[str, str]:
    """A publisher in one language: one readout of an event each, at most."""
    return (p.domain or p.readout.source.strip().lower(), p.readout.language)


def best_only(pairs: Sequence[tuple[Profile, Profile, float]]
              ) -> list[tuple[Profile, Profile, float]]:
    """Pairs in which each readout is the other's most confident partner among the readouts
    of that publisher in that language (a White House readout of one call, not also the
    press secretary's preview or the readout of the next day's meeting)."""
    best: dict[tuple[str, tuple[str, str]], float] = {}
    for a, b, conf in pairs:
        for x, y in ((a, b), (b, a)):
            key = (x.doc_id, _side(y))
            best[key] = max(best.get(key, 0.0), conf)
    return [(a, b, c) for a, b, c in pairs
            if c >= best[(a.doc_id, _side(b))] and c >= best[(b.doc_id, _side(a))]]


def find_pairs(readouts: Sequence[Readout], embeddings: Embeddings,
               min_confidence: float | None = None, max_days: int = MAX_DAYS) -> list[Pair]:
    """Every pair of readouts of one event by different publishers, most confident first
    (``min_confidence``: the fitted threshold unless given)."""
    floor = confidence_floor() if min_confidence is None else min_confidence
    scored = []
    for a, b, similarity in scored_candidates(readouts, embeddings, max_days):
        confidence, why = score(a, b, similarity)
        scored.append((a, b, confidence, why, similarity))
    kept = {(a.doc_id, b.doc_id) for a, b, _ in
            best_only([(a, b, c) for a, b, c, _, _ in scored])}
    pairs = [Pair(a.readout, b.readout, c, why, sim) for a, b, c, why, sim in scored
             if c >= floor and (a.doc_id, b.doc_id) in kept]
    return sorted(pairs, key=lambda p: (-p.confidence, p.a.date or "", p.a.doc_id))


def readouts_around(store: ReadoutStore, date: str | None, days: int = 2 * MAX_DAYS,
                    infos: Sequence[ReadoutInfo] | None = None) -> list[Readout]:
    """The stored readouts dated at most ``days`` from ``date``: a readout's possible
    partners and their own competitors. ``infos``: ``store.list_readouts()`` when the
    caller has it (0.2 s at 1,300 readouts)."""
    if not date:
        return []
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return []
    since, until = (day - dt.timedelta(days=days)).isoformat(), \
        (day + dt.timedelta(days=days)).isoformat()
    listed = store.list_readouts() if infos is None else infos
    near = [i.doc_id for i in listed if i.date and since <= i.date <= until]
    return [r for r in map(store.get_readout, near) if r is not None]


def other_side(readout: Readout, store: ReadoutStore, embeddings: Embeddings,
               infos: Sequence[ReadoutInfo] | None = None) -> list[Pair]:
    """The pairs of ``readout`` with the other side's readouts of its event."""
    near = readouts_around(store, readout.date, infos=infos)
    if readout.doc_id not in {r.doc_id for r in near}:
        near.append(readout)
    return [p for p in find_pairs(near, embeddings)
            if readout.doc_id in (p.a.doc_id, p.b.doc_id)]


def stored_pairs(store: ReadoutStore, embeddings: Embeddings,
                 min_confidence: float | None = None) -> list[Pair]:
    """Every pair among the stored readouts. Only readouts that have a readout of another
    publisher within ``MAX_DAYS`` are read in full (their metadata says so)."""
    infos = [i for i in store.list_readouts() if i.date]
    keep: set[str] = set()
    for i, a in enumerate(infos):  # sorted by date
        for b in infos[i + 1:]:
            if _days(a.date or "", b.date or "") > MAX_DAYS:
                break
            if not one_publisher(a.source, a.url, b.source, b.url):
                keep.update((a.doc_id, b.doc_id))
    readouts = [r for r in map(store.get_readout, sorted(keep)) if r is not None]
    return find_pairs(readouts, embeddings, min_confidence)


def _days(a: str, b: str) -> int:
    try:
        return abs((dt.date.fromisoformat(b) - dt.date.fromisoformat(a)).days)
    except ValueError:
        return MAX_DAYS + 1
