"""MEDLINE text as PubMed and PubMed Central export it, and Scopus BibTeX: every fixture
against its own text, the PMC record that starts with ``PMC -``, Scopus's tab-indented
fields, "EXPORT DATE" preamble, repeated field names and localised text."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from metareview.formats import bibtex, detect, nbib
from metareview.records import Article
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
PUBMED = {
    "pubmed_nbib/hash-bang_Reflib-EndNoteXML_medline-cancer.nbib": 20,
    "pubmed_nbib/mjwestgate_synthesisr_PubMed_example.txt": 3,
}
SCOPUS_BIB = {
    "scopus_bib/amosfigueiredo_pyBibX_scopus.bib": 10,
    "scopus_bib/mjwestgate_synthesisr_Scopus_bib_example.bib": 3,
}


def read(path: Path, name: str) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        assert fmt.name == name
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def from_text(module: object, text: str) -> list[Article]:
    return list(module.read(io.BytesIO(text.encode("utf-8")), "mem.txt"))  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- nbib


def nbib_by_grep(path: Path) -> list[dict[str, str | None]]:
    text = path.read_text(encoding="utf-8")
    rows = []
    for record in re.split(r"\n\s*\n", text.strip()):

        def field(tag: str, record: str = record) -> str | None:
            found = re.search(rf"(?m)^{tag:<4}- (.*(?:\n      .*)*)", record)
            return " ".join(found.group(1).split()) if found else None

        doi = re.search(r"(?m)^(?:LID|AID) - (\S+) \[doi\]", record)
        rows.append(
            {
                "pmid": field("PMID"),
                "title": field("TI"),
                "author": field("AU"),
                "year": (field("DP") or "")[:4],
                "doi": doi.group(1) if doi else None,
                "abstract": field("AB"),
            }
        )
    return rows


@pytest.mark.parametrize("name", sorted(PUBMED))
def test_pubmed_exports_match_the_file_text(name: str) -> None:
    articles = read(FIXTURES / name, "nbib")
    expected = nbib_by_grep(FIXTURES / name)
    assert len(articles) == len(expected) == PUBMED[name]
    for article, row in zip(articles, expected, strict=True):
        assert article.source_database == "PubMed"
        assert (article.pmid, article.title, article.doi) == (row["pmid"], row["title"], row["doi"])
        assert article.year == int(row["year"] or 0)
        assert article.authors[0].display == row["author"]
        assert article.abstract == row["abstract"]


PMC_RECORDS = """PMC - PMC5402345
PMID- 28421567
IS  - 1932-6203 (Electronic)
TI  - A first PMC record whose title runs
      over two lines.
AU  - Doe J
LID - 10.1371/journal.pone.0175000 [doi]
DP  - 2017
PMC - PMC5402999
PMID- 28421999
TI  - The second record, with no blank line before it.
AU  - Roe R
DP  - 2017

