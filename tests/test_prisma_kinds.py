"""PRISMA 2020 for every kind of review: sources by kind (databases, registers, other
methods), records removed before screening, updated reviews (previous studies and
reports), exclusion reasons merged by case and spacing, "no full text" as not retrieved.

Expected counts are worked out by hand from the inputs each test builds."""

from __future__ import annotations

import csv
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from metareview import prisma
from metareview.cli import cli
from metareview.config import load_config
from metareview.errors import InputError, ReviewWarning, ValidationError
from metareview.prisma import FullText, NamedCount, PrismaCounts
from metareview.prisma_diagram import render
from metareview.project import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
FILLED = ROOT / "tests" / "fixtures" / "prisma" / "filled.csv"

pytestmark = pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn")


def svg_texts(data: bytes) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", data.decode())


def csv_counts(path: Path) -> dict[str, str]:
    return {row["data"] if row["data"] != "NA" else row["box"]: row["n"]
            for row in csv.DictReader(path.read_text(encoding="utf-8").splitlines())}


# --- from the pipeline ---------------------------------------------------------------


def test_reasons_differing_in_case_or_spacing_are_merged_with_a_warning() -> None:
    with pytest.warns(ReviewWarning) as caught:
        counts = PrismaCounts.from_pipeline(
            identified={"PubMed": 4}, duplicates=0, screening=["include"] * 4,
            full_text=[FullText(True, "exclude", "Wrong population", "ft.xlsx!J2"),
                       FullText(True, "exclude", "wrong  population ", "ft.xlsx!J3"),
                       FullText(True, "exclude", "wrong population", "ft.xlsx!J4"),
                       FullText(True, "exclude", "wrong population", "ft.xlsx!J5")])
    assert counts.dbr_excluded == (NamedCount("wrong population", 4),)
    [warning] = caught
    text = str(warning.message)
    assert "differ only in case or spacing" in text
    assert "'Wrong population' in ft.xlsx!J2" in text
    assert "'wrong  population' in ft.xlsx!J3" in text
    assert "'wrong population' in ft.xlsx!J4, ft.xlsx!J5" in text


@pytest.mark.parametrize("reason", ["no full text", "No full-text", "full text not available"])
def test_no_full_text_counts_as_not_retrieved(reason: str) -> None:
    counts = PrismaCounts.from_pipeline(
        identified={"PubMed": 3}, duplicates=0, screening=["include"] * 3,
        full_text=[FullText(True, "exclude", reason), FullText(True, "include"),
                   FullText(True, "exclude", "wrong outcome")])
    assert counts.dbr_notretrieved_reports == 1
    assert counts.dbr_assessed == 2
    assert counts.dbr_excluded == (NamedCount("wrong outcome", 1),)
    assert counts.new_reports == 1


def test_other_methods_and_previous_version_from_the_pipeline() -> None:
    counts = PrismaCounts.from_pipeline(
        identified={"PubMed": 10, "Embase": 5}, registers={"ClinicalTrials.gov": 2},
        duplicates=3, excluded_automatic=2, excluded_other=1,
        screening=["exclude"] * 8 + ["include"] * 3,
        full_text=[FullText(True, "include")] * 2 + [FullText(False)],
        other_methods={"websites": 4, "citation searching": 2},
        other_full_text=[FullText(True, "include"), FullText(True, "exclude", "no control"),
                         FullText(True, "exclude", "no full text")],
        previous_studies=6, previous_reports=8)
    assert (counts.database_results, counts.register_results) == (15, 2)
    assert counts.database_specific_results == (NamedCount("PubMed", 10),
                                                NamedCount("Embase", 5))
    assert (counts.website_results, counts.organisation_results,
            counts.citations_results) == (4, 0, 2)
    assert counts.records_screened == 11  # 17 − 3 − 2 − 1
    assert (counts.other_sought_reports, counts.other_notretrieved_reports,
            counts.other_assessed) == (3, 1, 2)
    assert counts.other_excluded == (NamedCount("no control", 1),)
    assert (counts.new_studies, counts.new_reports) == (3, 3)
    assert (counts.total_studies, counts.total_reports) == (9, 11)
    assert "3 new studies (3 reports) included" in counts.summary()
    assert "9 studies (11 reports) in total" in counts.summary()


