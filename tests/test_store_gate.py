"""rag/store/gate.py: calls run together, a reopening runs alone, failures are translated."""

from __future__ import annotations

import threading
import time

import pytest

from rag.errors import StoreError
from rag.store.gate import Gate, chroma_call


class Thing:
    def __init__(self) -> None:
        self._gate = Gate()

    def _translate(self, exc: Exception) -> Exception:
        return StoreError(f"translated: {exc}") if isinstance(exc, KeyError) else exc

    @chroma_call
    def fails(self, exc: Exception) -> None:
        """A call that fails."""
        raise exc

    @chroma_call
    def nested(self) -> bool:
        return self._gate.held()


def test_failures_are_translated_and_others_pass_through() -> None:
    thing = Thing()
    with pytest.raises(StoreError, match="translated"):
        thing.fails(KeyError("x"))
    with pytest.raises(ValueError, match="bug"):
        thing.fails(ValueError("bug"))
    assert Thing.fails.__doc__ == "A call that fails."
    assert thing.nested() is True
    assert thing._gate.held() is False


def test_alone_waits_for_the_calls_in_flight() -> None:
    gate, order = Gate(), []

    def call() -> None:
        with gate.call():
            time.sleep(0.2)
            order.append("call")

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.05)
    with gate.alone():
        order.append("alone")
    worker.join()
    assert order == ["call", "alone"]
