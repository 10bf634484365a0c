"""Question + filters -> ranked passages: language-centred dense and BM25 candidates, fused,
then adjusted by what the question says beyond its words (``rag.rerank``).

Dates named in the question narrow the search (with a fallback when nothing matches); the
readouts naming everyone asked get candidates of their own; a list question on a period
("which leaders did Biden call in October 2023?") takes every readout that fits.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.lexical import LexicalHit, LexicalIndex
from rag.query import QuestionFacts, analyse, event_kind
from rag.rerank import (
    boost,
    opening_sentence,
    other_day_readouts,
    preview_readouts,
    reorder_within_readouts,
)
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
                         frozenset(other_day_readouts(top, facts)),
                         frozenset(preview_readouts(top, facts)), left_out)

    def _listed(self, question: str, vector: list[float], filters: Filters,
                facts: QuestionFacts, top: list[Passage]) -> tuple[list[Passage], int]:
        """For "Which leaders did Biden call in October 2023?": the other readouts of the
        dates asked whose title or first sentence names everyone asked, whose title says the
        kind of event and whose passages found name the place, when asked; by date, one
        passage each (its opening when it is found). The top passages alone listed three of
        Biden's nine calls that month. Also how many more there were than
        ``list_max_readouts``."""
        if not (facts.wants_list and facts.people and facts.since and facts.until):
            return [], 0
        since = max(facts.since, filters.since or facts.since)
        until = min(facts.until, filters.until or facts.until)
        docs = set(self.lexical.readouts_naming([k.forms for k in facts.people]))
        docs -= {p.doc_id for p in top}
        if filters.doc_ids:
            docs &= set(filters.doc_ids)
        if not docs or since > until:
            return [], 0
        scope = replace(filters, since=since, until=until, doc_ids=tuple(sorted(docs)))
        most = self.settings.list_max_readouts
        hits = self.lexical.search(facts.lexical_query(question),
                                   LIST_CHUNKS_PER_READOUT * most, scope)
        found = self._rescored(np.asarray(vector, dtype=np.float32), hits)
        previews = preview_readouts(found, facts)  # the call itself is listed, not its announcement
        texts: dict[str, str] = {}
        for p in found:
            texts[p.doc_id] = f"{texts.get(p.doc_id, p.title)} {p.text}"
        places = [k for k in facts.known if k.place]  # "in Beijing": not his stop in Manila

        def fits(p: Passage) -> bool:
            said = f"{p.title} {opening_sentence(p)}"  # not a mention further on
            return (p.doc_id not in previews
                    and all(k.in_text(said) for k in facts.people)
                    and (not facts.event or event_kind(p.title) == facts.event)
                    and all(k.in_text(texts[p.doc_id]) for k in places))

        listed: dict[str, Passage] = {}
        for p in sorted(found, key=lambda p: (p.start != 0, -p.score)):  # openings first
            if fits(p):
                listed.setdefault(p.doc_id, p)
        ordered = sorted(listed.values(), key=lambda p: p.date or "")
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
        terms = facts.lexical_query(question)
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
        boost(scores, by_id, facts, everyone, prefer_docs)
        reorder_within_readouts(scores, by_id, facts)
        ranked = sorted(scores, key=lambda c: scores[c], reverse=True)
        best = max((p.score for p in dense), default=0.0)
        return [replace(by_id[c], score=scores[c]) for c in ranked], best, everyone