def test_unknown_other_method_is_refused() -> None:
    with pytest.raises(InputError, match="unknown other method"):
        PrismaCounts.from_pipeline(identified={"PubMed": 1}, duplicates=0,
                                   screening=["exclude"], full_text=[],
                                   other_methods={"hand searching": 1})


def test_report_without_retrieved_is_located() -> None:
    with pytest.raises(InputError) as info:
        PrismaCounts.from_pipeline(identified={"PubMed": 1}, duplicates=0,
                                   screening=["include"],
                                   full_text=[FullText(None, "include", None, "ft.xlsx!J2")])  # type: ignore[arg-type]
    assert info.value.location == "ft.xlsx!J2"


# --- updated reviews: CSV and diagram ------------------------------------------------


@pytest.fixture
def updated() -> PrismaCounts:
    return replace(prisma.read_csv(FILLED), previous_studies=12, previous_reports=15)


def test_updated_review_csv_round_trip(updated: PrismaCounts, tmp_path: Path) -> None:
    text = prisma.to_csv(updated)
    rows = {r["data"]: r["n"] for r in csv.DictReader(text.splitlines())}
    assert (rows["previous_studies"], rows["previous_reports"]) == ("12", "15")
    assert (rows["total_studies"], rows["total_reports"]) == ("31", "38")  # 12+19, 15+23
    assert prisma.read_csv("counts.csv", text) == updated


def test_updated_total_must_add_up(updated: PrismaCounts) -> None:
    text = prisma.to_csv(updated).replace("total_studies.html,31", "total_studies.html,30")
    with pytest.raises(InputError) as info:
        prisma.read_csv("counts.csv", text)
    assert "total_studies (30) differs from previous_studies + new_studies (31)" in str(
        info.value)


def test_previous_reports_at_least_previous_studies(updated: PrismaCounts) -> None:
    with pytest.raises(InputError, match="previous_studies = 12 exceeds previous_reports = 3"):
        replace(updated, previous_reports=3).check()


def test_updated_diagram_draws_previous_and_total_boxes(updated: PrismaCounts) -> None:
    texts = " ".join(svg_texts(render(updated, "svg")))
    for expected in ("Previous studies", "(n = 12)", "(n = 15)", "Total studies included in",
                     "(n = 31)", "(n = 38)", "New studies included in review"):
        assert expected in texts
    new = " ".join(svg_texts(render(prisma.read_csv(FILLED), "svg")))
    assert "Previous studies" not in new and "Total studies" not in new


