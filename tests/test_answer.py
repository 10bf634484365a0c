"""The extractive answer: which sentence of the retrieved passages it quotes."""

from __future__ import annotations

from dataclasses import replace

from rag.answer import ExtractiveAnswerer
from tests.samples import passage, retrieval
from tests.support import NEVER_REFUSES, SHIPPED_NEVER_REFUSING


def test_an_english_question_about_a_country_cites_the_chinese_sentence_naming_it(
    settings,
) -> None:
    call = replace(passage("cctv-putin", "zh", "国家主席习近平同俄罗斯总统普京举行视频会晤。"
                           "普京表示，很高兴同习近平主席举行会晤。两国元首就乌克兰危机交换意见。"),
                   countries=("CN", "RU", "UA"))
    question = "What did Xi tell Putin about the Ukraine crisis?"
    answer = ExtractiveAnswerer(settings, SHIPPED_NEVER_REFUSING).answer(
        question, retrieval(question, call))
    assert answer.citations[0].quote == "两国元首就乌克兰危机交换意见。"


def test_a_list_of_calls_quotes_the_sentence_saying_who_spoke_with_whom(settings) -> None:
    call = replace(passage("wh-2021-02-10", "en", "President Biden spoke today with President "
                           "Xi Jinping of China. The two leaders agreed to follow the call up "
                           "in February on COVID-19 and climate."), date="2021-02-10",
                   countries=("CN", "US"))
    question = "Which leaders did Xi call in February 2021?"
    answer = ExtractiveAnswerer(settings, NEVER_REFUSES).answer(question, retrieval(question, call))
    assert [c.quote for c in answer.citations] == [
        "President Biden spoke today with President Xi Jinping of China."]
