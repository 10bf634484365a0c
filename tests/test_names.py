"""Names across scripts: the gazetteer (rag/names.py) finds Scholz as 朔尔茨, and the check
that the names asked are in the passages (``missing_names``, rag/ranking/answerability.py) sees
him there; a name no passage mentions, in any form, is missing."""

from __future__ import annotations

from rag.names import gazetteer
from rag.query import analyse, proper_names
from rag.ranking.answerability import missing_names
from tests.samples import passage, retrieval

SCHOLZ_ZH = passage("cctv-scholz", "zh", "国家主席习近平会见来华访问的德国总理朔尔茨。")
XI_MACRON_ZH = passage("cctv-macron", "zh", "国家主席习近平同法国总统马克龙通电话。")


def test_a_question_finds_every_form_of_the_names_it_uses() -> None:
    facts = analyse("What did Xi say when Chancellor Scholz visited Pékin?")
    assert [k.label for k in facts.known] == ["Xi Jinping", "Olaf Scholz", "Beijing"]
    assert {"朔尔茨", "习近平", "北京"} <= set(facts.other_forms("Pékin"))
    assert [k.label for k in gazetteer().find("德国总理朔尔茨访华")] == ["Olaf Scholz"]


def test_forms_match_whole_proper_names_only() -> None:
    assert gazetteer().find("le canton de Vaud") == ()
    assert [k.label for k in gazetteer().find("à Canton")] == ["Guangzhou"]
    assert [k.label for k in gazetteer().find("Xi'an")] == ["Xi'an"]
    assert gazetteer().find("la Crimée, 克里米亚") == ()


def test_a_name_under_its_chinese_form_counts_as_mentioned() -> None:
    question = "What did Xi tell Olaf Scholz about nuclear weapons?"
    assert missing_names(retrieval(question, SCHOLZ_ZH)) == []
    assert missing_names(retrieval(question, XI_MACRON_ZH)) == ["olaf scholz"]


def test_a_city_asked_counts_as_a_name_in_any_script() -> None:
    """CCTV's readout of Scholz's visit says 来华 ("came to China"), not 北京: Beijing is
    missing from it, like any name; ``place_elsewhere`` tells a readout that does not say
    where from one that says elsewhere."""
    question = "What did Xi say when Chancellor Scholz visited Beijing?"
    assert [k.label for k in analyse(question).people] == ["Xi Jinping", "Olaf Scholz"]
    assert missing_names(retrieval(question, SCHOLZ_ZH)) == ["beijing"]
    in_beijing = passage("cctv-scholz-bj", "zh", "国家主席习近平在北京会见德国总理朔尔茨。")
    assert missing_names(retrieval(question, in_beijing)) == []


def test_the_worlds_capitals_and_large_cities_are_known_in_every_script() -> None:
    """``rag/places.tsv``, written by bench/build_places.py from GeoNames."""
    for text, label in [("met in Brasília", "Brasilia"), ("à Berne", "Bern"),
                        ("au Caire", "Cairo"), ("在开罗会见", "Cairo"),
                        ("in Mexico City", "Mexico City"), ("in Quito", "Quito")]:
        found = gazetteer().find(text)
        assert [(k.label, k.city) for k in found] == [(label, True)], text
    # a country is not one of its cities, and an organisation is a place but not a city
    assert gazetteer().find("le Mexique et Singapore") == ()
    assert [(k.label, k.place, k.city) for k in gazetteer().find("at the WTO")] == [
        ("World Trade Organization", True, False)]


def test_a_name_in_no_form_is_missing_even_beside_chinese_passages() -> None:
    english = passage("wh-biden-xi", "en", "President Biden spoke with President Xi Jinping.",
                      title="Readout of President Biden's call with President Xi")
    question = "What did Biden and Xi say about TikTok in their call?"
    assert missing_names(retrieval(question, english, XI_MACRON_ZH)) == ["tiktok"]
    # when the passage an answer would quote is Chinese, an unknown name cannot be judged
    assert missing_names(retrieval(question, XI_MACRON_ZH, english)) == []


def test_a_first_name_shared_with_someone_else_is_not_enough() -> None:
    zelensky = passage("wh-zelensky", "en", "President Biden met President Volodymyr Zelenskyy.")
    question = "Qu'ont dit Joe Biden et Vladimir Poutine lors de leur appel ?"
    assert missing_names(retrieval(question, zelensky)) == ["vladimir poutine"]
    putin = passage("wh-putin", "en", "President Biden spoke with President Putin of Russia.")
    assert missing_names(retrieval(question, putin)) == []


def test_swiss_capitals_and_organisations_are_not_missing_names() -> None:
    swiss = passage("ch-2017", "en", "The state visit to Switzerland by Chinese President XI "
                    "Jinping continued with talks at the United Nations in Geneva.")
    question = "What did Xi Jinping say at the ONU in Geneva?"
    assert [k.label for k in analyse(question).people] == ["Xi Jinping"]
    assert missing_names(retrieval(question, swiss)) == []
    assert [k.label for k in gazetteer().find("Premier LI Qiang")] == ["Li Qiang"]


def test_names_a_readout_shortens_or_writes_with_digits_are_not_missing() -> None:
    """Found by the second held-out set: "Jean-Yves Le Drian" is "Le Drian" in the readout,
    "COP28" keeps its digits, and readouts of the White House do not name it."""
    assert proper_names("Did Ursula von der Leyen thank Jean-Yves Le Drian?") == (
        "ursula von der leyen", "jean-yves le drian")
    paris = passage("ch-paris", "fr", "Le conseiller fédéral Cassis a remercié le Ministre Le "
                    "Drian pour l'aide fournie par la France.")
    question = "What did Ignazio Cassis thank Jean-Yves Le Drian for in March 2020?"
    assert missing_names(retrieval(question, paris)) == []
    dubai = passage("wh-dubai", "en", "Vice President Kamala Harris met today with President "
                    "Al-Sisi in Dubai on the sidelines of COP28.")
    question = "Quels dirigeants Kamala Harris a-t-elle vus, pour la Maison-Blanche, à la COP28 ?"
    assert missing_names(retrieval(question, dubai)) == []
