"""Metadata read from readout texts: language, event date, countries, title."""

from __future__ import annotations

import time

import pytest

from rag.metadata import (
    derive_title,
    detect_language,
    find_countries,
    find_date,
    is_country_name,
)

FRENCH = (
    "Le soir du 22 février 2021, le Président Xi Jinping a eu un entretien téléphonique avec "
    "son homologue kirghize Sadyr Japarov.\n"
    "M. Xi a indiqué que la Chine et le Kirghizistan avaient obtenu des résultats fructueux dans "
    "le cadre de la construction conjointe de « la Ceinture et la Route »."
)
ENGLISH = (
    "On February 10, 2021, President Biden spoke with President Xi Jinping of the People's "
    "Republic of China. The two leaders discussed the COVID-19 pandemic and climate change."
)
CHINESE = (
    "2021年2月22日晚，国家主席习近平同吉尔吉斯斯坦总统扎帕罗夫通电话。"
    "习近平指出，中吉建交29年来，两国关系经受住了国际风云变幻考验。"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ENGLISH, "en"),
        (FRENCH, "fr"),
        (CHINESE, "zh"),
        ("Bundespräsident Steinmeier hat heute mit dem französischen Präsidenten telefoniert.",
         "de"),
        ("El presidente del Gobierno se reunió hoy con el primer ministro de Portugal.", "es"),
        ("Президент России провёл телефонный разговор с председателем КНР.", "ru"),
        ("岸田首相は本日、米国のバイデン大統領と電話会談を行いました。", "ja"),
        ("윤석열 대통령은 오늘 미국 대통령과 전화 통화를 했습니다.", "ko"),
        ("", "und"),
        ("   \n\t", "und"),
        ("2021-02-22 — 14:30 — 12/345", "und"),
        ("Hello", "und"),  # too short to tell English from Italian or Dutch
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_detect_language_reads_only_the_opening() -> None:
    english_opening = (ENGLISH + " ") * 15  # > 2,000 characters
    assert detect_language(english_opening + FRENCH * 30) == "en"


@pytest.mark.parametrize(
    ("text", "language", "reference_year", "expected"),
    [
        # the three examples of the specification
        ("Le soir du 22 février 2021, le Président Xi Jinping a eu un entretien.", "fr", None,
         "2021-02-22"),
        ("On February 10, 2021, President Biden spoke with President Xi.", "en", None,
         "2021-02-10"),
        ("2021年2月22日，国家主席习近平同吉尔吉斯斯坦总统通电话。", "zh", None, "2021-02-22"),
        # Chinese month and day only: needs the year from elsewhere
        ("2月10日，国家主席习近平同美国总统拜登通电话。", "zh", None, None),
        ("2月10日，国家主席习近平同美国总统拜登通电话。", "zh", 2021, "2021-02-10"),
        ("当地时间11月14日下午，国家主席习近平在巴厘岛同美国总统拜登举行会晤。", "zh", None, None),
        ("当地时间11月14日下午，国家主席习近平在巴厘岛同美国总统拜登举行会晤。", "zh", 2022,
         "2022-11-14"),
        ("国家主席习近平18日晚同美国总统拜登视频通话。", "zh", 2022, None),  # day only
        # other spellings and languages
        ("Le 1er juillet 2014, l'accord est entré en vigueur.", "fr", None, "2014-07-01"),
        ("Le mardi 18 juillet 2017, la présidente s’est entretenue avec M. Macron.", "fr", None,
         "2017-07-18"),
        ("On 8 May 2019, Federal Councillor Cassis travelled to Geneva.", "en", None,
         "2019-05-08"),
        ("National Security Advisor Sullivan met on Friday, Dec. 15, 2023 with Tahnoun.", "en",
         None, "2023-12-15"),
        ("On Tuesday, 21 July, during her visit to Ukraine, the President met.", "en", None,
         None),
        ("On Tuesday, 21 July, during her visit to Ukraine, the President met.", "en", 2020,
         "2020-07-21"),
        ("Der Bundesrat traf am 22. Februar 2021 den Präsidenten.", "de", None, "2021-02-22"),
        ("El 22 de febrero de 2021 el presidente se reunió con su homólogo.", "es", None,
         "2021-02-22"),
        ("22 февраля 2021 года состоялся телефонный разговор.", "ru", None, "2021-02-22"),
        ("2021년 2월 22일 대통령은 통화했다.", "ko", None, "2021-02-22"),
        ("Meeting held on 2021-02-22 in Bern.", "und", None, "2021-02-22"),
        # a range gives its first day: the event starts then
        ("Cassis mènera des entretiens les 10 et 11 septembre 2018 à Bucarest.", "fr", None,
         "2018-09-10"),
        ("Rossier s’est rendu du lundi 20 au jeudi 23 juillet 2015 en Iran.", "fr", None,
         "2015-07-20"),
        ("Sullivan met his counterpart on October 24-25, 2024 in Washington.", "en", None,
         "2024-10-24"),
        # never a bare year or a month without a day
        ("In 2021, Switzerland and China celebrated their relations.", "en", 2021, None),
        ("En février 2021, les deux pays ont signé un accord.", "fr", None, None),
        # an impossible date is skipped, the next one counts
        ("Le 31 février 2021 n'existe pas ; la rencontre a eu lieu le 3 mars 2021.", "fr", None,
         "2021-03-03"),
        ("", "en", None, None),
    ],
)
def test_find_date(
    text: str, language: str, reference_year: int | None, expected: str | None
) -> None:
    assert find_date(text, language, reference_year=reference_year) == expected


