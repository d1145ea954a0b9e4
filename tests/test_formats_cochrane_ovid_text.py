"""Cochrane Library plain text and Ovid's own ``<1. >`` tagged export: every fixture against
its own text, CR-only line ends and a second byte-order mark mid-file, CENTRAL records,
Ovid abstracts over unindented lines, institutions tied to the authors they name."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import ReviewWarning
from metareview.formats import by_name, detect
from metareview.records import Article, PubDate
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
COCHRANE = FIXTURES / "cochrane_txt" / "andrewjt71_cochrane-application_citation-export.txt"
OVID = FIXTURES / "ovid" / "knh11545_commandline4expertsearchers_Embase_citavi_r3001-3002.ovd"


def read(path: Path, name: str) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        assert fmt.name == name
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def from_text(name: str, text: str | bytes) -> list[Article]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(by_name(name).read(io.BytesIO(data), "mem.txt"))  # type: ignore[arg-type]


# ------------------------------------------------------------------- Cochrane text


def cochrane_by_grep() -> list[dict[str, str]]:
    text = COCHRANE.read_bytes().decode("utf-8").replace("\ufeff", "")
    rows = []
    for record in re.split(r"\rRecord #\d+ of \d+\r|^Record #\d+ of \d+\r", text)[1:]:
        fields: dict[str, str] = {}
        for line in record.split("\r"):
            tag, _, value = line.partition(": ")
            fields.setdefault(tag, " ".join(value.split()))  # runs of spaces read as one
        rows.append(fields)
    return rows


def test_cochrane_every_record_matches_the_file_text() -> None:
    raw = COCHRANE.read_bytes()
    assert b"\n" not in raw  # CR-only line ends
    assert raw.count(b"\xef\xbb\xbf") == 2  # a second batch joined on, BOM and all
    articles = read(COCHRANE, "cochrane-txt")
    expected = cochrane_by_grep()
    assert len(articles) == len(expected) == 271
    for article, row in zip(articles, expected, strict=True):
        assert article.title == row["TI"]
        assert article.doi == row["DOI"]
        assert article.year == int(row["YR"])
        assert article.abstract == row["AB"]
        assert row["AU"].startswith(f"{article.authors[0].last} ")
        assert article.url == row["US"]
        assert article.source_database == "Cochrane Database of Systematic Reviews"
    assert articles[200].title == (  # the record after the second byte-order mark
        "Self-monitoring of blood glucose in patients with type 2 diabetes mellitus who are "
        "not using insulin"
    )


def test_cochrane_first_record_field_by_field() -> None:
    first = read(COCHRANE, "cochrane-txt")[0]
    assert [(a.last, a.first, a.initials) for a in first.authors] == [
        ("Han", "Shanshan", "S"),
        ("Middleton", "Philippa", "P"),
        ("Shepherd", "Emily", "E"),
        ("Van Ryswyk", "Emer", "E"),
        ("Crowther", "Caroline", "CA"),
    ]
    assert first.journal.title == "Cochrane Database of Systematic Reviews"
    assert first.journal.publisher == "John Wiley & Sons, Ltd"
    assert first.issue == "2"
    assert first.keywords[:2] == ("Caloric Restriction", "Diabetes, Gestational [diet therapy]")
    assert first.extra == (("ID", "CD009275"),)


def test_central_records_and_untagged_continuation() -> None:
    text = (
        "Record #1 of 2\r\nID: CN-01234567\r\nAU: Bywater T\r\nAU: de Vries Anna\r\n"
        "TI: A trial\r\nSO: Trials\r\nYR: 2011\r\nVL: 12\r\nNO: 3\r\nPG: 39-47\r\n"
        "PM: PUBMED 21314913\r\nPT: Journal Article; Randomized Controlled Trial\r\n"
        "AB: First paragraph.\r\nSecond paragraph.\r\nXR: EMBASE 123\r\n\r\n"
        "Record #2 of 2\r\nID: CN-07654321\r\nTI: Another\r\n"
    )
    first, second = from_text("cochrane-txt", text)
    assert first.source_database == second.source_database == "Cochrane CENTRAL"
    assert [(a.last, a.first, a.initials) for a in first.authors] == [
        ("Bywater", None, "T"),
        ("de Vries", "Anna", "A"),
    ]
    assert (first.volume, first.issue, first.first_page, first.last_page) == ("12", "3", "39", "47")
    assert first.pmid == "21314913"
    assert first.publication_types == ("Journal Article", "Randomized Controlled Trial")
    assert first.abstract == "First paragraph. Second paragraph."
    assert ("XR", "EMBASE 123") in first.extra
    assert first.pub_date == PubDate(2011)


def test_cochrane_text_before_the_first_record_is_reported() -> None:
    with pytest.warns(ReviewWarning, match=r"mem\.txt:1: 1 line\(s\) outside"):
        (only,) = from_text("cochrane-txt", "junk\nRecord #1 of 1\nID: CD000001\nTI: T\n")
    assert only.title == "T"


@pytest.mark.parametrize("suffix", [".ris", ".csv", ".nbib"])
def test_cochrane_detected_from_content(tmp_path: Path, suffix: str) -> None:
    copy = tmp_path / f"citation-export{suffix}"
    shutil.copy(COCHRANE, copy)
    assert len(read(copy, "cochrane-txt")) == 271


# --------------------------------------------------------------------- Ovid tagged


def test_ovid_citavi_export_field_by_field() -> None:
    first, second = read(OVID, "ovid")
    assert first.source_database == second.source_database == "Ovid Embase"
    assert first.title == (
        "Quality of life in patients with primary ciliary dyskinesia: A systematic review."
    )
    assert [(a.last, a.initials) for a in first.authors] == [
        ("Behan", "L"),
        ("Rubbo", "B"),
        ("Lucas", "JS"),
        ("Galvin", "AD"),
    ]
    # IN "(Behan, Rubbo, Lucas) NIHR …" and its indented second line "(Behan, Galvin) …"
    assert first.authors[0].affiliations[1] == (
        "School of Applied Psychology, University College Cork, Cork, Ireland"
    )
    assert first.authors[3].affiliations == first.authors[0].affiliations[1:]
    assert first.doi == "10.1186/s12919-018-0099-8"  # DO http://dx.doi.org/…
    assert first.journal.title == "BMC Proceedings"
    assert (first.volume, first.issue, first.first_page) == ("12", "Supplement 3", None)
    assert first.journal.issn == "1753-6561"
    assert first.year == 2018
    assert first.mesh_terms[:3] == ("adult", "anxiety", "awareness")
    assert "Kartagener syndrome" in first.mesh_terms  # "*Kartagener syndrome"
    assert first.languages == ("English",)
    assert first.publication_types == ("Conference Abstract",)
    assert first.abstract is not None and first.abstract.startswith("Background: As in most")
    assert any(t == "SO" and "Date of Publication" in v for t, v in first.extra)
    assert ("UI", "621381829") in first.extra and first.pmid is None


def test_ovid_medline_record_abstract_over_unindented_lines() -> None:
    text = (
        "<1>\nVN  - Ovid Technologies\nDB  - Ovid MEDLINE(R) ALL\nUI  - 31851837\n"
        "TI  - A title\nSO  - Journal of Things. 30(15):1800-1807, 2012 May 20.\n"
        "AU  - Smith JA\nFA  - Smith, John A\n"
        "AB  - The first part of the abstract\nruns on an unindented line\n"
        "      and an indented one.\nYR  - 2012\n\n"
        "<2>\nDB  - Ovid MEDLINE(R) ALL\nUI  - 1\nTI  - Second\n"
    )
    first, second = from_text("ovid", text)
    assert first.source_database == "Ovid MEDLINE"
    assert first.pmid == "31851837"
    assert first.abstract == (
        "The first part of the abstract runs on an unindented line and an indented one."
    )
    assert [(a.last, a.first) for a in first.authors] == [("Smith", "John A")]
    assert first.journal.title == "Journal of Things"
    assert (first.volume, first.issue, first.first_page, first.last_page) == (
        "30",
        "15",
        "1800",
        "1807",
    )
    assert second.title == "Second" and second.record_index == 1


@pytest.mark.parametrize("suffix", [".cgi", ".txt", ".xml"])
def test_ovid_detected_from_content_not_taken_for_xml(tmp_path: Path, suffix: str) -> None:
    copy = tmp_path / f"ovidweb{suffix}"
    shutil.copy(OVID, copy)
    assert len(read(copy, "ovid")) == 2


def test_cli_parse_cochrane_and_ovid(tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(COCHRANE), str(OVID), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "273 records from 2 of 2 files" in result.output


def test_a_folder_of_exports_includes_ciw_and_ovd_files(tmp_path: Path) -> None:
    shutil.copy(OVID, tmp_path / "embase.ovd")
    shutil.copy(
        FIXTURES / "wos_plaintext" / "mjwestgate_synthesisr_WoS_ciw_example.ciw",
        tmp_path / "savedrecs.ciw",
    )
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(tmp_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "7 records from 2 of 2 files" in result.output
