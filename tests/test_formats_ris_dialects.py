"""RIS as the databases export it: Scopus, Embase (Elsevier), Ovid (MEDLINE, Embase,
PsycInfo, CAB), Cochrane CENTRAL (both flavours) and EBSCOhost. Every fixture is checked
against its own text (record count, titles, first authors, years, DOIs, abstracts), each
dialect's quirks get a test of their own, and the database of each record is named."""

from __future__ import annotations

import io
import re
import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import ReviewWarning
from metareview.formats import detect, ris
from metareview.records import Article
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
#: fixture → (records, database of every record)
FILES = {
    "scopus_ris/asreview_citation-file-formatting__baseline_scopus.ris": (10, "Scopus"),
    "scopus_ris/camaradesuk_ASySD_scopus.ris": (10, "Scopus"),
    "scopus_ris/mjwestgate_synthesisr_Scopus_ris_example.ris": (3, "Scopus"),
    "embase_ris/asreview_citation-file-formatting__baseline_embase.ris": (10, "Embase"),
    "ovid/mjwestgate_synthesisr_Ovid_ris_example.ris": (4, "CAB Abstracts"),
    "psycinfo/asreview_asreview_ovid_psycinfo.ris": (6, "APA PsycInfo"),
    "psycinfo/asreview_citation-file-formatting__baseline_psychInfo_ovid.ris": (10, "APA PsycInfo"),
    "cochrane_ris/asreview_citation-file-formatting__baseline_cochrane_endnote.ris": (
        3,
        "Cochrane CENTRAL",
    ),
    "cochrane_ris/asreview_citation-file-formatting__baseline_cochrane_refman.ris": (
        3,
        "Cochrane CENTRAL",
    ),
    "ebsco_ris/ESHackathon_CiteSource_20221207_gambling-harms_crimjust_41.ris": (
        41,
        "Criminal Justice Abstracts",
    ),
    "ebsco_ris/asreview_citation-file-formatting__baseline_cinahl.ris": (
        9,
        "Academic Search Premier",
    ),
    "ebsco_ris/mjwestgate_synthesisr_ASP_ris_example.ris": (4, "Academic Search Premier"),
}


CFF = "asreview_citation-file-formatting__baseline"


def read(path: Path | str) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        assert fmt.name == "ris"
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def from_text(text: str | bytes) -> list[Article]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(ris.read(io.BytesIO(data), "mem.ris"))


def by_grep(path: Path) -> list[dict[str, str | None]]:
    """Each record's first title, author, year, DOI and abstract line, found in the file's
    text with plain regular expressions (independently of the reader)."""
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    records = re.split(r"(?m)^TY  ?-  ?", text)[1:]

    def first(tags: str, record: str) -> str | None:
        found = re.search(rf"(?m)^(?:{tags})  ?-  ?(.*?)\s*$", record)
        return found.group(1) if found else None

    rows = []
    for record in records:
        doi = first("DO", record) or first("L3", record)
        year = first("PY|Y1", record)
        rows.append(
            {
                "title": first("TI|T1", record),
                "author": first("AU|A1", record),
                "year": year[:4] if year else None,
                "doi": re.sub(r"^https?://(dx\.)?doi\.org/", "", doi) if doi else None,
                "abstract": first("AB|N2", record),
            }
        )
    return rows


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_record_matches_the_file_text(name: str) -> None:
    count, database = FILES[name]
    path = FIXTURES / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no dialect of these files is "stray text"
        articles = read(path)
    expected = by_grep(path)
    assert len(articles) == len(expected) == count
    assert [a.record_index for a in articles] == list(range(count))
    for article, row in zip(articles, expected, strict=True):
        assert article.source_database == database
        assert article.title == row["title"]
        assert article.year == int(row["year"] or 0)
        assert article.doi == row["doi"]
        first = article.authors[0]
        assert row["author"] is not None and row["author"].startswith(first.last or "?")
        if row["abstract"] is None:
            assert article.abstract is None
        else:
            assert article.abstract is not None
            assert article.abstract.startswith(row["abstract"][:60])


