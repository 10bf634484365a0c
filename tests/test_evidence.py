"""Which readouts are about the people asked, and the earliest or latest event of their kind."""

from __future__ import annotations

from dataclasses import replace

from rag.query import analyse
from rag.ranking.evidence import chronological_pick, names_by_readout, readouts_about
from rag.schema import Passage
from tests.samples import passage


def test_when_did_they_last_speak_picks_the_readout_of_their_call_not_a_later_mention() -> None:
    call = replace(passage("wh-putin", "en", "President Biden spoke today with President "
                           "Vladimir Putin of Russia about Ukraine.",
                           title="Readout of President Biden's Call with President Putin"),
                   date="2022-02-12")
    later = replace(passage("wh-zelenskyy", "en", "President Biden spoke with President "
                            "Zelenskyy about Putin's war.",
                            title="Readout of President Biden's Call with President Zelenskyy"),
                    date="2025-01-10")
    facts = analyse("When did Biden last speak with Putin?")
    assert facts.order == "latest"
    assert facts.asks_when
    candidates = [call, later]
    assert chronological_pick(candidates, facts, names_by_readout(candidates, facts)) == "wh-putin"
    # CCTV titles name Xi only: the opening passage, which names both, counts
    opening = replace(passage("cctv-trump", "zh", "1月17日晚，习近平同美国当选总统特朗普通电话。",
                              title="习近平同美国当选总统通电话"), date="2025-01-18")
    mention = replace(passage("cctv-later", "zh", "习近平会见外宾。", title="习近平会见外宾"),
                      date="2025-03-01")
    passing = replace(mention, chunk_id="cctv-later#1", start=400, text="特朗普政府加征关税。")
    facts = analyse("When did Xi Jinping last speak with Donald Trump?")
    candidates = [opening, mention, passing]
    assert chronological_pick(candidates, facts, names_by_readout(candidates, facts)) == (
        "cctv-trump")


def test_their_first_meeting_is_not_their_first_call() -> None:
    def harris_macron(doc_id: str, date: str, title: str) -> Passage:
        return replace(passage(doc_id, "en", "Vice President Kamala Harris and Macron "
                               "discussed space cooperation.", title=title), date=date)

    candidates = [
        harris_macron("call-2021", "2021-02-15", "Readout of Vice President Harris's Call "
                      "with President Macron"),
        harris_macron("meeting-2021", "2021-11-10", "Statement on Vice President Harris's "
                      "Meeting with President Macron"),
        harris_macron("meeting-2022", "2022-11-30", "Readout of Vice President Harris's "
                      "Meeting with President Macron"),
    ]
    facts = analyse("When and where did Kamala Harris and Emmanuel Macron first meet?")
    assert chronological_pick(candidates, facts, names_by_readout(candidates, facts)) == (
        "meeting-2021")
    facts = analyse("When did Kamala Harris and Emmanuel Macron first speak by phone?")
    assert chronological_pick(candidates, facts, names_by_readout(candidates, facts)) == (
        "call-2021")


def test_a_readout_whose_title_names_one_party_beats_a_same_day_readout_naming_none() -> None:
    """On 29 January 2026 CCTV reported Xi's meeting with Starmer and Li Qiang's talks with him:
    both openings name Xi and Starmer, only the first title names one of them."""
    xi = passage("cctv-xi", "zh", "1月29日上午，国家主席习近平在北京会见英国首相斯塔默。",
                 title="习近平会见英国首相")
    li = passage("cctv-li", "zh", "欢迎仪式后，李强同斯塔默举行会谈。"
                 "李强表示，上午习近平主席同首相先生举行会晤。", title="李强同英国首相会谈")
    people = analyse("What did Keir Starmer tell Xi Jinping about Taiwan?").people
    assert readouts_about([li, xi], people, ["cctv-li", "cctv-xi"]) == ["cctv-xi"]
