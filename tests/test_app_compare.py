"""The app's side-by-side view of the two sides' readouts of one event, through ``AppTest``:
a real Chroma store in tmp_path and the hashing embedder (as in tests/test_app.py)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import rag.assistant
from ingest.pipeline import ingest_paths
from rag.config import Settings
from rag.store import ReadoutStore
from tests.conftest import PROJECT_ROOT
from tests.fakes import HashingEmbeddings

APP = PROJECT_ROOT / "app.py"
WH_TEXT = ("President Joe Biden spoke today with President Xi Jinping of China. "
           "President Biden raised concerns about unfair trade practices. "
           "The two leaders discussed climate change and agreed to keep in touch.")
CN_TEXT = ("President Xi Jinping spoke today with President Joe Biden of the United States. "
           "Xi Jinping stressed that Taiwan is a <b>red line</b>. "
           "The two leaders discussed climate change and agreed to keep in touch.")
RECORDS = [
    {"id": "wh-call", "title": "Readout of President Biden's Call with President Xi Jinping",
     "date": "2021-02-10", "language": "en", "source": "The White House",
     "url": "https://www.whitehouse.gov/briefing-room/call/", "text": WH_TEXT},
    {"id": "mfa-call", "title": "President Xi Jinping Speaks with President Joe Biden on the Phone",
     "date": "2021-02-11", "language": "en", "source": "MFA China",
     "url": "https://www.fmprc.gov.cn/eng/call/", "text": CN_TEXT},
    {"id": "ch-other", "title": "Federal Councillor Cassis meets Foreign Minister Motegi",
     "date": "2021-02-11", "language": "en", "source": "Swiss FDFA",
     "url": "https://www.admin.ch/en/japan",
     "text": "Federal Councillor Ignazio Cassis met Foreign Minister Toshimitsu Motegi of Japan "
             "in Tokyo. They discussed climate policy."},
]


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "readouts.jsonl").write_text("\n".join(json.dumps(r) for r in RECORDS) + "\n",
                                         encoding="utf-8")
    for name in ("CHROMA_HOST", "EMBEDDER", "ANSWERER", "LLM_MODEL"):
        monkeypatch.delenv(f"READOUTS_{name}", raising=False)
    monkeypatch.setenv("READOUTS_DATA_DIR", str(data))
    monkeypatch.setenv("READOUTS_STORE_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("READOUTS_REFUSAL_THRESHOLD", "-1")
    monkeypatch.setattr(rag.assistant, "open_store",
                        lambda settings: ReadoutStore(settings, HashingEmbeddings()))
    ingest_paths(rag.assistant.open_store(Settings()), [data], max_bytes=2**20, max_chars=700)


def asked(question: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    return at


def test_a_cited_readout_with_an_other_side_offers_the_comparison(app_store: None) -> None:
    at = asked("What unfair trade practices did President Biden raise with Xi Jinping?")

    buttons = [b for b in at.button if b.label == "Compare with the other side's readout"]
    assert [b.key for b in buttons] == ["compare-0-1"]
    buttons[0].click().run()
    assert not at.exception, at.exception

    view = next(h.value for h in at.html if 'class="ro-compare"' in h.value)
    assert "&lt;b&gt;red line&lt;/b&gt;" in view  # document text shown as text, not HTML
    assert "<b>" not in view
    alone = [html.unescape(m) for m in re.findall(r'<mark class="ro-alone">([^<]*)</mark>', view)]
    assert "President Biden raised concerns about unfair trade practices." in alone
    assert "Xi Jinping stressed that Taiwan is a <b>red line</b>." in alone
    assert "The two leaders discussed climate change and agreed to keep in touch." not in alone
    captions = " ".join(c.value for c in at.caption)
    assert "Only A raises: trade" in captions
    assert "Only B raises: Taiwan" in captions
    [export] = [d for d in at.get("download_button") if "comparison" in d.proto.label]
    assert export.proto.label == "Export the comparison (.md)"


def test_a_readout_without_an_other_side_offers_no_comparison(app_store: None) -> None:
    at = asked("What did Ignazio Cassis and Toshimitsu Motegi discuss in Tokyo?")

    assert not [b for b in at.button if b.label == "Compare with the other side's readout"]


def test_a_question_on_what_one_side_left_out_cites_both_readouts(app_store: None) -> None:
    at = asked("What did the Chinese readout of Biden's call with Xi Jinping leave out?")

    answer = [m for m in at.chat_message if m.name == "assistant"][-1]
    body = answer.get("markdown")[0].value
    assert body.startswith("The MFA China readout (2021-02-11) leaves out what only the White "
                           "House readout (2021-02-10) says")
    assert "President Biden raised concerns about unfair trade practices." in body
    assert "Taiwan is a \\<b\\>red line\\</b\\>" in body  # escaped, both sides cited
    assert any("alignment" in c.value for c in answer.get("caption"))
