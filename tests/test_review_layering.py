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
