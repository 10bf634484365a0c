"""Words known up to inflection (rag/stems.py): a subject word counts as absent from the
collection only when no inflection of it occurs, in English or French."""

from __future__ import annotations

from rag.stems import KnownStems
from rag.tokenize import tokens


def test_inflections_of_words_the_readouts_use_are_known() -> None:
    known = KnownStems(tokens("The President described the talks; les négociations commerciales "
                              "citées."))
    assert known.knows("describe")
    assert known.knows("describing")
    assert all(known.knows(word) for word in tokens("négociation commercial cité"))


def test_words_no_readout_uses_in_any_form_stay_unknown() -> None:
    known = KnownStems(tokens("They discussed trade, Taiwan and climate change."))
    assert not known.knows("softwood")
    assert not known.knows(tokens("baleine")[0])


def test_an_english_possessive_is_the_name_itself() -> None:
    known = KnownStems(tokens("Bougainville held a referendum."))
    assert known.knows(tokens("Bougainville's")[0])
    assert not KnownStems(tokens("Papua New Guinea")).knows(tokens("Bougainville's")[0])
