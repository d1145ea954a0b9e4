"""MEDLINE text as PubMed and PubMed Central export it, and Scopus BibTeX: every fixture
against its own text, the PMC record that starts with ``PMC -``, Scopus's tab-indented
fields, "EXPORT DATE" preamble, repeated field names and localised text."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from metareview.formats import detect, nbib
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
