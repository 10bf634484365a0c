"""Question -> hybrid retrieval -> extractive answer, on a real store with the fake embedder."""

from __future__ import annotations

import threading

import pytest

from ingest.chunking import chunk_readout
from rag.assistant import Assistant, Turn
from rag.config import Settings
from rag.errors import ReadoutsError
from rag.query import analyse
from rag.schema import Filters, Readout
from tests.support import assistant_over

READOUTS = [
    Readout(
        doc_id="xi-japarov", title="Xi Jinping call with Sadyr Japarov", date="2021-02-22",
        language="en", source="Xinhua", countries=("CN", "HK", "KG", "TW"),  # as ingest finds them
        text="On 22 February 2021, Xi Jinping had a phone call with Kyrgyz President Sadyr "
             "Japarov.\nJaparov said Kyrgyzstan firmly supports China on Hong Kong, Xinjiang "
             "and Taiwan. Kyrgyzstan adheres to the one-China principle.\nXi said China will "
             "provide vaccines to Kyrgyzstan and deepen cooperation on railways.",
    ),
    Readout(
        doc_id="xi-sisi", title="Xi Jinping call with Abdel Fattah al-Sisi", date="2021-02-22",
        language="en", source="Xinhua", countries=("CN", "EG"),
        text="On 22 February 2021, Xi Jinping spoke with Egyptian President al-Sisi.\nSisi "
             "said Egypt supports China on Xinjiang and opposes interference.",
    ),
    Readout(
        doc_id="biden-xi", title="Biden call with Xi Jinping", date="2021-02-10",
        language="en", source="White House", countries=("CN", "US"),
        text="President Biden spoke with President Xi Jinping of China on February 10, 2021.\n"
             "He raised concerns about Beijing's coercive economic practices and human rights "
             "in Xinjiang.",
    ),
    Readout(
        doc_id="cassis-wang", title="Cassis reçoit Wang Yi", date="2019-10-22", language="fr",
        source="DFAE", countries=("CH", "CN"),
        text="Le 22 octobre 2019, le conseiller fédéral Ignazio Cassis a reçu Wang Yi à "
             "Berne.\nIls ont parlé des droits de l'homme et du commerce.",
    ),
]


@pytest.fixture
def assistant(fake_store, settings):
    return assistant_over(fake_store, settings, READOUTS)


def test_answer_cites_the_exact_sentence(assistant) -> None:
    answer = assistant.ask("What did Kyrgyzstan say about Taiwan?")
    assert answer.answered
    first = answer.citations[0]
    assert first.doc_id == "xi-japarov"
    assert "Hong Kong, Xinjiang and Taiwan" in first.quote
    assert READOUTS[0].text[first.start : first.end] == first.quote
    assert f"{first.quote} [1]" in answer.text
    assert {p.doc_id for p in answer.passages} >= {"xi-japarov"}


def test_every_marker_has_a_citation(assistant) -> None:
    answer = assistant.ask("What did Xi say about vaccines and railways?")
    markers = sorted(int(m) for m in __import__("re").findall(r"\[(\d+)\]", answer.text))
    assert markers == [c.n for c in answer.citations]
    assert not set(answer.also_retrieved) & {c.chunk_id for c in answer.citations}


def test_filters_restrict_the_answer(assistant) -> None:
    answer = assistant.ask("human rights in Xinjiang", Filters(sources=("White House",)))
    assert {c.doc_id for c in answer.citations} == {"biden-xi"}
    answer = assistant.ask("Xinjiang", Filters(languages=("fr",)))
    assert {p.doc_id for p in answer.passages} <= {"cassis-wang"}


def test_a_date_in_the_question_narrows_retrieval(assistant) -> None:
    got = assistant.retrieve("What did Xi discuss in October 2019?")
    assert got.date_narrowed
    assert {p.doc_id for p in got.passages} == {"cassis-wang"}


def test_no_readout_in_the_asked_period_is_a_refusal(assistant) -> None:
    answer = assistant.ask("What did Xi and Japarov say about Taiwan in 2023?")
    assert not answer.answered
    assert answer.citations == ()
    assert answer.passages  # the closest passages are still offered
    assert "do not contain" in answer.text


def test_list_questions_cite_one_sentence_per_readout(assistant) -> None:
    answer = assistant.ask("Which leaders did Xi Jinping call in February 2021?")
    assert answer.answered
    docs = [c.doc_id for c in answer.citations]
    assert len(docs) == len(set(docs))
    assert {"xi-japarov", "xi-sisi"} <= set(docs)
    assert answer.text.startswith("- 2021-02-")


def test_follow_up_stays_on_the_readout_discussed(assistant) -> None:
    first = assistant.ask("What did Kyrgyzstan say about Taiwan?")
    follow = assistant.ask("And what did he say about vaccines?", history=[Turn.of(first)])
    assert follow.citations[0].doc_id == "xi-japarov"
    assert "vaccines" in follow.citations[0].quote


