"""Incidence-rate (IR, IRLN, IRS, IRFT) and correlation (COR, UCOR, ZCOR) measures, their
back-transforms, and the ``rate`` and ``correlation`` sheet designs, against metafor 3.8-1
(tests/reference/r2/f5_measures.json, see tests/reference/r2/PROVENANCE-f4-f5.md)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from files import write_csv
from metareview.cli import cli
from metareview.effects import (
    back_transform,
    escalc,
    exp_int,
    iirft,
    natural_scale,
    ztor_int,
)
from metareview.errors import InputError, ValidationError
from metareview.meta import pool
from metareview.poolrun import PoolOptions, run_pool
from metareview.sheets.extraction import (
    SheetPlan,
    extraction_columns,
    infer_design,
    read_extraction,
    write_extraction,
)

GOLD = json.loads((Path(__file__).parent / "reference" / "r2" / "f5_measures.json")
                  .read_text(encoding="utf-8"))
CASES = GOLD["cases"]
TIGHT = {"threshold": 1e-10, "maxiter": 1000}
PRED_KEYS = ("pred", "ci.lb", "ci.ub", "pi.lb", "pi.ub")


def _num(value: Any) -> float:
    return math.nan if value is None else float(value)


def assert_close(ours: Any, theirs: Any, rel: float = 1e-6, abs_: float = 1e-10) -> None:
    a = np.atleast_1d(np.asarray(ours, dtype=float))
    b = np.atleast_1d(np.asarray([_num(x) for x in np.atleast_1d(theirs)], dtype=float))
    assert a.shape == b.shape
    assert np.array_equal(np.isnan(a), np.isnan(b)), (a, b)
    ok = ~np.isnan(b)
    assert np.all(np.abs(a[ok] - b[ok]) <= rel * np.abs(b[ok]) + abs_), (a, b)


def effect_sizes(case: dict[str, Any]) -> Any:
    data = case["data"]
    if "xi" in data:
        return escalc(case["measure"], xi=data["xi"], ti=data["ti"])
    return escalc(case["measure"], ri=data["ri"], ni=data["ni"])


def _method(case: dict[str, Any]) -> str:
    return "DL" if 'method="DL"' in case["call"] else "REML"


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_escalc_fit_and_back_transforms_match_metafor(case: dict[str, Any]) -> None:
    method = _method(case)
    # DL is closed form; REML is compared with metafor's converged fit at 1e-6
    gold = case["outputs"] if method == "DL" else case["outputs_tight"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = effect_sizes(case)
    assert_close(es.yi, gold["escalc"]["yi"])
    assert_close(es.vi, gold["escalc"]["vi"])
    control = TIGHT if method == "REML" else None
    fit = pool(es.yi, es.vi, method=method, measure=case["measure"], ni=es.ni, control=control)
    f = gold["fit"]
    assert_close(fit.estimate, f["beta"]["intrcpt"])
    assert_close(fit.se, f["se"]["intrcpt"])
    assert_close(fit.tau2, f["tau2"])
    assert_close(fit.q, f["QE"])
    assert_close(fit.i2, f["I2"])
    raw = fit.predict(transform=False)
    values = [raw.pred, raw.ci_lb, raw.ci_ub, raw.pi_lb, raw.pi_ub]
    assert_close(values, [gold["predict"][k][0] for k in PRED_KEYS])
    for key, block in gold.items():
        if not key.startswith("predict_"):
            continue
        expected = [block[k][0] for k in PRED_KEYS]
        if key == "predict_exp.int":
            assert_close(exp_int(values, fit.tau2), expected, rel=1e-8)
        elif key == "predict_ztor.int":
            assert_close(ztor_int(values, fit.tau2), expected, rel=1e-8)
        else:  # exp, isqrt, iirft, ztor: the measure's own back-transform, as pool reports it
            assert_close(back_transform(case["measure"], values, es.ni), expected)
            natural = fit.predict()
            assert_close([natural.pred, natural.ci_lb, natural.ci_ub], expected[:3])


def test_default_corrections_follow_metafor() -> None:
    xi, ti = [0, 4], [300.0, 800.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert escalc("IRLN", xi=xi, ti=ti).yi[0] == pytest.approx(math.log(0.5 / 300))
        assert escalc("IR", xi=xi, ti=ti).correction.startswith("0.5 added")
        for measure in ("IRS", "IRFT"):  # no correction by default
            es = escalc(measure, xi=xi, ti=ti)
            assert es.correction == "none"
            assert not es.corrected.any()
        assert escalc("IRS", xi=xi, ti=ti).yi[0] == 0.0
        # IRLN without a correction: log(0) is undefined -> missing, with the reason
        es = escalc("IRLN", xi=xi, ti=ti, add=0)
    assert math.isnan(es.yi[0]) and es.dropped[0][0] == 0
    np.testing.assert_array_equal(escalc("IR", xi=[1, 2], ti=[10.0, 20.0]).ni, [10.0, 20.0])


@pytest.mark.parametrize("measure,smallest", [("COR", 2), ("UCOR", 5), ("ZCOR", 4)])
def test_too_small_samples_are_missing_with_a_reason(measure: str, smallest: int) -> None:
    with pytest.warns(UserWarning, match="too few"):
        es = escalc(measure, ri=[0.3, 0.3], ni=[smallest - 1, smallest])
    assert math.isnan(es.yi[0]) and math.isnan(es.vi[0])
    assert np.isfinite(es.vi[1]) and es.vi[1] > 0
    assert es.dropped == ((0, f"ni below {smallest}: no sampling variance for {measure}"),)


def test_ucor_large_samples_where_scipy_hyp2f1_fails() -> None:
    # Olkin-Pratt: r (1 + (1 - r²)/(2(n - 3)) + ...) ; for n = 100 000 the first term decides
    es = escalc("UCOR", ri=[0.05, 0.3, -0.2], ni=[326, 5000, 100_000])
    assert np.all(np.isfinite(es.yi))
    approx = es.yi / np.array([0.05, 0.3, -0.2])
    expected = 1 + (1 - np.array([0.05, 0.3, -0.2]) ** 2) / (2 * (np.array([326, 5000, 1e5]) - 3))
    np.testing.assert_allclose(approx, expected, rtol=1e-4)


@pytest.mark.parametrize("kwargs,message", [
    ({"measure": "IR", "xi": [1, 2], "ti": [10, 0]},
     "ti \\(person-time\\) is not above 0 in study 2"),
    ({"measure": "IRLN", "xi": [-1, 2], "ti": [10, 5]}, "xi is negative in study 1"),
    ({"measure": "IRFT", "xi": [1.5, 2], "ti": [10, 5]}, "xi is not a whole number in study 1"),
    ({"measure": "COR", "ri": [1.2, 0.1], "ni": [10, 20]}, "ri is outside \\[-1, 1\\] in study 1"),
    ({"measure": "ZCOR", "ri": [0.2, 0.1], "ni": [10, 0]}, "ni is 0 in study 2"),
])
def test_impossible_data_is_refused_naming_the_study(kwargs: dict[str, Any], message: str) -> None:
    measure = kwargs.pop("measure")
    with pytest.raises(InputError, match=message):
        escalc(measure, **kwargs)


def test_natural_scales() -> None:
    assert natural_scale("IRFT") == "incidence rate"
    assert natural_scale("ZCOR") == "correlation"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.floats(1.0, 1e5), st.floats(1.0, 1e5))
def test_iirft_inverts_the_freeman_tukey_rate(x: int, t: float, other: float) -> None:
    # with a single person-time the harmonic mean is t itself: the inverse is exact
    rate = x / t
    y = 0.5 * (math.sqrt(rate) + math.sqrt(rate + 1 / t))
    assert iirft([y], [t])[0] == pytest.approx(rate, rel=1e-9, abs=1e-12)
    # below the value of a zero rate it is clamped to 0
    assert iirft([0.49 * math.sqrt(1 / t)], [t])[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(st.floats(-3, 3), st.floats(0.0, 2.0))
def test_ztor_int_is_the_mean_of_tanh(mu: float, tau2: float) -> None:
    grid = np.linspace(-12, 12, 20001)
    density = np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi)
    mean = np.trapezoid(np.tanh(mu + math.sqrt(tau2) * grid) * density, grid)
    assert ztor_int([mu], tau2)[0] == pytest.approx(mean, abs=1e-7)
    assert abs(ztor_int([mu], tau2)[0]) <= abs(math.tanh(mu)) + 1e-12


# --- sheets and `review pool` ------------------------------------------------------------


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def _rate_csv(path: Path, case_id: str, names: tuple[str, str] = ("events", "person_time")
              ) -> Path:
    data = _case(case_id)["data"]
    return write_csv(path, ["study", *names],
                      [list(r) for r in zip(data["study"], data["xi"], data["ti"], strict=True)])


def _cor_csv(path: Path, case_id: str, names: tuple[str, str] = ("r", "n")) -> Path:
    data = _case(case_id)["data"]
    return write_csv(path, ["study", *names],
                      [list(r) for r in zip(data["study"], data["ri"], data["ni"], strict=True)])


@pytest.mark.parametrize("design,data", [
    ("rate", ["events", "person_time"]),
    ("correlation", ["r", "n"]),
])
def test_columns_and_workbook_per_design(tmp_path: Path, design: str, data: list[str]) -> None:
    assert extraction_columns(design)[8:10] == data
    path = tmp_path / "x.xlsx"
    write_extraction(SheetPlan(design, ()), path)
    book = openpyxl.load_workbook(path)
    header = [c.value for c in book["extraction"][1]]
    assert header[8:10] == data
    codebook = {r[0]: r[1] for r in book["codebook"].iter_rows(min_row=2, values_only=True)}
    assert "whole number" in codebook[data[1] if design == "correlation" else data[0]]
    rules = {(dv.type, dv.operator, dv.formula1, dv.formula2)
             for dv in book["extraction"].data_validations.dataValidation}
    if design == "correlation":
        assert ("decimal", "between", "-1", "1") in rules
    else:
        assert ("decimal", "greaterThanOrEqual", "0", None) in rules


def test_designs_are_told_from_the_columns() -> None:
    assert infer_design(["study", "events", "person_time"]) == "rate"
    assert infer_design(["study", "xi", "ti"]) == "rate"
    assert infer_design(["Study", "R", "N"]) == "correlation"
    assert infer_design(["study", "ri", "ni"]) == "correlation"
    assert infer_design(["study", "events", "total"]) == "proportion"


@pytest.mark.parametrize("case_id", ["f5_hart1999_arm1_irft_dl", "f5_vis_ir_B_irln_dl"])
def test_review_pool_rate_sheet_matches_metafor(tmp_path: Path, case_id: str) -> None:
    case = _case(case_id)
    table = _rate_csv(tmp_path / "rates.csv", case_id, ("xi", "ti"))  # metafor aliases
    result = CliRunner().invoke(cli, ["pool", str(table), "--measure", case["measure"],
                                      "--method", "DL", "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["design"] == "rate" and out["natural_scale"] == "incidence rate"
    gold = case["outputs"]
    assert_close(out["estimate"], gold["fit"]["beta"]["intrcpt"])
    block = gold["predict_iirft" if case["measure"] == "IRFT" else "predict_exp"]
    s = out["summary"]
    assert_close([s["estimate"], s["ci_lb"], s["ci_ub"], s["pi_lb"], s["pi_ub"]],
                 [block[k][0] for k in PRED_KEYS])


def test_review_pool_correlation_sheet_matches_metafor(tmp_path: Path) -> None:
    case = _case("f5_molloy2014_zcor_dl")
    table = _cor_csv(tmp_path / "cor.csv", case["id"])
    result = CliRunner().invoke(cli, ["pool", str(table), "--method", "DL", "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (out["design"], out["measure"]) == ("correlation", "ZCOR")  # the default measure
    block = case["outputs"]["predict_ztor"]
    s = out["summary"]
    assert_close([s["estimate"], s["ci_lb"], s["ci_ub"], s["pi_lb"], s["pi_ub"]],
                 [block[k][0] for k in PRED_KEYS])
    text = CliRunner().invoke(cli, ["pool", str(table), "--measure", "UCOR"])
    assert text.exit_code == 0 and "bias-corrected correlation" in text.output


def test_run_pool_rate_defaults_to_irln(tmp_path: Path) -> None:
    table = read_extraction(_rate_csv(tmp_path / "r.csv", "f5_vis_ir_A_irln_reml"))
    report = run_pool(table, PoolOptions(method="DL"))
    assert report.measure == "IRLN"
    assert report.studies[0].data == ("5", "1000")
    gold = _case("f5_vis_ir_A_irln_dl")["outputs"]["predict_exp"]
    assert_close(report.fit.summary.estimate, gold["pred"][0])


def test_bad_rate_and_correlation_cells_are_named(tmp_path: Path) -> None:
    rates = write_csv(tmp_path / "r.csv", ["study", "events", "person_time"],
                       [["A", 3, 100], ["B", 2.5, 0], ["C", 1, -4]])
    with pytest.raises(ValidationError) as info:
        read_extraction(rates)
    text = str(info.value)
    assert "r.csv!B3" in text and "whole numbers" in text
    assert "r.csv!C3" in text and "person_time is 0" in text
    assert "r.csv!C4" in text and "negative" in text
    cors = write_csv(tmp_path / "c.csv", ["study", "r", "n"],
                      [["A", 0.3, 50], ["B", -1.5, 20], ["C", "0,4", 0]])
    result = CliRunner().invoke(cli, ["pool", str(cors)])
    assert result.exit_code != 0
    assert "c.csv!B3: r is -1.5; a correlation lies between -1 and 1" in result.output
    assert "c.csv!C4: n is 0" in result.output
    assert "Traceback" not in result.output


def test_missing_person_time_column_is_named(tmp_path: Path) -> None:
    table = write_csv(tmp_path / "r.csv", ["study", "events"], [["A", 3]])
    result = CliRunner().invoke(cli, ["pool", str(table), "--design", "rate"])
    assert result.exit_code != 0
    assert "no column 'person_time' for a rate sheet" in result.output


def test_review_sheet_rate_design(tmp_path: Path) -> None:
    out = tmp_path / "rates.xlsx"
    result = CliRunner().invoke(cli, ["sheet", "--design", "rate", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "rate design" in result.output
    header = [c.value for c in openpyxl.load_workbook(out)["extraction"][1]]
    assert "person_time" in header
