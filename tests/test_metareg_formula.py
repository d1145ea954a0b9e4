"""Meta-regression with formula moderators against metafor 3.8-1 (``rma(mods = ~ ...)``,
``predict(fit, newmods=)``, ``anova(fit, btt=)``): tests/reference/r2/f2_metareg.json."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from metareview.errors import OptionError
from metareview.formula import model_frame, parse_formula
from metareview.metareg import metareg

GOLD = json.loads((Path(__file__).parent / "reference/r2/f2_metareg.json").read_text())
CASES = GOLD["cases"]


def _fit(case):
    call = case["call"]
    formula = re.search(r"mods = (~[^,]+),", call).group(1)
    method = re.search(r'method="(\w+)"', call).group(1)
    test = re.search(r'test="(\w+)"', call).group(1)
    data = case["data"]
    cols = {k: v for k, v in data.items() if k not in ("study", "yi", "vi")}
    return metareg(data["yi"], data["vi"], formula, data=cols, method=method, test=test)


def _close(ours, gold, tol):
    assert ours == pytest.approx(gold, rel=tol["rel"], abs=tol["abs"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_formula_meta_regression_matches_metafor(case):
    fit, out, tol = _fit(case), case["outputs"], case["tolerance"]
    names = out["coef_names"]
    assert list(fit.coef_names) == names
    np.testing.assert_allclose(fit.frame.matrix, out["X"]["rows"])
    stat = "tval" if "tval" in out else "zval"
    for ours, key in ((fit.beta, "beta"), (fit.se, "se"), (fit.zval, stat),
                      (fit.pval, "pval"), (fit.ci_lb, "ci.lb"), (fit.ci_ub, "ci.ub")):
        _close(list(ours), [out[key][n] for n in names], tol)
    _close(np.array(fit.vb).ravel().tolist(), np.array(out["vb"]).ravel().tolist(), tol)
    for ours, key in ((fit.tau2, "tau2"), (fit.i2, "I2"), (fit.h2, "H2"), (fit.qe, "QE"),
                      (fit.qe_p, "QEp"), (fit.qm, "QM"), (fit.qm_p, "QMp"), (fit.r2, "R2")):
        _close(ours, out[key], tol)
    assert list(fit.qm_df) == out["QMdf"]
    if "dfs" in out:
        assert fit.ddf == out["dfs"]
    _close(fit.se_tau2, out["se.tau2"], tol)
    if "fitstats" in out:
        ll = fit.ll_reml if fit.method == "REML" else fit.ll_ml
        _close(ll, out["fitstats"]["logLik"], tol)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_predict_at_new_moderator_values_matches_metafor(case):
    fit, gold, tol = _fit(case), case["outputs"]["predict"], case["tolerance"]
    newdata = gold["newdata"]
    points = [dict(zip(newdata, values, strict=True)) for values in zip(*newdata.values(),
                                                                        strict=True)]
    np.testing.assert_allclose(fit.frame.rows(points), gold["newmods"]["rows"])
    pred = fit.predict(points)
    for key, ours in (("pred", pred.pred), ("se", pred.se), ("ci.lb", pred.ci_lb),
                      ("ci.ub", pred.ci_ub), ("pi.lb", pred.pi_lb), ("pi.ub", pred.pi_ub)):
        _close(list(ours), gold[key], tol)
    # the same points as a plain matrix give the same numbers
    assert fit.predict(gold["newmods"]["rows"]).pred == pytest.approx(pred.pred)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_wald_test_of_a_coefficient_subset_matches_anova_btt(case):
    fit, gold, tol = _fit(case), case["outputs"]["anova"], case["tolerance"]
    test = fit.wald_test(gold["btt_coefs"])
    _close(test.qm, gold["QM"], tol)
    _close(test.pval, gold["QMp"], tol)
    assert list(test.df) == gold["QMdf"]
    assert test.statistic == (f"QM({gold['m']})" if gold["QMdf"][1] is None
                              else f"F({gold['QMdf'][0]}, {gold['QMdf'][1]})")


def test_terms_follow_r_order_and_expand_stars():
    assert parse_formula("~ a * b + c") == (("a",), ("b",), ("c",), ("a", "b"))
    assert parse_formula("x:y + x") == (("x",), ("x", "y"))
    assert parse_formula("`risk of bias` + year") == (("risk of bias",), ("year",))
    assert len(parse_formula("a*b*c")) == 7


def test_factor_levels_sort_in_c_locale_order_and_code_interactions_first_fastest():
    frame = model_frame("d * e", {"d": ["b", "a", "c", "a"], "e": ["Y", "X", "X", "Y"]})
    assert frame.levels == {"d": ("a", "b", "c"), "e": ("X", "Y")}
    assert frame.coef_names == ("intrcpt", "db", "dc", "eY", "db:eY", "dc:eY")
    np.testing.assert_array_equal(frame.matrix[0], [1, 1, 0, 1, 1, 0])


def test_missing_moderator_values_leave_the_study_out_with_a_warning():
    with pytest.warns(Warning, match="omitted"):
        fit = metareg([0.1, 0.3, 0.2, 0.5, 0.4], [0.01] * 5, "x",
                      data={"x": [1, None, 3, 4, 5]}, method="DL")
    assert fit.k == 4


@pytest.mark.parametrize(("formula", "data", "message"), [
    ("dose +", {"dose": [1, 2]}, "without a term"),
    ("dose ^ 2", {"dose": [1, 2]}, "cannot read"),
    ("age", {"dose": [1, 2]}, "not in the sheet"),
    ("dose:region", {"dose": [1, 2], "region": ["a", "b"]}, "without the main effect"),
    ("region", {"region": ["a", "a"]}, "single value"),
])
def test_bad_formulas_are_option_errors_that_say_what_is_wrong(formula, data, message):
    with pytest.raises(OptionError, match=message):
        model_frame(formula, data)


def test_a_prediction_point_needs_every_moderator_and_known_levels():
    fit = metareg([0.1, 0.3, 0.2, 0.5, 0.4, 0.2], [0.01] * 6, "dose + region",
                  data={"dose": [1, 2, 3, 4, 5, 6], "region": list("abab" "ab")}, method="DL")
    with pytest.raises(OptionError, match="lacks region"):
        fit.predict([{"dose": 2}])
    with pytest.raises(OptionError, match="not a level"):
        fit.predict([{"dose": 2, "region": "z"}])
    assert math.isfinite(fit.predict([{"dose": 2, "region": "b"}]).pred[0])
