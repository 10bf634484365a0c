"""Calls into Chroma: run together, translated into ``StoreError``s, and kept out of the way
while the client is reopened."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from rag.errors import StoreError


class Guarded(Protocol):
    """What ``chroma_call`` needs of the object whose methods it wraps."""

    _gate: Gate

    def _translate(self, exc: Exception) -> Exception: ...


P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S", bound=Guarded)


class Gate:
    """Store calls run together; reopening the client waits for them and runs alone (a call
    in flight on a closed client would fail). Re-entrant for calls, which nest."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._calls = 0  # threads inside a call
        self._alone = False
        self._depth = threading.local()

    def held(self) -> bool:
        """True inside a call of this thread."""
        return bool(getattr(self._depth, "n", 0))

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        depth = getattr(self._depth, "n", 0)
        if not depth:
            with self._cond:
                self._cond.wait_for(lambda: not self._alone)
                self._calls += 1
        self._depth.n = depth + 1
        try:
            yield
        finally:
            self._depth.n = depth
            if not depth:
                with self._cond:
                    self._calls -= 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._alone)
            self._alone = True
            self._cond.wait_for(lambda: not self._calls)
        try:
            yield
        finally:
            with self._cond:
                self._alone = False
                self._cond.notify_all()


def chroma_call(
    method: Callable[Concatenate[S, P], R],
) -> Callable[Concatenate[S, P], R]:
    """Chroma and connection failures of a store method become a ``StoreError`` that says
    where and what to do, rather than a traceback from httpx or Chroma."""

    def call(store: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with store._gate.call():
                return method(store, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            raise store._translate(exc) from exc

    call.__name__, call.__qualname__ = method.__name__, method.__qualname__
    call.__doc__ = method.__doc__
    return call
