"""No input ends in a traceback: each broken or hostile case gives one `review: error:`
line and the exit status of its kind (65 bad data, 66 missing, 73 cannot write)."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
from pathlib import Path

import pytest
from _hostile import error_line, example_review, review, rewrite_part, set_toml, sums
from openpyxl import Workbook, load_workbook

RIS = "TY  - JOUR\nTI  - {title}\nPY  - 2020\nER  - \n\n"


def studies_xlsx(path: Path, rows: list[tuple[str, object, object]] | None = None) -> Path:
    book = Workbook()
    ws = book.active
    ws.append(["study", "events", "total"])
    for row in rows or [("a", 3, 10), ("b", 4, 12), ("c", 5, 11)]:
        ws.append(list(row))
    book.save(path)
    return path


# --- workbooks ---------------------------------------------------------------------------


def test_control_characters_are_replaced_in_xlsx_and_said(tmp_path: Path) -> None:
    source = tmp_path / "c.ris"
    source.write_text(RIS.format(title="Bell\x07 and\x1b[2J escape"), encoding="utf-8")
    outcome = review("parse", source, "-o", tmp_path / "c.xlsx")
    assert outcome.code == 0, outcome.stderr
    assert "review: warning: " in outcome.stderr and "control characters" in outcome.stderr
    titles = [c.value for c in load_workbook(tmp_path / "c.xlsx").active["J"]]
    assert "Bell\ufffd and\ufffd[2J escape" in titles


def test_entity_declarations_inside_an_xlsx_are_refused(tmp_path: Path) -> None:
    book = studies_xlsx(tmp_path / "bomb.xlsx")
    laughs = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;">]>')
    rewrite_part(book, "xl/worksheets/sheet1.xml",
                 lambda data: laughs + data)
    error_line(review("pool", book), 65, "bomb.xlsx (xl/worksheets/sheet1.xml)",
               "declares a DTD or entities")


def test_a_malformed_part_inside_an_xlsx_is_one_line(tmp_path: Path) -> None:
    book = studies_xlsx(tmp_path / "broken.xlsx")
    rewrite_part(book, "xl/worksheets/sheet1.xml", lambda data: data[: len(data) // 2])
    error_line(review("pool", book), 65, "broken.xlsx: not a readable .xlsx workbook")


def test_a_password_protected_workbook_is_named_as_such(tmp_path: Path) -> None:
    # Excel wraps an encrypted workbook in an OLE2 file holding an EncryptedPackage stream
    ole = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
           + "EncryptedPackage".encode("utf-16-le") + bytes(1000))
    (tmp_path / "locked.xlsx").write_bytes(ole)
    error_line(review("pool", tmp_path / "locked.xlsx"), 65, "password-protected")


def test_a_stray_value_in_the_last_cell_is_refused_before_loading(tmp_path: Path) -> None:
    book = studies_xlsx(tmp_path / "far.xlsx")
    rewrite_part(book, "xl/worksheets/sheet1.xml",
                 lambda data: data.replace(b'<dimension ref="A1:C4"/>',
                                           b'<dimension ref="A1:XFD1048576"/>'))
    error_line(review("pool", book), 65, "far.xlsx (xl/worksheets/sheet1.xml)",
               "1,048,576 rows by 16,384 columns")


def test_a_stray_value_under_a_false_dimension_is_refused_after_loading(
        tmp_path: Path) -> None:
    book = studies_xlsx(tmp_path / "far.xlsx")
    cell = b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row></sheetData>'
    rewrite_part(book, "xl/worksheets/sheet1.xml",
                 lambda data: data.replace(b"</sheetData>", cell))
    error_line(review("pool", book), 65, "far.xlsx!Sheet", "16,384 columns")


def test_a_long_title_is_refused_by_review_sheet_as_by_parse(tmp_path: Path) -> None:
    source = tmp_path / "long.ris"
    source.write_text(RIS.format(title="x" * 40_000), encoding="utf-8")
    for command in ("sheet", "parse"):
        outcome = review(command, source, "-o", tmp_path / f"{command}.xlsx")
        error_line(outcome, 73, "longer than Excel's 32,767-character limit")
        assert not (tmp_path / f"{command}.xlsx").exists()


# --- CSV ---------------------------------------------------------------------------------


def test_csv_fields_longer_than_pythons_limit_are_read(tmp_path: Path) -> None:
    table = tmp_path / "long.csv"
    table.write_text("study,events,total,notes\n" + "".join(
        f"s{i},{i + 2},20,{'n' * 200_000}\n" for i in range(3)), encoding="utf-8")
    assert review("pool", table).code == 0
    source = tmp_path / "long.ris"
    source.write_text(RIS.format(title="t" * 150_000), encoding="utf-8")
    assert review("parse", source, "-o", tmp_path / "r.csv").code == 0
    again = review("dedupe", tmp_path / "r.csv", "-o", tmp_path / "u.jsonl")
    assert again.code == 0, again.stderr
    assert "t" * 150_000 in (tmp_path / "u.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\uff1d", "'="])
def test_csv_outputs_neutralise_formulas_and_read_back(tmp_path: Path, start: str) -> None:
    title = f"{start}HYPERLINK(\"http://x\") trial"
    source = tmp_path / "f.ris"
    source.write_bytes(RIS.format(title=title).encode("utf-8"))
    assert review("parse", source, "-o", tmp_path / "r.csv").code == 0
    [row] = csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8")))
    assert row["title"] == "'" + title  # a spreadsheet shows it as text
    # read back by the tool: the very text, without the apostrophe
    assert review("dedupe", tmp_path / "r.csv", "-o", tmp_path / "u.jsonl").code == 0
    [back] = (tmp_path / "u.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(back)["title"] == title
    assert review("parse", source, "--raw-csv", "-o", tmp_path / "raw.csv").code == 0
    [raw] = csv.DictReader(io.StringIO((tmp_path / "raw.csv").read_text(encoding="utf-8")))
    assert raw["title"] == title


def test_tab_and_cr_starts_are_quoted_too(tmp_path: Path) -> None:
    from metareview.outputs import write_rows
    from metareview.sheets.common import read_table

    rows = [{"title": "\tTAB", "note": "\r=CR"}, {"title": "plain", "note": "'kept"}]
    write_rows(rows, tmp_path / "t.csv")
    text = (tmp_path / "t.csv").read_bytes().decode("utf-8")
    assert "'\tTAB" in text and "'\r=CR" in text and "''kept" not in text
    table = read_table(tmp_path / "t.csv")  # cells without surrounding whitespace
    assert [c.value for c in table.rows[1]] == ["plain", "'kept"]
    assert [c.value for c in table.rows[0]] == ["TAB", "=CR"]


def test_fullwidth_equals_is_stored_as_text_in_xlsx(tmp_path: Path) -> None:
    source = tmp_path / "f.ris"
    source.write_text(RIS.format(title="\uff1dSUM(A1)"), encoding="utf-8")
    assert review("parse", source, "-o", tmp_path / "r.xlsx").code == 0
    [cell] = [c for c in load_workbook(tmp_path / "r.xlsx").active["J"]
              if c.value == "\uff1dSUM(A1)"]
    assert cell.quotePrefix and cell.data_type == "s"


# --- numbers, XML, review.toml -------------------------------------------------------------


def test_values_near_the_float_limit_are_out_of_range(tmp_path: Path) -> None:
    table = tmp_path / "huge.csv"
    table.write_text("study,events,total\na,1e308,1.7e308\nb,2,10\nc,3,10\n", encoding="utf-8")
    outcome = review("pool", table)
    error_line(outcome, 65, "huge.csv: 2 problems found")
    assert "huge.csv!B2: events is 1e+308, out of range" in outcome.stderr
    generic = tmp_path / "gen.csv"
    generic.write_text("study,yi,vi\na,1e300,0.1\nb,0.2,0.1\n", encoding="utf-8")
    error_line(review("pool", generic, "--design", "generic"), 65)


def test_unterminated_cdata_is_one_line(tmp_path: Path) -> None:
    xml = tmp_path / "cdata.xml"
    xml.write_text('<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle><![CDATA[abc\n'
                   "def\n", encoding="utf-8")
    error_line(review("parse", xml), 65, "cdata.xml:", "CData section not finished")


def test_review_toml_in_utf16_is_read_and_other_encodings_refused(tmp_path: Path) -> None:
    from metareview.config import load_config

    folder = example_review(tmp_path)
    toml = folder / "review.toml"
    text = toml.read_text(encoding="utf-8").replace("Example review", "Revue «exemple»")
    toml.write_bytes(text.encode("utf-16"))
    assert load_config(folder).title.startswith("Revue «exemple»")
    toml.write_bytes(text.encode("latin-1"))
    error_line(review("run", folder), 65, "review.toml: not UTF-8 text")


def test_a_threshold_that_is_not_a_number_is_reported_at_its_line(tmp_path: Path) -> None:
    folder = example_review(tmp_path)
    set_toml(folder, "threshold = 90", 'threshold = "high"')
    outcome = review("run", folder)
    error_line(outcome, 65)
    assert "dedupe.threshold has the wrong type (str)" in outcome.stderr


# --- the file system ----------------------------------------------------------------------


@pytest.mark.parametrize(("number", "said"), [
    (errno.EACCES, "permission denied"), (errno.EROFS, "the file system is read-only"),
    (errno.ENOSPC, "the disk is full")])
def test_a_folder_we_cannot_write_is_exit_73_with_the_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, number: int, said: str) -> None:
    import metareview.fileio as fileio

    source = tmp_path / "a.ris"
    source.write_text(RIS.format(title="A trial"), encoding="utf-8")
    target = tmp_path / "out" / "records.csv"
    target.parent.mkdir()

    def refuse(*args: object, **__: object) -> None:  # as the system call fails: on its file
        raise OSError(number, os.strerror(number), str(args[0]) if args else None)

    # the folder refuses the temporary file (read-only, no permission); a full disk
    # fails the final rename the same way
    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    error_line(review("parse", source, "-o", target), 73, str(target), said)
    monkeypatch.undo()
    monkeypatch.setattr(fileio.os, "replace", refuse)
    error_line(review("parse", source, "-o", target), 73, str(target), said)
    assert list(target.parent.iterdir()) == []  # no temporary file left behind


def test_a_review_folder_we_cannot_write_is_exit_73(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = example_review(tmp_path)
    before = sums(tmp_path)

    def refuse(self: Path, *_: object, **__: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    error_line(review("run", folder), 73, str(folder / "output"), "permission denied")
    assert sums(tmp_path) == before


def test_an_unexpected_failure_is_one_line_too(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    import metareview.poolrun as poolrun

    def boom(*_: object, **__: object) -> None:
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(poolrun, "run_pool", boom)
    error_line(review("pool", studies_xlsx(tmp_path / "s.xlsx")), 70, "internal error",
               "ZeroDivisionError")


