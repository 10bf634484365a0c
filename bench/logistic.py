"""Fitting helpers shared by bench/align.py and bench/pairs.py: a seeded logistic regression
returned as weights on the raw features, and a threshold chosen on held-out probabilities.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from common import ROOT

C = 1.0  # scikit-learn's default regularisation, left as it is
SEED = 0


def fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[dict[int, float], float]:
    """(feature index -> weight, intercept) of a logistic regression on standardised
    features, brought back to the raw features so that the package needs no scaler."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    lr = LogisticRegression(C=C, max_iter=5000, random_state=SEED)
    lr.fit((x - scaler.mean_) / scale, y)
    coef = lr.coef_[0] / scale
    return dict(enumerate(map(float, coef))), float(lr.intercept_[0] - coef @ scaler.mean_)


def probabilities(weights: dict[int, float], intercept: float, x: np.ndarray) -> np.ndarray:
    z = x @ np.array([weights[i] for i in range(x.shape[-1])]) + intercept
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -700, 700))))


def best_threshold(probs: np.ndarray, objective: Callable[[float], float]) -> float:
    """The threshold that maximises ``objective``, tried halfway between each two distinct
    probabilities; when a range of them ties, the middle of the widest such range (the
    threshold farthest from both the cases it admits and those it rejects)."""
    values = np.unique(np.round(probs, 6))
    cuts = (values[:-1] + values[1:]) / 2 if len(values) > 1 else values
    scores = np.array([objective(float(t)) for t in cuts])
    best = np.isclose(scores, scores.max())
    runs, start = [], None  # (first, last) indices of consecutive best cuts
    for i, hit in enumerate([*best, False]):
        if hit and start is None:
            start = i
        elif not hit and start is not None:
            runs.append((start, i - 1))
            start = None
    first, last = max(runs, key=lambda r: (cuts[r[1]] - cuts[r[0]], -r[0]))
    return round(float(cuts[first] + cuts[last]) / 2, 4)


def provenance(fitted_on: Sequence[str], **more: Any) -> dict[str, Any]:
    """What the weights file says of its fit: the script, its labels, the commit, the day."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"fitted_on": list(fitted_on), "commit": commit,
            "date": dt.date.today().isoformat(), "model": f"logistic regression, C={C}, "
            f"standardised features, seed {SEED}", **more}
