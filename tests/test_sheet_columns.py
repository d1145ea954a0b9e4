"""Your own extraction sheet: ``--columns`` maps your headers to ours, and study labels are
built from author and year (``Smith 2010a``, ``Smith 2010b``) where there is no study column."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from files import review_toml, write_csv
from gold_cases import case_id, cases
from metareview.cli import cli
from metareview.config import load_config
from metareview.errors import InputError, OptionError, ValidationError
from metareview.poolrun import PoolOptions, run_pool
from metareview.sheets import common
from metareview.sheets.extraction import (
    parse_columns,
    pending_rows,
    read_extraction,
    study_label,
)

ROOT = Path(__file__).resolve().parents[1]
BCG_COUNTS = ROOT / "docs" / "examples" / "bcg-counts.csv"
BCG_CANONICAL = ROOT / "tests" / "reference" / "data" / "bcg.csv"
PRITZ = ROOT / "tests" / "reference" / "data" / "pritz1997.csv"
BCG_MAP = {"events_1": "tpos", "nonevents_1": "tneg", "events_2": "cpos", "nonevents_2": "cneg"}


def gold(dataset: str, measure: str) -> dict[str, float]:
    """metafor 3.8-1's REML fit (tests/reference/gold.json)."""
    [case] = [c for c in cases() if case_id(c) == f"{dataset}-default-{measure}-REML-z"]
    return dict(case["fit"])


def own_pritz(tmp_path: Path) -> Path:
    """dat.pritz1997 with headers of a reviewer's own making."""
    with PRITZ.open(encoding="utf-8") as handle:
        rows = [[r["study"], r["xi"], r["ni"]] for r in csv.DictReader(handle)]
    return write_csv(tmp_path / "own.csv", ["Trial", "Improved", "Patients"], rows)


# --- the mapping ---------------------------------------------------------------------------


def test_mapped_binary_sheet_pools_as_metafor_and_as_the_canonical_sheet() -> None:
    mapped = read_extraction(BCG_COUNTS, columns=BCG_MAP)
    canonical = read_extraction(BCG_CANONICAL)
    assert mapped.design == "binary" and mapped.k == 13
    assert mapped.values == canonical.values
    options = PoolOptions(measure="RR")
    ours, theirs = run_pool(mapped, options).fit, run_pool(canonical, options).fit
    expected = gold("bcg", "RR")
    assert ours.estimate == pytest.approx(expected["b"], rel=1e-6)
    assert ours.se == pytest.approx(expected["se"], rel=1e-5)
    assert ours.tau2 == pytest.approx(expected["tau2"], rel=1e-5)
    assert (ours.estimate, ours.se, ours.tau2) == (theirs.estimate, theirs.se, theirs.tau2)
    # no study column: labels from author (first name) and year, as in a reference list
    assert mapped.studies[:4] == ("Aronson 1948", "Ferguson 1949", "Rosenthal 1960", "Hart 1977")
    assert mapped.studies[-3:] == ("Comstock 1974", "Comstock 1969", "Comstock 1976")
    # mapped columns go by our names; the rest keep their headers
    assert "alloc" in mapped.columns and "tpos" not in mapped.columns


def test_headers_are_matched_ignoring_case_and_spaces(tmp_path: Path) -> None:
    path = own_pritz(tmp_path)
    table = read_extraction(path, columns={"Events": " improved ", "TOTAL": "PATIENTS",
                                           "study": "trial"})
    assert table.design == "proportion" and table.k == 14
    assert table.values["events"][:2] == (16.0, 10.0)
    assert table.studies[0] == "Giannotta et al."


def test_cli_mapping_gives_the_numbers_of_the_canonical_workbook(tmp_path: Path) -> None:
    path = own_pritz(tmp_path)
    runner = CliRunner()
    mapped = runner.invoke(cli, ["pool", str(path), "--columns", "events=Improved",
                                 "--columns", "total=Patients,study=Trial",
                                 "-o", str(tmp_path / "mapped.json")])
    assert mapped.exit_code == 0, mapped.output
    canonical = runner.invoke(cli, ["pool", str(ROOT / "data" / "extraction.xlsx"),
                                    "-o", str(tmp_path / "canonical.json")])
    assert canonical.exit_code == 0, canonical.output
    ours = json.loads((tmp_path / "mapped.json").read_text(encoding="utf-8"))
    theirs = json.loads((tmp_path / "canonical.json").read_text(encoding="utf-8"))
    for name in ("k", "estimate", "se", "tau2", "q", "summary", "studies"):
        assert ours[name] == theirs[name], name
    assert ours["estimate"] == pytest.approx(gold("pritz1997", "PLO")["b"], rel=1e-6)


