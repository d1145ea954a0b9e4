"""`review pool` end to end: sheets built from metafor's datasets, numbers against metafor gold."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.poolrun import PoolOptions, run_pool
from metareview.sheets.extraction import SheetPlan, read_extraction, write_extraction

HERE = Path(__file__).parent
REFERENCE = HERE / "reference"
DATA = HERE.parent / "data"
GOLD = json.loads((REFERENCE / "gold.json").read_text(encoding="utf-8"))
GLMM_GOLD = json.loads((REFERENCE / "glmm_gold.json").read_text(encoding="utf-8"))


def gold_case(dataset: str, measure: str, method: str, test: str = "z") -> dict[str, Any]:
    for case in GOLD["cases"]:
        if (case["dataset"], case["variant"], case["measure"], case["method"], case["test"]) == (
                dataset, "default", measure, method, test):
            return case  # type: ignore[no-any-return]
    raise LookupError(dataset)


def close(ours: float | None, theirs: Any, rel: float = 1e-4, abs_: float = 1e-8) -> bool:
    if theirs is None:
        return ours is None
    assert ours is not None
    return math.isclose(ours, float(theirs), rel_tol=rel, abs_tol=abs_)


def sheet_from_csv(name: str, tmp_path: Path, design: str = "proportion") -> Path:
    """An extraction workbook made by `review sheet`'s writer, filled in from a gold dataset."""
    with (REFERENCE / "data" / f"{name}.csv").open(encoding="utf-8") as handle:
        gold_rows = list(csv.DictReader(handle))
    rows = []
    for r in gold_rows:
        row: dict[str, Any] = {"record_id": r["study"], "study": r["study"],
                               "first_author": r["study"]}
        if design == "proportion":
            row |= {"events": int(r["xi"]), "total": int(r["ni"]), "subgroup": r.get("group")}
        rows.append(row)
    path = tmp_path / f"{name}.xlsx"
    write_extraction(SheetPlan(design, tuple(rows)), path)
    return path


def pool_json(*args: str, warns: str | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["pool", *args, "--to", "json"])
    assert result.exit_code == 0, result.output
    if warns:
        assert "review: warning: " in result.stderr and warns in result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


JSON_KEYS = {"k", "measure", "method", "test", "estimate", "se", "ci_lb", "ci_ub", "pi_lb",
             "pi_ub", "tau2", "tau2_ci_lb", "tau2_ci_ub", "i2", "i2_ci_lb", "i2_ci_ub", "h2", "q",
             "q_df", "q_p", "summary", "studies"}


@pytest.mark.parametrize("measure,method,test", [
    ("PLO", "REML", "z"), ("PR", "DL", "z"), ("PFT", "PM", "knha"), ("PAS", "HE", "z"),
    ("PLN", "SJ", "knha"), ("PLO", "FE", "z"),
])
def test_json_matches_metafor_for_pritz1997(tmp_path: Path, measure: str, method: str,
                                            test: str) -> None:
    book = sheet_from_csv("pritz1997", tmp_path)
    args = [str(book), "--measure", measure, "--method", method, "--test", test]
    out = pool_json(*args, warns="Freeman-Tukey" if measure == "PFT" else None)
    case = gold_case("pritz1997", measure, method, test)
    fit, pred = case["fit"], case["pred"]
    assert set(out) >= JSON_KEYS
    assert (out["k"], out["measure"], out["method"], out["test"]) == (14, measure, method, test)
    for ours, theirs in [("estimate", "b"), ("se", "se"), ("ci_lb", "ci.lb"), ("ci_ub", "ci.ub"),
                         ("tau2", "tau2"), ("i2", "I2"), ("h2", "H2"), ("q", "QE"),
                         ("q_p", "QEp")]:
        assert close(out[ours], fit[theirs]), (ours, out[ours], fit[theirs])
    assert out["q_df"] == fit["df"]
    for key in ("ci_lb", "ci_ub", "pi_lb", "pi_ub"):
        assert close(out["summary"][key], pred[key.replace("_", ".")]), key
    assert close(out["summary"]["estimate"], pred["pred"])
    studies = out["studies"]
    assert [s["study"] for s in studies][:2] == ["Giannotta et al.", "Haraguchi and Ebina"]
    for s, yi, vi, w in zip(studies, case["yi"], case["vi"], fit["weights_pct"], strict=True):
        assert close(s["yi"], yi, 1e-9) and close(s["vi"], vi, 1e-9) and close(s["weight"], w)
    if method != "FE":
        ci = case["confint_tight"]
        assert close(out["tau2_ci_lb"], ci["tau2"]["ci.lb"], 1e-3, 1e-4)
        assert close(out["tau2_ci_ub"], ci["tau2"]["ci.ub"], 1e-3, 1e-4)
        assert close(out["i2_ci_ub"], ci["I2"]["ci.ub"], 1e-3, 0.05)
    for key in ("correction", "study_ci", "pooled_ci"):
        assert out[key]


