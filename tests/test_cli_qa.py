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
