"""Pairs: the other side's readout of the same event, found from content and metadata."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import rag.assistant
from ingest.cli import main
from ingest.pipeline import ingest_paths
from rag.config import Settings
from rag.pairs import confidence_floor, find_pairs, registrable_domain
from rag.schema import Readout
from rag.store import ReadoutStore
from tests.fakes import ConceptEmbeddings

CONCEPTS = {
    "biden": ("Biden", "拜登"), "xi": ("Xi Jinping", "习近平"),
    "call": ("spoke", "speak", "call", "通电话"), "swiss": ("Cassis", "卡西斯", "Suisse", "Swiss"),
    "visit": ("visit", "visite", "会见"), "macron": ("Macron", "马克龙"),
}
WH = dict(source="The White House, Briefing Room",
          url="https://www.whitehouse.gov/briefing-room/statements-releases/x/")
CCTV = dict(source="CCTV 新闻联播", url="https://tv.cctv.com/2021/02/11/x.shtml")
SWISS_FR = dict(source="Confédération suisse – DFAE", url="https://www.admin.ch/gov/fr/x.html")
SWISS_EN = dict(source="Swiss Confederation – FDFA", url="https://www.admin.ch/gov/en/x.html")

WH_CALL = Readout(
    "wh-call", "President Joseph R. Biden, Jr. spoke today with President Xi Jinping of China. "
    "They discussed Taiwan.", title="Readout of President Biden's Call with President Xi "
    "Jinping of China", date="2021-02-10", language="en", **WH)
CCTV_CALL = Readout(
    "cctv-call", "2月11日上午，国家主席习近平同美国总统拜登通电话。"
    "习近平强调，台湾问题是中国内政。",
    title="习近平同美国总统拜登通电话", date="2021-02-11", language="zh", **CCTV)
WH_PREVIEW = Readout(
    "wh-preview", "President Joseph R. Biden, Jr. will speak with President Xi Jinping of China "
    "this Friday.", title="Statement by the Press Secretary on President Biden's Call with "
    "President Xi Jinping", date="2021-02-09", language="en", **WH)
CASSIS_FR = Readout(
    "ch-fr", "Le conseiller fédéral Ignazio Cassis a effectué une visite à Pékin, où il a été "
    "reçu par le vice-président Han Zheng.", title="Ignazio Cassis en visite en Chine",
    date="2024-02-07", language="fr", **SWISS_FR)
CASSIS_EN = Readout(
    "ch-en", "Federal Councillor Ignazio Cassis paid a visit to Beijing, where he was received "
    "by Vice President Han Zheng.", title="Ignazio Cassis visits China", date="2024-02-07",
    language="en", **SWISS_EN)
CCTV_CASSIS = Readout(
    "cctv-cassis", "2月6日，国家副主席韩正在北京会见瑞士联邦委员兼外长卡西斯。",
    title="韩正会见瑞士联邦委员兼外长", date="2024-02-06", language="zh", **CCTV)


def embedder() -> ConceptEmbeddings:
    """Openings of one event in two languages at a cosine near 0.9, as e5 puts them."""
    return ConceptEmbeddings(CONCEPTS, script_weight=0.5)


def keys(pairs) -> set[frozenset[str]]:
    return {frozenset((p.a.doc_id, p.b.doc_id)) for p in pairs}


def test_the_other_sides_readout_of_a_call_is_its_pair_and_says_why() -> None:
    [pair] = find_pairs([WH_CALL, CCTV_CALL], embedder())

    assert {pair.a.doc_id, pair.b.doc_id} == {"wh-call", "cctv-call"}
    assert pair.confidence >= confidence_floor()
    assert "dates 1 day apart" in pair.why
    assert "both name Joe Biden, Xi Jinping" in pair.why
    assert pair.other("wh-call").doc_id == "cctv-call"
    assert set(pair.to_dict()) == {"a", "b", "confidence", "similarity", "why"}


def test_translations_are_one_side_each_paired_with_the_other_side() -> None:
    pairs = find_pairs([CASSIS_FR, CASSIS_EN, CCTV_CASSIS], embedder())

    assert keys(pairs) == {frozenset(("ch-fr", "cctv-cassis")),
                           frozenset(("ch-en", "cctv-cassis"))}


def test_the_readout_is_paired_not_the_preview_that_announced_the_call() -> None:
    pairs = find_pairs([WH_PREVIEW, WH_CALL, CCTV_CALL], embedder())

    assert keys(pairs) == {frozenset(("wh-call", "cctv-call"))}


@pytest.mark.parametrize(("change", "why"), [
    ({"date": "2021-02-16"}, "five days later is another event"),
    ({"source": WH["source"], "url": WH["url"]}, "one publisher is one side"),
    ({"date": None}, "an undated readout cannot be placed"),
])
def test_no_pair(change: dict, why: str) -> None:
    other = Readout(**{**CCTV_CALL.__dict__, **change})

    assert find_pairs([WH_CALL, other], embedder()) == [], why


def test_readouts_naming_other_people_are_not_paired() -> None:
    macron = Readout("cctv-macron", "2月11日，国家主席习近平同法国总统马克龙通电话。",
                     title="习近平同法国总统马克龙通电话", date="2021-02-11", language="zh",
                     **CCTV)

    assert find_pairs([WH_CALL, macron], embedder()) == []


@pytest.mark.parametrize(("url", "domain"), [
    ("https://www.whitehouse.gov/briefing-room/x", "whitehouse.gov"),
    ("https://bidenwhitehouse.archives.gov/x", "archives.gov"),
    ("https://www.fmprc.gov.cn/eng/x", "fmprc.gov.cn"),
    ("https://www.admin.ch/gov/fr/x", "admin.ch"),
    (None, ""), ("javascript:alert(1)", ""),
])
def test_registrable_domain(url: str | None, domain: str) -> None:
    assert registrable_domain(url) == domain


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The readouts above in a real Chroma store behind the ``readouts`` command."""
    records = tmp_path / "data" / "readouts.jsonl"
    records.parent.mkdir()
    with records.open("w", encoding="utf-8") as out:
        for r in (WH_PREVIEW, WH_CALL, CCTV_CALL, CASSIS_FR, CASSIS_EN, CCTV_CASSIS):
            out.write(json.dumps({"id": r.doc_id, "title": r.title, "date": r.date,
                                  "language": r.language, "source": r.source, "url": r.url,
                                  "text": r.text}, ensure_ascii=False) + "\n")
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setattr(rag.assistant, "open_store",
                        lambda settings: ReadoutStore(settings, embedder()))
    store = rag.assistant.open_store(Settings())
    report = ingest_paths(store, [records], max_bytes=2**20, max_chars=700)
    assert not report.failed
    return records


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_pairs_command_lists_each_pair_with_confidence_and_why(stored: Path) -> None:
    code, out = run(["pairs", "--json"])

    pairs = json.loads(out)
    assert code == 0
    assert {frozenset((p["a"]["doc_id"], p["b"]["doc_id"])) for p in pairs} == {
        frozenset(("wh-call", "cctv-call")), frozenset(("ch-fr", "cctv-cassis")),
        frozenset(("ch-en", "cctv-cassis"))}
    assert all(p["confidence"] >= confidence_floor() and p["why"] for p in pairs)
    assert set(pairs[0]["a"]) == {"doc_id", "title", "date", "language", "source", "url"}

    code, out = run(["pairs"])
    assert code == 0
    assert out.endswith("3 pairs\n")


