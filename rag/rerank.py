"""What a question says beyond its words, applied to fused candidate scores: its people and
countries, the readout of their meeting, a call or a meeting, first or last, the day asked,
previews of an event, and which passage of a readout says what was asked.

Each adjustment is on the centred cosine scale, where answers sit ~0.05 above the rest; each
was measured on bench/devset.jsonl (README: "what raised it").
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

COUNTRY_BOOST = 0.01  # on a centred cosine scale where answers sit ~0.05 above the rest
NAME_BOOST = 0.08  # times the share of the question's known names the readout names
FOLLOW_UP_BOOST = 0.05
ORDER_BOOST = 0.06  # the earliest or latest readout naming everyone, for "first"/"last"
OPENING_BOOST = 0.03  # a readout's opening passage, for "when" questions: it has the date
SENTENCE_WEIGHT = 0.05  # within a readout: a sentence holding the question's subject words
ABOUT_BOOST = 0.1  # readouts naming every person asked in their title (else opening)
EVENT_BOOST = 0.06  # a readout whose title says it was the kind of event asked: call, meeting
ALL_NAMED_BOOST = 0.1  # readouts naming every person and country the question names
ANNOUNCEMENT_PENALTY = 0.1  # a preview of the event asked about ranks below its readout
OTHER_DAY_PENALTY = 0.1  # a readout opening on another day than the one day asked


def boost(scores: dict[str, float], by_id: dict[str, Passage], facts: QuestionFacts,
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
    previews = preview_readouts(candidates, facts)
    other_day = other_day_readouts(candidates, facts)
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


def reorder_within_readouts(scores: dict[str, float], by_id: dict[str, Passage],
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