def test_the_index_follows_new_and_removed_readouts(assistant, fake_store) -> None:
    new = Readout(doc_id="macron-xi", title="Macron Xi call", date="2021-04-16",
                  language="en", source="Elysée", text="Macron and Xi discussed climate "
                  "finance and the Kunming biodiversity summit.")
    fake_store.write_readout(new, chunk_readout(new, 700))
    assert assistant.ask("Kunming biodiversity summit").citations[0].doc_id == "macron-xi"
    fake_store.remove("macron-xi")
    assert all(p.doc_id != "macron-xi" for p in assistant.ask("Kunming biodiversity").passages)


def test_a_large_index_follows_changes_at_once_and_rebuilds_in_the_background(
    assistant, fake_store, monkeypatch
) -> None:
    """A large store's index takes minutes to rebuild: a new or removed readout must show at
    the next question all the same, and no question may wait for the rebuild."""
    import rag.lexical.index
    from rag.lexical import cache

    monkeypatch.setattr(rag.lexical.index, "INLINE_BUILD_S", -1.0)  # every build is slow
    monkeypatch.setattr(rag.lexical.index, "REBUILD_GAP", 0.0)
    monkeypatch.setattr(rag.lexical.index, "DELTA_BUDGET_S", -1.0)  # every delta asks one
    lexical = assistant.lexical
    lexical.sync()
    assert lexical.search("Japarov", 3, Filters())  # the first build is inline all the same
    gate = threading.Event()
    chunks = fake_store.iter_chunks

    def held_chunks(doc_ids=None):
        if doc_ids is None:  # a full build stays in progress until the checks below are done
            gate.wait(30)
        yield from chunks(doc_ids)

    monkeypatch.setattr(fake_store, "iter_chunks", held_chunks)
    new = Readout(doc_id="macron-xi", title="Macron Xi call", date="2021-04-16",
                  language="en", source="Elysée", text="Macron and Xi discussed the Kunming "
                  "biodiversity summit.")
    fake_store.write_readout(new, chunk_readout(new, 700))
    assert lexical.sync()  # the readout is added as a delta; the rebuild starts behind
    assert lexical.search("Kunming", 5, Filters())[0].chunk_id.startswith("macron-xi")
    assert fake_store.remove("xi-japarov")
    assert lexical.sync()
    assert lexical.search("Japarov", 5, Filters()) == []
    assert "xi-japarov" not in lexical.readouts_naming([("Japarov",)])
    assert assistant.ask("Kunming biodiversity summit").citations[0].doc_id == "macron-xi"
    gate.set()
    lexical.wait(30)
    rebuilt = cache.load(lexical.cache_dir)  # the rebuild, swapped in and saved
    assert rebuilt is not None
    assert "macron-xi" in rebuilt.hashes
    assert lexical.search("Kunming", 5, Filters())[0].chunk_id.startswith("macron-xi")
    assert lexical.search("Japarov", 5, Filters()) == []


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions_get_a_clear_error(assistant, question: str) -> None:
    with pytest.raises(ReadoutsError, match="question"):
        assistant.ask(question)


def test_first_and_last_pick_the_earliest_and_latest_call(fake_store, settings) -> None:
    calls = [
        Readout(doc_id=f"biden-putin-{date}", title="Readout of a call", date=date,
                language="en", source="White House",
                text="President Biden spoke with President Putin of Russia about Ukraine.")
        for date in ("2021-01-26", "2021-12-30", "2022-02-12")
    ]
    assistant = assistant_over(fake_store, settings, calls)
    latest = assistant.retrieve("When did Biden last speak with Putin?")
    assert latest.passages[0].doc_id == "biden-putin-2022-02-12"
    earliest = assistant.retrieve("What did Biden tell Putin in their first call?")
    assert earliest.passages[0].doc_id == "biden-putin-2021-01-26"


# ---- names in any script, the days and lists asked, announcements ----

CHINESE_READOUTS = [
    Readout(
        doc_id="cctv-scholz", title="习近平会见德国总理", date="2022-11-04", language="zh",
        source="CCTV", countries=("CN", "DE"),
        text="国家主席习近平在人民大会堂会见来华正式访问的德国总理朔尔茨。\n"
             "双方共同反对使用或威胁使用核武器。",
    ),
    Readout(
        doc_id="wh-trudeau", title="Readout of a call with Prime Minister Trudeau",
        date="2022-02-11", language="en", source="White House", countries=("CA", "US"),
        text="The President spoke with Prime Minister Justin Trudeau of Canada about the "
             "blockade of bridges.",
    ),
]


