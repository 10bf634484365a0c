"""Readouts chat: ask, check each cited passage in its readout, filter, and re-ingest.

Only Streamlit lives here: answers come from ``rag``, ingestion from ``ingest``, and all
document or user text goes through ``rag.highlight`` before it is shown.
Run: ``make run`` (or ``streamlit run app.py``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from pydantic import ValidationError

if TYPE_CHECKING:
    import altair as alt

from ingest.loaders import SUPPORTED_SUFFIXES, discover
from ingest.refresh import Ingester, IngestJob
from ingest.uploads import UploadResult, save_uploads
from rag.align import align
from rag.assistant import Assistant, Turn, build_assistant
from rag.collection import (
    CollectionStats,
    TimelineAxis,
    collection_stats,
    country_name,
    timeline_rows,
)
from rag.compare import COMPARE_CSS, Comparison, compare, comparison_html, comparison_markdown
from rag.config import Settings
from rag.errors import ConfigError, EmbedderError, ReadoutsError, StoreError, StoreMismatchError
from rag.explain import answerability_line, passage_of, why_passage
from rag.export import conversation_markdown
from rag.highlight import (
    CSS,
    answer_markdown,
    citation_spans,
    cited_passages,
    escape_markdown,
    passage_highlight,
    passage_html,
    readout_highlights,
    readout_html,
    safe_url,
    scroll_script,
)
from rag.pairs import other_side
from rag.schema import Answer, Filters, Passage, ReadoutInfo

HISTORY_TURNS = 3  # past turns a follow-up question may lean on
TIMELINE_LANES = 25  # rows of the timeline before the user picks countries
PROGRESS_POLL_S = 0.5  # how often a running ingestion's progress bar refreshes
# What to do when the app cannot start, by kind of error; the most specific class first.
HINTS: tuple[tuple[type[ReadoutsError], str], ...] = (
    (StoreMismatchError, "Rebuild the store for the current embedder with "
     "`readouts ingest --rebuild data/` (stop the app first), or set `READOUTS_EMBEDDER` "
     "to the embedder the store was built with; then reload this page."),
    (StoreError, "Check `READOUTS_STORE_DIR`, or start the Chroma server (or unset "
     "`READOUTS_CHROMA_HOST` to use the local store); then reload this page."),
    (EmbedderError, "Check `READOUTS_EMBEDDER` and that its model package is installed; "
     "then restart the app."),
    (ConfigError, "Fix the setting named above, then restart the app."),
)


@st.cache_resource(show_spinner="Loading the embedding model and the store…")
def get_assistant() -> Assistant:
    """One assistant per process, shared by every session: the model and store load once."""
    return build_assistant(Settings())


@st.cache_data(show_spinner=False, max_entries=8)
def list_readouts(location: str, generation: str, _assistant: Assistant) -> list[ReadoutInfo]:
    """The readouts of the store at ``location``, read again only when its generation stamp
    moves (another process may have ingested)."""
    return _assistant.store.list_readouts()


def show_error(exc: ReadoutsError, at_start: bool = False) -> None:
    """One clear message with what to do, instead of a traceback.

    Messages say what to do already; at start-up, when nothing works yet, a hint on the
    settings involved follows.
    """
    hint = next((h for cls, h in HINTS if isinstance(exc, cls)), "") if at_start else ""
    st.error(f"{escape_markdown(str(exc))}\n\n{hint}".strip(), icon=":material/error:")


# ---- reading the readouts ------------------------------------------------------------------


@st.dialog("Readout", width="large")
def show_readout(doc_id: str, focus: int, source: Answer | Passage) -> None:
    """The whole readout, scrolled to the marked spans: every citation of ``source`` into it
    (``focus`` is the marker clicked), or the passage ``source`` itself."""
    readout = get_assistant().store.get_readout(doc_id)
    if readout is None:
        st.warning("This readout is no longer in the store.")
        return
    st.subheader(escape_markdown(readout.title or readout.doc_id))
    facts = [readout.date or "undated", readout.language, readout.source, readout.doc_id]
    st.caption(" · ".join(escape_markdown(f) for f in facts if f))
    if url := safe_url(readout.url):
        st.link_button("Open the original", url, icon=":material/open_in_new:")
    if isinstance(source, Passage):
        marks = passage_highlight(source, readout.text)
    else:
        marks = readout_highlights(source, readout.text, doc_id, focus)
    if not marks:
        st.caption("The cited words are no longer where they were: the readout changed since.")
    st.html(readout_html(readout.text, marks))
    if marks:
        st.html(scroll_script(focus), unsafe_allow_javascript=True)


@st.cache_data(show_spinner=False, max_entries=256)
def other_side_of(doc_id: str, generation: str) -> list[tuple[str, str]]:
    """(doc_id, source) of the other side's readouts of ``doc_id``'s event, best first; read
    again only when the store's generation stamp moves."""
    assistant = get_assistant()
    store = assistant.store
    readout = store.get_readout(doc_id)
    if readout is None:
        return []
    infos = list_readouts(store.location, generation, assistant)
    return [(p.other(doc_id).doc_id, p.other(doc_id).source)
            for p in other_side(readout, store, store.embeddings, infos)]