def test_study_cis_are_clopper_pearson_by_default(tmp_path: Path) -> None:
    out = pool_json(str(DATA / "extraction.xlsx"))
    first = out["studies"][0]  # 16/17
    assert first["estimate"] == pytest.approx(16 / 17)
    # R 4.2.2: binom.test(16, 17)$conf.int = 0.7131106033 0.9985118256
    assert first["ci_lb"] == pytest.approx(0.7131106033, abs=1e-9)
    assert first["ci_ub"] == pytest.approx(0.9985118256, abs=1e-9)
    wilson = pool_json(str(DATA / "extraction.xlsx"), "--study-ci", "wilson")["studies"][0]
    assert wilson["ci_lb"] != pytest.approx(first["ci_lb"])
    assert "Clopper" in out["study_ci"]


def test_readme_main_job_prints_metafor_numbers() -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx")])
    assert result.exit_code == 0, result.output
    text = result.output
    case = gold_case("pritz1997", "PLO", "REML")
    pred = case["pred"]
    assert f"{pred['pred']:.3f}  [{pred['ci.lb']:.3f}, {pred['ci.ub']:.3f}]" in text
    assert f"[{pred['pi.lb']:.3f}, {pred['pi.ub']:.3f}]" in text
    assert f"tau² = {case['fit']['tau2']:.4f}" in text
    assert f"Q(13) = {case['fit']['QE']:.2f}" in text
    for words in ("Measure: PLO", "Estimator: REML", "Clopper–Pearson", "Continuity correction"):
        assert words in text


def test_binary_and_continuous_sheets_match_metafor() -> None:
    bcg = pool_json(str(REFERENCE / "data" / "bcg.csv"), "--measure", "RR", "--method", "DL")
    case = gold_case("bcg", "RR", "DL")
    assert close(bcg["estimate"], case["fit"]["b"], 1e-6)
    assert close(bcg["summary"]["ci_ub"], case["pred"]["ci.ub"], 1e-6)
    assert bcg["design"] == "binary"
    smd = pool_json(str(REFERENCE / "data" / "normand1999.csv"))
    case = gold_case("normand1999", "SMD", "REML")
    assert smd["measure"] == "SMD"
    assert close(smd["estimate"], case["fit"]["b"])
    assert close(smd["tau2"], case["fit"]["tau2"])


@pytest.mark.parametrize("method,test", [("DL", "z"), ("REML", "z"), ("DL", "knha")])
def test_by_subgroup_matches_metafor(tmp_path: Path, method: str, test: str) -> None:
    book = sheet_from_csv("debruin2009", tmp_path)
    out = pool_json(str(book), "--by", "subgroup", "--method", method, "--test", test)
    gold = next(g for g in GOLD["subgroups"] if (g["method"], g["test"]) == (method, test))
    groups = out["subgroups"]["groups"]
    assert [g["name"] for g in groups] == [g["group"] for g in gold["per_group"]]
    for ours, theirs in zip(groups, gold["per_group"], strict=True):
        assert close(ours["estimate"], theirs["fit"]["b"])
        assert close(ours["tau2"], theirs["fit"]["tau2"])
        assert close(ours["summary"]["ci_lb"], theirs["pred"]["ci.lb"])
        assert close(ours["summary"]["pi_ub"], theirs["pred"]["pi.ub"])
    t = out["subgroups"]["test"]
    assert close(t["q"], gold["mods"]["QM"])
    assert close(t["p"], gold["mods"]["QMp"])
    assert close(t["q_separate"], gold["separate_tau2"]["Q_between"])
    assert close(t["p_separate"], gold["separate_tau2"]["Q_between_p"])
    assert {s["group"] for s in out["studies"]} == {"no", "yes"}


