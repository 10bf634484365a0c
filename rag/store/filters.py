"""``Filters`` as Chroma ``where`` clauses, and the same test in Python."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rag.schema import Filters
from rag.store.schema import date_int

DAY_LIST_MAX = 800  # date filters up to this many days are sent as a list of days
SELECTIVE_DAYS = 100  # ... and up to this many go straight to Chroma's filter


def where_clause(filters: Filters) -> dict[str, Any] | None:
    """Chroma ``where`` for chunk metadata; None when nothing is filtered."""
    parts = date_parts(filters.since, filters.until)
    if filters.languages:
        parts.append({"language": {"$in": list(filters.languages)}})
    if filters.sources:
        parts.append({"source": {"$in": list(filters.sources)}})
    if filters.doc_ids:
        parts.append({"doc_id": {"$in": list(filters.doc_ids)}})
    parts.extend({f"c_{code.upper()}": True} for code in filters.countries)
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def date_parts(since: str | None, until: str | None) -> list[dict[str, Any]]:
    """A date range as Chroma conditions: a span of up to ``DAY_LIST_MAX`` days becomes the
    list of its days, which Chroma finds through its index, while it scans for a range
    (measured on 22k chunks: 24 ms against 298 ms per query)."""
    if since and until:
        first, last = dt.date.fromisoformat(since), dt.date.fromisoformat(until)
        span = (last - first).days + 1
        if span <= DAY_LIST_MAX:
            days = [date_int((first + dt.timedelta(days=i)).isoformat()) for i in range(span)]
            return [{"date_int": {"$in": days or [-1]}}]  # until before since: nothing
    parts: list[dict[str, Any]] = []
    if since:
        parts.append({"date_int": {"$gte": date_int(since)}})
    if until:
        parts.append({"date_int": {"$lte": date_int(until)}})
    return parts


def selective(filters: Filters) -> bool:
    """True for filters that Chroma resolves through its metadata index cheaply enough to
    filter at once: a few readouts, a few weeks, or only languages (one equality)."""
    if filters.doc_ids:
        return True
    if filters.languages and not (filters.since or filters.until or filters.sources
                                  or filters.countries):
        return True
    if not (filters.since and filters.until):
        return False
    span = dt.date.fromisoformat(filters.until) - dt.date.fromisoformat(filters.since)
    return span.days < SELECTIVE_DAYS


def matches(meta: dict[str, Any], filters: Filters) -> bool:
    """True when a chunk's metadata passes ``filters``: ``where_clause``, in Python."""
    date = int(meta.get("date_int", 0))
    return (
        (not filters.since or date >= date_int(filters.since))
        and (not filters.until or date <= date_int(filters.until))
        and (not filters.languages or meta.get("language") in filters.languages)
        and (not filters.sources or meta.get("source") in filters.sources)
        and (not filters.doc_ids or meta.get("doc_id") in filters.doc_ids)
        and all(meta.get(f"c_{code.upper()}") is True for code in filters.countries)
    )
