"""Questions on what one side's readout left out, answered from the alignment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.pipeline import ingest_paths
from rag.align import align
from rag.assistant import build_assistant
from rag.config import Settings
from rag.sides import answer_from_alignment, is_side_question, publisher_name, side_of
from rag.store import ReadoutStore
from tests.fakes import ConceptEmbeddings
from tests.test_align import CCTV, CONCEPTS, WHITE_HOUSE

LEFT_OUT = "What did the Chinese readout of Biden's February 2021 call leave out?"


@pytest.mark.parametrize(("question", "expected"), [
    (LEFT_OUT, True),
    ("What did the White House readout omit?", True),
    ("How did each side describe the Taiwan discussion?", True),
    ("Qu'est-ce que le compte rendu chinois passe sous silence ?", True),
    ("What did Biden and Xi discuss in February 2021?", False),
    ("Which side called first?", False),
    ("Why did the two sides need a new investment protection agreement?", False),
    ("Compare the two sides' readouts of the Bali meeting", True),
])
def test_side_questions_are_recognised(question: str, expected: bool) -> None:
    assert is_side_question(question) is expected


def test_the_side_asked_about_is_found_by_source_not_by_words_in_the_url() -> None:
    # the White House url ends "...-of-china/": it is still not the Chinese readout
    wh = WHITE_HOUSE.__class__(**{**WHITE_HOUSE.__dict__,
                                  "url": "https://www.whitehouse.gov/call-with-xi-of-china/"})
    assert side_of(LEFT_OUT, wh, CCTV) is CCTV
    assert side_of("What did the White House readout omit?", wh, CCTV) is wh
    assert side_of("What did the readout omit?", wh, CCTV) is None


@pytest.mark.parametrize(("source", "name"), [
    ("The White House, Briefing Room (United States)", "White House"),
    ("CCTV《新闻联播》 transcript (央视网 tv.cctv.com)", "CCTV"),
    ("Swiss Confederation – Federal Department of Foreign Affairs", "Swiss Confederation"),
])
def test_publisher_name(source: str, name: str) -> None:
    assert publisher_name(source) == name


def test_what_the_chinese_readout_left_out_cites_both_sides() -> None:
    al = align(WHITE_HOUSE, CCTV, ConceptEmbeddings(CONCEPTS))

    answer = answer_from_alignment(LEFT_OUT, al, focus=CCTV)

    assert answer.answered
    assert answer.answerer == "alignment"
    lines = answer.text.split("\n")
    assert lines[0] == ("The CCTV readout (2021-02-11) leaves out what only the White House "
                        "readout (2021-02-10) says:")
    assert lines[1].startswith("- Only the White House readout says: Biden raised unfair trade "
                               "practices. [1]")
    assert "- Only the CCTV readout says: 习近平阐述了中方在涉港问题上的立场。" in lines[2]
    assert {c.doc_id for c in answer.citations} == {"wh", "cctv"}
    for c in answer.citations:
        text = WHITE_HOUSE.text if c.doc_id == "wh" else CCTV.text
        assert text[c.start:c.end] == c.quote
        assert f"[{c.n}]" in answer.text


def test_how_each_side_spoke_of_a_subject() -> None:
    al = align(WHITE_HOUSE, CCTV, ConceptEmbeddings(CONCEPTS))

    answer = answer_from_alignment("How did each side describe the Taiwan discussion?", al, None)

    assert answer.text.split("\n") == [
        "How each side's readout speaks of Taiwan:",
        "- The White House readout: Biden raised concerns about Taiwan. [1]",
        "- The CCTV readout: 习近平强调，台湾问题是中国内政。 [2]",
    ]


def test_the_assistant_answers_a_side_question_from_the_alignment(
        settings: Settings, tmp_path: Path) -> None:
    records = tmp_path / "call.jsonl"
    records.write_text("\n".join(json.dumps(
        {"id": r.doc_id, "title": r.title, "date": r.date, "language": r.language,
         "source": r.source, "url": r.url, "text": r.text}, ensure_ascii=False)
        for r in (WHITE_HOUSE, CCTV)), encoding="utf-8")
    # the leaders as concepts too: the two openings then meet at a cosine of 0.76, as in e5
    concepts = {**CONCEPTS, "biden": ("Biden", "拜登"), "xi": ("Xi Jinping", "习近平")}
    store = ReadoutStore(settings, ConceptEmbeddings(concepts, script_weight=0.5))
    ingest_paths(store, [records], max_bytes=2**20, max_chars=700)
    assistant = build_assistant(settings, store)

    answer = assistant.ask(LEFT_OUT)
    assert answer.answerer == "alignment"
    assert answer.text.startswith("The CCTV readout (2021-02-11) leaves out")
    *_, final = assistant.stream(LEFT_OUT)
    assert final == answer

    plain = assistant.ask("What did Biden say about climate change?")
    assert plain.answerer != "alignment"
