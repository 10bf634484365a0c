"""Questions about the two sides' readouts of one event, answered from their alignment.

"What did the Chinese readout of Biden's February 2021 call leave out?" is not answered by the
passages closest to its words: it asks what one readout says and the other does not. The
event is found as any question's (retrieval), its readout is paired with the other side's
(``rag.pairs``), both are aligned (``rag.align``), and the answer cites the one-sided sentences
of both readouts, or, for "How did each side describe the Taiwan discussion?", the sentences
of each side that speak of the subject asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

from rag.align import Alignment, Sentence, align
from rag.compare import parties
from rag.pairs import other_side, registrable_domain
from rag.schema import Answer, Citation, Passage, Readout
from rag.store import ReadoutStore
from rag.topics import topics_in

ANSWERER = "alignment"
MAX_SENTENCES = 4  # per side
_LEFT_OUT = re.compile(
    r"(?i)\b(?:leaves?|left|leaving) out\b|\bomit(?:s|ted|ting)?\b|\bnot (?:mention|say)\w*"
    r"|\bdid(?:n['’]t| not) (?:mention|say|include|report)\b|\bmissing from\b|\bsilent on\b"
    r"|\bpass(?:e|é|ée)s? sous silence\b|\bomis\w*\b|\bne (?:mentionne|dit) pas\b")
_EACH_SIDE = re.compile(  # not "the two sides" alone: "the two sides discussed trade"
    r"(?i)\beach (?:side|readout|government|account)\b"
    r"|\b(?:both|the two) sides['’] (?:readouts?|accounts?)\b"
    r"|\bchaque (?:côté|partie|camp)\b|\bles deux comptes rendus\b"
    r"|\bcompar\w+ (?:the|les) (?:two |deux )?(?:readouts?|comptes rendus)\b")
# Words that name a side, and how a readout of that side is recognised (source or url).
SIDES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"(?i)\b(?:chinese|china['’]s|beijing['’]s|cctv|xinhua|chinois\w*|chine)\b"),
     re.compile(r"(?i)cctv|xinhua|china|chinois|fmprc|新闻|新华")),
    (re.compile(r"(?i)\b(?:american|us|u\.s\.|white house|washington['’]s|américain\w*|"
                r"maison[- ]blanche)\b"),
     re.compile(r"(?i)white ?house|whitehouse|maison[- ]blanche|state\.gov")),
    (re.compile(r"(?i)\b(?:swiss|switzerland['’]s|suisse|helvétique)\b"),
     re.compile(r"(?i)swiss|suisse|admin\.ch|confédération")),
)


def is_side_question(question: str) -> bool:
    """True for a question on what one side's readout leaves out or how each side told it."""
    return bool(_LEFT_OUT.search(question) or _EACH_SIDE.search(question))


def side_of(question: str, a: Readout, b: Readout) -> Readout | None:
    """The readout the question names by its side ("the Chinese readout"), if one does."""
    for words, publisher in SIDES:
        if words.search(question):
            for r in (a, b):  # the url's site, not its path ("call-with-xi-of-china")
                if publisher.search(f"{r.source} {registrable_domain(r.url)}"):
                    return r
    return None


@dataclass(frozen=True)
class _Quote:
    readout: Readout
    sentence: Sentence


def _citations(quotes: Sequence[_Quote]) -> tuple[Citation, ...]:
    return tuple(
        Citation(n=n, doc_id=q.readout.doc_id, title=q.readout.title, date=q.readout.date,
                 source=q.readout.source, url=q.readout.url,
                 chunk_id=f"{q.readout.doc_id}#sentence-{q.sentence.index}",
                 text=q.sentence.text, quote=q.sentence.text, start=q.sentence.start,
                 end=q.sentence.end)
        for n, q in enumerate(quotes, 1))


def publisher_name(source: str) -> str:
    """"White House" for "The White House, Briefing Room (United States)"."""
    name = re.split(r"[,(《–—]", source, maxsplit=1)[0].strip()
    return re.sub(r"^the\s+", "", name, flags=re.IGNORECASE) or source


def _salient(alone: Sequence[Sentence], this: Readout, other: Readout) -> list[Sentence]:
    """One-sided sentences, those raising a subject the other readout never names first
    (the two parties are not such a subject)."""
    others = topics_in(f"{other.title}\n{other.text}") | parties(this) | parties(other)
    new = [s for s in alone if topics_in(s.text) - others]
    rest = [s for s in alone if s not in new]
    return sorted((new + rest)[:MAX_SENTENCES], key=lambda s: s.index)


def _on_subject(sentences: Sequence[Sentence], subjects: frozenset[str]) -> list[Sentence]:
    return [s for s in sentences if topics_in(s.text) & subjects][:MAX_SENTENCES]


def _line(label: str, quotes: Sequence[_Quote], first_n: int) -> str:
    cited = " ".join(f"{q.sentence.text} [{first_n + i}]" for i, q in enumerate(quotes))
    return f"- {label}: {cited}"


def answer_from_alignment(question: str, al: Alignment, focus: Readout | None) -> Answer:
    """The answer: what one side left out (``focus`` the readout asked about), or how each
    side spoke of the question's subject, citing the sentences of both readouts."""
    a, b = al.a, al.b
    subjects = topics_in(question) - topics_in(f"{a.title} {b.title}")
    sides: list[tuple[str, list[_Quote]]]
    if _LEFT_OUT.search(question) or not subjects:
        first, second = (b, a) if focus is not None and focus.doc_id == a.doc_id else (a, b)
        alone = {a.doc_id: al.only_a, b.doc_id: al.only_b}
        one, two = publisher_name(first.source), publisher_name(second.source)
        sides = [
            (f"Only the {one} readout says",
             [_Quote(first, s) for s in _salient(alone[first.doc_id], first, second)]),
            (f"Only the {two} readout says",
             [_Quote(second, s) for s in _salient(alone[second.doc_id], second, first)]),
        ]
        opening = (f"The {two} readout ({second.date}) leaves out what only the {one} "
                   f"readout ({first.date}) says:" if focus is not None else
                   f"What each readout of this event says and the other does not ({one}, "
                   f"{first.date}; {two}, {second.date}):")
    else:
        sides = [(f"The {publisher_name(r.source)} readout",
                  [_Quote(r, s) for s in _on_subject(ss, subjects)])
                 for r, ss in ((a, al.sentences_a), (b, al.sentences_b))]
        opening = f"How each side's readout speaks of {', '.join(sorted(subjects))}:"
    lines = [opening]
    quotes: list[_Quote] = []
    for label, side_quotes in sides:
        if side_quotes:
            lines.append(_line(label, side_quotes, len(quotes) + 1))
            quotes += side_quotes
        else:
            lines.append(f"- {label}: nothing on this.")
    return Answer(question=question, answered=bool(quotes), text="\n".join(lines),
                  citations=_citations(quotes), answerer=ANSWERER)


def answer_side_question(question: str, passages: Sequence[Passage], store: ReadoutStore,
                         embeddings: Embeddings) -> Answer | None:
    """The alignment's answer for the first retrieved readout that has an other-side
    readout, or None (the question is then answered as any other)."""
    for doc_id in dict.fromkeys(p.doc_id for p in passages):
        readout = store.get_readout(doc_id)
        pairs = other_side(readout, store, embeddings) if readout else []
        if readout is None or not pairs:
            continue
        other = pairs[0].other(doc_id)
        focus = side_of(question, readout, other)
        answer = answer_from_alignment(question, align(readout, other, embeddings), focus)
        return Answer(answer.question, answer.answered, answer.text, answer.citations,
                      tuple(passages), ANSWERER)
    return None
