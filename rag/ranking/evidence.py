"""What the candidate passages of one question say about it: which readouts name its people,
which is the readout of their meeting, which is the first or last, which announce an event
still to come, which report another day, how much of its subject a passage's sentences hold.

Facts only: how much each counts is the ranking model's business (``rag.ranking.signals``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rag.metadata import find_countries
from rag.names import KnownName
from rag.query import QuestionFacts, announces, event_kind, mentions_topic, stated_days
from rag.schema import Passage
from rag.sentences import first_sentence, sentence_spans
from rag.tokenize import fold


def opening_sentence(passage: Passage) -> str:
    """The first sentence of a readout when ``passage`` is its opening, else "": it says who
    met whom and when; a name further on may be a mention in passing."""
    return first_sentence(passage.text) if passage.start == 0 else ""


def preview_readouts(candidates: list[Passage], facts: QuestionFacts) -> set[str]:
    """The candidate readouts that open by announcing the event ("will speak ... this
    Friday"), unless the question asks what is planned."""
    if facts.asks_plans:
        return set()
    return {p.doc_id for p in candidates if p.start == 0 and announces(p.text)}


def other_day_readouts(candidates: list[Passage], facts: QuestionFacts) -> set[str]:
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
        days = stated_days(opening_sentence(p), p.date)
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


def subject_share(text: str, topics: tuple[str, ...], countries: tuple[str, ...]) -> float:
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


def sentence_speaker(sentence: str, people: Sequence[KnownName]) -> KnownName | None:
    """Who speaks in a readout's sentence: of ``people``, the one it names first. Readouts put
    the speaker first ("President Biden underscored ...", "习近平指出，...", "Xi told Biden
    that ..."); None when it names none of them ("The two leaders discussed ...")."""
    named = [(at, k) for k in people if (at := k.position(sentence)) is not None]
    return min(named, key=lambda item: item[0])[1] if named else None


def speaker_sentences(passage: Passage, speaker: KnownName,
                      people: Sequence[KnownName]) -> list[str]:
    """The sentences of ``passage`` in which ``speaker`` speaks (see ``sentence_speaker``)."""
    text = passage.text
    return [text[a:b] for a, b in sentence_spans(text)
            if sentence_speaker(text[a:b], people) == speaker]


def title_side(title: str, people: Sequence[KnownName]) -> KnownName | None:
    """Whose readout it is: the person its title names first ("Readout of President Biden's
    Call with President Xi" is Biden's side's, "习近平同美国总统拜登通电话" Xi's)."""
    return sentence_speaker(title, people)
