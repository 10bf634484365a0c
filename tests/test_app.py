"""The Streamlit app through ``AppTest``: a real Chroma store in tmp_path, the hashing embedder.

The app builds its assistant with ``rag.assistant.build_assistant``; these tests swap the
embedder by patching ``rag.assistant.open_store`` (AppTest runs the script in-process), so
the app has no test-only code path.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, ChatMessage

import rag.assistant
from ingest.pipeline import ingest_paths
from rag.config import Settings
from rag.errors import StoreError
from rag.highlight import escape_markdown
from rag.store import ReadoutStore
from tests.conftest import PROJECT_ROOT
from tests.fakes import HashingEmbeddings

APP = PROJECT_ROOT / "app.py"
SEED = PROJECT_ROOT / "data" / "seed-xi-japarov-2021-02-22.txt"
TIMEOUT = 60
# Each question shares its names and several words with one readout only, so the hashing
# embedder and BM25 agree on it whatever the fusion's tuning; the filter tests use two
# readouts that share the names and differ in language and date.
RECORDS = [
    {"id": "kg-xi-en", "title": "Xi Jinping speaks with Kyrgyz President Sadyr Japarov",
     "date": "2021-02-22", "language": "en", "source": "MFA China",
     "url": "https://www.fmprc.gov.cn/eng/kg-call",
     "text": "President Xi Jinping spoke by phone with President Sadyr Japarov of Kyrgyzstan. "
             "Japarov said Kyrgyzstan firmly supports China's position on Taiwan, Hong Kong and "
             "Xinjiang. The presidents agreed to build the China-Kyrgyzstan-Uzbekistan railway."},
    {"id": "wh-ukraine", "title": "Readout of President Biden's Call with President Zelenskyy",
     "date": "2022-03-01", "language": "en", "source": "The White House",
     "url": "https://www.whitehouse.gov/briefing-room/ukraine-call/",
     "text": "President Biden spoke today with President Zelenskyy of Ukraine. The leaders "
             "discussed security assistance and new sanctions on Russia."},
    {"id": "de-fr-en", "title": "Chancellor Scholz receives President Macron",
     "date": "2022-10-26", "language": "en", "source": "Federal Government of Germany",
     "url": "https://www.bundesregierung.de/macron",
     "text": "Chancellor Olaf Scholz received President Emmanuel Macron of France in Berlin. "
             "They discussed energy prices, gas storage and the European electricity market."},
    {"id": "ch-japan-en", "title": "Federal Councillor Cassis meets Foreign Minister Motegi",
     "date": "2019-11-20", "language": "en", "source": "Swiss FDFA",
     "url": "https://www.admin.ch/en/japan",
     "text": "Federal Councillor Ignazio Cassis met Foreign Minister Toshimitsu Motegi of Japan "
             "in Tokyo. Cassis and Motegi discussed climate policy and trade."},
    {"id": "ch-japan-fr", "title": "Le conseiller fédéral Cassis rencontre le ministre Motegi",
     "date": "2021-06-15", "language": "fr", "source": "Swiss FDFA",
     "url": "https://www.admin.ch/fr/japon",
     "text": "Le conseiller fédéral Ignazio Cassis a rencontré le ministre Toshimitsu Motegi du "
             "Japon à Tokyo. Cassis et Motegi ont discuté du climat et du commerce."},
]
KG_QUESTION = "What did Japarov say Kyrgyzstan supports on Taiwan?"
JAPAN_QUESTION = "What did Ignazio Cassis and Toshimitsu Motegi discuss in Tokyo?"
JAPAN_EN, JAPAN_FR = "Federal Councillor Cassis meets", "Le conseiller fédéral Cassis rencontre"
HOSTILE = """---
title: "<script>alert(1)</script> Mordor readout"
date: 2020-04-01
language: en
source: "[click](javascript:alert(1))"
url: "javascript:alert(1)"
---
The Mordor envoy signed the hostile treaty <img src=x onerror=alert(1)> on the border.
See [click me](javascript:alert(1)) and <script>alert(1)</script> for details.
"""
HOSTILE_TITLE = "Mordor readout"


class OtherHashing(HashingEmbeddings):
    """The same geometry under another key: a store built "with another embedder"."""

    key = "other-hash"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    """st.cache_resource outlives an AppTest: every test starts without a cached assistant."""
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[ReadoutStore]:
    """Make the app open its store with the hashing embedder; records every store it opens."""
    stores: list[ReadoutStore] = []

    def open_store(settings: Settings) -> ReadoutStore:
        stores.append(ReadoutStore(settings, HashingEmbeddings()))
        return stores[-1]

    monkeypatch.setattr(rag.assistant, "open_store", open_store)
    return stores


@pytest.fixture
def app_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 opened: list[ReadoutStore]) -> Settings:
    """The environment the app reads: a data folder with readouts, an empty store."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(SEED, data)
    (data / "readouts.jsonl").write_text(
        "\n".join(json.dumps(r) for r in RECORDS) + "\n", encoding="utf-8")
    for name in ("CHROMA_HOST", "EMBEDDER", "ANSWERER", "LLM_MODEL"):
        monkeypatch.delenv(f"READOUTS_{name}", raising=False)
    monkeypatch.setenv("READOUTS_DATA_DIR", str(data))
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    # Hashed bag-of-words scores are not calibrated like e5's: answer whatever ranks first
    # (the refusal test raises it).
    monkeypatch.setenv("READOUTS_REFUSAL_THRESHOLD", "-1")
    return Settings()


