"""Is the best passage an answer to this question? Named question-level features of a ranked
retrieval, combined by the fitted logistic model of ``weights.json`` into a probability;
under the fitted threshold the question is refused, with the reason its most damning feature
gives.

Each feature is a small function of the retrieval, 0 when it has nothing to say; the weights
come from ``bench/fit.py``, never from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.metadata import find_countries
from rag.names import KnownName, gazetteer
from rag.query import event_kind, mentions_topic
from rag.ranking.evidence import subject_share
from rag.ranking.model import RankingModel
from rag.retrieve import Retrieval
from rag.schema import Filters
from rag.sentences import sentence_spans
from rag.tokenize import fold

CJK_LANGUAGES = frozenset({"zh", "ja", "ko"})
# Words of names that any readout may hold: "Group" does not make the Wagner Group mentioned.
GENERIC_NAME_WORDS = frozenset(fold(w) for w in """group groupe company compagnie forum summit
    sommet council conseil committee comité bank banque fund fonds union organisation
    organization house maison office agency agence party parti army armée initiative
    conference conférence festival island islands île îles sea mer ocean océan north south
    east west nord sud est ouest new great""".split())

Feature = Callable[[Retrieval], float]
FEATURES: dict[str, Feature] = {}
# What a refusal says when a feature is what sank the answer (the others say "not close").
REASONS: dict[str, Callable[[Retrieval], str]] = {}


def feature(function: Feature) -> Feature:
    """Register ``function`` under its name, in definition order."""
    FEATURES[function.__name__] = function
    return function


@dataclass(frozen=True)
class Assessment:
    """The model's verdict on a retrieval: its probability, and why it is refused (or None)."""

    probability: float
    refusal: str | None
    parts: tuple[tuple[str, float], ...] = ()  # each feature's contribution to the log-odds


def assess(retrieval: Retrieval, model: RankingModel, threshold: float | None = None
           ) -> Assessment:
    """The answerability of ``retrieval`` under ``model``; ``threshold`` overrides the
    model's own."""
    if not retrieval.passages:
        return Assessment(0.0, "no readout matches the question and filters")
    if retrieval.date_fallback:  # as for filters that match nothing: the period is empty
        facts = retrieval.facts
        return Assessment(0.0, f"no readout is dated between {facts.since} and {facts.until}")
    values = feature_values(retrieval, model.answerability.names)
    probability = model.probability(values)
    parts = model.answerability.parts(values)
    if probability >= (model.threshold if threshold is None else threshold):
        return Assessment(probability, None, parts)
    return Assessment(probability, refusal_reason(retrieval, parts), parts)


def feature_values(retrieval: Retrieval, names: tuple[str, ...]) -> list[float]:
    """The values of the features ``names`` for ``retrieval``."""
    return [FEATURES[name](retrieval) for name in names]


# Reasons, most specific first: a refusal names what is missing before "not about them all".
SPECIFICITY = ("names_missing", "top_readout_names_missing", "topic_absent", "window_missed",
               "place_elsewhere", "event_mismatch", "no_matching_readout")


def refusal_reason(retrieval: Retrieval, parts: tuple[tuple[str, float], ...]) -> str:
    """What the user is told: of the features that lowered the probability, the most
    specific one that has words (a missing name before "no readout about all of them"),
    else that the readouts do not come close."""
    lowered = {name for name, value in parts if value < 0}
    for name in SPECIFICITY:
        if name in lowered:
            return REASONS[name](retrieval)
    return "no passage is close enough to the question"


@feature
def best_dense(r: Retrieval) -> float:
    """The highest language-centred cosine of any candidate: how close the readouts come."""
    return r.best_dense


@feature
def top_score(r: Retrieval) -> float:
    """The ranking score of the best passage: all its signals together."""
    return r.passages[0].score


