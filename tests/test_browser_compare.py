"""The compare view in a real browser: ``streamlit run app.py`` driven by Playwright with
Debian's Chromium, on a store holding the White House and CCTV readouts of Biden's call with
Xi of February 2021, embedded with the real default embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import corpus_records
from tests.test_browser import (
    ARTIFACTS,
    CHROMIUM,
    START_TIMEOUT_S,
    app_on,
    chromium_page,
)

WH = "wh-2021-02-10-readout-of-president-joseph-r-biden-jr-call-with-president-xi-5154d6"
CCTV = "cctv-xwlb-2021-02-11-xi-biden"
QUESTION = "What concerns did Biden raise with Xi about Hong Kong and Xinjiang?"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    records = corpus_records("en", [WH]) + corpus_records("zh", [CCTV])
    root = tmp_path_factory.mktemp("browser-compare")
    data = root / "data"
    data.mkdir()
    (data / "call.jsonl").write_text(
        "\n".join(json.dumps({k: r[k] for k in ("id", "title", "date", "language", "source",
                                                "url", "text")}, ensure_ascii=False)
                  for r in records) + "\n", encoding="utf-8")
    with app_on(root, data) as url:
        yield url


def test_compare_with_the_other_sides_readout_in_the_browser(app_url: str) -> None:
    from playwright.sync_api import expect

    with chromium_page("browser-compare-failure.png") as page:
        page.goto(app_url)
        chat = page.get_by_test_id("stChatInputTextArea")
        expect(chat).to_be_enabled(timeout=START_TIMEOUT_S * 1000)
        chat.fill(QUESTION)
        chat.press("Enter")
        answer = page.get_by_test_id("stChatMessage").last
        button = answer.get_by_role("button", name="Compare with the other side's readout")
        expect(button.first).to_be_visible(timeout=START_TIMEOUT_S * 1000)
        button.first.click()

        dialog = page.get_by_role("dialog")
        view = dialog.locator(".ro-compare")
        expect(view).to_be_visible(timeout=30_000)
        expect(dialog).to_contain_text("习近平同美国总统拜登通电话")
        expect(dialog).to_contain_text("Readout of President Joseph R. Biden")
        # said by both on one row: the call itself
        expect(view.locator(".ro-both").first).to_contain_text("spoke today with")
        # one-sided sentences are marked on both sides
        expect(view.locator("mark.ro-alone").first).to_be_visible()
        expect(view.locator("mark.ro-alone", has_text="Indo-Pacific")).to_have_count(1)
        expect(dialog.get_by_role("button", name="Export the comparison (.md)")
               ).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "browser-compare.png"), full_page=True)
