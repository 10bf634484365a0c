"""Words known to the collection up to inflection: "decoupling" is known when a readout says
"decouple", "citées" when one says "cités".

Why: whether a question's subject word occurs in any readout is evidence that the subject is
absent from the collection ("softwood lumber", "chasse à la baleine"); compared as exact BM25
tokens, inflections of words the readouts do use ("described", "décidées") looked absent as
often in answerable questions as true absences in unanswerable ones. Snowball stemmers
(English and French, the corpus's Latin-script languages, each applied to both sides, so that
"decoupling" meets "découplage") reduce both sides to stems. Chinese
tokens are character bigrams and are compared as they are.
"""

from __future__ import annotations

from collections.abc import Iterable

import Stemmer

_STEMMERS = (Stemmer.Stemmer("english"), Stemmer.Stemmer("french"))


def _bare(word: str) -> str:
    """``word`` without an English possessive: "bougainville's" -> "bougainville"."""
    return word[:-2] if word.endswith(("'s", "’s")) else word


class KnownStems:
    """The stems, by either stemmer, of a vocabulary of BM25 tokens (lower-cased, folded)."""

    def __init__(self, vocabulary: Iterable[str]):
        words = [_bare(w) for w in vocabulary]
        self._words = frozenset(words)
        self._stems = frozenset(stem for s in _STEMMERS for stem in s.stemWords(words))

    def knows(self, word: str) -> bool:
        """Whether ``word`` (a BM25 token) or an inflection of it is in the vocabulary."""
        word = _bare(word)
        return word in self._words or any(s.stemWord(word) in self._stems for s in _STEMMERS)
