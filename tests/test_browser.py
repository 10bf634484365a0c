"""End to end in a real browser: ``streamlit run app.py`` on a loopback port, driven by
Playwright with Debian's Chromium, on a store ingested with the real default embedder."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.conftest import PROJECT_ROOT

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SEED = PROJECT_ROOT / "data" / "seed-xi-japarov-2021-02-22.txt"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
QUESTION = "What did Kyrgyzstan say about Taiwan?"
START_TIMEOUT_S = 90

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"streamlit did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def app_on(root: Path, data: Path) -> Iterator[str]:
    """``streamlit run app.py`` on a store under ``root`` holding the readouts of ``data``
    (ingested first with the real default model, as ``make run`` does); its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("READOUTS_")}
    env.update(READOUTS_STORE_DIR=str(root / "store"), READOUTS_DATA_DIR=str(data),
               HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    subprocess.run([sys.executable, "-m", "ingest.cli", "ingest", str(data)], cwd=PROJECT_ROOT,
                   env=env, check=True, capture_output=True, timeout=300)
    port = free_port()
    log = (root / "streamlit.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, server, START_TIMEOUT_S)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a store holding the seed readout, embedded with the real e5-small."""
    root = tmp_path_factory.mktemp("browser")
    data = root / "data"
    data.mkdir()
    shutil.copy(SEED, data)
    with app_on(root, data) as url:
        yield url


def ask_and_open_the_source(page: Page, url: str) -> None:
    """Ask about the seed readout, check the cited passage, then open the readout."""
    from playwright.sync_api import expect

    page.goto(url)
    chat = page.get_by_test_id("stChatInputTextArea")
    expect(chat).to_be_enabled(timeout=START_TIMEOUT_S * 1000)
    chat.fill(QUESTION)
    chat.press("Enter")

    cited = page.locator("mark.ro-hl", has_text="Taiwan").first
    expect(cited).to_be_visible(timeout=START_TIMEOUT_S * 1000)
    expect(cited).to_contain_text("Kirghizistan")
    expect(page.get_by_text("passages retrieved")).to_be_visible()
    answer = page.get_by_test_id("stChatMessage").last
    expect(answer).to_contain_text("Sources")
    expect(answer.get_by_test_id("stMarkdownContainer").first).to_contain_text("[1]")
    page.screenshot(path=str(ARTIFACTS / "browser-answer.png"), full_page=True)

    # "Why this passage": the signals that placed it, and the answerability
    answer.get_by_role("button", name="Why this passage").first.click()
    why = page.get_by_test_id("stPopoverBody")
    expect(why).to_contain_text("Ranking score", timeout=10_000)
    expect(why).to_contain_text("Probability that the readouts answer this question")
    expect(why.get_by_test_id("stDataFrame")).to_be_visible()
    page.keyboard.press("Escape")

    # Short enough that the readout box must scroll to reach the cited sentence.
    page.set_viewport_size({"width": 1400, "height": 650})
    answer.get_by_role("button", name="Open").first.click()
    dialog = page.get_by_role("dialog")
    focus = dialog.locator("mark#ro-cite-1")
    expect(focus).to_be_visible(timeout=10_000)
    expect(dialog).to_contain_text("2021-02-22 · fr")
    page.wait_for_function(
        "() => document.querySelector('.ro-readout').scrollTop > 0", timeout=10_000)
    expect(focus).to_be_in_viewport()
    page.screenshot(path=str(ARTIFACTS / "browser-readout.png"))


@contextlib.contextmanager
def chromium_page(failure_shot: str) -> Iterator[Page]:
    """A page of Debian's Chromium; on failure, a screenshot of what it showed (kept in
    tests/artifacts for CI)."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(ARTIFACTS / failure_shot), full_page=True)
            raise
        finally:
            browser.close()


def test_question_in_the_browser_shows_the_cited_passage(app_url: str) -> None:
    with chromium_page("browser-failure.png") as page:
        ask_and_open_the_source(page, app_url)
