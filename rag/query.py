"""What a question says beyond its words: the dates and countries it pins, and its kind."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Literal

from rag.metadata import cjk_countries_removed, find_countries
from rag.names import KnownName, gazetteer
from rag.schema import Filters
from rag.sentences import first_sentence
from rag.tokenize import fold, strip_accents, tokens

DATE_SLACK_DAYS = 3
Order = Literal["earliest", "latest"]
MONTHS = {
    **{m.lower(): i for i, m in enumerate(calendar.month_name) if m},
    **{m.lower(): i for i, m in enumerate(calendar.month_abbr) if m},
    "sept": 9,
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
    "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
    "décembre": 12, "decembre": 12,
}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_DAY_MONTH_YEAR = re.compile(
    rf"\b(?:(\d{{1,2}})(?:er)?\s+)?({_MONTH_RE})\.?\s+(?:(\d{{1,2}}),?\s+)?((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
_RANGE = r"(?:\s*(?:-|–|to|and|au|et)\s*(\d{1,2})(?:er)?)?"
_MONTH_DAYS = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})\b{_RANGE}", re.IGNORECASE)
_DAYS_MONTH = re.compile(rf"\b(\d{{1,2}})(?:er)?{_RANGE}\s+({_MONTH_RE})\b", re.IGNORECASE)
_TODAY = re.compile(r"(?i)\btoday\b|\bthis (?:morning|afternoon|evening)\b|\baujourd['’]hui\b"
                    r"|\bce (?:matin|soir)\b|\bcet après-midi\b|今天|今日|今晚")
_ZH_DAYS = re.compile(r"(?:(\d{1,2})月)?(\d{1,2})日(?:至(\d{1,2})日)?")
_ZH_DATE = re.compile(r"((?:19|20)\d\d)年(?:(\d{1,2})月)?(?:(\d{1,2})日)?")
_ISO = re.compile(r"\b((?:19|20)\d\d)-(\d\d)(?:-(\d\d))?\b")
_YEAR = re.compile(r"(?<![\d-])((?:19|20)\d\d)(?![\d-])")
# "the 2009 free trade agreement", "l'accord de libre-échange de 2014": the year of a text the
# question refers to, not the date of the event it asks about
_TEXTS = (r"(?:agreements?|accords?|treat(?:y|ies)|traités?|memorand(?:um|a)|mémorandum|mou|"
          r"declarations?|déclarations?|conventions?|protocols?|protocoles?|joint statements?|"
          r"communiqués?|fta)")
_BETWEEN = r"(?:\s+(?!(?:on|in|at|with|about|to|and|for|en|à|avec|sur|et|pour)\b)[\w'’-]+){0,4}?"
_YEAR_OF_A_TEXT = re.compile(
    rf"(?i)(?<![\d-])(?:19|20)\d\d{_BETWEEN}\s+{_TEXTS}\b"
    rf"|\b{_TEXTS}{_BETWEEN}\s+(?:of|de|du)\s+(?:19|20)\d\d(?![\d-])")
# A list of people or of occasions: "which <up to three words> leaders", "quels présidents",
# "都会见了谁", "how many times... on which dates", "combien de fois", "通过几次电话" ("what did
# the ministers agree" is not one: no verb or article before the noun). The nouns are the
# officials and events readouts report, not the things said ("quels accords" asks what one
# readout says); a plural of dates or times asks for every occasion, "on what date" for one.
_LIST_CUES = re.compile(
    r"\b(which|what) (?:(?!(?:did|do|does|has|have|had|will|would|the)\b)[\w-]+ (?:and )?){0,3}"
    r"(leaders|countries|presidents|prime ministers|ministers|officials"
    r"|heads of (?:state|government)|counterparts|calls|meetings|conversations|dates|occasions)\b"
    r"|\bwho did\b|\bwho (?:has|have)\b|\bwith whom\b|\blist\b|\bhow (?:many times|often)\b"
    r"|\bquel(?:le)?s (?:[\w'’-]+ (?:et )?){0,3}(?:dirigeant|pays|homologue|président|ministre"
    r"|responsable|chefs|personnalités|entretiens|appels|rencontres|dates)\w*"
    r"|\bavec qui\b|\bqui a\b.*\b(appelé|rencontré|reçu)\b|\bcombien de fois\b"
    r"|(?:哪些|哪几[位个次])[\u4e00-\u9fff]{0,4}?(?:领导人|元首|首脑|总统|总理|首相|国家|官员|外长|部长|人"
    r"|通话|电话|会见|会谈|会晤)|(?<!第)几次"
    r"|都.{0,8}谁|了谁|同谁|与谁|和谁",
    re.IGNORECASE,
)
# Chinese asks when anywhere in the sentence ("他们最近一次通电话是什么时候？").
_WHEN = re.compile(r"^\W*(?:when|quand|on what date|à quelle date)\b"
                   r"|何时|什么时候|哪一?天|什么日子|几月几[日号]", re.IGNORECASE)
_CALL = re.compile(r"(?i)\b(?:call(?:s|ed)?|phone|telephone|video|virtual|videoconference|"
                   r"appel|appelé|téléphon\w*|visioconférence)\b|电话|通话|视频")
_MEETING = re.compile(r"(?i)\b(?:meet(?:s|ing|ings)?|met|in person|visit(?:s|ed)?|visite|"
                      r"rencontr\w*|talks)\b|会见|会谈|会晤|访问")
EventKind = Literal["call", "meeting"]
_ANNOUNCES = re.compile(
    r"(?i)\bwill (?:speak|meet|host|hold|welcome|participate|travel|visit|receive|attend|call)\b"
    r"|\b(?:s['’]entretiendra|rencontrera|recevra|accueillera|se rendra|participera)\b"
    r"|将(?:于|同|与|会见|会晤|出席|访问|举行|通电话)")
_ASKS_PLANS = re.compile(r"(?i)\b(?:will|announc\w*|plann\w*|upcoming|schedul\w*|annon[cç]\w*|"
                         r"prévu\w*)\b|宣布|将")
_TIME_WORDS = r"(?:week|month|year|night|summer|winter|spring|autumn|fall|semaine|mois|année)"
# Chinese orders: 第一次/首次 (the first), 最近一次/最后一次/上一次 (the most recent); 最近 alone is
# "recently", not an order.
_EARLIEST = re.compile(
    r"\b(?:first|earliest|(?-i:premi(?:er|ère)))\b(?! (?:ministers?|ministre|lady|secretary))"
    r"|(?<!\d)第一次|首次|最早",
    re.IGNORECASE,
)
_LATEST = re.compile(
    rf"\b(?:last|latest|most recent|derni(?:er|ère)|plus récente?)\b(?!\s+{_TIME_WORDS}\b)"
    rf"(?!\s+(?:{_MONTH_RE})\b)|(?:最近|最后|上|最新)的?一次",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"^(?:and|also|what about|how about|et|aussi|quant à|那么|还有)\b|\b(he|she|they|him|her|them"
    r"|his|their|that call|that meeting|this call|il|elle|ils|lui|cet entretien|ce même)\b",
    re.IGNORECASE,
)

# Verbs of speaking: "What did Xi say about Taiwan?" asks for one side's words.
_SPEECH = re.compile(
    r"(?i)\b(?:say|said|says|tell|told|stress\w*|emphasi[sz]\w*|underline\w*|underscor\w*|"
    r"rais\w*|express\w*|warn\w*|urg\w*|insist\w*|propos\w*|call(?:ed)? for|position|"
    r"view|dit|dire|déclar\w*|affirm\w*|soulign\w*|insist\w*|exprim\w*|demand\w*|"
    r"évoqu\w*|averti\w*|plaid\w*)\b|说|表示|指出|强调|谈到|提出|主张|立场|表态")

_SUBJECT_CUE = re.compile(r"(?i)\b(?:about|on|regarding|concerning|sur|au sujet d[eu']|"
                          r"concernant|à propos d[eu']|quant à)\b")

# Words of a question that say what kind of event it asks about, not its subject.
EVENT_WORDS = frozenset(fold(w) for w in """
    say said says tell told discuss discussed agree agreed meet met meeting meetings visit visited
    visits call called calls speak spoke spoken talk talked talks raise raised bring brought
    mention mentioned want wanted push ask asked thank thanked express expressed stated position
    think thinks thought view views
    president presidents prime minister ministers premier chancellor leader leaders foreign
    federal councillor secretary state official officials delegation counterpart counterparts
    during when first last latest recent before after year years month phone video person
    many times time often date dates occasion occasions combien fois
    second become becoming side sides country countries government
    dit dire dites parlé parler discuté discuter entretenu entretenus entretien entretiens
    pense pensent penser pensé
    rencontre rencontré rencontrée rencontres visite visites appel appels appelé téléphone
    président présidente ministre ministres conseiller conseillère fédéral fédérale chef état
    premier première dirigeant dirigeants lors avant après année mois évoqué mentionné
    mentionnée demandé exprimé sujet propos côté pays gouvernement homologue homologues
    ont-elles ont-ils a-t-il a-t-elle se sont-ils sont-elles
    """.split())
DEMONYMS = frozenset(fold(w) for w in """
    chinese american french swiss russian british german kyrgyz kazakh ukrainian european
    japanese korean indian egyptian canadian italian spanish iranian
    chinois chinoise américain américaine français française suisse russe britannique
    allemand allemande kirghize kazakh ukrainien ukrainienne européen européenne japonais
    coréen indien égyptien canadien italien espagnol iranien
    """.split())
_FRENCH = re.compile(r"(?i)\b(?:qu['’]|quel(?:le)?s?\b|les\b|des\b|du\b|est\b|ont\b|lors\b|"
                     r"sur\b|avec\b|pour\b|à\b|au\b|aux\b)")
_ENGLISH = re.compile(r"(?i)\b(?:what|which|when|who|how|did|does|do|the|with|about|in|of|on|"
                      r"was|were|and)\b")


def event_kind(text: str) -> EventKind | None:
    """"call" or "meeting" when a question or a readout title says which (and not both):
    "their first phone call", "Readout of ... Meeting with ...", "习近平同英国首相通电话"."""
    call, meeting = bool(_CALL.search(text)), bool(_MEETING.search(text))
    if call == meeting:
        return None
    return "call" if call else "meeting"


def announces(opening: str) -> bool:
    """True when a readout opens by announcing an event still to come ("President Biden will
    speak with President Xi ... this Friday"): a press secretary's preview says when, not what
    was said; 17 of the 1,355 shared readouts are such previews."""
    return bool(_ANNOUNCES.search(first_sentence(opening)))


def question_language(question: str) -> str | None:
    """"en", "fr" or "zh" when the question's function words (or script) say so clearly;
    None otherwise: checks that compare words across languages must then stay silent."""
    if re.search(r"[\u4e00-\u9fff]", question):
        return "zh"
    french, english = len(_FRENCH.findall(question)), len(_ENGLISH.findall(question))
    if french >= 2 and french > english:
        return "fr"
    if english >= 2 and english > french:
        return "en"
    return None


TOPIC_PREFIX = 5  # letters of a subject word that must appear: "signé" finds "signée"


def mentions_topic(folded: str, word: str) -> bool:
    """Whether a folded text holds subject word ``word`` (its first ``TOPIC_PREFIX``
    letters, so that inflections match)."""
    return word[:TOPIC_PREFIX] in folded


def topic_words(question: str, facts_names: tuple[str, ...], known: tuple[KnownName, ...]
                ) -> tuple[str, ...]:
    """The words of a Latin-script question that name its subject ("lithium", "softwood",
    "lumber"): its tokens less event words, months, numbers, names and countries."""
    skip = set(tokens(" ".join(facts_names))) | {
        t for k in known for form in k.latin for t in tokens(form)}
    out = []
    for word in re.findall(r"[^\W\d_][\w'’-]*", question):
        if find_countries(word) or find_countries(word.capitalize()):
            continue
        out += [t for t in tokens(word) if len(t) > 3 and t not in EVENT_WORDS
                and t not in DEMONYMS and t not in skip and t not in MONTHS
                and not t.isdigit()]
    return tuple(dict.fromkeys(out))


# What a Chinese question says around its subject, as EVENT_WORDS and STOPWORDS are for
# English and French: question words, function words, roles, and the kinds of event. Longest
# forms first, so that "通电话" goes before "电话".
ZH_NOT_SUBJECT = tuple(sorted(set("""
    什么 哪些 哪个 哪位 哪里 哪国 哪方 哪一天 哪天 哪一 哪几 如何 怎样 怎么 多少 多久 多长 何时 何地
    何处 为何 为什么 是否 有无 几次 几个 第一次 首次 最后一次 最近一次 上一次 最近 最后 第一 第几
    分别 是在 通过 以来 之后 之前 期间 之间 当时 那时 这次 此次 那次 其中 曾经 以及
    的 了 吗 呢 谁 在 同 与 和 跟 及 并 就 对 向 给 把 被 于 从 时 其 该 此 这 那 曾 又 也 都 还
    会谈 会见 会晤 见面 通电话 通话 电话 视频 访问 访华 出访 到访 来访 国事访问 正式访问 举行 出席
    领导人 总统 主席 总理 首相 国王 外长 部长 副主席 副总理 国务委员 国务卿 联邦 委员 议长 大使
    中方 双方 两国 对方 各方 一方 两位 两人 方面 国家 政府
    表示 表达 谈及 谈到 说 说了 讲 提到 提及 讨论 探讨 提出 强调 指出 重申 介绍 回应 评论 谈了 谈
    达成 签署 宣布 同意 立场 看法 态度 观点 内容 成果 主要 问题 情况 事情
    年 月 日 号 今年 去年 明年
    """.split()), key=len, reverse=True))
_ZH_NOT_SUBJECT = re.compile("|".join(map(re.escape, ZH_NOT_SUBJECT)))
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]{2,}")


def without_chinese_names(text: str, known: tuple[KnownName, ...]) -> str:
    """``text`` with the Chinese forms of the ``known`` names blanked out."""
    for name in known:
        for form in name.chinese:
            text = text.replace(form, " ")
    return text


def zh_topic_words(question: str, known: tuple[KnownName, ...]) -> tuple[str, ...]:
    """The subject of a Chinese question ("深海采矿" in "中方在同斐济领导人会谈时就深海采矿
    问题表达了什么立场？") as the BM25 bigrams of what is left once its known names, countries,
    dates and the words of ``ZH_NOT_SUBJECT`` are taken out. A name the gazetteer lacks
    (普拉博沃) stays: a readout that never names it cannot answer either."""
    rest = cjk_countries_removed(without_chinese_names(_ZH_DATE.sub(" ", question), known))
    rest = _ZH_NOT_SUBJECT.sub(" ", rest)
    return tuple(dict.fromkeys(t for run in _CJK_RUN.findall(rest) for t in tokens(run)))


_NAME = re.compile(r"(?<=[\s'’(«\"])([A-Z][\w-]*[a-z][\w-]*|[A-Z]{2,}\d*)")
NOT_NAMES = frozenset(
    """what which when where who whom why how did does do was were is are has have had the
    and for with about after before during president prime minister premier chancellor king
    secretary federal councillor chinese american french swiss russian british german
    quel quelle quels quelles quand qui que quoi comment pourquoi président présidente
    ministre conseiller conseillère fédéral fédérale le la les un une des du de en et
    chine suisse états-unis france russie maison-blanche kremlin elysee
    un onu nato otan eu ue g7 g20 brics asean apec wto omc who oms imf fmi osce sco ocs cop
    opec opep iaea aiea unesco""".split()
)  # (seats of government, which readouts seldom name; organisations, which they name in
#   words: "Nations unies")


PARTICLES = frozenset("le la de du des van von der al el bin da di".split())
MAX_PARTICLES = 3
# French geographic names put a translated adjective after a lower-case noun ("mer Rouge")
GEOGRAPHIC = frozenset(fold(w) for w in "mer océan golfe détroit canal mont lac fleuve".split())


@dataclass(frozen=True)
class QuestionFacts:
    """Restrictions a question states in words ("in February 2021", "Kyrgyzstan")."""

    since: str | None = None
    until: str | None = None
    countries: tuple[str, ...] = ()
    wants_list: bool = False
    order: Order | None = None  # the question asks for the first or the last event
    asks_when: bool = False  # "When did ...": readouts give the date in their opening
    language: str | None = None  # the question's language, when it is clear
    event: EventKind | None = None  # a call or a meeting, when the question says which
    topics: tuple[str, ...] = ()  # words naming its subject (``topic_words``)
    names: tuple[str, ...] = ()  # proper names past the first word, folded ("tibet", "putin")
    known: tuple[KnownName, ...] = ()  # people and places of the gazetteer, in every form
    asks_plans: bool = False  # "When will they meet?": previews answer it, not only records
    subject_countries: tuple[str, ...] = ()  # what it asks about: "about the Ukraine crisis"
    speaker: KnownName | None = None  # whose words it asks for: "What did Xi say ..."

    @property
    def people(self) -> tuple[KnownName, ...]:
        """The known names that are people: who met whom."""
        return tuple(k for k in self.known if not k.place)

    def other_forms(self, question: str) -> list[str]:
        """Forms of the question's known names that it does not use itself ("朔尔茨" for a
        question naming Scholz): added to the lexical query to reach other scripts."""
        plain = strip_accents(question)
        return [form for name in self.known for form in name.forms if form not in plain]

    def lexical_query(self, question: str) -> str:
        """The question with the other forms of its known names, for BM25."""
        return " ".join([question, *self.other_forms(question)])

    def date_filters(self, base: Filters) -> Filters:
        """``base`` narrowed to the question's dates, where they fall inside the dates the
        user set ("their call of February 9, 2022" with February 2022 set keeps the 9th);
        ``base`` itself when the question names no dates or none inside the user's.

        The range is widened by ``DATE_SLACK_DAYS``: a readout's date is sometimes the day it
        was published, a day or three after the call.
        """
        if not (self.since and self.until):
            return base
        since = (dt.date.fromisoformat(self.since)
                 - dt.timedelta(days=DATE_SLACK_DAYS)).isoformat()
        until = (dt.date.fromisoformat(self.until)
                 + dt.timedelta(days=DATE_SLACK_DAYS)).isoformat()
        since, until = max(since, base.since or since), min(until, base.until or until)
        if since > until or (since, until) == (base.since, base.until):
            return base
        return replace(base, since=since, until=until)


def _range(year: int, month: int | None, day: int | None) -> tuple[str, str]:
    if month is None:
        return f"{year}-01-01", f"{year}-12-31"
    if day is None:
        last = calendar.monthrange(year, month)[1]
        return f"{year}-{month:02d}-01", f"{year}-{month:02d}-{last:02d}"
    return (f"{year}-{month:02d}-{day:02d}",) * 2


def date_range(question: str) -> tuple[str | None, str | None]:
    """The span of days a question names, widest over all its dates; (None, None) if none."""
    spans: list[tuple[str, str]] = []
    for m in _DAY_MONTH_YEAR.finditer(question):
        day = m.group(1) or m.group(3)
        spans.append(_range(int(m.group(4)), MONTHS[m.group(2).lower()], int(day) if day else None))
    for m in _ZH_DATE.finditer(question):
        spans.append(_range(int(m.group(1)), int(m.group(2)) if m.group(2) else None,
                            int(m.group(3)) if m.group(3) else None))
    for m in _ISO.finditer(question):
        spans.append(_range(int(m.group(1)), int(m.group(2)),
                            int(m.group(3)) if m.group(3) else None))
    if not spans:
        stripped = _YEAR_OF_A_TEXT.sub(" ", _ISO.sub(" ", _DAY_MONTH_YEAR.sub(" ", question)))
        spans = [_range(int(y), None, None) for y in _YEAR.findall(stripped)]
    if not spans:
        return None, None
    return min(s for s, _ in spans), max(e for _, e in spans)


def stated_days(sentence: str, dated: str | None = None) -> set[tuple[int | None, int]]:
    """The (month, day) pairs a readout's sentence says its event took place on ("met on
    August 27-28", "le 22 février", "18日晚": month None, "spoke today": the readout's own
    date, ``dated``); empty when it names no day."""
    days: set[tuple[int | None, int]] = set()
    if dated and _TODAY.search(sentence):
        day = dt.date.fromisoformat(dated)
        days.add((day.month, day.day))

    def add(month: int | None, first: str, last: str | None) -> None:
        days.update((month, d) for d in range(int(first), int(last or first) + 1))

    for m in _MONTH_DAYS.finditer(sentence):
        add(MONTHS[m.group(1).lower()], m.group(2), m.group(3))
    for m in _DAYS_MONTH.finditer(sentence):
        add(MONTHS[m.group(3).lower()], m.group(1), m.group(2))
    for m in _ZH_DAYS.finditer(sentence):
        add(int(m.group(1)) if m.group(1) else None, m.group(2), m.group(3))
    return days


def analyse(question: str) -> QuestionFacts:
    """Dates, countries and kind of a question."""
    since, until = date_range(question)
    names, known = proper_names(question), gazetteer().find(question)
    language = question_language(question)
    return QuestionFacts(
        since=since, until=until, countries=find_countries(question),
        wants_list=bool(_LIST_CUES.search(question)), names=names, known=known,
        order=chronological_order(question), asks_when=bool(_WHEN.search(question)),
        language=language,
        topics=(zh_topic_words(question, known) if language == "zh"
                else topic_words(question, names, known)),
        event=event_kind(question), asks_plans=bool(_ASKS_PLANS.search(question)),
        subject_countries=subject_countries(question),
        speaker=asked_speaker(question, known),
    )


def subject_text(question: str, facts: QuestionFacts) -> str:
    """What a question asks about, without who and when: its subject words for a Latin-script
    question ("softwood lumber dispute"), the question less its known names for a Chinese one;
    "" when nothing is left."""
    if facts.language == "zh":
        return without_chinese_names(question, facts.known).strip()
    return " ".join(facts.topics)


def asked_speaker(question: str, known: tuple[KnownName, ...]) -> KnownName | None:
    """The one person whose words a question asks for: the only person it names before its
    verb of speaking ("What did Xi say about Taiwan in his call with Biden?" asks for Xi's;
    "What did Biden and Xi say ..." for neither's). Of a follow-up read with the question
    before it, the last question's."""
    last = re.split(r"[?？]\s+", question.strip())[-1]
    verb = _SPEECH.search(last)
    if not verb:
        return None
    before = last[: verb.start()]
    speakers = [k for k in known if not k.place and k.in_text(before)]
    return speakers[0] if len(speakers) == 1 else None


def subject_countries(question: str) -> tuple[str, ...]:
    """The countries a question asks about, named after "about", "on", "sur"... (Taiwan in
    "What did Japarov say about Taiwan?"), as opposed to its setting ("visite en Chine").
    Of a follow-up read with the question before it, the last question's."""
    last = re.split(r"[?？]\s+", question.strip())[-1]
    cue = _SUBJECT_CUE.search(last)
    return find_countries(last[cue.end():]) if cue else ()


def chronological_order(question: str) -> Order | None:
    """"earliest" for "their first call", "latest" for "when did they last speak"; None when
    neither or both ("last March" and "Premier Li" are not orders)."""
    earliest, latest = bool(_EARLIEST.search(question)), bool(_LATEST.search(question))
    if earliest == latest:
        return None
    return "earliest" if earliest else "latest"


def proper_names(question: str) -> tuple[str, ...]:
    """Names in a question past its first word, folded; consecutive capitalised words form one
    name ("emmanuel macron"), particles included ("jean-yves le drian", "ursula von der
    leyen"). Months, question words, titles and countries are left out."""
    names: list[list[str]] = []
    last_end = -2
    padded = f" {question.strip()}"
    for match in _NAME.finditer(padded):
        word = match.group(1)
        folded = fold(word)
        before = padded[: match.start()].split()
        if before and fold(before[-1]) in GEOGRAPHIC:
            continue  # "mer Rouge", "golfe Persique": the Red Sea in an English readout
        gap = [fold(w) for w in padded[last_end:match.start()].split()] if names else ["-"]
        within = len(gap) <= MAX_PARTICLES and all(w in PARTICLES for w in gap)
        if within and folded in PARTICLES:
            continue  # a capitalised particle, taken with the name it leads to
        if match.start() == 1 or folded in NOT_NAMES or folded in MONTHS or find_countries(word):
            continue
        if within:
            names[-1] += [*gap, folded]
        else:
            names.append([folded])
        last_end = match.end()
    return tuple(dict.fromkeys(" ".join(parts) for parts in names))


def is_follow_up(question: str) -> bool:
    """True for questions that lean on the previous one ("And what did he say about ...")."""
    return bool(_FOLLOW_UP.search(question.strip()))
