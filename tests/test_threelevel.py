"""Three-level model (metafor's ``rma.mv(random = ~ 1 | cluster/id)``) against metafor 3.8-1
(tests/reference/r2/f4_threelevel.json, see tests/reference/r2/PROVENANCE-f4-f5.md), its
properties, and ``review pool --cluster``."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import example, given, settings
from hypothesis import strategies as st

from metareview.cli import cli
from metareview.errors import EstimationError, InputError, OptionError
from metareview.meta import pool
from metareview.multilevel import ThreeLevelResult, threelevel
from metareview.poolrun import PoolOptions, run_pool
from metareview.sheets.extraction import read_extraction

GOLD = json.loads((Path(__file__).parent / "reference" / "r2" / "f4_threelevel.json")
                  .read_text(encoding="utf-8"))
CASES = GOLD["cases"]
TIGHT = GOLD["tolerances"]["tight"]
ITERATIVE = GOLD["tolerances"]["iterative"]


def _spec(case: dict[str, Any]) -> tuple[str, str, str | None, str]:
    call = case["call"]
    outer, inner = call.split("random = ~ 1 | ")[1].split(",")[0].split("/")
    mods = call.split("mods = ~ ")[1].split(",")[0].strip() if "mods = ~ " in call else None
    return outer, inner, mods, "ML" if 'method="ML"' in call else "REML"


def fit_case(case: dict[str, Any], **kwargs: Any) -> ThreeLevelResult:
    outer, inner, mods, method = _spec(case)
    data = case["data"]
    return threelevel(data["yi"], data["vi"], data[outer], inner=data[inner], mods=mods,
                      data=data, method=method, cluster_name=outer, inner_name=inner, **kwargs)


FITS = {case["id"]: fit_case(case) for case in CASES}


def close(ours: Any, theirs: Any, tol: dict[str, float], what: str = "") -> None:
    a = np.asarray(ours, dtype=float).ravel()
    b = np.asarray(theirs, dtype=float).ravel()
    assert a.shape == b.shape, what
    assert np.all(np.abs(a - b) <= tol["rel"] * np.abs(b) + tol["abs"]), (what, a, b)


def _fields(fit: ThreeLevelResult, gold: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, ours, metafor's) for every recorded field of a fit."""
    out = [
        ("beta", fit.beta, list(gold["beta"].values())),
        ("se", fit.se, list(gold["se"].values())),
        ("zval", fit.zval, list(gold["zval"].values())),
        ("pval", fit.pval, list(gold["pval"].values())),
        ("ci.lb", fit.ci_lb, list(gold["ci.lb"].values())),
        ("ci.ub", fit.ci_ub, list(gold["ci.ub"].values())),
        ("vb", fit.vb, gold["vb"]),
        ("sigma2", fit.sigma2, gold["sigma2"]),
        ("QE", fit.qe, gold["QE"]),
        ("QEp", fit.qe_p, gold["QEp"]),
        ("logLik", fit.loglik, gold["fitstats"]["logLik"]),
        ("deviance", fit.deviance, gold["fitstats"]["deviance"]),
        ("AIC", fit.aic, gold["fitstats"]["AIC"]),
        ("BIC", fit.bic, gold["fitstats"]["BIC"]),
        ("AICc", fit.aicc, gold["fitstats"]["AICc"]),
        ("typical_vi", fit.typical_vi, gold["I2_decomposition"]["typical_vi"]),
        ("I2_levels", fit.i2, list(gold["I2_decomposition"]["I2_levels"].values())),
        ("I2_total", fit.i2_total, gold["I2_decomposition"]["I2_total"]),
    ]
    if "QM" in gold:
        out += [("QM", fit.qm, gold["QM"]), ("QMp", fit.qm_p, gold["QMp"])]
    return out