PMC - PMC5403000
TI  - A third one, without a PMID.
"""


def test_pubmed_central_records_start_with_pmc() -> None:
    """Each PMC record opens with ``PMC -`` before ``PMID-``: one record each, not two
    halves."""
    articles = from_text(nbib, PMC_RECORDS)
    assert [(a.pmcid, a.pmid) for a in articles] == [
        ("PMC5402345", "28421567"),
        ("PMC5402999", "28421999"),
        ("PMC5403000", None),
    ]
    assert articles[0].title == "A first PMC record whose title runs over two lines."
    assert articles[0].doi == "10.1371/journal.pone.0175000"
    assert [a.authors[0].last for a in articles[:2]] == ["Doe", "Roe"]
    assert {a.source_database for a in articles} == {"PubMed Central"}


def test_pubmed_records_without_blank_lines_still_split_at_pmid() -> None:
    text = "PMID- 1\nTI  - One\nPMC - PMC9\nPMID- 2\nTI  - Two\n"
    articles = from_text(nbib, text)
    assert [(a.pmid, a.pmcid, a.title) for a in articles] == [
        ("1", "PMC9", "One"),
        ("2", None, "Two"),
    ]


def test_pmc_export_detected_from_content(tmp_path: Path) -> None:
    path = tmp_path / "pmc-export.ris"
    path.write_text(PMC_RECORDS, encoding="utf-8")
    assert len(read(path, "nbib")) == 3


# -------------------------------------------------------------------------- BibTeX


def bib_by_grep(path: Path) -> list[dict[str, str | None]]:
    text = path.read_text(encoding="utf-8")
    rows = []
    for entry in re.split(r"(?m)^@", text)[1:]:

        def field(name: str, entry: str = entry) -> str | None:
            found = re.search(rf"(?m)^\s*{name}\s*=\s*\{{(.*)\}},?\s*$", entry)
            return found.group(1) if found else None

        rows.append(
            {
                "title": field("title"),
                "author": (field("author") or "").split(",")[0],
                "year": field("year"),
                "doi": field("doi"),
                "abstract": field("abstract"),
            }
        )
    return rows


@pytest.mark.parametrize("name", sorted(SCOPUS_BIB))
def test_scopus_bibtex_matches_the_file_text(name: str) -> None:
    articles = read(FIXTURES / name, "bibtex")
    expected = bib_by_grep(FIXTURES / name)
    assert len(articles) == len(expected) == SCOPUS_BIB[name]
    for article, row in zip(articles, expected, strict=True):
        assert article.source_database == "Scopus"  # source = {Scopus}
        assert article.title == row["title"]
        assert article.authors[0].last == row["author"]
        assert article.year == int(row["year"] or 0)
        assert article.doi == row["doi"]
        if row["abstract"] is None:
            assert article.abstract is None
        else:
            assert " ".join((article.abstract or "").split()) == " ".join(row["abstract"].split())


def test_scopus_bibtex_old_style_repeated_fields_and_odd_names() -> None:
    """``funding_details`` twice in one entry (refused as damaged before), a field name
    with a no-break space (``funding_text 1``), author keywords, Scopus's abbreviation and
    article number fields."""
    first = read(FIXTURES / "scopus_bib/mjwestgate_synthesisr_Scopus_bib_example.bib", "bibtex")[0]
    funding = [v for k, v in first.extra if k == "funding_details"]
    assert funding[0] == "University of TwenteUniversity of Twente"
    assert len(funding) == 2 and funding[1].startswith("Special Fund for Forest")
    assert any(k == "funding_text_1" for k, _ in first.extra)
    assert first.keywords[:3] == ("Environmental factors", "Lake Taihu", "lakeshore wetland")
    assert first.journal.iso_abbrev == "Ecosyst. Health Sustain."
    assert first.elocation == "1722034"
    assert ("note", "cited By 0") in first.extra


def test_scopus_bibtex_new_style_tabs_and_en_dash_pages() -> None:
    first = read(FIXTURES / "scopus_bib/amosfigueiredo_pyBibX_scopus.bib", "bibtex")[0]
    assert (first.first_page, first.last_page) == ("2609", "2625")  # "2609 – 2625"
    assert [a.last for a in first.authors] == ["Singh", "Mehta", "Sharma", "Vasudev"]
    assert first.affiliations[0] == "Global Group of Institutes, Amritsar, 143501, India"
    assert "ANN model" in first.keywords and "Expert systems" in first.keywords


SCOPUS_PREAMBLE = """Scopus
EXPORT DATE: 21 April 2023

@ARTICLE{Yilmaz2023,
\tauthor = {Y{\\i}lmaz, Ay{\\c s}e and M{\\"u}ller, J{\\"o}rg and 王, 伟},
\ttitle = {{\\"O}ğrencilerin tutumları: {\\'E}tude compar{\\'e}e -- 比较研究},
\tyear = {2023},
\tjournal = {E{\\u g}itim ve Bilim},
\tdoi = {10.15390/EB.2023.11},
\tsource = {Scopus}
}
"""


def test_scopus_bibtex_export_date_preamble_and_localised_text(tmp_path: Path) -> None:
    path = tmp_path / "scopus.txt"  # a misleading name: detected from content
    path.write_text(SCOPUS_PREAMBLE, encoding="utf-8")
    (article,) = read(path, "bibtex")
    assert [(a.last, a.first) for a in article.authors] == [
        ("Yılmaz", "Ayşe"),
        ("Müller", "Jörg"),
        ("王", "伟"),
    ]
    assert article.title == "Öğrencilerin tutumları: Étude comparée – 比较研究"
    assert article.journal.title == "Eğitim ve Bilim"
    assert article.source_database == "Scopus"


@pytest.mark.parametrize("name", sorted(SCOPUS_BIB))
def test_scopus_bibtex_detected_whatever_the_extension(tmp_path: Path, name: str) -> None:
    copy = tmp_path / "export.ris"
    shutil.copy(FIXTURES / name, copy)
    assert len(read(copy, "bibtex")) == SCOPUS_BIB[name]


def test_scopus_unescaped_percent_and_ampersand_are_text() -> None:
    """Scopus writes "0.52%" and "Taylor & Francis" as they are: LaTeX would take the
    first for a comment (dropping the rest of the line) and the second for a column break."""
    assert bibtex.latex_text("error of 0.52%, with r = 0.96") == "error of 0.52%, with r = 0.96"
    assert bibtex.latex_text("Taylor & Francis {Group}") == "Taylor & Francis Group"
    assert bibtex.latex_text(r"50\% and \& kept") == "50% and & kept"
    articles = read(FIXTURES / "scopus_bib/amosfigueiredo_pyBibX_scopus.bib", "bibtex")
    (found,) = [a for a in articles if "to be 0.52%, with a correlation" in (a.abstract or "")]
    assert found.abstract is not None and found.abstract.endswith("Engineering 2024.")
