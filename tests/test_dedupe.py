"""Duplicate detection: planted duplicates are found, distinct articles are never merged."""

from __future__ import annotations

import csv
import random
import shutil
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.dedupe import (
    LOG_COLUMNS,
    dedupe,
    normalise_doi,
    normalise_pmid,
    normalise_text,
    read_overrides,
    record_key,
)
from metareview.errors import InputError, OptionError, ReviewWarning
from metareview.records import Article, Author, Journal, PubDate, Text

FIXTURES = Path(__file__).parent / "fixtures" / "dedupe"

# The eLife article in tests/fixtures/dedupe/elife-pubmed_elife-pubmed-12717.xml, typed in by
# hand from that file so these tests do not depend on the XML reader.
ZEB1 = Article(
    source_format="pubmed-articleset",
    source_file="pubmed.xml",
    record_index=0,
    doi="10.7554/eLife.12717",
    titles=(
        Text(
            "Zeb1 controls neuron differentiation and germinal zone exit by a "
            "mesenchymal-epithelial-like transition"
        ),
    ),
    journal=Journal(title="eLife", issn="2050-084X"),
    volume="6",
    pub_date=PubDate(2017, 7, 17),
    authors=(Author(last="Singh", first="Shalini"), Author(last="Howell", first="Danielle")),
)


def article(index: int, title: str, *, source: str = "other.ris", **fields: object) -> Article:
    """A copy of ZEB1 under another title and source, without its DOI unless given."""
    base = replace(ZEB1, source_file=source, record_index=index, titles=(Text(title),),
                   doi=None)
    return replace(base, **fields)  # type: ignore[arg-type]


def test_normalisers() -> None:
    assert normalise_doi("https://doi.org/10.7554/ELIFE.12717.") == "10.7554/elife.12717"
    assert normalise_doi("doi: 10.1000/a%2Fb;") == "10.1000/a/b"
    assert normalise_doi("http://dx.doi.org/10.1000/X") == "10.1000/x"
    assert normalise_doi("not a doi") is None
    assert normalise_text("Parkinson’s disease: don't") == "parkinsons disease dont"
    assert normalise_pmid("PMID: 000123") == "123"
    assert normalise_pmid("abc") is None
    assert normalise_text("<i>In vivo</i> Évaluation of &lt;b&gt;TERT&lt;/b&gt;:  Part 1.") == (
        "in vivo evaluation of tert part 1"
    )


def test_planted_duplicates_are_merged_with_the_right_rule() -> None:
    title = ZEB1.title or ""
    records = [
        ZEB1,
        # DOI in another case and with a resolver prefix, no title change
        article(0, title, doi="https://doi.org/10.7554/ELIFE.12717"),
        # a trailing period, no DOI: only the title rule can find it
        article(1, title + "."),
        # HTML markup and an entity in the title, no DOI
        article(2, "<i>Zeb1</i> controls neuron differentiation and germinal zone exit by a "
                   "mesenchymal&#8211;epithelial-like transition"),
        # diacritics and a capitalised title in a third source
        article(0, title.upper().replace("GERMINAL", "GÉRMINAL"), source="c.bib"),
    ]
    result = dedupe(records)
    assert len(result.records) == 1
    kept = result.records[0]
    assert kept.n_duplicates == 4
    assert kept.sources == ("pubmed.xml", "other.ris", "c.bib")
    rules = {link.removed: link.rule for link in result.log}
    assert rules == {
        "other.ris#0": "doi",
        "other.ris#1": "title",
        "other.ris#2": "title",
        "c.bib#0": "title",
    }
    assert all(link.kept == kept.members[0] for link in result.log)
    scores = [link.score for link in result.log if link.rule == "title"]
    assert all(s is not None and 90 <= s <= 100 for s in scores)
    assert result.rule_counts() == {"doi": 1, "title": 3}


