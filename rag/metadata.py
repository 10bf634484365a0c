"""Metadata read from a readout's own text: language, date of the event, countries, title.

Pure functions. The heavy resources (language models, month-name patterns, the country matcher)
are built on first use and cached for the process, so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import gettext
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from lingua import LanguageDetector

UNDETERMINED = "und"
TITLE_MAX_CHARS = 120
_LANGUAGE_SAMPLE_CHARS = 2000
_DATE_OPENING_CHARS = 600
_MIN_YEAR, _MAX_YEAR = 1900, 2100

# ISO 639-1 codes of the readout languages we expect. A closed set keeps lingua and dateparser
# fast, and stops lingua from answering exotic languages for short or noisy texts.
READOUT_LANGUAGES = (
    "en", "fr", "zh", "de", "it", "es", "ru", "ar", "ja", "ko", "pt",
    "nl", "pl", "tr", "uk", "fa", "hi", "id", "vi", "he", "sv",
)


@lru_cache(maxsize=1)
def _language_detector() -> LanguageDetector:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper()))
        for code in READOUT_LANGUAGES
    ]
    # The relative distance makes lingua answer None ("und") for ambiguous snippets like "Hello".
    return (
        LanguageDetectorBuilder.from_languages(*languages)
        .with_minimum_relative_distance(0.1)
        .build()
    )


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, or "und" when empty or unsure.

    Only the first 2,000 characters are read: enough for a readout, and it keeps ingestion fast.
    """
    sample = text[:_LANGUAGE_SAMPLE_CHARS]
    if not any(ch.isalpha() for ch in sample):
        return UNDETERMINED
    language = _language_detector().detect_language_of(sample)
    return language.iso_code_639_1.name.lower() if language else UNDETERMINED


# --- dates -------------------------------------------------------------------------------------

_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)
_DAY = r"\d{1,2}(?:er|st|nd|rd|th|\.|º)?"
_YEAR = r"(?:19|20)\d{2}"
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-(\d{2})-(\d{2})(?!\d)")
# Chinese and Japanese "2021年2月22日" / "2月22日"; Korean "2021년 2월 22일".
_CJK_DATE = re.compile(
    r"(?:(\d{4})\s*[年년]\s*)?(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日号號일]"
)


@lru_cache(maxsize=32)
def _month_date_patterns(language: str) -> tuple[re.Pattern[str], ...]:
    """Day-month(-year) and month-day(-year) patterns built from dateparser's month names.

    Restricting candidates to real month names of the language keeps dateparser calls few, and
    dateparser then validates the phrase (a "31 février" is rejected, "1er juillet" accepted).
    A range ("les 10 et 11 septembre", "October 24-25") yields its first day: the event starts
    then. Empty for languages dateparser does not know or that write months as numbers.
    """
    from dateparser.languages.loader import default_loader

    try:
        info = default_loader.get_locale(language).info
    except ValueError:
        return ()
    # Numeric forms ("2月") are _CJK_DATE's job.
    names = {
        name for key in _MONTH_KEYS for name in info.get(key, [])
        if name.isalpha() and not _is_cjk(name)
    }
    if not names:
        return ()
    month = "(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\.?"
    to = r"(?:et|and|au|to|à|through|-|–)"
    day_first = (
        rf"(?<!\w)(?:(?P<first>\d{{1,2}})(?:er|st|nd|rd|th)?\s*{to}\s*(?:[^\W\d_]+\s+)?)?"
        rf"(?P<day>{_DAY})\s+(?:de\s+|of\s+)?(?P<month>{month})(?!\w)"
        rf"(?:,?\s+(?:de\s+|del\s+)?(?P<year>{_YEAR}))?(?!\d)"
    )
    month_first = (
        rf"(?<!\w)(?P<month>{month})\s+(?P<day>{_DAY})"
        rf"(?:\s*{to}\s*\d{{1,2}}(?:st|nd|rd|th)?)?(?!\w)(?:,?\s+(?P<year>{_YEAR}))?(?!\d)"
    )
    return re.compile(day_first, re.IGNORECASE), re.compile(month_first, re.IGNORECASE)


def _month_phrase(m: re.Match[str], reference_year: int | None) -> str | None:
    """The phrase dateparser reads for a month-name match, or None when the year is unknown."""
    year = m["year"] or reference_year
    if year is None:
        return None
    day = m["day"]
    first = m.groupdict().get("first")
    if first and int(first) < int(re.sub(r"\D", "", day)):
        day = first
    if "first" in m.groupdict():
        return f"{day} {m['month']} {year}"
    return f"{m['month']} {day}, {year}"


