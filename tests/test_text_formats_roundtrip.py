"""Regressions from the second QA pass: nbib output reads back, RIS affiliations."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.formats import bibtex, detect, nbib, ris
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


SCOPUS_AFFILIATIONS = (
    "Dipto. di Ingegneria Industriale, Facoltà di Ingegneria, Univ. degli Studi di "
    "Catania, Catania, Italy",
    "Human Performance Laboratory, Faculty of Kinesiology, University of Calgary, 2500 "
    "University Drive NW, Calgary, Alta. T2N 1N4, Canada",
    "Dipartimento di Metodologie Fisiche, Facoltà di Ingegneria, Univ. degli Studi di "
    "Catania, Catania, Italy",
)


def back(module: object, articles: list[Article]) -> list[Article]:
    buffer = io.StringIO()
    module.write(articles, buffer)  # type: ignore[attr-defined]
    return list(module.read(io.BytesIO(buffer.getvalue().encode("utf-8")), "back"))  # type: ignore[attr-defined]


def test_ris_ad_lines_are_affiliations_and_shown_in_the_row() -> None:
    (article,) = read(FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris")
    assert article.affiliations == SCOPUS_AFFILIATIONS  # three authors: the record's
    assert not any(tag == "AD" for tag, _ in article.extra)
    assert article.to_row()["affiliations"] == "; ".join(SCOPUS_AFFILIATIONS)


@pytest.mark.parametrize("module", [ris, bibtex, nbib], ids=["ris", "bibtex", "nbib"])
def test_ris_affiliations_survive_every_writer(module: object) -> None:
    articles = read(FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris")
    (after,) = back(module, articles)
    assert after.all_affiliations == SCOPUS_AFFILIATIONS
    assert after.affiliations == SCOPUS_AFFILIATIONS


def test_a_sole_author_gets_the_ris_affiliation() -> None:
    text = "TY  - JOUR\nTI  - T\nAU  - Doe, Jane\nAD  - Univ. of X, Y\nER  - \n"
    (article,) = ris.read(io.BytesIO(text.encode()), "x")
    assert article.authors[0].affiliations == ("Univ. of X, Y",)
    assert article.affiliations == ()
    for module in (ris, bibtex, nbib):
        (after,) = back(module, [article])
        assert after.authors[0].affiliations == ("Univ. of X, Y",)


@pytest.mark.parametrize("module", [ris, bibtex], ids=["ris", "bibtex"])
def test_author_affiliations_from_nbib_are_kept_by_ris_and_bibtex(module: object) -> None:
    articles = read(FIXTURES / "nbib" / "biopython_pubmed_result2.txt")
    assert any(a.all_affiliations for a in articles)
    for before, after in zip(articles, back(module, articles), strict=True):
        assert after.all_affiliations == before.all_affiliations


def test_cli_ris_to_bib_keeps_affiliations(tmp_path: Path) -> None:
    out = tmp_path / "x.bib"
    source = FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris"
    result = CliRunner().invoke(cli, ["parse", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "affiliations = {Dipto. di Ingegneria Industriale" in out.read_text(encoding="utf-8")
