"""Database exports read from tables, JSON and EndNote XML (Scopus, Embase, Cochrane,
EBSCOhost, Lens, OpenAlex CSV; Web of Science tab-delimited; OpenAlex API JSON; CSL-JSON;
EndNote XML): every fixture file checked against values read from its own text,
detection from content, round trips through RIS and BibTeX, each export quirk, and clear
errors for damaged files."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import InputError
from metareview.formats import bibtex, by_name, detect, ris
from metareview.records import Article
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"


def read(path: Path, name: str | None = None) -> list[Article]:
    with open_input(path) as stream:
        fmt = by_name(name) if name else detect(stream, str(path))
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def detected(data: bytes) -> str:
    return detect(io.BufferedReader(io.BytesIO(data)), "x").name  # type: ignore[arg-type]


def records(data: bytes, name: str | None = None) -> list[Article]:
    stream = io.BufferedReader(io.BytesIO(data))  # type: ignore[arg-type]
    fmt = by_name(name) if name else detect(stream, "mem.csv")
    return [a for a in fmt.read(stream, "mem.csv") if isinstance(a, Article)]


# (file, format, database, count, [(index, title, first author, year, doi, abstract start,
# abstract end)]): every value read from the file's own text.
CASES = [
    (
        "scopus_csv/amosfigueiredo_pyBibX_scopus.csv", "scopus-csv", "Scopus", 13,
        [
            (0, "Influence of temperature on mechanical and microstructural properties during "
             "fsw of magnesium alloys", "Unnikrishnan", 2020, None,
             "In material joining techniques the tempe", "blishers. All rights reserved."),
            (12, "Microstructure and tensile behavior of a Bobbin friction stir welded magnesium "
             "alloy", "Khalid", 2022, "10.1016/j.msea.2022.142861",
             "In bobbin friction stir welding (BFSW), ", "emperature. © 2022 The Authors"),
        ],
    ),
    (
        "scopus_csv/asreview_citation-file-formatting__baseline_scopus.csv", "scopus-csv",
        "Scopus", 10,
        [
            (0, "Global latitudinal gradients and the evolution of body size in dinosaurs and "
             "mammals", "Wilson", 2024, "10.1038/s41467-024-46843-2",
             "Global climate patterns fundamentally sh", "nciples. © The Author(s) 2024."),
            (9, "The evolution of femoral morphology in giant non-avian theropod dinosaurs",
             "Pintore", 2024, "10.1017/pab.2024.6",
             "Theropods are obligate bipedal dinosaurs", "lf of Paleontological Society."),
        ],
    ),
    (
        "scopus_csv/massimoaria_bibliometrix_scopus_sample.csv", "scopus-csv", "Scopus", 8,
        [
            (0, "Quantitative analysis of studies that use artificial intelligence on spinal "
             "diseases: A bibliometric analysis", "Liu", 2026, "10.1177/20552076261415846",
             "Objective: This study aimed to evaluate ", "n-us/nam/open-access-at-sage)."),
            (7, "Evidences and perspectives of transjugular intrahepatic portosystemic shunt: A "
             "bibliometric analysis from 1990 to 2024", "Li", 2025, "10.1097/MD.0000000000046229",
             "Background: – Transjugular intrahepatic ", "rns in the near future. © 2025"),
        ],
    ),
    (
        "embase_csv/asreview_asreview_embase.csv", "embase-csv", "Embase", 6,
        [
            (0, "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound",
             "Liu", 2014, "10.4103/2303-9027.138783",
             "Gastrointestinal tract duplication cysts ", "with regards to these lesions."),
            (5, "Completely Isolated Retroperitoneal Enteric Duplication Cyst with "
             "Adenocarcinoma Transformation Managed with Robotic Radical Nephrectomy",
             "Faraj", 2017, "10.1089/cren.2017.0016",
             "Background: Enteric duplication cysts ar", "ve in managing these patients."),
        ],
    ),
    (
        "cochrane_csv/asreview_citation-file-formatting__baseline_cochrane.csv", "cochrane-csv",
        "Cochrane CENTRAL", 3,
        [
            (0, "The Incredible Years Therapeutic Dinosaur Programme to build social and "
             "emotional competence in Welsh primary schools: study protocol for a randomised "
             "controlled trial", "Bywater", 2011, "10.1186/1745-6215-12-39",
             "BACKGROUND: School interventions such as", "trolled Trials ISRCTN96803379."),
            (2, "The Incredible Years Parenting and Child Treatment Programs: a Randomized "
             "Controlled Trial in a Child Welfare Setting in Spain", "Arruabarrena", 2022,
             "10.5093/pi2022a2", "Incredible Years (IY) is a well‐establis",
             "ild Welfare Services in Spain."),
        ],
    ),
    (
        "ebsco_csv/asreview_citation-file-formatting__baseline_cinahl.csv", "ebsco-csv",
        "Academic Search Premier", 10,
        [
            (0, "Osteohistological insight into the growth dynamics of early dinosaurs and "
             "their contemporaries.", "Curry Rogers", 2024, "10.1371/journal.pone.0298242",
             "Dinosauria debuted on Earth's stage in t", "ght applies to all Abstracts.)"),
            (9, "Comparative cranial osteology of subadult eucentrosauran ceratopsid dinosaurs "
             "from the Two Medicine Formation, Montana, indicates sequence of ornamentation "
             "development and complex supraorbital ontogenetic change.", "WILSON", 2021,
             "10.4202/app.00797.2020", "The eucentrosauran centrosaurines Einios",
             "ght applies to all Abstracts.)"),
        ],
    ),
    (
        "lens_csv/massimoaria_bibliometrix_lens_sample.csv", "lens-csv", "Lens", 8,
        [
            (0, "Dynamic real-time risk analytics of uncontrollable states in complex internet "
             "of things systems: cyber risk at the edge", "Petar Radanliev", 2020,
             "10.1007/s10669-020-09792-x", "The Internet of Things (IoT) triggers ne",
             "ent of IoT cyber risk posture."),
            (7, "Un análisis bibliométrico del brand equity 1991 - 2018",
             "Samir Ricardo Neme Chaves", 2019, "10.46661/revmetodoscuanteconempresa.3298",
             "espanolEste articulo proporciona un anal", " researchers and professionals"),
        ],
    ),
    (
        "openalex_csv/massimoaria_bibliometrix_openalex_sample.csv", "openalex-csv",
        "OpenAlex", 8,
        [
            (0, "bibliometrix : An R-tool for comprehensive science mapping analysis",
             "Massimo Aria", 2017, "10.1016/j.joi.2017.08.007", None, None),
            (7, "A Bibliometric Analysis: A Tutorial for the Bibliometrix Package in R Using "
             "IRT Literature", "Serap BÜYÜKKIDIK", 2022, "10.21031/epod.1069307",
             "The bibliometrix package in R programmin", "in the field of psychometrics."),
        ],
    ),
    (
        "wos_tabdelim/jpruiz84_ScientoPy_wos_3054.txt", "wos-tabdelim", "Web of Science", 54,
        [
            (0, "SenseLE: Exploiting Spatial Locality in Decentralized Sensing Environments",
             "Bozdog", 2017, "10.1109/ISPA/IUCC.2017.00206",
             "Generally, smart devices, such as smartp", "ergy consumption by up to 56%."),
            (53, "ISPO 17th world congress Kobe, Hyogo, Japan 5-8 Oct 2019 Abstracts", None,
             2019, "10.1177/0309364619883197", "Background Spinal cord injury (SCI) is a",
             "ison with traditional methods."),
        ],
    ),
    (
        "wos_tabdelim/rafguns_wosfile_wos_tab_delimited_win_utf8.txt", "wos-tabdelim",
        "Web of Science", 50,
        [
            (0, "Knowledge networks as channels and conduits: The effects of spillovers in the "
             "Boston biotechnology community", "Owen-Smith", 2004, "10.1287/orsc.1030.0054",
             "We contend that two important, nonrelati", " the Boston metropolitan area."),
            (49, "Engineering research in ocean sector: An international profile", "Dastidar",
             2005, "10.1007/s11192-005-0268-1", "In this paper attempt has been made to s",
             " research in Ocean Technology."),
        ],
    ),
    (
        "openalex_json/FMuro_bibliographer_openalex.json", "openalex-json", "OpenAlex", 65,
        [
            (0, "Homotopy theory of non-symmetric operads", "Fernando Muro", 2011, None,
             "We endow categories of nonsymmetric oper", "ric monoidal model categories."),
            (1, "Triangulated categories without models", "Fernando Muro", 2007,
             "10.1007/s00222-007-0061-2", None, None),
            (64, "The derived Auslander-Iyama correspondence", "Gustavo Jasso", 2026,
             "10.1090/jams/1079", None, None),
        ],
    ),
    (
        "csl_json/EarlOld_zotero-dstu-8302-2015_Exported_Items.json", "csl-json",
        "DOI.org (Datacite)", 1,
        [
            (0, "Google Quantum AI's Quest for Error-Corrected Quantum Computers", "AbuGhanem",
             2024, "10.48550/ARXIV.2410.00917", "Quantum computers stand at the forefront",
             " quantum computing technology."),
        ],
    ),
    (
        "csl_json/MarisaIsabell_marisaisabell.github.io_Exported_Items.json", "csl-json",
        {"BioMed Central", "Frontiers", "PubMed Central", "ScienceDirect", "Silverchair",
         "Wiley Online Library", "bioRxiv", "opus.bibliothek.uni-wuerzburg.de",
         "www.journal-of-hepatology.eu", "www.nature.com"},  # each item's "source"
        13,
        [
            (0, "Fecal microbial load is a major determinant of gut microbiome variation and a "
             "confounder for disease associations", "Nishijima", 2024,
             "10.1016/j.cell.2024.10.022", "The microbiota in individual habitats di",
             "riation in health and disease."),
            (12, "Metalog: curated and harmonised contextual data for global metagenomics "
             "samples", "Kuhn", 2026, "10.1093/nar/gkaf1118",
             "Metagenomic sequencing enables the in-de", "d at https://metalog.embl.de/."),
        ],
    ),
    (
        "endnote_xml/IEBH_RefLib_SpiderCite_demo.xml", "endnote-xml", "NLM", 10,
        [
            (0, "A multicenter, randomized, split-face clinical trial evaluating the efficacy and "
             "safety of chromophore gel-assisted blue light phototherapy for the treatment of "
             "acne", "Antoniou", 2016, "10.1111/ijd.13349",
             "BACKGROUND: Although a variety of laser/", "vere facial inflammatory acne."),
            (9, "Blue light phototherapy in the treatment of acne", "Tzung", 2004,
             "10.1111/j.1600-0781.2004.00109.x", "BACKGROUND: Blue light irradiation is kn",
             "es for blue light irradiation."),
        ],
    ),
    (
        "endnote_xml/IEBH_RefLib_blue-light.xml", "endnote-xml", "NLM", 102,
        [
            (0, "Formulation of Herbal Gel of Antirrhinum majus Extract and Evaluation of its "
             "Anti-Propionibacterium acne Effects", "Shahtalebi", 2018, "10.4103/abr.abr_99_17",
             "BACKGROUND: Antirrhinum majus contains a", "cne lesions must be performed."),
            (101, "Proton magic angle spinning NMR reveals new features in photodynamically "
             "treated bacteria", "Johansen", 2003, "10.1515/znc-2003-5-619",
             "The bacterium Propionibacterium acnes is", "treatment of the acne disease."),
        ],
    ),
    (
        "endnote_xml/hash-bang_Reflib-EndNoteXML_endnote-sm.xml", "endnote-xml",
        {"MEDLINE", None},  # remote-database-name; the last record has none
        5,
        [
            (0, "In situ carcinomas of the female breast. Diagnostic and therapeutic aspects "
             "with special reference to histological growth patterns. Clinical review",
             "Blichert-Toft", 1990, None, "There is a disparity between the autopsy",
             "AT 250 WORDS) [References: 38]"),
            (4, "Do we all have cancer?", "Resch", 2008, None, None, None),
        ],
    ),
]  # fmt: skip
FILES = [case[0] for case in CASES]


def first_author(article: Article) -> str | None:
    """The last name, or the whole name where the source gives no structure."""
    if not article.authors:
        return None
    author = article.authors[0]
    if article.source_format in ("lens-csv", "openalex-csv", "openalex-json"):
        return " ".join(p for p in (author.first, author.last) if p)
    return author.last


@pytest.mark.parametrize(("fixture", "name", "database", "count", "expected"), CASES)
def test_every_file_read_against_its_text(
    fixture: str,
    name: str,
    database: str | set[str | None],
    count: int,
    expected: list[tuple[object, ...]],
) -> None:
    found = read(FIXTURES / fixture)
    assert len(found) == count
    assert [a.record_index for a in found] == list(range(count))
    assert {a.source_format for a in found} == {name}
    databases = database if isinstance(database, set) else {database}
    assert {a.source_database for a in found} == databases
    for index, title, author, year, doi, start, end in expected:
        article = found[index]
        assert article.title == title
        assert first_author(article) == author
        assert article.year == year
        assert article.doi == doi
        if start is None:
            assert article.abstract is None
        else:
            assert article.abstract is not None
            assert article.abstract.startswith(str(start)) and article.abstract.endswith(str(end))


@pytest.mark.parametrize("fixture", FILES)
def test_detected_from_content_whatever_the_extension(fixture: str, tmp_path: Path) -> None:
    misnamed = tmp_path / "export.ris"  # a misleading extension on purpose
    shutil.copyfile(FIXTURES / fixture, misnamed)
    expected = next(case[1] for case in CASES if case[0] == fixture)
    with open_input(misnamed) as stream:
        assert detect(stream, str(misnamed)).name == expected


@pytest.mark.parametrize("fixture", FILES)
@pytest.mark.parametrize("writer", [ris, bibtex])
def test_round_trip_through_ris_and_bibtex(fixture: str, writer: object) -> None:
    original = read(FIXTURES / fixture)
    buffer = io.StringIO()
    assert writer.write(original, buffer) == len(original)  # type: ignore[attr-defined]
    back = records(buffer.getvalue().encode("utf-8"))
    assert len(back) == len(original)
    for before, after in zip(original, back, strict=True):
        assert after.title == before.title
        assert after.doi == before.doi
        assert after.year == before.year
        # A name given whole ("Viet-Cuong Ta") comes back from BibTeX as a braced group,
        # a group author from RIS as a last name.
        assert [a.last or a.collective for a in after.authors] == [
            a.last or a.collective for a in before.authors
        ]
        assert (after.abstract is None) == (before.abstract is None)


@pytest.mark.parametrize("fixture", FILES)
def test_review_parse_reads_each_file(fixture: str, tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    result = CliRunner().invoke(cli, ["parse", str(FIXTURES / fixture), "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str)
    count = next(case[3] for case in CASES if case[0] == fixture)
    database = next(case[2] for case in CASES if case[0] == fixture)
    assert len(frame) == count
    databases = database if isinstance(database, set) else {database}
    assert set(frame["source_database"].fillna("")) == {d or "" for d in databases}
    assert f"{count} records" in result.stderr


# ----------------------------------------------------------------- fields and extras


def test_scopus_fields_and_extras() -> None:
    path = FIXTURES / "scopus_csv/asreview_citation-file-formatting__baseline_scopus.csv"
    article = read(path)[0]
    assert (article.authors[0].last, article.authors[0].first) == ("Wilson", "Lauren N.")
    assert len(article.authors) == 8 and article.authors[7].last == "Organ"
    assert article.journal.title == "Nature Communications"
    assert (article.volume, article.issue, article.elocation) == ("15", "1", "2864")
    assert article.pmid == "38580657"
    assert article.publication_types == ("Article",)
    assert article.languages == ("English",)
    assert article.publisher_id == "2-s2.0-85189760133"
    extra = dict(article.extra)
    # Columns with no field are kept, e.g. the short author names and Scopus author IDs.
    assert extra["Authors"].startswith("Wilson L.N.; Gardner J.D.")
    assert extra["Author(s) ID"].startswith("58975547800; 57190394669")
    assert extra["Source"] == "Scopus"


def test_embase_without_doi_or_year_columns_reads_them_from_source_and_link() -> None:
    article = read(FIXTURES / "embase_csv/asreview_asreview_embase.csv")[0]
    assert article.journal.title == "Endoscopic Ultrasound"
    assert (article.volume, article.issue, article.first_page, article.last_page) == (
        "3", "3", "152", "160",
    )
    assert [a.display for a in article.authors] == ["Liu R", "Adler DG"]
    assert "bronchogenic duplication cyst (diagnosis, surgery)" in article.keywords
    extra = dict(article.extra)  # the texts the values were read from stay
    assert extra["Source"].startswith("Endoscopic Ultrasound (2014) 3:3 (152-160).")
    assert "id=doi:10.4103%2F2303-9027.138783" in extra["Open URL Link"]


def test_cochrane_pmid_and_initials() -> None:
    path = FIXTURES / "cochrane_csv/asreview_citation-file-formatting__baseline_cochrane.csv"
    article = read(path)[0]
    assert article.pmid == "21314913"  # printed "PUBMED 21314913"
    assert (article.authors[0].last, article.authors[0].initials) == ("Bywater", "T")
    assert article.publisher_id == "CN-00778158"
    assert dict(article.extra)["Database Name"].startswith("Cochrane Central Register")


def test_ebsco_formula_cells_and_us_dates() -> None:
    article = read(FIXTURES / "ebsco_csv/asreview_citation-file-formatting__baseline_cinahl.csv")[0]
    assert article.journal.issn == "19326203"  # printed ="19326203"
    assert (article.pub_date.year, article.pub_date.month, article.pub_date.day) == (2024, 4, 3)
    assert article.keywords[:2] == ("FEMUR", "DINOSAURS")
    assert dict(article.extra)["Page Count"] == "60"


def test_ebsco_database_from_the_record_link() -> None:
    header = "Article Title,Author,Accession Number,Doctype,PLink\n"
    row = 'T,"Doe, Jane",1,Article,https://search.ebscohost.com/login.aspx?direct=true&db=cin20&AN=1\n'
    (article,) = records((header + row).encode())
    assert article.source_format == "ebsco-csv"
    assert article.source_database == "CINAHL"
    (other,) = records((header + row.replace("db=cin20", "db=zzz")).encode())
    assert other.source_database == "EBSCOhost"


def test_wos_fields() -> None:
    found = read(FIXTURES / "wos_tabdelim/rafguns_wosfile_wos_tab_delimited_win_utf8.txt")
    article = found[0]
    assert article.journal.title == "ORGANIZATION SCIENCE"
    assert (article.volume, article.issue, article.first_page, article.last_page) == (
        "15", "1", "5", "21",
    )
    assert (article.authors[1].last, article.authors[1].initials) == ("Powell", "WW")
    assert dict(article.extra)["UT"].startswith("WOS:")
    assert article.pub_date.raw == "JAN-FEB"  # PD "JAN-FEB" kept as printed
    anonymous = read(FIXTURES / "wos_tabdelim/jpruiz84_ScientoPy_wos_3054.txt")[53]
    assert anonymous.authors == ()
    assert dict(anonymous.extra)["AU"] == "[Anonymous]"


def test_openalex_csv_doi_url_is_stripped_and_lists_split() -> None:
    article = read(FIXTURES / "openalex_csv/massimoaria_bibliometrix_openalex_sample.csv")[0]
    assert article.doi == "10.1016/j.joi.2017.08.007"
    assert [a.last for a in article.authors] == ["Aria", "Cuccurullo"]
    assert article.journal.title == "Journal of Informetrics"
    assert (article.pub_date.month, article.pub_date.day) == (9, 12)
    assert dict(article.extra)["authorships.countries"] == "IT|IT"


# ------------------------------------------------------------------------- quirks

SCOPUS_2019 = (
    "Authors,Title,Year,Source title,Volume,Issue,Art. No.,Page start,Page end,Page count,"
    "Cited by,DOI,Link,Affiliations,Authors with affiliations,Abstract,Author Keywords,"
    "Index Keywords,References,Document Type,Publication Stage,Access Type,Source,EID\n"
    '"Wilson L.N., Gardner J.D., Wilson J.P.",Global latitudinal gradients and the evolution '
    "of body size in dinosaurs and mammals,2024,Nature Communications,15,1,2864,,,,2,"
    "10.1038/s41467-024-46843-2,https://www.scopus.com/x,,,[No abstract available],,,,"
    "Article,Final,,Scopus,2-s2.0-85189760133\n"
)


def test_scopus_2019_unquoted_layout_with_comma_separated_authors() -> None:
    assert detected(SCOPUS_2019.encode()) == "scopus-csv"
    (article,) = records(SCOPUS_2019.encode())
    assert [(a.last, a.initials) for a in article.authors] == [
        ("Wilson", "LN"), ("Gardner", "JD"), ("Wilson", "JP"),
    ]
    assert article.doi == "10.1038/s41467-024-46843-2"
    assert article.abstract is None  # the placeholder is no abstract …
    assert dict(article.extra)["Abstract"] == "[No abstract available]"  # … but is kept


def test_scopus_bom_and_no_break_space_in_a_column_name() -> None:
    text = SCOPUS_2019.replace("Source title", "Source\u00a0title")
    text = text.replace("Page start", "PAGE START")
    data = b"\xef\xbb\xbf" + text.encode()
    assert detected(data) == "scopus-csv"
    (article,) = records(data)
    assert article.journal.title == "Nature Communications"
    assert all(not key.startswith("\ufeff") for key, _ in article.extra)


EMBASE_PREAMBLE = '"SEARCH QUERY","dinosaur:ti"\n-------------------------------------\n\n'


def test_embase_search_query_line_and_dash_row_before_the_header() -> None:
    body = (FIXTURES / "embase_csv/asreview_asreview_embase.csv").read_bytes()
    data = EMBASE_PREAMBLE.encode() + body
    assert detected(data) == "embase-csv"
    found = records(data)
    assert len(found) == 6
    assert found[0].title == (
        "Duplication cysts: Diagnosis, management, and the role of endoscopic ultrasound"
    )


def test_embase_full_layout_with_doi_and_year_columns() -> None:
    header = (
        '"Title","Author Names","Source","Source title","Publication Year","Volume","Issue",'
        '"First Page","Last Page","Date of Publication","ISSN","Embase Accession ID",'
        '"Medline PMID","DOI"\n'
    )
    row = (
        '"A new abelisaurid dinosaur","Pol D., Baiano M.A., Černý D.","Cladistics (2024) 40:3 '
        '(307-356). Date of Publication: 1 Jun 2024","Cladistics","2024","40","3","307","356",'
        '"1 Jun 2024","1096-0031 (electronic)","L644327397",38771085,10.1111/cla.12583\n'
    )
    (article,) = records((EMBASE_PREAMBLE + header + row).encode())
    assert article.doi == "10.1111/cla.12583"
    assert article.pmid == "38771085"
    assert (article.pub_date.year, article.pub_date.month, article.pub_date.day) == (2024, 6, 1)
    assert article.journal.issn == "1096-0031"
    assert dict(article.extra)["ISSN"] == "1096-0031 (electronic)"
    assert [a.display for a in article.authors] == ["Pol D", "Baiano MA", "Černý D"]


WOS = FIXTURES / "wos_tabdelim/rafguns_wosfile_wos_tab_delimited_win_utf8.txt"


def test_wos_utf16le_with_bom() -> None:
    text = WOS.read_bytes().decode("utf-8-sig")
    data = b"\xff\xfe" + text.encode("utf-16-le")
    assert detected(data) == "wos-tabdelim"
    found = records(data)
    assert len(found) == 50
    assert [a.title for a in found] == [a.title for a in read(WOS)]


def test_wos_cr_only_and_crlf_line_ends() -> None:
    text = WOS.read_bytes().decode("utf-8-sig")
    expected = [a.doi for a in read(WOS)]
    for ending in ("\r", "\r\n"):
        data = text.replace("\n", ending).encode()
        assert [a.doi for a in records(data)] == expected


def test_wos_trailing_tab_makes_one_more_cell_than_the_header() -> None:
    header, first = WOS.read_text(encoding="utf-8-sig").splitlines()[:2]
    assert len(first.split("\t")) == len(header.split("\t")) + 1  # the quirk is in the file
    (article,) = records(f"{header}\n{first}\n".encode())
    assert article.doi == "10.1287/orsc.1030.0054"


def test_wos_2023_71_column_layout_with_ut_last() -> None:
    path = FIXTURES / "wos_tabdelim/jpruiz84_ScientoPy_wos_3054.txt"
    header = path.read_text(encoding="utf-8-sig").splitlines()[0].split("\t")
    assert len(header) == 71 and header[-1] == "UT"
    article = read(path)[0]
    assert dict(article.extra)["UT"].startswith("WOS:")
    assert article.first_page == "1356"


WOS_MEDLINE_COLUMNS = [
    "PT", "AU", "BA", "BE", "GP", "AF", "BF", "CA", "TI", "SO", "SE", "BS",
    "LA", "DT", "CT", "CY", "CL", "SP", "HO", "DE", "ID", "AB", "C1", "RP",
    "EM", "RI", "OI", "FU", "FX", "CR", "NR", "TC", "Z9", "U1", "U2", "PU",
    "PI", "PA", "SN", "EI", "BN", "J9", "JI", "PD", "PY", "VL", "IS", "UT",
]  # fmt: skip


def test_wos_medline_48_column_layout() -> None:
    assert len(WOS_MEDLINE_COLUMNS) == 48
    values = dict.fromkeys(WOS_MEDLINE_COLUMNS, "")
    values.update(
        PT="J", AU="Owen-Smith, J; Powell, WW", TI="Knowledge networks as channels",
        SO="ORGANIZATION SCIENCE", LA="English", PY="2004", PD="JAN-FEB", VL="15",
        UT="MEDLINE:12345678",
    )
    data = "\t".join(values) + "\n" + "\t".join(values.values()) + "\t\n"
    assert detected(data.encode()) == "wos-tabdelim"
    (article,) = records(data.encode())
    assert article.title == "Knowledge networks as channels"
    assert dict(article.extra)["UT"] == "MEDLINE:12345678"
    assert [a.last for a in article.authors] == ["Owen-Smith", "Powell"]


def test_wos_quotes_in_a_cell_are_text() -> None:
    data = b'PT\tAU\tTI\tUT\nJ\tDoe, J\tThe "so-called" effect\tWOS:1\n'
    (article,) = records(data)
    assert article.title == 'The "so-called" effect'


# ---------------------------------------------------------- detection does not steal


@pytest.mark.parametrize(
    "data",
    [
        b"name,value\nx,1\n",  # a CSV from no database we know
        b"Title,Year\nA,2020\n",
        b"TY  - JOUR\nTI  - Title,EID\nER  - \n",
    ],
)
def test_other_tables_and_tagged_text_are_not_taken(data: bytes) -> None:
    try:
        name = detected(data)
    except InputError:
        return
    assert not name.endswith(("-csv", "-tabdelim"))


# ------------------------------------------------------------------- bad input


def test_ragged_row_is_located() -> None:
    data = b"CENTRAL ID,Title,Year\nCN-1,A,2001\nCN-2,B,2002,extra\n"
    with pytest.raises(InputError) as caught:
        records(data)
    assert caught.value.location == "mem.csv:3"
    assert "3 columns" in str(caught.value)


def test_short_row_is_located() -> None:
    with pytest.raises(InputError) as caught:
        records(b"CENTRAL ID,Title,Year\nCN-1,A\n")
    assert caught.value.location == "mem.csv:2"


def test_forced_format_on_an_empty_file_says_so() -> None:
    with pytest.raises(InputError, match="no header row"):
        records(b"", "scopus-csv")


def test_header_only_is_no_records() -> None:
    assert records(b"CENTRAL ID,Title,Year\n") == []


def test_binary_bytes_are_refused_with_a_location() -> None:
    data = b"CENTRAL ID,Title,Year\nCN-1,caf\xe9,2001\n"
    with pytest.raises(InputError) as caught:
        records(data)
    assert "not UTF-8" in str(caught.value)
    assert caught.value.location is not None and caught.value.location.startswith("mem.csv")


@pytest.mark.parametrize(
    "data",
    [
        b"CENTRAL ID,Title,Year\nCN-1,A,2001\nCN-2,B\n",
        b"\x00\x01\x02\xff binary",
        b"",
    ],
)
def test_cli_reports_bad_tables_without_traceback(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["parse", str(path), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code != 0
    assert "review: error:" in result.stderr
    assert str(path) in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


# ------------------------------------------------------------------ JSON and EndNote XML

OPENALEX = FIXTURES / "openalex_json/FMuro_bibliographer_openalex.json"


def test_openalex_single_work_and_its_fields() -> None:
    work = json.loads(OPENALEX.read_text(encoding="utf-8"))["results"][1]
    data = json.dumps(work, indent=2).encode()
    assert detected(data) == "openalex-json"
    (article,) = records(data)
    assert article.title == "Triangulated categories without models"
    assert article.doi == "10.1007/s00222-007-0061-2"  # printed as a doi.org link
    assert article.publisher_id == work["id"]
    assert article.authors[0].orcid == "0000-0001-8457-9889"
    assert (article.authors[0].first, article.authors[0].last) == ("Fernando", "Muro")
    assert article.journal.title == work["primary_location"]["source"]["display_name"]
    assert dict(article.extra)["cited_by_count"] == str(work["cited_by_count"])


def test_openalex_abstract_rebuilt_from_the_inverted_index() -> None:
    index = {"Blue": [0], "light": [1, 4], "treats": [2], "acne;": [3], "helps.": [5]}
    work = {"id": "https://openalex.org/W1", "title": "T", "abstract_inverted_index": index}
    data = json.dumps(work).encode()
    (article,) = records(data)
    assert article.abstract == "Blue light treats acne; light helps."


def test_csl_date_parts_mix_string_year_and_numeric_month_day() -> None:
    data = (b'[{"type": "article-journal", "title": "T", "issued": {"date-parts": '
            b'[["2024", 11, 13]]}, "author": [{"family": "Doe", "given": "Jane"}, '
            b'{"literal": "The Study Group"}, {"family": "Berg", "given": "Ana", '
            b'"non-dropping-particle": "van den"}]}]')
    assert detected(data) == "csl-json"
    (article,) = records(data)
    assert (article.pub_date.year, article.pub_date.month, article.pub_date.day) == (2024, 11, 13)
    assert [a.display for a in article.authors] == ["Doe J", "The Study Group", "van den Berg A"]
    assert article.authors[1].collective == "The Study Group"
    assert article.source_database is None  # no "source" given


def test_csl_single_item_and_raw_date() -> None:
    data = b'{"type": "book", "title": "T", "issued": {"raw": "2019/05/02"}, "source": "PubMed"}'
    assert detected(data) == "csl-json"
    (article,) = records(data)
    assert (article.year, article.pub_date.month) == (2019, 5)
    assert article.source_database == "PubMed"


ENDNOTE = FIXTURES / "endnote_xml/IEBH_RefLib_blue-light.xml"


def test_endnote_one_line_file_with_carriage_return_separators() -> None:
    assert ENDNOTE.read_bytes().count(b"\n") == 0  # the whole file is one line
    article = read(ENDNOTE)[0]
    assert article.affiliations[:2] == (
        "Department of Pharmaceutics, School of Pharmacy and Pharmaceutical Sciences, "
        "Isfahan University of Medical Sciences, Isfahan, Iran.",
        "Department of Pharmacognosy, School of Pharmacy and Pharmaceutical Sciences, "
        "Isfahan University of Medical Sciences, Isfahan, Iran.",
    )
    assert article.keywords[:2] == ("Acne", "Antirrhinum majus")
    assert (article.authors[0].last, article.authors[0].initials) == ("Shahtalebi", "MA")
    assert article.pmid == "29657938"  # accession number of an NLM record
    assert dict(article.extra)["custom2"] == "PMC5887696"


def test_endnote_empty_contributors() -> None:
    article = read(ENDNOTE)[89]
    assert article.authors == ()
    assert article.title is not None


def test_endnote_doi_as_resolver_link_and_pub_date_month() -> None:
    text = ENDNOTE.read_text(encoding="utf-8")
    style = '<style face="normal" font="default" size="100%">'
    doi = "10.4103/abr.abr_99_17"
    linked = text.replace(f"{style}{doi}", f"{style}https://dx.doi.org/{doi}")
    assert linked != text
    article = records(linked.encode())[0]
    assert article.doi == "10.4103/abr.abr_99_17"
    demo = read(FIXTURES / "endnote_xml/IEBH_RefLib_SpiderCite_demo.xml")[0]
    assert (demo.pub_date.year, demo.pub_date.month) == (2016, 12)  # <date>Dec</date>


def test_endnote_xml_goes_through_the_hardened_parser() -> None:
    data = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<xml><records><record><titles><title>&x;</title></titles></record></records></xml>")
    with pytest.raises(InputError):
        records(data, "endnote-xml")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"[1, 2]", "openalex-json", "item 1 is not a JSON object, as works are"),
        (b'{"meta": {}, "results": 5}', "openalex-json", "not a list of works"),
        (b'[{"title": "T"}, "x"]', "csl-json", "item 2 is not a JSON object, as items are"),
        (b'[{"title": "T",\n "issued": }]', "csl-json", "broken JSON"),
    ],
)
def test_json_that_is_not_a_list_of_works(data: bytes, name: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        records(data, name)


def test_broken_json_is_located(tmp_path: Path) -> None:
    path = tmp_path / "works.json"
    path.write_bytes(b'{"id": "https://openalex.org/W1",\n "title": }')
    result = CliRunner().invoke(cli, ["parse", str(path), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code != 0
    assert f"review: error: {path}:2:" in result.stderr
    assert "Traceback" not in result.output


def test_cli_forced_format_on_json_that_holds_no_works(tmp_path: Path) -> None:
    path = tmp_path / "numbers.json"
    path.write_bytes(b"[1, 2, 3]")
    result = CliRunner().invoke(
        cli, ["parse", str(path), "--from", "openalex-json", "-o", str(tmp_path / "o.csv")]
    )
    assert result.exit_code != 0
    assert "review: error:" in result.stderr and "not a JSON object" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("data", [b'{"a": 1}', b"[]", b'{"results": []}'])
def test_other_json_is_not_taken(data: bytes) -> None:
    with pytest.raises(InputError, match="no format we know"):
        detected(data)


# ------------------------------------------------------- one search, three databases

CROSSDB = FIXTURES / "crossdb"


def test_parse_scopus_wos_embase_then_dedupe_finds_the_shared_records(tmp_path: Path) -> None:
    runner = CliRunner()
    parsed = tmp_path / "records.csv"
    inputs = [str(CROSSDB / name) for name in ("scopus.csv", "wos.txt", "embase.ris")]
    result = runner.invoke(cli, ["parse", *inputs, "-o", str(parsed)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(parsed, dtype=str)
    assert list(frame["source_database"]) == ["Scopus"] * 3 + ["Web of Science"] * 3 + [
        "Embase"
    ] * 3
    assert list(frame["source_format"]) == ["scopus-csv"] * 3 + ["wos-plaintext"] * 3 + [
        "ris"
    ] * 3

    unique, log = tmp_path / "unique.csv", tmp_path / "duplicates.csv"
    result = runner.invoke(cli, ["dedupe", str(parsed), "-o", str(unique), "--log", str(log)])
    assert result.exit_code == 0, result.output
    assert "9 records read, 6 unique, 3 duplicates removed (doi 2, title 1)" in result.output
    pairs = pd.read_csv(log, dtype=str)
    found = {
        (row.kept.split("#")[0].rsplit("/", 1)[-1], row.removed.split("#")[0].rsplit("/", 1)[-1],
         row.rule)
        for row in pairs.itertuples()
    }
    assert found == {
        ("scopus.csv", "wos.txt", "doi"),  # Wilson et al. 2024
        ("scopus.csv", "embase.ris", "doi"),  # Riguetti et al. 2022, DOI as an upper-case URL
        ("embase.ris", "wos.txt", "title"),  # Yang et al. 2024, no DOI in the WoS record
    }
    kept = pd.read_csv(unique, dtype=str)
    assert len(kept) == 6
    assert kept["doi"].str.lower().value_counts().max() == 1


def test_wos_tab_row_reads_like_the_plain_text_record() -> None:
    """A row's C1 addresses go to the authors in their brackets, OI ORCIDs to theirs."""
    header = "PT\tAU\tAF\tTI\tC1\tOI\tPY\tPD\tUT\n"
    row = (
        "J\tLi, W; Dou, Z\tLi, Wei; Dou, Zhiguo\tSoil fauna\t"
        "[Li, Wei; Dou, Zhiguo] Chinese Acad Forestry, Beijing, China; "
        "[Li, Wei] Beijing Key Lab, Beijing, China\t"
        "Dou, Zhiguo/0000-0001-8031-4330\t2020\tDEC 16\tWOS:1\t\n"
    )
    (article,) = records((header + row).encode())
    li, dou = article.authors
    assert (li.last, li.first, li.initials) == ("Li", "Wei", "W")
    assert li.affiliations == (
        "Chinese Acad Forestry, Beijing, China",
        "Beijing Key Lab, Beijing, China",
    )
    assert dou.affiliations == ("Chinese Acad Forestry, Beijing, China",)
    assert dou.orcid == "0000-0001-8031-4330"
    assert (article.pub_date.month, article.pub_date.day) == (12, 16)


