"""The ranking signals: each a small named function from a question's candidates and one
passage to a number, with no weight of its own.

How much each counts is fitted by ``bench/fit.py`` and shipped in ``weights.json``
(``rag.ranking.model``); a signal that adds nothing on held-out question sets is removed
(``bench/eval.py --ablate``). Every signal is 0 when the question gives it nothing to say,
so that a question without dates, names or a subject is ranked by the retrievers alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from rag.names import KnownName
from rag.query import QuestionFacts, event_kind
from rag.ranking.evidence import (
    chronological_pick,
    names_by_readout,
    other_day_readouts,
    preview_readouts,
    readouts_about,
    speaker_sentences,
    subject_share,
    title_side,
)
from rag.schema import Passage

Signal = Callable[["Candidates", Passage], float]
SIGNALS: dict[str, Signal] = {}


def signal(function: Signal) -> Signal:
    """Register ``function`` under its name, in definition order (the columns of a model)."""
    SIGNALS[function.__name__] = function
    return function


@dataclass(frozen=True)
class Candidates:
    """One question's candidate passages and what is known about them, computed once so that
    every signal of every passage reads it without recomputing."""

    facts: QuestionFacts
    passages: tuple[Passage, ...]  # ``score`` is the language-centred dense cosine
    lexical: Mapping[str, float]  # chunk_id -> BM25 score over the best BM25 score (0-1)
    everyone: frozenset[str]  # readouts naming every person and country asked
    named: Mapping[str, frozenset[KnownName]]  # readout -> known names of the question it names
    about: frozenset[str]  # readouts of the meeting of the people asked
    picked: str | None  # the first or last readout, for "first"/"last" questions
    previews: frozenset[str]  # readouts announcing the event, when plans are not asked
    other_day: frozenset[str]  # readouts of another day than the one day asked
    subject_countries: tuple[str, ...]  # countries that count as the question's subject
    subject: Mapping[str, float]  # chunk_id -> cosine with the question's subject alone

    @classmethod
    def build(cls, facts: QuestionFacts, passages: Sequence[Passage],
              lexical: Mapping[str, float], everyone: frozenset[str] = frozenset(),
              subject: Mapping[str, float] | None = None) -> Candidates:
        """The candidates of one question, with the facts every signal shares."""
        listed = list(passages)
        named = names_by_readout(listed, facts)
        about = readouts_about(listed, facts.people, sorted(everyone)) if len(
            facts.people) > 1 else []
        return cls(
            facts=facts, passages=tuple(listed), lexical=lexical, everyone=everyone,
            named={doc: frozenset(names) for doc, names in named.items()},
            about=frozenset(about), picked=chronological_pick(listed, facts, named),
            previews=frozenset(preview_readouts(listed, facts)),
            other_day=frozenset(other_day_readouts(listed, facts)),
            subject_countries=facts.subject_countries or (
                () if facts.topics else facts.countries),
            subject=subject or {},
        )


@signal
def dense(c: Candidates, p: Passage) -> float:
    """Cosine of the question with the passage (title and date header included), each
    language's mean vector subtracted: what the passage means, in any language."""
    return p.score


@signal
def lexical(c: Candidates, p: Passage) -> float:
    """BM25 of the passage over the best BM25 score of the question (0 when BM25 did not
    find it): the question's own words, and its names in every script."""
    return c.lexical.get(p.chunk_id, 0.0)


@signal
def countries_named(c: Candidates, p: Passage) -> float:
    """1 when the readout mentions every country the question names: likelier its event."""
    wanted = {code.upper() for code in c.facts.countries}
    return float(bool(wanted) and wanted <= set(p.countries))


@signal
def people_named(c: Candidates, p: Passage) -> float:
    """Share of the question's known people and places the readout names, in any script
    (Scholz as 朔尔茨), in its title or candidate passages."""
    if not c.facts.known:
        return 0.0
    return len(c.named.get(p.doc_id, ())) / len(c.facts.known)


@signal
def meeting_readout(c: Candidates, p: Passage) -> float:
    """1 for the readout of the meeting of the people asked: the one naming them all in its
    title (else its opening), not a readout naming them in passing."""
    return float(p.doc_id in c.about)


@signal
def event_match(c: Candidates, p: Passage) -> float:
    """+1 when the readout's title reports the kind of event asked (a call, a meeting),
    -1 when it reports the other kind, 0 when either is unsaid."""
    reported = event_kind(p.title)
    if not c.facts.event or not reported:
        return 0.0
    return 1.0 if reported == c.facts.event else -1.0


@signal
def chronological(c: Candidates, p: Passage) -> float:
    """1 for the earliest or latest readout naming everyone asked, for "their first call" or
    "when did they last meet"."""
    return float(p.doc_id == c.picked)


@signal
def preview(c: Candidates, p: Passage) -> float:
    """1 for a press secretary's preview of the event ("will speak ... this Friday") when the
    question does not ask what was planned: it says when, not what was said."""
    return float(p.doc_id in c.previews)


@signal
def other_day(c: Candidates, p: Passage) -> float:
    """1 for a readout dated before the one day asked, or opening on other days ("met on
    August 27-28"): another event, kept by the date filter's slack."""
    return float(p.doc_id in c.other_day)


@signal
def subject_dense(c: Candidates, p: Passage) -> float:
    """Cosine of the passage with the question's subject alone, names and dates left out
    (``rag.query.subject_text``), in any language: which passage of a readout speaks of what
    was asked, where the whole question's cosine favours the opening that names everyone."""
    return c.subject.get(p.chunk_id, 0.0)


@signal
def subject_sentence(c: Candidates, p: Passage) -> float:
    """The largest share of the question's subject words (and of the countries it asks
    about, in any language: 乌克兰 for Ukraine) that one sentence of the passage holds."""
    if not c.facts.topics and not c.subject_countries:
        return 0.0
    return subject_share(p.text, c.facts.topics, c.subject_countries)


@signal
def speaker_speaks(c: Candidates, p: Passage) -> float:
    """For a question asking for one person's words ("What did Xi say about Taiwan?"): 1 when
    a sentence of the passage has that person as its speaker."""
    speaker = c.facts.speaker
    if speaker is None:
        return 0.0
    return float(bool(speaker_sentences(p, speaker, c.facts.people)))


@signal
def speaker_side(c: Candidates, p: Passage) -> float:
    """For a question asking for one person's words: 1 when the readout is that person's
    side's (its title names them first): Xi's words on Taiwan are in the Chinese readout."""
    speaker = c.facts.speaker
    return float(speaker is not None and title_side(p.title, c.facts.people) == speaker)


def signal_values(candidates: Candidates, names: Sequence[str]) -> list[list[float]]:
    """The values of the signals ``names`` for each candidate passage, in order."""
    functions = [SIGNALS[name] for name in names]
    return [[f(candidates, p) for f in functions] for p in candidates.passages]
