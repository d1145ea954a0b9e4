"""Regressions from a QA pass of the `review` command: every fix has its own section."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.dedupe import DedupeResult, Override, dedupe
from metareview.errors import OutputError
from metareview.fileio import check_output
from metareview.records import Article

FIXTURES = Path(__file__).parent / "fixtures"
CROSSREF = FIXTURES / "dedupe" / "bolognese_crossref_unixsd.xml"


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "exp4"
    folder.mkdir()
    shutil.copy(CROSSREF, folder / "crossref.xml")
    return folder


# --- 1. an output never replaces a file inside an input folder or glob ------------------


def test_check_output_expands_folders_and_globs(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    inside = folder / "crossref.xml"
    for source in (folder, str(folder / "*.xml")):
        with pytest.raises(OutputError, match="the output is also an input"):
            check_output(inside, [source], force=True)
    fine = tmp_path / "ok.csv"
    assert check_output(fine, [folder, "-", tmp_path / "nope"]) == fine


@pytest.mark.parametrize(("command", "inside"), [
    (["dedupe", "{folder}", "-o", "{inside}"], "crossref.ris"),
    (["dedupe", "{glob}", "--log", "{inside}", "-o", "{out}"], "records.csv"),
    (["parse", "{folder}", "-o", "{inside}"], "crossref.ris"),
    # the QA report's command: an .xml log is refused by its type before anything is read
    (["dedupe", "{folder}", "--log", "{inside}", "-o", "{out}"], "crossref.xml"),
])
def test_commands_never_overwrite_a_file_in_an_input_folder(tmp_path: Path, command: list[str],
                                                            inside: str) -> None:
    folder = _folder(tmp_path)
    shutil.copy(FIXTURES / "dedupe" / "bolognese_crossref.ris", folder / "crossref.ris")
    (folder / "records.csv").write_text("title,doi\nA title,10.1/x\n", encoding="utf-8")
    target = folder / inside
    before = target.read_bytes()
    names = {"folder": folder, "glob": folder / "*", "inside": target, "out": tmp_path / "ok.csv"}
    result = CliRunner().invoke(cli, [*(a.format(**names) for a in command), "--force"])
    if inside.endswith(".xml"):
        assert result.exit_code == 64 and "unknown output type" in result.output
    else:
        assert result.exit_code == 73, result.output
        assert "the output is also an input" in result.output
    assert target.read_bytes() == before
    assert not (tmp_path / "ok.csv").exists()


# --- 2. sheet and screen: missing files, stdin, folders and globs -------------------------


def _records_csv(tmp_path: Path) -> Path:
    folder = _folder(tmp_path)
    shutil.copy(FIXTURES / "dedupe" / "elife-pubmed_elife-pubmed-12717.xml", folder / "pm.xml")
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(folder), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", [["sheet"], ["screen"], ["screen", "write"]])
def test_missing_records_are_a_clear_error(tmp_path: Path, command: list[str]) -> None:
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(cli, [*command, str(tmp_path / "nope.csv"), "-o", str(out)])
    assert result.exit_code == 66, result.output
    assert "nope.csv: no such file or folder" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()


@pytest.mark.parametrize("command", [["sheet"], ["screen"]])
def test_records_from_stdin_folders_and_globs(tmp_path: Path, command: list[str]) -> None:
    from metareview.sheets.common import read_table

    records = _records_csv(tmp_path)
    runner = CliRunner()
    ways = {
        "stdin.xlsx": (["-"], records.read_bytes()),
        "folder.xlsx": ([str(tmp_path / "exp4")], None),
        "glob.xlsx": ([str(tmp_path / "*" / "*.xml")], None),
        "xml-stdin.xlsx": (["-"], CROSSREF.read_bytes()),
    }
    for name, (args, data) in ways.items():
        out = tmp_path / name
        result = runner.invoke(cli, [*command, *args, "-o", str(out)], input=data)
        assert result.exit_code == 0, (name, result.output)
        titles = [row[3].value for row in read_table(out).rows]
        # the two fixture articles, titles as the XML files give them
        expected = 1 if name == "xml-stdin.xlsx" else 2
        assert len(titles) == expected, name
        assert any(str(t).startswith("Automated quantitative histology") for t in titles)


def test_sheet_never_overwrites_a_records_table_matched_by_its_glob(tmp_path: Path) -> None:
    records = _records_csv(tmp_path)
    table = tmp_path / "exp4" / "records.xlsx"
    shutil.copy(records, table)  # a records table is told by content, not by name
    before = table.read_bytes()
    result = CliRunner().invoke(cli, ["sheet", str(tmp_path / "exp4" / "*"), "-o", str(table),
                                      "--force"])
    assert result.exit_code == 73 and "the output is also an input" in result.output
    assert table.read_bytes() == before


# --- 3. dedupe writes the type its file names say, and - is stdout ---------------------------


def test_dedupe_writes_xlsx_jsonl_ris_and_stdout(tmp_path: Path) -> None:
    import json

    from openpyxl import load_workbook

    records = _records_csv(tmp_path)
    runner = CliRunner()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        both = [str(records), str(CROSSREF)]  # the Crossref article twice: one duplicate
        result = runner.invoke(cli, ["dedupe", *both, "-o", "u.xlsx", "--log", "dl.xlsx"])
        assert result.exit_code == 0, result.output
        for name in ("u.xlsx", "dl.xlsx"):
            assert Path(name).read_bytes().startswith(b"PK\x03\x04")
        unique = list(load_workbook("u.xlsx").active.values)
        assert unique[0][0] == "record_id" and len(unique) == 3
        log = list(load_workbook("dl.xlsx").active.values)
        assert log[0][:3] == ("cluster", "kept", "removed") and log[1][4] == "doi"

        result = runner.invoke(cli, ["dedupe", *both, "-o", "-", "--log", "dl.jsonl"])
        assert result.exit_code == 0, result.output
        assert not Path("-").exists()
        assert result.stdout.startswith("record_id,")
        assert [json.loads(line)["rule"] for line in Path("dl.jsonl").read_text().splitlines()
                ] == ["doi"]

        result = runner.invoke(cli, ["dedupe", *both, "-o", "u.csv", "--log", "-"])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("cluster,kept,removed")

        result = runner.invoke(cli, ["dedupe", *both, "-o", "u.ris"])
        assert result.exit_code == 0, result.output
        assert Path("u.ris").read_text(encoding="utf-8").count("ER  -") == 2

        refused = runner.invoke(cli, ["dedupe", *both, "--log", "dl.ris"])
        assert refused.exit_code == 64 and "not a table" in refused.output
        both_out = runner.invoke(cli, ["dedupe", *both, "--log", "-"])
        assert both_out.exit_code == 64 and "both go to stdout" in both_out.output


def test_write_rows_parquet_keeps_numbers(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from metareview.outputs import write_rows

    out = tmp_path / "log.parquet"
    rows = [{"cluster": 1, "score": 93.5, "kept": "a#0"}, {"cluster": None, "score": 100,
                                                           "kept": "b#1"}]
    assert write_rows(rows, out) == 2
    table = pq.read_table(out)
    assert table.to_pylist() == [{"cluster": 1, "score": 93.5, "kept": "a#0"},
                                 {"cluster": None, "score": 100.0, "kept": "b#1"}]
    assert str(table.schema.field("cluster").type) == "int64"


# --- 4. overrides: counts by rule add up, the log agrees with what was kept ----------------


def _zeb1_twice() -> list[Article]:
    from dataclasses import replace

    from metareview.records import Author, PubDate, Text

    first = Article(source_format="crossref", source_file="crossref.xml", record_index=0,
                    doi="10.7554/eLife.12717", titles=(Text("Zeb1 controls neuron exit"),),
                    pub_date=PubDate(2017), authors=(Author(last="Singh"),))
    # the fuller copy is the one kept, whatever the reviewer wrote as "kept"
    second = replace(first, source_file="other.xml", issue="3", first_page="1",
                     last_page="9", volume="6")
    third = replace(first, source_file="third.ris", doi=None,
                    titles=(Text("An unrelated title about mice"),))
    return [first, second, third]


def _consistent(result: DedupeResult) -> None:
    assert sum(result.rule_counts().values()) == result.n_removed
    kept = {r.members[0] for r in result.records}
    removed = {m for r in result.records for m in r.members[1:]}
    for link in result.log:
        assert link.removed not in kept or link.cluster is None, link
        if link.cluster is not None:
            assert link.kept in kept and link.removed in removed, link


@pytest.mark.parametrize("pair", [("crossref.xml#0", "other.xml#0"),
                                  ("other.xml#0", "crossref.xml#0")])
def test_a_merge_override_of_a_pair_the_rules_found_counts_once(pair: tuple[str, str]) -> None:
    result = dedupe(_zeb1_twice()[:2], overrides=[Override(*pair, True, "duplicate")])
    assert (result.n_removed, result.rule_counts()) == (1, {"doi": 1})
    assert [(link.kept, link.removed, link.override) for link in result.log] == [
        ("other.xml#0", "crossref.xml#0", "duplicate")]
    _consistent(result)


def test_overrides_between_removed_records_and_kept_apart_pairs() -> None:
    from dataclasses import replace

    records = _zeb1_twice()
    records.append(replace(records[0], record_index=1))  # a third copy: two removed
    merge = Override("crossref.xml#0", "crossref.xml#1", True, "duplicate")
    result = dedupe(records, overrides=[merge])
    assert result.n_removed == 2
    assert [link.override for link in result.log].count("duplicate") == 1
    _consistent(result)
    apart = Override("other.xml#0", "third.ris#0", False, "not duplicate")
    joined = Override("other.xml#0", "third.ris#0", True, "duplicate")
    for override, removed in ((apart, 2), (joined, 3)):
        result = dedupe(records, overrides=[override])
        assert result.n_removed == removed
        _consistent(result)


def test_cli_override_summary_adds_up(tmp_path: Path) -> None:
    import csv

    runner = CliRunner()
    inputs = [str(tmp_path / "exp4")]
    _folder(tmp_path)
    shutil.copy(FIXTURES / "dedupe" / "bolognese_crossref.ris", tmp_path / "exp4" / "other.ris")
    first = runner.invoke(cli, ["dedupe", *inputs, "-o", str(tmp_path / "u.csv"),
                                "--log", str(tmp_path / "log.csv")])
    assert first.exit_code == 0, first.output
    with open(tmp_path / "log.csv", newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    # the reviewer confirms the pair, naming it the other way round
    row["kept"], row["removed"], row["override"] = row["removed"], row["kept"], "duplicate"
    with open(tmp_path / "log.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    again = runner.invoke(cli, ["dedupe", *inputs, "-o", str(tmp_path / "u2.csv"),
                                "--overrides", str(tmp_path / "log.csv"),
                                "--log", str(tmp_path / "log2.csv")])
    assert again.exit_code == 0, again.output
    assert "2 records read, 1 unique, 1 duplicates removed (doi 1)" in again.output
    with open(tmp_path / "log2.csv", newline="", encoding="utf-8") as handle:
        (carried,) = list(csv.DictReader(handle))
    assert (carried["kept"], carried["removed"]) == (row["removed"], row["kept"])
    assert carried["override"] == "duplicate"


# --- 5. the sheet check names the cell of every value the engine would refuse --------------


@pytest.mark.parametrize(("table", "cell", "what"), [
    ("study,mean_1,sd_1,n_1,mean_2,sd_2,n_2\nA,1,0,10,2,1,10\nB,1,1,10,2,1.5,12\n",
     "C2", "sd_1 is 0"),
    ("study,mean_1,sd_1,n_1,mean_2,sd_2,n_2\nA,1,1,10,2,1,10\nB,1,1,10,2,0.0,12\n",
     "F3", "sd_2 is 0"),
    ("study,ai,bi,ci,di\nA,0,0,1,5\nB,2,3,1,5\n", "C2", "events_1 and nonevents_1 are both 0"),
])
def test_pool_names_the_cell_of_impossible_study_data(tmp_path: Path, table: str, cell: str,
                                                      what: str) -> None:
    from metareview.errors import ValidationError
    from metareview.sheets.extraction import read_extraction

    path = tmp_path / "sd0.csv"
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        read_extraction(path)
    assert [p.location for p in caught.value.problems] == [f"sd0.csv!{cell}"]
    result = CliRunner().invoke(cli, ["pool", str(path)])
    assert result.exit_code == 65
    assert f"sd0.csv!{cell}: {what}" in result.output
    assert "in study" not in result.output


# --- 6. rows typed in below the prefilled studies are validated too ------------------------


@pytest.mark.parametrize("rows", [0, 2])
def test_extraction_validation_reaches_typed_rows(tmp_path: Path, rows: int) -> None:
    from openpyxl import load_workbook

    args = [str(_records_csv(tmp_path))] if rows else []
    out = tmp_path / "x.xlsx"
    result = CliRunner().invoke(cli, ["sheet", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    ws = load_workbook(out)["extraction"]
    header = [c.value for c in ws[1]]
    covered: dict[str, int] = {}
    for validation in ws.data_validations.dataValidation:
        for cells in validation.sqref.ranges:
            covered[header[cells.min_col - 1]] = cells.max_row
    assert set(covered) == {"include", "events", "total"}
    # a study typed in 100 rows below the last prefilled one gets its drop-down and checks
    assert all(last >= 1 + rows + 100 for last in covered.values()), covered
    assert all(last >= 200 for last in covered.values())


# --- 7. PRISMA: the hinted command works; semicolon-separated counts are read ---------------


def test_prisma_hint_is_a_command_that_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             ) -> None:
    import shlex

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["prisma", str(bad), "--check"])
    assert result.exit_code == 65
    hinted = result.output.rsplit("review prisma", 1)[1].strip()
    monkeypatch.chdir(tmp_path)
    again = runner.invoke(cli, ["prisma", *shlex.split(hinted)])
    assert again.exit_code == 0, again.output
    assert Path("counts.csv").read_text(encoding="utf-8").startswith("data,node,box")


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_prisma_reads_semicolon_and_tab_separated_counts(tmp_path: Path, delimiter: str) -> None:
    import csv

    with open(FIXTURES / "prisma" / "filled.csv", newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    path = tmp_path / "counts.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    comma = CliRunner().invoke(cli, ["prisma", str(FIXTURES / "prisma" / "filled.csv"),
                                     "--check"])
    other = CliRunner().invoke(cli, ["prisma", str(path), "--check"])
    assert other.exit_code == 0, other.output
    assert other.output == comma.output
    assert "823 screened" in other.output  # the n of records_screened in filled.csv


# --- 9. exit codes: an unknown output type is a usage error everywhere; a closed pipe -------


@pytest.mark.parametrize("command", [
    ["parse", str(CROSSREF), "-o", "{out}.doc"],
    ["dedupe", str(CROSSREF), "-o", "{out}.doc"],
    ["pool", str(Path(__file__).parent.parent / "data" / "extraction.xlsx"), "-o", "{out}.doc"],
    ["pool", str(Path(__file__).parent.parent / "data" / "extraction.xlsx"), "--plot",
     "{out}.gif"],
    ["prisma", str(FIXTURES / "prisma" / "filled.csv"), "-o", "{out}.gif"],
])
def test_an_unknown_output_type_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    out = str(tmp_path / "out")
    result = CliRunner().invoke(cli, [a.format(out=out) for a in command])
    assert result.exit_code == 64, result.output
    assert "review: error:" in result.output
    assert not list(tmp_path.iterdir())


def test_init_on_an_existing_review_is_an_output_error(tmp_path: Path) -> None:
    from metareview.config import init_project

    init_project(tmp_path)
    before = (tmp_path / "review.toml").read_bytes()
    with pytest.raises(OutputError, match="exists already"):
        init_project(tmp_path)
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 73 and "a review.toml exists already" in result.output
    assert (tmp_path / "review.toml").read_bytes() == before


def test_a_closed_pipe_stops_quietly() -> None:
    import subprocess
    import sys

    big = FIXTURES / "pubmed" / "tipplerow_pubmed20n0002.xml.gz"
    process = subprocess.Popen(
        [sys.executable, "-c", "from metareview.cli import main; main()", "parse", str(big),
         "--to", "xlsx"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # like `| head` exiting before the output is written
    errors = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in errors and "Exception ignored" not in errors


# --- 10. a forced --from that reads nothing is an error, not an empty success -------------


@pytest.mark.parametrize("forced", ["ris", "bibtex", "jats"])
def test_a_wrong_forced_format_is_an_input_error(tmp_path: Path, forced: str) -> None:
    from metareview.articles import read_articles
    from metareview.errors import InputError

    with pytest.raises(InputError, match=f"no {forced} records in this file"):
        list(read_articles(CROSSREF, forced))
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(CROSSREF), "--from", forced, "-o",
                                      str(out)])
    assert result.exit_code == 65, result.output
    assert "leave out --from" in result.output
    assert not out.exists()
    # the right format forced, or none, reads the article
    assert len(list(read_articles(CROSSREF, "crossref"))) == len(list(read_articles(CROSSREF)))
    assert len(list(read_articles(CROSSREF))) == 1
