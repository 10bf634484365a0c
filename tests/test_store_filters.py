"""rag/store/filters.py: ``Filters`` as a Chroma ``where`` and the same test in Python."""

from __future__ import annotations

import pytest

from rag.schema import Filters
from rag.store import matches, where_clause
from rag.store.filters import selective

META = {"doc_id": "a", "date_int": 20210222, "language": "en", "source": "Xinhua",
        "c_CN": True, "c_KG": True}


@pytest.mark.parametrize(
    ("filters", "passes"),
    [
        (Filters(), True),
        (Filters(languages=("en",)), True),
        (Filters(languages=("fr", "zh")), False),
        (Filters(since="2021-02-22", until="2021-02-22"), True),
        (Filters(since="2021-02-23"), False),
        (Filters(until="2021-02-21"), False),
        (Filters(since="2019-01-01", until="2023-01-01"), True),  # wider than a day list
        (Filters(sources=("Xinhua",), countries=("kg",)), True),
        (Filters(countries=("CN", "US")), False),
        (Filters(doc_ids=("b",)), False),
    ],
)
def test_matches_is_where_clause_in_python(filters: Filters, passes: bool) -> None:
    assert matches(META, filters) is passes
    assert (where_clause(filters) is None) is filters.is_empty()


def test_a_language_is_combined_with_other_filters_by_and() -> None:
    where = where_clause(Filters(languages=("en",), sources=("Xinhua",)))
    assert where == {"$and": [{"language": {"$in": ["en"]}}, {"source": {"$in": ["Xinhua"]}}]}
    assert where_clause(Filters(languages=("fr",))) == {"language": {"$in": ["fr"]}}


def test_short_date_spans_are_lists_of_days() -> None:
    assert where_clause(Filters(since="2021-02-22", until="2021-02-23")) == {
        "date_int": {"$in": [20210222, 20210223]}}
    assert where_clause(Filters(since="2021-02-23", until="2021-02-22")) == {
        "date_int": {"$in": [-1]}}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [(Filters(languages=("en",)), True), (Filters(doc_ids=("a",)), True),
     (Filters(since="2021-01-01", until="2021-02-01"), True),
     (Filters(since="2020-01-01", until="2021-02-01"), False),
     (Filters(languages=("en",), since="2020-01-01"), False), (Filters(sources=("X",)), False)],
)
def test_selective_filters_go_to_chroma_at_once(filters: Filters, expected: bool) -> None:
    assert selective(filters) is expected