def test_first_records_field_by_field() -> None:
    """Values copied from the files by hand, one per dialect."""
    (scopus, *_) = read(FIXTURES / "scopus_ris/mjwestgate_synthesisr_Scopus_ris_example.ris")
    assert scopus.title == (
        "Soil fauna diversity at different stages of reed restoration in a lakeshore "
        "wetland at Lake Taihu, China"
    )
    assert (scopus.authors[0].last, scopus.authors[0].first) == ("Li", "W.")
    assert scopus.journal.title == "Ecosystem Health and Sustainability"
    assert scopus.doi == "10.1080/20964129.2020.1722034"
    assert ("N1", "Export Date: 30 April 2020") in scopus.extra

    (embase, *_) = read(FIXTURES / f"embase_ris/{CFF}_embase.ris")
    assert embase.journal.title == "Nature Communications"
    assert embase.journal.iso_abbrev == "Nat. Commun."
    assert embase.languages == ("English",)
    assert embase.abstract is not None and embase.abstract.startswith("Fossil feathers have")

    (ovid, *_) = read(FIXTURES / "ovid/mjwestgate_synthesisr_Ovid_ris_example.ris")
    assert ovid.doi == "10.4236/ojf.2020.101008"  # DO http://dx.doi.org/…
    assert (ovid.first_page, ovid.last_page) == ("110", "123")
    assert ovid.title == "Detection of retention trees on clearcuts, a 50-year perspective."


def test_ovid_numbering_and_full_text_link_lines() -> None:
    """ "1." before each record and "Link to the Ovid Full Text…" after it: the link is
    kept with its record (L2), the counter is furniture, nothing is reported."""
    articles = read(FIXTURES / "ovid/mjwestgate_synthesisr_Ovid_ris_example.ris")
    links = [v for a in articles for t, v in a.extra if t == "L2"]
    assert len(links) == 4
    assert all(v.startswith("Link to the Ovid Full Text or citation: http") for v in links)
    assert "D=caba6&AN=20203152553" in links[0]


def test_ovid_tag_line_after_er_belongs_to_the_record() -> None:
    """Ovid PsycInfo prints ``NL  - Clin Psychol Psychother`` after the record's ER."""
    articles = read(FIXTURES / "psycinfo/asreview_asreview_ovid_psycinfo.ris")
    assert ("NL", "Clin Psychol Psychother") in articles[0].extra
    assert articles[0].doi == "10.1002/cpp.2398"


def test_ovid_database_from_db_line_or_link() -> None:
    text = (
        "1. \nTY  - JOUR\nDB  - Embase\nTI  - A\nER  - \n\n"
        "Link to the Ovid Full Text or citation: http://ovidsp.ovid.com/ovidweb.cgi?T=JS&D=emed\n"
        "2. \nTY  - JOUR\nDB  - Ovid MEDLINE(R) ALL\nTI  - B\nER  - \n\n"
        "3. \nTY  - JOUR\nTI  - C\n"
        "L2  - http://ovidsp.ovid.com/ovidweb.cgi?T=JS&PAGE=reference&D=medl&NEWS=N&AN=1\n"
        "ER  - \n"
    )
    assert [a.source_database for a in from_text(text)] == [
        "Ovid Embase",
        "Ovid MEDLINE",
        "Ovid MEDLINE",
    ]


def test_psycinfo_untagged_lines_continue_the_abstract() -> None:
    """ "Abstract (Spanish)" and the Spanish text follow N2 on untagged lines."""
    articles = read(FIXTURES / f"psycinfo/{CFF}_psychInfo_ovid.ris")
    (spanish,) = [a for a in articles if a.abstract and "Abstract (Spanish)" in a.abstract]
    sections = [s.text for s in spanish.abstracts[0].sections]
    assert sections[-2] == "Abstract (Spanish)"
    assert sections[-1].startswith("Incredible Years (IY) es un programa de intervencion")


def test_cochrane_headers_and_both_flavours() -> None:
    """ "Record #3 of 18" / "Provider:" / "Content:" before each record, two spaces after the
    hyphen; the AU/TI/AB and A1/T1/N2 exports of the same records read the same."""
    endnote = read(FIXTURES / f"cochrane_ris/{CFF}_cochrane_endnote.ris")
    refman = read(FIXTURES / f"cochrane_ris/{CFF}_cochrane_refman.ris")
    assert [a.title for a in endnote] == [a.title for a in refman]
    assert [a.abstract for a in endnote] == [a.abstract for a in refman]
    assert [a.authors for a in endnote] == [a.authors for a in refman]
    first = endnote[0]
    assert first.extra[:2] == (("TY", "JOUR"), ("AN", "CN-00778158"))  # no leading space
    assert [a.last for a in first.authors] == ["Bywater", "Hutchings", "Whitaker", "Evans", "Parry"]
    assert first.journal.iso_abbrev == "Trials"
    assert first.volume == "12" and first.first_page == "39"
    assert first.abstract is not None and first.abstract.startswith("BACKGROUND: School")


