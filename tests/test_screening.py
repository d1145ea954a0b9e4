"""Screening workbooks: written, edited by a reviewer in a spreadsheet, read back, compared."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from metareview.cli import cli
from metareview.errors import InputError, OptionError, OutputError, ValidationError
from metareview.sheets.screening import (
    DEFAULT_REASONS,
    cohen_kappa,
    compare,
    read_screening,
    screening_columns,
    update_screening,
    write_or_update,
    write_screening,
)

RECORDS = [
    {"record_id": "pmid:101", "title": "Zinc for pneumonia in children", "year": 2019.0,
     "abstract": "Background: …", "journal": "Trials", "first_author": "Ade A"},
    {"record_id": "pmid:102", "title": "=HYPERLINK(\"http://evil\")", "year": 2020,
     "journal": "J Hostile Titles"},
    {"record_id": "doi:10.1000/x3", "title": "Vitamin A and measles", "year": 2018},
    {"pmid": "104", "title": "No record id column: made from the PMID", "year": 2021},
]


def _write(tmp_path: Path, name: str = "ta.xlsx", **options: object) -> Path:
    path = tmp_path / name
    write_screening(RECORDS, path, **options)  # type: ignore[arg-type]
    return path


def _edit(path: Path, decisions: dict[str, tuple[object, ...]], *, shuffle: bool = True) -> None:
    """What a reviewer does in Excel: add a column before decision, fill in decisions,
    sort the rows backwards and filter one out (hidden)."""
    book = load_workbook(path)
    ws = book.worksheets[0]
    header = [c.value for c in ws[1]]
    first_work = header.index("decision" if "retrieved" not in header else "retrieved") + 1
    ws.insert_cols(first_work)
    ws.cell(1, first_work, "my own column")
    header = [c.value for c in ws[1]]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    for row in rows:
        row[first_work - 1] = "note"
        names = (("retrieved", "decision", "reason", "exclusion_reason") if "retrieved" in header
                 else ("decision", "reason"))
        for name, value in zip(names, decisions.get(row[0], ()), strict=False):
            if value is not None:
                row[header.index(name)] = value
    if shuffle:
        rows.reverse()
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c, value)
    ws.auto_filter.ref = f"A1:{ws.cell(1, len(header)).column_letter}{len(rows) + 1}"
    ws.row_dimensions[3].hidden = True
    book.save(path)


def test_title_abstract_workbook_layout(tmp_path: Path) -> None:
    path = _write(tmp_path)
    book = load_workbook(path)
    assert book.sheetnames == ["screening", "about"]
    ws = book["screening"]
    assert tuple(c.value for c in ws[1]) == screening_columns("title-abstract")
    assert [c.value for c in ws["A"][1:]] == ["pmid:101", "pmid:102", "doi:10.1000/x3", "pmid:104"]
    # a title that looks like a formula is stored as text
    assert ws["D3"].value == '=HYPERLINK("http://evil")' and ws["D3"].data_type == "s"
    assert ws["C2"].value == 2019
    lists = [v for v in ws.data_validations.dataValidation if v.type == "list"]
    assert [(v.formula1, str(v.sqref)) for v in lists] == [('"include,exclude,maybe"', "H2:H5")]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:J5"


def test_round_trip_with_sorting_filtering_and_added_columns(tmp_path: Path) -> None:
    path = _write(tmp_path)
    _edit(path, {"pmid:101": ("Include",), "pmid:102": ("exclude", "wrong population"),
                 "pmid:104": ("  MAYBE ",)})
    sheet = read_screening(path)
    assert sheet.stage == "title-abstract"
    got = {d.record_id: (d.decision, d.reason) for d in sheet.decisions}
    assert got == {"pmid:101": ("include", None), "pmid:102": ("exclude", "wrong population"),
                   "doi:10.1000/x3": (None, None), "pmid:104": ("maybe", None)}
    # rows were reversed and a column inserted before decision (now column I)
    assert [(d.record_id, d.pending_cell) for d in sheet.pending] == [
        ("doi:10.1000/x3", "ta.xlsx!I3")]
    assert sheet.included() == ("pmid:104", "pmid:101")
    assert sheet.counts() == {"records": 4, "include": 1, "exclude": 1, "maybe": 1,
                              "undecided": 1}


def test_bad_cells_are_all_reported(tmp_path: Path) -> None:
    path = _write(tmp_path)
    book = load_workbook(path)
    ws = book.worksheets[0]
    ws["H2"] = "in"
    ws["A4"] = "pmid:101"  # a pasted duplicate row id
    ws["H5"] = "exclude"
    ws["A5"] = None
    book.save(path)
    with pytest.raises(ValidationError) as caught:
        read_screening(path)
    text = str(caught.value)
    assert "3 problems found" in text
    assert "ta.xlsx!H2: unknown decision 'in'" in text
    assert "ta.xlsx!A4: record pmid:101 appears again (first at A2)" in text
    assert "ta.xlsx!A5: a row without a record_id" in text


def test_missing_columns_and_bad_options(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("id,title\n1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no record_id or decision column"):
        read_screening(path)
    with pytest.raises(OptionError, match="unknown screening stage"):
        write_screening(RECORDS, tmp_path / "x.xlsx", stage="abstract")
    with pytest.raises(OptionError, match="exclusion reasons is empty"):
        write_screening(RECORDS, tmp_path / "x.xlsx", stage="full-text", reasons=[" "])
    with pytest.raises(InputError, match="appears twice"):
        write_screening([*RECORDS, RECORDS[0]], tmp_path / "x.xlsx")


def test_a_csv_export_of_the_sheet_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "ta.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Record ID", "Title", "Decision", "Reason"])
        writer.writerow(["pmid:1", "a", "exclude", "animals"])
        writer.writerow(["pmid:2", "b", "", ""])
    sheet = read_screening(path)
    assert [(d.record_id, d.decision, d.reason) for d in sheet.decisions] == [
        ("pmid:1", "exclude", "animals"), ("pmid:2", None, None)]
    assert [d.cell for d in sheet.pending] == ["ta.csv!C3"]


def test_full_text_workbook_and_outcomes(tmp_path: Path) -> None:
    reasons = ["wrong population", "no control group"]
    path = _write(tmp_path, "ft.xlsx", stage="full-text", reasons=reasons)
    book = load_workbook(path)
    assert book.sheetnames == ["full-text", "reasons", "about"]
    assert [c.value for c in book["reasons"]["A"]] == ["exclusion reason", *reasons]
    ws = book["full-text"]
    assert tuple(c.value for c in ws[1]) == screening_columns("full-text")
    lists = {str(v.sqref): v for v in ws.data_validations.dataValidation}
    assert lists["H2:H5"].formula1 == '"yes,no"'  # retrieved
    assert lists["I2:I5"].formula1 == '"include,exclude"'  # decision
    assert lists["J2:J5"].formula1 == "reasons!$A$2:$A$3"  # exclusion_reason, typing allowed
    assert not lists["J2:J5"].showErrorMessage

    _edit(path, {
        "pmid:101": ("yes", "include"),
        "pmid:102": ("yes", "exclude", None, "no control group"),
        "doi:10.1000/x3": ("no",),
        "pmid:104": ("yes", "exclude"),  # no reason yet: still pending
    }, shuffle=False)
    sheet = read_screening(path)
    assert sheet.stage == "full-text"
    # the exclusion reason is what is missing (column K after the added column)
    assert [(d.record_id, d.pending_cell) for d in sheet.pending] == [("pmid:104", "ft.xlsx!K5")]
    assert sheet.counts() == {"records": 4, "include": 1, "exclude": 1, "undecided": 1,
                              "not_retrieved": 1, "reasons": {"no control group": 1}}
    assert sheet.included() == ("pmid:101",)


def test_cohen_kappa_against_published_examples() -> None:
    # Wikipedia "Cohen's kappa", worked example: 50 proposals, yes/yes 20, yes/no 5,
    # no/yes 10, no/no 15 -> p_o = 0.7, p_e = 0.5, kappa = 0.4.
    observed, expected, kappa = cohen_kappa([[20, 5], [10, 15]])
    assert (observed, expected) == pytest.approx((0.7, 0.5))
    assert kappa == pytest.approx(0.4)
    # Fleiss (1981), Statistical Methods for Rates and Proportions, 2nd ed., table 13.1:
    # two psychiatrists, 100 patients, 3 diagnoses; kappa = 0.676.
    observed, expected, kappa = cohen_kappa([[75, 1, 4], [5, 4, 1], [0, 0, 10]])
    assert (observed, expected) == pytest.approx((0.89, 0.66))
    assert kappa == pytest.approx(0.676, abs=5e-4)
    assert cohen_kappa([[3, 0], [0, 0]])[2] is None  # one category only: undefined
    with pytest.raises(InputError, match="no record was decided by both"):
        cohen_kappa([[0, 0], [0, 0]])


def _reviewer(tmp_path: Path, name: str, decisions: list[str]) -> Path:
    rows = [{"record_id": f"r{i}", "title": f"t{i}"} for i in range(len(decisions))]
    path = tmp_path / name
    write_screening(rows, path)
    book = load_workbook(path)
    for i, decision in enumerate(decisions, start=2):
        book.worksheets[0][f"H{i}"] = decision or None
    book.save(path)
    return path


def test_two_reviewers_agreement_and_conflicts(tmp_path: Path) -> None:
    # the Wikipedia 2x2 example as two workbooks (yes = include, no = exclude) plus one
    # record only the first reviewer decided
    a_decisions = ["include"] * 25 + ["exclude"] * 25 + ["maybe"]
    b_decisions = (["include"] * 20 + ["exclude"] * 5 + ["include"] * 10 + ["exclude"] * 15
                   + [""])
    a = read_screening(_reviewer(tmp_path, "a.xlsx", a_decisions))
    b = read_screening(_reviewer(tmp_path, "b.xlsx", b_decisions))
    agreement = compare(a, b)
    assert agreement.categories == ("include", "exclude", "maybe")
    assert agreement.table == ((20, 5, 0), (10, 15, 0), (0, 0, 0))
    assert agreement.n == 50 and agreement.only_first == 1 and agreement.only_second == 0
    assert agreement.kappa == pytest.approx(0.4)
    assert len(agreement.conflicts) == 15
    first = agreement.conflicts[0]
    assert (first.record_id, first.first, first.second) == ("r20", "include", "exclude")
    assert (first.first_cell, first.second_cell) == ("a.xlsx!H22", "b.xlsx!H22")
    assert agreement.to_dict()["kappa"] == pytest.approx(0.4)


def test_cli_screen_write_status_compare(tmp_path: Path) -> None:
    records = tmp_path / "unique.csv"
    with records.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["record_id", "title", "year", "abstract"])
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in writer.fieldnames} for r in RECORDS[:3])
    runner = CliRunner()
    ta = tmp_path / "ta.xlsx"
    done = runner.invoke(cli, ["screen", str(records), "-o", str(ta)])
    assert done.exit_code == 0, done.output
    assert "3 records for title-abstract screening" in done.output
    _edit(ta, {"pmid:101": ("include",), "pmid:102": ("exclude",)}, shuffle=False)

    status = runner.invoke(cli, ["screen", "status", str(ta)])
    assert status.exit_code == 0, status.output
    assert "records 3, include 1, exclude 1, maybe 0, undecided 1" in status.output
    assert "ta.xlsx!I4  doi:10.1000/x3" in status.output
    data = json.loads(runner.invoke(cli, ["screen", "status", str(ta), "--to", "json"]).output)
    assert data["pending"] == [{"record_id": "doi:10.1000/x3", "cell": "ta.xlsx!I4"}]

    ft = tmp_path / "ft.xlsx"
    full = runner.invoke(cli, ["screen", "--stage", "full-text", str(records), "--screened",
                               str(ta), "-o", str(ft), "--reasons", "animals; no control"])
    assert full.exit_code == 0, full.output
    book = load_workbook(ft)
    assert [c.value for c in book["full-text"]["A"]] == ["record_id", "pmid:101"]
    assert [c.value for c in book["reasons"]["A"]] == ["exclusion reason", "animals",
                                                       "no control"]

    a = _reviewer(tmp_path, "a.xlsx", ["include", "exclude", "exclude"])
    b = _reviewer(tmp_path, "b.xlsx", ["include", "include", "exclude"])
    compared = runner.invoke(cli, ["screen", "compare", str(a), str(b)])
    assert compared.exit_code == 0, compared.output
    assert "Cohen's kappa 0.400" in compared.output  # p_o 2/3, p_e 4/9
    assert "r1: exclude (a.xlsx!H3) vs include (b.xlsx!H3)" in compared.output


def test_cli_screen_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    ta = _write(tmp_path)
    book = load_workbook(ta)
    book.worksheets[0]["H3"] = "yes please"
    book.save(ta)
    bad = runner.invoke(cli, ["screen", "status", str(ta)])
    assert bad.exit_code == 65
    assert "ta.xlsx!H3: unknown decision 'yes please'" in bad.output
    assert "Traceback" not in bad.output

    records = tmp_path / "r.csv"
    records.write_text("record_id,title\npmid:1,x\n", encoding="utf-8")
    out = tmp_path / "ft.xlsx"
    wrong = runner.invoke(cli, ["screen", str(records), "--screened", str(ta), "-o", str(out)])
    assert wrong.exit_code == 64 and "--stage full-text" in wrong.output
    broken = runner.invoke(cli, ["screen", str(records), "--stage", "full-text", "--screened",
                                 str(ta), "-o", str(out)])
    assert broken.exit_code == 65 and not out.exists()
    exists = runner.invoke(cli, ["screen", str(records), "-o", str(ta)])
    assert exists.exit_code == 73 and "use --force" in exists.output
    same = runner.invoke(cli, ["screen", str(records), "-o", str(records), "--force"])
    assert same.exit_code == 73 and "also an input" in same.output
    stage = runner.invoke(cli, ["screen", str(records), "--stage", "abstract", "-o", str(out)])
    assert stage.exit_code == 2


def test_default_reasons_are_offered(tmp_path: Path) -> None:
    path = _write(tmp_path, "ft.xlsx", stage="full-text")
    values = [c.value for c in load_workbook(path)["reasons"]["A"]][1:]
    assert tuple(values) == DEFAULT_REASONS


def test_update_adds_new_records_and_keeps_the_reviewers_work(tmp_path: Path) -> None:
    path = _write(tmp_path)
    _edit(path, {"pmid:101": ("include",), "pmid:102": ("exclude", "animals")})
    newer = [*RECORDS[1:], {"record_id": "pmid:105", "title": "A new search hit", "year": 2024}]
    target = tmp_path / "updated.xlsx"
    done = update_screening(path, newer, target)
    assert done.added == ("pmid:105",)
    assert done.missing == ("pmid:101",)  # left in place, only reported
    sheet = read_screening(target)
    got = {d.record_id: d.decision for d in sheet.decisions}
    assert got == {"pmid:104": None, "doi:10.1000/x3": None, "pmid:102": "exclude",
                   "pmid:101": "include", "pmid:105": None}
    ws = load_workbook(target).worksheets[0]
    # the reviewer's column and row order stay; the new record is the last row, its
    # decision cell (column I after the added column) has the drop-down
    assert ws["H1"].value == "my own column"
    assert [c.value for c in ws["A"]][1:] == ["pmid:104", "doi:10.1000/x3", "pmid:102",
                                              "pmid:101", "pmid:105"]
    assert ws["D6"].value == "A new search hit"
    assert any("I6" in str(v.sqref) and v.formula1 == '"include,exclude,maybe"'
               for v in ws.data_validations.dataValidation)
    assert [d.pending_cell for d in sheet.pending][-1] == "updated.xlsx!I6"


def test_update_keeps_formula_like_text_of_new_records_as_text(tmp_path: Path) -> None:
    path = _write(tmp_path)
    title = "=1+1"
    newer = [*RECORDS, {"record_id": "pmid:105", "title": title, "year": 2024}]
    target = tmp_path / "updated.xlsx"
    assert update_screening(path, newer, target).added == ("pmid:105",)
    ws = load_workbook(target).worksheets[0]
    assert ws["D6"].value == title and ws["D6"].data_type == "s" and ws["D6"].quotePrefix


def test_cli_screen_update(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("record_id,title\npmid:1,one\npmid:2,two\n", encoding="utf-8")
    book = tmp_path / "ta.xlsx"
    runner = CliRunner()
    assert runner.invoke(cli, ["screen", str(records), "-o", str(book)]).exit_code == 0
    _edit(book, {"pmid:1": ("exclude",)}, shuffle=False)
    records.write_text("record_id,title\npmid:1,one\npmid:3,three\n", encoding="utf-8")
    done = runner.invoke(cli, ["screen", str(records), "-o", str(book), "--update"])
    assert done.exit_code == 0, done.output
    assert "1 new record(s) added" in done.output
    assert "no longer among the records (left in place): pmid:2" in done.output
    sheet = read_screening(book)
    assert [(d.record_id, d.decision) for d in sheet.decisions] == [
        ("pmid:1", "exclude"), ("pmid:2", None), ("pmid:3", None)]


def test_write_or_update_filters_by_the_screened_workbook_and_appends(tmp_path: Path) -> None:
    records = tmp_path / "r.csv"
    records.write_text("record_id,title\npmid:1,one\npmid:2,two\npmid:3,three\n",
                       encoding="utf-8")
    ta = tmp_path / "ta.xlsx"
    wrote = write_or_update([records], ta)
    assert (wrote.stage, wrote.records, wrote.update) == ("title-abstract", 3, None)
    assert wrote.summary() == f"wrote {ta}: 3 records for title-abstract screening"
    _edit(ta, {"pmid:1": ("include",), "pmid:2": ("exclude",), "pmid:3": ("maybe",)},
          shuffle=False)

    ft = tmp_path / "ft.xlsx"
    with pytest.raises(OptionError, match="--screened is for the full-text stage"):
        write_or_update([records], ft, screened=ta)
    assert not ft.exists()
    full = write_or_update([records], ft, stage="full-text", screened=ta,
                           reasons=" wrong outcome ;no control group")
    assert full.to_dict() == {"path": str(ft), "stage": "full-text", "records": 2,
                              "update": None}
    assert [d.record_id for d in read_screening(ft).decisions] == ["pmid:1", "pmid:3"]
    assert [c.value for c in load_workbook(ft)["reasons"]["A"]][1:] == [
        "wrong outcome", "no control group"]

    with pytest.raises(OutputError, match="the file exists"):
        write_or_update([records], ta)
    records.write_text("record_id,title\npmid:1,one\npmid:4,four\n", encoding="utf-8")
    updated = write_or_update([records], ta, update=True)
    assert updated.update is not None
    assert (updated.update.added, updated.update.missing) == (("pmid:4",), ("pmid:2", "pmid:3"))
    assert updated.summary().splitlines() == [
        f"updated {ta}: 1 new record(s) added as new rows",
        "2 record(s) in the workbook are no longer among the records (left in place): "
        "pmid:2, pmid:3"]
    assert [(d.record_id, d.decision) for d in read_screening(ta).decisions] == [
        ("pmid:1", "include"), ("pmid:2", "exclude"), ("pmid:3", "maybe"), ("pmid:4", None)]
