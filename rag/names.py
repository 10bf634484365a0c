"""Known people and places in every script they appear in (``rag/names.tsv``, hand-made, and
``rag/places.tsv``, the world's capitals and large cities written by ``bench/build_places.py``).

CCTV readouts transliterate names (Scholz is 朔尔茨, Trump 特朗普): neither BM25 nor the
embedder links the two forms, so an English question naming Scholz missed the Chinese readout
of his visit, and the refusal check could not tell whether a Chinese passage named him. The
gazetteer gives every form of a name, so retrieval can look for all of them and the checks can
see a name under any of its forms.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from rag.tokenize import CJK_CHARS, strip_accents

GAZETTEER_PATH = Path(__file__).resolve().with_name("names.tsv")
PLACES_PATH = GAZETTEER_PATH.with_name("places.tsv")


def _latin_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    """Any of ``forms`` as whole words, longest first ("Xi'an" before "Xi"), also with the
    first word in capitals, as Swiss releases write Chinese names ("XI Jinping")."""
    variants = {f for form in forms for f in (form, _capitalised_first(form))}
    alternatives = "|".join(re.escape(f) for f in sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _capitalised_first(form: str) -> str:
    first, _, rest = form.partition(" ")
    return f"{first.upper()} {rest}" if rest else first.upper()


@dataclass(frozen=True)
class KnownName:
    """One person or place: its Latin forms (accents stripped) and its Chinese forms."""

    latin: tuple[str, ...]
    chinese: tuple[str, ...]
    place: bool = False  # a city or an organisation: a readout need not name it
    city: bool = False  # a place on the map, where a meeting is held

    @property
    def label(self) -> str:
        """The full Latin name, for messages."""
        return self.latin[0]

    @property
    def forms(self) -> tuple[str, ...]:
        return self.latin + self.chinese

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        return _latin_pattern(self.latin)

    def in_text(self, text: str) -> bool:
        """True when ``text`` names this person or place in any of its forms."""
        return any(form in text for form in self.chinese) or bool(
            self._pattern.search(strip_accents(text))
        )

    def position(self, text: str) -> int | None:
        """Where ``text`` first names this person or place in any form (in characters of the
        accent-stripped text for Latin forms), or None."""
        found = [at for at in (text.find(form) for form in self.chinese) if at >= 0]
        match = self._pattern.search(strip_accents(text))
        if match:
            found.append(match.start())
        return min(found, default=None)

    def covers(self, folded_name: str) -> bool:
        """True when a folded name of a question ("gina raimondo", "leyen") is this one."""
        name_words = set(folded_name.split())
        return any(
            form_words <= name_words or name_words <= form_words
            for form_words in (set(form.lower().split()) for form in self.latin)
        )


_WORD = re.compile(r"\w+")
_CJK = re.compile(f"[{CJK_CHARS}]")


class Gazetteer:
    """Finds the known names a text mentions, in any script.

    Latin forms are looked up by their first word, not tried as one alternation of every
    form at every position of the text: with the world's cities (``places.tsv``) that was
    2.5 ms for a 300-character opening and grew with every entry."""

    def __init__(self, entries: tuple[KnownName, ...]):
        self.entries = entries
        self._by_latin = {f: entry for entry in entries for form in entry.latin
                          for f in (form, _capitalised_first(form))}
        self._by_chinese = {form: entry for entry in entries for form in entry.chinese}
        self._by_first: dict[str, list[str]] = {}  # first word -> forms, longest first
        for form in sorted(self._by_latin, key=len, reverse=True):
            first = _WORD.match(form)
            self._by_first.setdefault(first.group(0) if first else form, []).append(form)

    def find(self, text: str) -> tuple[KnownName, ...]:
        """The known names ``text`` mentions, in order of first mention, each once: at each
        word, the longest form that starts there and ends at a word's end ("Xi'an" before
        "Xi"); words inside a name found are not read again."""
        stripped = strip_accents(text)
        hits: list[tuple[int, KnownName]] = []
        covered = 0
        for word in _WORD.finditer(stripped):
            start = word.start()
            if start < covered:
                continue
            for form in self._by_first.get(word.group(0), ()):
                end = start + len(form)
                if stripped.startswith(form, start) and not _WORD.match(stripped, end):
                    hits.append((start, self._by_latin[form]))
                    covered = end
                    break
        if _CJK.search(text):
            for form, entry in self._by_chinese.items():
                at = text.find(form)
                if at >= 0:
                    hits.append((at, entry))
        return tuple(dict.fromkeys(entry for _, entry in sorted(hits, key=lambda h: h[0])))


def parse(lines: list[str]) -> tuple[KnownName, ...]:
    """Entries of a gazetteer file: ``latin|forms<TAB>chinese|forms[<TAB>place|city]``, ``#``
    comments."""
    entries = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        latin, _, rest = line.rstrip("\n").partition("\t")
        chinese, _, kind = rest.partition("\t")
        entries.append(KnownName(
            tuple(strip_accents(f.strip()) for f in latin.split("|") if f.strip()),
            tuple(f.strip() for f in chinese.split("|") if f.strip()),
            place=kind.strip() in ("place", "city"),
            city=kind.strip() == "city",
        ))
    return tuple(entries)


@functools.cache
def gazetteer() -> Gazetteer:
    """The packaged gazetteer, read once per process: the hand-made names, then the cities."""
    lines = [line for path in (GAZETTEER_PATH, PLACES_PATH)
             for line in path.read_text(encoding="utf-8").splitlines()]
    return Gazetteer(parse(lines))