def test_a_bad_cell_in_a_mapped_column_names_the_real_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Author", "Year", "Cases", "N"],
                     [["Smith", 2010, 3, 10], ["Jones", 2011, 5, "twenty"],
                      ["Lee", 2012, 12, 9]])
    with pytest.raises(ValidationError) as caught:
        read_extraction(path, columns={"events": "Cases", "total": "N"})
    assert [str(p) for p in caught.value.problems] == [
        "own.csv!D3: total is 'twenty', not a number — enter a number only "
        "(comments go in the notes column)",
        "own.csv!C4: events is 12 but total is 9 — events cannot exceed total; check both cells",
    ]


def test_a_workbook_cell_is_named_with_its_sheet_reference(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "Sheet1"
    for row in (["Trial", "Improved", "Patients"], ["A", 3, 10], ["B", 4, 9], ["C", -1, 8]):
        ws.append(row)
    book.save(tmp_path / "own.xlsx")
    with pytest.raises(ValidationError) as caught:
        read_extraction(tmp_path / "own.xlsx",
                        columns={"events": "Improved", "total": "Patients", "study": "Trial"})
    [problem] = caught.value.problems
    assert problem.location == "own.xlsx!B4"


# --- labels from author and year -----------------------------------------------------------


def test_same_author_and_year_get_reference_list_suffixes(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Authors", "Year", "Events", "N", "include"], [
        ["Smith J, Jones K and Lee M", 2010, 3, 10, "yes"],
        ["Jones K", 2011, 4, 12, "yes"],
        ["Smith J et al.", "2010", 5, 20, "no"],
        ["smith j; Brown A", 2010, 6, 30, "yes"],
        ["Smith J & Green B", 2011, 7, 30, "yes"],
    ])
    table = read_extraction(path, columns={"total": "N"})
    # the excluded row keeps its letter: a study's label does not change when another
    # is left out
    assert table.studies == ("Smith J 2010a", "Jones K 2011", "smith j 2010c", "Smith J 2011")
    assert table.excluded == 1


def test_first_author_and_author_columns_are_used_too(tmp_path: Path) -> None:
    for header in ("first_author", "Author", "First Author"):
        path = write_csv(tmp_path / "own.csv", [header, "year", "events", "total"],
                         [["Aronson", 1948, 4, 123], ["Aronson", 1948, 5, 50]])
        assert read_extraction(path).studies == ("Aronson 1948a", "Aronson 1948b")


def test_workbook_years_are_whole_numbers(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    for row in (["author", "year", "events", "total"], ["Smith", 2010, 3, 10],
                ["Jones", 2011.0, 4, 12]):
        book.active.append(row)
    book.save(tmp_path / "own.xlsx")
    assert read_extraction(tmp_path / "own.xlsx").studies == ("Smith 2010", "Jones 2011")


def test_study_label_takes_the_first_author() -> None:
    assert study_label({"authors": "Smith J; Jones K", "year": "2010"}) == "Smith J 2010"
    assert study_label({"author": "Ferguson & Simes", "year": 1949.0}) == "Ferguson 1949"
    assert study_label({"first_author": "Rosenthal et al", "year": 1960}) == "Rosenthal 1960"
    assert study_label({"authors": "Anderson and Lee"}) == "Anderson"
    assert study_label({}) is None


def test_missing_author_or_year_is_reported_with_every_other_bad_cell(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Author", "Year", "Events", "N"], [
        ["Smith", 2010, 3, 10], ["", 2011, 4, 12], ["Lee", "", 5, 20], ["Kim", 2013, "x", 9]])
    with pytest.raises(ValidationError) as caught:
        read_extraction(path, columns={"total": "N"})
    hint = ("fill it in: without a study column the study label is built from author and "
            "year (or add a study column)")
    assert [str(p) for p in caught.value.problems] == [
        f"own.csv!A3: Author is empty — {hint}",
        f"own.csv!B4: Year is empty — {hint}",
        "own.csv!C5: events is 'x', not a number — enter a number only "
        "(comments go in the notes column)",
    ]