def test_most_complete_record_is_kept_and_ids_are_merged() -> None:
    sparse = article(0, ZEB1.title or "", source="a.ris", doi="10.7554/elife.12717")
    rich = article(3, ZEB1.title or "", source="b.xml", doi="10.7554/eLife.12717", pmid=None,
                   volume="6", issue="1", abstracts=())
    with_pmid = replace(sparse, source_file="c.nbib", pmid="28716936", volume=None, authors=())
    result = dedupe([sparse, rich, with_pmid])
    assert len(result.records) == 1
    unique = result.records[0]
    assert unique.article.source_file == "b.xml"  # the one with the most filled fields
    assert unique.article.pmid == "28716936"  # taken from the nbib record
    assert unique.id == "pmid:28716936"
    assert unique.members == ("b.xml#3", "a.ris#0", "c.nbib#0")
    row = unique.to_row()
    assert row["record_id"] == "pmid:28716936"
    assert row["found_in"] == "b.xml; a.ris; c.nbib"
    assert row["merged_records"] == "a.ris#0; c.nbib#0"


BASE = "Effects of exercise on depression in older adults: a randomised trial"
DISTINCT_PAIRS = {
    "numbers differ": ({"title": BASE + ", part 1"}, {"title": BASE + ", part 2"}),
    "Roman numerals differ": ({"title": BASE + ", part II"}, {"title": BASE + ", part III"}),
    "a letter differs": ({"title": "Vaccination against hepatitis B in dialysis patients"},
                         {"title": "Vaccination against hepatitis C in dialysis patients"}),
    "another first author": ({}, {"authors": (Author(last="Okafor"),)}),
    "another year": ({}, {"pub_date": PubDate(2019)}),
    "conflicting DOIs": ({"doi": "10.1000/one"}, {"doi": "10.1000/two"}),
    "conflicting PMIDs": ({"pmid": "111"}, {"pmid": "222"}),
    "another outcome": ({}, {"title": BASE.replace("depression", "anxiety")}),
    "another volume": ({"volume": "6"}, {"volume": "7"}),
    "another first page": ({"first_page": "101"}, {"first_page": "211"}),
    # eLife's sub-article DOIs name decision letters and digests, not the article
    "sub-article DOI": ({"doi": "10.7554/eLife.12717"}, {"doi": "10.7554/eLife.12717.001"}),
}


@pytest.mark.parametrize("case", DISTINCT_PAIRS)
def test_similar_titles_of_distinct_articles_stay_apart(case: str) -> None:
    first, second = DISTINCT_PAIRS[case]
    a = article(0, str(first.pop("title", BASE)), **first)
    b = article(1, str(second.pop("title", BASE)), **second)
    result = dedupe([a, b])
    assert len(result.records) == 2, result.log
    assert result.log == ()


def test_fuzzy_matches_cannot_chain_two_articles_together() -> None:
    # each DOI-less record matches both DOI records by title; only one may join each
    one = article(0, BASE, doi="10.1000/one")
    two = article(1, BASE, doi="10.1000/two")
    bridge = article(2, BASE)
    result = dedupe([one, two, bridge])
    assert sorted(r.members for r in result.records) == [("other.ris#0", "other.ris#2"),
                                                           ("other.ris#1",)]


def test_threshold_decides_borderline_titles() -> None:
    a = article(0, "Zinc supplementation for the prevention of pneumonia in children")
    b = article(1, "Zinc supplements for prevention of pneumonia in children")
    assert len(dedupe([a, b], threshold=85).records) == 1
    assert len(dedupe([a, b], threshold=95).records) == 2
    with pytest.raises(OptionError, match="outside 0-100"):
        dedupe([a, b], threshold=101)


def test_surname_prefixes_and_comparison_signs() -> None:
    # "van der Berg" / "Berg" is one first author; "<" and ">" in a title are not markup
    title = "Children with IQ < 70 and age > 5 years in a cohort study"
    a = article(0, title, authors=(Author(last="van der Berg"),))
    b = article(1, title + ".", authors=(Author(last="Berg"),))
    c = article(2, "Children with IQ < 85 and age > 5 years in a cohort study",
                authors=(Author(last="Berg"),))
    assert normalise_text(title) == "children with iq 70 and age 5 years in a cohort study"
    result = dedupe([a, b, c])
    assert sorted(r.members for r in result.records) == [("other.ris#0", "other.ris#1"),
                                                           ("other.ris#2",)]