@feature
def margin(r: Retrieval) -> float:
    """How far the best passage ranks above the best candidate of any other readout (all
    candidates, not only the top passages: a readout filling the top five stands out
    most): one readout standing out is likelier the event asked about."""
    return r.passages[0].score - r.rival if r.rival is not None else 0.0


def missing_names(r: Retrieval) -> list[str]:
    """Names of the question that no retrieved passage mentions.

    A name of the gazetteer counts in any of its forms and scripts (Scholz as 朔尔茨), or
    when its last word has the same consonants as a word of the passages ("Poutine"): its
    first word may be someone else's (Vladimir, Volodymyr). Any other name counts in any
    spelling close enough to one of its distinctive parts ("Le Drian", not "Group" for the
    Wagner Group). Chinese passages keep brand names in Latin letters (TikTok) but
    transliterate people, so when the best passage is Chinese such a name cannot be judged
    and counts. Cities and organisations count too, in any script: "Bern" that no passage
    names is as telling as a person.
    """
    passages = r.passages
    blob = " ".join(f"{p.title} {p.text}" for p in passages)
    unreadable = bool(passages) and passages[0].language in CJK_LANGUAGES
    return names_absent(r, blob, unreadable)


def names_absent(r: Retrieval, blob: str, unreadable: bool) -> list[str]:
    """The question's names, known places included, that ``blob`` does not mention (see
    ``missing_names``)."""
    words = set(re.findall(r"[^\W_]+", fold(blob)))  # "cop28" too
    skeletons = {_skeleton(w) for w in words}
    missing = []
    for name in r.facts.names:
        known = [k for k in r.facts.known if k.covers(name)]
        if known:
            present = any(k.in_text(blob) for k in known) or (
                _skeleton(name.split()[-1]) in skeletons
            )
        else:
            parts = [w for w in name.split() if w not in GENERIC_NAME_WORDS] or name.split()
            present = unreadable or any(_mentioned(part, words, skeletons) for part in parts)
        if not present:
            missing.append(name)
    return missing


def _skeleton(word: str) -> str:
    """Consonants of a folded word: "Poutine" and "Putin", "Téhéran" and "Tehran" agree."""
    consonants = re.sub(r"[aeiouyh]", "", re.sub(r"[^a-z]", "", fold(word)))
    return re.sub(r"(.)\1+", r"\1", consonants)


def _mentioned(part: str, words: set[str], skeletons: set[str]) -> bool:
    """Whether name part ``part`` is among ``words``, allowing a spelling that keeps its
    consonants (a short part must be there as it is)."""
    skeleton = _skeleton(part)
    if len(skeleton) < 3:
        return part in words
    return skeleton in skeletons or any(
        len(s) >= 3 and abs(len(s) - len(skeleton)) <= 1
        and (s.startswith(skeleton) or skeleton.startswith(s))
        for s in skeletons
    )


@feature
def names_missing(r: Retrieval) -> float:
    """Share of the question's names (people, organisations, things: "TikTok") that no
    retrieved passage mentions in any form."""
    return len(missing_names(r)) / len(r.facts.names) if r.facts.names else 0.0


REASONS["names_missing"] = lambda r: (
    f"the readouts found do not mention {', '.join(missing_names(r))}")


def top_readout_absent_names(r: Retrieval) -> list[str]:
    """The question's names, places included, that the best passage's readout (its title and
    every passage the search read) does not mention: "in Geneva" when they met in Riga."""
    unreadable = r.passages[0].language in CJK_LANGUAGES
    return names_absent(r, r.top_readout, unreadable)


@feature
def top_readout_names_missing(r: Retrieval) -> float:
    """Share of the question's names and places the best passage's own readout never
    mentions, in any form: the readout an answer would cite is about someone or somewhere
    else."""
    return len(top_readout_absent_names(r)) / len(r.facts.names) if r.facts.names else 0.0


REASONS["top_readout_names_missing"] = lambda r: (
    f"the closest readout does not mention {', '.join(top_readout_absent_names(r))}")


