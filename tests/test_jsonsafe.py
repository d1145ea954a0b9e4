"""Every result's ``to_dict()`` is valid JSON: NaN and infinities become None."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np

from metareview.bias import regtest, trimfill
from metareview.effects import escalc
from metareview.jsonsafe import plain
from metareview.meta import pool
from metareview.sensitivity import leave_one_out
from metareview.subgroups import subgroup_analysis


def strict(value: object) -> object:
    """Round-trip through JSON that refuses NaN and Infinity."""
    return json.loads(json.dumps(value, allow_nan=False))


def test_plain_leaves() -> None:
    value = {"a": (np.float64("nan"), math.inf, -math.inf, np.float32(1.5)),
             "b": np.array([1.0, np.nan]), "c": np.int64(3), "d": np.bool_(True), "e": "x"}
    out = plain(value)
    assert out == {"a": [None, None, None, 1.5], "b": [1.0, None], "c": 3, "d": True, "e": "x"}
    assert type(out["c"]) is int and type(out["d"]) is bool
    assert strict(out) == out


def test_infinite_zval_becomes_none() -> None:
    # Knapp-Hartung with all residuals 0: metafor reports z = +Inf (meta.py, se = 0)
    fit = pool([0.5, 0.5, 0.5], [0.1, 0.2, 0.3], method="DL", test="knha")
    assert math.isinf(fit.zval)
    out = strict(fit.to_dict())
    assert isinstance(out, dict) and out["zval"] is None
    assert out["estimate"] == 0.5


def test_nan_fields_of_every_result_are_json_safe() -> None:
    yi = [0.1, 0.3, 0.2, 0.6, 0.4, float("nan")]
    vi = [0.02, 0.03, 0.05, 0.04, 0.01, 0.02]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        es = escalc("OR", ai=[1, 2, None], n1i=[10, 10, 10], ci=[2, 0, 3], n2i=[10, 10, 10])
        fit = pool(yi, vi, method="FE")  # se_tau2 is NaN for FE
        results = [es, fit, pool(yi, vi, method="DL").heterogeneity_ci(),
                   leave_one_out(yi[:5], vi[:5], method="DL"),
                   regtest(yi[:5], vi[:5]), trimfill(yi[:5], vi[:5]),
                   subgroup_analysis(yi[:5], vi[:5], ["a", "a", "b", "b", "b"])]
    assert math.isnan(fit.se_tau2)
    for result in results:
        strict(result.to_dict())
    assert strict(es.to_dict())["yi"][2] is None  # type: ignore[index]


def test_pool_report_is_json_safe() -> None:
    from pathlib import Path

    from metareview.poolrun import PoolOptions, run_pool
    from metareview.sheets.extraction import read_extraction

    table = read_extraction(Path(__file__).parent.parent / "data" / "extraction.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = run_pool(table, PoolOptions(method="FE", test="knha", leave_one_out=True,
                                             bias=True))
    out = strict(report.to_dict())
    assert isinstance(out, dict) and out["tau2_ci_lb"] is None  # no Q-profile CI for FE
