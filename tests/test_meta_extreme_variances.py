"""Sampling variances that differ by up to 1e12: every estimator against 60-digit references.

``tests/reference/tau2_exact.json`` is written by ``tests/reference/tau2_exact.py`` (mpmath,
explicit matrices, exact roots); see that script. The textbook trace formulas cancel to noise
(or below 0) at these ratios; the engine's pairwise forms must not.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import metareview
from metareview.errors import EstimationError, ReviewWarning
from metareview.meta import METHODS, Control, pool

REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "tau2_exact.json").read_text(encoding="utf-8")
)
CASES = {case["id"]: case for case in REFERENCE["cases"]}
FIELDS = ("tau2", "se_tau2", "estimate", "se", "q", "i2", "h2")

pytestmark = pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")


def converged(vi: list[float]) -> Control:
    """Fully converged settings; the Fisher-scoring threshold scaled to the smallest variance
    (an absolute 1e-12 is coarse next to a variance of 1e-12) and the PM search unbounded."""
    return Control(threshold=1e-12 * min(1.0, min(vi)), tol=1e-12, maxiter=10000, tau2_max=1e15)


def test_reference_covers_every_method_and_ratio() -> None:
    assert len(REFERENCE["cases"]) == 5 * 13 + 3
    assert REFERENCE["meta"]["dps"] == 60
    for case in REFERENCE["cases"]:
        assert set(case["fits"]) == set(METHODS)
    ratios = {round(math.log10(max(c["vi"]) / min(c["vi"]))) for c in REFERENCE["cases"]}
    assert ratios >= set(range(13))


@pytest.mark.parametrize("case_id", sorted(CASES))
@pytest.mark.parametrize("method", METHODS)
def test_matches_the_60_digit_reference(case_id: str, method: str) -> None:
    case = CASES[case_id]
    fit = pool(case["yi"], case["vi"], method=method, control=converged(case["vi"]))
    for name, text in case["fits"][method].items():
        if text is None:  # FE has no se(tau2)
            assert math.isnan(getattr(fit, name))
            continue
        assert getattr(fit, name) == pytest.approx(float(text), rel=1e-9, abs=1e-10), name


def test_issue_examples_at_default_settings() -> None:
    dl = metareview.pool([-6.06, -0.696], [1e-10, 1], method="DL")
    assert dl.tau2 == pytest.approx(13.88625, abs=5e-6)
    assert math.isfinite(dl.se_tau2) and dl.se_tau2 > 0
    reml = metareview.pool([-2.7, -917.7], [1e-6, 1e6], method="REML")
    assert reml.tau2 == 0
    pr = metareview.pool_proportions([0, 0, 0], [38, 72, 640668], measure="PR", method="REML")
    assert pr.tau2 == 0
    assert f"{pr.se_tau2:.3e}" == "5.951e-05"
    exact = CASES["issue_pr_zero_events"]["fits"]["REML"]
    assert pr.se_tau2 == pytest.approx(float(exact["se_tau2"]), rel=1e-12)


def test_boundary_maximum_is_reported_as_zero_at_default_settings() -> None:
    # metafor's stopping rule leaves tau2 ~ 2e-8 here, 4000 times the smallest variance,
    # which would make the SE of the estimate 65 times too large
    case = CASES["six_one_precise_1e10"]
    for method in ("REML", "ML"):
        fit = pool(case["yi"], case["vi"], method=method)
        exact = case["fits"][method]
        assert fit.tau2 == 0
        assert fit.se == pytest.approx(float(exact["se"]), rel=1e-9)


def test_large_tau2_converges_with_a_tiny_threshold() -> None:
    # tau2 ~ 4e5 cannot move by less than its rounding (6e-11): that counts as converged
    case = CASES["two_wide_1e4"]
    fit = pool(case["yi"], case["vi"], method="REML", control=Control.tight())
    assert fit.tau2 == pytest.approx(float(case["fits"]["REML"]["tau2"]), rel=1e-12)


# --- properties ----------------------------------------------------------------------------

wide = st.integers(min_value=2, max_value=8).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-5, 5, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.integers(-12, 2), min_size=k, max_size=k),  # log10 of the variances
    )
)


def _fit(y: Any, v: Any, method: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReviewWarning)
            return pool(y, v, method=method, control=converged(list(v)))
    except EstimationError as exc:  # PM above its search limit, as metafor
        assume(False)
        raise AssertionError from exc


@settings(max_examples=60, deadline=None)
@given(wide, st.sampled_from(METHODS), st.randoms(use_true_random=False))
def test_order_invariance_with_wide_variances(
    data: tuple[list[float], list[int]], method: str, rnd: Any
) -> None:
    y, exponents = data
    v = [10.0**e for e in exponents]
    order = list(range(len(y)))
    rnd.shuffle(order)
    a = _fit(y, v, method)
    b = _fit([y[i] for i in order], [v[i] for i in order], method)
    for name in ("estimate", "tau2", "se", "q"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), rel=1e-7, abs=1e-10), name


@settings(max_examples=60, deadline=None)
@given(wide, st.sampled_from(METHODS))
def test_traces_stay_positive_with_wide_variances(
    data: tuple[list[float], list[int]], method: str
) -> None:
    y, exponents = data
    fit = _fit(y, [10.0**e for e in exponents], method)
    assert fit.tau2 >= 0
    assert fit.vt > 0
    assert 0 <= fit.i2 < 100
    assert method == "FE" or (math.isfinite(fit.se_tau2) and fit.se_tau2 >= 0)


@settings(max_examples=40, deadline=None)
@given(wide, st.sampled_from(METHODS), st.floats(-100, 100), st.sampled_from([0.5, 4.0]))
def test_shift_and_scale_equivariance(
    data: tuple[list[float], list[int]], method: str, shift: float, scale: float
) -> None:
    y, exponents = data
    v = np.array([10.0**e for e in exponents])
    a = _fit(y, v, method)
    b = _fit(scale * np.asarray(y) + shift, scale**2 * v, method)
    assert b.estimate == pytest.approx(scale * a.estimate + shift, rel=1e-7, abs=1e-7)
    assert b.tau2 == pytest.approx(scale**2 * a.tau2, rel=1e-6, abs=1e-10)
