"""Small hand-made passages, retrievals and answers that several test modules share."""

from __future__ import annotations

from ingest.chunking import chunk_readout
from rag.query import analyse
from rag.retrieve import Retrieval
from rag.schema import Answer, Citation, Filters, Passage, Readout
from rag.store import ReadoutStore


def passage(doc_id: str, language: str, text: str, title: str = "") -> Passage:
    """A one-chunk passage of a readout dated 2022-11-04."""
    return Passage(doc_id=doc_id, chunk_id=f"{doc_id}#0", title=title, date="2022-11-04",
                   language=language, source="test", url=None, text=text, start=0,
                   end=len(text))


def retrieval(question: str, *passages: Passage) -> Retrieval:
    """What retrieval would give for ``question`` if it found ``passages``, best first."""
    return Retrieval(passages, analyse(question), (0.0,), 1.0, False)


# A readout and an answer with markup in every field the UI and the export show.
READOUT = "Intro. The King of Atlantis agreed to the <b>treaty</b>. Then they left."
QUOTE = "The King of Atlantis agreed to the <b>treaty</b>."


def citation(n: int = 1, doc_id: str = "atl", start: int | None = None) -> Citation:
    """Citation [n] of QUOTE in READOUT (at ``start`` if given, e.g. where it no longer is)."""
    start = READOUT.index(QUOTE) if start is None else start
    return Citation(
        n=n, doc_id=doc_id, title="Atlantis <b>call</b>", date="2024-05-03", source="Gov [x](y)",
        url="https://gov.example/atl", chunk_id=f"{doc_id}:0", text=READOUT, quote=QUOTE,
        start=start, end=start + len(QUOTE),
    )


def answer(answered: bool = True) -> Answer:
    """An answer citing QUOTE, or a refusal showing READOUT as the closest passage."""
    closest = Passage(doc_id="atl", chunk_id="atl:0", title="Atlantis <b>call</b>",
                      date="2024-05-03", language="en", source="Gov", url=None, text=READOUT,
                      start=0, end=len(READOUT))
    citations = (citation(),) if answered else ()
    text = f"{QUOTE} [1]" if answered else "The readouts do not contain an answer."
    return Answer("What did <Atlantis> agree?", answered, text, citations, (closest,))


# Three readouts for the store's tests: two languages, two dates, two sources, countries.
KG = Readout(
    doc_id="xi-japarov", title="Xi Japarov call", date="2021-02-22", language="en",
    source="Xinhua", countries=("CN", "KG"),
    text="Xi Jinping spoke with Sadyr Japarov.\nKyrgyzstan supports China on Taiwan and "
         "Xinjiang.\nBoth sides will deepen vaccine cooperation.",
)
EG = Readout(
    doc_id="xi-sisi", title="Xi Sisi call", date="2021-02-22", language="fr",
    source="Xinhua", countries=("CN", "EG"),
    text="Xi Jinping a parlé avec Abdel Fattah al-Sisi.\nL'Égypte soutient la Chine.",
)
US = Readout(
    doc_id="biden-xi", title="Biden Xi call", date="2021-02-10", language="en",
    source="White House", countries=("CN", "US"),
    text="President Biden spoke with President Xi Jinping about Taiwan and trade.",
)


def put(store: ReadoutStore, *readouts: Readout) -> None:
    """Write readouts into the store, chunked at 700 characters."""
    for r in readouts:
        store.write_readout(r, chunk_readout(r, 700))


def ask(store: ReadoutStore, question: str, filters: Filters = Filters(), k: int = 5
        ) -> list[Passage]:
    """The store's dense search for ``question``."""
    return store.dense_search(store.embeddings.embed_query(question), k, filters)
