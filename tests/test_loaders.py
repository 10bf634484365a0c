"""Files -> Readouts: every format, every failure reason, good records next to bad ones."""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from pypdf import PdfReader, PdfWriter

from ingest.loaders import SUPPORTED_SUFFIXES, LoadFailure, discover, load_file
from rag.metadata import derive_title
from rag.schema import Readout
from tests.conftest import SHARED_CORPUS

MB = 1024 * 1024
MAX = 25 * MB
CORPUS = SHARED_CORPUS  # beside the checkout, wherever it is cloned

FRENCH = (
    "Le soir du 22 février 2021, le Président Xi Jinping a eu un entretien téléphonique avec "
    "son homologue kirghize Sadyr Japarov.\n"
    "M. Xi a indiqué que la Chine et le Kirghizistan avaient obtenu des résultats fructueux dans "
    "le cadre de la construction conjointe de « la Ceinture et la Route »."
)
ENGLISH = (
    "Readout of President Biden's Call with President Xi Jinping\n\n"
    "On February 10, 2021, President Biden spoke with President Xi Jinping of the People's "
    "Republic of China. The two leaders discussed the COVID-19 pandemic and climate change."
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def load_one(path: Path, max_bytes: int = MAX) -> Readout:
    result = load_file(path, max_bytes)
    assert result.failures == []
    assert len(result.readouts) == 1
    return result.readouts[0]


def load_failure(path: Path, max_bytes: int = MAX) -> LoadFailure:
    result = load_file(path, max_bytes)
    assert result.readouts == []
    assert len(result.failures) == 1
    return result.failures[0]


def make_pdf(*pages: str, title: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def make_docx(*paragraphs: str, title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- text and Markdown -------------------------------------------------------------------------


def test_text_file_gets_all_metadata_from_its_text(tmp_path: Path) -> None:
    path = write(tmp_path, "Entretien Xi–Japarov (22 février).txt", "\n\n" + FRENCH + "\n  \n")
    readout = load_one(path)
    assert readout == Readout(
        doc_id="entretien-xi-japarov-22-fevrier",
        text=FRENCH,
        title=(
            "Le soir du 22 février 2021, le Président Xi Jinping a eu un entretien téléphonique "
            "avec son homologue kirghize Sadyr…"
        ),
        date="2021-02-22",
        language="fr",
        source="",
        url=None,
        countries=("CN", "KG"),
        path=str(path.resolve()),
        extra={},
    )


def test_line_endings_are_normalised_and_the_rest_kept_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "call.txt", ENGLISH.replace("\n", "\r\n").encode("utf-8"))
    readout = load_one(path)
    assert readout.text == ENGLISH
    assert readout.title == "Readout of President Biden's Call with President Xi Jinping"
    assert (readout.date, readout.language, readout.countries) == ("2021-02-10", "en", ("CN",))


def test_markdown_front_matter_sets_fields_and_extra(tmp_path: Path) -> None:
    body = "# Entretien téléphonique\n\n" + FRENCH + "\n\n- point **un**\n"
    front = (
        "---\n"
        "id: seed-xi-japarov\n"
        "title: Entretien Xi – Japarov\n"
        "date: 2021-02-22\n"
        "language: fr\n"
        "source: Xinhua (French)\n"
        "source_url: https://example.org/xi-japarov\n"
        "tags: [chine, kirghizistan]\n"
        "participants: {cn: Xi Jinping, kg: Sadyr Japarov}\n"
        "priority: 2\n"
        "reviewed: true\n"
        "note: null\n"
        "---\n"
    )
    readout = load_one(write(tmp_path, "xi.md", front + body))
    assert readout.text == body.strip()
    assert (readout.doc_id, readout.title, readout.date, readout.language) == (
        "seed-xi-japarov", "Entretien Xi – Japarov", "2021-02-22", "fr"
    )
    assert (readout.source, readout.url) == ("Xinhua (French)", "https://example.org/xi-japarov")
    assert readout.extra == {
        "tags": '["chine","kirghizistan"]',
        "participants": '{"cn":"Xi Jinping","kg":"Sadyr Japarov"}',
        "priority": 2,
        "reviewed": True,
    }


def test_markdown_title_falls_back_to_the_first_heading(tmp_path: Path) -> None:
    path = write(tmp_path, "call.md", "---\nsource: White House\n---\n# Readout\n\nBody.")
    readout = load_one(path)
    assert (readout.title, readout.text, readout.source) == (
        "Readout", "# Readout\n\nBody.", "White House"
    )


def test_a_leading_rule_that_is_not_front_matter_is_kept(tmp_path: Path) -> None:
    text = "---\nA readout that opens with a rule.\n---\nMore text."
    assert load_one(write(tmp_path, "rule.md", text)).text == text


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("---\ntitle: [unclosed\n---\nBody.", "front matter is not valid YAML: "),
        ("---\ntitle: Only metadata\n---\n\n", "no text after the front matter"),
        ("---\ndate: sometime soon\n---\nBody.",
         "date 'sometime soon' is not a full date (expected YYYY-MM-DD)"),
        ("---\nlanguage: Klingon\n---\nBody.",
         "language 'Klingon' is not an ISO 639-1 code (e.g. 'en', 'fr', 'zh')"),
    ],
)
def test_bad_front_matter_is_a_failure(tmp_path: Path, content: str, reason: str) -> None:
    failure = load_failure(write(tmp_path, "bad.md", content))
    assert failure.reason.startswith(reason)
    assert failure.record is None