def test_ebsco_doi_in_l3_second_ab_is_the_copyright_notice() -> None:
    articles = read(FIXTURES / "ebsco_ris/mjwestgate_synthesisr_ASP_ris_example.ris")
    first = articles[0]
    assert first.doi == "10.1016/j.agee.2016.06.041"  # from L3
    assert first.title is not None and first.title.startswith("“Living on the edge”")
    assert first.authors[0].last == "Rodríguez-Pastor"  # CRLF file, UTF-8 names
    assert first.abstract is not None and "Copyright of" not in first.abstract
    notices = [v for t, v in first.extra if t == "AB"]
    assert len(notices) == 1 and notices[0].startswith("Copyright of Agriculture, Ecosystems")
    assert [a.doi is None for a in articles] == [False, True, True, False]
    assert not any("\r" in (a.title or "") + (a.abstract or "") for a in articles)


def test_ebsco_database_codes() -> None:
    text = "TY  - JOUR\nTI  - A\nDP  - EBSCOhost\nDB  - c8h\nER  - \n"
    text += "TY  - JOUR\nTI  - B\nDP  - EBSCOhost\nDB  - CINAHL Complete\nER  - \n"
    text += "TY  - JOUR\nTI  - C\nDP  - EBSCOhost\nER  - \n"
    assert [a.source_database for a in from_text(text)] == ["CINAHL", "CINAHL", "EBSCOhost"]


def test_irregular_spacing_around_the_hyphen() -> None:
    text = "TY -  BOOK\nTI  -  Spaced\nAU -   Doe, Jane\nPY  -2019\nER  -\n"
    text += "TY  - JOUR\nTI - Two\nER -\n"
    first, second = from_text(text)
    assert first.extra[0] == ("TY", "BOOK")
    assert first.title == "Spaced"
    assert (first.authors[0].last, first.authors[0].first) == ("Doe", "Jane")
    assert second.title == "Two"
    assert ris.split_line("AB  - A value -  with hyphens") == ("AB", "A value -  with hyphens")
    assert ris.split_line("Not a tag - here") == (None, "Not a tag - here")


def test_scopus_references_over_hundreds_of_untagged_lines() -> None:
    """Scopus puts "References:" in N1 and each reference on an untagged line after it."""
    references = "\n".join(f"Author{i}, A., Title {i} (2001) J, {i}, pp. 1-2;" for i in range(400))
    text = "TY  - JOUR\nTI  - T\nN1  - References: First, R., X (2000)\n"
    text += f"{references}\nDB  - Scopus\nER  - \n"
    (a,) = from_text(text)
    (n1,) = [v for t, v in a.extra if t == "N1"]
    assert n1.count("\n") == 400
    assert n1.splitlines()[-1] == "Author399, A., Title 399 (2001) J, 399, pp. 1-2;"
    assert a.source_database == "Scopus"


def test_text_outside_records_is_reported_with_its_lines_and_no_record_is_dropped() -> None:
    text = (
        "Scopus\nEXPORT DATE: 05 August 2024\n\nTY  - JOUR\nTI  - One\nER  - \n"
        "some note\nTY  - JOUR\nTI  - Two\nER  - \n"
    )
    with pytest.warns(
        ReviewWarning,
        match=r"mem\.ris:1: 3 line\(s\) outside any TY … ER record "
        r"were not read \(lines 1, 2, 7\)",
    ):
        articles = from_text(text)
    assert [a.title for a in articles] == ["One", "Two"]


@pytest.mark.parametrize("suffix", [".bib", ".txt", ".csv", ".xml"])
def test_detected_from_content_whatever_the_extension(tmp_path: Path, suffix: str) -> None:
    source = FIXTURES / f"cochrane_ris/{CFF}_cochrane_endnote.ris"
    copy = tmp_path / f"export{suffix}"
    shutil.copy(source, copy)
    assert [a.title for a in read(copy)] == [a.title for a in read(source)]