def test_scopus_affiliations_go_to_the_authors_named_with_them() -> None:
    path = FIXTURES / "scopus_csv/asreview_citation-file-formatting__baseline_scopus.csv"
    article = read(path)[0]
    wilson, gardner = article.authors[:2]
    # "Wilson L.N., University of Alaska Museum, …, United States, Department of
    # Geosciences, …" holds two entries of the record's "Affiliations".
    assert wilson.affiliations == (
        "University of Alaska Museum, 1962 Yukon Drive, Fairbanks, 99775, AK, United States",
        "Department of Geosciences, University of Alaska, Fairbanks, 99775, AK, United States",
    )
    assert gardner.affiliations == (
        "School of Biological Sciences, University of Reading, Reading, RG6 6EX, United Kingdom",
    )
    assert article.affiliations == ()  # every one went to an author
    assert dict(article.extra)["Authors with affiliations"].startswith("Wilson L.N., ")


def test_embase_addresses_go_to_the_authors_in_their_parentheses() -> None:
    data = (
        b'"SEARCH QUERY","dinosaur:ti"\n----------\n\n"Title","Author Names","Author Addresses"\n'
        b'"T","Yang Z., Jiang B., Xu J., McNamara M.E.","(Yang Z., zyang@ucc.ie; McNamara M.E.) '
        b"School of Biological, Earth and Environmental Sciences, University College Cork, Cork, "
        b'Ireland. , (Jiang B.; Xu J.) Nanjing University, Nanjing, China. , (Roe Q.) Elsewhere."\n'
    )
    (article,) = records(data)
    cork = "School of Biological, Earth and Environmental Sciences, University College Cork, "
    assert [a.affiliations for a in article.authors] == [
        (cork + "Cork, Ireland.",),
        ("Nanjing University, Nanjing, China.",),
        ("Nanjing University, Nanjing, China.",),
        (cork + "Cork, Ireland.",),
    ]
    assert article.affiliations == ("Elsewhere.",)  # names no author of the record
    assert "(Yang Z., zyang@ucc.ie" in dict(article.extra)["Author Addresses"]