# --- decoding ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoded",
    [
        FRENCH.encode("latin-1"),
        FRENCH.encode("utf-8-sig"),
        FRENCH.encode("utf-16"),
    ],
    ids=["latin-1", "utf-8-bom", "utf-16-bom"],
)
def test_legacy_and_bom_encodings_are_decoded(tmp_path: Path, encoded: bytes) -> None:
    readout = load_one(write(tmp_path, "readout.txt", encoded))
    assert readout.text == FRENCH
    assert readout.date == "2021-02-22"


def test_short_latin1_text_is_read_as_windows_1252(tmp_path: Path) -> None:
    text = "Le Président a été reçu à Genève."
    assert load_one(write(tmp_path, "court.txt", text.encode("latin-1"))).text == text


BINARY = "binary file (contains NUL bytes), not a text readout"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("nul.txt", b"Readout\x00\x01\x02 text", BINARY),
        ("nul.jsonl", b'{"text": "a"}\x00', BINARY),
        ("junk.txt", bytes([0x80, 0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xFF, 0xFE] * 40),
         "cannot decode: not UTF-8 and no encoding detected"),
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\r\n ", "empty file"),
        ("bom-only.txt", b"\xef\xbb\xbf", "empty file"),
        ("empty.jsonl", b"\n\n", "empty file"),
        ("empty.html", b"", "empty file"),
    ],
)
def test_undecodable_or_empty_files_fail(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    assert load_failure(write(tmp_path, name, content)).reason == reason


NOT_UTF16 = "(the file starts with a UTF-16 byte-order mark, but what follows is not UTF-16 text)"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        # ASCII behind the mark: read as "最牡慢敧" and one Gurmukhi letter
        ("bin.md", b"\xff\xfe\x00garbage!\n",
         f"not readable text: 4 Chinese characters with no punctuation mark {NOT_UTF16}"),
        ("random.md", b"\xff\xfe\xa5M\xca\x18%0\xbb\x1dm\x13",  # "䶥ᣊ〥ᶻ፭"
         "not readable text: 2 of its 5 characters are unassigned, private-use or control code "
         f"points or letters of scripts out of use {NOT_UTF16}"),
        ("big-endian.txt", b"\xfe\xff" + f"{ENGLISH}.".encode(),
         f"not readable text: 89 Chinese characters with no punctuation mark {NOT_UTF16}"),
        ("swapped.txt",  # UTF-16 in the wrong byte order
         codecs.BOM_UTF16_LE + "윤석열 대통령은 바이든 대통령과 통화했다.".encode("utf-16-be"),
         "not readable text: 7 of its 19 characters are unassigned, private-use or control code "
         f"points or letters of scripts out of use {NOT_UTF16}"),
        ("mixed.txt", b"\xff\xfeT\xd6\xd6\x90\xf5n\xf3]x\x01\x07\xbd",  # "화郖滵巳Ÿ봇"
         "not readable text: its letters switch script 2 times in 6 letters (Han, Hangul) "
         f"{NOT_UTF16}"),
        ("odd-length.txt", b"\xff\xfeabc", f"cannot decode: {NOT_UTF16[1:-1]}"),
        ("utf32.txt", codecs.BOM_UTF32_LE + b"garbage!",
         "cannot decode: the file starts with a UTF-32 byte-order mark, but what follows is "
         "not UTF-32 text"),
        ("records.jsonl", b"\xff\xfe" + b'{"id": "x", "text": "A readout."}\n',
         "not readable text: 4 of its 17 characters are unassigned, private-use or control "
         f"code points or letters of scripts out of use {NOT_UTF16}"),
    ],
)
def test_nonsense_behind_a_byte_order_mark_is_refused(
    tmp_path: Path, name: str, content: bytes, reason: str
) -> None:
    assert load_failure(write(tmp_path, name, content)).reason == reason


