"""What a question asks, read before retrieval: its language and subject words, dates, order
(first, last), countries, whether it is a list or a follow-up, and what kind of event it is
about; and what a readout's sentences say of the event's days and whether it is a preview."""

from __future__ import annotations

import pytest

from rag.query import analyse, announces, date_range, event_kind, is_follow_up, stated_days
from rag.schema import Filters


def test_a_day_in_the_question_narrows_the_month_the_user_set() -> None:
    facts = analyse("What did Biden and Macron say in their call of February 9, 2022?")
    month = Filters(since="2022-02-01", until="2022-02-28", languages=("en",))
    assert facts.date_filters(month) == Filters("2022-02-06", "2022-02-12", ("en",))
    assert facts.date_filters(Filters(since="2022-02-11")) == Filters("2022-02-11",
                                                                      "2022-02-12")
    # dates outside the user's own are left to the user
    march = Filters(since="2022-03-01", until="2022-03-31")
    assert facts.date_filters(march) is march
    assert analyse("Taiwan").date_filters(month) is month


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which leaders did Xi call in February 2021?", ("2021-02-01", "2021-02-28")),
        ("Qu'a dit Cassis en mai 2021 ?", ("2021-05-01", "2021-05-31")),
        ("What happened on 22 February 2021?", ("2021-02-22", "2021-02-22")),
        ("What did Biden say on March 18, 2022?", ("2022-03-18", "2022-03-18")),
        ("his 2020 visit to Iran", ("2020-01-01", "2020-12-31")),
        ("2021年2月习近平同谁通电话？", ("2021-02-01", "2021-02-28")),
        ("What did Kyrgyzstan say about Taiwan?", (None, None)),
        ("COVID-19 vaccines", (None, None)),
        # the year of an agreement is not the date of the talks asked about
        ("Who asked Japan to update the 2009 bilateral free trade agreement?", (None, None)),
        ("Qu'ont-ils dit de l'accord de libre-échange de 2014 ?", (None, None)),
        ("What did they agree in 2021 on the agreement?", ("2021-01-01", "2021-12-31")),
        ("What did they say in their 2022 call?", ("2022-01-01", "2022-12-31")),
    ],
)
def test_question_dates(question: str, expected: tuple) -> None:
    assert date_range(question) == expected


def test_question_facts() -> None:
    facts = analyse("Which leaders did Xi call in February 2021 about Kyrgyzstan?")
    assert facts.wants_list
    assert facts.countries == ("KG",)
    assert not analyse("What did Kyrgyzstan say about Taiwan?").wants_list
    assert is_follow_up("And what did he say about vaccines?")
    assert not is_follow_up("What did Biden say about fentanyl?")


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("When did Biden last speak with Putin?", "latest"),
        ("What did Trudeau raise in his first call with Biden?", "earliest"),
        ("Quand ont-ils parlé pour la dernière fois ?", "latest"),
        ("leur premier entretien", "earliest"),
        ("What did Xi say last March?", None),
        ("What did Premier Li Qiang sign?", None),
        ("Qu'a dit le premier ministre ?", None),
        ("When was the last time Biden spoke with Netanyahu?", "latest"),
        ("What did Biden say last year about Gaza?", None),
        ("习近平和卢拉最近一次通电话是什么时候？", "latest"),
        ("拜登就任后，习近平同他第一次通电话是在什么时候？", "earliest"),
        ("习近平首次访问瑞士是哪一年？", "earliest"),
        ("习近平最近同卢拉谈了什么？", None),  # 最近 alone: "recently"
    ],
)
def test_first_and_last_questions(question: str, order: str | None) -> None:
    assert analyse(question).order == order


@pytest.mark.parametrize(("question", "asks"), [
    ("When did Biden last speak with Putin?", True),
    ("习近平和英国首相斯塔默最近一次见面是哪天？", True),
    ("李强最近一次会见普京是什么时候？", True),
    ("What did Biden say when he met Xi?", False),
    ("习近平同朔尔茨谈了什么？", False),
])
def test_a_question_asking_when_wherever_its_language_puts_the_word(question: str,
                                                                   asks: bool) -> None:
    assert analyse(question).asks_when is asks


@pytest.mark.parametrize(
    ("question", "language", "topics"),
    [
        ("Qu'a dit Ignazio Cassis sur l'exploitation du lithium lors de sa visite au Chili ?",
         "fr", ("exploitation", "lithium")),
        ("What did Xi Jinping tell Olaf Scholz about nuclear weapons in November 2022?", "en",
         ("nuclear", "weapons")),
        ("习近平同朔尔茨谈了什么？", "zh", ()),
        ("2023年6月习近平同朔尔茨通电话时就深海采矿表达了什么立场？", "zh",
         ("深海", "海采", "采矿")),
        ("李强同越南总理会谈时谈及哪些双边合作项目？", "zh",
         ("双边", "边合", "合作", "作项", "项目")),
        ("Taiwan Kyrgyzstan", None, ()),
        ("How many times did Biden speak with Sultan Haitham, and on which dates?", "en", ()),
        ("Combien de fois le conseiller fédéral Ignazio Cassis a-t-il rencontré le ministre "
         "chinois Wang Yi, et à quelles dates ?", "fr", ()),
    ],
)
def test_the_language_and_subject_of_a_question(question, language, topics) -> None:
    facts = analyse(question)
    assert facts.language == language
    assert facts.topics == topics


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("When and where did Kamala Harris and Emmanuel Macron first meet?", "meeting"),
        ("What did Biden say in his video call with Xi?", "call"),
        ("Lors de l'entretien téléphonique de février 2021, qu'a dit Xi ?", "call"),
        ("Readout of President Biden's Meeting with President Xi", "meeting"),
        ("习近平同英国首相通电话", "call"),
        ("李强同英国首相会谈", "meeting"),
        ("When did Biden last speak with Putin?", None),
        ("Readout of the call after the meeting", None),
    ],
)
def test_a_question_or_a_title_says_whether_it_was_a_call_or_a_meeting(text, kind) -> None:
    assert event_kind(text) == kind