@st.cache_data(show_spinner="Aligning the two readouts sentence by sentence…", max_entries=32)
def comparison_of(doc_a: str, doc_b: str, generation: str) -> Comparison | None:
    """The alignment of two stored readouts (None when one is gone)."""
    store = get_assistant().store
    a, b = store.get_readout(doc_a), store.get_readout(doc_b)
    return compare(align(a, b, store.embeddings)) if a and b else None


@st.dialog("Compare the two sides' readouts", width="large")
def show_comparison(doc_a: str, doc_b: str) -> None:
    """Both readouts side by side: what both said on one row, what one said alone marked,
    the topics each side alone raises at the top, and the comparison as Markdown."""
    c = comparison_of(doc_a, doc_b, get_assistant().store.generation())
    if c is None:
        st.warning("One of these readouts is no longer in the store.")
        return
    for letter, r, topics in (("A", c.a, c.topics_only_a), ("B", c.b, c.topics_only_b)):
        url = safe_url(r.url)
        link = f" · [original](<{url}>)" if url else ""
        st.markdown(f"**{letter}.** {escape_markdown(r.title or r.doc_id)} · "
                    f"{escape_markdown(r.date or 'undated')} · {escape_markdown(r.source)}{link}")
        st.caption(f"Only {letter} raises: "
                   f"{escape_markdown(', '.join(topics)) if topics else 'nothing the other omits'}")
    al = c.alignment
    st.caption(f"{len(al.matches)} sentence pairs said by both · {len(al.only_a)} only in A · "
               f"{len(al.only_b)} only in B (marked)")
    st.html(COMPARE_CSS + comparison_html(c))
    st.download_button("Export the comparison (.md)", comparison_markdown(c),
                       file_name=f"compare-{doc_a}-{doc_b}.md", mime="text/markdown",
                       on_click="ignore", icon=":material/download:")


def compare_button(doc_id: str, key: str) -> None:
    """"Compare with the other side's readout", when the readout has one."""
    others = other_side_of(doc_id, get_assistant().store.generation())
    if others and st.button("Compare with the other side's readout", key=key,
                            icon=":material/compare:",
                            help=f"Side by side with {others[0][1]}'s readout of this event"):
        show_comparison(doc_id, others[0][0])


def source_heading(markers: str, title: str, date: str | None, source: str) -> str:
    """Markers, title, date and source of a passage, as safe Markdown."""
    bits = [escape_markdown(title), escape_markdown(date or "undated"), escape_markdown(source)]
    prefix = f"**{escape_markdown(markers)}** " if markers else ""
    return prefix + " · ".join(b for b in bits if b)


