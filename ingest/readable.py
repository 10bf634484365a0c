"""Is decoded text language at all? Bytes read with the wrong encoding still decode: ASCII
behind a UTF-16 byte-order mark reads as Chinese characters (b"garbage" -> "最牡慢敧"), random
bytes as a mix of Han, Hangul, Yi and unassigned code points. Real text in any language, short
or long, has properties that such noise lacks; ``unreadable_reason`` names the one missing.

Measured on the shared corpus (1,355 English, French and Chinese readouts): none is refused;
none has an odd character, the lowest share of letters is 87%, and the Chinese readout with
the fewest punctuation marks has one per 15 Chinese characters. Each of them, its UTF-8 bytes
behind a UTF-16 byte-order mark or its UTF-16 in the wrong byte order, is refused.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

# Scripts in modern use (Unicode UAX #31, table 4 "Recommended Scripts"), by the first word of
# their characters' names; letters of other scripts (Yi, Glagolitic, Tifinagh...) are odd.
_MODERN = frozenset(
    "ARABIC ARMENIAN BENGALI BOPOMOFO CYRILLIC DEVANAGARI ETHIOPIC GEORGIAN GREEK GUJARATI "
    "GURMUKHI HANGUL HEBREW HIRAGANA KANNADA KATAKANA KHMER LAO LATIN MALAYALAM MYANMAR ORIYA "
    "SINHALA TAMIL TELUGU THAANA THAI TIBETAN".split()
)
# Names that do not start with their script's name; Japanese kana count with Han: they mix
# in every Japanese sentence.
_FAMILY = {
    "CJK": "Han", "IDEOGRAPHIC": "Han", "HIRAGANA": "Han", "KATAKANA": "Han", "BOPOMOFO": "Han",
    "FULLWIDTH": "Latin", "MODIFIER": "Latin", "FEMININE": "Latin", "MASCULINE": "Latin",
    "MICRO": "Latin",
}
_SPACE, _ODD, _PUNCT, _OTHER = "space", "odd", "punct", "other"
_NOT_LETTERS = frozenset({_SPACE, _ODD, _PUNCT, _OTHER})

MAX_ODD_SHARE = 0.10  # of the characters that are not spaces
MIN_LETTER_SHARE = 0.5  # the corpus's lowest: 0.87 (a Chinese readout full of dates)
MAX_SWITCH_SHARE = 0.10  # changes of script between letters, Latin aside, per letter
HAN_PER_PUNCTUATION = 40  # the corpus's most: 15


def unreadable_reason(text: str) -> str | None:
    """Why ``text`` is not text in any language (what a wrong encoding or a binary file gives),
    or None when it reads as text.

    Refused: more than 10% of odd characters (unassigned, private-use, control or format code
    points, letters of scripts out of modern use, rare Han and Hangul blocks); under half of
    letters; letters switching script (Latin aside) at more than one in ten; Chinese characters
    with under one punctuation mark per 40.
    """
    classes = [_char_class(ch) for ch in text]
    counts = Counter(classes)
    visible = len(classes) - counts[_SPACE]
    if not visible:
        return None  # empty: the loaders say so in their own words
    if counts[_ODD] > MAX_ODD_SHARE * visible:
        return (f"{counts[_ODD]} of its {visible} characters are unassigned, private-use or "
                "control code points or letters of scripts out of use")
    letters = sum(n for name, n in counts.items() if name not in _NOT_LETTERS)
    if letters < MIN_LETTER_SHARE * visible:
        return f"only {letters} of its {visible} characters are letters"
    scripts = [c for c in classes if c not in _NOT_LETTERS and c != "Latin"]
    switches = sum(a != b for a, b in zip(scripts, scripts[1:], strict=False))
    if switches >= 2 and switches > MAX_SWITCH_SHARE * letters:
        mixed = ", ".join(name for name, _ in Counter(scripts).most_common(4))
        return f"its letters switch script {switches} times in {letters} letters ({mixed})"
    han = counts["Han"]
    if han and han >= letters / 2 and counts[_PUNCT] * HAN_PER_PUNCTUATION < han:
        marks = counts[_PUNCT]
        punctuation = (f"only {marks} punctuation mark{'s' * (marks > 1)}" if marks
                       else "no punctuation mark")
        return f"{han} Chinese characters with {punctuation}"
    return None


@functools.lru_cache(maxsize=1 << 16)
def _char_class(ch: str) -> str:
    """A letter's script family ("Latin", "Han", "Cyrillic"...), or what else it is."""
    if ch.isspace():
        return _SPACE
    category = unicodedata.category(ch)
    if category in ("Cn", "Co", "Cs", "Cc", "Cf") or ch == "\ufffd":
        return _ODD
    if category[0] == "P":
        return _PUNCT if _is_cjk_punctuation(ord(ch)) else _OTHER
    if category[0] != "L":
        return _OTHER
    point = ord(ch)
    if 0x2100 <= point <= 0x214F:  # letterlike symbols: ℃'s kin, "ℓ", "K" (Kelvin)
        return "Latin"
    if 0x3400 <= point <= 0x4DBF or 0xF900 <= point <= 0xFAFF:
        return _ODD  # Han extension A and compatibility ideographs: unused in today's prose
    if 0xAC00 <= point <= 0xD7A3 and len(ch.encode("euc_kr")) != 2:
        return _ODD  # a Hangul syllable outside the 2,350 of KS X 1001, Korean's usual set
    word = re.split(r"[ -]", unicodedata.name(ch, "?"))[0]
    if word == "HALFWIDTH":
        word = "KATAKANA" if "KATAKANA" in unicodedata.name(ch) else "HANGUL"
    family = _FAMILY.get(word)
    if family is None and word in _MODERN:
        family = word.title()
    return family or _ODD


def _is_cjk_punctuation(point: int) -> bool:
    """Marks that punctuate Chinese or Japanese text: ASCII, the middle dot, dashes, quotes and
    ellipsis, the CJK block, vertical and full-width forms. (Noise from the wrong byte order
    lands in other punctuation blocks, "⸀" "⁍".)"""
    return (point < 0x80 or point == 0xB7 or 0x2010 <= point <= 0x2027
            or 0x3000 <= point <= 0x303F or 0xFE10 <= point <= 0xFE4F
            or 0xFF00 <= point <= 0xFF65)
