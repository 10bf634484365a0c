"""End-to-end latency of the Streamlit app in a real browser (Playwright + Debian's Chromium).

Usage: python bench/ui_latency.py [--questions 10] [--store DIR]
Measures (1) from launching ``streamlit run app.py`` to the first answer on screen, and
(2) each later answer, from pressing Enter to its sources on screen (p50/p95/max). Also times
what ``make run`` does before that (``readouts ingest --prune data/`` when nothing changed),
and the same questions through ``Assistant.ask`` in-process, to tell the UI's share apart.
The store is READOUTS_STORE_DIR, or --store, or bench/out/store-e5-small.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import OUT, ROOT, devset, percentile

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIRST_QUESTION = "What did Kyrgyzstan say about Taiwan?"
DONE = "passages retrieved"  # the caption that ends every rendered answer
TIMEOUT_MS = 120_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_on(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def app_env(store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("READOUTS_")}
    env.update(READOUTS_STORE_DIR=str(store), HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False")
    return env


def time_noop_ingest() -> float:
    """Seconds for ``readouts ingest --prune data/`` when every readout is unchanged."""
    with tempfile.TemporaryDirectory() as tmp:
        env = app_env(Path(tmp) / "store")
        command = [sys.executable, "-m", "ingest.cli", "ingest", "--prune", "data/"]
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        return time.perf_counter() - started


def answers_on_screen(page, count: int) -> None:
    """Wait, checking every animation frame, until ``count`` answers have fully rendered.

    Playwright's ``expect`` polls at up to 1 s intervals, too coarse for sub-second figures.
    """
    page.wait_for_function(
        """([n, done]) => Array.from(
             document.querySelectorAll('[data-testid="stCaptionContainer"]'))
             .filter(e => e.textContent.includes(done)).length >= n""",
        arg=[count, DONE], polling="raf", timeout=TIMEOUT_MS,
    )


def ask(page, question: str, answers_before: int) -> float:
    """Seconds from pressing Enter to the new answer's last element on screen."""
    from playwright.sync_api import expect

    chat = page.get_by_test_id("stChatInputTextArea")
    expect(chat).to_be_enabled(timeout=TIMEOUT_MS)
    chat.fill(question)
    started = time.perf_counter()
    chat.press("Enter")
    answers_on_screen(page, answers_before + 1)
    return time.perf_counter() - started


def run(store: Path, questions: list[str]) -> dict[str, object]:
    """Launch the app, time the first answer from launch, then the later answers."""
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        launched = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=app_env(store), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while not listening_on(port):
                if server.poll() is not None:
                    sys.exit(f"streamlit exited with {server.returncode}")
                time.sleep(0.05)
            listening = time.perf_counter() - launched
            page.goto(f"http://127.0.0.1:{port}")
            expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled(timeout=TIMEOUT_MS)
            ready = time.perf_counter() - launched
            ask(page, FIRST_QUESTION, 0)
            first = time.perf_counter() - launched
            later = [ask(page, q, i) for i, q in enumerate(questions, 1)]
        finally:
            browser.close()
            server.terminate()
            server.wait(10)
    return {"listening": listening, "ready": ready, "first": first, "later": later}


def time_in_process(store: Path, questions: list[str]) -> list[float]:
    """Seconds per ``Assistant.ask`` without UI or browser: what the chat cannot go below."""
    from common import bench_settings

    from rag.assistant import build_assistant

    assistant = build_assistant(bench_settings(store=store))
    assistant.ask(FIRST_QUESTION)
    times = []
    for question in questions:
        started = time.perf_counter()
        assistant.ask(question)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=10)
    parser.add_argument("--store", type=Path,
                        default=Path(os.environ.get("READOUTS_STORE_DIR",
                                                    OUT / "store-e5-small")))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"No browser at {CHROMIUM}: apt-get install chromium")
    if not args.store.exists():
        sys.exit(f"No store at {args.store}: run bench/eval.py or set READOUTS_STORE_DIR.")

    questions = [q["question"] for q in devset()[: args.questions]]
    noop_ingest = time_noop_ingest()
    got = run(args.store, questions)
    later: list[float] = got["later"]  # type: ignore[assignment]
    print(f"store: {args.store}")
    print(f"make run's ingest step (nothing changed): {noop_ingest:5.1f} s")
    print(f"streamlit run -> server listening:         {got['listening']:5.1f} s")
    print(f"streamlit run -> chat input ready:         {got['ready']:5.1f} s")
    print(f"streamlit run -> first answer on screen:   {got['first']:5.1f} s")
    print(f"make run (ingest + app) -> first answer:   {noop_ingest + got['first']:5.1f} s")
    print(f"later answers in the browser (n={len(later)}): "
          f"p50 {percentile(later, 50):.2f} s   p95 {percentile(later, 95):.2f} s   "
          f"max {max(later):.2f} s")
    alone = time_in_process(args.store, questions)
    print(f"same questions, Assistant.ask alone:      "
          f"p50 {percentile(alone, 50):.2f} s   p95 {percentile(alone, 95):.2f} s   "
          f"max {max(alone):.2f} s")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