def render_sources(answer: Answer, turn: int) -> None:
    """Each cited passage with its quotes marked, and a button to open the whole readout."""
    st.markdown("**Sources**")
    for group in cited_passages(answer):
        first = group.first
        markers = " ".join(f"[{c.n}]" for c in group.citations)
        head, button = st.columns([6, 1], vertical_alignment="center")
        head.markdown(source_heading(markers, first.title, first.date, first.source))
        if button.button("Open", key=f"open-{turn}-{first.n}", icon=":material/article:",
                         help="Show the whole readout with the citation highlighted"):
            show_readout(first.doc_id, first.n, answer)
        st.html(passage_html(first.text, citation_spans(group)))
        compare_button(first.doc_id, key=f"compare-{turn}-{first.n}")
        if passage := passage_of(answer, first.chunk_id):
            why_this_passage(passage, answer)


def why_this_passage(passage: Passage, answer: Answer) -> None:
    """On demand: the signals that placed the passage, and the answerability probability."""
    with st.popover("Why this passage", icon=":material/help:"):
        st.caption(f"Ranking score {passage.score:.3f}, the sum of these contributions:")
        st.dataframe(why_passage(passage), hide_index=True)
        if line := answerability_line(answer):
            st.caption(line)


def render_passages(passages: Sequence[Passage], turn: int) -> None:
    """Uncited passages, each openable in its readout."""
    for p in passages:
        head, button = st.columns([6, 1], vertical_alignment="center")
        head.markdown(source_heading("", p.title, p.date, p.source))
        if button.button("Open", key=f"open-{turn}-{p.chunk_id}", icon=":material/article:",
                         help="Show the whole readout around this passage"):
            show_readout(p.doc_id, 0, p)
        st.html(passage_html(p.text))


def render_answer(answer: Answer, turn: int) -> None:
    """An answer with its markers, its sources, and what else retrieval found."""
    if answer.answered:
        st.markdown(answer_markdown(answer.text))
    else:
        st.warning(answer_markdown(answer.text), icon=":material/search_off:")
    if answer.notice:
        st.caption(escape_markdown(answer.notice))
    if answer.citations:
        render_sources(answer, turn)
    if not answer.answered and answer.passages:
        st.markdown("**Closest passages**")
        render_passages(answer.passages, turn)
    elif answer.also_retrieved:
        # Built only while open: every rerun replays the whole conversation to the browser.
        also = st.expander(f"Also retrieved ({len(answer.also_retrieved)})",
                           key=f"also-{turn}", on_change="rerun")
        if also.open:
            with also:
                render_passages(answer.also_retrieved, turn)
    st.caption(f"{escape_markdown(answer.answerer)} · {len(answer.passages)} passages retrieved")


def answer_items(assistant: Assistant, question: str, filters: Filters, k: int,
                 history: Sequence[Turn], answerer: str) -> Iterator[str | Answer]:
    """The assistant's stream, or the extractive answer when the user prefers it to the LLM."""
    if answerer == assistant.answerer.name:
        return assistant.stream(question, filters, k, history)
    answer = assistant.ask(question, filters, k, history, answerer=assistant.extractive)
    return iter((answer.text, answer))


def stream_answer(items: Iterator[str | Answer], turn: int) -> Answer:
    """Show the text as it comes, then replace it with the rendered final answer."""
    slot = st.empty()
    with st.spinner("Searching the readouts…"):
        first = next(items)
    final: list[Answer] = []

    def pieces() -> Iterator[str]:
        for item in itertools.chain([first], items):
            if isinstance(item, Answer):
                final.append(item)
            else:
                yield escape_markdown(item)

    slot.write_stream(pieces())
    with slot.container():
        render_answer(final[-1], turn)
    return final[-1]


# ---- ingestion -----------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def get_ingester() -> Ingester:
    """The process's one ingester, on the shared assistant: ingestions never overlap."""
    return Ingester(get_assistant())


def ingest_busy() -> bool:
    """True while an ingestion started by any session is running."""
    job = get_ingester().job
    return job is not None and job.running