def test_by_subgroup_text_output(tmp_path: Path) -> None:
    book = sheet_from_csv("debruin2009", tmp_path)
    result = CliRunner().invoke(cli, ["pool", str(book), "--by", "subgroup", "--method", "DL"])
    assert result.exit_code == 0
    assert "subgroup = no" in result.output
    assert "pooled (yes), k = 5" in result.output
    assert "Test for subgroup differences (common tau²): Q(1) = 1.67, p = 0.1959" in result.output


def test_by_unknown_column_is_an_option_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--by", "region"])
    assert result.exit_code == 64
    assert "no column 'region'" in result.output


def test_leave_one_out_and_bias_match_metafor() -> None:
    out = pool_json(str(DATA / "extraction.xlsx"), "--method", "DL", "--leave-one-out", "--bias")
    gold = next(g for g in GOLD["leave1out"] if (g["method"], g["test"]) == ("DL", "z"))
    loo = out["leave_one_out"]
    assert loo["studies"] == gold["omitted_study"]
    for ours, b in zip(loo["estimate"], gold["estimate"], strict=True):
        assert close(ours, 1 / (1 + math.exp(-b)), 1e-6)
    for ours, t in zip(loo["tau2"], gold["tau2"], strict=True):
        assert close(ours, t, 1e-6)
    reg = next(g for g in GOLD["regtest"] if (g["method"], g["test"]) == ("DL", "z"))
    assert close(out["bias"]["egger_z"], reg["regtest"]["zval"], 1e-6)
    assert close(out["bias"]["begg_tau"], reg["ranktest"]["tau"], 1e-6)
    assert close(out["bias"]["begg_p"], reg["ranktest"]["pval"], 1e-6)
    tf = next(g for g in json.loads((REFERENCE / "extras_gold.json").read_text(encoding="utf-8"))
              ["trimfill"] if (g["dataset"], g["method"], g["test"], g["estimator"])
              == ("pritz1997", "DL", "z", "L0"))
    assert (out["bias"]["trimfill_k0"], out["bias"]["trimfill_side"]) == (tf["k0"], tf["side"])
    assert close(out["bias"]["trimfill"]["estimate"], 1 / (1 + math.exp(-tf["fit"]["b"])), 1e-6)


def test_cumulative_orders_by_a_column(tmp_path: Path) -> None:
    out = pool_json(str(DATA / "extraction.xlsx"), "--cumulative", "total")
    cum = out["cumulative"]
    assert cum["studies"][0] == "Muizelaar and Becker"  # 5 patients, the smallest
    assert cum["estimate"][-1] == pytest.approx(out["summary"]["estimate"])


def test_glmm_matches_metafor_rma_glmm() -> None:
    out = pool_json(str(DATA / "extraction.xlsx"), "--method", "GLMM")
    gold = next(c for c in GLMM_GOLD["cases"] if c["dataset"] == "pritz1997" and c["nAGQ"] == 7)
    assert close(out["estimate"], gold["fit"]["estimate"])
    assert close(out["tau2"], gold["fit"]["tau2"])
    assert close(out["summary"]["ci_lb"], gold["pred"]["ci_lb"])
    assert "GLMM" in out["correction"]
    refused = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--method",
                                       "GLMM", "--measure", "PR"])
    assert refused.exit_code == 64


def test_percent_and_digits() -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--percent",
                                      "--digits", "1"])
    assert "proportion (%)" in result.output
    # the pooled row carries the total events and participants (sums of the sheet columns)
    assert re.search(r"Pooled \(random effects\) +246 +326 +75\.7 +\[66\.1, 83\.4\]", result.output)


def test_excluded_rows_are_counted(tmp_path: Path) -> None:
    book = tmp_path / "x.xlsx"
    wb = openpyxl.load_workbook(DATA / "extraction.xlsx")
    wb.active["H2"] = "no"
    wb.save(book)
    out = pool_json(str(book))
    assert out["k"] == 13
    assert out["excluded"] == 1


def test_stdin_csv() -> None:
    data = (REFERENCE / "data" / "pritz1997.csv").read_text(encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", "-", "--to", "json"], input=data)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"] == "<stdin>"
    book = CliRunner().invoke(cli, ["pool", "-", "--to", "json"],
                              input=(DATA / "extraction.xlsx").read_bytes())
    assert book.exit_code == 0, book.output
    assert json.loads(book.stdout)["k"] == 14


