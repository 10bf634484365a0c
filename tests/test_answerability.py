"""Answerability features (rag/ranking/answerability.py): each says what it claims about a
retrieval, and a refusal names the feature that sank the answer, in words."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.query import analyse
from rag.ranking.answerability import (
    FEATURES,
    assess,
    dated_and_named,
    event_mismatch,
    margin,
    missing_names,
    no_matching_readout,
    place_elsewhere,
    top_names_all,
    topic_absent,
    topic_unknown,
    window_missed,
)
from rag.ranking.model import Linear, RankingModel
from rag.retrieve import Retrieval
from rag.schema import Passage


def passage(doc_id: str, language: str, text: str, title: str = "", **fields) -> Passage:
    values = {"date": "2022-11-04", **fields}
    return Passage(doc_id=doc_id, chunk_id=f"{doc_id}#0", title=title, language=language,
                   source="test", url=None, text=text, start=0, end=len(text), **values)


def retrieval(question: str, *passages: Passage, **fields) -> Retrieval:
    values = {"date_narrowed": False, **fields}
    return Retrieval(passages, analyse(question), (0.0,), 1.0, **values)


def test_the_right_leaders_in_another_year_miss_the_window() -> None:
    question = "What agreements were signed during Xi Jinping's 2023 state visit to Switzerland?"
    swiss = passage("ch-2023", "en", "Switzerland and China signed an agreement on education.",
                    date="2023-06-01", countries=("CH", "CN"))
    biden_xi = passage("wh-2023", "en", "President Biden met President Xi Jinping.",
                       date="2023-11-15", countries=("CN", "US"))
    assert window_missed(retrieval(question, swiss, biden_xi)) == 1.0
    visit = passage("ch-visit", "en", "President Xi Jinping's state visit to Switzerland.",
                    date="2023-01-16", countries=("CH", "CN"))
    assert window_missed(retrieval(question, visit)) == 0.0
    assert window_missed(retrieval("What did Xi say to Biden?", biden_xi)) == 0.0


def test_people_and_a_country_must_meet_in_one_readout() -> None:
    question = "What did Sadyr Japarov discuss during his official visit to Switzerland?"
    call = passage("xi-japarov", "en", "Xi Jinping spoke with Sadyr Japarov.",
                   countries=("CN", "KG"))
    swiss = passage("ch-kg", "en", "The Swiss President received the President of Kyrgyzstan.",
                    countries=("CH", "KG"))
    assert no_matching_readout(retrieval(question, call, swiss)) == 1.0
    visit = passage("ch-japarov", "en", "Sadyr Japarov was received in Bern.",
                    countries=("CH", "KG"))
    assert no_matching_readout(retrieval(question, visit, call)) == 0.0


def test_a_country_asked_about_must_be_the_readouts_own() -> None:
    spain = passage("ch-spain", "en", "The Federal Councillor met Spain's prime minister to "
                    "discuss Schengen and European policy.", countries=("CH", "ES"))
    question = "What was said about the Gibraltar dispute in talks with Spain's prime minister?"
    assert no_matching_readout(retrieval(question, spain)) == 1.0
    sisi = passage("cctv-sisi", "zh", "塞西表示，埃方支持中方在涉港问题上的立场。",
                   countries=("CN", "EG"))  # stored before "涉港" was known: read again
    asked = "Did Egypt's Sisi back China on Xinjiang and Hong Kong?"
    assert no_matching_readout(retrieval(asked, sisi)) == 0.0


def test_two_people_named_only_in_separate_readouts_did_not_meet() -> None:
    swiss = passage("ch-berset", "fr", "Le président de la Confédération Alain Berset a reçu "
                    "le président de la Finlande à Berne.")
    biden = passage("wh-biden", "en", "President Biden met today with President Niinistö of "
                    "Finland at the White House.")
    question = "Alain Berset a été reçu par Joe Biden : qu'ont-ils décidé ?"
    assert no_matching_readout(retrieval(question, swiss, biden)) == 1.0


def test_subject_words_absent_here_and_unknown_everywhere() -> None:
    trudeau = passage("wh-trudeau", "en", "President Biden spoke with Prime Minister Justin "
                      "Trudeau of Canada about the blockade of the bridges.",
                      countries=("CA", "US"))
    question = "What did Biden and Trudeau say about the softwood lumber dispute?"
    unheard_of = retrieval(question, trudeau, unknown_topics=("softwood", "lumber"))
    assert topic_unknown(unheard_of) == pytest.approx(2 / 3)
    assert topic_absent(unheard_of) == 1.0
    # a rare word is more of the subject than a common one ("dispute" is in many readouts)
    weighed = replace(unheard_of, topic_rarity=(6.0, 6.0, 1.0))
    assert topic_unknown(weighed) == pytest.approx(12 / 13)
    asked = "What did Biden and Trudeau say about the blockade of the bridges?"
    assert topic_absent(retrieval(asked, trudeau)) == 0.0
    # another language says it in other words: not judged
    french = replace(trudeau, language="fr", text="Le président Biden s'est entretenu avec "
                     "Justin Trudeau du blocus des ponts.")
    assert topic_absent(retrieval(question, french)) == 0.0


def test_a_visit_asked_and_a_call_reported_mismatch_unless_a_list() -> None:
    call = passage("seed", "fr", "Le Président Xi Jinping a eu un entretien téléphonique avec "
                   "Sadyr Japarov.", title="Entretien téléphonique entre Xi Jinping et Sadyr "
                   "Japarov", date="2021-02-22", countries=("CN", "KG"))
    visit = ("Quels accords Xi Jinping a-t-il signés lors de sa visite d'État au Kirghizistan "
             "en 2021 ?")
    assert event_mismatch(retrieval(visit, call)) == 1.0
    asked = "Qu'ont dit Xi Jinping et Sadyr Japarov lors de leur appel de 2021 ?"
    assert event_mismatch(retrieval(asked, call)) == 0.0
    ishiba = passage("wh-ishiba", "en", "President Biden spoke today with Prime Minister "
                     "Shigeru Ishiba of Japan.", title="Readout of President Biden's Call with "
                     "Prime Minister Ishiba")
    listed = "Which American and Chinese leaders have held talks with Shigeru Ishiba?"
    assert event_mismatch(retrieval(listed, ishiba)) == 0.0


def test_a_readout_opening_in_another_city_puts_the_event_elsewhere() -> None:
    question = "What did Viola Amherd and Lula discuss when they met in Brasilia in June 2024?"
    geneva = passage("ch-lula", "fr", "La présidente de la Confédération, Viola Amherd, a "
                     "rencontré le président Lula le jeudi 13 juin 2024 à Genève.")
    verdict = retrieval(question, geneva, top_readout=f"{geneva.title} {geneva.text}")
    assert place_elsewhere(verdict) == 1.0
    assert assess(verdict, _model_weighing("place_elsewhere", -5.0)).refusal == (
        "the closest readout took place in Geneva, not Brasilia")
    # a readout that does not say where, or says it in Chinese, is no evidence against it
    nowhere = passage("ch-lula-2", "en", "President Amherd met President Lula in June 2024.")
    assert place_elsewhere(retrieval(question, nowhere, top_readout=nowhere.text)) == 0.0
    brasilia = passage("cctv-lula", "zh", "阿姆赫德在巴西利亚同卢拉会谈，此前曾访问日内瓦。")
    assert place_elsewhere(retrieval(question, brasilia, top_readout=brasilia.text)) == 0.0


def test_a_best_passage_naming_everyone_and_of_the_day_asked() -> None:
    question = "Quel responsable américain Xi Jinping a-t-il reçu à Pékin le 19 juin 2023 ?"
    blinken = passage("cctv-blinken", "zh", "6月19日下午，习近平在北京会见布林肯。",
                      date="2023-06-19", countries=("CN", "US"))
    narrowed = retrieval(question, blinken, date_narrowed=True)
    assert dated_and_named(narrowed) == 1.0
    assert dated_and_named(replace(narrowed, date_narrowed=False)) == 0.0
    japarov = "What did Xi Jinping and Sadyr Japarov decide?"
    naming = passage("cctv-japarov", "zh", "习近平同吉尔吉斯斯坦总统扎帕罗夫会谈。")
    other = passage("cctv-other", "zh", "习近平同哈萨克斯坦总统会谈。")
    assert top_names_all(retrieval(japarov, naming)) == 1.0
    assert top_names_all(retrieval(japarov, other)) == 0.0


def test_generic_words_do_not_make_a_name_mentioned() -> None:
    ghana = passage("ch-ghana", "fr", "M. Burkhalter et Mme Tetteh ont abordé le groupe de "
                    "contact sur le Sahel.")
    question = "Which leaders discussed the Wagner Group's activities in Africa?"
    assert "wagner group" in missing_names(retrieval(question, ghana))


def test_every_feature_is_a_number_for_any_retrieval() -> None:
    r = retrieval("When did Biden and Xi last speak about fentanyl in 2023?",
                  passage("wh-1", "en", "President Biden spoke with President Xi Jinping."))
    for name, feature in FEATURES.items():
        assert isinstance(feature(r), float), name


def _model_weighing(feature: str, weight: float) -> RankingModel:
    weights = dict.fromkeys(FEATURES, 0.0) | {feature: weight}
    return RankingModel(Linear({}), Linear(weights, 2.0), threshold=0.5)


def test_a_refusal_says_what_sank_the_answer() -> None:
    question = "What did Sadyr Japarov discuss during his official visit to Switzerland?"
    call = passage("xi-japarov", "en", "Xi Jinping spoke with Sadyr Japarov.",
                   countries=("CN", "KG"))
    verdict = assess(retrieval(question, call), _model_weighing("no_matching_readout", -5.0))
    assert verdict.probability < 0.5
    assert verdict.refusal == (
        "no readout found is about all the people and countries the question names")
    kept = assess(retrieval(question, call), _model_weighing("no_matching_readout", -1.0))
    assert kept.refusal is None
    assert kept.probability > 0.5


def test_a_threshold_from_the_settings_overrides_the_fitted_one() -> None:
    r = retrieval("What did Xi say?", passage("x", "en", "Xi spoke."))
    model = _model_weighing("best_dense", 0.0)  # probability sigmoid(2) = 0.88
    assert assess(r, model).refusal is None
    assert assess(r, model, threshold=0.95).refusal == (
        "no passage is close enough to the question")


def test_a_readout_filling_the_top_passages_stands_out_against_the_other_candidates() -> None:
    """The margin is measured against every candidate of another readout, not only those in
    the top passages (a list's readouts, scored on another scale, are not candidates)."""
    question = "What did Xi say about Taiwan?"
    first = passage("cctv-a", "zh", "习近平指出，台湾问题是中国内政。", score=2.5)
    second = replace(first, chunk_id="cctv-a#1", score=2.0)
    assert margin(retrieval(question, first, second, rival=0.5)) == pytest.approx(2.0)
    assert margin(retrieval(question, first, second)) == 0.0  # no other readout found