def ingest(settings: Settings, embeddings: HashingEmbeddings | None = None) -> None:
    store = ReadoutStore(settings, embeddings or HashingEmbeddings())
    ingest_paths(store, [settings.data_dir], max_bytes=2**20, max_chars=settings.chunk_max_chars)


@pytest.fixture
def ingested(app_settings: Settings) -> Settings:
    ingest(app_settings)
    return app_settings


def start() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def wait_for_ingest(at: AppTest) -> AppTest:
    """Rerun until the background ingestion has ended (AppTest does not tick fragments)."""
    deadline = time.monotonic() + TIMEOUT
    at.run()
    while at.get("progress"):
        assert time.monotonic() < deadline, "the ingestion did not finish"
        time.sleep(0.1)
        at.run()
    assert not at.exception, at.exception
    return at


def last_answer(at: AppTest) -> ChatMessage:
    """The last assistant message block."""
    messages = [m for m in at.chat_message if m.name == "assistant"]
    assert messages, "no assistant message"
    return messages[-1]


def texts(block: Block, kind: str) -> list[str]:
    return [e.value for e in block.get(kind)]


def cited_titles(block: Block) -> str:
    return " ".join(texts(block, "markdown"))


def first_source(block: Block) -> str:
    """The heading of the first cited (or, for a refusal, closest) passage."""
    return next(m for m in texts(block, "markdown") if " · " in m)


def test_question_gets_a_cited_answer_with_highlighted_passage(ingested: Settings) -> None:
    at = ask(start(), KG_QUESTION)

    answer = last_answer(at)
    body = texts(answer, "markdown")[0]
    assert "Japarov said Kyrgyzstan firmly supports China's position on Taiwan" in body
    assert "**\\[1\\]**" in body
    assert "**Sources**" in texts(answer, "markdown")
    heading = first_source(answer)
    assert heading.startswith("**\\[1\\]")
    assert heading.endswith("** Xi Jinping speaks with Kyrgyz President Sadyr Japarov · 2021-02-22 "
                            "· MFA China")
    passages = texts(answer, "html")
    marks = re.findall(r'<mark class="ro-hl">([^<]*)</mark><sup class="ro-marker">\[\d\]</sup>',
                       passages[0])
    assert "Japarov said Kyrgyzstan firmly supports China&#x27;s position on Taiwan, Hong Kong " \
        "and Xinjiang." in marks
    assert any("passages retrieved" in c for c in texts(answer, "caption"))
    assert at.sidebar.get("download_button")[0].proto.disabled is False


def test_open_source_shows_whole_readout_scrolled_to_the_citation(ingested: Settings) -> None:
    at = ask(start(), KG_QUESTION)
    at.button(key="open-0-1").click().run()
    assert not at.exception

    full = RECORDS[0]["text"]
    readout = [h for h in at.html if 'class="ro-readout"' in h.value]
    assert len(readout) == 1
    shown = readout[0].value
    assert '<mark class="ro-hl ro-focus" id="ro-cite-1">' in shown
    assert html.unescape(re.sub(r"<[^>]+>|\[\d\]", "", shown)) == full
    assert any("getElementById('ro-cite-1')" in h.value for h in at.html)
    assert any("2021-02-22 · en · MFA China · kg-xi-en" in c.value for c in at.caption)
    assert at.get("link_button")[0].proto.url == RECORDS[0]["url"]