# --- outputs ---------------------------------------------------------------------------------


def test_every_output_format_reads_back(tmp_path: Path) -> None:
    outs = [tmp_path / f"r.{ext}" for ext in ("json", "csv", "xlsx", "md")]
    args = ["pool", str(DATA / "extraction.xlsx"), "--by", "subgroup"]
    book = tmp_path / "s.xlsx"
    wb = openpyxl.load_workbook(DATA / "extraction.xlsx")
    for r in range(2, 16):
        wb.active.cell(r, 11).value = "early" if r < 8 else "late"
    wb.save(book)
    args[1] = str(book)
    result = CliRunner().invoke(cli, [*args, *(x for o in outs for x in ("-o", str(o)))])
    assert result.exit_code == 0, result.output
    report = json.loads(outs[0].read_text(encoding="utf-8"))
    assert report["k"] == 14
    assert [g["name"] for g in report["subgroups"]["groups"]] == ["early", "late"]
    with outs[1].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["study"] == "Giannotta et al."
    assert (rows[0]["measure"], rows[0]["method"]) == ("PLO", "REML")
    assert rows[0]["ci_method"].startswith("Clopper")
    assert "zero cell" in rows[-1]["correction"]
    pooled = next(r for r in rows if r["row"] == "pooled")
    assert float(pooled["estimate"]) == pytest.approx(report["summary"]["estimate"])
    xlsx = openpyxl.load_workbook(outs[2])
    assert xlsx.sheetnames == ["studies", "summary", "subgroups"]
    summary = dict(xlsx["summary"].iter_rows(min_row=2, values_only=True))
    assert summary["tau2"] == pytest.approx(report["tau2"])
    assert summary["method"] == "REML"
    md = outs[3].read_text(encoding="utf-8")
    assert "| study |" in md or "| row | study |" in md
    assert "Estimator: REML" in md


def test_no_partial_output_when_the_sheet_is_bad(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    wb = openpyxl.load_workbook(DATA / "extraction.xlsx")
    wb.active["I3"] = 99
    wb.save(bad)
    outs = [tmp_path / "r.json", tmp_path / "f.png"]
    result = CliRunner().invoke(cli, ["pool", str(bad), "-o", str(outs[0]), "--plot",
                                      str(outs[1])])
    assert result.exit_code == 65
    assert "bad.xlsx!I3: events is 99 but total is 12" in result.output
    assert not any(p.exists() for p in outs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xlsx"]


def test_existing_output_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "f.png").write_bytes(b"keep")
    result = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "-o",
                                      str(tmp_path / "r.json"), "--plot", str(tmp_path / "f.png")])
    assert result.exit_code == 73
    assert not (tmp_path / "r.json").exists()
    assert (tmp_path / "f.png").read_bytes() == b"keep"


def test_refuses_to_overwrite_the_input(tmp_path: Path) -> None:
    book = tmp_path / "e.xlsx"
    book.write_bytes((DATA / "extraction.xlsx").read_bytes())
    before = book.read_bytes()
    result = CliRunner().invoke(cli, ["pool", str(book), "-o", str(book), "--force"])
    assert result.exit_code == 73
    assert "the output is also an input" in result.output
    assert book.read_bytes() == before


def test_unknown_output_type_and_options(tmp_path: Path) -> None:
    runner = CliRunner()
    book = str(DATA / "extraction.xlsx")
    bad = runner.invoke(cli, ["pool", book, "-o", str(tmp_path / "r.txt")])
    assert bad.exit_code == 64 and "unknown output type '.txt'" in bad.output
    measure = runner.invoke(cli, ["pool", book, "--measure", "OR"])
    assert measure.exit_code == 64 and "PLO, PR, PLN, PAS, PFT" in measure.output
    level = runner.invoke(cli, ["pool", book, "--level", "120"])
    assert level.exit_code == 64
    assert not list(tmp_path.iterdir())


