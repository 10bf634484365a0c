"""Lexical search: BM25 over the stored chunks, followed readout by readout.

``bm25`` (segments of postings, scored with statistics summed at query time), ``rows`` (the
per-chunk columns that filters read), ``cache`` (the last full build on disk) and ``index``
(``LexicalIndex``: when to rebuild, when to add a delta, what a question reads).
"""

from rag.lexical.index import LexicalHit, LexicalIndex

__all__ = ["LexicalHit", "LexicalIndex"]
