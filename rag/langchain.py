"""Our retrieval as a LangChain ``BaseRetriever``, so that anyone can put it in an LCEL chain
or an agent with their own chat model.

It is the retrieval of ``readouts ask`` (dense and BM25 candidates, dates named in the
question, the fitted ranking signals, a list question completed), not a plain vector search:
``ReadoutsRetriever`` wraps an ``Assistant`` and turns its passages into ``Document``s at this
edge. The embedders of ``rag.embeddings`` are LangChain ``Embeddings`` already.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import Field, field_validator

from rag.assistant import Assistant, open_store
from rag.config import Settings, get_settings
from rag.embeddings import ReadoutEmbeddings
from rag.lexical import LexicalIndex
from rag.ranking.model import RankingModel
from rag.schema import Filters, Passage
from rag.store import ReadoutStore

MARKER = re.compile(r"\[(\d+)\]")
OPTIONS = frozenset({"k", "since", "until", "languages", "sources", "countries", "doc_ids",
                     "complete_lists"})


class ReadoutsRetriever(BaseRetriever):
    """The passages ``readouts ask`` retrieves for a question, best first, as ``Document``s.

    ``page_content`` is the passage exactly as stored: the readout's text ``[start:end]``.
    ``metadata`` holds ``doc_id``, ``chunk_id``, ``title``, ``date``, ``language``,
    ``source``, ``url``, ``start``, ``end``, ``score`` and ``score_parts`` (each ranking
    signal that counted -> its share of ``score``), as in ``readouts ask --json``.

    Every option (``k`` and the filters) can be set on the retriever or per call:
    ``retriever.invoke("...", k=3, since="2021-01-01")``. The async path runs the sync one in
    a worker thread (``run_in_executor``): retrieval is CPU-bound model and index work, and
    the store and lexical index are safe to share between threads.
    """

    assistant: Assistant
    k: int | None = Field(default=None, ge=1,
                          description="Passages to return; None: the settings' top_k.")
    since: str | None = Field(default=None, description="Only readouts on or after YYYY-MM-DD.")
    until: str | None = Field(default=None, description="Only readouts on or before YYYY-MM-DD.")
    languages: tuple[str, ...] = Field(default=(), description="Only these languages (en, fr...).")
    sources: tuple[str, ...] = Field(default=(), description="Only these sources, as stored.")
    countries: tuple[str, ...] = Field(
        default=(), description="ISO alpha-2 codes; a readout must mention all of them.")
    doc_ids: tuple[str, ...] = Field(default=(), description="Only these readouts.")
    complete_lists: bool = Field(
        default=True, description="For a list question on a period ('which leaders did Biden "
        "call in October 2023?'), follow the k passages with one passage of each other readout "
        "that fits, as `readouts ask` does; False: exactly k.")

    @field_validator("since", "until")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"'{value}' is not a date of the form YYYY-MM-DD") from None

    @field_validator("languages", "sources", "countries", "doc_ids", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value  # languages="fr" is ("fr",)

    @field_validator("countries")
    @classmethod
    def _upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code.upper() for code in value)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        store: ReadoutStore | None = None,
        embeddings: ReadoutEmbeddings | None = None,
        model: RankingModel | None = None,
        **options: Any,
    ) -> ReadoutsRetriever:
        """A retriever on the configured store (``READOUTS_`` settings by default), with the
        heavy parts injectable: an open ``store``, or the ``embeddings`` to open it with, and
        the ranking ``model``. Loads the embedder: build it once per process."""
        settings = settings or get_settings()
        if store is None:
            store = (open_store(settings) if embeddings is None
                     else ReadoutStore(settings, embeddings))
        assistant = Assistant(settings, store, LexicalIndex(store, settings.store_dir),
                              model=model)
        return cls(assistant=assistant, **options)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        options = self._with(kwargs)
        filters = Filters(since=options.since, until=options.until,
                          languages=options.languages, sources=options.sources,
                          countries=options.countries, doc_ids=options.doc_ids)
        k = options.k or self.assistant.settings.top_k
        passages = self.assistant.retrieve(query, filters, k).passages
        if not options.complete_lists:
            passages = passages[:k]
        return [as_document(p) for p in passages]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # BaseRetriever's own async default drops per-call options such as ``k``.
        return await run_in_executor(None, self._get_relevant_documents, query,
                                     run_manager=run_manager.get_sync(), **kwargs)

    def _with(self, overrides: dict[str, Any]) -> ReadoutsRetriever:
        """This retriever with per-call options, validated as the constructor's are."""
        unknown = sorted(set(overrides) - OPTIONS)
        if unknown:
            raise TypeError(f"Unknown option(s) {', '.join(unknown)}; ReadoutsRetriever "
                            f"takes {', '.join(sorted(OPTIONS))}.")
        if not overrides:
            return self
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self).model_validate({**fields, **overrides})


def as_document(passage: Passage) -> Document:
    """A passage as a LangChain ``Document`` (id: its chunk id)."""
    metadata: dict[str, Any] = {
        "doc_id": passage.doc_id, "chunk_id": passage.chunk_id, "title": passage.title,
        "date": passage.date, "language": passage.language, "source": passage.source,
        "url": passage.url, "start": passage.start, "end": passage.end,
        "score": passage.score, "score_parts": dict(passage.score_parts),
    }
    return Document(id=passage.chunk_id, page_content=passage.text, metadata=metadata)


def format_documents(documents: Sequence[Document]) -> str:
    """Passages numbered ``[1]``, ``[2]``... with title, date and source, for a prompt whose
    model is asked to cite them by number."""
    return "\n\n".join(
        f"[{n}] {d.metadata.get('title', '')} ({d.metadata.get('date') or 'undated'}, "
        f"{d.metadata.get('source', '')})\n{d.page_content}"
        for n, d in enumerate(documents, 1)
    )


def cited_documents(answer: str, documents: Sequence[Document]) -> list[Document]:
    """The documents an answer cites by the ``[n]`` of ``format_documents``, in the order
    first cited; a number that names no document is ignored."""
    cited = dict.fromkeys(int(n) for n in MARKER.findall(answer))
    return [documents[n - 1] for n in cited if 1 <= n <= len(documents)]