def test_library_run_pool_states_its_choices() -> None:
    table = read_extraction(DATA / "extraction.xlsx")
    report = run_pool(table, PoolOptions(measure="PR", method="DL"))
    assert (report.measure, report.method, report.test) == ("PR", "DL", "z")
    assert report.natural == "proportion"
    case = gold_case("pritz1997", "PR", "DL")
    assert close(report.fit.pi_ub, case["fit"]["b"] + 1.959963984540054 * math.sqrt(
        case["fit"]["se"] ** 2 + case["fit"]["tau2"]), 1e-6)
    assert close(report.fit.summary.pi_ub, case["pred"]["pi.ub"], 1e-6)  # 1.0499: PR is not clipped


def test_pool_help_has_examples() -> None:
    result = CliRunner().invoke(cli, ["pool", "--help"])
    assert "review pool data/extraction.xlsx" in result.output
    assert "--measure PR --method DL" in result.output


def test_cli_module_does_not_load_heavy_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys, metareview.cli; "
            "print(sorted(m for m in ('openpyxl', 'matplotlib', 'pandas', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_check_options_is_shared_by_pool_and_review_toml() -> None:
    from metareview.errors import OptionError
    from metareview.poolrun import check_options

    opts = check_options("proportion", PoolOptions(method="reml", test="KNHA", study_ci="Wilson"))
    assert (opts.measure, opts.method, opts.test, opts.study_ci) == ("PLO", "REML", "knha",
                                                                      "wilson")
    with pytest.raises(OptionError, match="measure 'OR' does not fit design 'proportion'"):
        check_options("proportion", PoolOptions(measure="OR"))
    found: list[tuple[str, OptionError]] = []
    check_options("binary", PoolOptions(measure="XX", method="REM", level=0), found)
    assert [key for key, _ in found] == ["method", "measure", "level"]
    assert found[2][1].message == "--level 0 is not between 0 and 100"
    found.clear()
    check_options("proportion", PoolOptions(method="GLMM", bias=True), found)
    assert found[0][0] == "method" and "--bias not available" in found[0][1].message
    bad = CliRunner().invoke(cli, ["pool", str(DATA / "extraction.xlsx"), "--level", "120"])
    assert bad.exit_code == 64 and "--level 120 is not between 0 and 100" in bad.output


def test_a_failed_leave_one_out_row_says_why(tmp_path: Path) -> None:
    # metafor 3.8-1: leave1out(rma(c(0.8, 0.8, 0.1), c(0.02, 0, 0.02))) gives NA for row 3
    # (the two studies left share yi and one has vi = 0) and 0.4643, 0.4500 for rows 1, 2
    sheet = tmp_path / "generic.csv"
    sheet.write_text("study,yi,vi\nA,0.8,0.02\nB,0.8,0\nC,0.1,0.02\n", encoding="utf-8")
    runner = CliRunner()
    text = runner.invoke(cli, ["pool", str(sheet), "--leave-one-out"])
    assert text.exit_code == 0, text.output
    assert "  C: not computed: Division by zero" in text.output
    out = pool_json(str(sheet), "--leave-one-out")["leave_one_out"]
    assert out["estimate"][2] is None and "Division by zero" in out["notes"][2]
    assert out["notes"][:2] == ["", ""]
    assert [round(e, 4) for e in out["estimate"][:2]] == [0.4643, 0.4500]
    book = tmp_path / "loo.xlsx"
    assert runner.invoke(cli, ["pool", str(sheet), "--leave-one-out", "-o",
                               str(book)]).exit_code == 0
    sheet_rows = list(openpyxl.load_workbook(book)["leave_one_out"].values)
    assert sheet_rows[0][-1] == "note" and "Division by zero" in sheet_rows[3][-1]


def test_pool_without_bias_or_plot_does_not_import_scipy_stats_or_matplotlib() -> None:
    """scipy.stats costs about a second to import and matplotlib more: a plain `review pool`
    (and `python -m metareview`) must load neither."""
    import subprocess
    import sys

    sheet = Path(__file__).resolve().parent.parent / "data" / "extraction.xlsx"
    probe = ("import runpy, sys; sys.argv = ['review', 'pool', sys.argv[1]]\n"
             "try:\n    runpy.run_module('metareview', run_name='__main__')\n"
             "except SystemExit as exit:\n    assert not exit.code, exit.code\n"
             "heavy = sorted(m for m in ('scipy.stats', 'matplotlib') if m in sys.modules)\n"
             "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", probe, str(sheet)], capture_output=True,
                         text=True, check=True).stdout
    assert "Random-effects model, k = 14" in out
    assert out.rstrip().endswith("HEAVY []")
