"""Regressions from a QA pass of the `review` command: every fix has its own section."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import OutputError
from metareview.fileio import check_output

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


@pytest.mark.parametrize("command", [
    ["dedupe", "{folder}", "--log", "{inside}", "-o", "{out}"],
    ["dedupe", "{glob}", "-o", "{inside}"],
    ["parse", "{folder}", "-o", "{inside}", "--to", "csv"],
])
def test_commands_never_overwrite_a_file_in_an_input_folder(tmp_path: Path,
                                                            command: list[str]) -> None:
    folder = _folder(tmp_path)
    inside = folder / "crossref.xml"
    before = inside.read_bytes()
    names = {"folder": folder, "glob": folder / "*.xml", "inside": inside,
             "out": tmp_path / "ok.csv"}
    result = CliRunner().invoke(cli, [*(a.format(**names) for a in command), "--force"])
    assert result.exit_code == 73, result.output
    assert "the output is also an input" in result.output
    assert inside.read_bytes() == before
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