def test_find_date_reads_only_the_opening() -> None:
    filler = "Les discussions ont porté sur les relations bilatérales. " * 15  # > 600 chars
    opening_has_date = "Le 9 novembre 2021, M. Cassis a reçu son homologue. " + filler
    assert find_date(opening_has_date + "L'accord date du 1er juillet 2014.", "fr") == (
        "2021-11-09"
    )
    assert find_date(filler + "L'accord date du 1er juillet 2014.", "fr") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FRENCH, ("CN", "KG")),
        (ENGLISH, ("CN",)),
        (CHINESE, ("KG",)),
        ("Biden met Xi. U.S.-China relations; the US and the UK; Russia and Russie.",
         ("CN", "GB", "RU", "US")),
        ("États-Unis, Royaume-Uni, Corée du Sud, Türkiye, Turquie, Viêt Nam.",
         ("GB", "KR", "TR", "US", "VN")),
        ("美国、俄罗斯、英国、韩国、台湾、越南、土耳其",
         ("GB", "KR", "RU", "TR", "TW", "US", "VN")),
        ("the Kyrgyz Republic; son homologue kirghize", ("KG",)),
        # CCTV's "issues of Hong Kong, Xinjiang and Taiwan" ("涉港、涉疆、涉台问题")
        ("埃方坚定支持中方在涉港、涉疆、涉台等问题上的原则立场", ("HK", "TW")),
        # longest name wins, and whole words only
        ("Niger and Nigeria", ("NE", "NG")),
        ("Nigeria's president and the Nigerian people", ("NG",)),
        ("Papua New Guinea", ("PG",)),
        ("the Democratic Republic of the Congo", ("CD",)),
        ("印度尼西亚、巴布亚新几内亚、南苏丹", ("ID", "PG", "SS")),
        # short uppercase forms are case-sensitive
        ("They told us the USD rate was stable.", ()),
        ("The turkey was roasted in china bowls.", ()),
        # ambiguous forms stay out
        ("Korea", ()),
        ("Republic of Korea and North Korea", ("KP", "KR")),
        # given names and places that are not countries
        ("Thomas Jordan, chairman of the Swiss National Bank, met the board.", ()),
        ("King Abdullah II of Jordan met the President. Jordan is a key partner.", ("JO",)),
        ("Chad Smith spoke first.", ()),
        ("The President of Chad Mahamat Déby attended.", ("TD",)),
        ("La ministre Dominique Hasler a reçu son homologue.", ()),
        ("The Governor of New Jersey and New Mexico met.", ()),
        ("Réunion avec le président de la Suisse à Berne.", ("CH",)),
        ("中非合作论坛在内蒙古举行。", ()),
        ("上海地区和沿海地区的企业，马里兰州的大学。", ()),
        ("海地总统和马里总统", ("HT", "ML")),
        ("Belfast, Northern Ireland, and Dublin, Ireland", ("GB", "IE")),
        ("Côte d’Ivoire and Côte d'Ivoire", ("CI",)),
        ("", ()),
    ],
)
def test_find_countries(text: str, expected: tuple[str, ...]) -> None:
    assert find_countries(text) == expected


def test_a_whole_country_name_in_any_language_and_not_a_city_named_after_one() -> None:
    assert all(map(is_country_name, ["Singapore", "Mexique", "墨西哥"]))
    assert not any(map(is_country_name, ["Mexico City", "墨西哥城", "Geneva"]))


def test_find_countries_is_fast_after_warm_up() -> None:
    text = ((FRENCH + " " + ENGLISH + " " + CHINESE + " ") * 10)[:3000]
    find_countries(text)  # builds the matcher
    runs = 200
    start = time.perf_counter()
    for _ in range(runs):
        find_countries(text)
    assert (time.perf_counter() - start) / runs < 0.005


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Readout of the call\nBody text.", "Readout of the call"),
        ("\n\n   Entretien   téléphonique\t entre Xi et Japarov  \nTexte.",
         "Entretien téléphonique entre Xi et Japarov"),
        ("# Readout of President Biden’s Call\n\nBody.", "Readout of President Biden’s Call"),
        ("", ""),
        (" \n \n", ""),
    ],
)
def test_derive_title(text: str, expected: str) -> None:
    assert derive_title(text) == expected


def test_derive_title_cuts_long_lines_at_a_word_boundary() -> None:
    line = "President Biden spoke today with President Macron of France, " * 5
    title = derive_title(line)
    assert title == (
        "President Biden spoke today with President Macron of France, President Biden spoke "
        "today with President Macron of…"
    )
    assert len(title) <= 120


def test_derive_title_cuts_chinese_without_spaces() -> None:
    title = derive_title(CHINESE * 3)
    assert title == (CHINESE * 3)[:119] + "…"
    assert len(title) == 120
