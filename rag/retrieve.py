"""Question + filters -> ranked passages: language-centred dense and BM25 candidates, ranked
by the fitted signals of ``rag.ranking``.

Dates named in the question narrow the search (with a fallback when nothing matches); the
readouts naming everyone asked get candidates of their own; a list question on a period
("which leaders did Biden call in October 2023?") takes every readout that fits.

Retrieval is two steps, so that the fitting script can rank one question's candidates under
many models: ``gather`` (the candidates and their signals' inputs, independent of any weight)
then ``finish`` (rank with a model, cut to ``k``, complete a list).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.lexical import LexicalHit, LexicalIndex
from rag.metadata import find_countries
from rag.query import QuestionFacts, analyse, event_kind, subject_text
from rag.ranking.evidence import opening_sentence, other_day_readouts, preview_readouts
from rag.ranking.model import RankingModel
from rag.ranking.signals import Candidates
from rag.schema import Filters, Passage
from rag.store import ReadoutStore

MIN_CENTROID_CHUNKS = 300
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
ID_FILTER_MAX = 20_000  # up to this many matching chunks, dense search gets their ids
SCOPE_MAX_READOUTS = 500  # readouts naming everyone asked, searched on their own up to this
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
    date_fallback: bool = False  # the question's dates matched nothing: searched without them
    subject_best: float | None = None  # best cosine of a top passage with the subject alone
    top_readout: str = ""  # title and every candidate passage of the best passage's readout
    rival: float | None = None  # best ranking score of a candidate from another readout
    topic_rarity: tuple[float, ...] = ()  # each subject word's rarity (facts.topics' order)


@dataclass(frozen=True)
class Gathered:
    """One question's candidates before ranking: what ``Retriever.finish`` needs."""

    question: str
    filters: Filters
    k: int
    vector: tuple[float, ...]
    candidates: Candidates
    best_dense: float
    date_narrowed: bool
    date_fallback: bool  # the question's dates matched nothing: searched without them
    unknown_topics: tuple[str, ...]  # the question's subject words no readout contains
    topic_rarity: tuple[float, ...]  # each subject word's BM25 inverse document frequency


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

    def __init__(self, store: ReadoutStore, lexical: LexicalIndex, settings: Settings,
                 model: RankingModel):
        self.store = store
        self.lexical = lexical
        self.settings = settings
        self.model = model

    def retrieve(
        self,
        question: str,
        filters: Filters = Filters(),
        k: int | None = None,
        mode: str = "hybrid",
    ) -> Retrieval:
        """The ``k`` best passages for ``question``; ``mode`` is hybrid, dense or lexical."""
        with self.store.one_reading():
            return self.finish(self.gather(question, filters, k, mode))

    def gather(
        self,
        question: str,
        filters: Filters = Filters(),
        k: int | None = None,
        mode: str = "hybrid",
    ) -> Gathered:
        """The candidate passages of ``question``, with their dense and BM25 scores."""
        with self.store.one_reading():
            return self._gather(question, filters, k, mode)

    def _gather(self, question: str, filters: Filters, k: int | None, mode: str) -> Gathered:
        self.lexical.sync()  # once per question: each check reads the store's stamp
        facts = analyse(question)
        narrowed = facts.date_filters(filters)
        vector = self.store.embeddings.embed_query(question)
        candidates, best = self._candidates(question, vector, narrowed, facts, mode)
        date_narrowed = narrowed is not filters
        fallback = date_narrowed and not candidates.passages
        if fallback:  # the dates may be wrong (or the premise): look without them
            candidates, best = self._candidates(question, vector, filters, facts, mode)
        return Gathered(question, filters, k or self.settings.top_k, tuple(vector),
                        candidates, best, date_narrowed and not fallback, fallback,
                        self.lexical.unknown(facts.topics), self.lexical.rarity(facts.topics))

    def finish(self, gathered: Gathered, model: RankingModel | None = None,
               values: Sequence[Sequence[float]] | None = None) -> Retrieval:
        """The gathered candidates ranked by ``model`` (default: this retriever's), cut to
        ``k``, followed by the other readouts a list question asks for; ``values``: the
        candidates' signal values when already computed, in the model's order."""
        ranked = (model or self.model).rank(gathered.candidates, values)
        facts, k = gathered.candidates.facts, gathered.k
        listed, left_out = self._listed(gathered.question, list(gathered.vector),
                                        gathered.filters, facts, ranked[:k])
        top = ranked[:k] + listed
        return Retrieval(tuple(top), facts, gathered.vector, gathered.best_dense,
                         gathered.date_narrowed, gathered.candidates.everyone,
                         gathered.unknown_topics,
                         frozenset(other_day_readouts(top, facts)),
                         frozenset(preview_readouts(top, facts)), left_out,
                         gathered.date_fallback, self._subject_best(gathered, top[:k]),
                         self._readout_text(gathered, top[0].doc_id) if top else "",
                         max((p.score for p in ranked if p.doc_id != ranked[0].doc_id),
                             default=None), gathered.topic_rarity)

    @staticmethod
    def _readout_text(gathered: Gathered, doc_id: str) -> str:
        """The title and the candidate passages of one readout, in text order: as much of
        the readout an answer would cite as the search has read."""
        parts = sorted((p for p in gathered.candidates.passages if p.doc_id == doc_id),
                       key=lambda p: p.start)
        return " ".join([parts[0].title if parts else "", *(p.text for p in parts)])

    @staticmethod
    def _subject_best(gathered: Gathered, top: list[Passage]) -> float | None:
        """The best cosine of a top passage with the question's subject alone, if it has
        one."""
        subject = gathered.candidates.subject
        if not subject:
            return None
        return max((subject.get(p.chunk_id, 0.0) for p in top), default=0.0)

    def _listed(self, question: str, vector: list[float], filters: Filters,
                facts: QuestionFacts, top: list[Passage]) -> tuple[list[Passage], int]:
        """For "Which leaders did Biden call in October 2023?" or "How many times did Li Qiang
        speak with the Dutch prime minister?": the other readouts (of the dates asked, if any)
        whose title or first sentence names everyone asked and one of the countries asked,
        whose title says the kind of event and whose passages found name the place, when
        asked; one passage each (its opening when it is found), the most relevant first if
        there are more than ``list_max_readouts``, then by date. The top passages alone
        listed three of Biden's nine calls that month. Also how many more there were than
        ``list_max_readouts``."""
        if not (facts.wants_list and facts.people):
            return [], 0
        since = max(filter(None, (facts.since, filters.since)), default=None)
        until = min(filter(None, (facts.until, filters.until)), default=None)
        forms = [k.forms for k in facts.people]
        # one of the countries: "in Norway and Denmark" was two visits
        docs = {d for countries in [[c] for c in facts.countries] or [[]]
                for d in self.lexical.readouts_naming(forms, countries)}
        docs -= {p.doc_id for p in top}
        if filters.doc_ids:
            docs &= set(filters.doc_ids)
        if not docs or (since and until and since > until):
            return [], 0
        scope = replace(filters, since=since, until=until, doc_ids=tuple(sorted(docs)))
        most = self.settings.list_max_readouts
        hits = self.lexical.search(facts.lexical_query(question),
                                   LIST_CHUNKS_PER_READOUT * most, scope)
        found = [p for p, _ in self._rescored(np.asarray(vector, dtype=np.float32), hits)]
        previews = preview_readouts(found, facts)  # the call itself is listed, not its announcement
        texts: dict[str, str] = {}
        for p in found:
            texts[p.doc_id] = f"{texts.get(p.doc_id, p.title)} {p.text}"
        places = [k for k in facts.known if k.place]  # "in Beijing": not his stop in Manila
        asked = set(facts.countries)  # "with Oman": not a call with Qatar thanking Oman

        def fits(p: Passage) -> bool:
            said = f"{p.title} {opening_sentence(p)}"  # not a mention further on
            return (p.doc_id not in previews
                    and all(k.in_text(said) for k in facts.people)
                    and (not asked or bool(asked & set(find_countries(said))))
                    and (not facts.event or event_kind(p.title) == facts.event)
                    and all(k.in_text(texts[p.doc_id]) for k in places))

        listed: dict[str, Passage] = {}
        for p in sorted(found, key=lambda p: (p.start != 0, -p.score)):  # openings first
            if fits(p):
                listed.setdefault(p.doc_id, p)
        kept = sorted(listed.values(), key=lambda p: -p.score)[:most]
        return sorted(kept, key=lambda p: p.date or ""), max(0, len(listed) - most)

    def _dense(self, vector: list[float], scopes: Sequence[Filters], n: int
               ) -> list[list[tuple[Passage, np.ndarray]]]:
        """For each scope, its dense candidates, searched per language and scored against
        language-centred passage vectors.

        Raw cosines favour the question's own language (measured: an English question scores
        Chinese passages ~0.07 lower whatever they say), so each language is searched on its
        own and its mean vector subtracted before comparing: hit@5 on cross-lingual dev
        questions rose from 0.52 to 0.64 with it.
        """
        query = np.asarray(vector, dtype=np.float32)
        counts = self.lexical.language_counts()
        searches: list[tuple[int, str, Filters, list[str] | None]] = []
        for number, filters in enumerate(scopes):
            for language in list(filters.languages) or list(counts) or [""]:
                scoped = replace(filters, languages=(language,)) if language else filters
                within = self._filtered_ids(scoped)
                if within is None or within:
                    searches.append((number, language, scoped, within))
        found = self.store.dense_vectors_many(vector, n, [(f, w) for _, _, f, w in searches],
                                              self.lexical.offsets)
        out: list[list[tuple[Passage, np.ndarray]]] = [[] for _ in scopes]
        for (number, language, _, _), hits in zip(searches, found, strict=True):
            centroid = self._centroid(language, counts.get(language, 0))
            out[number] += [self._centred(query, p, v, centroid) for p, v in hits]
        return [sorted(pvs, key=lambda pv: pv[0].score, reverse=True)[:n] for pvs in out]

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

    def _rescored(self, query: np.ndarray, hits: list[LexicalHit]
                  ) -> list[tuple[Passage, np.ndarray]]:
        """Chunks found by BM25 alone, with the centred dense score they would have had (and
        their centred unit vectors)."""
        counts = self.lexical.language_counts()
        return [
            self._centred(query, p, v, self._centroid(p.language, counts.get(p.language, 0)))
            for p, v in self.store.passage_vectors([(h.chunk_id, h.language) for h in hits],
                                                   self.lexical.offsets)
        ]

    @staticmethod
    def _centred(
        query: np.ndarray, passage: Passage, stored: np.ndarray, centroid: np.ndarray | None
    ) -> tuple[Passage, np.ndarray]:
        """``passage`` scored by the cosine of ``query`` with its centred vector, and that
        vector of unit length (the stored one, and the passage as it was, without a
        centroid)."""
        centred = stored - centroid if centroid is not None else stored
        unit = centred / (np.linalg.norm(centred) or 1.0)
        if centroid is None:
            return passage, unit
        return replace(passage, score=float(query @ unit)), unit

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

    def _candidates(
        self,
        question: str,
        vector: list[float],
        filters: Filters,
        facts: QuestionFacts,
        mode: str,
    ) -> tuple[Candidates, float]:
        """Dense and BM25 candidates, each with both scores (the centred cosine, and BM25
        over the question's best BM25 score), and the best dense score.

        Both scores become signals of the ranking model, not a fused score with set weights:
        on the dev set reciprocal rank fusion let BM25's same-language matches push
        cross-lingual answers out of the top 5 at every weight tried.
        """
        n = self.settings.candidates
        terms = facts.lexical_query(question)
        scopes = [filters]
        everyone = self._naming_everyone(facts, filters)
        if everyone:
            scopes.append(replace(filters, doc_ids=tuple(everyone)))
        dense: list[tuple[Passage, np.ndarray]] = []
        lexical: list[LexicalHit] = []
        # the readouts naming everyone get candidates of their own
        if mode != "lexical":
            dense = [pv for found in self._dense(vector, scopes, n) for pv in found]
        if mode != "dense":
            lexical = [hit for scope in scopes for hit in self.lexical.search(terms, n, scope)]
        by_id = {p.chunk_id: (p, v) for p, v in dense}
        lexical = list({h.chunk_id: h for h in lexical}.values())  # found in both scopes
        missing = [h for h in lexical if h.chunk_id not in by_id]
        found = self._rescored(np.asarray(vector, dtype=np.float32), missing)
        if mode == "lexical":  # BM25 alone: the dense score is not known
            found = [(replace(p, score=0.0), v) for p, v in found]
        by_id.update({p.chunk_id: (p, v) for p, v in found})
        best = max((p.score for p, _ in by_id.values()), default=0.0)
        top_lexical = max((h.score for h in lexical), default=0.0) or 1.0
        shares = {h.chunk_id: h.score / top_lexical for h in lexical if h.chunk_id in by_id}
        candidates = Candidates.build(facts, [p for p, _ in by_id.values()], shares,
                                      frozenset(everyone),
                                      self._subject_scores(question, facts, by_id))
        return candidates, best

    def _subject_scores(self, question: str, facts: QuestionFacts,
                        found: dict[str, tuple[Passage, np.ndarray]]) -> dict[str, float]:
        """The cosine of each candidate with the question's subject alone, without its names
        and dates ("the softwood lumber dispute"), in any language: whether a passage speaks
        of what is asked, not only of who asked it. Empty when the question has no subject
        apart from its names."""
        subject = subject_text(question, facts)
        if not subject or not found:
            return {}
        query = np.asarray(self.store.embeddings.embed_query(subject), dtype=np.float32)
        return {cid: float(query @ v) for cid, (_, v) in found.items()}
