"""The fitted model (rag/ranking/model.py): the shipped weights load, rank with score parts
that add up, and a broken or foreign weights file is a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.query import analyse
from rag.ranking.answerability import FEATURES
from rag.ranking.model import WEIGHTS_PATH, Linear, RankingModel
from rag.ranking.signals import SIGNALS, Candidates
from rag.schema import Passage


def passage(doc_id: str, text: str, score: float) -> Passage:
    return Passage(doc_id=doc_id, chunk_id=f"{doc_id}#0", title="", date="2021-02-10",
                   language="en", source="t", url=None, text=text, start=0, end=len(text),
                   score=score)


def test_the_shipped_weights_cover_every_signal_and_feature_and_say_how_they_were_made(
) -> None:
    model = RankingModel.load()
    assert set(model.ranking.weights) == set(SIGNALS)
    assert set(model.answerability.weights) == set(FEATURES)
    assert 0.0 < model.threshold < 1.0
    assert {"fitted_on", "questions", "commit", "report"} <= set(model.meta)


def test_ranking_orders_by_the_sum_of_the_score_parts() -> None:
    model = RankingModel(Linear({"dense": 2.0, "lexical": 1.0}), Linear({}), 0.5)
    near, far = passage("near", "Xi spoke.", 0.3), passage("far", "Biden spoke.", 0.1)
    c = Candidates.build(analyse("What did Xi say?"), [far, near], {"far#0": 1.0})
    ranked = model.rank(c)
    assert [p.doc_id for p in ranked] == ["far", "near"]  # 0.2 + 1.0 against 0.6
    for p in ranked:
        assert sum(v for _, v in p.score_parts) == pytest.approx(p.score)
    assert dict(ranked[0].score_parts) == {"dense": pytest.approx(0.2), "lexical": 1.0}


def test_the_file_round_trips(tmp_path: Path) -> None:
    model = RankingModel(Linear({"dense": 1.5}), Linear({"best_dense": 3.0}, -1.0), 0.3,
                         {"fitted_on": ["devset"]})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.to_json()))
    assert RankingModel.load(path) == model


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "cannot read ranking weights"),
    ('{"format": 99}', "format 99"),
    ('{"format": 1, "ranking": {"weights": {"vibes": 1}}}', "unknown signals: vibes"),
    ('{"format": 1, "ranking": {"weights": {}}}', "malformed"),
])
def test_a_bad_weights_file_is_a_clear_error(tmp_path: Path, content: str, message: str
                                             ) -> None:
    path = tmp_path / "weights.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        RankingModel.load(path)


def test_the_packaged_file_is_where_the_model_looks() -> None:
    assert WEIGHTS_PATH.name == "weights.json"
    assert WEIGHTS_PATH.exists()
