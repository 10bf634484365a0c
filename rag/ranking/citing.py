"""Which sentences an extractive answer cites: named sentence features, weighed by the
logistic model of ``weights.json`` ("citing", fitted by ``bench/fit.py`` on gold sentences).

The pool is the sentences of the best passage (of a readout of the day asked, when the
question names one), or of every passage for a list; the answer cites the most probable
sentences, as many as configured (``answer_sentences``). Letting the other passages of the
best readout in lowered the cited passage on held-out folds (0.743 -> 0.713): the ranker
places passages better than sentence features do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from rag.metadata import find_countries
from rag.query import QuestionFacts, stated_days
from rag.ranking.evidence import sentence_speaker, subject_share
from rag.retrieve import Retrieval
from rag.safety import looks_like_instruction
from rag.schema import Passage
from rag.sentences import sentence_spans
from rag.tokenize import tokens


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence, located in its readout, with what the features read."""

    passage: Passage
    rank: int  # of its passage among the retrieved ones
    start: int  # offsets in the readout text
    end: int
    overlap: float = 0.0  # question words it holds, each weighed by its rarity in the pool
    score: float = 0.0  # the citing model's log-odds

    @property
    def quote(self) -> str:
        return self.passage.text[self.start - self.passage.start : self.end - self.passage.start]


@dataclass(frozen=True)
class Pool:
    """The sentences an answer may cite, and what their features need to know."""

    sentences: tuple[Sentence, ...]
    facts: QuestionFacts
    top_score: float  # the ranking score of the best passage


Feature = Callable[[Pool, Sentence], float]
FEATURES: dict[str, Feature] = {}


def feature(function: Feature) -> Feature:
    """Register ``function`` under its name, in definition order."""
    FEATURES[function.__name__] = function
    return function


def pool(question: str, retrieval: Retrieval, whole: bool = False) -> Pool:
    """The sentences of the best passage (of every passage when ``whole``, for lists),
    instructions planted in a readout left out. Overlap counts each
    question word by how few of these sentences hold it: in the Xi-Japarov call "Japarov" is
    in many, "Taiwan" in one; a country asked about counts in any language (乌克兰 for
    Ukraine)."""
    facts = retrieval.facts
    passages = [p for p in retrieval.passages if p.doc_id not in retrieval.other_day]
    passages = passages or list(retrieval.passages)  # of the day asked, if any
    if not passages:
        return Pool((), facts, 0.0)
    if not whole:
        passages = passages[:1]
    asked = facts.subject_countries
    wanted = set(tokens(question)) | {f"country:{code}" for code in asked}
    found = []
    for p in passages:
        rank = retrieval.passages.index(p)
        for s, e in sentence_spans(p.text):
            text = p.text[s:e]
            if looks_like_instruction(text):
                continue
            words = wanted.intersection(tokens(text))
            if asked:
                words |= {f"country:{code}" for code in find_countries(text) if code in asked}
            found.append((p, rank, s, e, words))
    held = Counter(word for *_, words in found for word in words)
    weight = {word: math.log(1 + len(found) / (1 + held[word])) for word in wanted}
    total = sum(weight.values()) or 1.0
    sentences = tuple(
        Sentence(p, rank, p.start + s, p.start + e, sum(weight[w] for w in words) / total)
        for p, rank, s, e, words in found)
    return Pool(sentences, facts, passages[0].score)


@feature
def overlap(pool: Pool, s: Sentence) -> float:
    """Share of the question's words the sentence holds, each weighed by how few sentences
    of the pool hold it."""
    return s.overlap


@feature
def passage_prior(pool: Pool, s: Sentence) -> float:
    """1 / (rank + 1) of the sentence's passage: retrieval's order knows more than words."""
    return 1.0 / (s.rank + 1)


@feature
def passage_gap(pool: Pool, s: Sentence) -> float:
    """How far its passage's ranking score falls below the best passage's (0 or less)."""
    return s.passage.score - pool.top_score


@feature
def opening_without_subject(pool: Pool, s: Sentence) -> float:
    """1 for the first sentence of the readout when the question has no subject beyond its
    names and dates ("Who did Xi meet in Tianjin?"): it says who met whom, where, when."""
    facts = pool.facts
    return float(s.start == 0 and not facts.topics and not facts.subject_countries)


@feature
def subject_words(pool: Pool, s: Sentence) -> float:
    """Share of the question's subject words (inflections matched) and of the countries it
    asks about (any language) that the sentence holds."""
    facts = pool.facts
    if not facts.topics and not facts.subject_countries:
        return 0.0
    return subject_share(s.quote, facts.topics, facts.subject_countries)


@feature
def states_day(pool: Pool, s: Sentence) -> float:
    """1 when the question asks when and the sentence states a day ("On February 10")."""
    return float(pool.facts.asks_when and bool(stated_days(s.quote, s.passage.date)))


@feature
def names_country_asked(pool: Pool, s: Sentence) -> float:
    """1 when the sentence names a country the question asks about, in any language."""
    asked = pool.facts.subject_countries
    return float(bool(asked) and bool(set(asked) & set(find_countries(s.quote))))


@feature
def speaker_speaks(pool: Pool, s: Sentence) -> float:
    """1 when the question asks for one person's words and that person speaks in the
    sentence ("习近平强调，..." for "What did Xi say ...")."""
    speaker = pool.facts.speaker
    return float(speaker is not None
                 and sentence_speaker(s.quote, pool.facts.people) == speaker)


def feature_values(p: Pool, s: Sentence, names: tuple[str, ...]) -> list[float]:
    """The values of the features ``names`` for sentence ``s`` of pool ``p``."""
    return [FEATURES[name](p, s) for name in names]