def test_show_json_gains_the_other_side_and_keeps_every_field(stored: Path) -> None:
    code, out = run(["show", "cctv-call", "--json"])

    record = json.loads(out)
    assert code == 0
    assert set(record) == {"doc_id", "title", "date", "language", "source", "url", "countries",
                           "path", "text", "other_side"}
    [other] = record["other_side"]
    assert other["doc_id"] == "wh-call"
    assert other["confidence"] >= confidence_floor()
    assert "both name Joe Biden, Xi Jinping" in other["why"]

    code, out = run(["show", "wh-preview", "--json"])
    assert json.loads(out)["other_side"] == []


@pytest.mark.slow
def test_the_real_model_pairs_the_white_house_and_cctv_readouts_of_a_call() -> None:
    """The readouts of February 9-13, 2021 in the shared corpus, with e5: the Biden-Xi call
    is paired across English and Chinese, and nothing else those days is."""
    from rag.embeddings import build_embeddings
    from rag.metadata import find_countries
    from tests.conftest import corpus_records

    records = [r for lang in ("en", "fr", "zh") for r in corpus_records(lang)
               if "2021-02-09" <= r["date"] <= "2021-02-13"]
    readouts = [Readout(r["id"], r["text"], title=r["title"], date=r["date"],
                        language=r["language"], source=r["source"], url=r["url"],
                        countries=find_countries(f"{r['title']}\n{r['text']}"))
                for r in records]  # as the loader makes them

    pairs = find_pairs(readouts, build_embeddings("e5-small"))

    assert keys(pairs) == {frozenset((
        "wh-2021-02-10-readout-of-president-joseph-r-biden-jr-call-with-president-xi-5154d6",
        "cctv-xwlb-2021-02-11-xi-biden"))}
