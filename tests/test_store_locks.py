"""rag/store/locks.py: the writer lock (filelock) and the generation stamps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.config import Settings
from rag.errors import StoreError
from rag.store import ReadoutStore, writer_lock
from rag.store.locks import writing
from tests.samples import EG, KG, put
from tests.support import PROJECT, child_env

HOLDER = """
import sys, time
from rag.config import Settings
from rag.store import writer_lock
with writer_lock(Settings(store_dir=sys.argv[1])):
    print("held", flush=True)
    time.sleep(3)
"""


def test_second_writer_is_refused_with_a_clear_message(fake_store, monkeypatch) -> None:
    monkeypatch.setattr("rag.store.locks.LOCK_WAIT_S", 0.3)
    with (
        fake_store.exclusive(),
        pytest.raises(StoreError, match="Another process is writing"),
        fake_store.exclusive(),
    ):
        pass
    with fake_store.exclusive():  # released: free again
        pass


def test_a_writer_in_another_process_is_waited_for_then_refused(
    settings: Settings, monkeypatch
) -> None:
    monkeypatch.setattr("rag.store.locks.LOCK_WAIT_S", 0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(settings.store_dir)], cwd=PROJECT, env=child_env(),
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StoreError, match="Another process is writing"), writer_lock(settings):
        pass
    holder.wait(timeout=30)
    with writer_lock(settings):  # released when that process ended
        pass


def test_writing_reuses_the_lock_this_process_holds(settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr("rag.store.locks.LOCK_WAIT_S", 0.3)
    with writer_lock(settings), writing(settings):
        pass
    with writing(settings):  # and takes it when not held
        pass


def test_the_generation_changes_with_each_commit_and_is_seen_by_another_client(
    fake_store: ReadoutStore, settings: Settings
) -> None:
    other = ReadoutStore(settings, fake_store.embeddings)
    before = other.generation()
    put(fake_store, KG)
    assert other.generation() == fake_store.generation() != before
    assert other.catch_up() == fake_store.generation()
    assert other.get_readout(KG.doc_id) == KG


def test_stamp_every_publishes_once_at_the_end(fake_store: ReadoutStore) -> None:
    start = fake_store.generation()
    with fake_store.stamp_every(3600):
        put(fake_store, KG, EG)
        assert fake_store.generation() == start  # commits wait for the stamp
        pending = fake_store.collections.state.get(include=[])["ids"]
        assert f"pending-{fake_store.writer_id}" in pending
    assert fake_store.generation() != start
    assert fake_store.collections.state.get(include=[])["ids"] == ["generation"]


def test_repair_stamps_the_commits_of_a_writer_killed_before_stamping(
    fake_store: ReadoutStore,
) -> None:
    fake_store.stamps.start(3600)
    put(fake_store, KG)
    fake_store.stamps.stop()  # as if killed: the pending record stays
    start = fake_store.generation()
    assert fake_store.repair() == 0
    assert fake_store.generation() != start
    assert fake_store.collections.state.get(include=[])["ids"] == ["generation"]