def _profile(fit: ThreeLevelResult, confint: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    assert fit.sigma2_ci is not None
    out = []
    for j, ci in enumerate(fit.sigma2_ci):
        gold = confint[f"sigma2.{j + 1}"]
        out.append((f"sigma2.{j + 1}", [ci.ci_lb, ci.ci_ub],
                    [gold["sigma2"]["ci.lb"], gold["sigma2"]["ci.ub"]]))
        out.append((f"sigma.{j + 1}", ci.sigma()[1:], [gold["sigma"]["ci.lb"],
                                                       gold["sigma"]["ci.ub"]]))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_metafor_converged_fit(case: dict[str, Any]) -> None:
    fit = FITS[case["id"]]
    gold = case["outputs_tight"]
    assert fit.coef_names == tuple(gold["coef_names"])
    assert fit.s_nlevels == tuple(gold["s.nlevels"])
    assert fit.s_names == tuple(gold["s.names"])
    assert (fit.k, fit.p, fit.method) == (gold["k"], gold["p"], gold["method"])
    for name, ours, theirs in _fields(fit, gold):
        close(ours, theirs, TIGHT, name)
    # profile CIs against confint(fit, control=list(tol=1e-10))
    for name, ours, theirs in _profile(fit, gold["confint"]):
        close(ours, theirs, {"rel": 0.0, "abs": 1e-6}, name)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_metafor_default_output_where_it_has_converged(case: dict[str, Any]) -> None:
    fit = FITS[case["id"]]
    gold = case["outputs"]
    outside = set(case["default_vs_tight"].get("fields_outside") or ())
    for name, ours, theirs in _fields(fit, gold):
        if not any(f.split("/")[0] == name for f in outside):
            close(ours, theirs, ITERATIVE, name)
    # default profile CIs (uniroot's tolerance) are good to about 1e-4 absolute on σ²
    for name, ours, theirs in _profile(fit, gold["confint"]):
        if name.startswith("sigma2"):
            close(ours, theirs, {"rel": 0.0, "abs": 2.5e-4}, name)


def test_result_api() -> None:
    fit = FITS["f4_konstantopoulos2011_intonly_reml"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.method = "ML"  # type: ignore[misc]
    with pytest.raises(ValueError):
        fit.beta[0] = 1.0
    lb, ub = fit.confidence_interval()
    assert lb < fit.estimate < ub
    pi_lb, pi_ub = fit.prediction_interval()
    assert pi_lb < lb and ub < pi_ub
    out = json.loads(json.dumps(fit.to_dict()))
    assert out["sigma2"] == list(fit.sigma2)
    assert out["lrt_cluster"]["df"] == 1 and out["lrt_cluster"]["lrt"] > 0
    assert out["sigma2_ci"][0]["ci_lb"] < fit.sigma2[0] < out["sigma2_ci"][0]["ci_ub"]
    with pytest.raises(OptionError, match="without moderators"):
        FITS["f4_konstantopoulos2011_mods_yearc_reml"].prediction_interval()


def test_likelihood_ratio_test_against_the_two_level_model() -> None:
    case = next(c for c in CASES if c["id"] == "f4_konstantopoulos2011_intonly_reml")
    data = case["data"]
    fit = FITS[case["id"]]
    two = pool(data["yi"], data["vi"], method="REML",
               control={"threshold": 1e-12, "maxiter": 10000})
    assert fit.lrt_cluster.ll_reduced == pytest.approx(two.ll_reml, rel=1e-9)
    expected = 2 * (fit.loglik - two.ll_reml)
    assert fit.lrt_cluster.lrt == pytest.approx(expected, rel=1e-8)
    from scipy import stats

    assert fit.lrt_cluster.pval == pytest.approx(stats.chi2.sf(expected, 1), rel=1e-6)
    assert fit.lrt_within.ll_reduced < fit.loglik


def _two_level(y: list[float], v: list[float], method: str) -> tuple[float, float]:
    """τ² and the log-likelihood of the two-level model, maximised directly on a grid then
    by a bounded scalar search (independent of both engines' Fisher scoring)."""
    from scipy import optimize

    ya, va = np.asarray(y), np.asarray(v)

    def ll(tau2: float) -> float:
        w = 1 / (va + tau2)
        mu = float(np.sum(w * ya) / np.sum(w))
        out = -0.5 * (np.sum(np.log(va + tau2)) + np.sum(w * (ya - mu) ** 2))
        if method == "REML":
            return float(out - 0.5 * math.log(np.sum(w)) + 0.5 * math.log(len(ya))
                         - 0.5 * (len(ya) - 1) * math.log(2 * math.pi))
        return float(out - 0.5 * len(ya) * math.log(2 * math.pi))

    grid = np.concatenate([[0.0], np.geomspace(1e-6, 100, 400)])
    best = int(np.argmax([ll(t) for t in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    found = optimize.minimize_scalar(lambda t: -ll(t), bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-12})
    tau2 = float(found.x) if -found.fun > ll(grid[best]) else float(grid[best])
    return tau2, ll(tau2)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1.0)), min_size=3, max_size=12),
       st.sampled_from(["REML", "ML"]))