def start_ingest(paths: Sequence[Path], prune: bool = False,
                 uploads: Sequence[UploadResult] = ()) -> None:
    """Start ingesting in the background, keep the job for this session's summary, rerun."""
    st.session_state.upload_results = list(uploads)
    st.session_state.uploader += 1  # a fresh uploader: the saved files leave the widget
    try:
        st.session_state.ingest_job = get_ingester().start(paths, prune)
    except ReadoutsError as exc:
        st.session_state.ingest_job = None
        show_error(exc)
        return
    st.rerun()


@st.fragment(run_every=PROGRESS_POLL_S)
def ingest_progress() -> None:
    """The running ingestion's progress bar; the whole page reruns once it has ended."""
    job = get_ingester().job
    if job is None or not job.running:
        st.rerun()
    if job.total:
        st.progress(job.done / job.total, text=f"Ingesting: {job.done}/{job.total} readouts "
                    "done. Questions keep working meanwhile.")
    else:
        st.progress(0.0, text="Ingesting: reading the files…")


def report_lines(job: IngestJob | None, uploads: Sequence[UploadResult]) -> list[str]:
    """The last run as safe Markdown lines: counts, then every refusal and failure."""
    lines = []
    if job is not None and job.error:
        lines.append(f"Ingestion failed: {escape_markdown(job.error)}")
    elif job is not None and job.report is not None:
        r = job.report
        lines.append(f"Added {len(r.added)} · updated {len(r.updated)} · unchanged "
                     f"{len(r.unchanged)} · removed {len(r.removed)} · failed {len(r.failed)}")
        for f in r.failed:
            where = Path(f.path).name + (f" ({f.record})" if f.record else "")
            lines.append(f"- failed {escape_markdown(where)}: {escape_markdown(f.reason)}")
    lines += [f"- refused {escape_markdown(u.client_name)}: {escape_markdown(u.reason)}"
              for u in uploads if u.status == "refused"]
    return lines


def ingest_status() -> None:
    """While an ingestion runs, its progress; after this session's last one, its summary."""
    if ingest_busy():
        ingest_progress()
        return
    job = st.session_state.get("ingest_job")
    lines = report_lines(job, st.session_state.get("upload_results", []))
    if not lines:
        return
    clean = job is not None and job.report is not None and len(lines) == 1
    summary, dismiss = st.columns([8, 1], vertical_alignment="center")
    (summary.success if clean else summary.warning)("  \n".join(lines))
    if dismiss.button("Dismiss", type="tertiary"):
        st.session_state.ingest_job, st.session_state.upload_results = None, []
        st.rerun()


def ingest_panel(settings: Settings) -> None:
    """Upload files into data/ under safe names, or re-scan it, then ingest in the background."""
    busy = ingest_busy()
    with st.sidebar.expander("Add readouts", icon=":material/upload_file:"):
        files = st.file_uploader(
            f"Readout files ({', '.join(SUPPORTED_SUFFIXES)}); up to "
            f"{settings.upload_max_mb:g} MB each",
            type=[s.lstrip(".") for s in SUPPORTED_SUFFIXES], accept_multiple_files=True,
            max_upload_size=max(1, math.ceil(settings.upload_max_mb)),
            key=f"uploads-{st.session_state.uploader}",
        )
        if st.button("Save and ingest", disabled=busy or not files, type="primary"):
            results = save_uploads(settings.data_dir, [(f.name, f.getvalue()) for f in files],
                                   int(settings.upload_max_mb * 2**20))
            saved = [r.path for r in results if r.path is not None]
            if saved:
                start_ingest(saved, uploads=results)
            else:
                st.session_state.ingest_job, st.session_state.upload_results = None, results
        st.divider()
        prune = st.checkbox("Also remove readouts whose file is gone", key="prune")
        if st.button(f"Re-scan {settings.data_dir.name}/", icon=":material/refresh:",
                     disabled=busy):
            start_ingest([settings.data_dir], prune=prune)