def test_cli_draws_an_updated_review(updated: PrismaCounts, tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    counts.write_text(prisma.to_csv(updated), encoding="utf-8")
    result = CliRunner().invoke(cli, ["prisma", str(counts), "--check"])
    assert result.exit_code == 0, result.output
    assert "12 studies (15 reports) from the previous version" in result.output
    result = CliRunner().invoke(cli, ["prisma", str(counts), "-o", str(tmp_path / "f.svg")])
    assert result.exit_code == 0, result.output
    assert "Total studies included in" in " ".join(svg_texts((tmp_path / "f.svg").read_bytes()))


# --- review.toml ---------------------------------------------------------------------


@pytest.fixture
def example(tmp_path: Path) -> Path:
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    return target


def edit(folder: Path, old: str, new: str) -> None:
    path = folder / "review.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


JOURNAL = 'database = "Journal website"'


def test_source_kinds_and_previous_counts_are_read(example: Path) -> None:
    edit(example, JOURNAL, JOURNAL + '\nkind = "websites"')
    edit(example, 'database = "PubMed"', 'kind = "database"\nremoved_by_automation = 4')
    (example / "review.toml").open("a").write("\n[prisma]\nprevious_studies = 3\n"
                                              "previous_reports = 4\n")
    config = load_config(example)
    assert [(s.label, s.kind, s.removed_by_automation) for s in config.sources] == [
        ("pubmed", "database", 4), ("journal-site", "websites", 0)]
    assert config.sources[0].database is None  # counted by the records' own database
    assert (config.previous_studies, config.previous_reports) == (3, 4)


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        (JOURNAL, JOURNAL + '\nkind = "website"', "unknown kind 'website'", 19),
        (JOURNAL, JOURNAL + "\nremoved_other = 2", "counted for databases and registers only",
         20),
        ('database = "PubMed"', 'database = "PubMed"\nremoved_other = -1',
         "sources.removed_other is -1, not a count", 13),
        ("[outputs]", "[prisma]\nprevious_studies = 5\nprevious_reports = 2\n[outputs]",
         "previous_studies (5) exceeds previous_reports (2)", 43),
    ],
)
def test_bad_prisma_settings_are_located(example: Path, old: str, new: str, message: str,
                                         line: int) -> None:
    if "removed_other = 2" in new:
        new = new.replace("removed_other", 'kind = "websites"\nremoved_other')
    edit(example, old, new)
    with pytest.raises(ValidationError) as info:
        load_config(example)
    [problem] = info.value.problems
    assert message in problem.message
    assert str(problem.location).endswith(f"review.toml:{line}")


def test_run_counts_sources_by_kind_for_an_updated_review(example: Path) -> None:
    """The example's journal-site source as a website: its record rec:55c4eca239 (found
    there only, marked maybe at title/abstract, excluded at full text for wrong study
    design) moves to the other-methods column; its other record is a duplicate of a
    PubMed record and leaves the databases column. PubMed's 9 records hold 8 unique
    ones, 1 duplicate; 4 more were removed by automation before the export."""
    edit(example, JOURNAL, JOURNAL + '\nkind = "websites"')
    edit(example, 'database = "PubMed"', "removed_by_automation = 4")
    with (example / "review.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n[prisma]\nprevious_studies = 3\nprevious_reports = 4\n")
    summary = run(load_config(example))
    assert summary.stopped is None
    rows = csv_counts(example / "output" / "prisma.csv")
    expected = {
        "database_results": "13", "database_specific_results": "PubMed, 13",
        "website_results": "2", "duplicates": "1", "excluded_automatic": "4",
        "records_screened": "8", "records_excluded": "5", "dbr_sought_reports": "3",
        "dbr_assessed": "3", "dbr_excluded": "wrong population, 1",
        "other_sought_reports": "1", "other_assessed": "1",
        "other_excluded": "wrong study design, 1", "new_studies": "2",
        "previous_studies": "3", "previous_reports": "4", "total_studies": "5",
        "total_reports": "6"}
    assert {k: rows[k] for k in expected} == expected
    svg = " ".join(svg_texts((example / "output" / "prisma.svg").read_bytes()))
    assert "Previous studies" in svg and "Websites (n = 2)" in svg


def test_run_counts_no_full_text_as_not_retrieved(example: Path) -> None:
    ft = example / "screening" / "full-text.xlsx"
    book = load_workbook(ft)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "pmid:31687927":
            ws.cell(row[0].row, head["exclusion_reason"], "No full text")
        if row[0].value == "rec:55c4eca239":
            ws.cell(row[0].row, head["exclusion_reason"], "Wrong Study  Design")
    book.save(ft)
    run(load_config(example))
    rows = csv_counts(example / "output" / "prisma.csv")
    assert rows["dbr_notretrieved_reports"] == "1"
    assert rows["dbr_assessed"] == "3"
    assert rows["dbr_excluded"] == "Wrong Study Design, 1"
