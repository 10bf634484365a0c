"""Lexical tokens for BM25 that work for French, English and Chinese alike.

Latin-script words are lower-cased, de-accented for matching, stripped of French elisions
("l'", "qu'") and of common stop words; CJK runs, which have no spaces, become overlapping
character bigrams (a single character stays a unigram).
"""

from __future__ import annotations

import re
import unicodedata

CJK_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # a regex class's ranges
_TOKEN = re.compile(rf"[{CJK_CHARS}]+|[^\W{CJK_CHARS}_]+(?:['’][^\W{CJK_CHARS}_]+)?")
_ELISION = re.compile(r"^(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu)['’]")
STOPWORDS = frozenset(
    """a an and are as at be been by did do does for from had has have he her his how in is it
    its of on or say said says she that the their them they this to was were what when where
    which who whom why will with would about after also between both into over than then there
    these those under upon we our you your i me my de du des la le les un une et en au aux ce
    cet cette ces dans par pour sur avec que qui quoi quel quelle quels quelles est sont a ont
    été etre être il elle ils elles on ne pas plus se sa son ses leur leurs lors entre où y
    comment quand ou mais donc ni car lui eux nous vous je tu""".split()
)


_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def strip_accents(text: str) -> str:
    """``text`` without diacritics, case kept: "Pékin" -> "Pekin", "Vučić" -> "Vucic".

    A regex over the combining-mark blocks, not a test per character: the name checks strip
    every candidate passage, which cost ~25 ms per question character by character."""
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def fold(word: str) -> str:
    """Lower-case and strip accents, so "Sécurité" and "securite" match."""
    return strip_accents(word.lower())


def _cjk_grams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokens(text: str) -> list[str]:
    """BM25 tokens of ``text`` (same function for documents and questions)."""
    out: list[str] = []
    for match in _TOKEN.finditer(unicodedata.normalize("NFKC", text)):
        word = match.group(0)
        if "\u3400" <= word[0] <= "\ufaff":
            out.extend(_cjk_grams(word))
            continue
        word = _ELISION.sub("", fold(word).replace("’", "'"))
        if len(word) > 1 and word not in STOPWORDS:
            out.append(word)
    return out
