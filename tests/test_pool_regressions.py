"""Regressions from the QA pass of `review pool` and the readers (one block per finding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.meta import pool

REFERENCE = Path(__file__).parent / "reference"
SIGNS = {c["name"]: c for c in json.loads(
    (REFERENCE / "qprofile_signs.json").read_text(encoding="utf-8"))["cases"]}


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


# --- 1. Q-profile bounds beyond the search range are marked as metafor marks them ----------


@pytest.mark.parametrize("name", sorted(SIGNS))
def test_qprofile_signs_match_metafor(name: str) -> None:
    gold = SIGNS[name]
    ci = pool(gold["yi"], gold["vi"], method="REML").heterogeneity_ci()
    assert (ci.lb_sign, ci.ub_sign) == (gold["lb_sign"], gold["ub_sign"])
    assert [ci.tau2.ci_lb, ci.tau2.ci_ub] == pytest.approx(gold["tau2_ci"], rel=1e-3, abs=1e-4)
    assert [ci.i2.ci_lb, ci.i2.ci_ub] == pytest.approx(gold["i2_ci"], rel=1e-3, abs=1e-4)
    assert ci.to_dict()["ub_sign"] == gold["ub_sign"]
    # the printed table carries the same signs as metafor's print(confint(...))
    tau2_row = next(line for line in gold["printed"] if line.startswith("tau^2"))
    ours = next(line for line in str(ci).splitlines() if line.strip().startswith("tau^2"))
    assert ours.split()[1:] == tau2_row.split()[1:]
    assert ("empty set" in ci.note) == gold["ci_null"]


def test_pool_text_and_json_mark_censored_tau2_bound(tmp_path: Path) -> None:
    sheet = tmp_path / "zeros.csv"
    sheet.write_text("study,events,total\nA,0,10\nB,0,20\n", encoding="utf-8")
    result = run("pool", str(sheet))
    assert result.exit_code == 0, result.output
    assert "(95% CI 0.0000 to >100.0000)" in result.stdout
    assert "(95% CI 0.0% to >97.9%)" in result.stdout  # metafor: >97.9701
    assert "search limit" in result.stdout
    out = json.loads(run("pool", str(sheet), "--to", "json").stdout)
    assert out["tau2_ci_ub"] == pytest.approx(100.0)
    assert (out["tau2_ci_lb_sign"], out["tau2_ci_ub_sign"]) == ("", ">")


def test_pool_exact_bounds_have_no_sign(tmp_path: Path) -> None:
    sheet = tmp_path / "plain.csv"
    sheet.write_text("study,yi,vi\nA,0.1,0.01\nB,0.9,0.02\nC,-0.5,0.015\n", encoding="utf-8")
    out = json.loads(run("pool", str(sheet), "--to", "json").stdout)
    assert (out["tau2_ci_lb_sign"], out["tau2_ci_ub_sign"]) == ("", "")
    assert ">" not in run("pool", str(sheet)).stdout


# --- 2. the double-zero warning tells a CLI user what to do -------------------------------


def test_double_zero_warning_names_the_sheet_remedy(tmp_path: Path) -> None:
    sheet = tmp_path / "dz.csv"
    sheet.write_text("study,ai,bi,ci,di\nA,0,10,0,12\nB,3,10,5,12\nC,2,10,4,9\n",
                     encoding="utf-8")
    result = run("pool", str(sheet))
    assert result.exit_code == 0, result.output
    assert "both groups" in result.stderr
    assert "set include to no" in result.stderr
    sheet.write_text("study,ai,bi,ci,di,include\nA,0,10,0,12,no\nB,3,10,5,12,yes\n"
                     "C,2,10,4,9,yes\n", encoding="utf-8")
    result = run("pool", str(sheet), "--to", "json")
    assert result.exit_code == 0, result.output
    assert "both groups" not in result.stderr
    assert json.loads(result.stdout)["k"] == 2


# --- 3. small-study tests with too few studies say so in plain words ----------------------


@pytest.mark.parametrize("rows,expected", [
    ("A,0.5,0.1\n", ["Egger's test not run: too few studies (k = 1)",
                     "Begg's test not run: too few studies (k = 1)",
                     "trim-and-fill not run: too few studies (k = 1)"]),
    ("A,0.5,0.1\nB,0.7,0.2\n", ["Egger's test not run: too few studies (k = 2)",
                                "trim-and-fill not run: too few studies (k = 2)"]),
])
def test_small_k_bias_messages(tmp_path: Path, rows: str, expected: list[str]) -> None:
    sheet = tmp_path / "few.csv"
    sheet.write_text("study,yi,vi\n" + rows, encoding="utf-8")
    result = run("pool", str(sheet), "--bias", "--bias-min-k", "1")  # below R meta's k.min
    assert result.exit_code == 0, result.output
    for text in expected:
        assert text in result.stdout
    # metafor's own reason stays visible (metafor 3.8-1 regtest/ranktest/trimfill on these data)
    assert "(metafor: " in result.stdout
    if rows.count("\n") == 2:
        assert "Begg's rank correlation: Kendall's tau = 1.000, p = 1.0000" in result.stdout


def test_small_k_library_errors_keep_metafor_reason() -> None:
    from metareview.bias import ranktest, regtest, trimfill
    from metareview.errors import EstimationError

    with pytest.raises(EstimationError, match=r"k = 2\).*Number of parameters") as info:
        regtest([0.5, 0.7], [0.1, 0.2])
    assert "cannot say anything" in str(info.value)
    assert regtest([0.5, 0.7], [0.1, 0.2], method="FE").pval == pytest.approx(0.7150007, 1e-5)
    with pytest.raises(EstimationError, match="not enough finite observations"):
        ranktest([0.5], [0.1])
    with pytest.raises(EstimationError, match=r"Stopped because k = 1\."):
        trimfill([0.5], [0.1])


# --- 4. ";"-separated CSVs with decimal commas -------------------------------------------


def test_semicolon_csv_takes_decimal_commas(tmp_path: Path) -> None:
    eu = tmp_path / "eu.csv"
    eu.write_text("study;yi;vi;notes\nA;0,5;0,1;arms 1,2\nB;-1,25;0,2;\nC;0.7;0.15;\n",
                  encoding="utf-8")
    point = tmp_path / "point.csv"
    point.write_text("study,yi,vi\nA,0.5,0.1\nB,-1.25,0.2\nC,0.7,0.15\n", encoding="utf-8")
    ours = json.loads(run("pool", str(eu), "--to", "json").stdout)
    assert [s["yi"] for s in ours["studies"]] == [0.5, -1.25, 0.7]
    assert ours["estimate"] == json.loads(run("pool", str(point), "--to", "json")
                                          .stdout)["estimate"]
    from metareview.sheets.extraction import read_extraction

    table = read_extraction(eu)
    assert table.column("notes")[0] == "arms 1,2"  # text cells are never rewritten
    assert table.column("yi") == (0.5, -1.25, 0.7)


@pytest.mark.parametrize("text", [
    'study,yi,vi\nA,"1,234",0.1\nB,0.7,0.2\n',  # comma-separated: never guess
    "study;yi;vi\nA;1.234,5;0,1\nB;0,7;0,2\n",   # thousands mark: not a plain decimal
])
def test_ambiguous_comma_numbers_are_refused(tmp_path: Path, text: str) -> None:
    sheet = tmp_path / "s.csv"
    sheet.write_text(text, encoding="utf-8")
    result = run("pool", str(sheet))
    assert result.exit_code != 0
    assert "s.csv!B2: yi is" in result.output and "not a number" in result.output


# --- 5. UTF-16 / UTF-32 text with a byte-order mark --------------------------------------

RIS = "TY  - JOUR\r\nTI  - Übersicht der Studien\r\nAU  - Müller, Anna\r\nPY  - 2020\r\nER  - \r\n"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_wide_ris_is_read(tmp_path: Path, codec: str) -> None:
    from metareview.articles import read_articles

    data = RIS.encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data  # the explicit-endian codec writes no BOM
    path = tmp_path / "export.ris"
    path.write_bytes(data)
    (article,) = read_articles(path)
    assert article.title == "Übersicht der Studien"
    assert article.year == 2020
    result = run("parse", str(path))
    assert result.exit_code == 0, result.output
    assert "Übersicht der Studien" in result.stdout


def test_wide_bibtex_and_xml_are_read(tmp_path: Path) -> None:
    bib = tmp_path / "refs.bib"
    bib.write_bytes("@article{k1, title={Über alles}, year={2001}}\n".encode("utf-16"))
    xml = tmp_path / "pubmed.xml"
    xml.write_bytes(('<?xml version="1.0" encoding="UTF-16"?>\n<PubmedArticleSet><PubmedArticle>'
                     "<MedlineCitation><PMID>1</PMID><Article><ArticleTitle>Tëst</ArticleTitle>"
                     "</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>")
                    .encode("utf-16"))
    result = run("parse", str(bib), str(xml))
    assert result.exit_code == 0, result.output
    assert "Über alles" in result.stdout and "Tëst" in result.stdout


def test_wide_csv_sheet_is_read(tmp_path: Path) -> None:
    sheet = tmp_path / "eu16.csv"
    sheet.write_bytes("study;yi;vi\r\nA;0,5;0,1\r\nB;0,7;0,2\r\n".encode("utf-16"))
    out = json.loads(run("pool", str(sheet), "--to", "json").stdout)
    assert [s["study"] for s in out["studies"]] == ["A", "B"]
    assert [s["yi"] for s in out["studies"]] == [0.5, 0.7]


def test_broken_utf16_is_located(tmp_path: Path) -> None:
    path = tmp_path / "bad.ris"
    path.write_bytes("TY  - JOUR\nTI  - A\nER  - \n".encode("utf-16") + b"A")
    result = run("parse", str(path))
    assert result.exit_code != 0
    assert "bad.ris:4: broken UTF-16 text" in result.output


# --- 6. subgroup labels that differ only in case or spaces --------------------------------


def test_near_identical_subgroup_labels_warn_and_stay_apart(tmp_path: Path) -> None:
    sheet = tmp_path / "sg.csv"
    sheet.write_text("study,yi,vi,alloc\nA,0.1,0.02,Random\nB,0.3,0.03,random\n"
                     "C,0.5,0.02,random\nD,0.2,0.04,systematic\n", encoding="utf-8")
    result = run("pool", str(sheet), "--by", "alloc", "--to", "json")
    assert result.exit_code == 0, result.output
    assert "differ only in case or spaces" in result.stderr
    assert "'Random' vs 'random'" in result.stderr
    groups = json.loads(result.stdout)["subgroups"]["groups"]
    assert [g["name"] for g in groups] == ["Random", "random", "systematic"]


def test_subgroup_labels_with_spaces_warn_in_the_library() -> None:
    import warnings

    from metareview.errors import ReviewWarning
    from metareview.subgroups import subgroup_analysis

    yi, vi = [0.1, 0.3, 0.5, 0.2], [0.02, 0.03, 0.02, 0.04]
    with pytest.warns(ReviewWarning, match=r"'random' vs 'random '"):
        subgroup_analysis(yi, vi, ["random", "random ", "random", "other"], method="DL")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # distinct labels: no warning
        subgroup_analysis(yi, vi, ["random", "random", "other", "other"], method="DL")
