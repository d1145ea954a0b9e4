"""Records tables as people and programs open them: an .xlsx with a frozen, filtered header
and fitted columns; JSON lines with each author as an object, given names kept."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl.utils import get_column_letter

from metareview.cli import cli
from metareview.dedupe import read_inputs
from metareview.outputs import write_articles, write_rows
from metareview.records import Author

ARTICLES = Path(__file__).parents[1] / "data" / "articles.xml"
PUBMED = """<?xml version="1.0" encoding="UTF-8"?>
<PubmedArticleSet><PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">
<PMID Version="1">11111111</PMID><Article PubModel="Print">
<Journal><JournalIssue CitedMedium="Print"><Volume>3</Volume>
<PubDate><Year>2020</Year></PubDate></JournalIssue><Title>Test Journal</Title></Journal>
<ArticleTitle>Exercise for chronic low back pain in adults.</ArticleTitle>
<AuthorList CompleteYN="Y">
<Author ValidYN="Y"><LastName>García Márquez</LastName><ForeName>Ana María</ForeName>
<Initials>AM</Initials><Identifier Source="ORCID">0000-0002-1825-0097</Identifier>
<AffiliationInfo><Affiliation>Universidad de Sevilla, Spain.</Affiliation></AffiliationInfo>
<AffiliationInfo><Affiliation>Hospital Virgen del Rocío, Seville, Spain.</Affiliation>
</AffiliationInfo></Author>
<Author ValidYN="Y"><LastName>Smith</LastName><ForeName>John A</ForeName><Initials>JA</Initials>
<Suffix>Jr</Suffix></Author>
<Author ValidYN="Y"><CollectiveName>Back Pain Trialists Group</CollectiveName></Author>
</AuthorList></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""

RIS = """TY  - JOUR
AU  - Smith, John A.
AU  - O'Brien, Mary-Kate
AD  - Trinity College Dublin
TI  - Yoga for chronic low back pain
PY  - 2019
JO  - Pain
ER  -
"""


@pytest.fixture()
def inputs(tmp_path: Path) -> list[str]:
    (tmp_path / "pubmed.xml").write_text(PUBMED, encoding="utf-8")
    (tmp_path / "refs.ris").write_text(RIS, encoding="utf-8")
    return [str(tmp_path / "pubmed.xml"), str(tmp_path / "refs.ris")]


