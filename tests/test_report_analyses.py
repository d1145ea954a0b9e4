"""The optional analyses of `[analysis]` in the report: influence diagnostics with the
Baujat plot, meta-regression with predictions and the bubble plot, the common-effect row,
cumulative pooling, the three-level model and the Mantel–Haenszel tests. A review folder
made from data/example-review runs through `review run` and `review report`; each
section's table headers and numbers must equal what `review pool` prints for the same
options (those are checked against metafor elsewhere), in HTML, Markdown and DOCX."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import docx
import lxml.html
import openpyxl
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.config import load_config
from metareview.poolrun import PoolOptions, format_report, run_pool
from metareview.prisma import FullText, PrismaCounts
from metareview.project import run
from metareview.report import ReportContent, build, characteristics, to_html, to_markdown
from metareview.report_docx import to_docx
from metareview.sheets.extraction import read_extraction
from test_report_document import md_tables

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
BCG = ROOT / "tests" / "reference" / "data" / "bcg.csv"

pytestmark = [pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn"),
              pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")]

INFLUENCE = ('influence = true\ncommon = true\ncumulative = "year"\nmods = "year"\n'
             'predict = ["year=1990"]\n')
INFLUENCE_HEAD = ["Study", "rstudent", "DFFITS", "Cook's D", "cov.r", "τ² del", "QE del", "Hat",
                  "Weight (%)", "DFBETAS intrcpt", "DFBETAS year", "Influential"]


def make_review(target: Path, analysis: str, method: str = "DL") -> Path:
    """The example review with a year and a country (by the studies' proportions, so that
    countries differ) for each included study, and ``analysis`` added to [analysis]."""
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    toml = target / "review.toml"
    text = toml.read_text(encoding="utf-8").replace('method = "DL"', f'method = "{method}"')
    toml.write_text(text.replace("level = 95\n", "level = 95\n" + analysis), encoding="utf-8")
    book = target / "extraction" / "extraction.xlsx"
    workbook = openpyxl.load_workbook(book)
    sheet = workbook["extraction"]
    head = [c.value for c in sheet[1]]
    rows = [r for r in sheet.iter_rows(min_row=2) if r[head.index("include")].value != "no"]
    for n, row in enumerate(rows):
        row[head.index("year")].value = 1980 + 3 * n + n % 3
    ranked = sorted(rows, key=lambda r: r[head.index("events")].value / r[head.index("total")]
                    .value)
    for n, row in enumerate(ranked):
        row[head.index("country")].value = ("Japan", "USA", "UK")[min(n // 5, 2)]
    workbook.save(book)
    return target


def saved(target: Path, tmp: Path) -> dict[str, Any]:
    """`review run`, then `review report -o` as HTML, Markdown and DOCX, read back."""
    runner = CliRunner()
    result = runner.invoke(cli, ["run", str(target)])
    assert result.exit_code == 0, result.output
    for suffix in ("html", "md", "docx"):
        result = runner.invoke(cli, ["report", str(target), "-o", str(tmp / f"r.{suffix}")])
        assert result.exit_code == 0, result.output
    return {"html": lxml.html.fromstring((tmp / "r.html").read_bytes()),
            "md": (tmp / "r.md").read_text(encoding="utf-8"),
            "docx": docx.Document(str(tmp / "r.docx")), "dir": tmp}


def pool_text(target: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["pool", str(target / "extraction" / "extraction.xlsx"),
                                      *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def influence(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("influence")
    target = make_review(base / "review", INFLUENCE)
    report = saved(target, base)
    report["pool"] = pool_text(target, "--method", "DL", "--influence", "--common",
                               "--cumulative", "year", "--mods", "year", "--predict", "year=1990")
    return report


@pytest.fixture(scope="module")
def threelevel(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("threelevel")
    target = make_review(base / "review", 'cluster = "country"\n', method="REML")
    report = saved(target, base)
    report["pool"] = pool_text(target, "--cluster", "country")
    return report


def html_tables(page: Any) -> list[list[list[str]]]:
    return [[[c.text_content() for c in tr if c.tag in ("th", "td")] for tr in t.iter("tr")]
            for t in page.iter("table")]


def docx_tables(document: Any) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in document.tables]


def table(report: dict[str, Any], ident: str) -> list[list[str]]:
    """The HTML table ``ident`` (header first), after checking that the Markdown and the
    DOCX hold the same table."""
    element = report["html"].get_element_by_id(ident)
    rows = [[c.text_content() for c in tr if c.tag in ("th", "td")] for tr in element.iter("tr")]
    assert rows in md_tables(report["md"])
    assert rows in docx_tables(report["docx"])
    return rows


def text_of(report: dict[str, Any], ident: str) -> str:
    text = " ".join(report["html"].get_element_by_id(ident).text_content().split())
    assert text in re.sub(r"\\(.)", r"\1", report["md"])
    assert text in "\n".join(p.text for p in report["docx"].paragraphs)
    return text


def block(text: str, title: str) -> list[str]:
    """The lines of ``review pool``'s text from the one starting with ``title`` to the
    next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


