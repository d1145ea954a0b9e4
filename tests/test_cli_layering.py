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


def test_keep_going_says_how_many_records_a_bad_file_gave(tmp_path: Path) -> None:
    import pandas as pd

    text = (Path(__file__).parent / "fixtures" / "pubmed" /
            "tipplerow_pubmed_sample.xml").read_text(encoding="utf-8")
    cut = text.index("</PubmedArticle>", text.index("</PubmedArticle>",
                     text.index("</PubmedArticle>") + 1) + 1) + len("</PubmedArticle>")
    truncated = tmp_path / "truncated.xml"
    truncated.write_text(text[:cut] + "\n<PubmedArticle><Medl", encoding="utf-8")
    good = Path(__file__).parent / "fixtures" / "pubmed" / "metapub_36987902.xml"
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["parse", str(truncated), str(good), "-o", str(out),
                                      "--keep-going"])
    assert result.exit_code == 65
    assert len(pd.read_csv(out)) == 4  # 3 before the error, 1 from the good file
    assert ("4 records: 1 from 1 of 2 files, and 3 read before the error from the file(s) "
            "that could not be read whole") in result.stderr


def test_report_output_is_checked_by_the_library(tmp_path: Path) -> None:
    import pytest

    from metareview.errors import OptionError, OutputError
    from metareview.project import check_report_output

    with pytest.raises(OptionError, match=r"the report is \.html, \.md or \.docx"):
        check_report_output(tmp_path / "r.pdf")
    (tmp_path / "r.md").write_text("old", encoding="utf-8")
    with pytest.raises(OutputError, match="the file exists"):
        check_report_output(tmp_path / "r.md")
    assert check_report_output(tmp_path / "r.md", force=True) == tmp_path / "r.md"


def test_prisma_and_pool_refuse_outputs_with_one_helper(tmp_path: Path) -> None:
    csv = Path(__file__).parent / "fixtures" / "prisma" / "filled.csv"
    runner = CliRunner()
    twice = runner.invoke(cli, ["prisma", str(csv), "-o", str(tmp_path / "a.svg"),
                                "-o", str(tmp_path / "a.svg")])
    assert twice.exit_code == 64 and "the same output file is named twice" in twice.output
    bad = runner.invoke(cli, ["prisma", str(csv), "-o", str(tmp_path / "a.txt")])
    assert bad.exit_code == 64
    assert "unknown output type '.txt' — use one of: .svg, .png, .pdf, .csv" in bad.output
    pool = runner.invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "-o",
                               str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.json")])
    assert pool.exit_code == 64 and "the same output file is named twice" in pool.output
    assert list(tmp_path.iterdir()) == []
