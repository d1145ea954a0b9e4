"""Web of Science plain text: every fixture against its own text (record count, titles,
first authors, years, DOIs, abstracts), the header variants, ``EF`` without a final
newline, reduced field sets without ``AF``, addresses and ORCIDs tied to their authors."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import ReviewWarning
from metareview.formats import by_name, detect
from metareview.records import Article, PubDate
from metareview.xmlsafe import open_input

FIXTURES = Path(__file__).parent / "fixtures" / "wos_plaintext"
FILES = {
    "coreofscience_python-wostools_1c3e1f81-6526-49c0-b623-fbd554ec423a.txt": 3,
    "massimoaria_bibliometrix_wos_sample.txt": 8,
    "mjwestgate_synthesisr_WoS_ciw_example.ciw": 5,
    "networks-lab_metaknowledge_savedrecs.txt": 32,
}
WOS = by_name("wos-plaintext")
CFF = "asreview_citation-file-formatting__baseline"


def read(path: Path) -> list[Article]:
    with open_input(path) as stream:
        fmt = detect(stream, str(path))
        assert fmt.name == "wos-plaintext"
        return [a for a in fmt.read(stream, str(path)) if isinstance(a, Article)]


def from_text(text: str | bytes) -> list[Article]:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return list(WOS.read(io.BytesIO(data), "mem.txt"))  # type: ignore[arg-type]


def by_grep(path: Path) -> list[dict[str, str | None]]:
    """Title, first author's last name (AF, else AU), PY, DI and abstract of each record."""
    text = path.read_text(encoding="utf-8-sig")
    rows = []
    for record in re.split(r"(?m)^ER\s*$", text)[:-1]:

        def field(tag: str, record: str = record) -> str | None:
            found = re.search(rf"(?m)^{tag} (.*(?:\n   .*)*)", record)
            if found is None:
                return None
            lines = found.group(1).split("\n") if tag in ("AU", "AF") else [found.group(1)]
            return " ".join(lines[0].split())

        rows.append(
            {
                "title": field("TI"),
                "author": (field("AF") if "," in (field("AF") or "") else field("AU") or "").split(
                    ","
                )[0],
                "year": field("PY"),
                "doi": field("DI"),
                "abstract": field("AB"),
            }
        )
    return rows


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_record_matches_the_file_text(name: str) -> None:
    articles = read(FIXTURES / name)
    expected = by_grep(FIXTURES / name)
    assert len(articles) == len(expected) == FILES[name]
    for article, row in zip(articles, expected, strict=True):
        assert article.source_format == "wos-plaintext"
        assert article.source_database == "Web of Science"
        assert article.title == row["title"]
        assert article.authors[0].last == row["author"]
        assert article.year == int(row["year"] or 0)
        assert article.doi == row["doi"]
        assert article.abstract == row["abstract"]


def test_full_record_field_by_field() -> None:
    """The 2026 "Full record and cited references" export (AF, C1, OI, DE, ID, CR …)."""
    first, second, *_ = read(FIXTURES / "massimoaria_bibliometrix_wos_sample.txt")
    assert first.title is not None and first.title.startswith(
        "Mapping the application of Geographic Information System (GIS)"
    )
    (author,) = first.authors
    assert (author.last, author.first, author.initials) == ("Toh", "Ming Liang", "ML")
    assert author.affiliations == (
        "Univ Technol Sarawak, Sch Built Environm, Jalan Univ, Sibu 96000, Sarawak, Malaysia.",
    )
    assert first.journal.title == "SURVEY REVIEW"
    assert first.journal.iso_abbrev == "Surv. Rev."
    assert (first.journal.issn_print, first.journal.issn_electronic) == ("0039-6265", "1752-2706")
    assert first.journal.publisher == "TAYLOR & FRANCIS LTD"
    assert first.pub_date == PubDate(2026, 2, 25)  # PD 2026 FEB 25
    assert first.publication_types == ("Article", "Early Access")
    assert first.keywords[:3] == ("Word", "GIS", "Real Estate")
    assert first.languages == ("English",)
    assert sum(1 for tag, _ in first.extra if tag == "CR") > 40  # cited references kept
    assert ("EM", "tohmingliang@uts.edu.my") in first.extra
    assert any(tag == "UT" and value.startswith("WOS:") for tag, value in first.extra)
    assert second.authors[0].affiliations == ("Sinop Univ, Fac Educ, Sinop, Turkey.",)


def test_reduced_export_without_af_orcids_and_article_numbers() -> None:
    """synthesisr's .ciw: no AF/C1, OI ORCIDs by name, ``AR UNSP 1722034``, EF without a
    final newline."""
    path = FIXTURES / "mjwestgate_synthesisr_WoS_ciw_example.ciw"
    assert path.read_bytes().endswith(b"EF")
    first, second, *_ = read(path)
    assert [(a.last, a.first) for a in first.authors[:3]] == [
        ("Li", "Wei"),
        ("Dou", "Zhiguo"),
        ("Cui", "Lijuan"),
    ]
    assert [a.orcid for a in first.authors[:3]] == [
        "0000-0002-2133-9287",
        "0000-0001-8031-4330",
        None,
    ]
    assert first.elocation == "1722034"
    assert first.pub_date == PubDate(2020, 12, 16)
    assert (second.first_page, second.last_page) == ("9", "20")
    assert second.pub_date == PubDate(2020, 12)


