"""RIS, MEDLINE text (nbib) and BibTeX readers: every fixture file field by field (expected
values read from the files' own text), the quirks of real exports, detection from content
and clear errors for damaged files."""

from __future__ import annotations

import io
import shutil
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metareview.errors import InputError, ReviewWarning
from metareview.formats import bibtex, by_name, detect, nbib, ris
from metareview.records import Article, PubDate
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"


def read(path: Path | str, name: str | None = None) -> list[Article]:
    """Records of a file, its format detected from content (as `review parse` does)."""
    with open_input(path) as stream:
        fmt = by_name(name) if name else detect(stream, str(path))
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def from_text(module: object, text: str | bytes) -> list[Article]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(module.read(io.BytesIO(data), "mem.txt"))  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- RIS


def test_ris_crossref_content_negotiation_record() -> None:
    (a,) = read(FIXTURES / "ris" / "bolognese_crossref.ris")
    assert a.source_format == "ris"
    assert a.source_file.endswith("bolognese_crossref.ris")
    assert a.record_index == 0
    assert a.title == (
        "Automated quantitative histology reveals vascular morphodynamics during "
        "Arabidopsis hypocotyl secondary growth"
    )
    assert a.journal.title == "eLife"
    assert a.journal.issn == "2050084X"  # SN as printed, without hyphen
    assert [(x.last, x.first) for x in a.authors] == [
        ("Sankar", "Martial"),
        ("Nieminen", "Kaisa"),
        ("Ragni", "Laura"),
        ("Xenarios", "Ioannis"),
        ("Hardtke", "Christian S"),
    ]
    assert a.authors[4].display == "Hardtke CS"
    assert a.doi == "10.7554/eLife.01567"
    assert a.url == "http://elifesciences.org/lookup/doi/10.7554/eLife.01567"
    assert a.abstract is not None
    assert a.abstract.startswith("Among various advantages, their small size")
    assert a.abstract.endswith("severely hampered by their scale.")
    assert a.pub_date == PubDate(2014)
    assert a.volume == "3"
    assert a.issue is None and a.page_range is None
    assert a.extra == (("TY", "JOUR"),)


def test_ris_sciencedirect_quirks() -> None:
    """Empty IS and T2 tags, PY 2016/12//, a DOI as a dx.doi.org URL, non-ASCII text."""
    (a,) = read(FIXTURES / "ris" / "jabref_RisImporterTestScience.ris")
    assert (
        a.title == "Phase separation and ω transformation in binary V-Ti and ternary V-Ti-Cr alloys"
    )
    assert a.journal.title == "Acta Materialia"  # JO, as T2 is empty
    assert a.journal.issn == "1359-6454"
    assert a.volume == "121"
    assert a.issue is None  # "IS  - " holds nothing
    assert (a.first_page, a.last_page, a.page_range) == ("310", "324", "310-324")
    assert a.pub_date == PubDate(2016, 12, None, None)
    assert a.doi == "10.1016/j.actamat.2016.09.028"
    assert a.url == "//www.sciencedirect.com/science/article/pii/S1359645416307273"
    assert [x.display for x in a.authors] == ["Ghosh C", "Basu J", "Ramachandran D", "Mohandas E"]
    assert a.authors[3].first == "E."
    assert a.keywords == (
        "V-Ti-Cr alloys",
        "Spinodal decomposition",
        "ω phase transformation",
        "High-resolution electron microscopy",
        "Energy-filtered transmission microscopy",
    )
    assert a.abstract == "Abstract"
    assert a.extra == (("TY", "JOUR"),)  # empty tags are not kept as extra