def empty_store_notice(assistant: Assistant) -> None:
    """First run: say why there is nothing to ask yet, and offer to ingest data/."""
    store, settings = assistant.store, assistant.settings
    others = store.other_embedders()
    if others:
        st.error(
            f"The store at {escape_markdown(store.location)} holds readouts embedded with "
            f"{escape_markdown(', '.join(others))}, not with the current embedder "
            f"`{store.embeddings.key}`. Rebuild it for this embedder with "
            "`readouts ingest --rebuild data/` (stop the app first) or the button below, or "
            f"set `READOUTS_EMBEDDER={others[0]}` to use the readouts already there.",
            icon=":material/error:",
        )
    files, _ = discover([settings.data_dir]) if settings.data_dir.is_dir() else ([], [])
    empty = "Nothing in the store is embedded with this embedder." if others else \
        "The store is empty."
    st.info(
        f"**No readouts yet.** {empty} Ingest the {len(files)} readout files "
        f"in `{escape_markdown(str(settings.data_dir))}`, or upload some from the sidebar "
        "(*Add readouts*). Questions work as soon as ingestion ends.",
        icon=":material/info:",
    )
    if st.button(f"Ingest {settings.data_dir.name}/", type="primary",
                 disabled=ingest_busy() or not files):
        start_ingest([settings.data_dir])


# ---- sidebar and collection ----------------------------------------------------------------


def sidebar_filters(stats: CollectionStats, settings: Settings) -> tuple[Filters, int, str]:
    """Filters, passages per question and answerer, as the user set them in the sidebar."""
    st.sidebar.header("Filters")
    since = until = None
    if stats.first_date and stats.last_date:
        picked = st.sidebar.date_input(
            "Dates", value=(stats.first_date, stats.last_date), min_value=stats.first_date,
            max_value=stats.last_date, format="YYYY-MM-DD",
        )
        if isinstance(picked, tuple) and len(picked) == 2:
            # Only a narrowed range filters: undated readouts stay in by default.
            since = picked[0].isoformat() if picked[0] > stats.first_date else None
            until = picked[1].isoformat() if picked[1] < stats.last_date else None
    languages = st.sidebar.multiselect("Languages", stats.languages, key="languages")
    sources = st.sidebar.multiselect("Sources", stats.sources, key="sources")
    countries = st.sidebar.multiselect(
        "Countries (readouts mentioning all of them)", stats.countries,
        format_func=country_name, key="countries",
    )
    k = st.sidebar.slider("Passages per question", 1, 20, settings.top_k, key="k")
    answerer = settings.answerer
    if answerer != "extractive":
        answerer = st.sidebar.radio(
            "Answerer", [settings.answerer, "extractive"], key="answerer",
            help="extractive: copies the best sentences; faster, never paraphrases.",
        )
    filters = Filters(since=since, until=until, languages=tuple(languages),
                      sources=tuple(sources), countries=tuple(countries))
    return filters, k, answerer


def timeline_chart(rows: list[dict[str, Any]], axis: TimelineAxis) -> alt.Chart:
    """Readouts over time, one row per source or country, a tooltip per readout."""
    import altair as alt
    import pandas as pd

    lanes = len({r[axis] for r in rows})
    return (
        alt.Chart(pd.DataFrame(rows))
        .mark_circle(size=70, opacity=0.75)
        .encode(
            x=alt.X("date:T", title=None),
            y=alt.Y(f"{axis}:N", title=None, axis=alt.Axis(labelLimit=280)),
            color=alt.Color("language:N", title="Language"),
            tooltip=[alt.Tooltip("title:N", title="Title"), alt.Tooltip("date:T", title="Date"),
                     alt.Tooltip("source:N", title="Source"),
                     alt.Tooltip("countries:N", title="Countries")],
        )
        .properties(height=max(120, min(26 * lanes, 900)))
        .interactive(bind_y=False)
    )


