"""Document text is data: spot planted instructions and neutralise fake citation markers."""

from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules|above|previous)\b"
    r"|\b(system prompt|you are now|as an ai|new instructions?|respond with|reply with"
    r"|answer with|say that|print the)\b"
    r"|\b(ignore[sz]?|oublie[sz]?)\b.{0,40}\b(instructions?|consignes?)\b"
    r"|忽略.{0,10}(指令|指示)",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d{1,3})\]")


def looks_like_instruction(text: str) -> bool:
    """True for sentences that address a model rather than report a meeting."""
    return bool(_INSTRUCTION.search(text))


def neutralise_markers(text: str) -> str:
    """"[7]" written inside a document becomes "(7)", so it cannot pass for a citation."""
    return _MARKER.sub(r"(\1)", text)