def test_a_built_label_may_still_clash_with_one_given_by_year_text(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["author", "year", "events", "total"],
                     [["Smith", 2010, 1, 5], ["Smith", 2010, 2, 5], ["Smith", "2010a", 3, 5]])
    with pytest.raises(ValidationError) as caught:
        read_extraction(path)
    [problem] = caught.value.problems
    assert str(problem).startswith("own.csv!A4: study 'Smith 2010a' is also in A2")


# --- refused mappings ----------------------------------------------------------------------


def test_unknown_name_lists_the_names_of_the_design(tmp_path: Path) -> None:
    path = own_pritz(tmp_path)
    with pytest.raises(OptionError) as caught:
        read_extraction(path, columns={"events": "Improved", "totl": "Patients"})
    assert caught.value.message == "--columns totl: not a column of a proportion sheet"
    assert caught.value.hint == "map any of: events, total, study, include, author, year"
    with pytest.raises(OptionError, match="map any of: events_1, total_1, events_2, total_2, "
                                          "nonevents_1, nonevents_2, study"):
        read_extraction(BCG_COUNTS, columns={**BCG_MAP, "xi": "trial"})


def test_a_header_the_sheet_lacks_is_named_at_its_first_cell(tmp_path: Path) -> None:
    path = own_pritz(tmp_path)
    with pytest.raises(InputError) as caught:
        read_extraction(path, columns={"events": "Improved", "total": "Treated"})
    assert str(caught.value) == ("own.csv!A1: no column 'Treated' (mapped to total) — columns "
                                 "found: Trial, Improved, Patients; map to one of these")


def test_two_names_for_one_header_are_refused(tmp_path: Path) -> None:
    path = own_pritz(tmp_path)
    with pytest.raises(OptionError, match="maps both events and total to 'patients'"):
        read_extraction(path, columns={"events": "Patients", "total": "patients"})
    with pytest.raises(OptionError, match="gives Total twice"):
        parse_columns(["total=Patients", "Total=N"])
    with pytest.raises(OptionError, match="cannot read 'total'"):
        parse_columns(["events=Improved,total"])


def test_a_column_named_like_a_mapped_one_is_refused_at_its_header(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["study", "events", "Cases", "total"],
                     [["A", 1, 2, 10], ["B", 2, 3, 10]])
    with pytest.raises(ValidationError) as caught:
        read_extraction(path, columns={"events": "Cases"})
    [problem] = caught.value.problems
    assert problem.location == "own.csv!B1"
    assert "'events' would be read as events, which the column mapping reads from 'Cases'" \
        in problem.message


def test_the_missing_column_error_points_at_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Author", "Year", "Events", "N"],
                     [["Smith", 2010, 3, 10]])
    with pytest.raises(InputError) as caught:
        read_extraction(path)
    assert str(caught.value) == (
        "own.csv!A1: no column 'total' for a proportion sheet — columns found: Author, Year, "
        "Events, N; name the column that holds total with --columns total=<header>, or give "
        "the right --design")