def test_openalex_csv_full_column_layout() -> None:
    header = (
        "id,doi,title,display_name,publication_year,publication_date,type,"
        "primary_location.source.display_name,primary_location.source.host_organization_name,"
        "biblio.volume,biblio.first_page,biblio.last_page,abstract,"
        "authorships.raw_affiliation_strings,authorships.author.display_name\n"
    )
    row = (
        "https://openalex.org/W4387881419,https://doi.org/10.1016/j.cretres.2023.105752,"
        "A bioprovince,A bioprovince,2024,2024-02-01,article,Cretaceous Research,Elsevier BV,"
        "154,105752,105752,Text.,Univ A|Univ B,Alba Vicente|Josep Sanjuan\n"
    )
    (article,) = records((header + row).encode())
    assert article.source_format == "openalex-csv"
    assert article.doi == "10.1016/j.cretres.2023.105752"
    assert article.journal.publisher == "Elsevier BV"
    assert (article.volume, article.first_page) == ("154", "105752")
    assert article.affiliations == ("Univ A", "Univ B")
    assert dict(article.extra)["title"] == "A bioprovince"  # the second copy is kept


def test_scopus_title_in_two_languages_is_two_titles() -> None:
    path = FIXTURES / "scopus_csv/massimoaria_bibliometrix_scopus_sample.csv"
    article = next(a for a in read(path) if len(a.titles) > 1)
    assert article.title == (
        "FROM ALGORITHMS TO ACOUSTICS: A SCIENTIFIC MAPPING OF AI-BASED APPROACHES IN MUSIC "
        "AND ARCHITECTURAL DESIGN INTERSECTION"
    )
    assert article.titles[1].text.startswith("ALGORİTMALARDAN AKUSTİĞE: MÜZİK VE MİMARİ")
    assert article.to_row()["title_other"] == article.titles[1].text


