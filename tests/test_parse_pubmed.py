"""PubMed publisher and MEDLINE readers, checked field by field against the fixtures' own text."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metareview import articles_frame, read_articles
from metareview.errors import ReviewWarning
from metareview.records import Deletion

FIXTURES = Path(__file__).parent / "fixtures" / "pubmed"
SEED = FIXTURES / "seed_aacc_2025.xml"
SAMPLE = FIXTURES / "tipplerow_pubmed_sample.xml"
MEDSAMP = FIXTURES / "w3c-exi_medsamp2006.xml"


def one(path: Path, **options: object):
    (article,) = list(read_articles([path], **options))  # type: ignore[arg-type]
    return article


def by_pmid(path: Path) -> dict:
    with pytest.warns(ReviewWarning) if path == SAMPLE else _nothing():
        return {a.pmid: a for a in read_articles([path])}


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


# ---------------------------------------------------------------- the seed file


def test_seed_identity_journal_and_pages() -> None:
    a = one(SEED)
    assert a.source_format == "pubmed"
    assert a.record_index == 0
    assert a.title == "Mentoring Program in Academic Medicine: A Systematic Review Study"
    assert a.titles[0].lang == "en_US"
    assert a.journal.title == "Archives of Anesthesiology and Critical Care"
    assert a.journal.publisher == "Tehran University of Medical Sciences"
    assert a.journal.issn == "2423-5849"
    assert (a.volume, a.issue) == ("11", "4")
    assert (a.first_page, a.last_page, a.page_range) == ("573", "578", "573-578")
    assert a.url == "https://aacc.tums.ac.ir/index.php/aacc/article/view/1122"
    assert a.pmid is None and a.doi is None  # the file gives neither: nothing invented


def test_seed_dates_and_status() -> None:
    a = one(SEED)
    assert (a.pub_date.year, a.pub_date.month, a.pub_date.day) == (2025, 4, 7)
    assert a.publication_status == "epublish"
    history = dict(a.history)
    assert history["received"].iso() == "2024-11-05"
    assert history["accepted"].iso() == "2024-11-22"


def test_seed_authors_in_order_with_affiliations() -> None:
    a = one(SEED)
    assert [(x.first, x.last) for x in a.authors] == [
        ("Ali", "Dabbagh"),
        ("Seyed Sam Mehdi", "Hosseininasab"),
        ("Faranak", "Behnaz"),
        ("Sogol", "Asgari"),
    ]
    assert all(len(x.affiliations) == 1 for x in a.authors)
    assert a.authors[0].affiliations[0].startswith("Department of Anesthesiology, School of")
    # the source has a TAB after "4." — normalised to one space, no text lost
    assert a.authors[3].affiliations[0] == (
        "4. Assistant Professor of Neuroanesthesia, Department of Anesthesiology, School of "
        "Medicine, Loghman Hakim Hospital, Shahid Beheshti University of Medical Sciences, "
        "Tehran, Iran"
    )
    row = a.to_row()
    assert row["authors"] == "Dabbagh A; Hosseininasab SSM; Behnaz F; Asgari S"
    assert row["first_author"] == "Dabbagh A"


def test_seed_abstract_paragraphs_and_curly_quotes() -> None:
    a = one(SEED)
    (abstract,) = a.abstracts
    assert abstract.lang == "en_US"
    texts = [s.text for s in abstract.sections]
    assert [t.split(":")[0] for t in texts] == ["Background", "Methods", "Results", "Conclusion"]
    assert "\u201cTargeting and Familiarization" in texts[2]
    assert "Mentoring Program.\u201d The Traditional" in texts[2]
    assert "&#x" not in a.abstract
    assert texts[3].endswith("the evidence to support this perception is not strong.")
    # every word of the source abstract is in the parsed one, in order
    source = SEED.read_text(encoding="utf-8")
    raw = re.search(r"<abstract[^>]*>(.*)</abstract>", source, re.S).group(1)  # type: ignore[union-attr]
    raw = raw.replace("&#x201C;", "\u201c").replace("&#x201D;", "\u201d")
    assert " ".join(raw.split()) == " ".join(a.abstract.split())


# ---------------------------------------------------------------- publisher ArticleSet


def test_publisher_structured_abstract_doi_keywords() -> None:
    a = one(FIXTURES / "elife-pubmed_pubmed-bmjopen-2013-003269.xml")
    assert a.doi == "10.1136/bmjopen-2013-003269"
    assert a.publisher_id == "bmjopen-2013-003269"
    assert a.elocation == "e003269"
    assert [s.label for s in a.abstracts[0].sections] == [
        "Objectives",
        "Design",
        "Setting",
        "Participants",
        "Primary and secondary outcome measures",
        "Results",
        "Conclusions",
    ]
    assert a.keywords == ("epidemiology", "Virology", "Infectious Diseases")
    assert a.languages == ("EN",)
    assert a.publication_types == ("Journal Article",)
    assert a.pub_date.iso() == "2014-01-31"  # <Month>January</Month>


def test_publisher_orcid_and_status() -> None:
    a = one(FIXTURES / "elife-pubmed_elife-pubmed-12717.xml")
    assert len(a.authors) == 11
    assert a.authors[6].orcid == "0000-0002-2794-0508"
    assert a.authors[6].first == "Alexandre A S F"
    assert a.publication_status == "aheadofprint"
    assert a.volume == "6" and a.issue is None
    assert [v for k, v in a.extra if k == "grant"] == [
        "1R01NS066936 | National Institute of Neurological Disorders and Stroke",
        "#1-FY12-455 | March of Dimes Foundation",
    ]


def test_ojs_variant_keeps_every_locale(tmp_path: Path) -> None:
    text = SEED.read_text(encoding="utf-8").replace(
        "    <FirstPage>",
        '    <title locale="fa_IR">برنامه منتورینگ</title>\n'
        '    <abstract locale="fa_IR">زمینه: متن</abstract>\n    <FirstPage>',
    )
    path = tmp_path / "two-locales.xml"
    path.write_text(text, encoding="utf-8")
    a = one(path)
    assert [(t.lang, t.text) for t in a.titles] == [
        ("en_US", "Mentoring Program in Academic Medicine: A Systematic Review Study"),
        ("fa_IR", "برنامه منتورینگ"),
    ]
    assert [x.lang for x in a.abstracts] == ["en_US", "fa_IR"]
    row = a.to_row()
    assert row["title_fa_IR"] == "برنامه منتورینگ"
    assert row["abstract_fa_IR"] == "زمینه: متن"


# ---------------------------------------------------------------- MEDLINE


def test_medline_counts_and_deleted_citation() -> None:
    deletions: list[Deletion] = []
    found = list(read_articles([SAMPLE], on_deletion=deletions.append))
    assert len(found) == SAMPLE.read_text().count("<PubmedArticle>") == 7
    assert [d.pmid for d in deletions] == ["30830050", "30830053", "30830055"]
    assert [a.record_index for a in found] == list(range(7))


def test_deleted_citations_warned_without_callback() -> None:
    with pytest.warns(ReviewWarning, match="3 PMID"):
        assert len(list(read_articles([SAMPLE]))) == 7


def test_medline_structured_abstract_and_doi() -> None:
    a = by_pmid(SAMPLE)["31383387"]
    sections = a.abstracts[0].sections
    assert [(s.label, s.category) for s in sections] == [
        ("BACKGROUND", "BACKGROUND"),
        ("METHODS", "METHODS"),
        ("RESULTS", "RESULTS"),
        ("CONCLUSIONS", "CONCLUSIONS"),
    ]
    assert sections[2].text.startswith("The model at 1 month after the start of observation")
    assert a.abstract.startswith("BACKGROUND: Pain-related affective")  # type: ignore[union-attr]
    assert a.doi == "10.1016/j.jos.2019.06.016"


def test_doi_from_an_elocation_that_is_not_the_last(tmp_path: Path) -> None:
    # PMID 31687927 lists the DOI ELocationID before the pii one; without the
    # ArticleIdList the DOI must still come from the ELocationID.
    text = SAMPLE.read_text(encoding="utf-8")
    record = re.search(
        r"<PubmedArticle>\s*<MedlineCitation[^>]*>\s*<PMID[^>]*>31687927</PMID>.*?</PubmedArticle>",
        text,
        re.S,
    ).group(0)  # type: ignore[union-attr]
    assert record.index('EIdType="doi"') < record.index('EIdType="pii"')
    no_ids = re.sub(r"<PubmedData>.*</PubmedData>", "", record, flags=re.S)
    path = tmp_path / "elocation.xml"
    path.write_text(f"<PubmedArticleSet>{no_ids}</PubmedArticleSet>", encoding="utf-8")
    a = one(path)
    assert a.doi == "10.7554/eLife.47969"
    assert a.elocation == "e47969"


def test_last_elocation_doi_is_found_too() -> None:
    a = by_pmid(SAMPLE)["31383582"]  # pii first, doi second
    assert a.doi == "10.1016/S2352-3026(19)30162-0"
    assert a.pages == "e492-e493"


def test_inline_markup_kept_as_text() -> None:
    a = one(FIXTURES / "biopython_pubmed4.xml")
    assert a.title == (
        "Leucocyte telomere length, genetic variants at the TERT gene region and risk of "
        "pancreatic cancer."
    )
    results = a.abstracts[0].sections[2]
    assert results.label == "RESULTS"
    assert "p<sub>trend</sub>" not in results.text and "ptrend=0.048" in results.text
    assert "r2<0.25" in results.text
    b = one(FIXTURES / "metapub_37167981.xml")
    assert "\u03bc" in b.title  # &#x3bc; inside <i>


def test_vernacular_title_languages_mesh() -> None:
    a = one(FIXTURES / "metapub_36987902.xml")
    assert a.vernacular_title == (
        "Pasienter over 75\u00a0år innlagt ved Brannskadeavdelinga, Haukeland "
        "universitetssjukehus 2000–19."
    ).replace("\u00a0", " ")
    assert a.languages == ("eng", "nor")
    assert "Burns/epidemiology" in a.mesh_terms and "Burns/therapy" in a.mesh_terms
    assert "Male" in a.mesh_terms
    assert a.authors[0].orcid == "0000-0001-7093-6988"
    assert a.authors[0].initials == "Ø"
    assert a.journal.iso_abbrev == "Tidsskr Nor Laegeforen"
    assert a.journal.issn_electronic == "0807-7096"
    assert a.publication_types == ("Journal Article",)


def test_medline_pages_expanded_and_kept() -> None:
    a = by_pmid(SAMPLE)["24451147"]
    assert a.pages == "1547-55"
    assert (a.first_page, a.last_page) == ("1547", "1555")


def test_legacy_medline_citation_set() -> None:
    found = list(read_articles([MEDSAMP]))
    assert len(found) == MEDSAMP.read_text(encoding="utf-8").count("<MedlineCitation ") == 88
    dates = {a.pmid: a.pub_date for a in found}
    assert dates["10188493"].raw == "1998 Dec-1999 Jan"
    assert dates["10188493"].year == 1998 and dates["10188493"].month is None
    collective = [x.collective for a in found for x in a.authors if x.collective]
    assert "U.S. Preventive Services Task Force" in collective
    # pre-2014 MEDLINE: the one article-level affiliation belongs to the first author
    first = next(a for a in found if a.pmid == "10540283")
    assert first.authors[0].affiliations[0].startswith("Department of Molecular Cell Physiology")
    assert all(not x.affiliations for x in first.authors[1:])
    other = next(a for a in found if a.pmid == "12179763")
    assert [x.kind for x in other.abstracts] == ["PIP"]


def test_gz_input_and_medline_date(tmp_path: Path) -> None:
    path = FIXTURES / "tipplerow_pubmed20n0002.xml.gz"
    found = list(read_articles([path]))
    assert len(found) == 10
    raw = gzip.decompress(path.read_bytes()).decode()
    assert sum(a.vernacular_title is not None for a in found) == raw.count("<VernacularTitle>")
    dated = [a for a in found if a.pub_date.raw]
    assert [(a.pmid, a.pub_date.raw, a.year) for a in dated] == [("30978", "1978 Sep-OCT", 1978)]
    assert (
        found[0].vernacular_title
        == "Bêta-bloquants et hypertension artérielle de la femme enceinte."
    )
    assert found[0].languages == ("fre",)


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SEED.read_bytes())))
    (a,) = read_articles(["-"])
    assert a.source_file == "<stdin>"
    assert len(a.authors) == 4


def test_paths_folder_glob_and_format() -> None:
    frame = articles_frame([FIXTURES / "seed_aacc_2025.xml", str(FIXTURES / "metapub_*.xml")])
    assert list(frame["pmid"].iloc[1:]) == ["36987902", "37167981"]
    assert frame.loc[0, "pages"] == "573-578"
    with pytest.warns(ReviewWarning):
        everything = articles_frame(FIXTURES)
    assert len(everything) == 1 + 1 + 1 + 1 + 1 + 1 + 1 + 10 + 7 + 88
    forced = list(read_articles([SEED], format="pubmed"))
    assert forced[0].title is not None


def test_parallel_jobs_give_the_same_records() -> None:
    paths = sorted(FIXTURES.glob("*.xml"))
    with pytest.warns(ReviewWarning):
        serial = list(read_articles(paths))
    with pytest.warns(ReviewWarning):
        parallel = list(read_articles(paths, jobs=2))
    assert parallel == serial


@pytest.mark.parametrize(
    "abstract",
    [
        "&lt;p&gt;Background: one &lt;em&gt;x&lt;/em&gt;.&lt;/p&gt;"
        "&lt;p&gt;Methods: two.&lt;/p&gt;",
        "<p>Background: one <i>x</i>.</p>\n<p>Methods: two.</p>",
        "Background: one <i>x</i>.\n  Methods: two.",
    ],
    ids=["escaped-html", "p-elements", "lines"],
)
def test_ojs_abstract_paragraphs(tmp_path: Path, abstract: str) -> None:
    path = tmp_path / "ojs.xml"
    path.write_text(
        f'<Articles JournalTitle="J"><Article><title locale="en">T</title>'
        f'<abstract locale="en">{abstract}</abstract></Article></Articles>',
        encoding="utf-8",
    )
    a = one(path)
    assert [s.text for s in a.abstracts[0].sections] == ["Background: one x.", "Methods: two."]
    assert a.journal.title == "J"  # from the root's JournalTitle attribute


_XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="<&>"), max_size=12
)


@settings(max_examples=60, deadline=None)
@given(year=_XML_TEXT, month=_XML_TEXT, day=_XML_TEXT)
def test_any_date_text_is_read_without_failing(year: str, month: str, day: str) -> None:
    import io

    from metareview.formats.pubmed import read_medline

    xml = (
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><Journal>"
        f"<JournalIssue><PubDate><Year>{year}</Year><Month>{month}</Month><Day>{day}</Day>"
        "</PubDate></JournalIssue></Journal></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>"
    )
    (article,) = read_medline(io.BufferedReader(io.BytesIO(xml.encode())), "fuzz")  # type: ignore[arg-type]
    date = article.pub_date
    assert date.month is None or 1 <= date.month <= 12
    if date.year is not None and month.strip() and date.month is None:
        assert date.raw is not None  # an unreadable month is kept as text, not dropped


def test_book_article(tmp_path: Path) -> None:
    # a PubmedBookArticle as efetch gives them for NCBI Bookshelf chapters (structure of
    # the PubMed DTD; editors are not authors)
    path = tmp_path / "book.xml"
    path.write_text(
        '<PubmedArticleSet><PubmedBookArticle><BookDocument><PMID Version="1">20301295</PMID>'
        "<Book><Publisher><PublisherName>University of Washington, Seattle</PublisherName>"
        "</Publisher><BookTitle>GeneReviews</BookTitle><PubDate><Year>1993</Year></PubDate>"
        '<AuthorList Type="editors"><Author><LastName>Adam</LastName></Author></AuthorList>'
        "</Book><ArticleTitle>BRCA1- and BRCA2-Associated Hereditary Breast and Ovarian Cancer"
        '</ArticleTitle><Language>eng</Language><AuthorList Type="authors"><Author>'
        "<LastName>Petrucelli</LastName><ForeName>Nancie</ForeName><Initials>N</Initials>"
        "</Author></AuthorList><PublicationType>Review</PublicationType></BookDocument>"
        "<PubmedBookData><PublicationStatus>ppublish</PublicationStatus></PubmedBookData>"
        "</PubmedBookArticle></PubmedArticleSet>",
        encoding="utf-8",
    )
    a = one(path)
    assert a.pmid == "20301295"
    assert a.title == "BRCA1- and BRCA2-Associated Hereditary Breast and Ovarian Cancer"
    assert (a.journal.title, a.journal.publisher) == (
        "GeneReviews",
        "University of Washington, Seattle",
    )
    assert [x.display for x in a.authors] == ["Petrucelli N"]
    assert a.year == 1993 and a.publication_types == ("Review",)
