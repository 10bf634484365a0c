"""The assistant: question (+ conversation, filters) -> retrieval -> cited answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from rag.answer import ExtractiveAnswerer
from rag.config import Settings
from rag.embeddings import build_embeddings
from rag.errors import ReadoutsError, StaleStoreError
from rag.lexical import LexicalIndex
from rag.query import is_follow_up
from rag.ranking.model import RankingModel
from rag.retrieve import Retrieval, Retriever
from rag.schema import Answer, Filters
from rag.store import ReadoutStore

MAX_QUESTION_CHARS = 2000


class Answerer(Protocol):
    """Turns retrieved passages into an answer; extractive or generative."""

    name: str

    def answer(self, question: str, retrieval: Retrieval) -> Answer: ...


@dataclass(frozen=True)
class Turn:
    """A past exchange, as much of it as follow-up questions need."""

    question: str

    @classmethod
    def of(cls, answer: Answer) -> Turn:
        return cls(answer.question)


def check_question(question: str) -> str:
    """The question stripped, or a clear error for empty or oversized input."""
    question = (question or "").strip()
    if not question:
        raise ReadoutsError("The question is empty: type a question about the readouts.")
    if len(question) > MAX_QUESTION_CHARS:
        raise ReadoutsError(
            f"The question is {len(question)} characters long; the limit is "
            f"{MAX_QUESTION_CHARS}. Ask something shorter."
        )
    return question


class Assistant:
    """Wires store, lexical index, retriever and answerer together; one per process."""

    def __init__(self, settings: Settings, store: ReadoutStore, lexical: LexicalIndex,
                 answerer: Answerer | None = None, model: RankingModel | None = None):
        self.settings = settings
        self.store = store
        self.lexical = lexical
        self.model = model or RankingModel.load(settings.ranking_weights)
        self.retriever = Retriever(store, lexical, settings, self.model)
        self.extractive = ExtractiveAnswerer(settings, self.model)
        self.answerer: Answerer = answerer or self.extractive

    def retrieve(self, question: str, filters: Filters = Filters(), k: int | None = None,
                 history: Sequence[Turn] = ()) -> Retrieval:
        """Passages for a question; a follow-up is read together with the previous turn."""
        question = check_question(question)
        query = question
        if history and is_follow_up(question):
            query = f"{history[-1].question} {question}"
        try:
            return self.retriever.retrieve(query, filters, k)
        except StaleStoreError:  # another process wrote meanwhile: once more, caught up
            return self.retriever.retrieve(query, filters, k)

    def ask(self, question: str, filters: Filters = Filters(), k: int | None = None,
            history: Sequence[Turn] = (), answerer: Answerer | None = None) -> Answer:
        """A cited answer, or a refusal that still lists the closest passages."""
        question = check_question(question)
        retrieval = self.retrieve(question, filters, k, history)
        sides = self.sides_answer(question, retrieval)
        if sides is not None:
            return sides
        return (answerer or self.answerer).answer(question, retrieval)

    def sides_answer(self, question: str, retrieval: Retrieval) -> Answer | None:
        """For "what did the Chinese readout leave out?", the answer from the alignment of
        the two sides' readouts of the event retrieved (``rag.sides``); else None."""
        from rag.sides import answer_side_question, is_side_question

        if not is_side_question(question):
            return None
        return answer_side_question(question, retrieval.passages, self.store,
                                    self.store.embeddings)

    def stream(self, question: str, filters: Filters = Filters(), k: int | None = None,
               history: Sequence[Turn] = ()) -> Iterator[str | Answer]:
        """Text pieces as the answerer produces them, then the final Answer."""
        question = check_question(question)
        retrieval = self.retrieve(question, filters, k, history)
        sides = self.sides_answer(question, retrieval)
        if sides is not None:
            yield sides.text
            yield sides
            return
        streamer = getattr(self.answerer, "stream", None)
        if streamer is None:
            final = self.answerer.answer(question, retrieval)
            yield final.text
            yield final
            return
        yield from streamer(question, retrieval)


def open_store(settings: Settings) -> ReadoutStore:
    """The configured embedder and store (the heavy part: do it once per process)."""
    return ReadoutStore(settings, build_embeddings(settings.embedder, settings.embed_batch_size))


def build_assistant(settings: Settings, store: ReadoutStore | None = None,
                    model: RankingModel | None = None) -> Assistant:
    """An assistant on the configured store, embedder, answerer and ranking model."""
    store = store or open_store(settings)
    lexical = LexicalIndex(store, settings.store_dir)
    model = model or RankingModel.load(settings.ranking_weights)
    answerer = None
    if settings.answerer != "extractive":
        from rag.generate import build_generative

        answerer = build_generative(settings, model)
    return Assistant(settings, store, lexical, answerer, model)
