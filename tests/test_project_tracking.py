"""`review run` keeps track of records as the review changes: decisions follow a record
through a merge with a new source, and studies excluded at full text are not pooled."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.worksheet.cell_range import MultiCellRange

from metareview.cli import cli
from metareview.config import load_config
from metareview.project import run
from metareview.sheets.screening import read_screening

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RIS = FIXTURES / "project" / "biopython_pubmed_result2_nopmid.ris"
MEDLINE = FIXTURES / "nbib" / "biopython_pubmed_result2.txt"

TOML = """\
[review]
title = "t"

[[sources]]
label = "journal-site"
database = "Journal website"
path = "sources/ris"

[extraction]
design = "proportion"

[analysis]
measure = "PLO"
method = "DL"
"""
PUBMED = """
[[sources]]
label = "pubmed"
database = "PubMed"
path = "sources/pubmed"
"""


def decide(path: Path, decision: str, **extra: str) -> None:
    """Fill every empty decision cell (and ``extra`` columns) of a screening workbook."""
    book = load_workbook(path)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value and not ws.cell(row, head["decision"]).value:
            ws.cell(row, head["decision"], decision)
            for name, value in extra.items():
                ws.cell(row, head[name], value)
    book.save(path)


def extract(path: Path) -> None:
    """Type events and total into every row of the extraction sheet."""
    book = load_workbook(path)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    for row in range(2, ws.max_row + 1):
        if ws.cell(row, 1).value:
            ws.cell(row, head["events"], row)
            ws.cell(row, head["total"], 20)
    book.save(path)


@pytest.fixture
def review(tmp_path: Path) -> Path:
    """A review of the 4 RIS records (no PMIDs), screened, included and extracted."""
    folder = tmp_path / "review"
    (folder / "sources" / "ris").mkdir(parents=True)
    shutil.copy(RIS, folder / "sources" / "ris")
    (folder / "review.toml").write_text(TOML, encoding="utf-8")
    config = load_config(folder)
    run(config)
    decide(config.title_abstract, "include")
    run(config)
    decide(config.full_text, "include", retrieved="yes")
    run(config)
    extract(config.extraction)
    summary = run(config)
    assert summary.report is not None
    return folder


def test_decisions_follow_a_record_that_gains_a_pmid_from_a_new_source(review: Path) -> None:
    config = load_config(review)
    books = (config.title_abstract, config.full_text, config.extraction)
    before = {p: p.read_bytes() for p in books}
    ids = [d.record_id for d in read_screening(config.title_abstract).decisions]
    assert len(ids) == 4 and not any(i.startswith("pmid:") for i in ids)
    (review / "sources" / "pubmed").mkdir()
    shutil.copy(MEDLINE, review / "sources" / "pubmed")
    with (review / "review.toml").open("a", encoding="utf-8") as toml:
        toml.write(PUBMED)
    result = CliRunner().invoke(cli, ["run", str(review)])
    assert result.exit_code == 0, result.output
    # the 4 PubMed records are the 4 RIS records: no row is added or rewritten
    assert "found 4 duplicates; 4 unique records" in result.output
    assert "added" not in result.output and "no longer" not in result.output
    assert {p: p.read_bytes() for p in books} == before
    report = (review / "output" / "report.md").read_text("utf-8")
    assert "4 studies (4 reports) included" in report and "k = 4" in report
    records = (review / "output" / "records.csv").read_text("utf-8")
    assert "pmid:16403221" in records  # the merged records now carry their PMIDs


def test_a_study_excluded_at_full_text_is_not_pooled(review: Path) -> None:
    config = load_config(review)
    book = load_workbook(config.full_text)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    excluded = ws.cell(3, 1).value
    ws.cell(3, head["decision"], "exclude")
    ws.cell(3, head["exclusion_reason"], "wrong outcome")
    book.save(config.full_text)
    extraction = load_workbook(config.extraction).worksheets[0]
    row = next(c.row for c in extraction["A"] if c.value == excluded)
    result = CliRunner().invoke(cli, ["run", str(review)])
    assert result.exit_code == 0, result.output
    assert (f"1 row(s) of extraction/extraction.xlsx are no longer included at full text: "
            f"{excluded} (row {row}) — left out of the pooling") in result.output
    assert "pooled 3 studies" in result.output
    report = (review / "output" / "report.md").read_text("utf-8")
    assert "3 studies (3 reports) included" in report and "k = 3" in report


def test_the_report_names_reports_not_retrieved(review: Path) -> None:
    config = load_config(review)
    book = load_workbook(config.full_text)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    ws.cell(5, head["retrieved"], "no")
    ws.cell(5, head["decision"], None)
    book.save(config.full_text)
    run(config)
    report = (review / "output" / "report.md").read_text("utf-8")
    # the diagram's "Reports not retrieved" box, in the sentence too: 4 − 1 = 3 assessed
    assert "4 reports sought; 1 not retrieved; 3 assessed; 3 studies" in report


def test_the_methods_say_the_log_was_checked_only_when_it_holds_overrides(
        review: Path) -> None:
    config = load_config(review)
    report = review / "output" / "report.md"
    assert "The duplicates log is available for checking." in report.read_text("utf-8")
    assert "checked the duplicates log" not in report.read_text("utf-8")
    (review / "sources" / "pubmed").mkdir()
    shutil.copy(MEDLINE, review / "sources" / "pubmed")
    with (review / "review.toml").open("a", encoding="utf-8") as toml:
        toml.write(PUBMED)
    config = load_config(review)
    run(config)
    assert "checked the duplicates log" not in report.read_text("utf-8")
    log = review / "output" / "duplicates.csv"
    lines = log.read_text("utf-8").splitlines()
    assert lines[0].endswith(",override") and lines[1].endswith(",")
    lines[1] += "duplicate"  # the reviewer confirms one match
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run(config)
    assert ("A reviewer checked the duplicates log and corrected 1 match(es)."
            in report.read_text("utf-8"))


def test_drop_downs_reach_rows_appended_below_their_range(review: Path) -> None:
    config = load_config(review)
    # a workbook whose drop-downs end at its last row (as older versions wrote them)
    book = load_workbook(config.extraction)
    ws = book.worksheets[0]
    for validation in ws.data_validations.dataValidation:
        validation.sqref = MultiCellRange(" ".join(
            f"{c.coord.split(':')[0]}:{c.coord.split(':')[-1].rstrip('0123456789')}5"
            for c in validation.sqref.ranges))
    book.save(config.extraction)
    shutil.copy(FIXTURES / "nbib" / "biopython_pubmed_result1.txt", review / "sources" / "ris")
    run(config)
    decide(config.title_abstract, "include")
    run(config)
    decide(config.full_text, "include", retrieved="yes")
    summary = run(config)
    assert summary.stopped is not None and "extraction.xlsx!I6" in summary.stopped
    for path in (config.title_abstract, config.full_text, config.extraction):
        sheet = load_workbook(path).worksheets[0]
        assert sheet.max_row == 6
        lists = [v for v in sheet.data_validations.dataValidation if v.type == "list"]
        # the decision (retrieved at full text, include in the extraction sheet) drop-down
        assert any("H6" in v.sqref for v in lists), path