def test_undated_records_are_compared_with_every_year() -> None:
    undated = article(0, ZEB1.title or "", pub_date=PubDate())
    assert len(dedupe([ZEB1, undated]).records) == 1


def test_blocking_scales_past_quadratic_sizes() -> None:
    # 6000 distinct titles over 30 years: the work is per year, so this stays quick and
    # every record stays unique.
    records = [
        article(i, f"Study number {i} of outcome {i % 7} in cohort {i // 7}",
                pub_date=PubDate(1990 + i % 30), authors=(Author(last=f"A{i}"),))
        for i in range(6000)
    ]
    records.append(replace(records[1234], record_index=6000, source_file="dup.ris"))
    result = dedupe(records)
    assert len(result.records) == 6000
    pairs = [(link.kept, link.removed) for link in result.log]
    assert pairs == [("other.ris#1234", "dup.ris#6000")]


def test_length_window_finds_every_pair_brute_force_finds() -> None:
    # titles of many lengths and near-copies; the windowed search must find exactly the
    # pairs an all-pairs comparison finds
    from rapidfuzz import fuzz

    from metareview.dedupe import _markers, _title_edges

    rng = random.Random(7)
    words = ["zinc", "malaria", "trial", "of", "in", "children", "the", "adults", "risk",
             "vitamin", "cohort", "study"]
    titles = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 14))) for _ in range(300)]
    titles += [t[:-1] if len(t) > 20 else t + "s" for t in titles[:150]]
    records = [
        article(i, t, pub_date=PubDate(2000 + i % 2) if i % 7 else PubDate())
        for i, t in enumerate(titles)
    ]
    for threshold in (80.0, 90.0, 97.0):
        found = {(e.a, e.b) for e in _title_edges(records, threshold)}
        expected = set()
        for i in range(len(records)):
            for j in range(i + 1, len(records)):
                a, b = records[i], records[j]
                same_year = a.year is None or b.year is None or a.year == b.year
                ti, tj = normalise_text(a.title), normalise_text(b.title)
                if same_year and fuzz.ratio(ti, tj) >= threshold and _markers(ti) == _markers(tj):
                    expected.add((i, j))
        assert found == expected, threshold
        assert len(found) > 100