@feature
def top_readout_topic_absent(r: Retrieval) -> float:
    """Share of the question's subject, by rarity, in words absent from the best passage's
    own readout, when it is in the question's language (another language says it in other
    words)."""
    facts = r.facts
    if not facts.topics or not facts.language or r.passages[0].language != facts.language:
        return 0.0
    text = fold(r.top_readout)
    return rarity_share(r, [w for w in facts.topics if not mentions_topic(text, w)])


def rarity_share(r: Retrieval, words: Sequence[str]) -> float:
    """The share of the question's subject that ``words`` (some of its subject words) carry,
    each word weighing its rarity in the collection: in "China and Switzerland's cooperation
    on hydrogen", "hydrogen" is most of the subject and "cooperation" little of it."""
    weights = dict(zip(r.facts.topics, r.topic_rarity or [1.0] * len(r.facts.topics),
                       strict=True))
    total = sum(weights.values())
    return sum(weights[w] for w in words) / total if total else 0.0


@feature
def topic_unknown(r: Retrieval) -> float:
    """Share of the question's subject, by rarity, in words that no readout at all contains
    ("softwood", "lumber"): a subject the collection never speaks of."""
    return rarity_share(r, r.unknown_topics)


def absent_topics(r: Retrieval) -> list[str]:
    """The question's subject words that no retrieved passage in its own language holds, when
    the best passage is in that language (another language says it in other words)."""
    facts = r.facts
    if not facts.topics or not facts.language or r.passages[0].language != facts.language:
        return []
    blob = " ".join(fold(f"{p.title} {p.text}") for p in r.passages
                    if p.language == facts.language)
    return [word for word in facts.topics if not mentions_topic(blob, word)]


@feature
def topic_absent(r: Retrieval) -> float:
    """Share of the question's subject, by rarity, in words absent from the retrieved
    passages of its own language (0 when the best passage is in another language)."""
    return rarity_share(r, absent_topics(r))


REASONS["topic_absent"] = lambda r: (
    f"the readouts found do not mention {', '.join(absent_topics(r))}")


def matching_readout(r: Retrieval, window: Filters) -> bool:
    """True when a retrieved readout (dated in ``window``, if it has dates) names, in its
    retrieved passages, every person the question names and mentions one of its countries
    if it names any; a country asked about ("the Gibraltar dispute") must be among the
    readout's own. Places need not be named."""
    facts = r.facts
    wanted = {c.upper() for c in facts.countries}
    subjects = set(facts.subject_countries)
    texts: dict[str, str] = {}
    for p in r.passages:
        in_window = not window.since or (
            p.date and window.since <= p.date <= (window.until or p.date)
        )
        if not in_window or (wanted and not wanted & set(p.countries)):
            continue
        if subjects and not subjects <= {*p.countries, *find_countries(p.text)}:
            continue  # read again: stored countries predate some aliases (涉港)
        texts[p.doc_id] = f"{texts.get(p.doc_id, '')} {p.title} {p.text}"
    return any(all(k.in_text(text) for k in facts.people) for text in texts.values())


@feature
def no_matching_readout(r: Retrieval) -> float:
    """1 when no retrieved readout names every person the question names together with one
    of its countries: "Xi's visit to Switzerland" is not answered by a Biden-Xi readout."""
    return float(not matching_readout(r, Filters()))


REASONS["no_matching_readout"] = lambda r: (
    "no readout found is about all the people and countries the question names")


@feature
def window_missed(r: Retrieval) -> float:
    """1 when the question names dates and no retrieved readout of those dates (with the
    date filter's slack) names its people and countries: the right leaders, another year."""
    window = r.facts.date_filters(Filters())
    return float(bool(window.since) and not matching_readout(r, window))


REASONS["window_missed"] = lambda r: (
    f"no readout between {r.facts.since} and {r.facts.until} matches the question")


