"""The report as one document in three formats: numbered figures and tables with captions,
a references list for every method named, consistent decimals, title and authors from
review.toml, escaping of user text (HTML, Markdown), the same content in HTML, Markdown
and DOCX (read back with python-docx), and `review report -o report.docx`.

Numbers are checked against metafor's gold values (tests/reference) or the inputs."""

from __future__ import annotations

import io
import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import docx
import lxml.html
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.config import load_config
from metareview.poolrun import PoolOptions, run_pool
from metareview.prisma import FullText, PrismaCounts
from metareview.project import run
from metareview.report import (
    REFERENCES,
    ReportContent,
    build,
    characteristics,
    heading,
    md_escape,
    to_html,
    to_markdown,
)
from metareview.report_docx import to_docx
from metareview.sheets.extraction import read_extraction

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
REFERENCE = ROOT / "tests" / "reference"
PRITZ = REFERENCE / "data" / "pritz1997.csv"

pytestmark = [pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn"),
              pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")]

GOLD = next(c for c in json.loads((REFERENCE / "gold.json").read_text(encoding="utf-8"))["cases"]
            if (c.get("dataset"), c.get("measure"), c.get("method"), c.get("test"))
            == ("pritz1997", "PLO", "DL", "z") and c.get("variant", "default") == "default")

EVIL = "<img src=x onerror=alert(1)>"
LINK = "[click](javascript:alert(2))"


def counts() -> PrismaCounts:
    return PrismaCounts.from_pipeline(identified={"PubMed": 3}, duplicates=1,
                                      screening=["include", "exclude"],
                                      full_text=[FullText(True, "include")])


def content(text: str | None = None, options: PoolOptions | None = None,
            **config: Any) -> ReportContent:
    studies = read_extraction("s.csv", data=(text or PRITZ.read_text(encoding="utf-8"))
                              .encode(), name="s.csv")
    pool = run_pool(studies, options or PoolOptions(method="DL", leave_one_out=True,
                                                    bias=True))
    return ReportContent(replace(load_config(EXAMPLE), **config), counts(), pool,
                         characteristics(studies), images={"forest": b"<svg/>"})


def cells(page: Any, ident: str) -> tuple[list[str], list[list[str]]]:
    table = page.get_element_by_id(ident)
    head = [th.text_content() for th in table.iter("th")]
    rows = [[td.text_content() for td in tr.iter("td")] for tr in table.iter("tr")][1:]
    return head, rows


def md_tables(text: str) -> list[list[list[str]]]:
    """Every Markdown table as rows of cells, escapes and bold marks removed."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            parts = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            current.append([re.sub(r"\\(.)", r"\1", p.strip()).strip("*") for p in parts])
        elif current:
            tables.append([r for r in current if not set("".join(r)) <= set("-:|")])
            current = []
    return tables


# --- numbering, captions, references ---------------------------------------------------


def test_figures_and_tables_are_numbered_with_captions() -> None:
    page = lxml.html.fromstring(to_html(content()))
    captions = [c.text_content() for c in page.iter("caption")]
    assert [c.split(".")[0] for c in captions] == ["Table 1", "Table 2", "Table 3", "Table 4"]
    assert captions[0] == "Table 1. Analysis settings."
    assert captions[2].startswith("Table 3. Study results: proportion with 95% confidence")
    figures = [f.text_content() for f in page.iter("figcaption")]
    assert figures == [figures[0]] and figures[0].startswith("Figure 1. Forest plot: ")


def test_every_method_named_is_in_the_references_and_every_reference_is_cited() -> None:
    for method, named in (("DL", "DerSimonian R, Laird N"), ("REML", "Viechtbauer W. Bias"),
                          ("PM", "Paule RC, Mandel J"), ("SJ", "Sidik K"),
                          ("ML", "Viechtbauer W. Bias"), ("HS", "Hunter JE")):
        doc = build(content(options=PoolOptions(method=method, bias=True)))
        methods = " ".join(b.text for b in doc.section("methods").blocks
                           if hasattr(b, "text"))
        [references] = doc.section("references").blocks
        items = references.items  # type: ignore[union-attr]
        cited = {int(n) for group in re.findall(r"\[([\d, ]+)\]", methods)
                 for n in group.split(",")}
        assert cited == set(range(1, len(items) + 1)), method
        assert any(named in item for item in items), method
        for work in ("Page MJ", "Cochran WG", "Higgins JPT", "Egger M", "Begg CB", "Duval S",
                     "Clopper CJ", "Viechtbauer W. Conducting"):
            assert any(work in item for item in items), (method, work)
    knha = build(content(options=PoolOptions(method="REML", test="knha")))
    assert any("Hartung J, Knapp G" in i for i in knha.sections[-1].blocks[0].items)  # type: ignore[union-attr]


def test_all_references_are_vancouver_entries() -> None:
    for key, text in REFERENCES.items():
        assert re.search(r"(19|20)\d\d", text), key
        assert not text.endswith("."), key  # the renderers end nothing twice


# --- tables ----------------------------------------------------------------------------


def test_study_table_numbers_are_metafor_s_with_consistent_decimals() -> None:
    page = lxml.html.fromstring(to_html(content()))
    head, rows = cells(page, "studies-table")
    assert head == ["Study", "Events", "Total", "Proportion", "95% CI", "Weight (%)"]
    k = GOLD["fit"]["k"]
    assert [r[-1] for r in rows[:k]] == [f"{w:.1f}" for w in GOLD["fit"]["weights_pct"]]
    pred = GOLD["pred"]
    assert rows[k][3:] == [f"{pred['pred']:.3f}", f"{pred['ci.lb']:.3f} to {pred['ci.ub']:.3f}",
                           "100.0"]
    assert rows[k + 1][4] == f"{pred['pi.lb']:.3f} to {pred['pi.ub']:.3f}"
    for row in rows[:k]:
        assert re.fullmatch(r"\d\.\d{3}", row[3]) and re.fullmatch(
            r"\d\.\d{3} to \d\.\d{3}", row[4])


def test_glmm_has_no_weight_column_and_says_why() -> None:
    page = lxml.html.fromstring(to_html(content(options=PoolOptions(method="GLMM"))))
    head, rows = cells(page, "studies-table")
    assert "Weight (%)" not in head
    assert all(all(c.strip() for c in r) for r in rows[:GOLD["fit"]["k"]])  # none empty
    caption = page.get_element_by_id("studies-table").find("caption").text_content()
    assert "no inverse-variance weights" in caption


def test_leave_one_out_has_no_empty_column() -> None:
    page = lxml.html.fromstring(to_html(content()))
    head, rows = cells(page, "leave-one-out-table")
    assert head == ["Study omitted", "Proportion", "95% CI", "τ²", "I² (%)"]
    for column in range(len(head)):
        assert all(r[column] for r in rows), head[column]


def test_characteristics_use_one_number_of_decimals_per_column() -> None:
    text = "study,mean_1,sd_1,n_1,mean_2,sd_2,n_2\n" \
           "A,2.5,1,10,3,1.25,12\nB,3.125,1.5,11,2,1,9\n"
    page = lxml.html.fromstring(to_html(content(text, PoolOptions(measure="MD"))))
    head, rows = cells(page, "characteristics-table")
    assert head == ["Study", "Mean 1", "SD 1", "N 1", "Mean 2", "SD 2", "N 2"]
    assert [r[1] for r in rows] == ["2.500", "3.125"]
    assert [r[2] for r in rows] == ["1.0", "1.5"]
    assert [r[3] for r in rows] == ["10", "11"]
    assert [r[5] for r in rows] == ["1.25", "1.00"]


def test_headings() -> None:
    assert heading("events_1") == "Events 1"
    assert heading("sd_2") == "SD 2"
    assert heading("odds ratio") == "Odds ratio"


def test_every_output_states_measure_estimator_ci_and_correction() -> None:
    report = content()
    md = to_markdown(report, {})
    page = lxml.html.fromstring(to_html(report))
    words = " ".join(page.text_content().split())
    settings = dict(cells(page, "settings-table")[1])
    assert settings["Effect measure"].startswith("PLO (logit proportion)")
    assert "DL (DerSimonian-Laird)" in settings["Model and estimator"]
    assert settings["95% CI of the pooled estimate"] == "Wald-type z test and CI"
    assert settings["Continuity correction"] == report.pool.correction
    for text in (md, words):
        for piece in ("PLO", "DerSimonian-Laird", "Wald-type z test and CI",
                      report.pool.correction.split(" (")[0]):
            assert piece in text.replace("\\", ""), piece


# --- title, authors, escaping --------------------------------------------------------


def test_title_and_authors_from_review_toml(tmp_path: Path) -> None:
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    toml = target / "review.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(
        "[review]\n", '[review]\nauthors = ["Ada Reviewer", "Bo Second"]\n'), encoding="utf-8")
    config = load_config(target)
    assert config.authors == ("Ada Reviewer", "Bo Second")
    report = ReportContent(config, counts(), content().pool, content().characteristics)
    page = lxml.html.fromstring(to_html(report))
    assert page.find(".//h1").text_content() == config.title
    assert page.find_class("authors")[0].text_content() == "Ada Reviewer, Bo Second"
    assert to_markdown(report, {}).splitlines()[2] == "Ada Reviewer, Bo Second"
    document = docx.Document(io.BytesIO(to_docx(report)))
    assert document.paragraphs[0].text == config.title
    assert document.paragraphs[1].text == "Ada Reviewer, Bo Second"
    assert document.core_properties.author == "Ada Reviewer; Bo Second"


def evil_content() -> ReportContent:
    source = PRITZ.read_text(encoding="utf-8").splitlines()
    text = "study,events,total,subgroup\n" + "".join(
        f"{(EVIL if i == 0 else line.split(',')[0])},{','.join(line.split(',')[1:])},"
        f"{LINK if i < 7 else 'late'}\n" for i, line in enumerate(source[1:]))
    return content(text, PoolOptions(by="subgroup", leave_one_out=True), title=f"<script>x"
                    f"</script> {LINK}", question=f"{EVIL} & {LINK}",
                    authors=("<b>A</b>",))


def test_html_escapes_user_text() -> None:
    text = to_html(evil_content())
    page = lxml.html.fromstring(text)
    assert not page.xpath("//script | //b | //a | //*[@onerror] | //@href")
    assert [i.get("src")[:5] for i in page.iter("img")] == ["data:"]  # the forest plot only
    assert "javascript:" not in "".join(page.xpath("//@*"))
    assert EVIL in page.text_content() and LINK in page.text_content()
    _head, rows = cells(page, "subgroups-table")
    assert rows[0][0] == LINK


def test_markdown_escapes_user_text() -> None:
    md = to_markdown(evil_content(), {})
    assert "<" not in md.replace("\\<", "") and "](" not in md.replace("\\](", "")
    assert md.startswith("# \\<script\\>x\\</script\\> \\[click\\](javascript:alert(2))\n")
    assert md_escape("1. a") == "1\\. a" and md_escape("- a") == "\\- a"
    assert md_escape("0.757") == "0.757" and md_escape("a|b") == "a\\|b"


# --- the same content in HTML, Markdown and DOCX -----------------------------------------


def test_markdown_holds_the_html_tables_and_paragraphs() -> None:
    report = content(options=PoolOptions(method="DL", by=None, leave_one_out=True, bias=True))
    page = lxml.html.fromstring(to_html(report))
    md = to_markdown(report, {"forest": "forest.png"})
    html_tables = [[[c.text_content() for c in tr if c.tag in ("th", "td")]
                    for tr in t.iter("tr")] for t in page.iter("table")]
    assert md_tables(md) == html_tables
    plain = re.sub(r"\\(.)", r"\1", md)
    for p in page.iter("p"):
        assert p.text_content() in plain, p.text_content()
    assert "| key | value |" not in md  # no raw key dumps


def test_docx_has_the_sections_tables_and_numbers() -> None:
    report = replace(content(), pngs={"forest": (ROOT / "docs" / "forest.png").read_bytes()})
    data = to_docx(report)
    assert to_docx(report) == data  # reproducible bytes
    document = docx.Document(io.BytesIO(data))
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == [s.heading for s in build(report).sections]
    page = lxml.html.fromstring(to_html(report))
    html_tables = [[[c.text_content() for c in tr if c.tag in ("th", "td")]
                    for tr in t.iter("tr")] for t in page.iter("table")]
    docx_tables = [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]
    assert docx_tables == html_tables
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    assert [c.split(".")[0] for c in captions] == ["Table 1", "Table 2", "Table 3", "Figure 1",
                                                   "Table 4"]
    assert len(document.inline_shapes) == 1
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"Pooled proportion {GOLD['pred']['pred']:.3f}" in text
    assert "1. Bachmann M. RapidFuzz" in text


# --- review run and review report ---------------------------------------------------------


def test_run_writes_the_docx_and_report_saves_it(tmp_path: Path) -> None:
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    assert run(load_config(target)).stopped is None
    made = target / "output" / "report.docx"
    document = docx.Document(str(made))
    assert len(document.inline_shapes) == 3  # PRISMA, forest, funnel
    assert any(p.text.startswith("Pooled proportion 0.757") for p in document.paragraphs)
    result = CliRunner().invoke(cli, ["report", str(target), "-o", str(tmp_path / "r.docx")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.docx").read_bytes() == made.read_bytes()
