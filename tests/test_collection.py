"""What the collection panel shows: counts by language and year, filter choices, timeline."""

from __future__ import annotations

import datetime as dt

from rag.collection import collection_stats, country_name, timeline_rows
from rag.schema import ReadoutInfo

INFOS = [
    ReadoutInfo("a", "Call A", "2021-02-22", "fr", "MFA", None, ("CN", "KG"), "a.txt", "h", 1),
    ReadoutInfo("b", "Call B", "2022-03-01", "en", "WH", None, ("UA", "RU"), "b.txt", "h", 1),
    ReadoutInfo("c", "Call C", "2022-06-01", "en", "WH", None, ("UA",), "c.txt", "h", 1),
    ReadoutInfo("d", "Undated", None, "en", "", None, ("KG",), "d.txt", "h", 1),
]


def test_collection_stats() -> None:
    stats = collection_stats(INFOS)
    assert stats.total == 4
    assert stats.by_language == {"en": 3, "fr": 1}
    assert stats.by_year == {"2021": 1, "2022": 2, "undated": 1}
    assert stats.sources == ("MFA", "WH")
    assert stats.countries == ("CN", "KG", "RU", "UA")  # China, Kyrgyzstan, Russia, Ukraine
    assert (stats.first_date, stats.last_date) == (dt.date(2021, 2, 22), dt.date(2022, 6, 1))
    assert collection_stats([]).first_date is None


def test_timeline_rows_by_source_and_by_country() -> None:
    by_source = timeline_rows(INFOS, "source")
    assert [(r["doc_id"], r["source"]) for r in by_source] == [("a", "MFA"), ("b", "WH"),
                                                                ("c", "WH")]
    assert by_source[0]["countries"] == "China, Kyrgyzstan"
    by_country = timeline_rows(INFOS, "country", countries=["ua"])
    assert [(r["doc_id"], r["country"]) for r in by_country] == [("b", "Ukraine"),
                                                                  ("c", "Ukraine")]
    assert [r["doc_id"] for r in timeline_rows(INFOS, "source", countries=["KG"])] == ["a"]
    top = timeline_rows(INFOS, "country", max_lanes=1)
    assert {r["country"] for r in top} == {"Ukraine"}


def test_country_name_falls_back_to_the_code() -> None:
    assert (country_name("kg"), country_name("TW"), country_name("XK")) == \
        ("Kyrgyzstan", "Taiwan", "XK")