def test_ris_scopus_keeps_unknown_tags_in_order() -> None:
    (a,) = read(FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris")
    assert a.title == (
        "A transversely isotropic composite with a statistical distribution of spheroidal "
        "inclusions: A geometrical approach to overall properties"
    )
    assert a.journal.title == "Journal of the Mechanics and Physics of Solids"
    assert (a.volume, a.issue, a.first_page, a.last_page) == ("52", "10", "2309", "2327")
    assert a.year == 2004
    assert a.doi == "10.1016/j.jmps.2004.03.010"
    assert [x.display for x in a.authors] == ["Federico S", "Grillo A", "Herzog W"]
    assert a.keywords == (
        "Composite",
        "Inclusions",
        "Statistical distribution",
        "Transverse isotropy",
    )
    assert a.url is not None and a.url.startswith("http://www.scopus.com/inward/record.url?eid=")
    assert a.url.endswith("&md5=ad1a4baab95650b103a3467b787b83aa")
    assert a.abstracts == ()
    # AD lines are not tied to an author: with three authors they are the record's
    assert a.affiliations == (
        "Dipto. di Ingegneria Industriale, Facoltà di Ingegneria, Univ. degli Studi di "
        "Catania, Catania, Italy",
        "Human Performance Laboratory, Faculty of Kinesiology, University of Calgary, 2500 "
        "University Drive NW, Calgary, Alta. T2N 1N4, Canada",
        "Dipartimento di Metodologie Fisiche, Facoltà di Ingegneria, Univ. degli Studi di "
        "Catania, Catania, Italy",
    )
    assert a.extra == (
        ("TY", "JOUR"),
        ("N1", "Cited By :44"),
        ("N1", "Export Date: 1 April 2016"),
        ("M3", "Article"),
        ("DB", "Scopus"),
    )
    row = a.to_row()
    assert row["extra_N1"] == "Cited By :44; Export Date: 1 April 2016"


def test_ris_continuation_lines_pubmed_accession_and_dates() -> None:
    text = (
        "TY  - JOUR\r\n"
        "TI  - A title\r\n"
        "AU  - Smith, John, Jr.\r\n"
        "AU  - World Health Organization\r\n"
        "AB  - First paragraph\r\n"
        "continues here.\r\n"
        "Second paragraph.\r\n"
        "PY  - 2020\r\n"
        "DA  - 2020/03/05/\r\n"
        "SP  - 12-19\r\n"
        "AN  - 31415926\r\n"
        "DB  - PubMed\r\n"
        "ER  - \r\n"
    )
    (a,) = from_text(ris, text)
    assert [s.text for s in a.abstracts[0].sections] == [
        "First paragraph",
        "continues here.",
        "Second paragraph.",
    ]
    assert (a.authors[0].last, a.authors[0].first, a.authors[0].suffix) == ("Smith", "John", "Jr.")
    assert a.authors[1].last == "World Health Organization"
    assert a.pub_date == PubDate(2020, 3, 5)  # DA agrees with PY and says more
    assert (a.first_page, a.last_page, a.pages) == ("12", "19", "12-19")
    assert a.pmid == "31415926"
    assert ("DB", "PubMed") in a.extra


def test_ris_date_that_disagrees_stays_in_extra() -> None:
    (a,) = from_text(ris, "TY  - JOUR\nPY  - 2019\nDA  - 2020/01/02\nER  -\n")
    assert a.pub_date == PubDate(2019)
    assert ("DA", "2020/01/02") in a.extra


def test_ris_missing_er_and_stray_lines_are_reported_not_dropped() -> None:
    text = "Exported from somewhere\nTY  - JOUR\nTI  - One\nTY  - BOOK\nTI  - Two\n"
    with pytest.warns(ReviewWarning) as caught:
        records = from_text(ris, text)
    assert [r.title for r in records] == ["One", "Two"]
    messages = [str(w.message) for w in caught]
    assert any("mem.txt:2: this record has no ER line" in m for m in messages)
    assert any("mem.txt:4: the last record has no ER line" in m for m in messages)
    assert any("mem.txt:1: 1 line(s) outside any TY" in m for m in messages)


def test_ris_byte_order_mark_and_record_numbers() -> None:
    data = b"\xef\xbb\xbf1.\nTY  - JOUR\nTI  - Caf\xc3\xa9\nER  - \n\n2.\nTY  - JOUR\nER  - \n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "1." record counters are not stray text
        records = from_text(ris, data)
    assert [r.title for r in records] == ["Café", None]
    assert [r.record_index for r in records] == [0, 1]


# ----------------------------------------------------------------------------- nbib


def test_nbib_single_record_field_by_field() -> None:
    (a,) = read(FIXTURES / "nbib" / "biopython_pubmed_result1.txt")
    assert a.source_format == "nbib"
    assert a.pmid == "12230038"
    assert a.title == "The Bio* toolkits--a brief overview."
    assert a.journal.title == "Briefings in bioinformatics"
    assert a.journal.iso_abbrev == "Brief Bioinform"
    assert a.journal.issn_print == "1467-5463"
    assert (a.volume, a.issue, a.pages) == ("3", "3", "296-302")
    assert (a.first_page, a.last_page) == ("296", "302")
    assert a.pub_date == PubDate(2002, 9)
    assert a.abstract is not None
    assert a.abstract.startswith("Bioinformatics research is often difficult to do with commercial")
    # continuation lines are joined with one space
    assert "software. The Open Source BioPerl" in a.abstract
    assert a.abstract.endswith("beginning biologist programmer.")
    (author,) = a.authors
    assert (author.last, author.first, author.initials) == ("Mangalam", "Harry", "H")
    # a pre-2014 AD (before any author) is the first author's affiliation
    assert author.affiliations == ("tacg Informatics, Irvine, CA 92612, USA. hjm@tacgi.com",)
    assert a.languages == ("eng",)
    assert a.publication_types == ("Journal Article",)
    assert a.mesh_terms == (
        "Computational Biology",
        "Computer Systems",
        "Humans",
        "Internet",
        "Programming Languages",
        "Software",
        "User-Computer Interface",
    )
    assert a.publication_status == "ppublish"
    assert ("SO", "Brief Bioinform. 2002 Sep;3(3):296-302.") in a.extra
    assert ("JID", "100912837") in a.extra
    assert ("EDAT", "2002/09/17 10:00") in a.extra


def test_nbib_four_records_with_wrapped_lines() -> None:
    records = read(FIXTURES / "nbib" / "biopython_pubmed_result2.txt")
    assert [r.pmid for r in records] == ["16403221", "16377612", "14871861", "14630660"]
    first, second, third, fourth = records
    assert first.doi == "10.1186/1471-2105-7-10"
    assert first.publisher_id == "1471-2105-7-10"
    assert first.pmcid == "PMC1373603"
    assert first.journal.issn_electronic == "1471-2105"
    assert first.pub_date == PubDate(2006)
    assert first.pages == "10" and first.first_page == "10"
    assert first.history == (
        ("received", PubDate(2005, 6, 17)),
        ("accepted", PubDate(2006, 1, 10)),
        ("aheadofprint", PubDate(2006, 1, 10)),
        ("electronic", PubDate(2006, 1, 10)),  # DEP - 20060110
    )
    assert first.authors[0].affiliations == (
        "Bioinformatics, Institute of Cell and Molecular Science, School of Medicine and "
        "Dentistry, Queen Mary, University of London, London EC1 6BQ, UK. j.a.casbon@qmul.ac.uk",
    )
    assert (first.authors[2].first, first.authors[2].initials) == ("Mansoor A S", "MA")
    assert first.mesh_terms[2] == "Information Storage and Retrieval/methods"
    assert first.publication_types == ("Evaluation Studies", "Journal Article")

    assert second.title == (
        "GenomeDiagram: a python package for the visualization of large-scale genomic data."
    )
    assert second.pub_date == PubDate(2006, 3, 1)
    assert (second.pages, second.first_page, second.last_page) == ("616-7", "616", "617")
    assert second.doi == "10.1093/bioinformatics/btk021"
    assert second.publisher_id == "btk021"
    assert second.journal.title == "Bioinformatics (Oxford, England)"

    assert third.doi == "10.1093/bioinformatics/bth078"  # AID [doi] before AID [pii]
    assert (third.authors[0].last, third.authors[0].first) == ("de Hoon", "M J L")
    assert third.authors[0].initials == "MJ"
    assert third.page_range == "1453-1454"

    assert fourth.page_range == "2308-2310"
    assert fourth.mesh_terms[1:3] == (
        "Database Management Systems/standards",
        "Databases, Protein",
    )
    assert ("RN", "0 (Macromolecular Substances)") in fourth.extra
    assert fourth.doi is None


def test_nbib_lid_doi_mesh_orcid_and_non_ascii() -> None:
    records = read(FIXTURES / "nbib" / "rispy_example_pubmed.txt")
    assert len(records) == 10
    a = records[0]
    assert a.pmid == "30922926"
    assert a.doi == "10.1016/j.ejmg.2019.03.004"  # LID … [doi]
    assert a.publisher_id == "S1769-7212(19)30059-X"
    assert a.elocation == "103640"  # LID without a kind
    assert ("AID", "103640 [pii]") in a.extra  # a second PII is kept, not dropped
    assert a.journal.issn_print == "1769-7212" and a.journal.issn_electronic == "1878-0849"
    assert a.journal.issn is None  # the linking ISSN repeats the print one
    assert a.pub_date == PubDate(2020, 2)
    assert a.keywords == ("Chromosome", "Comparative", "Dinosaur", "Genome evolution", "Karyotype")
    assert a.mesh_terms == (
        "Animals",
        "Birds/genetics",
        "Chromosome Aberrations",
        "Chromosomes",
        "Dinosaurs/genetics",
        "Evolution, Molecular",
        "Gene Ontology",
        "Genome",
        "Genomics/history",
        "History, Ancient",
        "Humans",
        "Karyotype",
        "Phenotype",
    )
    assert a.publication_types == ("Historical Article", "Journal Article", "Review")
    assert (
        "CI",
        "Copyright © 2019 The Authors. Published by Elsevier Masson SAS.. All rights reserved.",
    ) in a.extra
    assert a.abstract is not None and "(plus ∼7 fissions)" in a.abstract
    assert a.authors[2].last == "O'Connor"
    assert a.authors[2].affiliations == (
        "School of Biosciences, University of Kent, Canterbury, CT2 7NJ, UK. Electronic "
        "address: R.O'Connor@kent.ac.uk.",
    )

    b = records[1]
    assert b.pub_date == PubDate(2023, 4, 25)
    assert b.doi == "10.1073/pnas.2217872120"
    assert b.elocation == "e2217872120" and b.first_page == "e2217872120"
    peñalver = b.authors[0]
    assert (peñalver.last, peñalver.first, peñalver.initials) == ("Peñalver", "Enrique", "E")
    assert peñalver.orcid == "0000-0001-8312-6087"
    assert b.authors[1].orcid == "0000-0003-4074-7400"
    assert len(b.authors[1].affiliations) == 3
    assert b.authors[2].last == "Álvarez-Parra"
    assert b.authors[4].orcid is None  # Arillo has no AUID line

    assert records[2].doi == "10.7554/eLife.80092"
    assert records[2].elocation == "e80092" and records[2].pages is None
    assert records[4].page_range == "117-155"  # PG - 117-55
    assert records[9].title == (
        "Low dinosaur biodiversity in central China 2 million years prior to the "
        "end-Cretaceous mass extinction."
    )
    assert records[9].authors[0].orcid == "0000-0002-9450-006X"


def test_nbib_record_without_blank_line_and_bad_line() -> None:
    records = from_text(nbib, "PMID- 1\nTI  - One\nPMID- 2\nTI  - Two\n")
    assert [(r.pmid, r.title) for r in records] == [("1", "One"), ("2", "Two")]
    with pytest.raises(InputError) as caught:
        from_text(nbib, "PMID- 1\nTI  - One\nthis is not a tag line\n")
    assert caught.value.location == "mem.txt:3"
    assert "not a MEDLINE line" in str(caught.value)


def test_nbib_collective_author_and_au_only_records() -> None:
    text = "PMID- 5\nAU  - Smith J\nCN  - The Trial Group\nAU  - Jones AB\nAD  - Somewhere\n"
    (a,) = from_text(nbib, text)
    assert [x.display for x in a.authors] == ["Smith J", "The Trial Group", "Jones AB"]
    assert a.authors[2].affiliations == ("Somewhere",)


# ----------------------------------------------------------------------------- BibTeX


def test_bibtex_crossref_entry_decodes_braces() -> None:
    (a,) = read(FIXTURES / "bibtex" / "bolognese_crossref.bib")
    assert a.source_format == "bibtex"
    assert a.title == (
        "Automated quantitative histology reveals vascular morphodynamics during "
        "Arabidopsis hypocotyl secondary growth"
    )
    assert a.journal.publisher == "eLife Sciences Organisation, Ltd."  # {eLife} unbraced
    assert a.journal.title == "eLife"
    assert a.journal.issn == "2050-084X"
    assert a.doi == "10.7554/elife.01567"
    assert a.url == "http://elifesciences.org/lookup/doi/10.7554/eLife.01567"
    assert a.pub_date == PubDate(2014, 2)  # year = 2014, month = {feb}
    assert a.volume == "3"
    assert [x.display for x in a.authors] == [
        "Sankar M",
        "Nieminen K",
        "Ragni L",
        "Xenarios I",
        "Hardtke CS",
    ]
    assert a.abstract is not None and a.abstract.endswith("severely hampered by their scale.")
    assert a.extra == (
        ("ENTRYTYPE", "article"),
        ("ID", "Sankar_2014"),
        ("copyright", "http://creativecommons.org/licenses/by/3.0/"),
    )


#: From the text of jabref_Chocolate.bib: key, date, volume, number, first, last page, DOI.
CHOCOLATE = [
    ("Corti_2009", 2009, 3, "119", "10", "1433", "1441", "10.1161/circulationaha.108.827022"),
    ("Cooper_2007", 2007, 8, "99", "1", "1", "11", "10.1017/s0007114507795296"),
    ("Ding_2006", 2006, 1, "3", "1", None, None, "10.1186/1743-7075-3-2"),
    ("Keen_2001", 2001, 10, "20", "sup5", "436S", "439S", "10.1080/07315724.2001.10719181"),
    ("Katz_2011", 2011, 11, "15", "10", "2779", "2811", "10.1089/ars.2010.3697"),
    ("Parker_2006", 2006, 6, "92", "2–3", "149", "159", "10.1016/j.jad.2006.02.007"),
    ("Scholey_2013", 2013, 10, "71", "10", "665", "681", "10.1111/nure.12065"),
    ("Tan_2021", 2021, 8, "13", "9", "2909", None, "10.3390/nu13092909"),
    ("Macht_2007", 2007, 11, "49", "3", "667", "674", "10.1016/j.appet.2007.05.004"),
    ("Tokede_2011", 2011, 5, "65", "8", "879", "886", "10.1038/ejcn.2011.64"),
    ("Garcia_2018", 2018, 12, "19", "4", None, None, "10.31083/j.rcm.2018.04.3187"),
    ("Hooper_2012", 2012, 3, "95", "3", "740", "751", "10.3945/ajcn.111.023457"),
    ("Di_Renzo_2012", 2012, 6, "25", "10", "1860", "1867", "10.3109/14767058.2012.683085"),
    ("Richard_2017", 2017, 9, "8", None, None, None, "10.3389/fpsyg.2017.01591"),
    ("Fulton_1969", 1969, 12, "210", "11", "2071", "2074", "10.1001/jama.1969.03160370055011"),
]


def test_bibtex_biblatex_library_every_entry() -> None:
    records = read(FIXTURES / "bibtex" / "jabref_Chocolate.bib")
    assert len(records) == len(CHOCOLATE)  # @Comment blocks are not records
    for article, expected in zip(records, CHOCOLATE, strict=True):
        key, year, month, volume, number, first, last, doi = expected
        assert dict(article.extra)["ID"] == key
        assert (article.year, article.pub_date.month) == (year, month), key
        assert (article.volume, article.issue) == (volume, number), key
        assert (article.first_page, article.last_page) == (first, last), key
        assert article.doi == doi


def test_bibtex_biblatex_names_latex_and_extras() -> None:
    records = {dict(r.extra)["ID"]: r for r in read(FIXTURES / "bibtex" / "jabref_Chocolate.bib")}
    corti = records["Corti_2009"]
    assert corti.journal.title == "Circulation"  # journaltitle
    assert corti.journal.issn == "1524-4539"
    assert corti.journal.publisher == "Ovid Technologies (Wolters Kluwer Health)"
    assert [(a.last, a.first) for a in corti.authors] == [
        ("Corti", "Roberto"),
        ("Flammer", "Andreas J."),
        ("Hollenberg", "Norman K."),
        ("Lüscher", "Thomas F."),  # decomposed ü in the file, composed (NFC) here
    ]
    assert records["Ding_2006"].journal.title == "Nutrition & Metabolism"  # \&
    assert records["Tokede_2011"].authors[2].last == "Djoussé"
    assert records["Hooper_2012"].authors[6].last == "Cassidy"
    assert records["Hooper_2012"].authors[6].first == "Aedín"
    assert records["Di_Renzo_2012"].authors[0].last == "Di Renzo"
    fulton = records["Fulton_1969"]
    assert fulton.title == "Effect of Chocolate on Acne Vulgaris"  # {{…}} unbraced
    assert (fulton.authors[0].last, fulton.authors[0].first, fulton.authors[0].suffix) == (
        "Fulton",
        "James E.",
        "Jr.",
    )
    assert fulton.url == "https://doi.org/10.1001/jama.1969.03160370055011"
    assert (
        "eprint",
        "https://jamanetwork.com/journals/jama/articlepdf/350738/jama_210_11_011.pdf",
    ) in fulton.extra
    assert ("readstatus", "read") in records["Parker_2006"].extra
    assert ("groups", "Used") in records["Parker_2006"].extra
    assert records["Keen_2001"].page_range == "436S-439S"


def test_bibtex_strings_groups_urls_keywords_and_others() -> None:
    text = r"""% a comment line
@string{nat = "Nature"}
@article{k1,
  author = {{World Health Organization} and M{\"u}ller, Hans and others},
  title = {50\% of {DNA} -- a test},
  journal = nat,
  year = {2020}, month = {March},
  url = {http://example.org/a%20b_c},
  keywords = {meta-analysis; risk, bias; trials},
  pages = {e1001},
  editor = {Doe, Jane},
}
"""
    (a,) = from_text(bibtex, text)
    assert a.authors[0].collective == "World Health Organization"
    assert (a.authors[1].last, a.authors[1].first) == ("Müller", "Hans")
    assert len(a.authors) == 2  # "and others" is et al., not a person
    assert a.title == "50% of DNA – a test"
    assert a.journal.title == "Nature"
    assert a.pub_date == PubDate(2020, 3)
    assert a.url == "http://example.org/a%20b_c"  # % is not a LaTeX comment in a URL
    assert a.keywords == ("meta-analysis", "risk, bias", "trials")
    assert a.first_page == "e1001"
    assert ("editor", "Doe, Jane") in a.extra


def test_bibtex_damaged_entry_is_located() -> None:
    text = "@article{ok, title={Fine}}\n\n@article{bad, title={Broken\n"
    with pytest.raises(InputError) as caught:
        from_text(bibtex, text)
    assert caught.value.location == "mem.txt:3"
    assert "damaged BibTeX entry: Unexpectedly reached end of file." in caught.value.message


def test_bibtex_duplicate_key_keeps_both_entries() -> None:
    text = "@article{same, title={One}}\n@article{same, title={Two}}\n"
    with pytest.warns(ReviewWarning, match="used twice"):
        records = from_text(bibtex, text)
    assert [r.title for r in records] == ["One", "Two"]


# ------------------------------------------------------------------ decoding, detection


@pytest.mark.parametrize("module", [ris, nbib, bibtex])
def test_undecodable_bytes_are_located(module: object) -> None:
    start = {ris: b"TY  - JOUR\n", nbib: b"PMID- 1\n", bibtex: b"@article{k,\n"}[module]  # type: ignore[index]
    data = start + b"TI  - caf\xe9 au lait\n"
    with pytest.raises(InputError) as caught:
        from_text(module, data)
    assert caught.value.location == "mem.txt:2:10"
    assert "0xe9 is not UTF-8" in str(caught.value)
    assert caught.value.hint is not None and "UTF-8" in caught.value.hint


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("ris/bolognese_crossref.ris", "ris"),
        ("ris/jabref_RisImporterTestScopus.ris", "ris"),
        ("nbib/biopython_pubmed_result1.txt", "nbib"),
        ("nbib/rispy_example_pubmed.txt", "nbib"),
        ("bibtex/bolognese_crossref.bib", "bibtex"),
        ("bibtex/jabref_Chocolate.bib", "bibtex"),
    ],
)
def test_detection_from_content_not_extension(tmp_path: Path, fixture: str, expected: str) -> None:
    misnamed = tmp_path / "download.xml"  # the wrong extension on purpose
    shutil.copyfile(FIXTURES / fixture, misnamed)
    with open_input(misnamed) as stream:
        assert detect(stream, str(misnamed)).name == expected
    assert len(read(misnamed)) >= 1