def review(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


EXPECTED = [
    [{"family": "García Márquez", "given": "Ana María", "initials": "AM", "suffix": None,
      "collective": None, "orcid": "0000-0002-1825-0097",
      "affiliations": ["Universidad de Sevilla, Spain.",
                       "Hospital Virgen del Rocío, Seville, Spain."]},
     {"family": "Smith", "given": "John A", "initials": "JA", "suffix": "Jr",
      "collective": None, "orcid": None, "affiliations": []},
     {"family": None, "given": None, "initials": None, "suffix": None,
      "collective": "Back Pain Trialists Group", "orcid": None, "affiliations": []}],
    # RIS gives no initials: they are taken from the given names, as in "Smith JA"
    [{"family": "Smith", "given": "John A.", "initials": "JA", "suffix": None,
      "collective": None, "orcid": None, "affiliations": []},
     {"family": "O'Brien", "given": "Mary-Kate", "initials": "MK", "suffix": None,
      "collective": None, "orcid": None, "affiliations": []}],
]


def test_jsonl_authors_are_objects_with_given_names(tmp_path: Path, inputs: list[str]) -> None:
    out = tmp_path / "records.jsonl"
    review("parse", *inputs, "-o", str(out), "-q")
    rows = jsonl(out)
    assert [row["authors"] for row in rows] == EXPECTED
    # the flat columns stay as in CSV
    assert rows[0]["first_author"] == "García Márquez AM"
    assert rows[1]["affiliations"] == "Trinity College Dublin"
    # CSV, XLSX and Parquet keep the one-text form
    csv = tmp_path / "records.csv"
    review("parse", *inputs, "-o", str(csv), "-q")
    assert list(pd.read_csv(csv)["authors"]) == [
        "García Márquez AM; Smith JA; Back Pain Trialists Group", "Smith JA; O'Brien MK"]


def test_jsonl_jobs_2_writes_the_authors_of_jobs_1(tmp_path: Path, inputs: list[str]) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    review("parse", *inputs, "-o", str(one), "-q")
    review("parse", *inputs, "-o", str(two), "-q", "--jobs", "2")
    assert [row["authors"] for row in jsonl(two)] == EXPECTED
    assert two.read_bytes() == one.read_bytes()


def test_jsonl_round_trip_keeps_the_authors(tmp_path: Path, inputs: list[str]) -> None:
    records, unique = tmp_path / "records.jsonl", tmp_path / "unique.jsonl"
    review("parse", *inputs, "-o", str(records), "-q")
    parsed = jsonl(records)
    review("dedupe", str(records), "-o", str(unique))
    again = jsonl(unique)
    assert [row["authors"] for row in again] == EXPECTED
    for before, after in zip(parsed, again, strict=True):
        # every column comes back as it was: no affiliations or ORCIDs moved to extra_ columns
        assert {k: v for k, v in after.items()
                if k not in ("record_id", "found_in", "duplicates", "merged_records")} == before
    (article, ris) = read_inputs([str(unique)])
    assert article.authors[0] == Author(
        last="García Márquez", first="Ana María", initials="AM", orcid="0000-0002-1825-0097",
        affiliations=("Universidad de Sevilla, Spain.",
                      "Hospital Virgen del Rocío, Seville, Spain."))
    assert article.authors[2] == Author(collective="Back Pain Trialists Group")
    assert ris.affiliations == ("Trinity College Dublin",)  # the record's, not an author's
    # and on to RIS, given names and all
    refs = tmp_path / "unique.ris"
    review("dedupe", str(unique), "-o", str(refs))
    assert "AU  - García Márquez, Ana María" in refs.read_text(encoding="utf-8")
    assert "AU  - Smith, John A." in refs.read_text(encoding="utf-8")


def test_flat_and_mixed_author_forms_are_still_read(tmp_path: Path) -> None:
    table = tmp_path / "old.jsonl"
    table.write_text(
        json.dumps({"title": "A", "authors": "Smith JA; WHO Study Group"}) + "\n"
        + json.dumps({"title": "B", "authors": ["Doe J", {"family": "Roe", "given": "Rita"}, {}]})
        + "\n", encoding="utf-8")
    old, mixed = read_inputs([str(table)])
    assert old.authors == (Author(last="Smith", initials="JA"),
                           Author(collective="WHO Study Group"))
    assert mixed.authors == (Author(last="Doe", initials="J"), Author(last="Roe", first="Rita"))


@pytest.mark.parametrize("authors", ['[{"family": 5}]', '[["Smith", "J"]]',
                                     '[{"family": "Smith", "affiliations": "Oxford"}]'])
def test_malformed_author_objects_are_refused_with_their_line(tmp_path: Path,
                                                              authors: str) -> None:
    table = tmp_path / "bad.jsonl"
    table.write_text('{"title": "A", "authors": []}\n'
                     f'{{"title": "B", "authors": {authors}}}\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["dedupe", str(table), "-o", str(tmp_path / "u.csv")])
    assert result.exit_code != 0
    assert f"review: error: {table}:2: author 1:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "u.csv").exists()


def widths(sheet: object) -> dict[str, float]:
    return {c.value: sheet.column_dimensions[c.column_letter].width  # type: ignore[attr-defined]
            for c in sheet[1]}  # type: ignore[index]


def test_xlsx_header_is_frozen_filtered_bold_and_columns_fitted(tmp_path: Path) -> None:
    out = tmp_path / "records.xlsx"
    review("parse", str(ARTICLES), "-o", str(out), "-q")
    sheet = openpyxl.load_workbook(out).active
    assert sheet.freeze_panes == "A2"
    assert sheet.max_row == 8  # 7 records under the header
    assert sheet.auto_filter.ref == f"A1:{get_column_letter(sheet.max_column)}8"
    assert all(c.font.b for c in sheet[1]) and not any(c.font.b for c in sheet[2])
    width = widths(sheet)
    assert len(width) == sheet.max_column
    assert all(8 <= w <= 60 for w in width.values())
    assert width["abstract"] == width["title"] == 60  # long texts: capped
    assert width["year"] == 8 < width["doi"] < 60  # short ones: narrow, the DOI fits
    assert width["doi"] > max(len(str(c.value)) for c in sheet["F"])
    # numbers stay numbers, identifiers text
    year, pmid = (list(width).index(name) + 1 for name in ("year", "pmid"))
    assert sheet.cell(2, year).value == 2014 and sheet.cell(2, pmid).value == "24451147"


def test_dedupe_outputs_and_log_get_the_same_header(tmp_path: Path, inputs: list[str]) -> None:
    records, again = tmp_path / "records.jsonl", tmp_path / "again.ris"
    again.write_text(RIS, encoding="utf-8")
    review("parse", *inputs, str(again), "-o", str(records), "-q")
    unique, log = tmp_path / "unique.xlsx", tmp_path / "log.xlsx"
    review("dedupe", str(records), "-o", str(unique), "--log", str(log))
    for path, rows, columns in ((unique, 2, None), (log, 1, 9)):
        sheet = openpyxl.load_workbook(path).active
        assert sheet.freeze_panes == "A2"
        last = get_column_letter(columns or sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{last}{rows + 1}"
        assert all(c.font.b for c in sheet[1])
        assert all(8 <= w <= 60 for w in widths(sheet).values())
    sheet = openpyxl.load_workbook(unique).active
    column = [c.value for c in sheet[1]].index("authors") + 1
    authors = [sheet.cell(r, column).value for r in (1, 2, 3)]
    assert authors == ["authors", "García Márquez AM; Smith JA; Back Pain Trialists Group",
                       "Smith JA; O'Brien MK"]


def test_empty_table_still_gets_its_header_framed(tmp_path: Path) -> None:
    out = tmp_path / "log.xlsx"
    assert write_rows([], out, columns=["kept", "removed", "override"]) == 0
    sheet = openpyxl.load_workbook(out).active
    assert [c.value for c in sheet[1]] == ["kept", "removed", "override"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:C2"
    assert widths(sheet)["override"] == len("override") + 3  # the filter button fits
    empty = tmp_path / "none.xlsx"
    assert write_articles([], empty) == 0
    assert openpyxl.load_workbook(empty).active.max_row == 1


def test_jsonl_lines_end_only_at_newline(tmp_path: Path) -> None:
    """U+2028, U+0085 and U+001E are line breaks to str.splitlines, not to JSON lines."""
    from dataclasses import replace

    from metareview import read_articles
    from metareview.records import Text

    article = next(read_articles(ARTICLES, on_deletion=lambda _: None))
    title = "Before\u2028after\x85and\x1eon"
    out = tmp_path / "records.jsonl"
    write_articles([replace(article, titles=(Text(title),))], out)
    assert read_inputs([str(out)])[0].title == title


def test_extraction_sheet_labels_studies_from_author_objects(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text(json.dumps({"pmid": "5", "title": "T", "year": 2018, "authors": [
        {"family": "Li", "given": "Xiu Ying"}, {"family": "Wang", "given": "Hui"}]}) + "\n",
        encoding="utf-8")
    out = tmp_path / "e.xlsx"
    review("sheet", str(records), "-o", str(out), "--design", "continuous")
    sheet = openpyxl.load_workbook(out).active
    study = [c.value for c in sheet[1]].index("study") + 1
    assert sheet.cell(2, study).value == "Li XY 2018"