def opening(r: Retrieval) -> str:
    """The best readout's title and first sentence (when the search read it): where a readout
    says where the event took place; further on, "Washington" may mean the U.S. government."""
    top = r.passages[0]
    first = next((p.text for p in r.passages if p.doc_id == top.doc_id and p.start == 0), "")
    spans = sentence_spans(first)
    return f"{top.title}\n{first[spans[0][0]:spans[0][1]] if spans else ''}"


def asked_cities(r: Retrieval) -> list[KnownName]:
    """The known cities the question names ("in Brasilia", "à Pékin")."""
    return [k for k in r.facts.known if k.city]


def cities_elsewhere(r: Retrieval) -> list[str]:
    """The cities the best readout's opening names when the question puts the event in a
    city that readout never names; empty otherwise."""
    asked = asked_cities(r)
    if not asked or any(k.in_text(r.top_readout) for k in asked):
        return []
    return [k.label for k in gazetteer().find(opening(r)) if k.city]


@feature
def place_elsewhere(r: Retrieval) -> float:
    """1 when the question puts the event in a city that the best readout never names while
    its opening names another city: they met elsewhere ("in Brasilia", where the readout
    opens "in Geneva"). A readout that does not say where ("came to China") says nothing
    against the question."""
    return float(bool(cities_elsewhere(r)))


REASONS["place_elsewhere"] = lambda r: (
    f"the closest readout took place in {', '.join(cities_elsewhere(r))}, not "
    f"{', '.join(k.label for k in asked_cities(r))}")


@feature
def event_mismatch(r: Retrieval) -> float:
    """1 when the best readout reports another kind of event than asked (a call for a
    visit); lists may mix both."""
    reported = event_kind(r.passages[0].title)
    return float(bool(r.facts.event and reported and reported != r.facts.event
                      and not r.facts.wants_list))


REASONS["event_mismatch"] = lambda r: (
    f"the closest readout reports a {event_kind(r.passages[0].title)}, not a {r.facts.event}")


@feature
def top_names_all(r: Retrieval) -> float:
    """1 when the best passage (with its title) names every known person and place of the
    question, in any script: evidence of its own even when a cross-lingual cosine is low."""
    known = r.facts.known
    best = r.passages[0]
    return float(bool(known) and all(k.in_text(f"{best.title} {best.text}") for k in known))


@feature
def dated_and_named(r: Retrieval) -> float:
    """1 when the question's dates narrowed the search and the best passage names its
    people: a readout of the very day asked, about them."""
    best = r.passages[0]
    people = r.facts.people
    return float(r.date_narrowed and bool(people)
                 and all(k.in_text(f"{best.title} {best.text}") for k in people))


@feature
def top_names_everyone(r: Retrieval) -> float:
    """1 when the best passage's readout names every person and country of the question."""
    return float(r.passages[0].doc_id in r.naming_all)


@feature
def top_subject(r: Retrieval) -> float:
    """The largest share of the question's subject (words, and countries asked about in any
    language) that one sentence of the best passage holds; 0 when it has no subject."""
    facts = r.facts
    countries = facts.subject_countries or (() if facts.topics else facts.countries)
    if not facts.topics and not countries:
        return 0.0
    return subject_share(r.passages[0].text, facts.topics, countries)


@feature
def cross_language(r: Retrieval) -> float:
    """1 when the best passage is in another language than the question: cross-lingual
    cosines run lower for the same evidence."""
    language = r.facts.language
    return float(bool(language) and r.passages[0].language != language)


@feature
def subject_closeness(r: Retrieval) -> float:
    """The best cosine of a top passage with the question's subject alone (names and dates
    left out), in any language: an absent topic ("the Dalai Lama" in a call that never
    names him) stays far from every passage. 0 when the question has no subject."""
    return r.subject_best or 0.0


@feature
def has_subject(r: Retrieval) -> float:
    """1 when the question has subject words: without them, names and dates are all it
    asks ("When did they last meet?"), and any readout of them answers."""
    return float(bool(r.facts.topics or r.facts.subject_countries))