def test_old_thomson_reuters_header_bom_and_all_caps_records() -> None:
    path = FIXTURES / "networks-lab_metaknowledge_savedrecs.txt"
    header = "\ufeffFN Thomson Reuters Web of Science\u2122\n".encode()
    assert path.read_bytes().startswith(header)
    articles = read(path)
    first = articles[0]
    assert (first.authors[0].last, first.authors[0].first, first.authors[0].initials) == (
        "BREVIK",
        None,
        "I",
    )
    assert first.authors[0].affiliations == (  # addresses without brackets: a sole author's
        "UNIV TRONDHEIM,INST THEORET PHYS,N-7034 TRONDHEIM,NORWAY.",
        "LUFTKRIGSSKOLEN,TRONDHEIM MIL 7000,NORWAY.",
    )
    assert articles[1].affiliations == (  # several authors: the record's
        "OAK RIDGE NATL LAB,OAK RIDGE,TN 37830.",
        "BORIS KIDRIC INST,ION PHYS LAB,YU-11000 BELGRADE,YUGOSLAVIA.",
    )
    assert sum(a.doi is None for a in articles) == 15
    (zhang,) = [a for a in articles if a.authors[0].last == "Zhang"]  # "AF Zhang Zhi-Wei"
    assert [(a.last, a.first, a.initials) for a in zhang.authors] == [
        ("Zhang", "Zhi-Wei", "ZW"),
        ("Wen", "Ting-Dun", "TD"),
        ("Zhang", "Ji-Long", "JL"),
    ]
    assert len(zhang.authors[0].affiliations) == 2  # "[Zhang Zhi-Wei; …] N Univ China, …"


def test_publication_dates_as_wos_prints_them() -> None:
    text = "FN Clarivate Analytics Web of Science\nVR 1.0\n"
    for pd in ("2020-Dec", "JUN", "FAL", "JAN-FEB", "DEC 31"):
        text += f"PT J\nTI {pd}\nPY 2020\nPD {pd}\nER\n\n"
    dates = [a.pub_date for a in from_text(text + "EF")]
    assert dates == [
        PubDate(2020, 12),
        PubDate(2020, 6),
        PubDate(2020, None, None, "FAL"),
        PubDate(2020, None, None, "JAN-FEB"),
        PubDate(2020, 12, 31),
    ]


def test_a_missing_er_and_stray_lines_are_reported_and_kept() -> None:
    text = "FN Clarivate\nVR 1.0\nPT J\nTI One\nER\nstray text\nPT J\nTI Two\nAU Doe, J\n"
    with pytest.warns(ReviewWarning) as caught:
        articles = from_text(text)
    assert [a.title for a in articles] == ["One", "Two"]
    messages = " ".join(str(w.message) for w in caught)
    assert "mem.txt:7: the last record has no ER line" in messages
    assert "mem.txt:6: 1 line(s)" in messages


@pytest.mark.parametrize("suffix", [".ris", ".csv", ".nbib"])
def test_detected_from_content_whatever_the_extension(tmp_path: Path, suffix: str) -> None:
    copy = tmp_path / f"savedrecs{suffix}"
    shutil.copy(FIXTURES / "mjwestgate_synthesisr_WoS_ciw_example.ciw", copy)
    assert len(read(copy)) == 5


def test_crlf_and_cr_only_line_ends_read_the_same() -> None:
    data = FIXTURES / "coreofscience_python-wostools_1c3e1f81-6526-49c0-b623-fbd554ec423a.txt"
    raw = data.read_bytes()
    plain = [a.to_row() for a in from_text(raw)]
    for ending in (b"\r\n", b"\r"):
        rows = [a.to_row() for a in from_text(raw.replace(b"\n", ending))]
        assert rows == plain


def test_cli_parse_reads_web_of_science_with_the_other_databases(tmp_path: Path) -> None:
    out = tmp_path / "records.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "parse",
            str(FIXTURES / "mjwestgate_synthesisr_WoS_ciw_example.ciw"),
            str(FIXTURES.parent / "scopus_ris" / "mjwestgate_synthesisr_Scopus_ris_example.ris"),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "8 records from 2 of 2 files" in result.output


def test_mixed_databases_parse_then_dedupe_finds_the_shared_records(tmp_path: Path) -> None:
    """Scopus RIS, Web of Science text, Cochrane RIS and Ovid RIS in one call; the two works
    Scopus and Web of Science share are found."""
    fixtures = FIXTURES.parent
    files = [
        fixtures / "scopus_ris" / "mjwestgate_synthesisr_Scopus_ris_example.ris",
        FIXTURES / "mjwestgate_synthesisr_WoS_ciw_example.ciw",
        fixtures / "cochrane_ris" / f"{CFF}_cochrane_refman.ris",
        fixtures / "ovid" / "mjwestgate_synthesisr_Ovid_ris_example.ris",
    ]
    records = tmp_path / "records.csv"
    runner = CliRunner()
    result = runner.invoke(cli, ["parse", *map(str, files), "-o", str(records)])
    assert result.exit_code == 0, result.output
    assert "15 records from 4 of 4 files" in result.output
    unique, log = tmp_path / "unique.csv", tmp_path / "duplicates.csv"
    result = runner.invoke(cli, ["dedupe", str(records), "-o", str(unique), "--log", str(log)])
    assert result.exit_code == 0, result.output
    import pandas

    removed = pandas.read_csv(log)
    assert len(pandas.read_csv(unique)) == 13
    assert len(removed) == 2
    assert sorted(removed["kept_title"].str[:30]) == [
        "Application of Digital Process",
        "Soil fauna diversity at differ",
    ]