def cited(report: dict[str, Any], phrase: str, author: str) -> None:
    """The methods name ``phrase`` with a citation number whose reference is ``author``'s."""
    methods = report["html"].get_element_by_id("methods").text_content()
    number = re.search(re.escape(phrase) + r"[^\[]*\[(\d+)\]", methods)
    assert number, phrase
    references = [li.text_content() for li in report["html"].find_class("references")[0]]
    assert references[int(number.group(1)) - 1].startswith(author), phrase


# --- influence diagnostics, meta-regression, common effect, cumulative ---------------------


def test_sections_appear_in_report_order(influence: dict[str, Any]) -> None:
    ids = [s.get("id") for s in influence["html"].iter("section")]
    assert ids == ["question", "methods", "selection", "characteristics", "results",
                   "forest-plot", "funnel-plot", "meta-regression", "leave-one-out",
                   "cumulative", "influence", "bias", "references"]
    headings = [p.text for p in influence["docx"].paragraphs if p.style.name == "Heading 1"]
    assert headings[-6:] == ["Meta-regression", "Leave-one-out", "Cumulative meta-analysis",
                             "Influence diagnostics", "Small-study effects", "References"]
    assert "\n## Influence diagnostics\n" in influence["md"]


def test_influence_table_is_review_pool_s(influence: dict[str, Any]) -> None:
    rows = table(influence, "influence-table")
    assert rows[0] == INFLUENCE_HEAD
    printed = block(influence["pool"], "Influence diagnostics")[2:]
    assert len(rows) - 1 == len(printed) == 14
    for row, line in zip(rows[1:], printed, strict=True):
        flagged = line.endswith("*")
        numbers = line.removesuffix("*").split()[-10:]
        assert row[0] == line[:len(row[0])]
        assert row[1:11] == numbers
        assert row[11] == ("yes" if flagged else "no")
    assert all(re.fullmatch(r"-?\d+\.\d{4}", cell) for row in rows[1:] for cell in row[1:11])
    sentence = text_of(influence, "influence-flagged")
    assert sentence == "No study was flagged as influential."


def test_baujat_and_bubble_plots_are_numbered_figures(influence: dict[str, Any]) -> None:
    page = influence["html"]
    alts = [img.get("alt") for img in page.iter("img")]
    assert alts == ["Figure 1. PRISMA 2020 flow diagram", "Figure 2. Forest plot",
                    "Figure 3. Funnel plot", "Figure 4. Bubble plot", "Figure 5. Baujat plot"]
    assert page.get_element_by_id("baujat").getparent().get("id") == "influence"
    assert page.get_element_by_id("bubble").getparent().get("id") == "meta-regression"
    caption = page.get_element_by_id("baujat").find("figcaption").text_content()
    assert caption.startswith("Figure 5. Baujat plot: each study's contribution")
    for name in ("baujat", "bubble"):
        link = re.search(rf"\]\(([^)]*{name}\.png)\)", influence["md"])
        assert link, name
        assert (influence["dir"] / link.group(1)).read_bytes()[:4] == b"\x89PNG"
    assert len(influence["docx"].inline_shapes) == 5
    captions = [p.text for p in influence["docx"].paragraphs if p.style.name == "Caption"]
    assert [c for c in captions if c.startswith("Figure")] == [
        f.text_content() for f in page.iter("figcaption")]