def test_no_study_and_no_author_year_recommends_both_in_one_sentence(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Trial", "Events", "N"], [["A", 3, 10]])
    with pytest.raises(InputError) as caught:
        read_extraction(path, columns={"total": "N"})
    assert caught.value.hint == (
        "columns found: Trial, Events, N; name the column that holds study with --columns "
        "study=<header>, or add author and year columns to label the studies (Smith 2010)")
    with pytest.raises(InputError) as caught:
        read_extraction(path)
    assert caught.value.message == "no column 'total', 'study' for a proportion sheet"
    assert caught.value.hint == (
        "columns found: Trial, Events, N; name the columns that hold total and study with "
        "--columns total=<header>,study=<header>, add author and year columns to label the "
        "studies (Smith 2010), or give the right --design")


@pytest.mark.parametrize(("args", "code", "text"), [
    (["--columns", "totl=N"], 64,
     "review: error: --columns totl: not a column of a proportion sheet — map any of: events, "
     "total, study, include, author, year"),
    (["--columns", "total"], 64, "review: error: --columns 'total': cannot read 'total'"),
    (["--columns", "total=N", "--columns", "total=Events"], 64,
     "review: error: --columns gives total twice"),
    (["--columns", "total=N,events=n"], 64,
     "review: error: --columns maps both total and events to 'n'"),
    (["--columns", "total=Patients"], 65,
     "review: error: own.csv!A1: no column 'Patients' (mapped to total) — columns found: "
     "Author, Year, Events, N; map to one of these"),
    ([], 65, "review: error: own.csv!A1: no column 'total' for a proportion sheet — columns "
             "found: Author, Year, Events, N; name the column that holds total with --columns "
             "total=<header>, or give the right --design"),
])
def test_cli_errors(tmp_path: Path, args: list[str], code: int, text: str) -> None:
    path = write_csv(tmp_path / "own.csv", ["Author", "Year", "Events", "N"],
                     [["Smith", 2010, 3, 10], ["Smith", 2010, 5, 20], ["Jones", 2012, 7, 9]])
    result = CliRunner().invoke(cli, ["pool", str(path), *args])
    assert result.exit_code == code
    assert result.output.startswith(text), result.output
    assert "Traceback" not in result.output


def test_cli_labels_and_numbers_of_an_own_sheet(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Author", "Year", "Events", "N"],
                     [["Smith", 2010, 3, 10], ["Smith", 2010, 5, 20], ["Jones", 2012, 7, 9]])
    result = CliRunner().invoke(cli, ["pool", str(path), "--columns", "total=N"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()]
    assert rows[7][:5] == ["Smith", "2010a", "3", "10", "0.300"]
    assert rows[8][:5] == ["Smith", "2010b", "5", "20", "0.250"]
    assert rows[9][:5] == ["Jones", "2012", "7", "9", "0.778"]


def test_pool_help_documents_columns() -> None:
    result = CliRunner().invoke(cli, ["pool", "--help"])
    assert "--columns" in result.output
    assert "review pool own.csv --columns events=Events,total=N" in result.output
    assert "Smith 2010a" in result.output


# --- review.toml ---------------------------------------------------------------------------


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def test_review_toml_takes_a_column_mapping(tmp_path: Path) -> None:
    path = review_toml(tmp_path / "r", 'columns = { Events = "Improved", total = "N" }\n')
    assert load_config(path).analysis.columns == {"events": "Improved", "total": "N"}
    assert load_config(review_toml(tmp_path / "s", "")).analysis.columns == {}


@pytest.mark.parametrize(("setting", "message"), [
    ('columns = { evnts = "Improved" }',
     "columns evnts: not a column of a proportion sheet"),
    ('columns = { events = "N", total = "n" }', "columns maps both events and total to 'n'"),
    ("columns = { events = 3 }", "columns events: the header must be a column name"),
    ('columns = "events=N"', "analysis.columns has the wrong type (str)"),
])
def test_review_toml_bad_mapping_is_reported_at_its_line(tmp_path: Path, setting: str,
                                                         message: str) -> None:
    path = review_toml(tmp_path / "r", setting + "\n")
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    problems = [p for p in caught.value.problems if "sources/pubmed" not in str(p)]
    [problem] = problems
    assert problem.location == f"{path}:{line_of(path, setting)}"
    assert problem.message == message


def test_pending_rows_follow_the_mapping(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "own.csv", ["Trial", "Improved", "N", "Use"],
                     [["A", 3, 10, "yes"], ["B", "", "", "yes"], ["C", "", "", "no"]])
    table = common.read_table(path)
    waiting, included, headers = pending_rows(
        table, "proportion", {"events": "Improved", "total": "N", "study": "Trial",
                              "include": "Use"})
    assert (waiting, included, headers) == ([("own.csv!B3", "B")], 2, ["Improved", "N"])


@pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn")
def test_review_run_pools_a_workbook_with_its_own_headers(tmp_path: Path) -> None:
    example = tmp_path / "review"
    shutil.copytree(ROOT / "data" / "example-review", example,
                    ignore=shutil.ignore_patterns("output"))
    book_path = example / "extraction" / "extraction.xlsx"
    canonical = read_extraction(book_path, design="proportion")
    book = openpyxl.load_workbook(book_path)
    ws = book.worksheets[0]
    renamed = {"events": "Improved", "total": "Treated"}
    for cell in ws[1]:
        cell.value = renamed.get(str(cell.value), cell.value)
    book.save(book_path)
    toml = example / "review.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[analysis]\n", '[analysis]\ncolumns = { events = "Improved", total = "Treated" }\n'),
        encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", str(example)])
    assert result.exit_code == 0, result.output
    pooled = json.loads((example / "output" / "results.json").read_text(encoding="utf-8"))
    expected = run_pool(canonical, load_config(toml).analysis)
    assert pooled["k"] == canonical.k
    assert pooled["estimate"] == pytest.approx(expected.fit.estimate, rel=1e-12)
    assert [s["study"] for s in pooled["studies"]] == list(canonical.studies)
