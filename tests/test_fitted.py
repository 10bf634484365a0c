"""Fitted decision files: the packaged ones load, a damaged or stale one is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.align import FEATURES as ALIGN_FEATURES
from rag.align import MODEL_PATH as ALIGN_MODEL
from rag.align import alignment_model
from rag.errors import ConfigError
from rag.fitted import Logistic
from rag.pairs import FEATURES as PAIR_FEATURES
from rag.pairs import pairs_model

FEATURES = ("cosine", "gap")
GOOD = {"format": 1, "fitted_on": ["x.jsonl"], "intercept": -1.0,
        "weights": {"cosine": 2.0, "gap": 1.0}, "threshold": 0.5}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_packaged_models_load_and_say_how_they_were_fitted() -> None:
    for model, features in ((alignment_model(), ALIGN_FEATURES),
                            (pairs_model(), PAIR_FEATURES)):
        assert model.names == tuple(features)
        assert 0.0 < model.threshold < 1.0
        assert model.meta["fitted_on"]
        assert model.meta["commit"]


def test_probability_and_round_trip(tmp_path: Path) -> None:
    model = Logistic.load(write(tmp_path, GOOD), FEATURES, "refit")

    assert model.probabilities(np.array([0.5, 0.0])) == pytest.approx(0.5)
    assert model.probabilities(np.array([[1.0, 1.0]]))[0] == pytest.approx(1 / (1 + np.exp(-2)))
    model.save(tmp_path / "again.json")
    assert Logistic.load(tmp_path / "again.json", FEATURES, "refit") == model


@pytest.mark.parametrize(("change", "message"), [
    ({"format": 99}, "format 99"),
    ({"weights": {"cosine": 2.0}}, "the code computes"),
    ({"weights": {"gap": 1.0, "cosine": 2.0}}, "the code computes"),
    ({"threshold": 1.5}, "outside [0, 1]"),
    ({"intercept": "high"}, "malformed"),
    ({"threshold": None}, "malformed"),
])
def test_a_stale_or_damaged_file_is_a_clear_error(tmp_path: Path, change: dict[str, object],
                                                  message: str) -> None:
    path = write(tmp_path, {**GOOD, **change})

    with pytest.raises(ConfigError, match="rerun python bench/x.py --fit") as error:
        Logistic.load(path, FEATURES, "python bench/x.py --fit")
    assert message in str(error.value)


def test_a_missing_or_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read fitted model"):
        Logistic.load(tmp_path / "absent.json", FEATURES, "refit")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read fitted model"):
        Logistic.load(tmp_path / "bad.json", FEATURES, "refit")


def test_the_alignment_model_file_is_shipped_in_the_package() -> None:
    assert ALIGN_MODEL.parent.name == "rag"
    assert ALIGN_MODEL.is_file()
