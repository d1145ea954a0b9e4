"""review.toml validation, `review init`, and `review run` on a copy of data/example-review:
idempotence, append-only workbooks, vanished records, duplicates-log overrides."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from metareview import poolrun
from metareview.cli import cli
from metareview.config import init_project, load_config
from metareview.errors import MissingInputError, ValidationError
from metareview.project import STATE_NAME, output_path, run
from metareview.sheets.screening import read_screening

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
FIXTURES = ROOT / "tests" / "fixtures"

# the example's MEDLINE sample withdraws 3 PMIDs; the warning is expected here
pytestmark = pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A copy of the example review without its outputs."""
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    return target


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


# --- review.toml ---------------------------------------------------------------------


def write_toml(folder: Path, text: str) -> Path:
    (folder / "sources" / "pubmed").mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / "pubmed" / "metapub_36987902.xml", folder / "sources" / "pubmed")
    path = folder / "review.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
[review]
title = "t"

[[sources]]
label = "pubmed"
path = "sources/pubmed"
"""


def test_unknown_key_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + "\n[analysis]\nmethod = \"DL\"\nestimator = \"REML\"\n")
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:10"
    assert "unknown key 'estimator' in [analysis]" in problem.message


def test_missing_source_is_reported_with_its_line(tmp_path: Path) -> None:
    text = GOOD + '\n[[sources]]\nlabel = "embase"\npath = "sources/embase.ris"\n'
    path = write_toml(tmp_path, text)
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert isinstance(problem, MissingInputError)
    assert problem.location == f"{path}:10"
    assert "sources/embase.ris does not exist" in problem.message


def test_run_cli_reports_every_problem_and_writes_nothing(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD.replace('title = "t"', 'title = "t"\nsubtitle = "x"')
                      + '[outputs]\ndir = "out"\n[extra]\n')
    result = invoke("run", str(tmp_path))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert (f"review: error: {path}: 2 problems found — fix every line listed below and run "
            "again") in output
    assert f"{path}:3: unknown key 'subtitle' in [review]" in output
    assert f"{path}:10: unknown table [extra]" in output
    assert not (tmp_path / "out").exists()


def test_analysis_settings_are_checked_against_the_design_at_their_line(tmp_path: Path) -> None:
    analysis = ('\n[extraction]\ndesign = "proportion"\n\n[analysis]\nmeasure = "OR"\n'
                'method = "REM"\ntest = "knha"\nlevel = 0\n')
    path = write_toml(tmp_path, GOOD + analysis)
    result = invoke("run", str(tmp_path))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert (f"{path}:12: measure 'OR' does not fit design 'proportion' — choose one of "
            "PLO, PR, PLN, PAS, PFT") in output
    assert f"{path}:13: unknown method 'REM' — choose one of: REML," in output
    assert f"{path}:15: level 0 is not between 0 and 100" in output
    assert "3 problems found" in output  # knha is a known test
    assert not (tmp_path / "output").exists()  # stopped before the first step


def test_analysis_choices_are_spelled_as_pool_spells_them(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmeasure = "pft"\nmethod = "reml"\n')
    analysis = load_config(path).analysis
    assert (analysis.measure, analysis.method, analysis.test) == ("PFT", "REML", "z")


def test_optional_analyses_are_read_from_review_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmods = "year"\npredict = ["year=2000"]\n'
                      'influence = true\ncommon = true\ncumulative = "year"\n')
    analysis = load_config(path).analysis
    assert (analysis.mods, analysis.predict, analysis.influence, analysis.common,
            analysis.cumulative) == ("year", ("year=2000",), True, True, "year")
    assert not load_config(write_toml(tmp_path, GOOD)).analysis.influence


def test_bad_optional_analyses_are_refused_at_their_lines(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmethod = "FE"\ncommon = true\n'
                      'influence = "yes"\npredict = ["year=2000"]\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    found = {p.location: p.message for p in caught.value.problems}
    assert found == {
        f"{path}:10": "common adds the common-effect row to a random-effects analysis; "
                      "method FE is one already",
        f"{path}:11": "analysis.influence has the wrong type (str)",
        f"{path}:12": "predict needs a meta-regression model"}
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmods = "year"\npredict = [2000]\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:10"
    assert problem.message == "analysis.predict holds something other than text"
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmods = "year"\npredict = ["2000"]\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:10"
    assert problem.message == "predict '2000': cannot read '2000'"


def test_glmm_with_a_subgroup_column_is_refused_at_the_method_line(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + '\n[analysis]\nmethod = "GLMM"\nby = "country"\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:9"
    assert problem.message == "by not available with method GLMM"


def test_no_review_toml_is_a_missing_input(tmp_path: Path) -> None:
    result = invoke("run", str(tmp_path))
    assert result.exit_code == 66  # type: ignore[attr-defined]
    assert "create one with `review init DIR`" in result.output  # type: ignore[attr-defined]


# --- review init ---------------------------------------------------------------------


def test_init_writes_the_layout_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "my-review"
    result = invoke("init", str(target), "--title", "Vasospasm")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    for folder in ("sources/pubmed", "screening", "extraction", "output"):
        assert (target / folder).is_dir()
    config = load_config(target)
    assert config.title == "Vasospasm"
    assert [s.label for s in config.sources] == ["pubmed"]
    assert config.title_abstract == target.resolve() / "screening" / "title-abstract.xlsx"
    text = (target / "review.toml").read_text(encoding="utf-8")
    assert text.count("\n#") >= 3  # commented for the reviewer
    before = (target / "review.toml").read_bytes()
    again = invoke("init", str(target))
    assert again.exit_code == 73  # type: ignore[attr-defined]
    assert "a review.toml exists already" in again.output  # type: ignore[attr-defined]
    assert (target / "review.toml").read_bytes() == before


def test_run_on_a_fresh_init_says_the_sources_are_empty(tmp_path: Path) -> None:
    init_project(tmp_path / "r")
    result = invoke("run", str(tmp_path / "r"))
    assert result.exit_code == 66  # type: ignore[attr-defined]
    assert "no article files in this folder" in result.output  # type: ignore[attr-defined]


# --- review run ----------------------------------------------------------------------


def test_run_makes_the_report_and_a_second_run_changes_nothing(example: Path) -> None:
    first = invoke("run", str(example))
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    out = example / "output"
    for name in ("records.csv", "duplicates.csv", "prisma.csv", "prisma.svg", "prisma.png",
                 "results.json", "forest.png", "funnel.svg", "report.html", "report.md",
                 STATE_NAME):
        assert (out / name).stat().st_size > 0, name
    assert "wrote output/report.html" in first.output  # type: ignore[attr-defined]
    before = snapshot(example)
    second = invoke("run", str(example / "review.toml"))  # the file works as well as its folder
    assert second.exit_code == 0  # type: ignore[attr-defined]
    assert second.output == "everything is up to date\n"  # type: ignore[attr-defined]
    assert snapshot(example) == before


def test_glmm_runs_without_the_analyses_it_does_not_support(example: Path) -> None:
    toml = example / "review.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace('method = "DL"', 'method = "GLMM"'),
                    encoding="utf-8")
    result = invoke("run", str(example))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert ("note: leave-one-out and the small-study tests (Egger, Begg, trim-and-fill) are not "
            "run with method GLMM") in output
    assert "pooled 14 studies (PLO, GLMM)" in output
    results = json.loads((example / "output" / "results.json").read_text(encoding="utf-8"))
    assert results["method"] == "GLMM"
    assert "leave_one_out" not in results and "bias" not in results
    report = (example / "output" / "report.md").read_text(encoding="utf-8")
    assert "binomial-normal generalised linear mixed model" in report
    assert "Leave-one-out and small-study tests were not run" in report
    assert "leaving out one study" not in report and "Egger" not in report


def test_reviewer_workbooks_are_never_rewritten(example: Path) -> None:
    workbooks = [example / "screening" / "title-abstract.xlsx",
                 example / "screening" / "full-text.xlsx",
                 example / "extraction" / "extraction.xlsx"]
    before = {p: p.read_bytes() for p in workbooks}
    summary = run(load_config(example))
    assert summary.stopped is None and summary.report is not None
    assert {p: p.read_bytes() for p in workbooks} == before


def test_a_fresh_review_stops_politely_at_screening(example: Path) -> None:
    shutil.rmtree(example / "screening")
    shutil.rmtree(example / "extraction")
    result = invoke("run", str(example))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    # 11 records in the exports (README of the example), one DOI duplicate
    assert "found 1 duplicates; 10 unique records" in output
    assert "10 of 10 record(s) still to decide in screening/title-abstract.xlsx" in output
    assert "title-abstract.xlsx!H2" in output and "title-abstract.xlsx!H11" in output
    assert "then run `review run` again" in output
    assert not (example / "output" / "report.html").exists()
    assert not (example / "screening" / "full-text.xlsx").exists()


def test_new_records_are_appended_and_decisions_kept(example: Path) -> None:
    run(load_config(example))
    ta = example / "screening" / "title-abstract.xlsx"
    old = read_screening(ta)
    shutil.copy(FIXTURES / "pubmed" / "metapub_37167981.xml", example / "sources" / "pubmed")
    lines: list[str] = []
    summary = run(load_config(example), echo=lines.append)
    assert "added 1 new record(s) to screening/title-abstract.xlsx" in lines
    assert summary.stopped is not None
    assert "1 of 11 record(s) still to decide" in summary.stopped
    assert "title-abstract.xlsx!H12  pmid:37167981" in summary.stopped
    new = read_screening(ta)
    assert new.decisions[:-1] == old.decisions  # every earlier decision, same cell
    assert new.decisions[-1].record_id == "pmid:37167981"
    ws = load_workbook(ta).worksheets[0]
    assert ws["D12"].value  # the title is filled in on the appended row
    lists = [v for v in ws.data_validations.dataValidation
             if v.formula1 == '"include,exclude,maybe"']
    assert any("H12" in v.sqref for v in lists)  # the drop-down reaches the new row


def test_vanished_records_are_reported_and_left_in_place(example: Path) -> None:
    (example / "sources" / "pubmed" / "biopython_pubmed4.xml").unlink()
    lines: list[str] = []
    summary = run(load_config(example), echo=lines.append)
    assert summary.stopped is None
    [note] = summary.notes
    assert "no longer among the unique records" in note and "pmid:27797938" in note
    kept = read_screening(example / "screening" / "title-abstract.xlsx").decisions
    assert "pmid:27797938" in [d.record_id for d in kept]
    prisma = (example / "output" / "prisma.csv").read_text(encoding="utf-8")
    rows = {row["data"]: row["n"] for row in csv.DictReader(prisma.splitlines())}
    assert rows["records_screened"] == "9"
    assert rows["records_excluded"] == "5"


def test_override_in_the_duplicates_log_is_read_back(example: Path) -> None:
    run(load_config(example))
    log = example / "output" / "duplicates.csv"
    rows = list(csv.DictReader(log.read_text(encoding="utf-8").splitlines()))
    assert len(rows) == 1 and rows[0]["rule"] == "doi"
    rows[0]["override"] = "not duplicate"
    with log.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = run(load_config(example))
    assert "found 0 duplicates; 11 unique records" in summary.actions
    assert summary.stopped is not None and "1 of 11 record(s) still to decide" in summary.stopped
    again = list(csv.DictReader(log.read_text(encoding="utf-8").splitlines()))
    assert [r["override"] for r in again] == ["not duplicate"]


def test_extraction_rows_no_longer_included_are_reported(example: Path) -> None:
    ft = example / "screening" / "full-text.xlsx"
    book = load_workbook(ft)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "pmid:31383387":
            ws.cell(row[0].row, head["decision"], "exclude")
            ws.cell(row[0].row, head["exclusion_reason"], "wrong outcome")
    book.save(ft)
    summary = run(load_config(example))
    assert any("no longer included at full text: pmid:31383387" in n for n in summary.notes)
    counts = {r["data"]: r["n"] for r in csv.DictReader(
        (example / "output" / "prisma.csv").read_text(encoding="utf-8").splitlines())}
    assert counts["new_studies"] == "1"


def test_a_report_newly_included_is_appended_to_the_extraction_sheet(example: Path) -> None:
    extraction = example / "extraction" / "extraction.xlsx"
    book = load_workbook(extraction)
    book.worksheets[0]["G4"] = "Sinha A 2019"  # a hand-added study with the new one's label
    book.save(extraction)
    before = [[c.value for c in row] for row in load_workbook(extraction).worksheets[0].rows]
    ft = example / "screening" / "full-text.xlsx"
    book = load_workbook(ft)
    ws = book.worksheets[0]
    head = {c.value: c.column for c in ws[1]}
    for row in ws.iter_rows(min_row=2):
        if row[0].value == "pmid:31687927":
            ws.cell(row[0].row, head["decision"], "include")
            ws.cell(row[0].row, head["exclusion_reason"], None)
    book.save(ft)
    result = invoke("run", str(example))
    # the new row waits for its data (or include = no): a polite stop, as in screening
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "added 1 new record(s) to extraction/extraction.xlsx" in output
    rows = [[c.value for c in row] for row in load_workbook(extraction).worksheets[0].rows]
    assert rows[:len(before)] == before
    assert rows[len(before)][0] == "pmid:31687927" and rows[len(before)][7] == "yes"
    assert rows[len(before)][6] == "Sinha A 2019b"  # unique; the filled-in row keeps its own
    new_row = len(before) + 1
    included = sum(1 for row in before[1:] if row[7] != "no") + 1
    assert (f"extraction: 1 of {included} included studies still to extract in "
            "extraction/extraction.xlsx:\n"
            f"  extraction.xlsx!I{new_row}  pmid:31687927  Sinha A 2019b\n"
            "Fill in the data columns (events, total) of these rows (or set include to no "
            "for a study without usable data), save the workbook") in output
    assert not (example / "output" / "report.html").exists()  # it lacks the new study
    # `review pool` on the sheet itself stays strict: every empty cell is an error
    pooled = invoke("pool", str(extraction))
    assert pooled.exit_code == 65  # type: ignore[attr-defined]
    assert f"extraction.xlsx!I{new_row}: events is empty" in pooled.output  # type: ignore[attr-defined]
    # a row filled in part is a mistake, not work still to do
    book = load_workbook(extraction)
    book.worksheets[0][f"I{new_row}"] = 3
    book.save(extraction)
    result = invoke("run", str(example))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    assert f"extraction.xlsx!J{new_row}: total is empty" in result.output  # type: ignore[attr-defined]
    book.worksheets[0][f"J{new_row}"] = 7
    book.save(extraction)
    result = invoke("run", str(example))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert f"pooled {included} studies" in result.output  # type: ignore[attr-defined]


def test_search_date_may_be_a_toml_date(tmp_path: Path) -> None:
    path = write_toml(tmp_path, GOOD + "searched = 2025-01-31\n")
    assert load_config(path).sources[0].searched == "2025-01-31"
    path.write_text(GOOD + "searched = 2025\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    assert caught.value.problems[0].location == f"{path}:7"
    assert "sources.searched has the wrong type (int)" in caught.value.problems[0].message


def test_a_malformed_export_stops_the_run_with_its_location(example: Path) -> None:
    bad = example / "sources" / "pubmed" / "broken.xml"
    bad.write_text("<PubmedArticleSet>\n<PubmedArticle>\n</PubmedArticleSet>\n", encoding="utf-8")
    result = invoke("run", str(example))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    # file:line:col of the damage (the exact line is the XML reader's business)
    assert re.search(r"broken\.xml:\d+:\d+: malformed XML", result.output)  # type: ignore[attr-defined]
    assert not (example / "output" / "records.csv").exists()
    assert not (example / "output" / "report.html").exists()


def test_a_bad_decision_is_reported_with_its_cell(example: Path) -> None:
    invoke("run", str(example))
    report = (example / "output" / "report.md").read_bytes()
    ta = example / "screening" / "title-abstract.xlsx"
    book = load_workbook(ta)
    decided = book.worksheets[0]["H3"].value
    book.worksheets[0]["H3"] = "yes please"
    book.save(ta)
    result = invoke("run", str(example))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "title-abstract.xlsx!H3: unknown decision 'yes please'" in output
    # the old report no longer matches the workbook: it must not pass for current
    assert "note: out of date, removed: output/prisma.csv," in output
    assert not (example / "output" / "report.html").exists()
    book.worksheets[0]["H3"] = decided
    book.save(ta)
    assert invoke("run", str(example)).exit_code == 0  # type: ignore[attr-defined]
    assert (example / "output" / "report.md").read_bytes() == report  # the same numbers


def test_a_polite_stop_leaves_no_outputs_of_earlier_inputs(example: Path) -> None:
    out = example / "output"
    run(load_config(example))
    assert "11 records identified" in (out / "report.md").read_text(encoding="utf-8")
    shutil.copy(FIXTURES / "pubmed" / "metapub_37167981.xml", example / "sources" / "pubmed")
    summary = run(load_config(example))  # stops at the new record: 12 identified now
    assert summary.stopped is not None
    [note] = [n for n in summary.notes if n.startswith("out of date, removed:")]
    assert "output/prisma.csv" in note and "output/report.html" in note
    for name in ("prisma.csv", "results.json", "forest.png", "report.html", "report.md"):
        assert not (out / name).exists(), name
    assert (out / "records.csv").exists() and (out / "duplicates.csv").exists()


def test_review_report_says_which_outputs_it_removed(example: Path) -> None:
    invoke("run", str(example))
    extraction = example / "extraction" / "extraction.xlsx"
    book = load_workbook(extraction)
    book.worksheets[0]["I4"] = "ten"
    book.save(extraction)
    result = invoke("report", str(example))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "note: out of date, removed: output/results.json" in output
    assert "extraction.xlsx!I4: events is 'ten', not a number" in output
    assert not (example / "output" / "report.html").exists()


def test_a_failed_run_leaves_no_outputs_of_earlier_inputs(example: Path) -> None:
    out = example / "output"
    run(load_config(example))
    report = (out / "report.md").read_bytes()
    extraction = example / "extraction" / "extraction.xlsx"
    book = load_workbook(extraction)
    ws = book.worksheets[0]
    assert ws["H4"].value == "yes" and ws["I4"].value == 16  # an included study's events
    ws["I4"] = "ten"
    book.save(extraction)
    result = invoke("run", str(example))
    assert result.exit_code == 65  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "extraction.xlsx!I4: events is 'ten', not a number" in output
    assert ("note: out of date, removed: output/results.json, output/results.md, "
            "output/forest.svg") in output
    for name in ("results.json", "results.md", "forest.svg", "forest.png", "funnel.svg",
                 "funnel.png", "report.html", "report.md"):
        assert not (out / name).exists(), name
    assert (out / "prisma.csv").exists()  # its inputs did not change: it is current
    state = json.loads((out / STATE_NAME).read_text(encoding="utf-8"))
    assert set(state["steps"]) == {"records", "prisma"}
    ws["I4"] = 16
    book.save(extraction)
    assert invoke("run", str(example)).exit_code == 0  # type: ignore[attr-defined]
    assert (out / "report.md").read_bytes() == report  # the same numbers again


@pytest.mark.parametrize("command", ["init", "run", "report"])
def test_help_has_examples(command: str) -> None:
    result = invoke(command, "--help")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "Examples:" in result.output  # type: ignore[attr-defined]
    assert f"review {command} " in result.output  # type: ignore[attr-defined]


def test_an_interrupted_run_leaves_no_outputs_of_earlier_inputs(
        example: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import metareview.project as project

    out = example / "output"
    run(load_config(example))
    assert (out / "results.json").exists()

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(project, "_read_studies", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(load_config(example))
    for name in ("results.json", "forest.png", "report.html", "report.md"):
        assert not (out / name).exists(), name
    assert (out / "prisma.csv").exists()
    state = json.loads((out / STATE_NAME).read_text(encoding="utf-8"))
    assert set(state["steps"]) == {"records", "prisma"}


def test_init_leaves_no_partial_review_toml(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import metareview.config as config

    # a lone surrogate cannot be encoded: the write fails after the file is opened
    monkeypatch.setattr(config, "TEMPLATE", "title = '{title}\ud800'\n")
    with pytest.raises(UnicodeEncodeError):
        init_project(tmp_path / "r")
    assert list((tmp_path / "r").glob("*.toml*")) == []
    assert list((tmp_path / "r").glob(".review.toml*")) == []


# --- a run with nothing changed computes no statistics ------------------------------------


def test_a_run_with_nothing_changed_does_not_pool(example: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(example)
    first = run(config)
    assert any(line.startswith("pooled ") for line in first.actions)
    pooled: list[int] = []
    real = poolrun.run_pool

    def counting(*args: object, **kwargs: object) -> poolrun.PoolReport:
        pooled.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poolrun, "run_pool", counting)
    second = run(load_config(example))
    assert second.actions == () and pooled == []

    # the report gone but the pool current: the report is written again, pooling once
    report = output_path(config, "report_html")
    before = report.read_bytes()
    report.unlink()
    third = run(load_config(example))
    assert pooled == [1] and report.read_bytes() == before
    assert not any(line.startswith("pooled ") for line in third.actions)


def test_changed_options_pool_again(example: Path) -> None:
    run(load_config(example))
    toml = example / "review.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'method = "DL"' in text
    toml.write_text(text.replace('method = "DL"', 'method = "REML"', 1), encoding="utf-8")
    again = run(load_config(example))
    assert any(line.startswith("pooled ") and "REML" in line for line in again.actions)
