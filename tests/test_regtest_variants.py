"""Egger-type regression tests as metafor's regtest() and R meta run them: default mixed-effects
model, classic Egger (model="lm"), the Peters-type predictor 1/sqrt(n), FE and Knapp-Hartung
fits. Gold: tests/reference/r2/f6_regtest.json (metafor 3.8-1; see PROVENANCE.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metareview.bias import PREDICTORS, regtest
from metareview.errors import EstimationError, OptionError

GOLD = json.loads((Path(__file__).parent / "reference" / "r2" / "f6_regtest.json")
                  .read_text(encoding="utf-8"))
# the variants of lib/f6_regtest.R, by the tag that ends each case id
VARIANTS = {
    "rma_sei": {"model": "rma", "predictor": "sei", "method": "REML", "test": "z"},
    "lm_sei": {"model": "lm", "predictor": "sei", "method": "REML", "test": "z"},
    "rma_sqrtninv": {"model": "rma", "predictor": "sqrtninv", "method": "REML", "test": "z"},
    "lm_sqrtninv": {"model": "lm", "predictor": "sqrtninv", "method": "REML", "test": "z"},
    "fe_sei": {"model": "rma", "predictor": "sei", "method": "FE", "test": "z"},
    "fe_sqrtninv": {"model": "rma", "predictor": "sqrtninv", "method": "FE", "test": "z"},
    "knha_sei": {"model": "rma", "predictor": "sei", "method": "REML", "test": "knha"},
}

pytestmark = pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")


def variant(case: dict[str, Any]) -> dict[str, str]:
    tag = next(t for t in VARIANTS if case["id"].endswith("_" + t))
    return VARIANTS[tag]


def run(case: dict[str, Any]) -> Any:
    data = case["data"]
    return regtest(data["yi"], data["vi"], ni=data.get("ni"), **variant(case))


def test_gold_covers_every_variant() -> None:
    assert GOLD["n_cases"] == len(GOLD["cases"]) == 35
    assert {variant(c)["model"] for c in GOLD["cases"]} == {"rma", "lm"}
    assert sum("error" in c for c in GOLD["cases"]) == 3


@pytest.mark.parametrize("case", [c for c in GOLD["cases"] if "error" not in c],
                         ids=lambda c: c["id"])
def test_matches_metafor(case: dict[str, Any]) -> None:
    gold, tol = case["outputs"], case["tolerance"]
    rt = run(case)

    def check(ours: float, theirs: float, what: str) -> None:
        assert ours == pytest.approx(theirs, rel=tol["rel"], abs=tol["abs"]), what

    check(rt.zval, gold["tval"] if "tval" in gold else gold["zval"], "statistic")
    check(rt.pval, gold["pval"], "pval")
    assert rt.ddf == gold.get("dfs")
    check(rt.limit_estimate, gold["est"], "est")
    check(rt.limit_ci_lb, gold["ci.lb"], "ci.lb")
    check(rt.limit_ci_ub, gold["ci.ub"], "ci.ub")
    names = ("intrcpt", gold["predictor"])
    for i, name in enumerate(names):
        check(rt.coef[i], gold["reg_fit"]["coef"][name], f"coef {name}")
        check(rt.coef_se[i], gold["reg_fit"]["se"][name], f"se {name}")
    assert (rt.regression, rt.predictor) == (gold["model"], gold["predictor"])
    if gold["model"] == "lm":
        assert rt.model is None and rt.test == "t"
        check(rt.sigma, gold["reg_fit"]["sigma"], "sigma")
    else:
        assert rt.model is not None and rt.method == gold["reg_fit"]["method"]
        check(rt.model.tau2, gold["reg_fit"]["tau2"], "tau2")
    if "outputs_tight" in case:  # metafor's default stopping rule is this close to converged
        tight = case["outputs_tight"]
        assert rt.limit_estimate == pytest.approx(tight["est"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("case", [c for c in GOLD["cases"] if "error" in c],
                         ids=lambda c: c["id"])
def test_refuses_where_metafor_refuses(case: dict[str, Any]) -> None:
    with pytest.raises(EstimationError, match="No sample size information") as info:
        run(case)
    assert case["error"] in info.value.message
    assert "ni" in (info.value.hint or "")


def test_printout_names_model_and_predictor() -> None:
    case = next(c for c in GOLD["cases"] if c["id"] == "f6_bcg_lm_sqrtninv")
    text = str(run(case))
    assert "Model: classic Egger test, weighted least squares, predictor: 1/sqrt(n)" in text
    assert "t = -2.6260, df = 11" in text  # metafor: t = -2.6260, df = 11
    assert run(case).to_dict()["model"] is None


def test_bad_choices_are_option_errors() -> None:
    with pytest.raises(OptionError, match="unknown regression model"):
        regtest([0.1, 0.2, 0.4], [0.01, 0.02, 0.03], model="glm")
    with pytest.raises(OptionError, match="unknown predictor"):
        regtest([0.1, 0.2, 0.4], [0.01, 0.02, 0.03], predictor="ni")
    with pytest.raises(EstimationError, match="too few studies"):
        regtest([0.1, 0.2], [0.01, 0.02], model="lm")
    with pytest.raises(EstimationError, match="does not vary"):
        regtest([0.1, 0.2, 0.4], [0.01, 0.02, 0.03], predictor="sqrtninv", ni=[50, 50, 50])


def test_lm_equals_egger_regression_of_standardised_effects() -> None:
    # Egger et al. (1997): y/se on 1/se by ordinary least squares; its intercept is the
    # slope on se here, with the same t statistic
    case = next(c for c in GOLD["cases"] if c["id"] == "f6_molloy2014_lm_sei")
    y, v = np.array(case["data"]["yi"]), np.array(case["data"]["vi"])
    se = np.sqrt(v)
    X = np.column_stack([np.ones(y.size), 1 / se])
    z = y / se
    beta, rss, *_ = np.linalg.lstsq(X, z, rcond=None)
    cov = rss[0] / (y.size - 2) * np.linalg.inv(X.T @ X)
    rt = regtest(y, v, model="lm")
    assert rt.zval == pytest.approx(beta[0] / math.sqrt(cov[0, 0]), rel=1e-10)
    assert rt.limit_estimate == pytest.approx(beta[1], rel=1e-10)


studies = st.integers(min_value=4, max_value=15).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-2, 2, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1, allow_nan=False), min_size=k, max_size=k, unique=True),
        st.lists(st.integers(10, 5000), min_size=k, max_size=k, unique=True),
    )
)


@settings(max_examples=40, deadline=None)
@given(studies, st.sampled_from(["rma", "lm"]), st.sampled_from(sorted(PREDICTORS)),
       st.randoms(use_true_random=False))
def test_order_invariance(data: Any, model: str, predictor: str, rnd: Any) -> None:
    y, v, n = data
    assume(np.ptp(y) > 1e-3)  # identical effects: a perfect fit, t = 0/0
    order = list(range(len(y)))
    rnd.shuffle(order)
    a = regtest(y, v, ni=n, model=model, predictor=predictor, method="DL")
    b = regtest([y[i] for i in order], [v[i] for i in order], ni=[n[i] for i in order],
                model=model, predictor=predictor, method="DL")
    assert b.zval == pytest.approx(a.zval, rel=1e-6, abs=1e-9)
    assert b.limit_estimate == pytest.approx(a.limit_estimate, rel=1e-6, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(studies, st.floats(-10, 10))
def test_lm_slope_test_is_shift_invariant(data: Any, shift: float) -> None:
    # adding a constant to every effect moves the limit estimate, not the asymmetry test
    y, v, _ = data
    assume(np.ptp(y) > 1e-3)
    a = regtest(y, v, model="lm")
    b = regtest(np.asarray(y) + shift, v, model="lm")
    assert b.zval == pytest.approx(a.zval, rel=1e-6, abs=1e-8)
    assert b.limit_estimate == pytest.approx(a.limit_estimate + shift, rel=1e-9, abs=1e-9)