def collection_panel(infos: list[ReadoutInfo], stats: CollectionStats) -> None:
    """Counts by language and year, and the timeline; built only while the panel is open."""
    noun = "readout" if stats.total == 1 else "readouts"
    panel = st.expander(f"Collection: {stats.total} {noun}", icon=":material/insights:",
                        key="collection", on_change="rerun")
    if not panel.open:
        return
    import pandas as pd  # with altair, a second of imports that the chat alone never needs

    with panel:
        langs, years = st.columns([1, 2])
        langs.dataframe(
            pd.DataFrame(list(stats.by_language.items()), columns=["language", "readouts"]),
            hide_index=True,
        )
        years.bar_chart(pd.DataFrame(list(stats.by_year.items()), columns=["year", "readouts"]),
                        x="year", y="readouts", height=220)
        axis_col, pick_col = st.columns([1, 2])
        axes: tuple[TimelineAxis, ...] = ("country", "source")
        axis = axis_col.radio("One row per", axes, horizontal=True, key="timeline_axis") or axes[0]
        chosen = pick_col.multiselect("Only readouts mentioning", stats.countries,
                                      format_func=country_name, key="timeline_countries")
        rows = timeline_rows(infos, axis, chosen, max_lanes=None if chosen else TIMELINE_LANES)
        if not rows:
            st.info("No dated readout matches.")
            return
        if not chosen:
            lanes = "countries" if axis == "country" else "sources"
            st.caption(f"The {TIMELINE_LANES} {lanes} with most readouts; pick countries to "
                       "see others.")
        st.altair_chart(timeline_chart(rows, axis), width="stretch")


def conversation_buttons(turns: list[Answer]) -> None:
    """Export the conversation as Markdown with its citations, or start afresh."""
    st.download_button(
        "Export conversation (.md)", conversation_markdown(turns),
        file_name=f"readouts-{dt.date.today().isoformat()}.md", mime="text/markdown",
        on_click="ignore", disabled=not turns, icon=":material/download:",
    )
    if st.button("Clear conversation", disabled=not turns):
        st.session_state.turns = []
        st.rerun()


# ---- the page ------------------------------------------------------------------------------


def main() -> None:
    """Lay out the page, replay the conversation, and answer the new question."""
    st.set_page_config(page_title="Readouts", page_icon=":material/forum:", layout="wide")
    st.session_state.setdefault("turns", [])
    st.session_state.setdefault("uploader", 0)  # bumped to empty the file uploader
    st.html(CSS)
    st.title("Readouts")
    st.caption("Ask about leaders' calls and meetings; every claim cites the exact words of "
               "an official readout.")
    try:
        assistant = get_assistant()
        store = assistant.store
        infos = list_readouts(store.location, store.generation(), assistant)
    except ReadoutsError as exc:
        show_error(exc, at_start=True)
        st.stop()
    except ValidationError as exc:
        st.error(f"Invalid setting: {escape_markdown(str(exc))}\n\nFix the `READOUTS_` "
                 "variable named above, then restart the app.", icon=":material/error:")
        st.stop()

    stats = collection_stats(infos)
    filters, k, answerer = sidebar_filters(stats, assistant.settings)
    ingest_panel(assistant.settings)
    turns: list[Answer] = st.session_state.turns
    conversation_slot = st.sidebar.container()  # filled last, to include this run's answer

    ingest_status()
    if stats.total == 0:
        empty_store_notice(assistant)
    else:
        collection_panel(infos, stats)

    for i, answer in enumerate(turns):
        with st.chat_message("user"):
            st.markdown(escape_markdown(answer.question))
        with st.chat_message("assistant"):
            render_answer(answer, i)

    prompt = st.chat_input("Ask about the readouts, e.g. What did Kyrgyzstan say about Taiwan?",
                           disabled=stats.total == 0)
    if prompt:
        with st.chat_message("user"):
            st.markdown(escape_markdown(prompt))
        with st.chat_message("assistant"):
            history = [Turn.of(a) for a in turns[-HISTORY_TURNS:]]
            try:
                items = answer_items(assistant, prompt, filters, k, history, answerer)
                turns.append(stream_answer(items, len(turns)))
            except ReadoutsError as exc:
                show_error(exc)
    with conversation_slot:
        conversation_buttons(turns)


main()