def test_metaregression_coefficients_tests_and_predictions_are_review_pool_s(
        influence: dict[str, Any]) -> None:
    rows = table(influence, "metareg-table")
    assert rows[0] == ["Term", "Estimate", "SE", "z", "p", "95% CI"]
    printed = block(influence["pool"], "Meta-regression")
    for row in rows[1:]:
        line = next(line.split() for line in printed if line.split()[0] == row[0])
        assert row[1:5] == line[1:5]
        assert row[5] == " ".join(line[5:]).strip("[]").replace(", ", " to ")
    sentence = text_of(influence, "metareg-tests")
    for start in ("Test of moderators", "Residual heterogeneity", "R² "):
        line = next(line.strip() for line in printed if line.strip().startswith(start))
        assert line.replace("Residual", "residual").replace("tau²", "τ²") in sentence, line
    [prediction] = [line for line in printed if "Predicted proportion at year = 1990" in line]
    est, lb, ub, pi_lb, pi_ub = re.findall(r"-?\d+\.\d+", prediction.split(":")[1])
    assert table(influence, "predictions-table")[1] == [
        "year = 1990", est, f"{lb} to {ub}", f"{pi_lb} to {pi_ub}"]


def test_common_effect_row_and_sentence_are_review_pool_s(influence: dict[str, Any]) -> None:
    rows = table(influence, "studies-table")
    [line] = [line for line in influence["pool"].splitlines()
              if line.startswith("Pooled (common effect)")]
    est, lb, ub = re.findall(r"\d+\.\d+", line)
    common = next(r for r in rows if r[0] == "Pooled, common effect (k = 14)")
    assert common[3:5] == [est, f"{lb} to {ub}"]
    assert f"pooled proportion {est} (95% CI {lb} to {ub})" in text_of(influence, "common")
    assert [r[0] for r in rows[-3:]] == ["Pooled, common effect (k = 14)",
                                         "Pooled, random effects (k = 14)", "Prediction interval"]


def test_cumulative_table_is_review_pool_s(influence: dict[str, Any]) -> None:
    rows = table(influence, "cumulative-table")
    assert rows[0] == ["Study added", "Proportion", "95% CI", "τ²", "I² (%)"]
    printed = block(influence["pool"], "Cumulative meta-analysis")[2:]
    for row, line in zip(rows[1:], printed, strict=True):
        cells = re.findall(r"-?\d+\.\d+", line[len(row[0]):])
        assert row[1:] == [cells[0], f"{cells[1]} to {cells[2]}", cells[3], cells[4]]


def test_methods_name_each_analysis_with_its_reference(influence: dict[str, Any]) -> None:
    cited(influence, "leave-one-out diagnostics", "Viechtbauer W, Cheung MWL")
    cited(influence, "Baujat plot", "Baujat B")
    cited(influence, "meta-regression", "Thompson SG, Higgins JPT")
    cited(influence, "cumulative meta-analysis", "Lau J")
    methods = influence["html"].get_element_by_id("methods").text_content()
    assert "common-effect (inverse-variance) model is reported alongside" in methods
    assert "Konstantopoulos" not in influence["html"].text_content()  # not run


# --- the three-level model ---------------------------------------------------------------


def test_threelevel_table_and_lrt_are_review_pool_s(threelevel: dict[str, Any]) -> None:
    ids = [s.get("id") for s in threelevel["html"].iter("section")]
    assert "three-level" in ids and "influence" not in ids and "meta-regression" not in ids
    rows = table(threelevel, "threelevel-table")
    assert rows[0] == ["Level", "Units", "σ²", "95% profile CI", "I² (%)"]
    printed = block(threelevel["pool"], "Three-level model")
    for row, line in zip(rows[1:3], printed[1:3], strict=True):
        sigma2, lb, ub, i2 = re.findall(r"\d+\.\d+", line)
        assert row[2:] == [sigma2, f"{lb} to {ub}", i2]
    assert float(rows[1][2]) > 0 and float(rows[2][2]) > 0  # both levels vary
    assert [r[:2] for r in rows[1:3]] == [["Between country (level 3)", "3"],
                                          ["Within country (level 2)", "14"]]
    total = re.search(r"I² total = (\d+\.\d)%", threelevel["pool"])
    assert total and rows[3] == ["Total", "", "", "", total.group(1)]
    sentence = text_of(threelevel, "threelevel-tests")
    lrt = next(line for line in printed if "Against the two-level model" in line)
    statistic, p = re.search(r"LRT = (\S+), (p .*)$", lrt).groups()  # type: ignore[union-attr]
    assert f"(country variance = 0): LRT = {statistic} (df = 1), {p}." in sentence
    pooled = re.findall(r"\d+\.\d+", next(line for line in printed if "Pooled" in line))
    assert (f"pooled proportion {pooled[0]} (95% CI {pooled[1]} to {pooled[2]}; 95% "
            f"prediction interval {pooled[3]} to {pooled[4]})") in sentence
    cited(threelevel, "three-level model", "Konstantopoulos S")
    cited(threelevel, "to each level by I²", "Cheung MWL")