def test_cochrane_csv_database_from_its_database_name_column() -> None:
    header = "CENTRAL ID,Author(s),Title,Year,Database Name\n"
    reviews = 'CD1,"Doe, J",T,2020,Cochrane Database of Systematic Reviews\n'
    (review,) = records((header + reviews).encode())
    assert review.source_database == "Cochrane Database of Systematic Reviews"
    (trial,) = records((header + "CN-1,,T,2020,\n").encode())
    assert trial.source_database == "Cochrane CENTRAL"  # no name given: a CENTRAL export


def test_embase_search_query_over_several_lines() -> None:
    body = (FIXTURES / "embase_csv/asreview_asreview_embase.csv").read_bytes()
    preamble = (
        b'"SEARCH QUERY","(\'duplication cyst\':ti\nOR \'enteric cyst\':ti)\n'
        b'AND [2010-2020]/py"\n'
    )
    for rest in (b"-----------------\n\n", b"\n"):  # ended by dashes, or by a blank line
        data = preamble + rest + body
        assert detected(data) == "embase-csv"
        assert len(records(data)) == 6


def test_csl_item_without_date_or_container_is_detected_by_its_type() -> None:
    data = b'[{"id": "k1", "type": "webpage", "title": "A page", "URL": "https://example.org"}]'
    assert detected(data) == "csl-json"
    (article,) = records(data)
    assert (article.title, article.url) == ("A page", "https://example.org")
    assert article.publication_types == ("webpage",)
    with pytest.raises(InputError, match="no format we know"):
        detected(b'{"type": "book", "pages": 3}')  # a CSL type but nothing else of an item


