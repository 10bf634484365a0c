"""Ranking signals (rag/ranking/signals.py): each captures what its docstring says, and is 0
when the question gives it nothing to say."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.query import analyse
from rag.ranking import signals as s
from rag.ranking.signals import SIGNALS, Candidates
from rag.schema import Passage


def passage(doc_id: str, text: str, title: str = "", start: int = 0, **fields) -> Passage:
    values = {"date": "2021-02-10", "language": "en", **fields}
    return Passage(doc_id=doc_id, chunk_id=f"{doc_id}#{start}", title=title, source="test",
                   url=None, text=text, start=start, end=start + len(text), **values)


def candidates(question: str, *passages: Passage, **fields) -> Candidates:
    return Candidates.build(analyse(question), passages, fields.pop("lexical", {}), **fields)


WH = passage("wh-call", "President Biden spoke today with President Xi Jinping of China. "
             "President Biden underscored his fundamental concerns about Beijing's coercive "
             "actions, including toward Taiwan.",
             title="Readout of President Biden's Call with President Xi Jinping of China",
             countries=("CN", "US", "TW"))
CCTV = passage("cctv-call", "习近平强调，台湾问题、涉港、涉疆等问题是中国内政，"
               "关系中国主权和领土完整，美方应该尊重中方核心利益，慎重行事。",
               title="习近平同美国总统拜登通电话",
               start=300, language="zh", date="2021-02-11", countries=("CN", "US", "TW"))


def test_every_signal_is_registered_with_a_docstring() -> None:
    assert list(SIGNALS)[:2] == ["dense", "lexical"]
    for name, function in SIGNALS.items():
        assert function.__doc__, name


def test_signals_are_silent_when_the_question_says_nothing_of_their_kind() -> None:
    c = candidates("What was agreed?", replace(WH, score=0.3))
    silent = {name: f(c, c.passages[0]) for name, f in SIGNALS.items() if name != "dense"}
    assert set(silent.values()) == {0.0}, silent
    assert s.dense(c, c.passages[0]) == pytest.approx(0.3)


def test_who_speaks_favours_the_speakers_own_sentence_and_side() -> None:
    """Xi's words on Taiwan are in the Chinese readout, not Biden's sentence on Taiwan."""
    c = candidates("What did Xi say about Taiwan in that call with Biden?", WH, CCTV)
    assert c.facts.speaker is not None
    assert c.facts.speaker.label == "Xi Jinping"
    assert s.speaker_speaks(c, CCTV) == 1.0
    assert s.speaker_speaks(c, WH) == 0.0  # Biden speaks in both of its sentences
    assert s.speaker_side(c, CCTV) == 1.0
    assert s.speaker_side(c, WH) == 0.0
    biden = candidates("What did Biden say about Taiwan to Xi?", WH, CCTV)
    assert s.speaker_speaks(biden, WH) == 1.0
    assert s.speaker_side(biden, WH) == 1.0
    both = candidates("What did Biden and Xi say about Taiwan?", WH, CCTV)
    assert both.facts.speaker is None


def test_people_named_counts_every_script() -> None:
    c = candidates("What did Xi tell Biden?", WH, CCTV)
    assert s.people_named(c, CCTV) == 1.0  # 习近平 and 拜登
    assert s.countries_named(candidates("China and the United States", WH), WH) == 1.0


def test_event_match_is_signed() -> None:
    asked_call = candidates("their phone call", WH)
    assert s.event_match(asked_call, WH) == 1.0
    meeting = replace(WH, title="Readout of President Biden's Meeting with President Xi")
    assert s.event_match(asked_call, meeting) == -1.0
    assert s.event_match(candidates("What was said?", WH), WH) == 0.0


def test_the_meeting_readout_and_the_chronological_pick() -> None:
    later = passage("wh-later", "President Biden spoke with President Macron about Xi Jinping.",
                    title="Readout of President Biden's Call with President Macron",
                    date="2022-05-01")
    c = candidates("When did Biden and Xi last speak?", WH, later,
                   everyone=frozenset({"wh-call", "wh-later"}))
    assert s.meeting_readout(c, WH) == 1.0
    assert s.meeting_readout(c, later) == 0.0
    assert s.chronological(c, WH) == 1.0  # the later readout names Xi in passing


def test_previews_and_other_days() -> None:
    preview = passage("wh-preview", "President Biden will speak with President Xi this Friday.")
    c = candidates("What did Biden and Xi discuss?", preview, WH)
    assert s.preview(c, preview) == 1.0
    assert s.preview(c, WH) == 0.0
    assert s.preview(candidates("When will Biden and Xi speak?", preview), preview) == 0.0
    before = passage("wh-before", "President Biden met President Xi.", date="2021-02-01")
    day = candidates("What did Biden tell Xi on February 10, 2021?", before, WH)
    assert s.other_day(day, before) == 1.0
    assert s.other_day(day, WH) == 0.0


def test_subject_signals_read_sentences_titles_and_other_languages() -> None:
    c = candidates("What did Xi say about Taiwan?", WH, CCTV)
    assert s.subject_sentence(c, CCTV) == 1.0  # 台湾 is Taiwan
    covid = passage("wh-covid", "They discussed the pandemic.", title="Readout on COVID-19 "
                    "vaccines")
    t = candidates("What was said about vaccines?", covid, subject={"wh-covid#0": 0.4})
    assert s.subject_sentence(t, covid) == 0.0  # the title is not a sentence of the passage
    assert s.subject_dense(t, covid) == 0.4


def test_lexical_share() -> None:
    c = candidates("What did Xi say?", WH, CCTV, lexical={"wh-call#0": 0.5})
    assert s.lexical(c, WH) == 0.5
    assert s.lexical(c, CCTV) == 0.0


def test_the_speaker_of_a_follow_up_is_asked_in_its_last_question() -> None:
    combined = ("Did Biden and Xi speak in February 2021? What did Xi say about Taiwan in that "
                "call?")
    speaker = analyse(combined).speaker
    assert speaker is not None
    assert speaker.label == "Xi Jinping"
    assert analyse("拜登就台湾问题说了什么？").speaker is not None
