"""Question + filters -> ranked passages: language-centred dense and BM25 candidates, fused.

Dates named in the question narrow the search (with a fallback when nothing matches);
countries and the readouts of the previous turn boost.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.lexical import LexicalHit, LexicalIndex
from rag.metadata import find_countries
from rag.names import KnownName
from rag.query import (
    QuestionFacts,
    analyse,
    announces,
    event_kind,
    mentions_topic,
    stated_days,
)
from rag.schema import Filters, Passage
from rag.sentences import sentence_spans
from rag.store import ReadoutStore
from rag.tokenize import fold

MIN_CENTROID_CHUNKS = 300
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
COUNTRY_BOOST = 0.01  # on a centred cosine scale where answers sit ~0.05 above the rest
NAME_BOOST = 0.08  # times the share of the question's known names the readout names
FOLLOW_UP_BOOST = 0.05
ORDER_BOOST = 0.06  # the earliest or latest readout naming everyone, for "first"/"last"
ID_FILTER_MAX = 20_000  # up to this many matching chunks, dense search gets their ids
OPENING_BOOST = 0.03  # a readout's opening passage, for "when" questions: it has the date
SENTENCE_WEIGHT = 0.05  # within a readout: a sentence holding the question's subject words
ABOUT_BOOST = 0.1  # readouts naming every person asked in their title (else opening)
EVENT_BOOST = 0.06  # a readout whose title says it was the kind of event asked: call, meeting
ALL_NAMED_BOOST = 0.1  # readouts naming every person and country the question names
ANNOUNCEMENT_PENALTY = 0.1  # a preview of the event asked about ranks below its readout
OTHER_DAY_PENALTY = 0.1  # a readout opening on another day than the one day asked
SCOPE_MAX_READOUTS = 500  # ... searched on their own when they are no more than this
LIST_CHUNKS_PER_READOUT = 4  # BM25 hits fetched per readout a list may take


@dataclass(frozen=True)
class Retrieval:
    """Ranked passages plus what the answerer needs to judge the evidence."""

    passages: tuple[Passage, ...]
    facts: QuestionFacts
    query_vector: tuple[float, ...]
    best_dense: float  # highest cosine among dense candidates, 0 if none
    date_narrowed: bool  # the question's own dates restricted the search
    naming_all: frozenset[str] = frozenset()  # readouts naming every person and country asked
    unknown_topics: tuple[str, ...] = ()  # the question's subject words no readout contains
    other_day: frozenset[str] = frozenset()  # readouts of another day than the one day asked
    previews: frozenset[str] = frozenset()  # readouts announcing the event ("will speak")
    left_out: int = 0  # readouts a list question matched beyond those listed


@functools.cache
def reference_centroids(embedder_key: str) -> dict[str, np.ndarray]:
    """Per-language mean vectors of an embedder over the 1,355 shared-corpus readouts
    (``rag/reference/<key>.npz``); empty for embedders that ship none."""
    path = REFERENCE_DIR / f"{embedder_key}.npz"
    if not path.exists():
        return {}
    with np.load(path) as arrays:
        return {name: arrays[name] for name in arrays.files}


class Retriever:
    """Hybrid retrieval over one store."""

    def __init__(self, store: ReadoutStore, lexical: LexicalIndex, settings: Settings):
        self.store = store
        self.lexical = lexical
        self.settings = settings

    def retrieve(
        self,
        question: str,
        filters: Filters = Filters(),
        k: int | None = None,
        prefer_docs: Sequence[str] = (),
        mode: str = "hybrid",
    ) -> Retrieval:
        """The ``k`` best passages for ``question``; ``mode`` is hybrid, dense or lexical."""
        k = k or self.settings.top_k
        self.lexical.sync()  # once per question: each check reads the store's stamp
        facts = analyse(question)
        narrowed = facts.date_filters(filters)
        vector = self.store.embeddings.embed_query(question)
        passages, best, everyone = self._fused(question, vector, narrowed, facts, prefer_docs,
                                               mode)
        date_narrowed = narrowed is not filters
        if date_narrowed and not passages:  # the dates may be wrong: look without them
            passages, best, everyone = self._fused(question, vector, filters, facts,
                                                   prefer_docs, mode)
        listed, left_out = self._listed(question, vector, filters, facts, passages[:k])
        top = passages[:k] + listed
        return Retrieval(tuple(top), facts, tuple(vector), best, date_narrowed,
                         frozenset(everyone), self.lexical.unknown(facts.topics),
                         frozenset(_other_day_readouts(top, facts)),
                         frozenset(_previews(top, facts)), left_out)

    def _listed(self, question: str, vector: list[float], filters: Filters,
                facts: QuestionFacts, top: list[Passage]) -> tuple[list[Passage], int]:
        """For "Which leaders did Biden call in October 2023?": the other readouts of the
        dates asked whose title or first sentence names everyone asked and whose title says
        the kind of event, when asked; by date, one passage each (its opening when it is
        found). The top passages alone listed three of Biden's nine calls that month. Also
        how many more there were than ``list_max_readouts``."""
        if not (facts.wants_list and facts.people and facts.since and facts.until):
            return [], 0
        since, until = max(facts.since, filters.since or ""), min(facts.until, filters.until
                                                                   or facts.until)
        docs = set(self.lexical.readouts_naming([k.forms for k in facts.people]))
        docs -= {p.doc_id for p in top}
        if filters.doc_ids:
            docs &= set(filters.doc_ids)
        if not docs or since > until:
            return [], 0
        scope = replace(filters, since=since, until=until, doc_ids=tuple(sorted(docs)))
        terms = " ".join([question, *facts.other_forms(question)])
        hits = self.lexical.search(terms, LIST_CHUNKS_PER_READOUT * self.settings.list_max_readouts,
                                   scope)
        found = self._rescored(np.asarray(vector, dtype=np.float32), hits)
        listed: dict[str, Passage] = {}
        previews = _previews(found, facts)  # the call itself is listed, not its announcement
        for p in sorted(found, key=lambda p: (p.start != 0, -p.score)):  # openings first
            first = sentence_spans(p.text)[0] if p.start == 0 and p.text.strip() else (0, 0)
            said = f"{p.title} {p.text[first[0]:first[1]]}"  # not a mention further on
            if all(k.in_text(said) for k in facts.people) and (
                    not facts.event or event_kind(p.title) == facts.event) and (
                    p.doc_id not in previews):
                listed.setdefault(p.doc_id, p)
        ordered = sorted(listed.values(), key=lambda p: p.date or "")
        most = self.settings.list_max_readouts
        return ordered[:most], max(0, len(ordered) - most)

    def _dense(self, vector: list[float], filters: Filters, n: int) -> list[Passage]:
        """Dense candidates per language, scored against language-centred passage vectors.

        Raw cosines favour the question's own language (measured: an English question scores
        Chinese passages ~0.07 lower whatever they say), so each language is searched on its
        own and its mean vector subtracted before comparing: hit@5 on cross-lingual dev
        questions rose from 0.52 to 0.64 with it.
        """
        query = np.asarray(vector, dtype=np.float32)
        counts = self.lexical.language_counts()
        languages = list(filters.languages) or list(counts) or [""]
        out: list[Passage] = []
        for language in languages:
            scoped = replace(filters, languages=(language,)) if language else filters
            within = self._filtered_ids(scoped)
            if within is not None and not within:
                continue
            centroid = self._centroid(language, counts.get(language, 0))
            out += [self._centred(query, p, v, centroid)
                    for p, v in self.store.dense_vectors(vector, n, scoped, within)]
        return sorted(out, key=lambda p: p.score, reverse=True)[:n]

    def _naming_everyone(self, facts: QuestionFacts, filters: Filters) -> set[str]:
        """For a question naming two people or countries or more ("Starmer" and "Xi",
        "Kyrgyzstan" and "Taiwan"): the readouts that name them all, people in any script,
        when they are few enough to search on their own. An English question on a CCTV
        readout scores its Chinese passages 0.1 below English readouts naming one of the two
        (measured): without their own search they never reach the candidates. Dev set:
        hit@5 0.866 -> 0.925, cross-lingual 0.800 -> 0.960."""
        people = facts.people
        if len(people) + len(facts.countries) < 2:
            return set()
        found = self.lexical.readouts_naming([k.forms for k in people], facts.countries)
        if filters.doc_ids:
            found = [d for d in found if d in filters.doc_ids]
        return set(found) if len(found) <= SCOPE_MAX_READOUTS else set()

    def _filtered_ids(self, filters: Filters) -> list[str] | None:
        """The chunks a date, source or country filter keeps, from the lexical index's
        in-memory columns, when they are few enough to hand to Chroma as ids (cheaper than
        its row-by-row filter; above ``ID_FILTER_MAX`` the list itself costs more); None:
        let the store filter."""
        if not replace(filters, languages=()).is_empty():
            ids = self.lexical.matching_ids(filters)
            if ids is not None and len(ids) <= ID_FILTER_MAX:
                return ids
        return None

    def _rescored(self, query: np.ndarray, hits: list[LexicalHit]) -> list[Passage]:
        """Chunks found by BM25 alone, with the centred dense score they would have had."""
        counts = self.lexical.language_counts()
        return [
            self._centred(query, p, v, self._centroid(p.language, counts.get(p.language, 0)))
            for p, v in self.store.passage_vectors([(h.chunk_id, h.language) for h in hits])
        ]

    @staticmethod
    def _centred(
        query: np.ndarray, passage: Passage, stored: np.ndarray, centroid: np.ndarray | None
    ) -> Passage:
        """``passage`` scored by the cosine of ``query`` with its centred vector."""
        if centroid is None:
            return passage
        centred = stored - centroid
        return replace(passage, score=float(query @ centred / (np.linalg.norm(centred) or 1.0)))

    def _centroid(self, language: str, chunks: int) -> np.ndarray | None:
        """The store's own mean vector of ``language`` once it has enough chunks to be a mean
        of many topics; before that the packaged reference of the embedder (or the mean of
        its references, for a language it has none for): a lone readout's own mean would
        centre its topic away."""
        if chunks >= MIN_CENTROID_CHUNKS and language in self.lexical.centroids:
            return self.lexical.centroids[language]
        reference = reference_centroids(self.store.embeddings.key)
        if not reference:
            return self.lexical.centroids.get(language)
        return reference.get(language, np.mean(list(reference.values()), axis=0))

    def _fused(
        self,
        question: str,
        vector: list[float],
        filters: Filters,
        facts: QuestionFacts,
        prefer_docs: Sequence[str],
        mode: str,
    ) -> tuple[list[Passage], float, set[str]]:
        """Centred dense score plus a small share of normalised BM25, plus boosts.

        Score fusion, not rank fusion: on the dev set reciprocal rank fusion let BM25's
        same-language matches push cross-lingual answers out of the top 5 at every weight
        tried (hit@5 0.75-0.79 against 0.81 for dense alone).
        """
        n = self.settings.candidates
        terms = " ".join([question, *facts.other_forms(question)])
        scopes = [filters]
        everyone = self._naming_everyone(facts, filters)
        if everyone:
            scopes.append(replace(filters, doc_ids=tuple(everyone)))
        dense: list[Passage] = []
        lexical: list[LexicalHit] = []
        for scope in scopes:  # the readouts naming everyone get candidates of their own
            if mode != "lexical":
                dense += self._dense(vector, scope, n)
            if mode != "dense":
                lexical += self.lexical.search(terms, n, scope)
        dense = list({p.chunk_id: p for p in dense}.values())
        lexical = sorted({h.chunk_id: h for h in lexical}.values(), key=lambda h: -h.score)
        by_id = {p.chunk_id: p for p in dense}
        missing = [h for h in lexical if h.chunk_id not in by_id]
        found = self._rescored(np.asarray(vector, dtype=np.float32), missing)
        by_id.update({p.chunk_id: p for p in found})
        if mode == "hybrid":
            dense += found  # every candidate gets both scores, whoever found it
        scores = {p.chunk_id: self.settings.dense_weight * p.score for p in dense}
        top_lexical = lexical[0].score if lexical else 1.0
        for hit in lexical:
            if hit.chunk_id in by_id:
                share = self.settings.lexical_weight * hit.score / top_lexical
                scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + share
        _boost(scores, by_id, facts, everyone, prefer_docs)
        _reorder_within_readouts(scores, by_id, facts)
        ranked = sorted(scores, key=lambda c: scores[c], reverse=True)
        best = max((p.score for p in dense), default=0.0)
        return [replace(by_id[c], score=scores[c]) for c in ranked], best, everyone


def _boost(scores: dict[str, float], by_id: dict[str, Passage], facts: QuestionFacts,
           everyone: set[str], prefer_docs: Sequence[str]) -> None:
    """Add to the fused scores what the question says beyond its words: its countries, its
    people (any script), the readout of their meeting, a call or a meeting, the conversation
    so far, the first or last event, the date a "when" question asks for; and take from the
    previews of an event ("will speak ... this Friday") unless the question asks what is
    planned."""
    wanted = {c.upper() for c in facts.countries}
    candidates = [by_id[cid] for cid in scores]
    readout_names = names_by_readout(candidates, facts)
    about = set(readouts_about(candidates, facts.people, sorted(everyone))) if len(
        facts.people) > 1 else set()
    picked = chronological_pick(candidates, facts, readout_names)
    previews = _previews(candidates, facts)
    other_day = _other_day_readouts(candidates, facts)
    for cid in scores:
        p = by_id[cid]
        if wanted and wanted <= set(p.countries):
            scores[cid] += COUNTRY_BOOST  # names both leaders' countries: likelier the event
        if facts.known:
            named = len(readout_names.get(p.doc_id, ()))
            scores[cid] += NAME_BOOST * named / len(facts.known)  # any script: 朔尔茨
        if p.doc_id in everyone:
            scores[cid] += ALL_NAMED_BOOST  # who met whom: a readout naming them all
        if p.doc_id in about:
            scores[cid] += ABOUT_BOOST  # ... above all the readout of their meeting
        if facts.event and event_kind(p.title) == facts.event:
            scores[cid] += EVENT_BOOST
        if p.doc_id in prefer_docs:
            scores[cid] += FOLLOW_UP_BOOST  # follow-ups stay on the readout discussed
        if p.doc_id == picked:
            scores[cid] += ORDER_BOOST
        if facts.asks_when and p.start == 0 and (picked is None or p.doc_id == picked):
            scores[cid] += OPENING_BOOST
        if p.doc_id in previews:
            scores[cid] -= ANNOUNCEMENT_PENALTY
        if p.doc_id in other_day:
            scores[cid] -= OTHER_DAY_PENALTY


def _previews(candidates: list[Passage], facts: QuestionFacts) -> set[str]:
    """The candidate readouts that open by announcing the event ("will speak ... this
    Friday"), unless the question asks what is planned."""
    if facts.asks_plans:
        return set()
    return {p.doc_id for p in candidates if p.start == 0 and announces(p.text)}


def _other_day_readouts(candidates: list[Passage], facts: QuestionFacts) -> set[str]:
    """For a question on one day ("on August 29, 2024"): the readouts dated before it (a day
    of time zones allowed) and those whose first sentence says their event took place on
    other days ("met on August 27-28", or "spoke today" in a readout of another date). The
    date filter keeps them, as it must (a readout is often dated the day after), but they
    report another event."""
    if not facts.since or facts.since != facts.until:
        return set()
    asked = dt.date.fromisoformat(facts.since)
    too_early = (asked - dt.timedelta(days=1)).isoformat()
    other = {p.doc_id for p in candidates if p.date and p.date < too_early}
    for p in candidates:
        spans = sentence_spans(p.text) if p.start == 0 else []
        days = stated_days(p.text[spans[0][0]:spans[0][1]], p.date) if spans else set()
        if days and not any(d == asked.day and m in (None, asked.month) for m, d in days):
            other.add(p.doc_id)
    return other


def chronological_pick(
    candidates: list[Passage], facts: QuestionFacts, named: dict[str, set[KnownName]]
) -> str | None:
    """For "their first call" / "when did they last speak": the earliest or latest dated
    candidate readout that names every known name of the question (``named``, from
    ``names_by_readout``); None for other questions."""
    if not facts.order or not facts.known:
        return None
    dates = {p.doc_id: p.date for p in candidates if p.date}
    eligible = [doc for doc in dates if len(named.get(doc, ())) == len(facts.known)]
    if not eligible:
        return None
    # The readout of the meeting itself names everyone in its title (White House) or at
    # least in its opening (CCTV); a later readout naming Putin in passing (Biden's calls
    # with Macron in 2022, with Zelenskyy in 2025) must not win "when did they last speak".
    eligible = readouts_about(candidates, facts.known, eligible) or eligible
    if facts.event:  # "when did they first meet": their first meeting, not their first call
        titles = {p.doc_id: p.title for p in candidates}
        eligible = [d for d in eligible if event_kind(titles[d]) == facts.event] or eligible
    pick = min if facts.order == "earliest" else max
    return pick(eligible, key=lambda doc: dates[doc])


def names_by_readout(candidates: list[Passage], facts: QuestionFacts) -> dict[str, set[KnownName]]:
    """The question's known names each candidate readout names, in any of its candidate
    passages or its title (a CCTV readout names Scholz once, at its start)."""
    named: dict[str, set[KnownName]] = {}
    for p in candidates:
        text = f"{p.title} {p.text}"
        named.setdefault(p.doc_id, set()).update(k for k in facts.known if k.in_text(text))
    return named


def readouts_about(
    candidates: list[Passage], names: Sequence[KnownName], among: Sequence[str]
) -> list[str]:
    """The candidate readouts (``among`` them) about a meeting of ``names``: those naming them
    all in their title, or if none does, in their opening passage, and of these the ones whose
    title names most of them. CCTV titles name one party by name ("习近平会见英国首相"): Li
    Qiang's talks with Starmer the same day name Xi and Starmer in their opening too, but
    neither in their title."""
    titles = {p.doc_id: p.title for p in candidates}
    about = [doc for doc in among if all(k.in_text(titles.get(doc, "")) for k in names)]
    if about:
        return about
    openings = {p.doc_id: f"{p.title} {p.text}" for p in candidates if p.start == 0}
    about = [doc for doc in among if all(k.in_text(openings.get(doc, "")) for k in names)]
    in_title = {doc: sum(k.in_text(titles[doc]) for k in names) for doc in about}
    most = max(in_title.values(), default=0)
    return [doc for doc in about if in_title[doc] == most]


def _subject_share(text: str, topics: tuple[str, ...], countries: tuple[str, ...]) -> float:
    """The largest share of the subject words (``topics``: accents and case ignored,
    inflections matched, see ``mentions_topic``) and ``countries`` (any language) one
    sentence of ``text`` holds."""
    best = 0.0
    for a, b in sentence_spans(text):
        sentence = text[a:b]
        folded = fold(sentence)
        held = sum(mentions_topic(folded, t) for t in topics)
        if countries:
            held += len(set(countries).intersection(find_countries(sentence)))
        best = max(best, held / (len(topics) + len(countries)))
    return best


def _reorder_within_readouts(scores: dict[str, float], by_id: dict[str, Passage],
                             facts: QuestionFacts) -> None:
    """Let a readout's passages trade places by the question's subject, keeping the readout's
    own scores: the readout found stays where it ranks (a cross-lingual answer is not pushed
    down by words it says in another language), but within it the passage whose sentence
    says "signed", or names Ukraine (乌克兰) when asked "about the Ukraine crisis", ranks
    before its neighbour about the same talks. The countries a question names count when it
    asks about them ("about Taiwan") or has no other subject; not when they are its setting
    ("lors de la visite en Chine"). "When did they last meet?", with no other subject, puts
    the opening first: it says when ("12月4日上午"), the Ukraine passage does not."""
    countries = facts.subject_countries or (() if facts.topics else facts.countries)
    opening_first = facts.asks_when and not facts.topics and not facts.subject_countries
    if not facts.topics and not countries and not opening_first:
        return
    by_doc: dict[str, list[str]] = {}
    for cid in scores:
        by_doc.setdefault(by_id[cid].doc_id, []).append(cid)

    def place(cid: str) -> tuple[bool, float]:
        subject = _subject_share(by_id[cid].text, facts.topics, countries) if (
            facts.topics or countries) else 0.0
        return opening_first and by_id[cid].start == 0, scores[cid] + SENTENCE_WEIGHT * subject

    for cids in by_doc.values():
        if len(cids) < 2:
            continue
        slots = sorted((scores[c] for c in cids), reverse=True)
        order = sorted(cids, key=place, reverse=True)
        scores.update(zip(order, slots, strict=True))
