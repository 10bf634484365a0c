"""Uploaded files land in the data folder under safe names, and never replace another file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.uploads import MAX_NAME_BYTES, UnsafeNameError, safe_name, save_upload, save_uploads

MB = 2**20


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ("readout.txt", "readout.txt"),
        ("../../etc/cron.d/job.txt", "job.txt"),
        ("..\\..\\Windows\\win.ini.md", "win.ini.md"),
        ("/etc/passwd.json", "passwd.json"),
        ("C:\\Users\\me\\call.pdf", "call.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("..txt.md", "txt.md"),
        ("~$draft.docx", "draft.docx"),
        ("CON.txt", "upload-CON.txt"),
        ("nul.json", "upload-nul.json"),
        ("com1.md", "upload-com1.md"),
        ("LPT9.txt", "upload-LPT9.txt"),
        ("con.tar.txt", "upload-con.tar.txt"),
        ("console.txt", "console.txt"),
        ("Réunion à Genève.txt", "Réunion_à_Genève.txt"),
        ("会谈纪要.TXT", "会谈纪要.txt"),
        ("ﬁle.txt", "file.txt"),  # NFKC: the ligature becomes two letters
        ("a\x00b\nc.txt", "abc.txt"),
        ("evil\u202etxt.exe.md", "eviltxt.exe.md"),  # a right-to-left override is dropped
        ("my report (1).txt", "my_report_1.txt"),
        ("a..b....c.md", "a.b.c.md"),
        ("trailing.txt. . ", "trailing.txt"),
        ("-rf.txt", "rf.txt"),
        ("$(rm -rf).txt", "rm_-rf.txt"),
    ],
)
def test_safe_name(client: str, expected: str) -> None:
    assert safe_name(client) == expected


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        ("", "no suffix"),
        ("..", "no suffix"),
        ("../..", "no suffix"),
        ("/etc/passwd", "no suffix"),
        (".txt", "no suffix"),  # only a hidden name: nothing of a readout file left
        (".bashrc", "no suffix"),
        ("_.txt", "no suffix"),
        ("payload.exe", "'.exe'"),
        ("notes.txt.exe", "'.exe'"),
        ("page.php", "'.php'"),
    ],
)
def test_unsafe_names_are_refused(client: str, reason: str) -> None:
    with pytest.raises(UnsafeNameError, match="unsupported file type") as info:
        safe_name(client)
    assert reason in str(info.value)


def test_long_names_are_cut_to_a_safe_length_and_keep_the_suffix() -> None:
    for client in ("a" * 400 + ".txt", "é" * 400 + ".markdown", "中" * 200 + ".jsonl"):
        name = safe_name(client)
        assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
        assert name.endswith(Path(client).suffix)


def test_saves_inside_the_data_folder_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = save_upload(data, "../../outside.txt", b"text", MB)
    assert result.status == "saved"
    assert result.path == data / "outside.txt"
    assert result.path.read_bytes() == b"text"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["data", "outside.txt"]


def test_identical_upload_is_reused_and_a_different_one_gets_a_number(tmp_path: Path) -> None:
    first = save_upload(tmp_path, "call.txt", b"version one", MB)
    again = save_upload(tmp_path, "call.txt", b"version one", MB)
    other = save_upload(tmp_path, "call.txt", b"version two", MB)
    third = save_upload(tmp_path, "sub/call.txt", b"version three", MB)
    other_again = save_upload(tmp_path, "call.txt", b"version two", MB)

    assert (first.status, again.status, other.status) == ("saved", "unchanged", "saved")
    assert first.path == again.path == tmp_path / "call.txt"
    assert other.path == tmp_path / "call-1.txt"
    assert third.path == tmp_path / "call-2.txt"
    assert (other_again.status, other_again.path) == ("unchanged", other.path)
    assert (tmp_path / "call.txt").read_bytes() == b"version one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["call-1.txt", "call-2.txt", "call.txt"]


def test_never_writes_through_a_link_or_over_a_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep me")
    data = tmp_path / "data"
    data.mkdir()
    (data / "call.txt").symlink_to(outside)
    (data / "call-1.txt").mkdir()

    result = save_upload(data, "call.txt", b"keep me", MB)

    assert result.path == data / "call-2.txt"
    assert outside.read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("content", "limit", "reason"),
    [
        (b"x" * (2 * MB + 1), 2 * MB, "over the 2 MB upload limit"),
        (b"", MB, "the file is empty"),
    ],
)
def test_size_limits(tmp_path: Path, content: bytes, limit: int, reason: str) -> None:
    result = save_upload(tmp_path, "big.txt", content, limit)
    assert (result.status, result.path) == ("refused", None)
    assert reason in result.reason
    assert not list(tmp_path.iterdir())


def test_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    assert save_upload(tmp_path, "edge.txt", b"x" * MB, MB).status == "saved"


def test_several_uploads_and_no_temporary_file_left(tmp_path: Path) -> None:
    results = save_uploads(
        tmp_path, [("a.txt", b"a"), ("virus.exe", b"MZ"), ("b.md", b"b"), ("a.txt", b"A")], MB
    )
    assert [r.status for r in results] == ["saved", "refused", "saved", "saved"]
    assert "'.exe'" in results[1].reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-1.txt", "a.txt", "b.md"]
