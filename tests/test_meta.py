"""The pooling engine against R metafor 3.8-1 (tests/reference/gold.json), plus properties.

Tolerances follow tests/reference/README.md. Every estimator is held to 1e-6 relative against
metafor's default fit, because the iterations are metafor's own (Fisher scoring from the HE
value with step halving and |change| < 1e-5; Brent's root finder, as R's uniroot, with
tol 1.2e-4 for PM and the Q-profile bounds), and again at 1e-6 against the fully converged
``fit_tight`` and ``confint_tight``.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gold_cases import (
    CONFINT_FIELDS,
    FIT_FIELDS,
    PRED_FIELDS,
    REFERENCE,
    case_id,
    cases,
    close,
    escalc_args,
    number,
)
from metareview.effects import EffectSizes, back_transform, escalc
from metareview.errors import EstimationError, InputError, OptionError, ReviewWarning
from metareview.meta import (
    METHODS,
    Control,
    PoolResult,
    pool,
    pool_effects,
    pool_proportions,
)

CASES = cases()
FIT_CASES = [c for c in CASES if "error" not in c]
TIGHT_CASES = [c for c in FIT_CASES if "fit_tight" in c]
CONFINT_CASES = [c for c in FIT_CASES if "confint_tight" in c]
ERROR_CASES = [c for c in CASES if "error" in c]

# metafor warning text -> words our ReviewWarning uses for the same event
WARNING_WORDS = {
    "Setting argument test": "since k = 1",
    "Knapp & Hartung": "Knapp & Hartung",
    "Studies with NAs omitted": "left out of the model",
    "There are outcomes with non-positive sampling variances": "non-positive sampling variances",
    "Cannot compute Q-test": "Cannot compute Q-test",
}


def _effects(case: dict[str, Any]) -> EffectSizes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        return escalc(case["measure"], **escalc_args(case))


def _fit(case: dict[str, Any], control: Control | None = None) -> tuple[PoolResult, list[str]]:
    es = _effects(case)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = pool_effects(es, method=case["method"], test=case["test"], control=control)
    return fit, [str(w.message) for w in caught if issubclass(w.category, ReviewWarning)]


def _compare(fit: PoolResult, gold: dict[str, Any], pred: dict[str, Any], rel: float, floor: float):
    bad = []
    for key, attr in FIT_FIELDS.items():
        if key in ("pval", "QMp", "QEp") and number(gold[key]) < 1e-50:
            continue  # compare the statistic instead (README)
        if not close(getattr(fit, attr), gold[key], rel, floor):
            bad.append(f"{key}: ours {getattr(fit, attr)!r} metafor {gold[key]!r}")
    weights = np.asarray(gold["weights_pct"], dtype=float)
    if not np.allclose(fit.weights, weights, rtol=rel, atol=floor):
        bad.append(f"weights: ours {fit.weights} metafor {weights}")
    ours = fit.predict()
    for key, attr in PRED_FIELDS.items():
        if not close(getattr(ours, attr), pred[key], rel, floor):
            bad.append(f"pred {key}: ours {getattr(ours, attr)!r} metafor {pred[key]!r}")
    return bad


@pytest.mark.parametrize("case", FIT_CASES, ids=case_id)
def test_fit_matches_metafor_default(case: dict[str, Any]) -> None:
    fit, issued = _fit(case)
    gold = case["fit"]
    assert (fit.method, fit.test) == (gold["method"], gold["test"])
    assert _compare(fit, gold, case["pred"], 1e-6, 1e-10) == []
    for text in case["warnings"]:
        words = next(w for key, w in WARNING_WORDS.items() if text.startswith(key))
        assert any(words in message for message in issued), (text, issued)
    if not case["warnings"]:
        assert issued == [] or case["measure"] == "PFT"


@pytest.mark.parametrize("case", TIGHT_CASES, ids=case_id)
def test_fit_matches_metafor_converged(case: dict[str, Any]) -> None:
    fit, _ = _fit(case, Control.tight())
    tight = case["fit_tight"]
    assert _compare(fit, tight, tight["pred"], 1e-6, 1e-8) == []


@pytest.mark.parametrize("case", ERROR_CASES, ids=case_id)
def test_refuses_where_metafor_refuses(case: dict[str, Any]) -> None:
    es = _effects(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        with pytest.raises(EstimationError) as info:
            pool_effects(es, method=case["method"], test=case["test"])
    assert info.value.message == case["error"]  # metafor's words, full stop and all
    assert "PLO" in (info.value.hint or "")


@pytest.mark.parametrize("case", CONFINT_CASES, ids=case_id)
def test_qprofile_matches_metafor_confint(case: dict[str, Any]) -> None:
    fit, _ = _fit(case)
    gold = case["confint_tight"]
    if "error" in gold:
        with pytest.raises(EstimationError) as info:
            fit.heterogeneity_ci(tol=1e-12)
        assert info.value.message == gold["error"]
        return
    ci = fit.heterogeneity_ci(tol=1e-12)
    for key, attr in CONFINT_FIELDS.items():
        ours = getattr(ci, attr)
        assert close(ours.estimate, gold[key]["estimate"], 1e-6, 1e-10), key
        assert close(ours.ci_lb, gold[key]["ci.lb"], 1e-6, 1e-8), (key, ours, gold[key])
        assert close(ours.ci_ub, gold[key]["ci.ub"], 1e-6, 1e-8), (key, ours, gold[key])


@pytest.mark.parametrize("case", CONFINT_CASES, ids=case_id)
def test_qprofile_default_tolerance_matches_metafor(case: dict[str, Any]) -> None:
    # metafor's default tol (1.2e-4) leaves the bounds up to 3e-5 off; ours stop at the same place
    fit, _ = _fit(case)
    gold = case["confint"]
    if "error" in gold:
        with pytest.raises(EstimationError) as info:
            fit.confint()
        assert info.value.message == gold["error"]
        return
    ci = fit.confint()
    for key, attr in CONFINT_FIELDS.items():
        ours = getattr(ci, attr)
        assert close(ours.ci_lb, gold[key]["ci.lb"], 1e-6, 1e-10), (key, ours, gold[key])
        assert close(ours.ci_ub, gold[key]["ci.ub"], 1e-6, 1e-10), (key, ours, gold[key])


SWEEP = json.loads((REFERENCE / "engine_sweep.json").read_text(encoding="utf-8"))
# the fields the sweep stored (engine_sweep.R), named as in the other gold files
SWEEP_FIELDS = {key: attr for key, attr in FIT_FIELDS.items() if key in SWEEP["fits"][0]}


@pytest.mark.parametrize(
    "entry",
    SWEEP["fits"],
    ids=lambda e: f"set{e['set']}-{e['method']}-{e['test']}-{e['control']}",
)
def test_random_sweep_matches_metafor(entry: dict[str, Any]) -> None:
    data = SWEEP["sets"][entry["set"] - 1]
    control = Control.tight() if entry["control"] == "tight" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        fit = pool(
            data["yi"], data["vi"], method=entry["method"], test=entry["test"], control=control
        )
    rel, floor = 1e-6, 1e-8
    for key, attr in SWEEP_FIELDS.items():
        if key in ("pval", "QEp") and number(entry[key]) < 1e-50:
            continue
        assert close(getattr(fit, attr), entry[key], rel, floor), (
            key,
            getattr(fit, attr),
            entry[key],
        )
    if entry.get("tau2_ci"):
        ci = fit.heterogeneity_ci(tol=1e-12)
        for ours, theirs in zip(
            (ci.tau2.ci_lb, ci.tau2.ci_ub, ci.i2.ci_lb, ci.i2.ci_ub),
            (*entry["tau2_ci"], *entry["I2_ci"]),
            strict=True,
        ):
            assert close(ours, theirs, 1e-6, 1e-8), (ours, theirs)


def test_case_counts_cover_gold() -> None:
    assert len(CASES) == 612
    assert len(ERROR_CASES) == 16  # FE, DL, PM, HS x z, knha on PR and PLN without correction
    assert {c["method"] for c in CASES} == set(METHODS)


# --- behaviour -----------------------------------------------------------------------------

PRITZ_X = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
PRITZ_N = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]


@pytest.mark.parametrize("module", ["metareview.effects", "metareview.meta"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_pritz_reml_plo_worked_example() -> None:
    # metafor: rma(yi, vi, data=escalc("PLO", xi, ni, data=dat.pritz1997))
    fit = pool_proportions(PRITZ_X, PRITZ_N, measure="PLO", method="REML")
    assert fit.estimate == pytest.approx(1.13890913697784, rel=1e-6)
    assert fit.tau2 == pytest.approx(0.364587846483998, rel=1e-6)
    assert fit.q == pytest.approx(29.7854164602581, rel=1e-9)
    assert "2 studies" in fit.correction
    text = str(fit)
    assert "REML" in text and "restricted maximum likelihood" in text
    assert "Q(df = 13) = 29.7854" in text
    assert "0.7575" in text  # back-transformed proportion
    assert "pooled CI: Wald-type z test and CI (95%)" in text


def test_str_names_knha_and_fe() -> None:
    fe = pool_proportions(PRITZ_X, PRITZ_N, method="FE")
    assert "Fixed (common) effect" in str(fe) and "pi.lb" not in str(fe)
    kh = pool_proportions(PRITZ_X, PRITZ_N, method="DL", test="knha")
    assert "Knapp-Hartung" in str(kh) and "tval" in str(kh)


def test_adhoc_never_narrower_than_z() -> None:
    es = escalc("PLO", xi=PRITZ_X, ni=PRITZ_N)
    z = pool_effects(es, method="SJ")
    knha = pool_effects(es, method="SJ", test="knha")
    adhoc = pool_effects(es, method="SJ", test="adhoc")
    assert knha.s2w == pytest.approx(0.79205, abs=1e-5)  # plain knha shrinks the SE here
    assert adhoc.s2w == 1.0
    assert adhoc.se == pytest.approx(z.se)
    assert adhoc.ci_ub - adhoc.ci_lb > z.ci_ub - z.ci_lb  # t quantile > z quantile


def test_knha_with_identical_estimates() -> None:
    # metafor 3.8-1: rma(c(.5, .5, .5), c(.1, .2, .3), test="knha", method="DL") gives
    # se 0, zval Inf, pval 0, CI [0.5, 0.5], s2w 0, QM NA (see engine_extra.R)
    fit = pool([0.5, 0.5, 0.5], [0.1, 0.2, 0.3], method="DL", test="knha")
    assert (fit.se, fit.zval, fit.pval, fit.s2w) == (0.0, math.inf, 0.0, 0.0)
    assert (fit.ci_lb, fit.ci_ub, fit.pi_lb, fit.pi_ub) == (0.5, 0.5, 0.5, 0.5)
    assert math.isnan(fit.qm) and math.isnan(fit.qm_p)


def test_k1_switches_to_z_with_warning() -> None:
    with pytest.warns(ReviewWarning, match="since k = 1"):
        fit = pool([0.3], [0.04], method="REML", test="knha")
    assert fit.test == "z" and fit.tau2 == 0 and fit.i2 == 0 and fit.h2 == 1
    assert 'Warnings:\n  Setting test="z" since k = 1.' in str(fit)
    assert fit.q == 0 and fit.q_p == 1
    with pytest.raises(EstimationError, match="k = 1"):
        fit.confint()


def test_missing_studies_are_left_out_with_labels() -> None:
    with pytest.warns(ReviewWarning, match="B"):
        fit = pool([0.1, math.nan, 0.3, 0.2], [0.01, 0.02, 0.03, 0.02], labels=["A", "B", "C", "D"])
    assert fit.k == 3 and fit.labels == ("A", "C", "D") and fit.omitted == ("B",)
    assert fit.weights.sum() == pytest.approx(100)


def test_no_studies_left_is_an_estimation_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        with pytest.raises(EstimationError, match="k = 0"):
            pool([math.nan], [0.1])


def test_bad_arguments() -> None:
    with pytest.raises(OptionError, match="method"):
        pool([0.1, 0.2], [0.01, 0.01], method="XYZ")
    with pytest.raises(OptionError, match="test"):
        pool([0.1, 0.2], [0.01, 0.01], test="t")
    with pytest.raises(InputError, match="same length"):
        pool([0.1, 0.2], [0.01])
    with pytest.raises(InputError, match="labels"):
        pool([0.1, 0.2], [0.01, 0.01], labels=["a"])
    with pytest.raises(OptionError, match="unknown control"):
        pool([0.1, 0.2], [0.01, 0.01], control={"tolerance": 1})
    with pytest.raises(InputError, match="infinite"):
        pool([0.1, math.inf], [0.01, 0.01])


def test_fisher_scoring_non_convergence_is_reported() -> None:
    es = escalc("PLO", xi=PRITZ_X, ni=PRITZ_N)
    with pytest.raises(EstimationError, match="did not converge") as info:
        pool_effects(es, method="REML", control={"maxiter": 1, "threshold": 1e-15})
    assert "maxiter" in (info.value.hint or "")


def test_pm_needs_room_to_search() -> None:
    es = escalc("PLO", xi=PRITZ_X, ni=PRITZ_N)
    with pytest.raises(EstimationError, match="tau2_max"):
        pool_effects(es, method="PM", control={"tau2_max": 0.01})
    with pytest.raises(EstimationError, match="tau2_max"):
        pool_effects(es, method="PM", control={"tau2.max": 0.01})  # metafor's spelling


def test_control_tightens_towards_converged_value() -> None:
    es = escalc("PLO", xi=PRITZ_X, ni=PRITZ_N)
    loose = pool_effects(es, method="ML")
    tight = pool_effects(es, method="ML", control=Control.tight())
    assert tight.iterations > loose.iterations
    assert abs(tight.tau2 - loose.tau2) < 1e-5


def test_results_do_not_share_or_expose_writable_arrays() -> None:
    y = np.array([0.1, 0.4, 0.3])
    fit = pool(y, [0.01, 0.02, 0.03])
    y[0] = 99.0  # the caller's array changes later ...
    assert fit.yi[0] == 0.1  # ... the result does not
    with pytest.raises(ValueError, match="read-only"):
        fit.weights[0] = 1.0
    es = escalc("GEN", yi=y, vi=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="read-only"):
        es.yi[0] = 0.0


def test_to_dict_is_plain_json() -> None:
    fit = pool_proportions(PRITZ_X, PRITZ_N, method="FE")
    data = json.loads(json.dumps(fit.to_dict()))
    assert data["pi_lb"] is None and data["method"] == "FE"
    assert len(data["weights"]) == 14
    assert data["control"]["threshold"] == 1e-5
    pred = fit.predict().to_dict()
    assert pred["scale"] == "proportion" and pred["se"] is None


def test_predict_untransformed_keeps_se() -> None:
    fit = pool_proportions(PRITZ_X, PRITZ_N, measure="PLO", method="DL")
    raw = fit.predict(transform=False)
    assert raw.se == fit.se and raw.pred == fit.estimate and not raw.transformed
    assert raw.scale == "logit proportion"
    assert fit.confidence_interval() == (fit.ci_lb, fit.ci_ub)


def test_pft_predict_needs_ni() -> None:
    es = escalc("PAS", xi=PRITZ_X, ni=PRITZ_N)
    fit = pool(es.yi, es.vi, measure="PFT")
    with pytest.raises(OptionError, match="ni"):
        fit.predict()


def test_heterogeneity_ci_str_and_dict() -> None:
    fit = pool_proportions(PRITZ_X, PRITZ_N, method="REML")
    ci = fit.heterogeneity_ci()
    assert ci.tau2.ci_lb < fit.tau2 < ci.tau2.ci_ub
    assert "I^2(%)" in str(ci)
    assert ci.to_dict()["i2"]["estimate"] == pytest.approx(fit.i2)
    with pytest.raises(EstimationError, match="random-effects component"):
        pool_proportions(PRITZ_X, PRITZ_N, method="FE").confint()


# --- properties ----------------------------------------------------------------------------

studies = st.integers(min_value=2, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.005, 2, allow_nan=False), min_size=k, max_size=k),
    )
)
methods = st.sampled_from(METHODS)


def _pool_or_reject(y: list[float], v: list[float], **options: Any) -> PoolResult:
    # Fisher scoring can fail on odd data exactly as in metafor (e.g. EB on
    # y = 0,0,0,0,0,0,1,0,1 with v = 1,1,1,1,1,1,.125,.0625,.125 fails in R too)
    try:
        return pool(y, v, **options)
    except EstimationError as exc:
        assert "did not converge" in str(exc)
        assume(False)
        raise


@settings(max_examples=60, deadline=None)
@given(studies, methods)
def test_tau2_nonnegative_and_i2_in_range(
    data: tuple[list[float], list[float]], method: str
) -> None:
    y, v = data
    fit = _pool_or_reject(y, v, method=method)
    assert fit.tau2 >= 0
    assert 0 <= fit.i2 < 100
    assert fit.h2 >= 1 or method == "FE"


@settings(max_examples=40, deadline=None)
@given(studies, methods, st.randoms(use_true_random=False))
def test_order_invariance(data: tuple[list[float], list[float]], method: str, rnd: Any) -> None:
    y, v = data
    order = list(range(len(y)))
    rnd.shuffle(order)
    a = _pool_or_reject(y, v, method=method, control=Control.tight())
    b = _pool_or_reject(
        [y[i] for i in order], [v[i] for i in order], method=method, control=Control.tight()
    )
    assert b.estimate == pytest.approx(a.estimate, rel=1e-6, abs=1e-9)
    assert b.tau2 == pytest.approx(a.tau2, rel=1e-5, abs=1e-8)


# Homogeneous studies: y_i = mu + z_i * sqrt(v_i) with |z_i| <= 1/2 keeps
# Q <= k/4 < k - 1, so every estimator that truncates at zero gives tau2 = 0.
# Drawing from ``studies`` instead made tau2 = 0 so rare that Hypothesis'
# filter_too_much health check failed the test on some seeds.  SJ is left out:
# its estimate is positive whenever the effects differ (never truncated).
homogeneous = st.integers(min_value=2, max_value=12).flatmap(
    lambda k: st.tuples(
        st.floats(-3, 3),
        st.lists(st.floats(-0.5, 0.5), min_size=k, max_size=k),
        st.lists(st.floats(0.005, 2), min_size=k, max_size=k),
    ).map(lambda t: ([t[0] + z * math.sqrt(v) for z, v in zip(t[1], t[2], strict=True)], t[2]))
)


@settings(max_examples=40, deadline=None)
@given(homogeneous, st.sampled_from([m for m in METHODS if m != "SJ"]))
def test_fe_equals_re_when_tau2_is_zero(data: tuple[list[float], list[float]], method: str) -> None:
    y, v = data
    re_fit = _pool_or_reject(y, v, method=method)
    assume(re_fit.tau2 == 0)
    fe = pool(y, v, method="FE")
    assert re_fit.estimate == pytest.approx(fe.estimate, rel=1e-12, abs=1e-12)
    assert re_fit.se == pytest.approx(fe.se, rel=1e-12)


counts = st.integers(min_value=1, max_value=10).flatmap(
    lambda k: st.lists(
        st.integers(1, 200).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
        min_size=k,
        max_size=k,
    )
)


@settings(max_examples=60, deadline=None)
@given(counts, st.sampled_from(["PR", "PLN", "PLO", "PAS", "PFT"]), methods)
def test_back_transformed_ci_contains_estimate(
    data: list[tuple[int, int]], measure: str, method: str
) -> None:
    x, n = zip(*data, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        es = escalc(measure, xi=x, ni=n)
        try:
            fit = pool_effects(es, method=method)
        except EstimationError as exc:  # zero variances (PR/PAS) or non-convergence, as metafor
            assume(False)
            raise AssertionError from exc
    p = fit.predict()
    assert p.ci_lb <= p.pred <= p.ci_ub
    if measure in ("PLO", "PAS", "PFT"):
        assert p.ci_lb >= 0 and p.ci_ub <= 1


@settings(max_examples=60, deadline=None)
@given(counts, methods)
def test_pr_estimate_within_study_range(data: list[tuple[int, int]], method: str) -> None:
    x, n = zip(*data, strict=True)
    es = escalc("PR", xi=x, ni=n)
    fit = _pool_or_reject(es.yi.tolist(), es.vi.tolist(), method=method)
    assert es.yi.min() - 1e-12 <= fit.estimate <= es.yi.max() + 1e-12
    assert back_transform("PR", fit.estimate) == pytest.approx(fit.estimate)


@pytest.mark.parametrize("method", ["REML", "ML", "EB", "HE"])
def test_zero_variance_with_tau2_at_zero_is_refused_as_metafor(method: str) -> None:
    # metafor 3.8-1: rma(c(0, -0.1), c(0.01, 0), method=m) stops with this message for
    # REML, ML, EB and HE (tau2 is 0, so the study with v = 0 gets infinite weight) ...
    with pytest.warns(ReviewWarning), pytest.raises(EstimationError, match="Division by zero"):
        pool([0.0, -0.1], [0.01, 0.0], method=method)


def test_zero_variance_with_positive_tau2_fits_as_metafor() -> None:
    # ... while SJ's tau2 is positive: metafor gives b = -0.0875, tau2 = 0.001666667
    with pytest.warns(ReviewWarning):
        fit = pool([0.0, -0.1], [0.01, 0.0], method="SJ")
    assert math.isclose(fit.estimate, -0.0875, rel_tol=1e-9)
    assert math.isclose(fit.tau2, 0.1**2 / 6, rel_tol=1e-9)