def test_detection_with_bom_and_header_lines(tmp_path: Path) -> None:
    path = tmp_path / "refs"
    path.write_bytes(b"\xef\xbb\xbf% Encoding: UTF-8\n\n@Article{a, title={T}}\n")
    assert [a.title for a in read(path)] == ["T"]
    path.write_bytes(b"Provider: Elsevier\nContent: text/plain\n\nTY  - JOUR\nTI  - T\nER  - \n")
    with open_input(path) as stream:
        assert detect(stream, str(path)).name == "ris"


def test_unknown_text_names_the_known_formats(tmp_path: Path) -> None:
    path = tmp_path / "notes.ris"
    path.write_text("just some notes\n")
    with open_input(path) as stream, pytest.raises(InputError) as caught:
        detect(stream, str(path))
    hint = caught.value.hint or ""
    for name in ("ris", "nbib", "bibtex", "jats"):
        assert name in hint


def test_mixed_inputs_say_which_format_and_file_each_record_came_from() -> None:
    from metareview import read_articles

    paths = [
        FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris",
        FIXTURES / "nbib" / "biopython_pubmed_result2.txt",
        FIXTURES / "bibtex" / "bolognese_crossref.bib",
        FIXTURES / "pubmed" / "seed_aacc_2025.xml",
    ]
    records = list(read_articles(paths))
    assert [(r.source_format, Path(r.source_file).name, r.record_index) for r in records] == [
        ("ris", "jabref_RisImporterTestScopus.ris", 0),
        ("nbib", "biopython_pubmed_result2.txt", 0),
        ("nbib", "biopython_pubmed_result2.txt", 1),
        ("nbib", "biopython_pubmed_result2.txt", 2),
        ("nbib", "biopython_pubmed_result2.txt", 3),
        ("bibtex", "bolognese_crossref.bib", 0),
        ("pubmed", "seed_aacc_2025.xml", 0),
    ]


