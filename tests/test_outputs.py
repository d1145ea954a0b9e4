"""Record writers: every format round-trips through pandas; XLSX is safe to open."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from metareview import read_articles
from metareview.errors import OptionError, OutputError
from metareview.outputs import WRITERS, write_articles, writer_for
from metareview.records import Article, Text
from metareview.sheets.common import EXCEL_CELL_LIMIT

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
INPUTS = [
    FIXTURES / "seed_aacc_2025.xml",
    FIXTURES / "metapub_36987902.xml",
    FIXTURES / "biopython_pubmed4.xml",
]
READERS = {
    "csv": lambda p: pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]),
    "jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
    "xlsx": lambda p: pd.read_excel(p, dtype=str),
    "parquet": lambda p: pd.read_parquet(p),
}


@pytest.fixture(scope="module")
def articles() -> list[Article]:
    return list(read_articles(INPUTS))


@pytest.mark.parametrize("kind", ["csv", "jsonl", "xlsx", "parquet"])
def test_round_trip_through_pandas(tmp_path: Path, articles: list[Article], kind: str) -> None:
    path = tmp_path / f"records.{kind}"
    assert write_articles(articles, path) == 3
    frame = READERS[kind](path)
    assert len(frame) == 3
    assert list(frame["title"]) == [a.title for a in articles]
    assert list(frame["abstract"]) == [a.abstract for a in articles]
    authors = frame.loc[0, "authors"]
    if kind == "jsonl":  # author objects there (tests/test_outputs_structure.py)
        assert [a["given"] for a in authors] == ["Ali", "Seyed Sam Mehdi", "Faranak",
                                                 "Sogol"]
        authors = "; ".join(f"{a['family']} {a['initials']}" for a in authors)
    assert authors == "Dabbagh A; Hosseininasab SSM; Behnaz F; Asgari S"
    assert frame.loc[1, "vernacular_title"] == articles[1].vernacular_title
    assert str(frame.loc[1, "pmid"]) == "36987902"
    assert int(frame.loc[0, "year"]) == 2025
    # columns only some records have (other history dates) are kept for all
    assert "date_received" in frame.columns and "date_entrez" in frame.columns


def test_to_forces_the_type(tmp_path: Path, articles: list[Article]) -> None:
    path = tmp_path / "records.txt"
    write_articles(articles, path, to="jsonl")
    assert len(pd.read_json(path, lines=True)) == 3
    assert writer_for("x.NDJSON").name == "jsonl"
    with pytest.raises(OptionError, match="unknown output type"):
        writer_for("records.doc")
    with pytest.raises(OptionError):
        writer_for("x.csv", to="docx")


def test_xlsx_formula_like_text_is_stored_as_text(tmp_path: Path, articles: list[Article]) -> None:
    hostile = [
        '=HYPERLINK("http://example.invalid","click")',
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
    ]
    records = [
        replace(articles[0], titles=(Text(title),), record_index=i)
        for i, title in enumerate(hostile)
    ]
    path = tmp_path / "hostile.xlsx"
    write_articles(records, path)
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    column = header.index("title") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, 2 + len(hostile))]
    assert all(c.data_type == "s" for c in cells)  # never a formula
    assert all(c.quotePrefix for c in cells)  # and stays text when edited in Excel
    assert [c.value for c in cells] == hostile  # shown exactly as given
    ordinary = sheet.cell(row=2, column=header.index("journal") + 1)
    assert not ordinary.quotePrefix


def test_xlsx_cell_limit_reported_and_nothing_written(
    tmp_path: Path, articles: list[Article]
) -> None:
    long = replace(articles[0], titles=(Text("x" * (EXCEL_CELL_LIMIT + 1)),))
    path = tmp_path / "long.xlsx"
    with pytest.raises(OutputError, match="32,767") as caught:
        write_articles([articles[1], long], path)
    assert "I3" in str(caught.value) or "title" in str(caught.value)
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
    # CSV has no such limit: the text comes back whole
    csv = tmp_path / "long.csv"
    write_articles([long], csv)
    assert len(pd.read_csv(csv).loc[0, "title"]) == EXCEL_CELL_LIMIT + 1


def test_refuses_existing_output_and_inputs(tmp_path: Path, articles: list[Article]) -> None:
    path = tmp_path / "records.csv"
    path.write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError, match="exists"):
        write_articles(articles, path)
    assert path.read_text(encoding="utf-8") == "keep me"
    write_articles(articles, path, force=True)
    assert len(pd.read_csv(path)) == 3
    with pytest.raises(OutputError, match="also an input"):
        write_articles(articles, path, inputs=[path], force=True)


def test_failure_mid_stream_leaves_no_file(tmp_path: Path, articles: list[Article]) -> None:
    def broken():
        yield articles[0]
        raise OutputError("boom")

    path = tmp_path / "records.jsonl"
    with pytest.raises(OutputError, match="boom"):
        write_articles(broken(), path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["csv", "ris"])
def test_failed_write_leaves_the_callers_stream_open(kind: str, articles: list[Article]) -> None:
    """A text wrapper left attached would close the caller's stream when collected."""
    import gc
    import io

    class Full(io.BytesIO):
        def write(self, data: object) -> int:
            raise OSError("disk full")

    stream = Full()
    with pytest.raises(OSError, match="disk full"):
        WRITERS[kind].write(articles, stream, "records")
    gc.collect()
    assert not stream.closed


def test_registry_is_open_for_more_writers() -> None:
    assert {"csv", "jsonl", "xlsx", "parquet"} <= set(WRITERS)
    assert all(w.suffixes and callable(w.write) for w in WRITERS.values())