# --- Mantel–Haenszel ------------------------------------------------------------------------


def bcg_content(options: PoolOptions) -> ReportContent:
    rows = [line.split(",") for line in BCG.read_text(encoding="utf-8").splitlines()[1:]]
    text = "study,events_1,total_1,events_2,total_2\n" + "".join(
        f"{s},{a},{int(a) + int(b)},{c},{int(c) + int(d)}\n" for s, a, b, c, d in rows)
    studies = read_extraction("b.csv", data=text.encode(), name="b.csv")
    counts = PrismaCounts.from_pipeline(identified={"PubMed": 3}, duplicates=1,
                                        screening=["include", "exclude"],
                                        full_text=[FullText(True, "include")])
    return ReportContent(load_config(EXAMPLE), counts, run_pool(studies, options),
                         characteristics(studies))


def test_mantel_haenszel_tests_and_reference() -> None:
    content = bcg_content(PoolOptions(method="MH"))
    page = lxml.html.fromstring(to_html(content))
    printed = format_report(content.pool)
    [cmh] = [line for line in printed.splitlines() if line.startswith("Cochran–Mantel")]
    [tarone] = [line for line in printed.splitlines() if line.startswith("Tarone's")]
    sentence = page.get_element_by_id("mh-tests").text_content()
    assert sentence.startswith(f"{cmh}. {tarone}")
    settings = dict(r[:2] for r in html_tables(page)[0][1:])
    assert settings["Model and estimator"] == "Mantel–Haenszel (common effect)"
    methods = page.get_element_by_id("methods").text_content()
    assert re.search(r"Mantel–Haenszel common-effect method \[\d+\]", methods)
    references = page.find_class("references")[0].text_content()
    assert "Mantel N, Haenszel W" in references and "Tarone RE" in references
    assert "Pooled, common effect (k = 13)" in to_markdown(content, {})
    document = docx.Document(io.BytesIO(to_docx(content)))
    assert sentence in [p.text for p in document.paragraphs]
    peto = build(bcg_content(PoolOptions(method="Peto")))
    assert not any(getattr(b, "ident", "") == "mh-tests" for b in peto.section("results").blocks)
    [references] = peto.section("references").blocks
    assert any("Yusuf S, Peto R" in item for item in references.items)  # type: ignore[union-attr]


# --- review run keeps the optional figures in step with the options ------------------------


def test_figures_not_asked_for_are_removed_and_the_run_is_idempotent(tmp_path: Path) -> None:
    target = make_review(tmp_path / "review", INFLUENCE)
    assert run(load_config(target)).stopped is None
    output = target / "output"
    assert (output / "baujat.svg").exists() and (output / "bubble.png").exists()
    again = run(load_config(target))
    assert again.actions == ()  # nothing changed: nothing written
    toml = target / "review.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(INFLUENCE, ""), encoding="utf-8")
    assert run(load_config(target)).stopped is None
    assert not any((output / f"{n}.{s}").exists() for n in ("baujat", "bubble")
                   for s in ("svg", "png"))
    page = lxml.html.fromstring((output / "report.html").read_bytes())
    assert [i.get("alt")[10:] for i in page.iter("img")] == ["PRISMA 2020 flow diagram",
                                                            "Forest plot", "Funnel plot"]
    assert run(load_config(target)).actions == ()
