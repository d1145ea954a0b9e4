"""Degenerate data in meta-regression, small-study tests and subgroups: an exact value (as
metafor 3.8-1 gives it) or a clear EstimationError, never a raw ZeroDivisionError or
LinAlgError."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metareview.bias import ranktest, regtest, trimfill
from metareview.cli import cli
from metareview.effects import escalc
from metareview.errors import EstimationError
from metareview.metareg import metareg
from metareview.subgroups import subgroup_analysis

pytestmark = pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")

V = np.array([0.01, 0.04, 0.09, 0.16, 0.25])
SAME = np.full(5, 0.3)  # identical effects: QE = 0 whatever the moderator
LINE = 1 + 2 * np.sqrt(V)  # exactly on a line in sei: zero residuals


def test_fe_metareg_with_qe_zero_reports_i2_zero() -> None:
    fit = metareg(SAME, V, np.sqrt(V), method="FE")
    assert fit.qe == 0
    assert fit.i2 == 0  # metafor: max(0, 100 (0 - df) / 0) = max(0, -Inf) = 0
    assert fit.h2 == 0


def test_fe_regtest_and_trimfill_with_qe_zero() -> None:
    r = regtest(SAME, V, method="FE")
    assert r.model.i2 == 0
    assert r.limit_estimate == pytest.approx(0.3)
    tf = trimfill(SAME, V, method="FE")
    assert tf.k0 == 0
    assert tf.fit.estimate == pytest.approx(0.3)
    assert tf.fit.i2 == 0


def test_knha_metareg_with_zero_residuals_has_no_qm() -> None:
    fit = metareg(LINE, V, np.sqrt(V), method="REML", test="knha")
    assert fit.s2w == 0
    assert math.isnan(fit.qm) and math.isnan(fit.qm_p)  # metafor: QM = NA
    assert fit.beta == pytest.approx((1.0, 2.0))
    assert fit.se == (0.0, 0.0)
    assert fit.zval == (math.inf, math.inf)
    assert fit.pval == (0.0, 0.0)
    assert fit.ci_lb == pytest.approx(fit.beta)
    assert fit.to_dict()["qm"] is None
    assert "F(df1 = 1, df2 = 3)" in str(fit)


def test_knha_regtest_with_zero_residuals() -> None:
    r = regtest(LINE, V, method="REML", test="knha")
    assert r.zval == math.inf and r.pval == 0
    assert r.limit_estimate == pytest.approx(1.0)


def test_knha_subgroups_with_zero_residuals_everywhere() -> None:
    y = np.array([0.2, 0.2, 0.2, 0.7, 0.7, 0.7])
    v = np.array([0.01, 0.02, 0.03, 0.01, 0.02, 0.04])
    res = subgroup_analysis(y, v, ["a"] * 3 + ["b"] * 3, test="knha")
    assert math.isnan(res.qm)
    assert math.isnan(res.q_between) and res.between is None
    assert [f.estimate for f in res.fits] == pytest.approx([0.2, 0.7])
    assert "not computable" in str(res)


def test_one_identical_subgroup_does_not_sink_the_common_tau2_test() -> None:
    # metafor 3.8-1: rma(yi, vi, mods = ~ grp, test = "knha") on escalc("PAS", ...) gives
    # F(df1 = 1, df2 = 4) = 37.46 (the example)
    es = escalc("PAS", xi=[3, 7, 12, 0, 0, 0], ni=[20, 25, 30, 15, 22, 9])
    with pytest.warns(match="separate tau\\^2 not computable"):
        res = subgroup_analysis(es.yi, es.vi, ["xxx"] * 3 + ["yyy"] * 3, test="knha")
    assert res.qm_df == (1, 4)
    assert round(res.qm, 2) == 37.46
    assert res.fits[1].se == 0
    assert math.isnan(res.q_between) and math.isnan(res.q_between_p)
    assert res.to_dict()["between"] is None
    assert res.to_dict()["q_between"] is None


def test_begg_on_identical_effects_is_not_computable() -> None:
    with pytest.raises(EstimationError, match="not computable"):
        ranktest(np.full(10, 0.4), np.linspace(0.01, 0.1, 10))
    with pytest.raises(EstimationError, match="not computable"):
        ranktest(np.zeros(4), [0.1, 0.2, 0.3, 0.4])


def test_cli_bias_on_identical_effects_says_not_computable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sheet = tmp_path / "same.csv"
    rows = ["study,yi,vi"] + [f"S{i},0.4,{0.01 * i}" for i in range(1, 11)]
    sheet.write_text("\n".join(rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", str(sheet), "--bias"])
    assert result.exit_code == 0, result.output
    assert "Begg's test not run: not computable" in result.stdout
    assert "Kendall" not in result.stdout


@settings(max_examples=40, deadline=None)
@given(st.floats(-5, 5, allow_nan=False), st.integers(3, 12),
       st.sampled_from(["FE", "DL", "REML", "ML", "EB"]))
def test_identical_effects_never_raise_a_raw_error(value: float, k: int, method: str) -> None:
    v = np.linspace(0.01, 0.2, k)
    y = np.full(k, value)
    for test in ("z", "knha"):
        fit = metareg(y, v, np.sqrt(v), method=method, test=test)
        assert fit.beta[0] == pytest.approx(value, abs=1e-9)
        regtest(y, v, method=method, test=test)
        trimfill(y, v, method=method, test=test)
    with pytest.raises(EstimationError, match="not computable"):
        ranktest(y, v)


grouped = st.integers(min_value=4, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-2, 2, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1, allow_nan=False), min_size=k, max_size=k),
        st.permutations(["a", "b"] * (k // 2) + ["a"] * (k % 2)),
    )
)


@settings(max_examples=40, deadline=None)
@given(grouped, st.sampled_from(["DL", "REML", "FE"]), st.sampled_from(["z", "knha"]),
       st.randoms(use_true_random=False))
def test_subgroups_and_metareg_are_order_invariant(data: tuple[list[float], list[float],
                                                             list[str]],
                                                   method: str, test: str, rnd: object) -> None:
    y, v, groups = data
    order = list(range(len(y)))
    rnd.shuffle(order)  # type: ignore[attr-defined]

    def permuted(xs: list[object]) -> list[object]:
        return [xs[i] for i in order]

    try:  # REML's Fisher scoring can fail to converge on odd data, as in metafor
        a = subgroup_analysis(y, v, groups, method=method, test=test)
        b = subgroup_analysis(permuted(y), permuted(v), permuted(groups), method=method,
                              test=test)
    except EstimationError as exc:
        assert "did not converge" in exc.message
        assume(False)
    assert b.groups == a.groups
    assert [f.estimate for f in b.fits] == pytest.approx([f.estimate for f in a.fits],
                                                         rel=1e-6, abs=1e-9)
    assert b.qm == pytest.approx(a.qm, rel=1e-6, abs=1e-9, nan_ok=True)
    assert b.q_between == pytest.approx(a.q_between, rel=1e-6, abs=1e-9, nan_ok=True)
    mods = np.arange(len(y), dtype=float) ** 0.5
    try:
        ra = metareg(y, v, mods, method=method, test=test)
        rb = metareg(permuted(y), permuted(v), permuted(list(mods)), method=method, test=test)
    except EstimationError as exc:
        assert "did not converge" in exc.message
        assume(False)
    assert rb.beta == pytest.approx(ra.beta, rel=1e-6, abs=1e-9)
    assert rb.tau2 == pytest.approx(ra.tau2, rel=1e-5, abs=1e-8)


def test_cli_subgroups_with_an_identical_subgroup_under_knha(tmp_path) -> None:  # type: ignore[no-untyped-def]
    sheet = tmp_path / "pas.csv"
    sheet.write_text("study,events,total,grp\nA,3,20,xxx\nB,7,25,xxx\nC,12,30,xxx\n"
                     "D,0,15,yyy\nE,0,22,yyy\nF,0,9,yyy\n", encoding="utf-8")
    args = ["pool", str(sheet), "--measure", "PAS", "--by", "grp", "--test", "knha"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert ("Test for subgroup differences (common tau²): F(1, 4) = 37.46, p = 0.0036; "
            "separate tau²: not computable (a subgroup has SE 0)") in result.stdout
    test = json.loads(CliRunner().invoke(cli, [*args, "--to", "json"]).stdout)
    assert test["subgroups"]["test"]["q_separate"] is None
    assert round(test["subgroups"]["test"]["q"], 2) == 37.46