# ---------------------------------------------------------------------------------- CLI


def test_cli_parse_ris_to_bibtex_and_back(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    source = FIXTURES / "ris" / "jabref_RisImporterTestScopus.ris"
    refs = tmp_path / "refs.ris"
    shutil.copyfile(source, refs)
    out = tmp_path / "out.bib"
    runner = CliRunner()
    result = runner.invoke(cli, ["parse", str(refs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 records from 1 of 1 files" in result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("@article{Federico2004,")
    assert "doi = {10.1016/j.jmps.2004.03.010}" in text
    (back,) = read(out)
    assert back.title == read(source)[0].title

    csv_run = runner.invoke(cli, ["parse", str(out), "-q"])  # BibTeX in, CSV on stdout
    assert csv_run.exit_code == 0
    assert "Journal of the Mechanics and Physics of Solids" in csv_run.output


def test_cli_parse_mixed_inputs_to_nbib_and_forced_format(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    out = tmp_path / "all.nbib"
    runner = CliRunner()
    inputs = [str(FIXTURES / "nbib" / "biopython_pubmed_result1.txt"),
              str(FIXTURES / "bibtex" / "bolognese_crossref.bib")]  # fmt: skip
    result = runner.invoke(cli, ["parse", *inputs, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [r.pmid for r in read(out)] == ["12230038", None]
    forced = runner.invoke(cli, ["parse", inputs[0], "--from", "ris", "-q"])
    assert forced.exit_code == 65  # read as RIS, the file holds no TY record: an error
    assert "41 line(s) outside any TY … ER record were not read" in forced.output
    assert "no ris records in this file — leave out --from" in forced.output


def test_cli_parse_bad_text_file_is_a_clear_error(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    bad = tmp_path / "bad.nbib"
    bad.write_bytes(b"PMID- 1\nTI  - caf\xe9\n")
    out = tmp_path / "out.ris"
    result = CliRunner().invoke(cli, ["parse", str(bad), "-o", str(out)])
    assert result.exit_code == 65
    assert f"review: error: {bad}:2:10: byte 0xe9 is not UTF-8 text" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    unknown = tmp_path / "notes.txt"
    unknown.write_text("hello\n")
    result = CliRunner().invoke(cli, ["parse", str(unknown)])
    assert result.exit_code == 65
    assert "in no format we know" in result.output and "known formats: " in result.output
    assert "ris, nbib" in result.output or ", ris," in result.output
    assert len(result.output.splitlines()) == 1  # names only: one readable line


def test_cli_parse_stdin_nbib_to_ris_on_stdout() -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    data = (FIXTURES / "nbib" / "biopython_pubmed_result1.txt").read_bytes()
    result = CliRunner().invoke(cli, ["parse", "-", "--to", "ris", "-q"], input=data)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [
        "TY  - JOUR",
        "TI  - The Bio* toolkits--a brief overview.",
        "AU  - Mangalam, Harry",
        "AD  - tacg Informatics, Irvine, CA 92612, USA. hjm@tacgi.com",
        "PY  - 2002",
    ]
    assert "AN  - 12230038" in lines and "DB  - PubMed" in lines
    assert lines[-2:] == ["ER  - ", ""]


_TAGS = st.sampled_from(
    [
        *("TY  - ", "TI  - ", "AU  - ", "PY  - ", "DA  - ", "SP  - ", "ER  - ", "DO  - "),
        *("PMID- ", "FAU - ", "AD  - ", "DP  - ", "PG  - ", "LID - ", "IS  - ", "PHST- "),
        *("DEP - ", "AUID- ", "      ", "", "@article{k, ", "author = {", "title = {", "}"),
        *("pages = {", "date = {"),
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=st.lists(st.tuples(_TAGS, st.text(max_size=20)).map("".join), max_size=12),
    module=st.sampled_from([ris, nbib, bibtex]),
)
def test_any_text_gives_records_or_a_located_error(lines: list[str], module: object) -> None:
    """Whatever the bytes, a reader returns records or raises an InputError: never a
    traceback from deep inside (dates like '2020 ¹', stray braces, orphan lines)."""
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        try:
            records = from_text(module, data)
        except InputError as exc:
            assert exc.location is not None and exc.location.startswith("mem.txt")
        else:
            assert all(isinstance(r, Article) for r in records)


def test_dates_with_odd_digits_keep_their_text() -> None:
    (a,) = from_text(nbib, "PMID- 1\nDP  - 2020 Mar ³\nPG  - ¹²-³\n")
    assert a.pub_date == PubDate(2020, 3, None, "2020 Mar ³")
    assert a.pages == "¹²-³"


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"\xef\xbb\xbf\n"])
def test_an_empty_export_says_it_is_empty(tmp_path: Path, content: bytes) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    empty = tmp_path / "export.ris"
    empty.write_bytes(content)
    result = CliRunner().invoke(cli, ["parse", str(empty)])
    assert result.exit_code == 65
    assert f"review: error: {empty}: the file is empty" in result.output
    assert "Traceback" not in result.output