def test_nationalities_are_not_the_subject_of_a_question() -> None:
    facts = analyse("What did Biden and Xi say about the Chinese surveillance balloon at "
                    "Woodside?")
    assert facts.topics == ("surveillance", "balloon")
    assert analyse("Quelle mesure Xi a-t-il annoncée pour les Français ?").topics == (
        "mesure", "annoncee")


@pytest.mark.parametrize(("opening", "preview"), [
    ("President Joseph R. Biden, Jr. will speak with President Xi Jinping this Friday. This is "
     "part of our efforts.", True),
    ("On March 17, President Joe Biden will host Micheál Martin, Taoiseach of Ireland.", True),
    ("Le président de la Confédération s'entretiendra lundi avec le président Xi.", True),
    ("应国家主席习近平邀请，美国总统拜登将于11月9日至11日对中国进行国事访问。", True),
    ("President Biden spoke today with President Xi. They agreed they will meet again.", False),
    ("8月23日下午，国家主席习近平应约同英国首相斯塔默通电话。中方将同英方加强合作。", False),
])
def test_a_preview_of_an_event_is_told_from_its_readout(opening: str, preview: bool) -> None:
    assert announces(opening) is preview


@pytest.mark.parametrize(("sentence", "days"), [
    ("Jake Sullivan met on August 27-28 with Wang Yi.", {(8, 27), (8, 28)}),
    ("On Monday, 29 April, President Ueli Maurer was received by President Xi.", {(4, 29)}),
    ("Le soir du 22 février 2021, le président Xi Jinping a eu un entretien.", {(2, 22)}),
    ("国家主席习近平18日晚应约同美国总统拜登视频通话。", {(None, 18)}),
    ("8月29日下午，国家主席习近平会见沙利文。", {(8, 29)}),
    ("President Biden spoke today with President Xi Jinping.", {(10, 18)}),
    ("This afternoon, President Biden spoke with Prime Minister Netanyahu.", {(10, 18)}),
    ("President Biden spoke with President Xi Jinping.", set()),
])
def test_the_days_a_readout_says_its_event_took_place(sentence: str, days: set) -> None:
    assert stated_days(sentence, "2023-10-18") == days


@pytest.mark.parametrize(("question", "asked"), [
    ("What did Japarov say about Taiwan?", ("TW",)),
    ("What did Kyrgyzstan say about Taiwan?", ("TW",)),
    ("Qu'a dit le Kirghizistan au sujet de l'Ukraine ?", ("UA",)),
    ("Quel cadeau a été offert à Xi Jinping lors de la visite d'Ueli Maurer en Chine ?", ()),
])
def test_the_countries_a_question_asks_about(question: str, asked: tuple[str, ...]) -> None:
    assert analyse(question).subject_countries == asked


def test_a_follow_up_asks_about_its_own_subject() -> None:
    combined = "What did Kyrgyzstan say about Taiwan? And what did he say about vaccines?"
    assert analyse(combined).subject_countries == ()
    assert analyse("What did Xi say? And about Ukraine?").subject_countries == ("UA",)


@pytest.mark.parametrize(("question", "listed"), [
    ("Quels présidents d'Asie centrale Xi Jinping a-t-il reçus à Xi'an en mai 2023 ?", True),
    ("Quels responsables Ignazio Cassis a-t-il rencontrés lors de sa visite ?", True),
    ("2022年11月在曼谷出席APEC会议期间，习近平都会见了谁？", True),
    ("Which African leaders did Xi meet in September 2024?", True),
    ("What did the ministers agree about steel tariffs?", False),
    ("Quels accords la Suisse et le Kazakhstan ont-ils signés ?", False),
    ("李强2024年5月在东京会见岸田文雄时谈了哪些问题？", False),
    ("On which dates in 2023 did President Biden speak by phone with the Amir of Qatar?", True),
    ("How many times did Biden speak with Sultan Haitham of Oman in 2023?", True),
    ("Combien de fois Ignazio Cassis a-t-il rencontré Wang Yi ?", True),
    ("À quelles dates Xi Jinping et Lula se sont-ils entretenus au téléphone ?", True),
    ("李强出任国务院总理以来，同荷兰首相通过哪几次电话？", True),
    ("2025年习近平同特朗普通过几次电话？", True),
    ("卡尼出任加拿大总理以来，与中国领导人有过哪些通话和会见？", True),
    ("On what date did Biden call Macron?", False),
    ("这是两国领导人第几次会晤？", False),
])
def test_a_list_question_asks_for_officials_or_events(question: str, listed: bool) -> None:
    """Lists answer one sentence per readout: a question on what one readout says is none;
    one asking for every occasion ("how many times", "on which dates") is one."""
    assert analyse(question).wants_list is listed