def test_endnote_several_dois_in_one_element_keep_the_others() -> None:
    data = (
        b'<?xml version="1.0"?><xml><records><record><titles><title>T</title></titles>'
        b"<electronic-resource-num>https://dx.doi.org/10.1000/a&#xD;10.1000/b"
        b"</electronic-resource-num></record></records></xml>"
    )
    (article,) = records(data)
    assert article.doi == "10.1000/a"
    assert dict(article.extra)["electronic-resource-num"].endswith("10.1000/b")


def test_lens_and_openalex_names_keep_particles_with_the_last_name() -> None:
    path = FIXTURES / "lens_csv/massimoaria_bibliometrix_lens_sample.csv"
    authors = read(path)[0].authors  # "Petar Radanliev; David De Roure; Max Van Kleek; …"
    assert [(a.first, a.last) for a in authors[:3]] == [
        ("Petar", "Radanliev"), ("David", "De Roure"), ("Max", "Van Kleek"),
    ]
    assert authors[2].display == "Van Kleek M"


def test_forcing_a_table_format_on_another_delimiter_is_refused() -> None:
    data = (FIXTURES / "scopus_csv/amosfigueiredo_pyBibX_scopus.csv").read_bytes()
    with pytest.raises(InputError, match="not tab-separated") as caught:
        records(data, "wos-tabdelim")
    assert caught.value.location == "mem.csv:1"


def test_folders_of_exports_are_read(tmp_path: Path) -> None:
    for name in ("scopus_csv/amosfigueiredo_pyBibX_scopus.csv",
                 "openalex_json/FMuro_bibliographer_openalex.json",
                 "wos_tabdelim/rafguns_wosfile_wos_tab_delimited_win_utf8.txt"):
        shutil.copy(FIXTURES / name, tmp_path)
    out = tmp_path.parent / f"{tmp_path.name}-records.csv"
    result = CliRunner().invoke(cli, ["parse", str(tmp_path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "128 records from 3 of 3 files" in result.stderr  # 13 + 65 + 50
