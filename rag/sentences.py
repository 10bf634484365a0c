"""Sentence spans with exact offsets, for chunking and for citing single sentences.

Rules that matter for readouts: "M. Xi", "Mr. Biden", "U.S." and initials do not end a
sentence; a closing quote or bracket after the stop belongs to the sentence; Chinese and
Japanese stops (。！？) end a sentence without a following space.
"""

from __future__ import annotations

import re

ABBREVIATIONS = frozenset(
    "m mm mme mmes mlle mr mrs ms dr prof st sr jr gen col lt sgt gov sen rep amb "
    "no nos vol art etc e.g i.e vs cf p pp fig jan feb mar apr jun jul aug sep sept oct nov dec "
    "u.s u.k u.n e.u d.c s.e h.e".split()
)
_CJK_STOP = "。！？"
_BOUNDARY = re.compile(r"[.!?。！？…]+(?:[\s\u00a0\u202f]?»|[\"”’')\]）」』])*")
_NEXT_STARTS_SENTENCE = re.compile(r"\s+(?=[«\"“‘'(\[]?\s?[A-ZÀ-ÖØ-Þ0-9\u4e00-\u9fff])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_WORD_CHAR = re.compile(r"[\w.]")
WORD_WINDOW = 16  # characters looked at before a stop: longer than any abbreviation


def _is_abbreviation(text: str, stop_at: int) -> bool:
    """True when the '.' at ``stop_at`` closes an abbreviation or an initial."""
    if text[stop_at] != ".":
        return False
    window = max(0, stop_at - WORD_WINDOW)  # searching from 0 made chunking quadratic
    match = _WORD_BEFORE.search(text, window, stop_at)
    if not match or (match.start() == window and window and _WORD_CHAR.match(text, window - 1)):
        return False  # no word, or one longer than any abbreviation
    word = match.group(1).lower().strip(".")
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text[start:end]``, whitespace trimmed."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in _BOUNDARY.finditer(text, start, end):
        stop = match.end()
        if text[match.start()] in _CJK_STOP:
            cut = stop
        else:
            follow = _NEXT_STARTS_SENTENCE.match(text, stop, end)
            if not follow or _is_abbreviation(text, match.start()):
                continue
            cut = stop
        spans.append((cursor, cut))
        cursor = cut
    spans.append((cursor, end))
    return [s for s in (_trim(text, a, b) for a, b in spans) if s[1] > s[0]]


def first_sentence(text: str) -> str:
    """The first sentence of ``text`` ("" for blank text)."""
    spans = sentence_spans(text)
    return text[spans[0][0]:spans[0][1]] if spans else ""


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the non-empty lines/paragraphs of ``text``."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        a, b = _trim(text, match.start(), match.end())
        if b > a:
            spans.append((a, b))
    return spans
