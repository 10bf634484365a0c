"""A logistic decision fitted by a bench script: named features, their weights, an intercept
and the probability at which the decision is taken, read from one small versioned JSON file
shipped in the package (``rag/align_model.json``, ``rag/pairs_model.json``).

Alignment and pairing decide from the same kind of file so that no weight or threshold is set
by hand in their code: the file says which script wrote it, on which labels, and is checked on
load against the features the code computes, with an error that names the script to rerun.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import ConfigError

FORMAT = 1  # bump when the file's layout changes


@dataclass(frozen=True)
class Logistic:
    """``P(yes) = sigmoid(intercept + sum(weight * feature))``; yes when ``P >= threshold``."""

    weights: Mapping[str, float]  # in the order the features are computed
    intercept: float
    threshold: float
    meta: Mapping[str, Any] = field(default_factory=dict)  # who fitted it, on what, figures

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.weights)

    def logits(self, values: np.ndarray) -> np.ndarray:
        """Log-odds of feature rows (last axis in ``names`` order)."""
        weights = np.array(list(self.weights.values()), dtype=np.float64)
        return np.asarray(np.asarray(values, dtype=np.float64) @ weights + self.intercept)

    def probabilities(self, values: np.ndarray) -> np.ndarray:
        """Probabilities of feature rows (last axis in ``names`` order)."""
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(self.logits(values), -700.0, 700.0))))

    def to_json(self) -> dict[str, Any]:
        """The file form, written by the fitting script."""
        return {"format": FORMAT, **self.meta, "intercept": self.intercept,
                "weights": dict(self.weights), "threshold": self.threshold}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], features: Sequence[str],
                  refit: str) -> Logistic:
        """The model of a file's content, checked against the ``features`` the code computes;
        ``refit`` is the command that writes a good file, named in every error."""
        if data.get("format") != FORMAT:
            raise ConfigError(f"fitted model of format {data.get('format')!r}; this version "
                              f"reads format {FORMAT}: rerun {refit}")
        weights = {str(k): float(v) for k, v in dict(data["weights"]).items()}
        if list(weights) != list(features):
            raise ConfigError(f"fitted model has features {list(weights)}, the code computes "
                              f"{list(features)}: rerun {refit}")
        intercept, threshold = float(data["intercept"]), float(data["threshold"])
        if not all(map(math.isfinite, (*weights.values(), intercept, threshold))) \
                or not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"fitted model has a non-finite weight or a threshold outside "
                              f"[0, 1] ({threshold}): rerun {refit}")
        meta = {k: v for k, v in data.items()
                if k not in ("format", "intercept", "weights", "threshold")}
        return cls(weights, intercept, threshold, meta)

    @classmethod
    def load(cls, path: Path, features: Sequence[str], refit: str) -> Logistic:
        """The model in ``path``, or a ``ConfigError`` that says what is wrong with it."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read fitted model {path}: {exc}; rerun {refit}") from exc
        try:
            return cls.from_json(data, features, refit)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"fitted model {path} is malformed ({exc!r}): rerun {refit}") \
                from exc

    def save(self, path: Path) -> None:
        """Write the file (the fitting scripts' only way to change a decision)."""
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
