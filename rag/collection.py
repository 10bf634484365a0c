"""What the collection holds, in the shapes the UI shows: counts, filter choices, timeline rows."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from rag.schema import ReadoutInfo

UNDATED = "undated"
TimelineAxis = Literal["source", "country"]


@dataclass(frozen=True)
class CollectionStats:
    """Counts and the distinct values that filters offer."""

    total: int
    by_language: dict[str, int]
    by_year: dict[str, int]  # "2021" -> n, plus UNDATED when some readouts have no date
    languages: tuple[str, ...]
    sources: tuple[str, ...]
    countries: tuple[str, ...]  # alpha-2 codes, sorted by country name
    first_date: dt.date | None
    last_date: dt.date | None


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """The common English name of an ISO alpha-2 code, or the code itself when unknown."""
    import pycountry

    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def collection_stats(infos: Sequence[ReadoutInfo]) -> CollectionStats:
    """Counts by language and year, and the values seen, from ``ReadoutStore.list_readouts``."""
    dates = sorted(dt.date.fromisoformat(i.date) for i in infos if i.date)
    years = Counter(i.date[:4] if i.date else UNDATED for i in infos)
    countries = {c for i in infos for c in i.countries}
    return CollectionStats(
        total=len(infos),
        by_language=dict(Counter(i.language for i in infos).most_common()),
        by_year=dict(sorted(years.items())),
        languages=tuple(sorted({i.language for i in infos})),
        sources=tuple(sorted({i.source for i in infos if i.source})),
        countries=tuple(sorted(countries, key=country_name)),
        first_date=dates[0] if dates else None,
        last_date=dates[-1] if dates else None,
    )


def timeline_rows(
    infos: Sequence[ReadoutInfo],
    axis: TimelineAxis = "source",
    countries: Sequence[str] = (),
    max_lanes: int | None = None,
) -> list[dict[str, Any]]:
    """One point per dated readout (per country it mentions when ``axis`` is "country").

    ``countries`` keeps only readouts that mention at least one of them; on the country axis
    it also keeps only those countries' rows, so the chart answers "who met them, when".
    ``max_lanes`` keeps the most frequent sources or countries, so the chart stays readable.
    """
    wanted = {c.upper() for c in countries}
    rows: list[dict[str, Any]] = []
    for info in infos:
        if not info.date or (wanted and not wanted & set(info.countries)):
            continue
        row = {
            "date": info.date, "title": info.title, "source": info.source or "unknown",
            "language": info.language, "doc_id": info.doc_id,
            "countries": ", ".join(country_name(c) for c in info.countries),
        }
        if axis == "source":
            rows.append(row)
            continue
        for code in info.countries:
            if not wanted or code in wanted:
                rows.append({**row, "country": country_name(code)})
    if max_lanes is not None:
        kept = {lane for lane, _ in Counter(r[axis] for r in rows).most_common(max_lanes)}
        rows = [r for r in rows if r[axis] in kept]
    return rows
