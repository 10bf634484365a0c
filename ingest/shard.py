"""Shares of the readouts by a stable hash of their id, for parallel and multi-machine ingest."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rag.errors import ConfigError


@dataclass(frozen=True)
class Shard:
    """The share of readouts whose doc_id hashes to ``index`` modulo ``count``.

    The hash is blake2b, not Python's per-process salted ``hash``, so every process and
    machine agrees: N runs with ``--shard 0/N`` .. ``--shard N-1/N`` cover each readout once.
    """

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ConfigError(f"Invalid shard {self.index}/{self.count}: use i/N with 0 <= i < N.")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/4"`` -> Shard(1, 4)."""
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ConfigError(f"Invalid shard '{text}': use i/N, e.g. 0/2 and 1/2.")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, key: str) -> bool:
        """True when the doc_id (or failure key) ``key`` belongs to this share."""
        return self.count == 1 or bucket(key, self.count) == self.index

    def split(self, parts: int) -> list[Shard]:
        """This share cut into ``parts`` shares (h mod N*M determines h mod N)."""
        return [Shard(self.index + self.count * j, self.count * parts) for j in range(parts)]


WHOLE = Shard()  # every readout: the default share


def bucket(key: str, count: int) -> int:
    """Which of ``count`` shares ``key`` falls in."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count
