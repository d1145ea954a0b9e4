"""Regression: small-study tests on fewer than 10 studies carry a caveat (Sterne et al.
2011, BMJ 343:d4002; Cochrane Handbook 13.3.5.4) in the text, the JSON notes and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.config import load_config
from metareview.poolrun import PoolOptions, run_pool
from metareview.prisma import FullText, PrismaCounts
from metareview.report import ReportContent, characteristics, to_html, to_markdown
from metareview.sheets.extraction import read_extraction

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "data"
NORMAND = DATA / "normand1999.csv"  # k = 9
BCG = DATA / "bcg.csv"  # k = 13
CAVEAT = "should be used only when there are at least 10 studies"

pytestmark = pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")


def pool(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["pool", str(path), "--bias", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_fewer_than_ten_studies_get_the_caveat_in_text_and_json() -> None:
    assert len(NORMAND.read_text(encoding="utf-8").splitlines()) - 1 == 9
    text = pool(NORMAND, "--measure", "MD")
    assert f"Only 9 studies: tests for funnel plot asymmetry {CAVEAT}" in text
    assert "Sterne et al. 2011, BMJ 343:d4002" in text
    notes = json.loads(pool(NORMAND, "--measure", "MD", "--to", "json"))["bias"]["notes"]
    assert any(CAVEAT in note for note in notes)


def test_ten_or_more_studies_get_no_caveat() -> None:
    assert CAVEAT not in pool(BCG, "--measure", "RR")
    notes = json.loads(pool(BCG, "--measure", "RR", "--to", "json"))["bias"]["notes"]
    assert not any(CAVEAT in note for note in notes)


def test_report_shows_the_caveat() -> None:
    studies = read_extraction(NORMAND)
    result = run_pool(studies, PoolOptions(measure="MD", bias=True))
    counts = PrismaCounts.from_pipeline(identified={"PubMed": 3}, duplicates=1,
                                        screening=["include", "exclude"],
                                        full_text=[FullText(True, "include")])
    content = ReportContent(load_config(ROOT / "data" / "example-review"), counts, result,
                            characteristics(studies))
    assert CAVEAT in to_html(content)
    assert CAVEAT in to_markdown(content, {})
