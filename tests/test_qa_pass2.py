"""Regressions from the second QA pass: nbib output reads back, RIS affiliations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.formats import detect, nbib
from metareview.records import Article
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
SOURCES = sorted(
    str(p.relative_to(FIXTURES))
    for sub in ("ris", "nbib", "bibtex", "pubmed", "jats", "crossref", "europepmc")
    for p in (FIXTURES / sub).iterdir()
    if p.name != "SOURCES.md"
)


def read(path: Path) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def detected(text: str) -> str:
    return detect(io.BufferedReader(io.BytesIO(text.encode("utf-8"))), "x").name  # type: ignore[arg-type]


@pytest.mark.parametrize("source", SOURCES)
def test_every_nbib_the_writer_produces_is_detected_as_nbib(source: str) -> None:
    articles = read(FIXTURES / source)
    buffer = io.StringIO()
    nbib.write(articles, buffer)
    assert detected(buffer.getvalue()) == "nbib"


@pytest.mark.parametrize("source", sorted(p.name for p in (FIXTURES / "ris").glob("*.ris")))
def test_ris_files_are_still_ris(source: str) -> None:
    with open_input(FIXTURES / "ris" / source) as stream:
        assert detect(stream, source).name == "ris"


def test_nbib_detection_needs_a_tag_line_and_no_ris_type() -> None:
    assert detected("TI  - A title\nFAU - Doe, Jane\n") == "nbib"
    assert detected("OWN - NLM\nSTAT- MEDLINE\n") == "nbib"
    assert detected("T1  - A title\nTY  - JOUR\nER  - \n") == "ris"


def test_cli_parse_reads_back_its_own_nbib_without_pmids(tmp_path: Path) -> None:
    out = tmp_path / "x.nbib"
    runner = CliRunner()
    source = FIXTURES / "ris" / "bolognese_crossref.ris"
    first = runner.invoke(cli, ["parse", str(source), "-o", str(out)])
    assert first.exit_code == 0, first.output
    assert not out.read_text(encoding="utf-8").startswith("PMID- ")
    back = tmp_path / "back.csv"
    second = runner.invoke(cli, ["parse", str(out), "-o", str(back)])
    assert second.exit_code == 0, second.output
    assert "Automated quantitative histology reveals vascular" in back.read_text(encoding="utf-8")
