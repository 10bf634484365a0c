"""Alignment and comparison: what both sides said, what each said alone, exact offsets."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import rag.assistant
from ingest.cli import main
from ingest.pipeline import ingest_paths
from rag.align import Alignment, align, alignment_model
from rag.compare import compare, comparison_markdown, comparison_text
from rag.config import Settings
from rag.fitted import Logistic
from rag.schema import Readout
from rag.store import ReadoutStore
from tests.fakes import ConceptEmbeddings

CONCEPTS = {
    "call": ("spoke with", "通电话"), "taiwan": ("Taiwan", "台湾"),
    "climate": ("climate", "气候"), "trade": ("unfair trade",), "hk": ("Hong Kong", "涉港"),
    "thanks": ("thanked",), "congratulations": ("祝贺",),
}
WHITE_HOUSE = Readout(
    "wh", "President Biden spoke with President Xi Jinping of China.  Biden raised concerns "
    "about Taiwan. The leaders discussed climate change.\n\nBiden raised unfair trade practices. "
    "The President thanked the hosts.",
    title="Readout of President Biden's Call with President Xi", date="2021-02-10",
    language="en", source="The White House", url="https://www.whitehouse.gov/x")
CCTV = Readout(
    "cctv", "习近平同拜登通电话。习近平阐述了中方在涉港问题上的立场。"
    "习近平强调，台湾问题是中国内政。双方同意在气候变化领域合作。习近平祝贺新政府就任。",
    title="习近平同美国总统拜登通电话", date="2021-02-11", language="zh", source="CCTV",
    url="https://tv.cctv.com/x")


def aligned() -> Alignment:
    return align(WHITE_HOUSE, CCTV, ConceptEmbeddings(CONCEPTS))


def test_matched_sentences_across_languages_and_one_sided_ones() -> None:
    al = aligned()

    assert [(m.a.text, m.b.text) for m in al.matches] == [
        ("President Biden spoke with President Xi Jinping of China.", "习近平同拜登通电话。"),
        ("Biden raised concerns about Taiwan.", "习近平强调，台湾问题是中国内政。"),
        ("The leaders discussed climate change.", "双方同意在气候变化领域合作。"),
    ]
    assert [s.text for s in al.only_a] == ["Biden raised unfair trade practices.",
                                           "The President thanked the hosts."]
    assert [s.text for s in al.only_b] == ["习近平阐述了中方在涉港问题上的立场。",
                                           "习近平祝贺新政府就任。"]
    assert all(m.confidence >= alignment_model().threshold for m in al.matches)


def test_the_decision_is_the_fitted_models() -> None:
    """A stricter model (a higher threshold) matches fewer pairs; one that accepts every
    probability matches every pair: nothing else decides."""
    model = alignment_model()
    strict = Logistic(model.weights, model.intercept, 1.0, model.meta)
    lax = Logistic(model.weights, model.intercept, 0.0, model.meta)
    fake = ConceptEmbeddings(CONCEPTS)

    assert align(WHITE_HOUSE, CCTV, fake, strict).matches == ()
    every = align(WHITE_HOUSE, CCTV, fake, lax)
    assert len(every.matches) == len(every.sentences_a) * len(every.sentences_b)
    assert every.only_a == every.only_b == ()


def test_every_sentence_keeps_its_exact_offsets() -> None:
    al = aligned()

    for readout, sentences in ((WHITE_HOUSE, al.sentences_a), (CCTV, al.sentences_b)):
        assert sentences
        assert all(readout.text[s.start:s.end] == s.text for s in sentences)


def test_comparison_rows_topics_and_text() -> None:
    c = compare(aligned())

    assert c.topics_only_a == ("trade",)
    assert c.topics_only_b == ("Hong Kong",)
    layout = [(tuple(s.index for s in r.a), tuple(s.index for s in r.b)) for r in c.rows]
    # the CCTV sentence on Hong Kong comes after the row of the CCTV sentence before it
    assert layout == [((0,), (0,)), ((), (1,)), ((1,), (2,)), ((2,), (3,)), ((), (4,)),
                      ((3,), ()), ((4,), ())]
    assert [r.one_sided for r in c.rows] == [False, True, False, False, True, True, True]
    text = comparison_text(c)
    assert "Topics only A raises: trade" in text
    assert "only B: 习近平阐述了中方在涉港问题上的立场。" in text


def test_markdown_export_names_both_readouts_and_renders_text_literally() -> None:
    hostile = Readout(**{**WHITE_HOUSE.__dict__,
                         "title": "<script>alert(1)</script> [click](javascript:alert(1))",
                         "url": "javascript:alert(1)"})
    md = comparison_markdown(compare(align(hostile, CCTV, ConceptEmbeddings(CONCEPTS))))

    assert "# Comparison of two readouts" in md
    assert "<script>" not in md
    assert "\\<script\\>" in md
    assert "\\[click\\](javascript" in md
    assert "javascript:alert(1)>" not in md  # an unsafe link is dropped, not linked
    assert "习近平同美国总统拜登通电话" in md
    assert "2021-02-11" in md
    assert "CCTV" in md
    assert "<https://tv.cctv.com/x>" in md
    assert "## Only in A: The White House" in md
    assert "`cctv` chars" in md


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = tmp_path / "readouts.jsonl"
    records.write_text("\n".join(json.dumps(
        {"id": r.doc_id, "title": r.title, "date": r.date, "language": r.language,
         "source": r.source, "url": r.url, "text": r.text}, ensure_ascii=False)
        for r in (WHITE_HOUSE, CCTV)), encoding="utf-8")
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setattr(rag.assistant, "open_store",
                        lambda settings: ReadoutStore(settings, ConceptEmbeddings(CONCEPTS)))
    report = ingest_paths(rag.assistant.open_store(Settings()), [records], max_bytes=2**20,
                          max_chars=700)
    assert not report.failed


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return main(argv, out=out), out.getvalue()


def test_compare_command_json(stored: None) -> None:
    code, out = run(["compare", "wh", "cctv", "--json"])

    result = json.loads(out)
    assert code == 0
    assert result["a"]["doc_id"] == "wh"
    assert result["b"]["doc_id"] == "cctv"
    assert len(result["matches"]) == 3
    assert [s["text"] for s in result["only_a"]] == ["Biden raised unfair trade practices.",
                                                     "The President thanked the hosts."]
    first = result["matches"][0]["a"]
    assert WHITE_HOUSE.text[first["start"]:first["end"]] == first["text"]
    assert result["topics_only_b"] == ["Hong Kong"]


def test_compare_command_text_markdown_and_a_missing_id(stored: None,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["compare", "wh", "cctv"])
    assert code == 0
    assert out.startswith("A: Readout of President Biden's Call")

    code, out = run(["compare", "wh", "cctv", "--markdown"])
    assert code == 0
    assert out.startswith("# Comparison of two readouts")

    code, out = run(["compare", "wh", "nope"])
    assert code == 1
    assert out == ""
    assert "no readout with id 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_translation_aligns_sentence_for_sentence_with_the_real_model() -> None:
    """Xinhua's French readout of the Xi-Japarov call translates CCTV's, sentence for
    sentence: multilingual e5 must pair each French sentence with its Chinese original."""
    from ingest.loaders import load_file
    from rag.embeddings import build_embeddings
    from tests.conftest import PROJECT_ROOT, corpus_records

    [record] = corpus_records("zh", ["cctv-xwlb-2021-02-23-xi-japarov"])
    cctv = Readout(record["id"], record["text"], title=record["title"], date=record["date"],
                   language="zh", source=record["source"], url=record["url"])
    [seed] = load_file(PROJECT_ROOT / "data" / "seed-xi-japarov-2021-02-22.txt", 2**20).readouts

    al = align(seed, cctv, build_embeddings("e5-small"))

    assert len(al.sentences_a) == len(al.sentences_b) == 17
    best: dict[int, tuple[float, int]] = {}
    for m in al.matches:  # Japarov's invitation to invest may also match Xi's encouragement
        best[m.a.index] = max(best.get(m.a.index, (0.0, -1)), (m.confidence, m.b.index))
    assert [(i, j) for i, (_, j) in sorted(best.items())] == [(i, i) for i in range(17)]
    assert al.only_a == al.only_b == ()
