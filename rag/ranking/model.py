"""The fitted model: signal weights for ranking, feature weights for answerability, and the
refusal threshold, read from one small versioned file (``weights.json``) that
``bench/fit.py`` writes. Nothing here is set by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag.errors import ConfigError
from rag.ranking.signals import SIGNALS, Candidates, signal_values
from rag.schema import Passage

WEIGHTS_PATH = Path(__file__).resolve().with_name("weights.json")
FORMAT = 1  # bump when the file's layout changes


def sigmoid(z: float) -> float:
    """The probability of log-odds ``z``."""
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


@dataclass(frozen=True)
class Linear:
    """A linear function of named inputs: ``intercept + sum(weight * value)``."""

    weights: Mapping[str, float]
    intercept: float = 0.0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def parts(self, values: Sequence[float]) -> tuple[tuple[str, float], ...]:
        """Each input's contribution (weight times value), those that are not zero."""
        return tuple((name, w * x) for (name, w), x in zip(self.weights.items(), values,
                                                           strict=True) if w * x)

    def __call__(self, values: Sequence[float]) -> float:
        return self.intercept + sum(w * x for w, x in zip(self.weights.values(), values,
                                                          strict=True))


@dataclass(frozen=True)
class RankingModel:
    """Ranking weights, answerability weights and threshold, as fitted together."""

    ranking: Linear
    answerability: Linear
    threshold: float  # answerability probability under which a question is refused
    meta: Mapping[str, Any] = field(default_factory=dict)
    citing: Linear = field(default_factory=lambda: Linear({}))  # sentence features, log-odds

    def rank(self, candidates: Candidates,
             values: Sequence[Sequence[float]] | None = None) -> list[Passage]:
        """The candidate passages, best first, each scored with its ``score_parts``;
        ``values`` are their signal values when already computed (``ranking.names`` order)."""
        if values is None:
            values = signal_values(candidates, self.ranking.names)
        scored = [replace(p, score=self.ranking(xs), score_parts=self.ranking.parts(xs))
                  for p, xs in zip(candidates.passages, values, strict=True)]
        return sorted(scored, key=lambda p: p.score, reverse=True)

    def probability(self, values: Sequence[float]) -> float:
        """The answerability probability of a question's features (``names`` order)."""
        return sigmoid(self.answerability(values))

    def to_json(self) -> dict[str, Any]:
        """The file form, written by the fitting script."""
        return {
            "format": FORMAT, **self.meta,
            "ranking": {"weights": dict(self.ranking.weights)},
            "answerability": {"intercept": self.answerability.intercept,
                              "weights": dict(self.answerability.weights)},
            "threshold": self.threshold,
            "citing": {"intercept": self.citing.intercept,
                       "weights": dict(self.citing.weights)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RankingModel:
        """The model of a weights file's content, checked against the signals known here."""
        if data.get("format") != FORMAT:
            raise ConfigError(f"ranking weights of format {data.get('format')!r}; this "
                              f"version reads format {FORMAT}: refit with bench/fit.py")
        weights = data["ranking"]["weights"]
        unknown = sorted(set(weights) - set(SIGNALS))
        if unknown:
            raise ConfigError(f"ranking weights name unknown signals: {', '.join(unknown)}")
        meta = {k: v for k, v in data.items()
                if k not in ("format", "ranking", "answerability", "threshold", "citing")}
        answer, citing = data["answerability"], data["citing"]
        return cls(Linear(dict(weights)), Linear(dict(answer["weights"]), answer["intercept"]),
                   float(data["threshold"]), meta,
                   Linear(dict(citing["weights"]), citing["intercept"]))

    @classmethod
    def load(cls, path: Path | None = None) -> RankingModel:
        """The model in ``path`` (default: the packaged ``weights.json``)."""
        path = path or WEIGHTS_PATH
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read ranking weights {path}: {exc}") from exc
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"ranking weights {path} are malformed: {exc!r}") from exc