@example([(0.0, 1.0)] * 4 + [(1.0, 0.125)], "REML")  # once failed on main
def test_one_estimate_per_cluster_is_the_two_level_model(
        rows: list[tuple[float, float]], method: str) -> None:
    # σ²₁ and σ²₂ are then not separable: only their sum, the two-level τ², is identified
    y = [r[0] for r in rows]
    v = [r[1] for r in rows]
    fit = threelevel(y, v, [f"s{i}" for i in range(len(y))], method=method, profile=False)
    tau2, ll = _two_level(y, v, method)
    assert fit.loglik >= ll - 1e-9
    assert fit.loglik == pytest.approx(ll, rel=1e-9, abs=1e-9)
    assert sum(fit.sigma2) == pytest.approx(tau2, rel=1e-4, abs=1e-6)
    assert fit.lrt_cluster.lrt == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.randoms(use_true_random=False))
def test_order_of_the_estimates_does_not_matter(rnd: Any) -> None:
    case = next(c for c in CASES if c["id"] == "f4_assink2016_mods_deltype_reml")
    data = case["data"]
    order = list(range(len(data["yi"])))
    rnd.shuffle(order)
    shuffled = {name: [values[i] for i in order] for name, values in data.items()}
    fit = fit_case({**case, "data": shuffled}, profile=False)
    base = FITS[case["id"]]
    np.testing.assert_allclose(fit.sigma2, base.sigma2, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(fit.beta, base.beta, rtol=1e-7, atol=1e-10)
    assert fit.loglik == pytest.approx(base.loglik, rel=1e-10)


def test_bad_input_is_refused_with_the_reason() -> None:
    y, v = [0.1, 0.2, 0.3, 0.4], [0.01, 0.02, 0.01, 0.02]
    with pytest.raises(InputError, match=r"cluster of estimate 3 .* is missing"):
        threelevel(y, v, ["a", "a", None, "b"])
    with pytest.raises(InputError, match="different lengths"):
        threelevel(y, v, ["a", "b"])
    with pytest.raises(InputError, match="negative"):
        threelevel(y, [0.01, -0.02, 0.01, 0.02], ["a", "a", "b", "b"])
    with pytest.raises(OptionError, match="unknown method"):
        threelevel(y, v, ["a", "a", "b", "b"], method="DL")
    with pytest.raises(EstimationError, match="too few estimates"):
        threelevel(y[:2], v[:2], ["a", "b"])
    with pytest.raises(OptionError, match="not in the sheet"):
        threelevel(y, v, ["a", "a", "b", "b"], mods="dose", data={"x": [1, 2, 3, 4]})


def test_missing_values_are_left_out_with_a_warning() -> None:
    y = [0.1, 0.2, float("nan"), 0.4, 0.35, 0.5]
    v = [0.01, 0.02, 0.01, 0.02, 0.01, 0.03]
    with pytest.warns(UserWarning, match="left out"):
        fit = threelevel(y, v, ["a", "a", "b", "b", "c", "c"], profile=False)
    assert fit.k == 5 and fit.omitted == (2,)


def test_a_single_cluster_fixes_its_variance_at_zero_as_metafor() -> None:
    y, v = [0.1, 0.3, 0.2, 0.5], [0.01, 0.02, 0.01, 0.02]
    with pytest.warns(UserWarning, match="one cluster: its variance is fixed at 0"):
        fit = threelevel(y, v, ["a"] * 4)
    two = pool(y, v, method="REML", control={"threshold": 1e-12, "maxiter": 10000})
    assert fit.sigma2[0] == 0.0
    assert fit.sigma2[1] == pytest.approx(two.tau2, rel=1e-6, abs=1e-10)
    assert fit.sigma2_ci is not None and fit.sigma2_ci[0].ci_lb is None
    assert fit.lrt_cluster.lrt == 0.0


# --- review pool --cluster ---------------------------------------------------------------


def _sheet(tmp_path: Path, case_id: str, blank: int | None = None) -> Path:
    case = next(c for c in CASES if c["id"] == case_id)
    data = case["data"]
    path = tmp_path / "estimates.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "district", "yi", "vi", "year_c"])
        for i in range(len(data["yi"])):
            district = "" if i == blank else data["district"][i]
            writer.writerow([f"{data['district'][i]}-{data['school'][i]}", district,
                             data["yi"][i], data["vi"][i], data["year_c"][i]])
    return path


@pytest.mark.parametrize("case_id,args", [
    ("f4_konstantopoulos2011_intonly_reml", []),
    ("f4_konstantopoulos2011_mods_yearc_ml", ["--method", "ML", "--mods", "year_c"]),
])
def test_review_pool_cluster_matches_metafor(tmp_path: Path, case_id: str,
                                             args: list[str]) -> None:
    table = _sheet(tmp_path, case_id)
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district",
                                      "--to", "json", *args])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["threelevel"]
    gold = next(c for c in CASES if c["id"] == case_id)["outputs_tight"]
    close(out["sigma2"], gold["sigma2"], TIGHT)
    close([c["estimate"] for c in out["coefficients"]], list(gold["beta"].values()), TIGHT)
    close(out["i2"], list(gold["I2_decomposition"]["I2_levels"].values()), TIGHT)
    assert out["s_names"] == ["district", "district/estimate"]
    text = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district", *args])
    assert "Three-level model" in text.output and "Against the two-level model" in text.output


