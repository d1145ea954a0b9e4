"""Regression tests for review findings on record ids, records tables and the duplicates log."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from metareview.cli import cli

# Our own two records: one with neither PMID nor DOI, one with a DOI behind a resolver.
RIS = """TY  - JOUR
TI  - Zinc supplements for pneumonia in children: a trial
AU  - Müller, Anna
PY  - 2019
JO  - Trials
ER  -

TY  - JOUR
TI  - Vitamin A and measles
AU  - Okafor, B.
PY  - 2018
DO  - https://doi.org/10.1000/ABC
ER  -
"""


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _ids(path: Path) -> list[str]:
    return [str(c.value) for c in load_workbook(path).worksheets[0]["A"][1:]]


def _decide(path: Path, decision: str) -> None:
    book = load_workbook(path)
    ws = book.worksheets[0]
    column = [c.value for c in ws[1]].index("decision") + 1
    for r in range(2, ws.max_row + 1):
        ws.cell(r, column, decision)
    book.save(path)


def test_parse_and_dedupe_tables_give_the_same_record_ids(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.ris").write_text(RIS, encoding="utf-8")
    assert _run("parse", "a.ris", "-o", "parsed.csv")[0] == 0
    assert _run("dedupe", "a.ris", "-o", "unique.csv")[0] == 0
    assert _run("screen", "parsed.csv", "-o", "ta.xlsx")[0] == 0
    with open("unique.csv", encoding="utf-8") as handle:
        deduped = [row["record_id"] for row in csv.DictReader(handle)]
    assert _ids(Path("ta.xlsx")) == deduped
    assert deduped[0].startswith("rec:") and deduped[1] == "doi:10.1000/abc"
    # the title/abstract workbook from the parsed table screens the deduplicated table
    _decide(Path("ta.xlsx"), "include")
    code, out = _run("screen", "unique.csv", "--stage", "full-text", "--screened", "ta.xlsx",
                     "-o", "ft.xlsx")
    assert code == 0, out
    assert "2 records for full-text screening" in out
    assert _ids(Path("ft.xlsx")) == deduped


def test_screened_workbook_of_other_records_is_an_input_error(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.csv").write_text("record_id,title\npmid:1,one\npmid:2,two\n", encoding="utf-8")
    Path("b.csv").write_text("record_id,title\npmid:7,seven\n", encoding="utf-8")
    assert _run("screen", "a.csv", "-o", "ta.xlsx")[0] == 0
    _decide(Path("ta.xlsx"), "include")
    code, out = _run("screen", "b.csv", "--stage", "full-text", "--screened", "ta.xlsx",
                     "-o", "ft.xlsx")
    assert code != 0
    assert "ta.xlsx: none of the 2 record(s) included in this workbook is among the records" in out
    assert "Traceback" not in out and not Path("ft.xlsx").exists()


# A record and its copy with a trailing full stop: the title rule finds them.
TWICE = RIS.split("\n\n")[0] + "\n\n" + RIS.split("\n\n")[0].replace("a trial", "a trial.") + "\n"


@pytest.mark.parametrize("suffix", ["xlsx", "jsonl", "parquet", "csv"])
def test_overrides_are_read_from_every_log_format(tmp_path: Path, suffix: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from metareview.dedupe import read_overrides
    from metareview.outputs import write_rows

    monkeypatch.chdir(tmp_path)
    Path("a.ris").write_text(TWICE, encoding="utf-8")
    code, out = _run("dedupe", "a.ris", "-o", "u.csv", "--log", f"log.{suffix}")
    assert code == 0 and "1 duplicates removed" in out, out
    row = {"kept": "a.ris#0", "removed": "a.ris#1", "override": "not duplicate"}
    write_rows([row], f"log.{suffix}", force=True)
    assert [(o.kept, o.removed, o.merge) for o in read_overrides(f"log.{suffix}")] == [
        ("a.ris#0", "a.ris#1", False)]
    code, out = _run("dedupe", "a.ris", "-o", "u2.csv", "--overrides", f"log.{suffix}")
    assert code == 0 and "2 unique, 0 duplicates removed" in out, out


def test_an_undecodable_overrides_file_is_an_input_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("a.ris").write_text(TWICE, encoding="utf-8")
    for name, data in (("log.csv", b"kept,removed,override\n\xff\xfe\x00bad\n"),
                       ("log.jsonl", b'{"kept": "\xff"}\n'), ("log.parquet", b"PAR1garbage")):
        Path(name).write_bytes(data)
        code, out = _run("dedupe", "a.ris", "-o", "u.csv", "--overrides", name)
        assert code == 65, out
        assert f"review: error: {name}" in out and "Traceback" not in out
        assert not Path("u.csv").exists()


@pytest.mark.parametrize("index", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_a_record_index_that_is_not_a_finite_number_falls_back_to_the_row(index: str) -> None:
    from metareview.dedupe import article_from_row

    article = article_from_row({"title": "Zinc", "record_index": index}, "t.csv", 4)
    assert article.record_index == 4
    assert article_from_row({"title": "Zinc", "record_index": "7.0"}, "t.csv", 4).record_index == 7


def test_a_records_table_with_record_index_nan_is_deduplicated(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("title,year,record_index\nZinc for pneumonia,2019,nan\n"
                             "Vitamin A and measles,2018,1\n", encoding="utf-8")
    code, out = _run("dedupe", "t.csv", "-o", "u.csv")
    assert code == 0 and "2 records read, 2 unique" in out, out


def test_a_year_that_is_not_a_date_is_kept_as_the_raw_date(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from metareview.dedupe import article_from_row

    article = article_from_row({"title": "Zinc", "year": "in press"}, "t.csv", 0)
    assert (article.year, article.pub_date.raw) == (None, "in press")
    given = article_from_row({"title": "Zinc", "year": "n.d.", "pub_date_raw": "Spring"}, "t", 0)
    assert given.pub_date.raw == "Spring"
    assert article_from_row({"title": "Zinc", "year": "2019"}, "t", 0).pub_date.raw is None
    monkeypatch.chdir(tmp_path)
    Path("t.csv").write_text("title,year\nZinc for pneumonia,in press\n", encoding="utf-8")
    assert _run("dedupe", "t.csv", "-o", "u.csv")[0] == 0
    with open("u.csv", encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["pub_date_raw"] == "in press"


def test_the_log_quotes_exactly_what_the_sheets_take_for_a_formula() -> None:
    from metareview.csvtext import FORMULA_STARTS, formula_like
    from metareview.dedupe import dedupe, log_csv, log_rows
    from metareview.records import Article, Text

    for title in [*(start + "1+1 trial" for start in FORMULA_STARTS), "Zinc", "'=quoted"]:
        pair = [Article(source_format="ris", source_file="a.ris", record_index=i,
                        titles=(Text(title),), doi="10.1/x") for i in range(2)]
        row = next(csv.DictReader(io.StringIO(log_csv(dedupe(pair)))))
        quoted = formula_like(title.lstrip("'"))
        assert row["kept_title"] == ("'" + title if quoted else title)
        assert log_rows(dedupe(pair))[0]["kept_title"] == title


def test_dedupe_reads_records_tables_the_way_screen_does(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """One reader for both: a glob of tables and a table on stdin work in dedupe too."""
    monkeypatch.chdir(tmp_path)
    Path("tables").mkdir()
    Path("a.ris").write_text(TWICE, encoding="utf-8")
    assert _run("parse", "a.ris", "-o", "tables/parsed.csv")[0] == 0
    code, out = _run("dedupe", "tables/*.csv", "-o", "u.csv")
    assert code == 0 and "2 records read, 1 unique, 1 duplicates removed" in out, out
    table = Path("tables/parsed.csv").read_bytes()
    result = CliRunner().invoke(cli, ["dedupe", "-", "-o", "u2.csv"], input=table)
    assert result.exit_code == 0 and "2 records read, 1 unique" in result.output, result.output
    assert Path("u2.csv").read_text(encoding="utf-8") == Path("u.csv").read_text(
        encoding="utf-8").replace("tables/parsed.csv", "<stdin>")
    code, out = _run("screen", "tables/*.csv", "-o", "ta.xlsx")  # the same glob, undeduplicated
    assert code == 65 and "appears twice in the records" in out, out


def test_a_screening_text_longer_than_an_excel_cell_is_refused_with_its_cell(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from metareview.sheets.common import EXCEL_CELL_LIMIT

    monkeypatch.chdir(tmp_path)
    long = "x" * (EXCEL_CELL_LIMIT + 1)
    Path("r.csv").write_text(f"record_id,title,abstract\npmid:1,one,short\npmid:2,two,{long}\n",
                             encoding="utf-8")
    code, out = _run("screen", "r.csv", "-o", "ta.xlsx")
    assert code == 73, out
    assert f"1 cell(s) longer than Excel's 32,767-character limit: E3 (abstract of pmid:2, " \
           f"{EXCEL_CELL_LIMIT + 1:,})" in out
    assert not Path("ta.xlsx").exists()
    # --update refuses too and leaves the reviewer's workbook as it was
    Path("r1.csv").write_text("record_id,title\npmid:1,one\n", encoding="utf-8")
    assert _run("screen", "r1.csv", "-o", "ta.xlsx")[0] == 0
    before = Path("ta.xlsx").read_bytes()
    code, out = _run("screen", "r.csv", "-o", "ta.xlsx", "--update")
    assert code == 73 and "E3 (abstract of pmid:2" in out, out
    assert Path("ta.xlsx").read_bytes() == before
