"""The review report: HTML parsed back (sections, numbers against metafor gold for
dat.pritz1997, self-contained), Markdown, methods text, and `review report`."""

from __future__ import annotations

import base64
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from click.testing import CliRunner

from metareview import __version__
from metareview.cli import cli
from metareview.config import load_config
from metareview.poolrun import PoolOptions, run_pool
from metareview.prisma import FullText, PrismaCounts
from metareview.project import run
from metareview.report import ReportContent, characteristics, methods, to_html, to_markdown
from metareview.sheets.extraction import read_extraction

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
REFERENCE = ROOT / "tests" / "reference"
PRITZ = REFERENCE / "data" / "pritz1997.csv"

pytestmark = [pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn"),
              pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")]


def gold(section: str, **where: str) -> dict[str, Any]:
    cases = json.loads((REFERENCE / "gold.json").read_text(encoding="utf-8"))[section]
    found = [c for c in cases if all(c.get(k) == v for k, v in where.items())
             and c.get("variant", "default") == "default"]
    assert len(found) == 1
    case: dict[str, Any] = found[0]
    return case


GOLD = gold("cases", dataset="pritz1997", measure="PLO", method="DL", test="z")
BIAS = gold("regtest", dataset="pritz1997", measure="PLO", method="DL", test="z")
LOO = gold("leave1out", dataset="pritz1997", measure="PLO", method="DL", test="z")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example review run once into a temporary copy."""
    target = tmp_path_factory.mktemp("report") / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    summary = run(load_config(target))
    assert summary.stopped is None
    return target


@pytest.fixture(scope="module")
def page(built: Path) -> Any:
    return lxml.html.fromstring((built / "output" / "report.html").read_bytes())


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+|-?\d+", text)]


def test_report_has_every_section(page: Any) -> None:
    ids = [s.get("id") for s in page.iter("section")]
    assert ids == ["question", "methods", "selection", "characteristics", "results",
                   "forest-plot", "funnel-plot", "leave-one-out", "bias", "references"]
    assert "hyperdynamic therapy" in page.get_element_by_id("question").text_content()


def test_pooled_numbers_are_metafor_s(page: Any) -> None:
    text = page.get_element_by_id("pooled").text_content()
    pred, fit = GOLD["pred"], GOLD["fit"]
    conf = GOLD["confint"]
    expected = [f"{pred['pred']:.3f}", f"{pred['ci.lb']:.3f}", f"{pred['ci.ub']:.3f}",
                f"{pred['pi.lb']:.3f}", f"{pred['pi.ub']:.3f}", f"k = {fit['k']}",
                f"τ² = {fit['tau2']:.4f}", f"I² = {fit['I2']:.1f}%",
                f"{conf['I2']['ci.lb']:.1f}%", f"Q = {fit['QE']:.2f}", f"df = {fit['df']}",
                f"p = {fit['QEp']:.4f}"]
    for piece in expected:
        assert piece in text, (piece, text)
    assert "Pooled proportion 0.757" in text  # metafor: predict(transf=transf.ilogit) 0.7573


def test_study_table_weights_are_metafor_s(page: Any) -> None:
    table = page.get_element_by_id("studies-table")
    head = [th.text_content() for th in table.iter("th")]
    assert head == ["Study", "Events", "Total", "Proportion", "95% CI", "Weight (%)"]
    weight = head.index("Weight (%)")
    rows = [[td.text_content() for td in tr.iter("td")] for tr in table.iter("tr")][1:]
    studies = rows[:GOLD["fit"]["k"]]
    assert rows[GOLD["fit"]["k"]][0] == "Pooled, random effects (k = 14)"
    assert rows[-1][0] == "Prediction interval"
    for row, w in zip(studies, GOLD["fit"]["weights_pct"], strict=True):
        assert row[weight] == f"{w:.1f}"  # one decimal throughout


def test_characteristics_come_from_the_extraction_sheet(page: Any) -> None:
    table = page.get_element_by_id("characteristics-table")
    head = [th.text_content() for th in table.iter("th")]
    assert head[:3] == ["Study", "Events", "Total"]
    rows = [[td.text_content() for td in tr.iter("td")] for tr in table.iter("tr")][1:]
    source = [line.split(",") for line in PRITZ.read_text(encoding="utf-8").splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(s.strip('"'), x, n) for s, x, n in source]


def test_leave_one_out_and_bias_tests_are_metafor_s(page: Any) -> None:
    table = page.get_element_by_id("leave-one-out-table")
    rows = [[td.text_content() for td in tr.iter("td")] for tr in table.iter("tr")][1:]
    assert [r[0] for r in rows] == LOO["omitted_study"]
    first = 1 / (1 + math.exp(-LOO["estimate"][0]))  # transf.ilogit
    assert float(rows[0][1]) == pytest.approx(first, rel=1e-3)
    text = page.get_element_by_id("bias").text_content()
    assert f"z = {BIAS['regtest']['zval']:.3f}, p = {BIAS['regtest']['pval']:.4f}" in text
    assert f"Kendall's τ = {BIAS['ranktest']['tau']:.3f}" in text


def test_methods_paragraph_states_the_settings(page: Any) -> None:
    text = " ".join(page.get_element_by_id("methods").text_content().split())
    for piece in ("PubMed (searched 2025-01-31)", "Journal website (searched 2025-02-03)",
                  "fuzzy similarity of at least 90", "normalised DOIs", "PubMed ids",
                  "logit proportion (measure PLO)", "1/x + 1/(n − x)",
                  "DerSimonian-Laird (DL)", "Wald-type z test and CI",
                  "Clopper–Pearson", "I²", "Cochran's Q", f"metareview {__version__}"):
        assert piece in text, piece


def test_prisma_sentence_and_images_are_embedded(page: Any) -> None:
    selection = page.get_element_by_id("selection").text_content()
    # the example's own screening: 11 identified, 1 duplicate, 10 screened, 4 sought, 2 included
    assert "11 records identified; 1 removed before screening; 10 screened" in selection
    assert "wrong population: 1; wrong study design: 1" in selection
    images = list(page.iter("img"))
    assert [i.get("alt") for i in images] == ["Figure 1. PRISMA 2020 flow diagram",
                                              "Figure 2. Forest plot", "Figure 3. Funnel plot"]
    for image in images:
        src = image.get("src")
        assert src.startswith("data:image/svg+xml;base64,")
        assert b"<svg" in base64.b64decode(src.split(",", 1)[1])
    assert not page.xpath("//@href[starts-with(., 'http')] | //script | //link")


def test_markdown_report_links_the_pngs(built: Path) -> None:
    text = (built / "output" / "report.md").read_text(encoding="utf-8")
    for heading in ("## Question", "## Methods", "## Study selection",
                    "## Characteristics of included studies", "## Pooled results",
                    "## Leave-one-out", "## Small-study effects", "## References"):
        assert f"\n{heading}\n" in text, heading
    for name in ("prisma", "forest", "funnel"):
        assert f"]({name}.png)" in text
        assert (built / "output" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def content_for(measure: str, method: str) -> ReportContent:
    config = load_config(EXAMPLE)
    studies = read_extraction(PRITZ)
    pool = run_pool(studies, PoolOptions(measure=measure, method=method, bias=True))
    counts = PrismaCounts.from_pipeline(identified={"PubMed": 3}, duplicates=1,
                                        screening=["include", "exclude"],
                                        full_text=[FullText(True, "include")])
    return ReportContent(config, counts, pool, characteristics(studies))


def test_methods_name_the_binomial_variance_and_estimator() -> None:
    text = " ".join(methods(content_for("PR", "REML")))
    assert "binomial variance p(1 − p)/n" in text
    assert "restricted maximum likelihood (REML)" in text
    html_text = to_html(content_for("PFT", "PM"))
    assert "1/(4n + 2)" in html_text and "Paule-Mandel (PM)" in html_text
    md = to_markdown(content_for("PLO", "FE"), {})
    assert "common-effect (inverse-variance) model" in md and "![" not in md


# --- review report -------------------------------------------------------------------


def test_report_command_saves_html_and_markdown(built: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["report", str(built), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == str(built / "output" / "report.html")
    assert (tmp_path / "r.html").read_bytes() == (built / "output" / "report.html").read_bytes()
    result = runner.invoke(cli, ["report", str(built), "-o", str(tmp_path / "r.md")])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    link = re.search(r"\]\(([^)]*forest\.png)\)", md)
    assert link and (tmp_path / link.group(1)).resolve() == built / "output" / "forest.png"
    again = runner.invoke(cli, ["report", str(built), "-o", str(tmp_path / "r.md")])
    assert again.exit_code == 73 and "use --force" in again.output
    bad = runner.invoke(cli, ["report", str(built), "-o", str(tmp_path / "r.pdf")])
    assert bad.exit_code == 64 and not (tmp_path / "r.pdf").exists()


def test_report_command_fails_while_screening_is_pending(tmp_path: Path) -> None:
    target = tmp_path / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output", "screening"))
    result = CliRunner().invoke(cli, ["report", str(target), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 65
    assert "no report yet: title/abstract screening: 10 of 10 record(s)" in result.output
    assert not (tmp_path / "r.html").exists()


def test_subgroups_get_their_table_and_a_methods_sentence() -> None:
    source = PRITZ.read_text(encoding="utf-8").splitlines()[1:]
    text = "study,events,total,subgroup\n" + "".join(
        f"{line},{'early' if i < 7 else 'late'}\n" for i, line in enumerate(source))
    studies = read_extraction("s.csv", data=text.encode(), name="s.csv")
    pool = run_pool(studies, PoolOptions(by="subgroup"))
    content = ReportContent(load_config(EXAMPLE), content_for("PLO", "DL").prisma, pool,
                            characteristics(studies))
    page = lxml.html.fromstring(to_html(content))
    table = page.get_element_by_id("subgroups-table")
    groups = [tr[0].text_content() for tr in table.iter("tr")][1:3]
    assert groups == ["early", "late"]
    assert "Subgroups were defined by subgroup" in page.get_element_by_id("methods").text_content()
    head = [th.text_content() for th in page.get_element_by_id("characteristics-table").iter("th")]
    assert head == ["Study", "Events", "Total", "Subgroup"]


def test_text_report_and_html_share_the_bias_wording() -> None:
    from metareview.poolrun import format_report

    content = content_for("PLO", "DL")
    tf = next(c for c in json.loads((REFERENCE / "extras_gold.json").read_text(encoding="utf-8"))
              ["trimfill"] if (c["dataset"], c["method"], c["test"], c["estimator"])
              == ("pritz1997", "DL", "z", "L0"))
    adjusted = 1 / (1 + math.exp(-tf["fit"]["b"]))  # transf.ilogit
    sentence = (f"Trim-and-fill (L0): {tf['k0']} studies filled on the {tf['side']} side; "
                f"adjusted estimate {adjusted:.3f} (")
    page = lxml.html.fromstring(to_html(content))
    assert sentence in page.get_element_by_id("bias").text_content()
    assert sentence in format_report(content.pool)
    assert f"Kendall's τ = {BIAS['ranktest']['tau']:.3f}" in to_markdown(content, {})
    assert f"Kendall's tau = {BIAS['ranktest']['tau']:.3f}" in format_report(content.pool)
