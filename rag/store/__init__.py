"""The only package that talks to Chroma: readouts, their chunks and a change stamp.

``schema`` (collection names, metadata, format), ``filters`` (``Filters`` as ``where``),
``client`` (opening, error messages), ``gate`` (calls and reopening), ``locks`` (writer
lock, generation stamps), ``reads``, ``writes`` (the crash-safe write protocol and repair),
``migrate`` (older formats), and ``readout_store`` (``ReadoutStore``, which ties them
together).
"""

from rag.store.client import open_client
from rag.store.filters import matches, where_clause
from rag.store.locks import writer_lock
from rag.store.readout_store import ReadoutStore
from rag.store.schema import FORMAT_VERSION
from rag.store.writes import WriteItem

__all__ = [
    "FORMAT_VERSION", "ReadoutStore", "WriteItem", "matches", "open_client", "where_clause",
    "writer_lock",
]