def _parse_phrase(phrase: str, language: str) -> dt.date | None:
    import dateparser

    parsed = dateparser.parse(
        phrase,
        languages=[language],
        settings={
            "PREFER_DAY_OF_MONTH": "first",
            "REQUIRE_PARTS": ["day", "month", "year"],
            "STRICT_PARSING": True,
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return parsed.date() if parsed else None


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _dates_in(text: str, language: str, reference_year: int | None) -> Iterator[dt.date]:
    """Valid dates of ``text`` in reading order; partial ones only with a reference year."""
    candidates: list[tuple[int, dt.date | str]] = []
    for m in _ISO_DATE.finditer(text):
        if date := _make_date(int(m[1]), int(m[2]), int(m[3])):
            candidates.append((m.start(), date))
    for m in _CJK_DATE.finditer(text):
        year = int(m[1]) if m[1] else reference_year
        if year is not None and (date := _make_date(year, int(m[2]), int(m[3]))):
            candidates.append((m.start(), date))
    for pattern in _month_date_patterns(language):
        for m in pattern.finditer(text):
            if phrase := _month_phrase(m, reference_year):
                candidates.append((m.start(), phrase))
    for _, candidate in sorted(candidates, key=lambda c: c[0]):
        date = candidate if isinstance(candidate, dt.date) else _parse_phrase(candidate, language)
        if date and _MIN_YEAR <= date.year <= _MAX_YEAR:
            yield date


def find_date(text: str, language: str, reference_year: int | None = None) -> str | None:
    """ISO date (YYYY-MM-DD) of the call or meeting: the first date stated in the opening.

    Only the first 600 characters are searched, where readouts state when the event took
    place: measured on the shared corpus, dates found further in are background (treaties,
    anniversaries) 93% of the time, and a missing date is better than a wrong one for date
    filters. A date without a year ("2月10日", "On Tuesday, 21 July") counts only when
    ``reference_year`` is given; a bare year never does.
    """
    date = next(_dates_in(text[:_DATE_OPENING_CHARS], language, reference_year), None)
    return date.isoformat() if date else None


# --- countries ---------------------------------------------------------------------------------

_TRANSLATIONS = ("fr", "zh_CN", "zh_TW")

# Forms that the ISO names and their translations miss or leave ambiguous. Curated forms win
# over generated ones.
_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("US", "U.S.", "USA", "U.S.A.", "United States", "United States of America",
           "États-Unis", "Etats-Unis", "美国", "美國"),
    "RU": ("Russia", "Russie", "俄罗斯", "俄羅斯", "Fédération de Russie"),
    "GB": ("UK", "U.K.", "United Kingdom", "Britain", "Great Britain", "Northern Ireland",
           "Royaume-Uni", "Grande-Bretagne", "Irlande du Nord", "英国", "英國", "北爱尔兰"),
    "KG": ("Kyrgyz", "Kyrgyzstan", "Kyrgyz Republic", "Kirghizistan", "Kirghizstan", "kirghize",
           "Kirghize", "kirghizes", "吉尔吉斯斯坦", "吉尔吉斯", "吉爾吉斯斯坦"),
    "KR": ("South Korea", "Republic of Korea", "ROK", "Corée du Sud", "République de Corée",
           "韩国", "韓國"),
    "KP": ("North Korea", "DPRK", "Corée du Nord", "朝鲜", "北韩"),
    "TW": ("Taiwan", "Taïwan", "台湾", "臺灣", "台灣", "中国台湾", "涉台"),
    "HK": ("Hong Kong", "Hongkong", "香港", "涉港"),  # "涉港、涉疆、涉台问题": issues of ...
    "MO": ("Macao", "Macau", "澳门", "澳門", "涉澳"),
    "CN": ("China", "Chine", "PRC", "People's Republic of China", "中国", "中華人民共和國"),
    "IR": ("Iran", "伊朗"),
    "SY": ("Syria", "Syrie", "叙利亚"),
    "VN": ("Vietnam", "Viet Nam", "Viêt Nam", "Viêtnam", "越南"),
    "TR": ("Türkiye", "Turkiye", "Turkey", "Turquie", "土耳其"),
    "CZ": ("Czechia", "Czech Republic", "Tchéquie", "République tchèque", "捷克"),
    "MD": ("Moldova", "Moldavie", "摩尔多瓦"),
    "BO": ("Bolivia", "Bolivie", "玻利维亚"),
    "VE": ("Venezuela", "Vénézuela", "委内瑞拉"),
    "TZ": ("Tanzania", "Tanzanie", "坦桑尼亚"),
    "LA": ("Laos", "老挝"),
    "PS": ("Palestine", "State of Palestine", "État de Palestine", "巴勒斯坦"),
    "CD": ("DRC", "Democratic Republic of the Congo", "RDC", "République démocratique du Congo",
           "刚果（金）", "刚果(金)", "刚果民主共和国"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville", "刚果（布）", "刚果(布)"),
    "CI": ("Ivory Coast", "Côte d'Ivoire"),
    "AE": ("UAE", "United Arab Emirates", "Émirats arabes unis", "阿联酋"),
    "SA": ("Saudi Arabia", "Arabie saoudite", "沙特阿拉伯", "沙特"),
    "VA": ("Holy See", "Vatican", "Saint-Siège", "梵蒂冈"),
    "MM": ("Myanmar", "Burma", "Birmanie", "缅甸"),
    "CV": ("Cabo Verde", "Cape Verde", "Cap-Vert"),
    "TL": ("Timor-Leste", "East Timor", "Timor oriental"),
    "BN": ("Brunei", "Brunéi", "文莱"),
    "NL": ("Netherlands", "Pays-Bas", "荷兰"),
    "MK": ("North Macedonia", "Macédoine du Nord", "北马其顿"),
    "SZ": ("Eswatini", "Swaziland"),
    "RE": ("La Réunion", "la Réunion", "Île de la Réunion"),
}
# Generated forms that are ordinary words in running text: "Réunion avec…" opens French
# paragraphs about meetings.
_DROPPED_FORMS = frozenset({"Réunion"})

# Phrases that contain a country name but are not the country; matching them whole hides the
# name inside ("New Jersey" is not JE, "内蒙古" is in China, not Mongolia, "上海地区" is not
# Haiti, "马里兰" is Maryland).
_NOT_COUNTRIES = (
    "New Jersey", "New Mexico", "New Guinea", "Niger Delta", "Inner Mongolia",
    "Mongolie-Intérieure", "内蒙古", "印度洋", "朝鲜半岛", "朝鲜族", "海地区", "海地带", "马里兰",
)

# Country names that are also common given names ("Thomas Jordan", "Dominique Hasler").
_GIVEN_NAMES = frozenset({"Chad", "Jordan", "Maurice", "Dominique", "Salvador"})
_PREPOSITIONS = frozenset({
    "of", "in", "to", "from", "with", "and", "for", "de", "du", "au", "en", "et", "le", "la",
    "pour", "avec",
})
_SENTENCE_WORDS = frozenset({"In", "To", "From", "With", "And", "Of", "The", "En", "Au", "Le",
                             "La", "Du", "De", "Et", "Pour", "Avec"})
_WORD_BEFORE = re.compile(r"(\S+)[ \t]+$")
_WORD_AFTER = re.compile(r"[ \t]+(\S+)")
# Names reversed by ISO ("Korea, Republic of") read naturally once turned round.
_REVERSIBLE_SUFFIX = re.compile(r"(?:\b(?:of|of the|de|du|de la|des)|d['’])$", re.IGNORECASE)


_CJK_CHAR = re.compile("[\u2e80-\u9fff\uf900-\ufaff]")


def _is_cjk(form: str) -> bool:
    """Whether ``form`` holds a CJK character (a regex: whole readouts go through this)."""
    return _CJK_CHAR.search(form) is not None


def _forms_of(name: str) -> Iterator[str]:
    """The ways a pycountry name can appear in running text."""
    base = re.sub(r"\s*\([^)]*\)", "", name).strip()  # "Holy See (Vatican City State)"
    if ", " not in base:
        yield base
        return
    head, tail = base.split(", ", 1)
    if not _REVERSIBLE_SUFFIX.search(tail):  # "Christmas, Île": "Christmas" alone is no country
        yield base
        return
    yield head  # "Korea" is dropped later: two countries claim it
    tail = re.sub(r"^(?:the|The|l['’])\s*", "", tail)
    yield tail + head if tail[-1] in "'’" else f"{tail} {head}"


def _country_forms() -> dict[str, str | None]:
    """Surface form -> alpha-2 code (None for _NOT_COUNTRIES); ambiguous forms are dropped."""
    import pycountry

    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        for lang in _TRANSLATIONS
    ]
    owners: dict[str, set[str]] = {}
    for country in pycountry.countries:
        names = [country.name] + [
            getattr(country, attr) for attr in ("common_name", "official_name")
            if hasattr(country, attr)
        ]
        for name in names:
            for localized in [name, *(t.gettext(name) for t in translations)]:
                for form in _forms_of(localized):
                    owners.setdefault(form, set()).add(country.alpha_2)
    forms: dict[str, str | None] = {
        form: codes.pop() for form, codes in owners.items()
        if len(codes) == 1 and len(form) > 1 and form not in _DROPPED_FORMS
    }
    forms.update((form, code) for code, aliases in _ALIASES.items() for form in aliases)
    forms.update((form, None) for form in _NOT_COUNTRIES)
    for form, code in list(forms.items()):
        if "'" in form:
            forms[form.replace("'", "’")] = code
    return forms


_Trie: TypeAlias = dict[str, "_Trie"]  # a character -> the trie of what may follow it


def _trie_regex(words: Iterable[str]) -> str:
    """Regex matching any of ``words``, trying the longest first at each position.

    A trie-shaped pattern is scanned far faster by ``re`` than a flat alternation of a thousand
    names, and its greedy optional tails give longest-match ("Papua New Guinea" over "Guinea").
    """
    trie: _Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def pattern(node: _Trie) -> str:
        branches = [re.escape(ch) + pattern(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


@lru_cache(maxsize=1)
def _country_matcher() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str | None]]:
    forms = _country_forms()
    latin = [form for form in forms if not _is_cjk(form)]
    cjk = [form for form in forms if _is_cjk(form)]
    # Latin names must stand as whole words, case-sensitively ("Niger" not in "Nigeria",
    # "US" not in "USD" or "us"); Chinese has no spaces, so any substring counts.
    latin_re = re.compile(rf"(?<!\w)(?:{_trie_regex(latin)})(?!\w)")
    cjk_re = re.compile(_trie_regex(cjk))
    return latin_re, cjk_re, forms


def _names_a_person(text: str, start: int, end: int) -> bool:
    """Whether a country name that is also a given name is used as one ("Thomas Jordan")."""
    before = _WORD_BEFORE.search(text, max(0, start - 40), start)
    after = _WORD_AFTER.match(text, end)
    prev = before[1] if before and before[1][-1].isalnum() else None
    if prev and prev[0].isupper() and prev not in _SENTENCE_WORDS:
        return True
    return bool(after and after[1][0].isupper() and not (prev and prev.lower() in _PREPOSITIONS))


def cjk_countries_removed(text: str) -> str:
    """``text`` with the Chinese names of countries it holds blanked out ("斐济" in a question
    on Fiji): what is left speaks of its subject."""
    _, cjk_re, forms = _country_matcher()
    return cjk_re.sub(lambda m: " " if forms[m[0]] else m[0], text)


def find_countries(text: str) -> tuple[str, ...]:
    """Sorted ISO 3166 alpha-2 codes of the countries the text names (English, French, Chinese).

    Names, official names and their translations come from pycountry, plus a curated table of
    frequent forms ("U.S.", "Russie", "韩国"). Demonyms are not counted ("Chinese" is not CN).
    """
    latin_re, cjk_re, forms = _country_matcher()
    codes: set[str] = set()
    for m in latin_re.finditer(text):
        code = forms[m[0]]
        if code and not (m[0] in _GIVEN_NAMES and _names_a_person(text, m.start(), m.end())):
            codes.add(code)
    if _is_cjk(text):
        codes.update(code for m in cjk_re.finditer(text) if (code := forms[m[0]]))
    return tuple(sorted(codes))


def is_country_name(form: str) -> bool:
    """True when ``form`` as a whole is a country's name in any language ("Singapore", "墨西哥"),
    not when it only holds one ("Mexico City")."""
    latin_re, cjk_re, forms = _country_matcher()
    return any(m is not None and m[0] in forms and bool(forms[m[0]])
               for m in (latin_re.fullmatch(form), cjk_re.fullmatch(form)))


# --- titles ------------------------------------------------------------------------------------

_MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+")


def derive_title(text: str) -> str:
    """Title for a readout that has none: its first non-empty line, cut to 120 characters.

    Markdown heading marks are dropped; the cut falls on a word boundary and ends with "…".
    """
    line = next((" ".join(ln.split()) for ln in text.splitlines() if ln.strip()), "")
    line = _MARKDOWN_HEADING.sub("", line)
    if len(line) <= TITLE_MAX_CHARS:
        return line
    cut = line[: TITLE_MAX_CHARS - 1]
    space = cut.rfind(" ")
    if space > TITLE_MAX_CHARS // 2:  # no usable word boundary in CJK or very long tokens
        cut = cut[:space]
    return cut.rstrip(" ,;:-–—") + "…"