def _write_log(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_overrides_keep_pairs_apart_and_merge_missed_pairs(tmp_path: Path) -> None:
    a = ZEB1
    b = article(1, (ZEB1.title or "") + ".")
    c = article(2, "A completely different title about mice")
    first = dedupe([a, b, c])
    assert len(first.records) == 2
    log = [link.to_row() for link in first.log]
    log[0]["override"] = "Not duplicate"
    log.append({**log[0], "removed": record_key(c), "override": "duplicate", "rule": ""})
    path = tmp_path / "log.csv"
    _write_log(path, log)
    overrides = read_overrides(path)
    assert [(o.removed, o.merge) for o in overrides] == [
        ("other.ris#1", False),
        ("other.ris#2", True),
    ]

    second = dedupe([a, b, c], overrides=overrides)
    groups = sorted(r.members for r in second.records)
    assert groups == [("other.ris#1",), ("pubmed.xml#0", "other.ris#2")]
    # both overrides are carried into the new log so a third run sees them again
    carried = {(link.removed, link.override, link.cluster is None) for link in second.log}
    assert carried == {("other.ris#1", "Not duplicate", True), ("other.ris#2", "duplicate", False)}
    third = dedupe([a, b, c], overrides=overrides)
    assert third == second


def test_bad_overrides_are_located(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    _write_log(path, [{"kept": "a#0", "removed": "b#1", "override": "perhaps"}])
    with pytest.raises(InputError, match=r"log\.csv!C2: unknown override 'perhaps'"):
        read_overrides(path)
    _write_log(path, [{"kept": "a#0", "removed": "b#1"}])
    with pytest.raises(InputError, match="no override column"):
        read_overrides(path)
    _write_log(path, [{"kept": "a#0", "removed": "pubmed.xml#0", "override": "duplicate"}])
    with pytest.warns(ReviewWarning, match="a#0 is not among the inputs"):
        result = dedupe([ZEB1], overrides=read_overrides(path))
    assert len(result.records) == 1


def test_a_record_read_twice_keeps_distinct_names() -> None:
    result = dedupe([ZEB1, ZEB1])
    assert result.records[0].members == ("pubmed.xml#0", "pubmed.xml#0 (2)")
    assert [(link.kept, link.removed, link.rule) for link in result.log] == [
        ("pubmed.xml#0", "pubmed.xml#0 (2)", "doi")]


def test_log_csv_defuses_formula_titles() -> None:
    from metareview.dedupe import log_csv

    hostile = '=HYPERLINK("http://evil","click")'
    result = dedupe([article(0, hostile, doi="10.1/x"), article(1, hostile, doi="10.1/X")])
    rows = list(csv.DictReader(log_csv(result).splitlines()))
    assert rows[0]["kept_title"] == "'" + hostile
    assert rows[0]["override"] == ""


def test_to_dict_counts() -> None:
    result = dedupe([ZEB1, article(0, ZEB1.title or "", doi=ZEB1.doi)])
    data = result.to_dict()
    assert (data["n_input"], data["n_unique"], data["n_removed"]) == (2, 1, 1)
    assert data["rules"] == {"doi": 1}
    assert data["log"][0]["removed"] == "other.ris#0"


# --- real files in several formats, and the CLI ------------------------------------------


def _fixtures(tmp_path: Path) -> list[str]:
    """The fixture files plus a planted RIS copy of the eLife article without its DOI and
    with a trailing period and markup in the title."""
    names = ["bolognese_crossref_unixsd.xml", "bolognese_crossref.ris",
             "bolognese_crossref.bib", "elife-pubmed_elife-pubmed-12717.xml"]
    for name in names:
        shutil.copy(FIXTURES / name, tmp_path / name)
    ris = (FIXTURES / "bolognese_crossref.ris").read_text(encoding="utf-8")
    planted = "\n".join(line for line in ris.splitlines() if not line.startswith(("DO ", "UR ")))
    planted = planted.replace("Automated quantitative histology",
                              "Automated <i>quantitative</i> histology")
    planted = planted.replace("secondary growth\n", "secondary growth.\n")
    (tmp_path / "planted.ris").write_text(planted + "\n", encoding="utf-8")
    return [*names, "planted.ris"]


def test_same_article_in_three_formats_is_one_record(tmp_path: Path) -> None:
    from metareview.articles import read_articles

    names = _fixtures(tmp_path)
    articles = list(read_articles([str(tmp_path / n) for n in names]))
    assert len(articles) == 5
    assert articles[4].doi is None and (articles[4].title or "").endswith("growth.")
    result = dedupe(articles)
    assert len(result.records) == 2
    elife_01567, elife_12717 = result.records
    assert elife_01567.id == "doi:10.7554/elife.01567"
    # the Crossref record has affiliations and the ELocation: it is the most complete
    assert elife_01567.article.source_format == "crossref"
    assert [Path(s).name for s in elife_01567.sources] == [
        "bolognese_crossref_unixsd.xml", "bolognese_crossref.ris", "bolognese_crossref.bib",
        "planted.ris"]
    rules = {Path(link.removed).name: link.rule for link in result.log}
    assert rules == {"bolognese_crossref.ris#0": "doi", "bolognese_crossref.bib#0": "doi",
                     "planted.ris#0": "title"}
    assert elife_12717.n_duplicates == 0


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_cli_log_without_duplicates_still_has_its_header(tmp_path: Path, suffix: str) -> None:
    source = tmp_path / "two.ris"
    source.write_text("TY  - JOUR\nTI  - One title\nER  - \n\n"
                      "TY  - JOUR\nTI  - Quite another title\nER  - \n", encoding="utf-8")
    log = tmp_path / f"log.{suffix}"
    result = CliRunner().invoke(cli, ["dedupe", str(source), "-o", str(tmp_path / "u.csv"),
                                      "--log", str(log)])
    assert result.exit_code == 0, result.output
    assert "0 duplicates removed" in result.output
    if suffix == "csv":
        with open(log, newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
    else:
        header = [c.value for c in openpyxl.load_workbook(log).active[1]]
    assert tuple(header) == LOG_COLUMNS


def test_cli_dedupe_writes_unique_records_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _fixtures(tmp_path)
    runner = CliRunner()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    inputs = [str(tmp_path / n) for n in names]
    result = runner.invoke(cli, ["dedupe", *inputs, "-o", "unique.csv", "--log", "dup.csv"])
    assert result.exit_code == 0, result.output
    assert "5 records read, 2 unique, 3 duplicates removed (doi 2, title 1)" in result.output
    with open("unique.csv", newline="", encoding="utf-8") as handle:
        unique = list(csv.DictReader(handle))
    assert [row["record_id"] for row in unique] == ["doi:10.7554/elife.01567",
                                                     "doi:10.7554/elife.12717"]
    assert unique[0]["duplicates"] == "3"
    with open("dup.csv", newline="", encoding="utf-8") as handle:
        log = list(csv.DictReader(handle))
    assert [row["rule"] for row in log] == ["doi", "doi", "title"]
    assert all(row["override"] == "" for row in log)

    # the reviewer says the planted record is another article
    log[2]["override"] = "keep separate"
    _write_log(Path("dup.csv"), log)
    again = runner.invoke(cli, ["dedupe", *inputs, "-o", "unique2.csv",
                                "--overrides", "dup.csv", "--log", "dup2.csv"])
    assert again.exit_code == 0, again.output
    assert "5 records read, 3 unique, 2 duplicates removed (doi 2)" in again.output
    with open("dup2.csv", newline="", encoding="utf-8") as handle:
        carried = [row for row in csv.DictReader(handle) if row["override"]]
    assert [(Path(r["removed"]).name, r["override"], r["cluster"]) for r in carried] == [
        ("planted.ris#0", "keep separate", "")]

    # the unique records can be deduplicated again as a records table: nothing changes
    table = runner.invoke(cli, ["dedupe", "unique.csv"])
    assert table.exit_code == 0, table.output
    assert "2 records read, 2 unique, 0 duplicates removed" in table.output


def test_cli_dedupe_errors(tmp_path: Path) -> None:
    names = _fixtures(tmp_path)
    ris = str(tmp_path / names[1])
    runner = CliRunner()
    refused = runner.invoke(cli, ["dedupe", ris, "-o", ris])
    assert refused.exit_code == 73
    assert "the output is also an input" in refused.output
    bad = runner.invoke(cli, ["dedupe", ris, "--threshold", "120"])
    assert bad.exit_code == 2 and "120" in bad.output
    log = tmp_path / "log.csv"
    log.write_text("kept,removed,override\na#0,b#0,maybe\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    wrong = runner.invoke(cli, ["dedupe", ris, "--overrides", str(log), "-o", str(out)])
    assert wrong.exit_code == 65
    assert "log.csv!C2: unknown override 'maybe'" in wrong.output
    assert not out.exists()
    missing = runner.invoke(cli, ["dedupe", str(tmp_path / "nope.xml")])
    assert missing.exit_code == 66 and "no such file" in missing.output


def test_dedupe_files_writes_what_the_cli_writes(tmp_path: Path) -> None:
    from metareview.dedupe import dedupe_files

    names = _fixtures(tmp_path)
    inputs = [str(tmp_path / n) for n in names]
    result = dedupe_files(inputs, output=str(tmp_path / "u.csv"),
                          log_path=str(tmp_path / "log.xlsx"))
    assert result.summary() == "5 records read, 2 unique, 3 duplicates removed (doi 2, title 1)"
    with open(tmp_path / "u.csv", newline="", encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2
    rules = [row[LOG_COLUMNS.index("rule")].value
             for row in openpyxl.load_workbook(tmp_path / "log.xlsx").active.iter_rows(min_row=2)]
    assert rules == ["doi", "doi", "title"]
    with pytest.raises(OptionError, match="both go to stdout"):
        dedupe_files(inputs, output="-", log_path="-")
