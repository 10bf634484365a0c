"""Question -> hybrid retrieval -> extractive answer, on a real store with the fake embedder."""

from __future__ import annotations

import threading

import pytest

from ingest.chunking import chunk_readout
from rag.assistant import Turn
from rag.errors import ReadoutsError
from rag.query import analyse, date_range, is_follow_up
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


def test_a_slow_index_answers_while_it_rebuilds_in_the_background(
    assistant, fake_store, monkeypatch
) -> None:
    """A large store's index takes minutes to rebuild: questions must not wait for it."""
    import rag.lexical

    monkeypatch.setattr(rag.lexical, "INLINE_BUILD_S", -1.0)  # every build counts as slow
    monkeypatch.setattr(rag.lexical, "REBUILD_GAP", 0.0)
    lexical = assistant.lexical
    lexical.sync()
    assert lexical.search("Japarov", 3, Filters())  # the first build is inline all the same
    new = Readout(doc_id="macron-xi", title="Macron Xi call", date="2021-04-16",
                  language="en", source="Elysée", text="Macron and Xi discussed the Kunming "
                  "biodiversity summit.")
    fake_store.write_readout(new, chunk_readout(new, 700))
    gate = threading.Event()
    chunks = fake_store.iter_chunks

    def held_chunks():
        gate.wait(30)  # the rebuild stays in progress until the questions below are done
        yield from chunks()

    monkeypatch.setattr(fake_store, "iter_chunks", held_chunks)
    before = lexical.generation
    lexical.sync()  # starts the rebuild and returns at once
    assert lexical.search("Kunming", 5, Filters()) == []  # not indexed yet: no waiting
    assert lexical.search("Japarov", 5, Filters())  # the previous index still answers
    assert lexical.generation == before
    gate.set()
    lexical.wait(30)
    assert lexical.generation != before
    assert any(h.chunk_id.startswith("macron-xi") for h in lexical.search("Kunming", 5, Filters()))
    assert assistant.ask("Kunming biodiversity summit").citations[0].doc_id == "macron-xi"


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions_get_a_clear_error(assistant, question: str) -> None:
    with pytest.raises(ReadoutsError, match="question"):
        assistant.ask(question)


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
    ],
)
def test_first_and_last_questions(question: str, order: str | None) -> None:
    assert analyse(question).order == order


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