def test_refusal_is_a_warning_that_still_lists_closest_passages(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READOUTS_REFUSAL_THRESHOLD", "0.99")  # no evidence is close enough
    at = ask(start(), "What is the recipe for pancakes?")

    answer = last_answer(at)
    assert "do not contain an answer" in answer.get("warning")[0].value
    assert "**Closest passages**" in texts(answer, "markdown")
    assert texts(answer, "html"), "the closest passages are shown"
    assert "ro-hl" not in " ".join(texts(answer, "html"))


def test_filters_change_what_is_retrieved(ingested: Settings) -> None:
    at = start()
    at.sidebar.multiselect(key="languages").set_value(["fr"]).run()
    ask(at, JAPAN_QUESTION)
    assert JAPAN_FR in first_source(last_answer(at))
    assert JAPAN_EN not in cited_titles(last_answer(at))

    at.sidebar.multiselect(key="languages").set_value(["en"]).run()
    ask(at, JAPAN_QUESTION)
    assert JAPAN_EN in first_source(last_answer(at))
    assert JAPAN_FR not in cited_titles(last_answer(at))

    at.sidebar.multiselect(key="languages").set_value([]).run()
    at.sidebar.multiselect(key="sources").set_value(["The White House"]).run()
    ask(at, JAPAN_QUESTION)
    assert "Zelenskyy" in first_source(last_answer(at))
    assert "Cassis" not in cited_titles(last_answer(at))

    at.sidebar.multiselect(key="sources").set_value([]).run()
    at.sidebar.multiselect(key="countries").set_value(["FR", "DE"]).run()
    ask(at, JAPAN_QUESTION)
    assert "Scholz receives President Macron" in first_source(last_answer(at))
    assert "Cassis" not in cited_titles(last_answer(at))

    at.sidebar.multiselect(key="countries").set_value([]).run()
    at.sidebar.slider(key="k").set_value(1).run()
    ask(at, JAPAN_QUESTION)
    assert "· 1 passages retrieved" in " ".join(texts(last_answer(at), "caption"))
    questions = [texts(m, "markdown")[0] for m in at.chat_message if m.name == "user"]
    assert questions == [escape_markdown(JAPAN_QUESTION)] * 5, "one replayed message per turn"


def test_date_range_filter(ingested: Settings) -> None:
    import datetime as dt

    at = start()
    at.sidebar.date_input[0].set_value((dt.date(2021, 1, 1), dt.date(2021, 12, 31))).run()
    ask(at, JAPAN_QUESTION)
    assert JAPAN_FR in first_source(last_answer(at))  # 2021-06-15
    assert JAPAN_EN not in cited_titles(last_answer(at))  # 2019-11-20


def test_upload_then_ingest_is_found_by_the_next_question(
    ingested: Settings, opened: list[ReadoutStore]
) -> None:
    at = ask(start(), "What did Atlantis agree about the Poseidon treaty?")
    assert "Atlantis" not in cited_titles(last_answer(at))

    text = (b"Atlantis agrees to the Poseidon treaty\n\nOn 3 May 2024 the King of Atlantis "
            b"agreed to ratify the Poseidon treaty on deep sea fishing.")
    at.sidebar.file_uploader[0].set_value([
        ("../../etc/atlantis.txt", text, "text/plain"),
        ("seed-xi-japarov-2021-02-22.txt", SEED.read_bytes(), "text/plain"),
    ]).run()
    at.sidebar.button[0].click()  # Save and ingest
    wait_for_ingest(at)

    assert (ingested.data_dir / "atlantis.txt").read_bytes() == text
    assert not (ingested.data_dir.parent / "etc").exists()
    summary = [s.value for s in at.success]
    assert any(s.startswith("Added 1 · updated 0 · unchanged 1") for s in summary), summary

    ask(at, "What did Atlantis agree about the Poseidon treaty?")
    answer = last_answer(at)
    assert "Atlantis agrees to the Poseidon treaty" in cited_titles(answer)
    assert "Collection: 7 readouts" in [e.label for e in at.expander]
    assert len(opened) == 1, "the cached store and assistant are reused, not rebuilt"


def test_rescan_reports_failures_with_reasons(ingested: Settings) -> None:
    (ingested.data_dir / "broken.json").write_text("{not json", encoding="utf-8")
    at = start()
    rescan = next(b for b in at.sidebar.button if b.label.startswith("Re-scan"))
    rescan.click()
    wait_for_ingest(at)
    summary = " ".join(s.value for s in at.warning)
    assert "Added 0 · updated 0 · unchanged 6 · removed 0 · failed 1" in summary
    assert "failed broken.json" in summary


def test_empty_store_explains_and_offers_to_ingest(app_settings: Settings) -> None:
    at = start()
    assert any("No readouts yet" in i.value for i in at.info)
    assert at.chat_input[0].proto.disabled
    assert not at.error

    next(b for b in at.main.button if b.label == "Ingest data/").click()
    wait_for_ingest(at)
    assert at.success[0].value.startswith("Added 6 · updated 0 · unchanged 0")
    assert "Collection: 6 readouts" in [e.label for e in at.expander]
    assert not at.chat_input[0].proto.disabled
    ask(at, KG_QUESTION)
    assert "position on Taiwan" in texts(last_answer(at), "markdown")[0]


def test_store_of_another_embedder_says_how_to_rebuild(app_settings: Settings) -> None:
    ingest(app_settings, OtherHashing())
    at = start()
    message = at.error[0].value
    assert "other-hash" in message
    assert "readouts ingest --rebuild data/" in message
    assert "READOUTS_EMBEDDER=other" in message.replace("\\", "")


def test_unreachable_store_is_a_clear_error(
    app_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(settings: Settings) -> ReadoutStore:
        raise StoreError("Cannot reach the Chroma server at db:8000 (ConnectError).")

    monkeypatch.setattr(rag.assistant, "open_store", unreachable)
    at = start()
    assert "Cannot reach the Chroma server" in at.error[0].value
    assert "READOUTS_CHROMA_HOST" in at.error[0].value
    assert not at.chat_input


def test_answerer_choice_when_an_llm_is_configured(
    ingested: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READOUTS_ANSWERER", "ollama")
    monkeypatch.setenv("READOUTS_LLM_MODEL", "nothing-here")
    at = start()
    choice = at.sidebar.radio(key="answerer")
    assert list(choice.options) == ["ollama", "extractive"]
    choice.set_value("extractive").run()
    ask(at, KG_QUESTION)
    assert "extractive · " in " ".join(texts(last_answer(at), "caption"))


def test_hostile_document_text_renders_as_text(
    ingested: Settings, write_file: Callable[..., Path]
) -> None:
    write_file("hostile.md", HOSTILE)
    ingest(ingested)
    at = ask(start(), "What did the Mordor envoy sign?")
    answer = last_answer(at)
    assert HOSTILE_TITLE in cited_titles(answer)
    at.button(key="open-0-1").click().run()
    assert not at.exception

    markdown_like = ["markdown", "caption", "warning", "info", "error", "subheader", "title"]
    for kind in markdown_like:
        for element in at.get(kind):
            value = element.value
            assert not re.search(r"(?<!\\)<", value), (kind, value)
            assert not re.search(r"(?<!\\)\]\(", value), (kind, value)
    htmls = [h.value for h in at.html]
    for value in htmls:
        assert "<script>alert" not in value
        assert "<img" not in value
        assert "href" not in value
    assert any("&lt;img src=x onerror=alert(1)&gt;" in v for v in htmls)
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in v for v in htmls)
    assert not at.get("link_button"), "a javascript: url is never offered as a link"


def test_collection_panel_counts_and_timeline(ingested: Settings) -> None:
    at = start()
    assert "Collection: 6 readouts" in [e.label for e in at.expander]
    at.session_state["collection"] = True  # what a click on the expander does
    at.run()
    assert not at.exception

    by_language = at.dataframe[0].value
    assert dict(zip(by_language["language"], by_language["readouts"], strict=True)) == \
        {"en": 4, "fr": 2}
    charts = at.get("vega_lite_chart")
    timeline = json.loads(charts[-1].proto.spec)
    assert timeline["encoding"]["y"]["field"] == "country"
    assert timeline["encoding"]["x"]["field"] == "date"

    at.multiselect(key="timeline_countries").set_value(["UA"]).run()
    rows = at.get("vega_lite_chart")[-1].proto
    assert "Zelenskyy" in str(rows)
    assert "Cassis" not in str(rows)


def test_an_answer_from_an_announcement_carries_its_notice(app_settings: Settings) -> None:
    preview = {"id": "wh-preview", "title": "Statement on President Biden's Virtual Meeting "
               "with Prime Minister Kishida", "date": "2022-01-16", "language": "en",
               "source": "The White House",
               "text": "President Biden will meet virtually with Prime Minister Kishida of Japan "
                       "on Friday, January 21. They will discuss the Indo-Pacific."}
    (app_settings.data_dir / "preview.jsonl").write_text(json.dumps(preview) + "\n",
                                                         encoding="utf-8")
    ingest(app_settings)
    answer = last_answer(ask(start(), "What did Biden and Kishida discuss in January 2022?"))
    assert any("quote an announcement made before the event" in c  # escaped for markdown
               for c in texts(answer, "caption"))