def test_a_record_whose_text_is_nonsense_is_refused_alone(tmp_path: Path) -> None:
    lines = [record(id="ok", text=ENGLISH),
             record(id="pua", text="\ue000\ue001\ue002 \ue003\ue004. Readout."),
             record(id="yi", text="ꀀꀁꀂ ꁱꁲꁳ ꂀꂁ"),
             record(id="signs", text="2021-02-22 10:00 +++ 3.14 ### Ok")]
    result = load_file(write(tmp_path, "batch.jsonl", "\n".join(lines) + "\n"), MAX)
    assert [r.doc_id for r in result.readouts] == ["ok"]
    assert [(f.record, f.reason) for f in result.failures] == [
        ("line 2 (id=pua)", "not readable text: 5 of its 14 characters are unassigned, "
         "private-use or control code points or letters of scripts out of use (a binary file, "
         "or text in another encoding?)"),
        ("line 3 (id=yi)", "not readable text: 8 of its 8 characters are unassigned, "
         "private-use or control code points or letters of scripts out of use (a binary file, "
         "or text in another encoding?)"),
        ("line 4 (id=signs)", "not readable text: only 2 of its 27 characters are letters (a "
         "binary file, or text in another encoding?)"),
    ]


@pytest.mark.parametrize(
    "text",
    [FRENCH, ENGLISH, "Le Président a été reçu à Genève.", "Досвидания, товарищ министр.",
     "习近平同拜登通电话。", "岸田首相は、バイデン大統領と電話会談を行いました。",
     "윤석열 대통령은 바이든 대통령과 통화했다.", "مكالمة هاتفية بين الرئيسين.",
     "iPhone和Android手机在APEC会议上。", "Ἀθῆναι: ὁ πρέσβυς, ℃ 20 ℓ, Ω 5 ㎞."],
    ids=["fr", "en", "fr-short", "ru", "zh-short", "ja", "ko", "ar", "zh-latin", "greek-signs"],
)
def test_short_texts_in_many_scripts_are_readable(tmp_path: Path, text: str) -> None:
    for encoding in ("utf-8", "utf-16", "utf-32"):
        assert load_one(write(tmp_path, "t.txt", text.encode(encoding))).text == text


def test_size_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as handle:  # sparse: NUL bytes that are never read
        handle.truncate(int(31.2 * MB))
    assert load_failure(path, max_bytes=25 * MB).reason == (
        "file is 31.2 MB, over the 25 MB limit (READOUTS_MAX_FILE_MB)"
    )