def test_cli_parse_names_each_database(tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    files = [
        FIXTURES / "scopus_ris/mjwestgate_synthesisr_Scopus_ris_example.ris",
        FIXTURES / f"cochrane_ris/{CFF}_cochrane_refman.ris",
        FIXTURES / "ebsco_ris/mjwestgate_synthesisr_ASP_ris_example.ris",
    ]
    result = CliRunner().invoke(cli, ["parse", *map(str, files), "-o", str(out)])
    assert result.exit_code == 0, result.output
    import pandas

    frame = pandas.read_csv(out)
    assert (
        frame["source_database"].tolist()
        == ["Scopus"] * 3 + ["Cochrane CENTRAL"] * 3 + ["Academic Search Premier"] * 4
    )


def test_database_from_db_line_variants_and_scopus_links() -> None:
    text = (
        "TY  - JOUR\nTI  - A\nDB  - Ovid MEDLINE(R) <1946 to Present>\nER  - \n"
        "TY  - JOUR\nTI  - B\nUR  - https://www.scopus.com/inward/record.uri?eid=2-s2.0-1\n"
        "ER  - \n"
        "TY  - JOUR\nTI  - C\nDB  - PubMed\nAN  - 123\nER  - \n"
        "TY  - JOUR\nTI  - D\nER  - \n"
    )
    assert [a.source_database for a in from_text(text)] == [
        "Ovid MEDLINE",
        "Scopus",
        "PubMed",
        None,
    ]


@pytest.mark.parametrize(
    "printed",
    [
        "10.1002/CPP.2398",
        "http://dx.doi.org/10.1002/cpp.2398",
        "https://doi.org/10.1002/CPP.2398",
        "doi:10.1002/cpp.2398",
        "DOI 10.1002/cpp.2398",
    ],
)
def test_one_doi_cleaner_for_reading_and_matching(printed: str) -> None:
    """Readers drop resolver prefixes (case kept); dedupe matches in lower case, on the
    same cleaner."""
    from metareview.dedupe import normalise_doi
    from metareview.formats._plaintext import strip_doi

    cleaned = strip_doi(printed)
    assert cleaned is not None and cleaned.lower() == "10.1002/cpp.2398"
    assert normalise_doi(printed) == "10.1002/cpp.2398"
    (a,) = from_text(f"TY  - JOUR\nDO  - {printed}\nER  - \n")
    assert a.doi == cleaned


def test_the_same_search_in_six_databases_then_dedupe(tmp_path: Path) -> None:
    """One search run in Scopus (CSV and RIS), Embase, EBSCOhost, Ovid PsycInfo and Cochrane
    CENTRAL (the citation-file-formatting datasets): `review parse` reads all six and
    `review dedupe` finds the records they share, across databases too."""
    files = [
        FIXTURES / f"scopus_csv/{CFF}_scopus.csv",
        FIXTURES / f"scopus_ris/{CFF}_scopus.ris",
        FIXTURES / f"embase_ris/{CFF}_embase.ris",
        FIXTURES / f"ebsco_ris/{CFF}_cinahl.ris",
        FIXTURES / f"psycinfo/{CFF}_psychInfo_ovid.ris",
        FIXTURES / f"cochrane_ris/{CFF}_cochrane_endnote.ris",
    ]
    records, unique, log = (tmp_path / n for n in ("records.csv", "unique.csv", "log.csv"))
    runner = CliRunner()
    result = runner.invoke(cli, ["parse", *map(str, files), "-o", str(records)])
    assert result.exit_code == 0, result.output
    assert "52 records from 6 of 6 files" in result.output
    result = runner.invoke(cli, ["dedupe", str(records), "-o", str(unique), "--log", str(log)])
    assert result.exit_code == 0, result.output
    import pandas

    kept = pandas.read_csv(unique)
    assert len(kept) == 40
    by_doi = dict(zip(kept["doi"].str.lower(), kept["found_in"], strict=True))
    assert "cinahl" in by_doi["10.1371/journal.pone.0298957"]  # Scopus and EBSCOhost
    assert "cochrane" in by_doi["10.5093/pi2022a2"]  # PsycInfo and CENTRAL
    assert "psychInfo" in by_doi["10.5093/pi2022a2"]


@pytest.mark.parametrize("writer", ["ris", "bibtex"])
@pytest.mark.parametrize(
    "source",
    [
        "wos_plaintext/mjwestgate_synthesisr_WoS_ciw_example.ciw",
        "cochrane_txt/andrewjt71_cochrane-application_citation-export.txt",
        "ovid/knh11545_commandline4expertsearchers_Embase_citavi_r3001-3002.ovd",
        "ebsco_ris/mjwestgate_synthesisr_ASP_ris_example.ris",
        "psycinfo/asreview_asreview_ovid_psycinfo.ris",
        "nbib/biopython_pubmed_result2.txt",
    ],
)
def test_the_database_survives_ris_and_bibtex(source: str, writer: str) -> None:
    """Written as RIS (``DB``) or BibTeX (``source``, as Scopus writes it) and read back,
    each record still says which database it came from, and a PMID stays a PMID."""
    from metareview.formats import bibtex

    module = {"ris": ris, "bibtex": bibtex}[writer]
    with open_input(FIXTURES / source) as stream:
        fmt = detect(stream, source)
        articles = [a for a in fmt.read(stream, source) if isinstance(a, Article)]
    buffer = io.StringIO()
    module.write(articles, buffer)
    back = list(module.read(io.BytesIO(buffer.getvalue().encode()), "back"))
    assert [a.source_database for a in back] == [a.source_database for a in articles]
    assert all(a.source_database for a in back)
    assert [a.pmid for a in back] == [a.pmid for a in articles]