def test_review_pool_cluster_writes_its_table(tmp_path: Path) -> None:
    table = _sheet(tmp_path, "f4_konstantopoulos2011_intonly_reml")
    out = tmp_path / "results.xlsx"
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district", "-o",
                                      str(out)])
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out)
    assert "threelevel" in book.sheetnames
    rows = {r[0]: r[1] for r in book["threelevel"].iter_rows(min_row=2, values_only=True)}
    assert rows["sigma2[district]"] == pytest.approx(FITS[
        "f4_konstantopoulos2011_intonly_reml"].sigma2[0])


def test_review_pool_cluster_bad_input(tmp_path: Path) -> None:
    table = _sheet(tmp_path, "f4_konstantopoulos2011_intonly_reml", blank=3)
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district"])
    assert result.exit_code == 65
    assert "estimates.csv!B5: district is empty" in result.output
    assert "Traceback" not in result.output
    table = _sheet(tmp_path, "f4_konstantopoulos2011_intonly_reml")
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "study_id"])
    assert result.exit_code != 0 and "no column 'study_id'" in result.output
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district",
                                      "--method", "DL"])
    assert result.exit_code != 0 and "REML or ML" in result.output
    result = CliRunner().invoke(cli, ["pool", str(table), "--cluster", "district",
                                      "--test", "knha"])
    assert result.exit_code != 0 and "--test z only" in result.output


def test_review_toml_analysis_cluster(tmp_path: Path) -> None:
    from metareview.config import load_config

    folder = tmp_path / "review"
    assert CliRunner().invoke(cli, ["init", str(folder)]).exit_code == 0
    toml = folder / "review.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('# cluster = "study_id"', 'cluster = "study_id"'),
                    encoding="utf-8")
    assert load_config(toml).analysis.cluster == "study_id"
    toml.write_text(text.replace('# cluster = "study_id"', 'cluster = "study_id"')
                    .replace('method = "REML"', 'method = "DL"'), encoding="utf-8")
    with pytest.raises(Exception, match="REML or ML"):
        load_config(toml)


def test_run_pool_back_transforms_the_three_level_estimate(tmp_path: Path) -> None:
    path = tmp_path / "cor.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["study", "sample", "r", "n"])
        for i, (s, r, n) in enumerate([("A", 0.3, 40), ("A", 0.35, 40), ("B", 0.1, 80),
                                       ("B", 0.15, 60), ("C", 0.5, 30), ("C", 0.4, 50)]):
            writer.writerow([f"{s}{i}", s, r, n])
    report = run_pool(read_extraction(path), PoolOptions(cluster="sample"))
    assert report.threelevel is not None
    pred = report.threelevel.predict()
    assert pred.pred == pytest.approx(math.tanh(report.threelevel.estimate))
    assert report.to_dict()["threelevel"]["summary"]["pred"] == pytest.approx(pred.pred)
