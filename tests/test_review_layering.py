"""Code-review fixes: `--by study`, `--keep-going` on a truncated file, report saving,
Excel writing kept in sheets/."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from metareview.cli import cli
from metareview.sheets.extraction import read_extraction

DATA = Path(__file__).resolve().parents[1] / "data"


def test_study_column_is_found_by_name() -> None:
    table = read_extraction(DATA / "extraction.xlsx")
    assert table.column("Study") == table.studies


def test_by_study_says_each_study_is_its_own_subgroup() -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--by", "study"])
    assert result.exit_code == 64
    assert "no column" not in result.output
    assert "--by study: every study is a subgroup of its own" in result.output

