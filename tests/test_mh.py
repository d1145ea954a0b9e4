"""Mantel–Haenszel and Peto pooling against metafor 3.8-1 (``rma.mh``, ``rma.peto``).

Gold: tests/reference/r2/f1_mh_peto.json (closed form; 1e-6 relative, 1e-10 absolute, as its
README says). Every case is run from its recorded data and call arguments.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gold_cases import REFERENCE, close
from metareview.effects import escalc
from metareview.errors import EstimationError, InputError, OptionError, ReviewWarning
from metareview.meta import pool
from metareview.mh import MHResult, pool_mh, pool_peto

with open(REFERENCE / "r2" / "f1_mh_peto.json", encoding="utf-8") as _fh:
    GOLD = json.load(_fh)
CASES = GOLD["cases"]
TOL = GOLD["tolerances"]["closed_form"]

FIELDS = {
    "beta": "estimate", "se": "se", "zval": "zval", "pval": "pval", "ci.lb": "ci_lb",
    "ci.ub": "ci_ub", "QE": "q", "QEp": "q_p", "I2": "i2", "H2": "h2", "k": "k",
    "k.yi": "k_yi",
}
OR_FIELDS = {
    "MH": "cmh", "MHp": "cmh_p", "TA": "tarone", "TAp": "tarone_p", "BD": "breslow_day",
    "BDp": "breslow_day_p", "CO": "cochran", "COp": "cochran_p", "k.pos": "k_pos",
}


def _call_options(call: str) -> dict[str, Any]:
    """The keyword options of the recorded metafor call (measure, correct, to, drop00)."""
    out: dict[str, Any] = {}
    for key, value in re.findall(r'(measure|correct|to|drop00)=("?[\w.]+"?)', call):
        value = value.strip('"')
        out[key] = {"TRUE": True, "FALSE": False}.get(value, value)
    return out


def _fit(case: dict[str, Any]) -> MHResult:
    data = case["data"]
    cells: dict[str, Any] = {"ai": data["ai"], "ci": data["ci"]}
    if "bi" in data:
        cells |= {"bi": data["bi"], "di": data["di"]}
    else:
        cells |= {"n1i": data["n1i"], "n2i": data["n2i"]}
    opts = _call_options(case["call"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        if case["call"].startswith("rma.peto"):
            return pool_peto(**cells, labels=data["study"], **opts)
        return pool_mh(**cells, labels=data["study"], **opts)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_metafor(case: dict[str, Any]) -> None:
    fit = _fit(case)
    out = case["outputs"]
    fields = dict(FIELDS)
    if "MH" in out:
        fields |= OR_FIELDS
    bad = [f"{ours}: {getattr(fit, ours)!r} vs {out[theirs]!r}"
           for theirs, ours in fields.items()
           if not close(getattr(fit, ours), out[theirs], TOL["rel"], TOL["abs"])]
    for name in ("yi", "vi"):
        bad += [f"{name}[{i}]: {a!r} vs {b!r}"
                for i, (a, b) in enumerate(zip(getattr(fit, name), out[name], strict=True))
                if not close(a, b, TOL["rel"], TOL["abs"])]
    if "exp_beta" in out:
        p = fit.predict()
        bad += [f"{n}: {a!r} vs {out[n]!r}" for n, a in
                (("exp_beta", p.pred), ("exp_ci.lb", p.ci_lb), ("exp_ci.ub", p.ci_ub))
                if not close(a, out[n], TOL["rel"], TOL["abs"])]
    assert not bad, "\n".join(bad)
    assert fit.correct is out.get("correct", True)


def test_every_case_is_covered() -> None:
    assert GOLD["n_errors"] == 0 and len(CASES) == GOLD["n_cases"] == 33


BCG = {  # dat.bcg as ai=tpos, bi=tneg, ci=cpos, di=cneg
    "ai": [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27],
    "bi": [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886],
    "ci": [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29],
    "di": [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825],
}


def test_result_is_a_frozen_value_with_dict_and_ci() -> None:
    fit = pool_mh(**BCG, measure="RR")
    assert fit.confidence_interval() == (fit.ci_lb, fit.ci_ub)
    d = fit.to_dict()
    assert d["method"] == "MH" and d["measure"] == "RR" and d["cmh"] is None
    assert json.loads(json.dumps(d)) == d
    assert math.isclose(sum(fit.weights), 100.0)
    with pytest.raises(AttributeError):
        fit.estimate = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        fit.yi[0] = 1.0
    text = str(fit)
    assert "Mantel-Haenszel" in text and "risk ratio" in text
    assert "Cochran-Mantel-Haenszel" not in text


def test_printout_names_the_tests_for_or() -> None:
    text = str(pool_mh(**BCG, correct=False))
    assert "Cochran-Mantel-Haenszel test: CMH = " in text
    assert "no continuity correction" in text and "Tarone" in text
    assert "Peto" in str(pool_peto(**BCG))


def test_weights_are_metafor_mh_weights() -> None:
    a, b, c, d = (np.array(BCG[x], dtype=float) for x in ("ai", "bi", "ci", "di"))
    n = a + b + c + d
    for measure, w in (("OR", b * c / n), ("RR", c * (a + b) / n), ("RD", (a + b) * (c + d) / n)):
        fit = pool_mh(**BCG, measure=measure)
        np.testing.assert_allclose(fit.weights, 100 * w / w.sum(), rtol=1e-12)


def test_double_zero_table_is_kept_in_the_estimate_with_a_warning() -> None:
    with pytest.warns(ReviewWarning, match="left out of the Q-test"):
        fit = pool_mh([0, 3, 2], [10, 7, 8], [0, 1, 4], [12, 9, 6], labels=["A", "B", "C"])
    assert fit.k == 3 and fit.k_yi == 2 and math.isnan(fit.yi[0])
    assert fit.weights[0] == 0
    with pytest.warns(ReviewWarning, match="left out of the MH estimate"):
        dropped = pool_mh([0, 3, 2], [10, 7, 8], [0, 1, 4], [12, 9, 6], drop00=(True, True))
    assert dropped.k == 2 and math.isnan(dropped.weights[0])
    assert dropped.estimate == pytest.approx(fit.estimate, rel=1e-12)


def test_refusals_carry_a_reason() -> None:
    with pytest.raises(EstimationError, match="Peto's method cannot be used"):
        pool_peto([0, 0], [10, 12], [0, 0], [9, 11])
    with pytest.raises(EstimationError, match="odds ratio is 0 or infinite"):
        pool_mh([0, 0], [10, 12], [3, 2], [9, 11])
    with pytest.raises(EstimationError, match="risk ratio is 0 or infinite"):
        pool_mh([0, 0], [10, 12], [3, 2], [9, 11], measure="RR")
    with pytest.raises(OptionError, match="measure"):
        pool_mh(**BCG, measure="SMD")
    with pytest.raises(OptionError, match="one or two values"):
        pool_mh(**BCG, add=(0.5, 0.5, 0.5))  # type: ignore[arg-type]
    with pytest.raises(OptionError, match="to"):
        pool_mh(**BCG, to="some")
    with pytest.raises(InputError, match="ai is larger than n1i"):
        pool_mh([5], n1i=[3], ci=[1], n2i=[4])
    with pytest.raises(InputError, match="labels"):
        pool_mh(**BCG, labels=["one"])


def test_missing_counts_leave_the_table_out() -> None:
    with pytest.warns(ReviewWarning, match="left out of the MH estimate"):
        fit = pool_mh([4, math.nan, 6], [10, 10, 9], [3, 2, 5], [11, 9, 8])
    assert fit.k == 2 and math.isnan(fit.weights[1])


tables = st.lists(
    st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.integers(1, 40)),
    min_size=2, max_size=8)


@settings(max_examples=40, deadline=None)
@given(tables, st.randoms(use_true_random=False), st.sampled_from(["OR", "RR", "RD", "Peto"]))
def test_order_of_tables_does_not_matter(rows: list[tuple[int, ...]], rnd: Any,
                                         measure: str) -> None:
    def run(rs: list[tuple[int, ...]]) -> MHResult:
        cols = [list(c) for c in zip(*rs, strict=True)]
        if measure == "Peto":
            return pool_peto(*cols)
        return pool_mh(*cols, measure=measure)

    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = run(rows), run(shuffled)
    for name in ("estimate", "se", "q", "cmh", "tarone"):
        x, y = getattr(a, name), getattr(b, name)
        assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.1, 0.6), min_size=2, max_size=6), st.floats(-0.5, 0.5),
       st.sampled_from(["OR", "RR", "RD"]))
def test_mh_equals_inverse_variance_for_large_tables_with_one_effect(
        base: list[float], theta: float, measure: str) -> None:
    # every table has the same true effect theta; with n per arm -> infinity the MH and the
    # inverse-variance common-effect estimates both converge to it
    n = 10**8
    if measure == "OR":
        p1 = [1 / (1 + (1 - p) / p * math.exp(-theta)) for p in base]
    elif measure == "RR":
        p1 = [p * math.exp(theta) for p in base]
    else:
        p1 = [p + theta / 8 for p in base]  # stays within (0, 1)
        theta /= 8
    a, c = [round(p * n) for p in p1], [round(p * n) for p in base]
    sizes = [n] * len(a)
    mh = pool_mh(a, n1i=sizes, ci=c, n2i=sizes, measure=measure)
    es = escalc(measure, ai=a, n1i=sizes, ci=c, n2i=sizes)
    iv = pool(es.yi, es.vi, method="FE")
    assert mh.estimate == pytest.approx(theta, abs=1e-5)
    assert mh.estimate == pytest.approx(iv.estimate, abs=1e-5)
    # inverse variance is the efficient weighting: MH can only be as precise or less
    assert mh.se >= iv.se * (1 - 1e-4)
    if len(set(base)) == 1:  # balanced tables: the same weights, the same SE
        assert mh.se == pytest.approx(iv.se, rel=1e-4)


# --- review pool --method MH|Peto ------------------------------------------------------------


def _case(case_id: str) -> dict[str, Any]:
    return next(c for c in CASES if c["id"] == case_id)


def _binary_csv(tmp_path: Any, dataset: str) -> Any:
    data = _case(f"f1_{dataset}_or")["data"]
    rows = ["study,ai,n1i,ci,n2i"]
    for i, study in enumerate(data["study"]):
        rows.append(f"{study} {i + 1},{data['ai'][i]},{data['n1i'][i]},{data['ci'][i]},"
                    f"{data['n2i'][i]}")
    path = tmp_path / f"{dataset}.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("args", "case_id"), [
    (["--method", "MH"], "f1_nielweise2007_or"),
    (["--method", "mh", "--measure", "RR"], "f1_nielweise2007_rr"),
    (["--method", "MH", "--measure", "RD"], "f1_vis_zero_rd"),
    (["--method", "Peto"], "f1_vis_zero_peto"),
])
def test_cli_json_matches_metafor(tmp_path: Any, args: list[str], case_id: str) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    dataset = case_id.split("_", 1)[1].rsplit("_", 1)[0]
    result = CliRunner().invoke(cli, ["pool", str(_binary_csv(tmp_path, dataset)), *args,
                                      "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    gold = _case(case_id)["outputs"]
    assert out["method"] == ("Peto" if "Peto" in args else "MH")
    assert out["pooled_ci"].startswith("Wald-type z")
    assert "raw counts" in out["correction"]
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("ci_lb", "ci.lb"),
                         ("q", "QE"), ("q_p", "QEp"), ("i2", "I2")):
        assert close(out[ours], gold[theirs], TOL["rel"], TOL["abs"]), ours
    assert out["pi_lb"] is None and out["tau2"] == 0
    if "MH" in gold:
        assert close(out["mh"]["cmh"], gold["MH"], TOL["rel"], TOL["abs"])
        assert close(out["mh"]["tarone"], gold["TA"], TOL["rel"], TOL["abs"])
    studies = out["studies"]
    assert [s["yi"] for s in studies] == pytest.approx(
        [None if y is None else pytest.approx(y, rel=1e-6) for y in gold["yi"]])
    assert sum(s["weight"] for s in studies) == pytest.approx(100)


def test_cli_text_csv_and_forest_plot(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    csv_in = _binary_csv(tmp_path, "collins1985b")
    out_csv, png = tmp_path / "mh.csv", tmp_path / "forest.png"
    result = CliRunner().invoke(cli, ["pool", str(csv_in), "--method", "MH", "-o", str(out_csv),
                                      "--plot", str(png)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Common-effect (fixed) model, k = 9" in text
    assert "Method: Mantel–Haenszel (common effect)" in text
    assert "Pooled (common effect)" in text and "Prediction interval" not in text
    gold = _case("f1_collins1985b_or")["outputs"]
    assert f"CMH(1) = {gold['MH']:.2f}" in text
    assert f"Tarone's test for heterogeneity: X²({gold['k.pos'] - 1}) = {gold['TA']:.2f}" in text
    assert f"{gold['exp_beta']:.3f}" in text
    rows = out_csv.read_text(encoding="utf-8").splitlines()
    assert rows[0].endswith("ci_method,measure,method,correction")
    assert any(r.startswith("pooled,") and ",OR,MH," in r for r in rows)
    assert png.stat().st_size > 1000


def test_cli_refuses_mh_where_it_cannot_run(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    csv_in = _binary_csv(tmp_path, "vis_k2")
    for args, message in (
        (["--method", "Peto", "--measure", "RR"], "Peto pools odds ratios only"),
        (["--method", "MH", "--test", "knha"], "z test only"),
        (["--method", "MH", "--bias"], "--bias not available"),
    ):
        result = CliRunner().invoke(cli, ["pool", str(csv_in), *args])
        assert result.exit_code == 64, result.output
        assert message in result.output and "Traceback" not in result.output
    prop = tmp_path / "p.csv"
    prop.write_text("study,events,total\nA,3,10\nB,4,12\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", str(prop), "--method", "MH"])
    assert result.exit_code == 64 and "needs a binary sheet" in result.output
    zero = tmp_path / "zero.csv"
    zero.write_text("study,ai,n1i,ci,n2i\nA,0,10,0,12\nB,2,8,1,9\nC,4,20,3,18\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", str(zero), "--method", "MH", "--to", "json"])
    assert result.exit_code == 0, result.output
    notes = json.loads(result.stdout)["warnings"]
    assert not any("kept with the continuity correction" in w for w in notes)  # escalc's
    assert any("left out of the Q-test" in w for w in notes)
    both_zero = tmp_path / "z.csv"
    both_zero.write_text("study,ai,n1i,ci,n2i\nA,0,10,0,12\nB,0,8,0,9\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", str(both_zero), "--method", "Peto"])
    assert result.exit_code == 65 and "Peto's method cannot be used" in result.output
