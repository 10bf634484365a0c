"""Retrieval and ranking with the real default model (e5-small) over real readouts: the passage
that answers comes first, where the model alone ranks another readout or passage higher."""

from __future__ import annotations

from ingest.chunking import chunk_readout
from ingest.pipeline import ingest_paths
from rag.assistant import build_assistant
from rag.embeddings import build_embeddings
from rag.query import analyse
from rag.schema import Readout
from rag.store import ReadoutStore
from tests.conftest import corpus_records
from tests.support import assistant_over, write_jsonl


def _e5_assistant(settings, tmp_path, records: list[dict]):
    """An assistant with the real default model over real readouts, ingested as a user would."""
    store = ReadoutStore(settings, build_embeddings("e5-small"))
    ingest_paths(store, [write_jsonl(tmp_path / "in" / "r.jsonl", records)], max_bytes=2**22,
                 max_chars=700)
    return build_assistant(settings, store)


STARMER_CALL = "cctv-xwlb-2024-08-23-0f5571ce"  # Xi and Starmer, in Chinese, on 23 August 2024


STARMER_DISTRACTORS = [  # English readouts naming one of the two, one on the one-China policy
    "wh-2024-09-13-readout-of-president-joe-bidens-meeting-with-prime-minister-k-7b7154",
    "wh-2024-07-10-readout-of-president-joe-bidens-meeting-with-prime-minister-k-ed94bc",
    "wh-2022-07-28-readout-of-president-bidens-call-with-president-xi-jinping-of-c7d2b4",
]


def test_who_met_whom_finds_the_chinese_readout_naming_both_in_a_later_passage(
    settings, tmp_path
) -> None:
    """The real e5 model scores the English readouts naming one of the two (and the one-China
    policy) well above the Chinese passage that answers; the readouts naming both get
    candidates and a boost of their own."""
    records = corpus_records("zh", ids=[STARMER_CALL]) + corpus_records(
        "en", ids=STARMER_DISTRACTORS)
    assert len(records) == 4
    assistant = _e5_assistant(settings, tmp_path, records)
    answer = assistant.ask("What did Keir Starmer tell Xi Jinping about the UK's one-China "
                           "policy?")
    assert answer.answered
    assert answer.passages[0].doc_id == STARMER_CALL
    assert answer.citations[0].doc_id == STARMER_CALL
    assert assistant.lexical.readouts_naming([("Keir Starmer", "斯塔默"), ("Xi Jinping", "习近平")]
                                             ) == [STARMER_CALL]


def test_two_countries_favour_the_readout_mentioning_both(settings, tmp_path) -> None:
    """"What did Kyrgyzstan say about Taiwan?": an English readout on Taiwan outscores the
    French readout of the Xi-Japarov call (the answer) unless mentioning both countries
    counts; in French the question scores under the threshold unless it counts there too."""
    records = corpus_records("fr", ids=["seed-xi-japarov-2021-02-22"]) + corpus_records(
        "en", ids=["wh-2024-09-21-readout-of-president-bidens-meeting-with-prime-minister-"
                   "kishi-5fb5bd", STARMER_DISTRACTORS[2]])
    assert len(records) == 3
    assistant = _e5_assistant(settings, tmp_path, records)
    for question in ("What did Kyrgyzstan say about Taiwan?",
                     "Qu'a dit le Kirghizistan sur Taïwan ?",
                     "What did Japarov say about Taiwan?"):  # his name is in many sentences
        answer = assistant.ask(question)
        assert answer.answered, question
        assert answer.citations[0].doc_id == "seed-xi-japarov-2021-02-22"
        assert "Taiwan" in answer.citations[0].quote


def test_within_a_readout_the_passage_saying_what_was_asked_comes_first(settings) -> None:
    """Two passages of one readout about the same talks: the one whose sentence holds the
    question's subject words ("signé", "issue") leads; e5 alone ranks the other first."""
    talks = ("La présidente de la Confédération a reçu le premier ministre de Chine pour des "
             "entretiens sur les relations bilatérales, le commerce, la recherche et le climat. "
             "Les deux pays veulent approfondir leur dialogue et leurs échanges. Ils ont aussi "
             "évoqué la situation internationale, la paix en Europe et les droits de l'homme, "
             "ainsi que la place des entreprises suisses et de leurs produits sur le marché de "
             "la Chine, qui reste leur premier débouché en Asie.")
    signed = ("Une déclaration commune a été signée à l'issue de l'échange au Lohn. Les "
              "délégations ont ensuite visité le domaine, puis pris congé de leurs hôtes. La "
              "journée s'est achevée par un dîner officiel offert par le Conseil fédéral, avant "
              "le départ de la délégation pour le Forum économique mondial de Davos le soir.")
    visit = Readout(doc_id="ch-lohn", title="Visite du premier ministre chinois en Suisse",
                    date="2024-01-15", language="fr", source="Conseil fédéral",
                    countries=("CH", "CN"), text=f"{talks}\n\n{signed}")
    store = ReadoutStore(settings, build_embeddings("e5-small"))
    assistant = assistant_over(store, settings, [visit])
    question = "Qu'est-ce qui a été signé à l'issue de la visite du premier ministre chinois ?"
    assert analyse(question).topics == ("signe", "issue")
    got = assistant.retrieve(question)
    assert len(chunk_readout(visit, 700)) == 2
    assert [p.text for p in got.passages] == [signed, talks]
    assert got.passages[0].score > got.passages[1].score


def test_the_readout_of_a_call_beats_the_preview_announcing_it(settings, tmp_path) -> None:
    """The press secretary's "will speak with President Xi this Friday" outscored the readout
    of that video call with the real model."""
    readout = "wh-2022-03-18-readout-of-president-joseph-r-biden-jr-call-with-president-xi-9672c8"
    preview = "wh-2022-03-17-statement-by-press-secretary-jen-psaki-on-president-bidens-ca-b47d01"
    assistant = _e5_assistant(settings, tmp_path, corpus_records("en", ids=[readout, preview]))
    answer = assistant.ask("When did Biden and Xi speak by video in 2022 and what did Biden "
                           "warn about?")
    assert answer.passages[0].doc_id == readout
    planned = assistant.ask("When was Biden's call with Xi in March 2022 announced?")
    assert planned.passages[0].doc_id == preview


def test_who_met_on_a_day_leaves_out_the_readout_of_the_days_before(settings, tmp_path) -> None:
    """Sullivan's talks with Wang Yi (27-28 August 2024) are dated the 28th, inside the date
    window of a question on the 29th: they are retrieved, but not cited as a meeting of the
    29th."""
    wang = "wh-2024-08-28-readout-of-national-security-advisor-jake-sullivans-meeting-w-946f5a"
    of_the_day = {
        "wh-2024-08-28-readout-of-national-security-advisor-jake-sullivans-meeting-w-cedd2a",
        "wh-2024-08-29-readout-of-national-security-advisor-jake-sullivans-meeting-w-f6b78a",
    }
    records = corpus_records("en", ids=[wang, *of_the_day])
    answer = _e5_assistant(settings, tmp_path, records).ask(
        "Who did Jake Sullivan meet in Beijing on August 29, 2024?")
    assert answer.answered
    assert {c.doc_id for c in answer.citations} == of_the_day
    assert wang in {p.doc_id for p in answer.passages}
