"""`review pool --mods/--predict/--bubble` and `[analysis] mods` end to end, numbers against
metafor 3.8-1 (tests/reference/r2/f2_metareg.json)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.config import load_config
from metareview.errors import ValidationError

GOLD = json.loads((Path(__file__).parent / "reference/r2/f2_metareg.json").read_text())


def case(case_id: str) -> dict:
    return next(c for c in GOLD["cases"] if c["id"] == case_id)


def sheet(tmp_path: Path, case_id: str) -> Path:
    """A generic (yi, vi) study table holding a gold case's data and moderators."""
    data = case(case_id)["data"]
    path = tmp_path / "studies.csv"
    names = [n for n in data if n != "study"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", *names])
        for i, study in enumerate(data["study"]):
            writer.writerow([f"{study} ({i + 1})", *(data[n][i] for n in names)])
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(cli, ["pool", *args])


@pytest.mark.parametrize("case_id", ["f2_bcg_ablat_x_alloc_reml_knha",
                                     "f2_raudenbush1985_weeks_tester_dl_z"])
def test_mods_json_matches_metafor(tmp_path: Path, case_id: str) -> None:
    gold = case(case_id)
    out, tol = gold["outputs"], gold["tolerance"]
    formula = gold["call"].split("mods = ~ ")[1].split(",")[0]
    method = gold["call"].split('method="')[1].split('"')[0]
    test = gold["call"].split('test="')[1].split('"')[0]
    newdata = out["predict"]["newdata"]
    points = [",".join(f"{k}={v}" for k, v in zip(newdata, vals, strict=True))
              for vals in zip(*newdata.values(), strict=True)]
    args = [str(sheet(tmp_path, case_id)), "--mods", formula, "--method", method,
            "--test", test, "--to", "json"]
    for p in points:
        args += ["--predict", p]
    result = run(*args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    block = json.loads(result.stdout)["metareg"]  # type: ignore[attr-defined]
    names = [c["name"] for c in block["coefficients"]]
    assert names == out["coef_names"]
    for c in block["coefficients"]:
        assert c["estimate"] == pytest.approx(out["beta"][c["name"]], rel=tol["rel"],
                                              abs=tol["abs"])
        assert c["se"] == pytest.approx(out["se"][c["name"]], rel=tol["rel"], abs=tol["abs"])
    assert block["qm"] == pytest.approx(out["QM"], rel=tol["rel"])
    assert block["qm_df"] == out["QMdf"]
    assert block["r2"] == pytest.approx(out["R2"], rel=tol["rel"], abs=1e-8)
    preds = [p["pred"] for p in block["predictions"]]
    assert preds == pytest.approx(out["predict"]["pred"], rel=tol["rel"], abs=tol["abs"])
    # generic yi: the natural scale is the model scale
    assert [p["natural"]["pi_lb"] for p in block["predictions"]] == pytest.approx(
        out["predict"]["pi.lb"], rel=tol["rel"], abs=tol["abs"])


def test_predictions_are_back_transformed_by_the_measure(tmp_path: Path) -> None:
    gold = case("f2_bcg_ablat_year_dl_z")
    result = run(str(sheet(tmp_path, gold["id"])), "--measure", "RR", "--method", "DL",
                 "--mods", "ablat + year", "--predict", "ablat=10,year=1950", "--to", "json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    natural = json.loads(result.stdout)["metareg"]["predictions"][0]["natural"]  # type: ignore[attr-defined]
    assert natural["pred"] == pytest.approx(math.exp(gold["outputs"]["predict"]["pred"][0]))
    assert natural["ci_ub"] == pytest.approx(math.exp(gold["outputs"]["predict"]["ci.ub"][0]))


def test_text_output_has_the_coefficients_tests_and_reference_levels(tmp_path: Path) -> None:
    gold = case("f2_bcg_ablat_alloc_dl_z")["outputs"]
    result = run(str(sheet(tmp_path, "f2_bcg_ablat_alloc_dl_z")), "--measure", "RR",
                 "--method", "DL", "--mods", "ablat + alloc")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    text = result.stdout  # type: ignore[attr-defined]
    assert "Meta-regression (mixed-effects model, ~ ablat + alloc; k = 13; DL estimator" in text
    assert f"allocsystematic  {gold['beta']['allocsystematic']:8.4f}" in text
    assert f"QM(3) = {gold['QM']:.2f}" in text
    assert f"R² (heterogeneity accounted for) = {gold['R2']:.1f}%" in text
    assert "Reference levels: alloc = alternate" in text


def test_bubble_plot_and_tables_are_written(tmp_path: Path) -> None:
    table = sheet(tmp_path, "f2_bcg_ablat_year_reml_z")
    bubble, xlsx, csv_out = tmp_path / "b.svg", tmp_path / "r.xlsx", tmp_path / "r.md"
    result = run(str(table), "--mods", "ablat + year", "--bubble", str(bubble), "--bubble-x",
                 "year", "-o", str(xlsx), "-o", str(csv_out))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert bubble.read_text(encoding="utf-8").startswith("<?xml")
    assert "Meta-regression on year" in bubble.read_text(encoding="utf-8")
    import openpyxl

    assert "metareg" in openpyxl.load_workbook(xlsx).sheetnames
    assert "ablat" in csv_out.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "message"), [
    (["--predict", "ablat=10"], "--predict needs a meta-regression model"),
    (["--bubble", "b.png"], "--bubble needs a meta-regression model"),
    (["--mods", "ablat +"], "without a term"),
    (["--mods", "latitude"], "no column 'latitude'"),
    (["--mods", "ablat", "--predict", "ablat"], "cannot read 'ablat'"),
    (["--mods", "ablat", "--predict", "year=1"], "lacks ablat"),
    (["--mods", "alloc", "--bubble", "b.png"], "has only factors"),
    (["--mods", "ablat", "--bubble", "b.png", "--bubble-x", "alloc"], "not a numeric moderator"),
])
def test_bad_moderator_options_are_one_line_errors_and_write_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str) -> None:
    table = sheet(tmp_path, "f2_bcg_ablat_alloc_reml_z")
    monkeypatch.chdir(tmp_path)
    result = run(str(table), *args)
    assert result.exit_code != 0
    out = result.output  # type: ignore[attr-defined]
    assert "review: error:" in out and message in out
    assert "Traceback" not in out
    assert not (tmp_path / "b.png").exists()


def test_numeric_by_column_warns_and_suggests_mods(tmp_path: Path) -> None:
    result = run(str(sheet(tmp_path, "f2_bcg_ablat_year_reml_z")), "--by", "year")
    assert result.exit_code == 0
    assert ("--by year holds numbers: each of its 12 values is a subgroup of its own; for a "
            "continuous moderator use --mods year") in result.output  # type: ignore[attr-defined]


def test_review_toml_takes_mods_and_checks_them_at_their_line(tmp_path: Path) -> None:
    (tmp_path / "sources").mkdir()
    (tmp_path / "sources" / "r.ris").write_text("TY  - JOUR\nTI  - x\nER  - \n")
    base = ('[review]\ntitle = "t"\n\n[[sources]]\nlabel = "x"\npath = "sources/r.ris"\n\n'
            '[analysis]\n')
    path = tmp_path / "review.toml"
    path.write_text(base + 'mods = "year + region"\n', encoding="utf-8")
    assert load_config(path).analysis.mods == "year + region"
    path.write_text(base + 'mods = "year +"\n', encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:9"
    assert "without a term" in problem.message