@pytest.fixture
def multiscript(fake_store, settings):
    """An assistant over a Chinese readout and an English one."""
    return assistant_over(fake_store, settings, CHINESE_READOUTS)


def test_an_english_question_naming_scholz_cites_the_chinese_passage(multiscript) -> None:
    answer = multiscript.ask("What did Xi tell Olaf Scholz?")
    assert answer.answered
    assert answer.citations[0].doc_id == "cctv-scholz"
    assert "朔尔茨" in answer.citations[0].quote


def test_a_leader_no_readout_names_in_any_script_is_a_refusal(multiscript) -> None:
    answer = multiscript.ask("What did Xi tell Friedrich Merz?")
    assert not answer.answered
    assert "friedrich merz" in answer.text


def test_the_store_knows_which_words_no_readout_contains(fake_store, settings) -> None:
    assistant = assistant_over(fake_store, settings, CHINESE_READOUTS)
    got = assistant.retrieve("What did Biden and Trudeau say about the softwood lumber "
                             "blockade?")
    assert got.facts.topics == ("softwood", "lumber", "blockade")
    assert got.unknown_topics == ("softwood", "lumber")
    chinese = assistant.retrieve("习近平同朔尔茨会谈时就深海采矿和核武器说了什么？")
    assert chinese.facts.topics == ("深海", "海采", "采矿", "核武", "武器")
    assert chinese.unknown_topics == ("深海", "海采", "采矿")


def test_who_was_called_on_a_day_leaves_out_calls_of_the_days_around(
    fake_store, settings
) -> None:
    """Readouts are kept up to three days around the day asked (some are dated the day
    after), but one dated before it, or saying "today" on another date, is another call."""
    calls = [Readout(doc_id=f"wh-{day}", title=f"Readout of President Biden's Call with {who}",
                     date=f"2023-10-{day}", language="en", source="White House",
                     text=f"President Biden spoke today with {who} about Gaza.")
             for day, who in (("14", "President Abbas"), ("16", "President Sisi"),
                              ("18", "King Abdullah II"))]
    answer = assistant_over(fake_store, settings, calls).ask(
        "Which leaders did Biden speak with by phone on 16 October 2023?")
    assert [c.doc_id for c in answer.citations] == ["wh-16"]
    assert {p.doc_id for p in answer.passages} == {"wh-14", "wh-16", "wh-18"}


def test_an_answer_from_an_announcement_says_so(fake_store, settings) -> None:
    preview = Readout(doc_id="wh-preview", title="Statement on President Biden's Virtual Meeting "
                      "with Prime Minister Kishida", date="2022-01-16", language="en",
                      source="White House", countries=("JP", "US"),
                      text="President Biden will meet virtually with Prime Minister Kishida of "
                           "Japan on Friday, January 21. They will discuss COVID-19 and climate.")
    settings.refusal_threshold = 0.0  # the notice is the point, not the fake scores' verdict
    assistant = assistant_over(fake_store, settings, [preview])
    answer = assistant.ask("What did Biden and Kishida discuss in January 2022?")
    assert answer.answered
    assert answer.notice == ("[1], [2] quote an announcement made before the event: what was "
                             "planned, not what was said.")
    assert assistant.ask("When will Biden meet Kishida virtually?").notice is None


def test_a_list_of_calls_in_a_month_lists_every_one_beyond_the_top_passages(
    fake_store, settings
) -> None:
    calls = [Readout(doc_id=f"wh-call-{day}", title=f"Readout of President Biden's Call with "
                     f"{who}", date=f"2023-10-{day}", language="en", source="White House",
                     text=f"President Biden spoke today with {who}.")
             for day, who in (("03", "President Ruto"), ("05", "Amir Tamim"),
                              ("14", "Prime Minister Netanyahu"), ("16", "President Sisi"),
                              ("18", "Prime Minister Sudani"), ("22", "President Abbas"),
                              ("29", "King Abdullah II"))]
    others = [
        Readout(doc_id="wh-harris-call", title="Readout of Vice President Harris's Call with "
                "President Macron", date="2023-10-20", language="en", source="White House",
                text="Vice President Harris spoke today with President Macron. She conveyed "
                     "President Biden's thanks."),
        Readout(doc_id="wh-meeting", title="Readout of President Biden's Meeting with Prime "
                "Minister Albanese", date="2023-10-25", language="en", source="White House",
                text="President Biden met today with Prime Minister Albanese."),
        Readout(doc_id="wh-september", title="Readout of President Biden's Call with Chancellor "
                "Scholz", date="2023-09-20", language="en", source="White House",
                text="President Biden spoke today with Chancellor Scholz."),
    ]
    preview = Readout(doc_id="wh-preview", title="Statement on President Biden's Call with "
                      "President Xi", date="2023-10-26", language="en", source="White House",
                      text="President Biden will speak with President Xi this Friday.")
    assistant = assistant_over(fake_store, settings, [*calls, *others, preview])
    answer = assistant.ask("Which leaders did Biden call in October 2023?")
    assert [c.doc_id for c in answer.citations] == [r.doc_id for r in calls]
    assert len(answer.passages) > settings.top_k
    assert answer.notice is None
    _cut_to_one_says_how_many_more(
        assistant, settings, "Which leaders did Biden call in October 2023?", len(calls),
        "{} more readouts of these dates match; ask about a shorter period to list them all.")