def test_missing_file_fails(tmp_path: Path) -> None:
    reason = load_failure(tmp_path / "missing.txt").reason
    assert reason == "cannot read: No such file or directory"


def test_folder_is_not_a_readout_file(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    assert load_failure(tmp_path / "folder.txt").reason == "not a regular file"


def test_unsupported_file_type_fails(tmp_path: Path) -> None:
    assert load_failure(write(tmp_path, "table.csv", "a,b\n1,2\n")).reason == (
        "unsupported file type '.csv' (supported: .txt, .md, .markdown, .html, .htm, .pdf, "
        ".docx, .json, .jsonl)"
    )


# --- HTML --------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="fr"><head><title>Entretien Xi – Japarov | Xinhua</title>
<link rel="canonical" href="https://example.org/xi-japarov"></head>
<body>
<nav><a href="/">Accueil</a> <a href="/monde">Monde</a> <a href="/contact">Contact</a></nav>
<article>
<h1>Entretien téléphonique entre Xi Jinping et Sadyr Japarov</h1>
<p>Le soir du 22 février 2021, le Président Xi Jinping a eu un entretien téléphonique avec son
homologue kirghize Sadyr Japarov.</p>
<p>M. Xi a indiqué que la Chine et le Kirghizistan avaient obtenu des résultats fructueux dans
le cadre de la construction conjointe de « la Ceinture et la Route ».</p>
</article>
<footer>© 2021 Xinhua. Tous droits réservés. Mentions légales.</footer>
</body></html>
"""


def test_html_main_text_title_and_url(tmp_path: Path) -> None:
    readout = load_one(write(tmp_path, "xi-japarov.html", PAGE))
    assert readout.text.startswith("Entretien téléphonique entre Xi Jinping et Sadyr Japarov\n")
    assert "« la Ceinture et la Route »" in readout.text
    assert "Accueil" not in readout.text
    assert "Mentions légales" not in readout.text
    assert readout.title == "Entretien téléphonique entre Xi Jinping et Sadyr Japarov"
    assert readout.url == "https://example.org/xi-japarov"
    assert (readout.doc_id, readout.date, readout.language, readout.countries) == (
        "xi-japarov", "2021-02-22", "fr", ("CN", "KG")
    )


def test_broken_html_still_loads(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Readout</title><body><p>President Biden spoke today with President "
        "Macron of France. <b>They discussed <i>Ukraine</p></div></span><p>The leaders agreed "
        "to stay in close touch & coordinate."
    )
    readout = load_one(write(tmp_path, "broken.htm", page))
    assert readout.countries == ("FR", "UA")
    assert "close touch & coordinate" in readout.text


@pytest.mark.parametrize(
    "page",
    [
        "<div>" * 100_000 + "deep text" + "</div>" * 100_000,
        "<html><body><script>var readout = 1;</script></body></html>",
    ],
    ids=["deeply-nested", "script-only"],
)
def test_html_without_main_text_fails(tmp_path: Path, page: str) -> None:
    assert load_failure(write(tmp_path, "page.html", page)).reason == (
        "no main text found in the HTML page"
    )


# --- PDF ---------------------------------------------------------------------------------------

PDF_PAGE_1 = "On 8 May 2019, Federal Councillor Ignazio Cassis met the Foreign Minister of Mali."
PDF_PAGE_2 = "The ministers discussed cooperation between Switzerland and Mali."


def test_pdf_pages_are_joined_with_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "cassis.pdf", make_pdf(PDF_PAGE_1, PDF_PAGE_2, title="Cassis in Mali"))
    readout = load_one(path)
    assert readout.text == f"{PDF_PAGE_1}\n\n{PDF_PAGE_2}"
    assert (readout.title, readout.date, readout.language, readout.countries) == (
        "Cassis in Mali", "2019-05-08", "en", ("CH", "ML")
    )


def test_pdf_without_title_uses_its_first_line(tmp_path: Path) -> None:
    readout = load_one(write(tmp_path, "untitled.pdf", make_pdf(PDF_PAGE_1)))
    assert readout.title == PDF_PAGE_1


def test_pdf_without_text_layer_fails(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40)
    path = write(tmp_path, "scan.pdf", bytes(pdf.output()))
    assert load_failure(path).reason == "PDF has no text layer (scanned?): run OCR first"


@pytest.mark.parametrize(
    "content",
    [make_pdf(PDF_PAGE_1)[:400], b"%PDF-1.4\n%garbage"],
    ids=["truncated", "garbage"],
)
def test_corrupt_pdf_fails_with_the_exception_class(tmp_path: Path, content: bytes) -> None:
    reason = load_failure(write(tmp_path, "broken.pdf", content)).reason
    assert re.fullmatch(r"cannot read PDF \(\w*(Error|Exception)\w*: .+\)", reason), reason


def test_password_protected_pdf_fails(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PDF_PAGE_1))))
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    path = write(tmp_path, "locked.pdf", buffer.getvalue())
    assert load_failure(path).reason == "PDF is password-protected: save an unprotected copy"


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_paragraphs_and_title(tmp_path: Path) -> None:
    paragraphs = FRENCH.split("\n")
    path = write(tmp_path, "Xi Japarov.docx", make_docx(*paragraphs, title="Entretien Xi-Japarov"))
    readout = load_one(path)
    assert readout.text == FRENCH
    assert (readout.doc_id, readout.title, readout.date, readout.countries) == (
        "xi-japarov", "Entretien Xi-Japarov", "2021-02-22", ("CN", "KG")
    )


def test_docx_without_title_uses_its_first_paragraph(tmp_path: Path) -> None:
    readout = load_one(write(tmp_path, "call.docx", make_docx("Readout of a call", "", "Body.")))
    assert (readout.title, readout.text) == ("Readout of a call", "Readout of a call\n\nBody.")


def test_docx_without_text_fails(tmp_path: Path) -> None:
    assert load_failure(write(tmp_path, "blank.docx", make_docx())).reason == "DOCX has no text"


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (20 * MB))
    path = write(tmp_path, "bomb.docx", buffer.getvalue())
    assert load_failure(path, max_bytes=MB).reason == (
        "DOCX unpacks to 20.0 MB, over the 16 MB limit (zip bomb?)"
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"PK\x03\x04 not really a zip", "cannot read DOCX (BadZipFile: File is not a zip file)"),
        (make_docx("A readout.")[:2000], "cannot read DOCX (BadZipFile: File is not a zip file)"),
    ],
    ids=["garbage", "truncated"],
)
def test_corrupt_docx_fails_with_the_exception_class(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    assert load_failure(write(tmp_path, "broken.docx", content)).reason == reason


def test_zip_that_is_not_a_docx_fails(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    reason = load_failure(write(tmp_path, "other.docx", buffer.getvalue())).reason
    assert reason.startswith("cannot read DOCX (KeyError: ")


# --- JSON and JSON Lines -----------------------------------------------------------------------


def record(**fields: object) -> str:
    return json.dumps(fields, ensure_ascii=False)


def test_jsonl_good_records_load_next_to_bad_ones(tmp_path: Path) -> None:
    lines = [
        record(id="a", title="First", date="2021-02-22", language="fr", source="Xinhua",
               url="https://example.org/a", text=FRENCH, tags=["x", "y"], rank=3),  # line 1
        "",                                                                          # line 2
        '{"id": "b", "text": "unterminated}',                                        # line 3
        record(id="c", title="No text"),                                             # line 4
        record(text=ENGLISH),                                                        # line 5
        record(id="a", text="Same id again."),                                       # line 6
        json.dumps(["not", "an", "object"]),                                         # line 7
        record(id="d", text="   "),                                                  # line 8
    ]
    path = write(tmp_path, "Batch 2021.jsonl", "\n".join(lines) + "\n")
    result = load_file(path, MAX)
    assert [r.doc_id for r in result.readouts] == ["a", "batch-2021-4"]
    first, second = result.readouts
    assert (first.title, first.date, first.language, first.source, first.url) == (
        "First", "2021-02-22", "fr", "Xinhua", "https://example.org/a"
    )
    assert first.extra == {"tags": '["x","y"]', "rank": 3}
    assert (second.title, second.date, second.language, second.countries) == (
        "Readout of President Biden's Call with President Xi Jinping", "2021-02-10", "en",
        ("CN",),
    )
    assert [(f.record, f.reason) for f in result.failures] == [
        ("line 3", "invalid JSON: Unterminated string starting at (column 21)"),
        ("line 4 (id=c)", "no text: a record needs a non-empty string field 'text'"),
        ("line 6 (id=a)", "duplicate id a (first seen at line 1)"),
        ("line 7", "a record must be a JSON object, got a list"),
        ("line 8 (id=d)", "no text: a record needs a non-empty string field 'text'"),
    ]
    assert {f.path for f in result.failures} == {str(path)}


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"title": 1914}, "title", "1914"),
        ({"title": "  Readout\n of   a call "}, "title", "Readout of a call"),
        ({"id": 42}, "doc_id", "42"),
        ({"id": "  "}, "doc_id", "records-1"),
        ({"date": "2021-02-22"}, "date", "2021-02-22"),
        ({"date": "2021/02/22"}, "date", "2021-02-22"),
        ({"date": "22 February 2021"}, "date", "2021-02-22"),
        ({"date": "22 février 2021"}, "date", "2021-02-22"),
        ({"date": "2021-02-22T18:30:00+08:00"}, "date", "2021-02-22"),
        ({"date": 20210222}, "date", "2021-02-22"),
        ({"date": None}, "date", "2021-02-10"),  # from the text
        ({"language": "FR"}, "language", "fr"),
        ({"language": "fr-CH"}, "language", "fr"),
        ({"language": "fra"}, "language", "fr"),
        ({"language": "French"}, "language", "fr"),
        ({"language": ""}, "language", "en"),  # detected
        ({"source": 7}, "source", "7"),
        ({"url": ""}, "url", None),
        ({"broadcast_date": "2021-02-11", "origin": {"repo": None}, "n": 1.5, "ok": False},
         "extra", {"broadcast_date": "2021-02-11", "origin": '{"repo":null}', "n": 1.5,
                   "ok": False}),
    ],
)
def test_record_fields_are_coerced(
    tmp_path: Path, fields: dict[str, object], attribute: str, expected: object
) -> None:
    path = write(tmp_path, "records.jsonl", record(**{"text": ENGLISH, **fields}))
    assert getattr(load_one(path), attribute) == expected


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": ["a", "b"]}, "'title' must be a string, got a list"),
        ({"id": 1.5}, "'id' must be a string or an integer, got a number"),
        ({"id": True}, "'id' must be a string or an integer, got a boolean"),
        ({"date": "2021"}, "date '2021' is not a full date (expected YYYY-MM-DD)"),
        ({"date": "February 2021"},
         "date 'February 2021' is not a full date (expected YYYY-MM-DD)"),
        ({"date": "2021-02-30"}, "date '2021-02-30' does not exist"),
        ({"date": {"y": 2021}}, "'date' must be a string, got an object"),
        ({"language": "xx"}, "language 'xx' is not an ISO 639-1 code (e.g. 'en', 'fr', 'zh')"),
        ({"language": 12}, "'language' must be a string, got a number"),
        ({"url": ["https://example.org"]}, "'url' must be a string, got a list"),
        ({"text": 12}, "no text: a record needs a non-empty string field 'text'"),
    ],
)
def test_record_fields_of_the_wrong_type_fail(
    tmp_path: Path, fields: dict[str, object], reason: str
) -> None:
    path = write(tmp_path, "records.jsonl", record(**{"id": "r1", "text": ENGLISH, **fields}))
    failure = load_failure(path)
    shown_id = json.dumps(fields["id"]) if "id" in fields else "r1"
    assert (failure.record, failure.reason) == (f"line 1 (id={shown_id})", reason)


def test_json_list_of_records(tmp_path: Path) -> None:
    content = json.dumps([
        {"id": "x", "text": FRENCH},
        {"title": "Second", "text": ENGLISH},
        {"id": "x", "text": "Again"},
        "a string",
    ])
    result = load_file(write(tmp_path, "calls.json", content), MAX)
    assert [(r.doc_id, r.title) for r in result.readouts] == [
        ("x", derive_title(FRENCH)), ("calls-2", "Second")
    ]
    assert [(f.record, f.reason) for f in result.failures] == [
        ("record 3 (id=x)", "duplicate id x (first seen at record 1)"),
        ("record 4", "a record must be a JSON object, got a string"),
    ]


def test_json_single_record_object(tmp_path: Path) -> None:
    path = write(tmp_path, "one.json", record(id="only", date="22/02/2021", text=FRENCH))
    readout = load_one(path)
    assert (readout.doc_id, readout.date, readout.language) == ("only", "2021-02-22", "fr")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('[{"text": "a"},\n {"text": }]',
         "invalid JSON: Expecting value (line 2, column 11)"),
        ('"just a string"', "JSON must be a record object or a list of records, got a string"),
        ("[]", "no records in file"),
    ],
)
def test_unusable_json_files_fail(tmp_path: Path, content: str, reason: str) -> None:
    failure = load_failure(write(tmp_path, "bad.json", content))
    assert (failure.record, failure.reason) == (None, reason)


def test_jsonl_keeps_line_separators_inside_strings(tmp_path: Path) -> None:
    text = "First paragraph.\u2028Still the same line for JSON."
    assert load_one(write(tmp_path, "sep.jsonl", record(id="s", text=text))).text == text


# --- doc ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Entretien Xi–Japarov (22 février).txt", "entretien-xi-japarov-22-fevrier"),
        ("READOUT_2021.02.22.md", "readout_2021.02.22"),
        ("  Spaces   and -- dashes  .txt", "spaces-and-dashes"),
        ("习近平同拜登通电话.txt", "readout-[0-9a-f]{8}"),
        ("Xi 拜登 call.txt", "xi-call-[0-9a-f]{8}"),
    ],
)
def test_doc_id_is_the_slugified_file_name(tmp_path: Path, name: str, expected: str) -> None:
    assert re.fullmatch(expected, load_one(write(tmp_path, name, ENGLISH)).doc_id)


# --- discovery ---------------------------------------------------------------------------------


def test_discover_walks_folders_sorted_and_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for name in ["b.txt", "a.md", "sub/c.pdf", "sub/deeper/d.jsonl", "notes.csv", ".hidden.txt",
                 ".store/chroma.json", "sub/.cache/e.txt", "~$draft.docx", "upper.TXT"]:
        write(data, name, "x")
    files, failures = discover([data])
    assert files == [data / "a.md", data / "b.txt", data / "sub/c.pdf",
                     data / "sub/deeper/d.jsonl", data / "upper.TXT"]
    assert failures == []


def test_discover_reports_missing_and_unsupported_named_paths(tmp_path: Path) -> None:
    named = write(tmp_path, "table.csv", "a,b")
    hidden = write(tmp_path, ".named.txt", "x")
    files, failures = discover([tmp_path / "missing", named, hidden])
    assert files == [hidden]  # named explicitly, so not skipped
    assert failures == [
        LoadFailure(str(tmp_path / "missing"), "no such file or folder"),
        LoadFailure(str(named), "unsupported file type '.csv' (supported: .txt, .md, .markdown, "
                                ".html, .htm, .pdf, .docx, .json, .jsonl)"),
    ]


def test_discover_does_not_follow_links_out_of_the_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    inside = write(data, "inside.txt", "x")
    outside = write(tmp_path / "elsewhere", "secret.txt", "x")
    (data / "a-link.txt").symlink_to(inside)  # sorts first, yet the file keeps its own name
    (data / "to-outside.txt").symlink_to(outside)
    (data / "to-outside-folder").symlink_to(outside.parent, target_is_directory=True)
    (data / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    files, failures = discover([data])
    assert files == [inside]  # the link to it loads it once
    assert failures == [
        LoadFailure(str(data / "to-outside-folder"), f"symbolic link to a folder outside {data}"),
        LoadFailure(str(data / "dangling.txt"), "broken symbolic link"),
        LoadFailure(str(data / "to-outside.txt"), f"symbolic link to a file outside {data}"),
    ]


def test_discover_deduplicates_files_named_twice(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", "x")
    assert discover([tmp_path, path, tmp_path]) == ([path], [])


def test_every_supported_suffix_is_discovered(tmp_path: Path) -> None:
    for suffix in SUPPORTED_SUFFIXES:
        write(tmp_path, f"file{suffix}", "x")
    files, _ = discover([tmp_path])
    assert sorted(p.suffix for p in files) == sorted(SUPPORTED_SUFFIXES)


# --- the shared corpus -------------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")
@pytest.mark.parametrize("name", ["readouts-en.jsonl", "readouts-fr.jsonl", "readouts-zh.jsonl"])
def test_corpus_sample_loads_without_failures(tmp_path: Path, name: str) -> None:
    source = CORPUS / name
    if not source.is_file():
        pytest.skip(f"{name} not in the shared corpus")
    lines = source.read_text(encoding="utf-8").split("\n")[:50]
    records = [json.loads(line) for line in lines if line.strip()]
    result = load_file(write(tmp_path, name, "\n".join(lines) + "\n"), MAX)
    assert result.failures == []
    assert [r.doc_id for r in result.readouts] == [rec["id"] for rec in records]
    assert [r.date for r in result.readouts] == [rec["date"] for rec in records]
    assert [r.language for r in result.readouts] == [rec["language"] for rec in records]
    seed = next((r for r in result.readouts if r.doc_id == "seed-xi-japarov-2021-02-22"), None)
    if seed is not None:
        assert {"CN", "KG"} <= set(seed.countries)
        assert seed.url is None


@pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not available")
def test_every_corpus_readout_is_readable_and_nonsense_when_decoded_wrongly(
    tmp_path: Path,
) -> None:
    """The nonsense check on real readouts: none of the 1,355 is refused, and each of them,
    its UTF-8 bytes behind a UTF-16 byte-order mark or its UTF-16 in the wrong byte order,
    is refused."""
    records = [json.loads(line) for name in ("en", "fr", "zh")
               for line in (CORPUS / f"readouts-{name}.jsonl").open(encoding="utf-8")
               if line.strip()]
    assert len(records) >= 1355
    path = write(tmp_path, "corpus.jsonl", "".join(record(**r) + "\n" for r in records))
    result = load_file(path, 100 * MB)
    assert result.failures == []
    assert len(result.readouts) == len(records)
    wrong = [(b"\xff\xfe", "utf-8"), (b"\xfe\xff", "utf-8"), (b"\xff\xfe", "utf-16-be"),
             (b"\xfe\xff", "utf-16-le")]
    kept = []
    for rec in records:
        for number, (mark, encoding) in enumerate(wrong):
            loaded = load_file(write(tmp_path, f"{number}.txt", mark + rec["text"].encode(
                encoding)), MAX)
            if loaded.readouts:
                kept.append((rec["id"], mark, encoding))
            else:
                assert loaded.failures[0].reason.startswith(("not readable text", "cannot decode"))
    assert kept == []
