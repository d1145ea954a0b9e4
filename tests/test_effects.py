"""Effect sizes, back-transforms and proportion CIs against R (metafor 3.8-1 and base R).

Gold: tests/reference/gold.json (yi/vi of every case) and tests/reference/engine_extra.json
(written by engine_extra.R: escalc options, zero cells, transforms, binom.test/prop.test CIs).
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

import numpy as np
import pytest

from gold_cases import REFERENCE, case_id, cases, escalc_args, number
from metareview.effects import (
    MEASURES,
    back_transform,
    escalc,
    natural_scale,
    proportion_ci,
    transform_for,
)
from metareview.errors import InputError, OptionError, ReviewWarning

EXTRA = json.loads((REFERENCE / "engine_extra.json").read_text(encoding="utf-8"))


def _unique_escalc_cases() -> list[dict[str, Any]]:
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for case in cases():
        seen.setdefault((case["dataset"], case["variant"], case["measure"]), case)
    return list(seen.values())


def _array(values: list[Any]) -> np.ndarray:
    return np.array([number(v) for v in values])


@pytest.mark.parametrize("case", _unique_escalc_cases(), ids=case_id)
def test_escalc_matches_metafor_gold(case: dict[str, Any]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        es = escalc(case["measure"], **escalc_args(case))
    np.testing.assert_allclose(es.yi, _array(case["yi"]), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(es.vi, _array(case["vi"]), rtol=1e-10, atol=1e-14)
    messages = [str(w.message) for w in caught]
    if case["escalc_warnings"]:  # metafor: yi = +-Inf recoded to NA
        assert any("infinite or undefined effect size" in m for m in messages)
        assert len(es.dropped) == int(np.isnan(es.yi).sum())
    if case["measure"] == "PFT":
        assert any("Schwarzer" in m for m in messages)


def _parse_call(call: str) -> tuple[str, dict[str, Any]]:
    measure = re.search(r'measure="(\w+)"', call)
    assert measure
    args: dict[str, Any] = {}
    for name, values in re.findall(r"(\w+)=c\(([^)]*)\)", call):
        args[name] = [float(v) for v in values.split(",")]
    for name, value in re.findall(r'(to)="(\w+)"', call):
        args[name] = value
    for name, value in re.findall(r"(add|drop00)=([\w.]+)", call):
        args[name] = value == "TRUE" if name == "drop00" else float(value)
    return measure.group(1), args


ESCALC_EXTRA = [c for c in EXTRA["escalc"] if "error" not in c]
ESCALC_ERRORS = [c for c in EXTRA["escalc"] if "error" in c]


@pytest.mark.parametrize("case", ESCALC_EXTRA, ids=lambda c: c["call"])
def test_escalc_options_match_metafor(case: dict[str, Any]) -> None:
    measure, args = _parse_call(case["call"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        es = escalc(measure, **args)
    np.testing.assert_allclose(es.yi, _array(case["yi"]), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(es.vi, _array(case["vi"]), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("case", ESCALC_ERRORS, ids=lambda c: c["call"])
def test_escalc_refuses_what_metafor_refuses(case: dict[str, Any]) -> None:
    measure, args = _parse_call(case["call"])
    ours = {
        "One or more event counts are larger": "xi is larger than ni in study",
        "One or more counts are negative": "xi is negative in study 1 ",
    }
    words = next(w for start, w in ours.items() if case["error"].startswith(start))
    with pytest.raises(InputError, match=words):
        escalc(measure, **args)


def test_every_bad_study_is_listed() -> None:
    with pytest.raises(InputError) as info:
        escalc("PLO", xi=[3, 12, -1, 2.5, 4], ni=[10, 10, 10, 10, 0])
    text = str(info.value)
    assert "xi is larger than ni in studies 2, 5" in text
    assert "xi is negative in study 3" in text
    assert "xi is not a whole number in study 4" in text
    assert "ni is 0 in study 5" in text
    assert info.value.hint


def test_means_validation_lists_studies() -> None:
    with pytest.raises(InputError) as info:
        escalc(
            "ROM",
            m1i=[10, -1, 5],
            sd1i=[1, 1, 0],
            n1i=[10, 10, 10],
            m2i=[9, 9, 9],
            sd2i=[1, 1, 1],
            n2i=[10, 0, 10],
        )
    text = str(info.value)
    assert "a group size is 0 in study 2" in text
    assert "a standard deviation is <= 0 in study 3" in text
    assert "a mean is <= 0 (ROM needs positive means) in study 2" in text


def test_missing_counts_give_missing_effects_not_errors() -> None:
    # metafor: NA counts give NA yi/vi, and rma leaves the study out
    es = escalc("PLO", xi=[3, np.nan, 0], ni=[10, 12, np.nan])
    assert np.isnan(es.yi[1:]).all() and np.isfinite(es.yi[0])
    assert es.dropped == ((1, "missing input value"), (2, "missing input value"))
    means = escalc(
        "SMD", m1i=[1, np.nan], sd1i=[1, 1], n1i=[10, 10], m2i=[0, 0], sd2i=[1, 1], n2i=[10, 10]
    )
    assert np.isnan(means.yi[1]) and means.dropped == ((1, "missing input value"),)
    lower, upper = proportion_ci([np.nan, 2], [10, 10])
    assert np.isnan(lower[0]) and upper[1] > 0.2


def test_correction_is_described_in_words() -> None:
    es = escalc("PLO", xi=[0, 3, 10, 7], ni=[10, 12, 10, 20])
    assert es.correction == "0.5 added to every cell of studies with a zero cell (2 studies)"
    assert es.corrected.tolist() == [True, False, True, False]
    assert es.ni.tolist() == [10, 12, 10, 20]  # uncorrected sizes, for transf.ipft.hm
    none = escalc("PLO", xi=[1, 3], ni=[10, 12])
    assert none.correction == "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        assert escalc("PFT", xi=[0, 3], ni=[10, 12]).correction == "none"  # metafor: add=0
    assert "all studies" in escalc("PR", xi=[0, 3], ni=[10, 12], to="all").correction


def test_double_zero_kept_by_default_dropped_on_request() -> None:
    cells = {"ai": [0, 2], "bi": [10, 8], "ci": [0, 4], "di": [12, 6]}
    with pytest.warns(ReviewWarning, match="kept with the continuity correction"):
        kept = escalc("OR", **cells)
    assert np.isfinite(kept.yi).all()
    with pytest.warns(ReviewWarning, match="dropped"):
        dropped = escalc("OR", **cells, drop00=True)
    assert np.isnan(dropped.yi[0]) and dropped.dropped[0][0] == 0


def test_infinite_yi_becomes_missing_with_warning() -> None:
    with pytest.warns(ReviewWarning, match="infinite"):
        es = escalc("PLO", xi=[0, 3], ni=[10, 12], to="none")
    assert np.isnan(es.yi[0]) and es.dropped[0][0] == 0
    assert "zero cell" in es.dropped[0][1]


def test_generic_measure() -> None:
    es = escalc("GEN", yi=[0.1, 0.2, np.nan], sei=[0.1, 0.2, 0.3])
    np.testing.assert_allclose(es.vi[:2], [0.01, 0.04])
    assert es.dropped == ((2, "missing input value"),)
    with pytest.raises(OptionError, match="exactly one"):
        escalc("GEN", yi=[0.1], vi=[0.1], sei=[0.1])
    with pytest.raises(InputError, match="negative in study 2"):
        escalc("GEN", yi=[0.1, 0.2], vi=[0.1, -0.1])


def test_unknown_options() -> None:
    with pytest.raises(OptionError, match="measure"):
        escalc("XX", xi=[1], ni=[2])
    with pytest.raises(OptionError, match="to="):
        escalc("PR", xi=[1], ni=[2], to="some")
    with pytest.raises(OptionError, match="missing argument ni"):
        escalc("PR", xi=[1])
    with pytest.raises(InputError, match="has 1 values"):
        escalc("PR", xi=[1, 2], ni=[3])


def test_effect_sizes_to_dict() -> None:
    with pytest.warns(ReviewWarning, match="set to missing"):
        data = escalc("PLO", xi=[0, 3], ni=[10, 12], to="none").to_dict()
    assert data["yi"][0] is None and data["measure"] == "PLO"
    json.dumps(data)


# --- back-transforms -----------------------------------------------------------------------

TRANSFORMS = EXTRA["transforms"]


@pytest.mark.parametrize(
    ("measure", "key"), [("PLO", "ilogit"), ("PAS", "iarcsin"), ("PFT", "ipft_hm"), ("OR", "exp")]
)
def test_back_transforms_match_metafor(measure: str, key: str) -> None:
    ours = back_transform(measure, TRANSFORMS["values"], ni=TRANSFORMS["ni"])
    np.testing.assert_allclose(ours, TRANSFORMS[key], rtol=1e-12, atol=1e-15)


def test_identity_and_labels() -> None:
    assert back_transform("PR", [1.05]).tolist() == [1.05]  # PR is not clamped (metafor)
    assert transform_for("RD")(np.array([-0.2])).tolist() == [-0.2]
    assert natural_scale("PLO") == "proportion" and natural_scale("OR") == "odds ratio"
    assert {natural_scale(m) for m in MEASURES} >= {"proportion", "risk ratio", "mean difference"}
    with pytest.raises(OptionError, match="ni"):
        transform_for("PFT")


# --- proportion CIs ------------------------------------------------------------------------

CI = EXTRA["proportion_ci"]


@pytest.mark.parametrize(
    ("method", "level", "prefix"),
    [("cp", 95, "cp"), ("cp", 90, "cp90"), ("wilson", 95, "wilson"), ("wald", 95, "wald")],
)
def test_proportion_ci_matches_r(method: str, level: float, prefix: str) -> None:
    lower, upper = proportion_ci(CI["x"], CI["n"], method=method, level=level)
    expected_lb = np.array(CI[f"{prefix}_lb"])
    expected_ub = np.array(CI[f"{prefix}_ub"])
    if method == "wald":  # R's raw formula; ours is clipped to [0, 1]
        expected_lb, expected_ub = np.clip(expected_lb, 0, 1), np.clip(expected_ub, 0, 1)
    np.testing.assert_allclose(lower, expected_lb, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(upper, expected_ub, rtol=1e-9, atol=1e-12)


def test_proportion_ci_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="study 2"):
        proportion_ci([1, 5], [4, 4])
    with pytest.raises(OptionError, match="method"):
        proportion_ci([1], [4], method="agresti")
    with pytest.raises(OptionError, match="level"):
        proportion_ci([1], [4], level=150)
    assert proportion_ci([1], [4], level=0.95) == proportion_ci([1], [4], level=95)