def _cut_to_one_says_how_many_more(assistant: Assistant, settings: Settings, question: str,
                                   listed: int, notice: str) -> None:
    """A list cut to one readout says how many more match."""
    settings.list_max_readouts = 1
    cut = assistant.ask(question)
    missing = listed - len(cut.citations)
    assert missing > 0
    assert cut.notice == notice.format(missing)


def test_how_often_two_leaders_spoke_lists_every_call_between_them_at_any_date(
    fake_store, settings
) -> None:
    """Without a period, a question on every occasion lists the calls naming both sides in
    their title or opening, whenever they were; not their meetings, not calls with others."""
    def call(doc_id: str, date: str, title: str, text: str) -> Readout:
        return Readout(doc_id=doc_id, title=title, date=date, language="en",
                       source="White House", countries=("OM", "US"), text=text)

    calls = [call(f"wh-oman-{date}", date, "Readout of President Biden's Call with Sultan "
                  "Haitham bin Tariq of Oman", "President Biden spoke today with Sultan Haitham "
                  f"bin Tariq of Oman. {topic}")
             for date, topic in (("2021-05-20", "They discussed Yemen."),
                                 ("2023-02-14", "They discussed energy."),
                                 ("2024-10-09", "They discussed Gaza."))]
    others = [call("wh-oman-meeting", "2022-07-16", "Readout of President Biden's Meeting "
                   "with Sultan Haitham bin Tariq of Oman", "President Biden met Sultan Haitham "
                   "bin Tariq of Oman in Jeddah."),
              call("wh-qatar", "2023-03-01", "Readout of President Biden's Call with Amir "
                   "Tamim of Qatar", "President Biden spoke today with Amir Tamim of Qatar. "
                   "He thanked Oman for its mediation.")]
    settings.top_k = 1  # the others come from the list, not from the top passages
    assistant = assistant_over(fake_store, settings, [*calls, *others])
    answer = assistant.ask("How many times did Biden speak by phone with Sultan Haitham of "
                           "Oman, and on which dates?")
    assert [c.doc_id for c in answer.citations] == [r.doc_id for r in calls]
    _cut_to_one_says_how_many_more(
        assistant, settings, "How many times did Biden speak by phone with Sultan Haitham of "
        "Oman?", len(calls), "{} more readouts match, the least relevant, left out; name a "
        "period to list them all.")


def test_an_organisation_is_found_in_its_chinese_name(fake_store, settings) -> None:
    """The ICRC president's meeting with Xi is reported by CCTV only, as 红十字国际委员会."""
    icrc = Readout(doc_id="cctv-icrc", title="习近平会见红十字国际委员会主席", date="2023-09-19",
                   language="zh", source="CCTV", countries=("CN",),
                   text="国家主席习近平在北京会见红十字国际委员会主席斯波利亚里茨。")
    question = ("What did the head of the International Committee of the Red Cross tell Xi "
                "Jinping in September 2023?")
    facts = analyse(question)
    assert "红十字国际委员会" in facts.other_forms(question)
    assert [k.label for k in facts.people] == ["Xi Jinping"]  # the organisation is no person
    answer = assistant_over(fake_store, settings, [*CHINESE_READOUTS, icrc]).ask(question)
    assert answer.passages[0].doc_id == "cctv-icrc"


def test_a_list_in_a_city_leaves_out_visits_elsewhere(fake_store, settings) -> None:
    def visit(doc_id: str, day: str, text: str) -> Readout:
        return Readout(doc_id=doc_id, title=f"Federal Councillor Ignazio Cassis meets {doc_id}",
                       date=f"2024-02-{day}", language="en", source="FDFA", text=text)

    readouts = [visit("wang", "06", "Ignazio Cassis met Wang Yi in Beijing."),
                visit("han", "06", "Ignazio Cassis met Vice President Han Zheng in Beijing."),
                visit("manila", "08", "Ignazio Cassis met the Philippine minister in Manila.")]
    settings.top_k = 1
    answer = assistant_over(fake_store, settings, readouts).ask(
        "Which Chinese leaders did Ignazio Cassis meet in Beijing in February 2024?")
    assert {c.doc_id for c in answer.citations} == {"wang", "han"}
