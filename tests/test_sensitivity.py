"""Leave-one-out and cumulative meta-analysis against metafor 3.8-1.

Gold: ``leave1out`` in tests/reference/gold.json and ``cumul`` in extras_gold.json (see the
README there). DL is closed form and REML copies metafor's Fisher scoring, so both are held to
1e-6 relative (absolute floor 1e-10 for values that are 0).
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest

from gold_cases import REFERENCE, close, dataset, gold
from metareview.effects import EffectSizes, escalc
from metareview.errors import EstimationError, InputError, OptionError, ReviewWarning
from metareview.meta import pool
from metareview.sensitivity import SensitivityTable, cumulative, leave_one_out

COLUMNS = {
    "estimate": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci.lb": "ci_lb",
    "ci.ub": "ci_ub",
    "Q": "q",
    "Qp": "q_p",
    "tau2": "tau2",
    "I2": "i2",
    "H2": "h2",
}

with open(REFERENCE / "extras_gold.json", encoding="utf-8") as _fh:
    CUMUL = json.load(_fh)["cumul"]


def _es(name: str) -> EffectSizes:
    data = dataset(name)
    if name == "bcg":
        return escalc("RR", ai=data["ai"], bi=data["bi"], ci=data["ci"], di=data["di"])
    return escalc("PLO", xi=data["xi"], ni=data["ni"])


def _mismatches(table: SensitivityTable, case: dict[str, Any]) -> list[str]:
    bad = []
    for theirs, ours in COLUMNS.items():
        for j, (a, b) in enumerate(zip(getattr(table, ours), case[theirs], strict=True)):
            if not close(a, b, 1e-6, 1e-10):
                bad.append(f"{ours}[{j}]: {a!r} vs {b!r}")
    return bad


def _id(case: dict[str, Any]) -> str:
    return "-".join((case["dataset"], case["method"], case["test"]))


@pytest.mark.parametrize("case", gold()["leave1out"], ids=_id)
def test_leave_one_out_matches_metafor(case: dict[str, Any]) -> None:
    es = _es(case["dataset"])
    names = dataset(case["dataset"])["study"]
    options = {"labels": names, "ni": es.ni, "method": case["method"], "test": case["test"],
               "measure": "PLO"}
    if "error" in case:
        with pytest.raises(EstimationError) as info:
            leave_one_out(es.yi, es.vi, **options)
        assert info.value.message == case["error"]
        return
    table = leave_one_out(es.yi, es.vi, **options)
    assert list(table.labels) == case["omitted_study"]
    assert table.k == (es.k - 1,) * es.k
    assert _mismatches(table, case) == []


@pytest.mark.parametrize("case", CUMUL, ids=_id)
def test_cumulative_matches_metafor(case: dict[str, Any]) -> None:
    es = _es(case["dataset"])
    table = cumulative(es.yi, es.vi, order=es.vi, labels=[str(i + 1) for i in range(es.k)],
                       method=case["method"], test=case["test"], measure=es.measure)
    assert list(table.labels) == case["slab"]
    assert table.k == tuple(range(1, es.k + 1))
    assert _mismatches(table, case) == []
    # the first row is a one-study fit, switched to z as metafor does
    assert table.fits[0] is not None and table.fits[0].test == "z"


def test_cumulative_last_row_is_the_full_fit_and_back_transforms() -> None:
    es = _es("pritz1997")
    table = cumulative(es.yi, es.vi, method="DL", measure="PLO", ni=es.ni)
    full = pool(es.yi, es.vi, method="DL", measure="PLO")
    assert math.isclose(table.estimate[-1], full.estimate, rel_tol=1e-12)
    assert math.isclose(table.pred[-1], 1 / (1 + math.exp(-full.estimate)), rel_tol=1e-12)
    assert all(lo < p < hi for lo, p, hi in
               zip(table.pred_ci_lb, table.pred, table.pred_ci_ub, strict=True))


def test_cumulative_order_ties_and_decreasing() -> None:
    y, v = [0.1, 0.2, 0.3, 0.4], [0.01, 0.02, 0.03, 0.04]
    table = cumulative(y, v, order=[2001, 1999, 2001, 1998], method="DL")
    assert table.labels == ("Study 4", "Study 2", "Study 1", "Study 3")  # ties keep input order
    table = cumulative(y, v, order=[2001, 1999, 2001, 1998], decreasing=True, method="DL")
    assert table.labels == ("Study 1", "Study 3", "Study 2", "Study 4")


def test_failed_rows_hold_nan_and_the_reason() -> None:
    # DL refuses zero variances: only the fit without study 2 succeeds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = leave_one_out([0.1, 0.5, 0.3], [0.02, 0.0, 0.03], method="DL")
    assert math.isnan(table.estimate[0]) and math.isnan(table.estimate[2])
    assert "non-positive sampling variances" in table.notes[0]
    assert table.notes[1] == "" and math.isclose(table.estimate[1], 0.1 * 0.6 + 0.3 * 0.4)
    rows = table.rows()
    assert rows[0]["estimate"] is None and rows[0]["note"] and rows[1]["label"] == "Study 2"
    json.dumps(table.to_dict())
    assert "(DL estimator cannot be used" in str(table)


def test_missing_studies_are_left_out_of_the_table() -> None:
    y, v = [0.1, math.nan, 0.3, 0.2], [0.01, 0.02, 0.03, 0.04]
    with pytest.warns(ReviewWarning, match="NAs omitted"):
        table = leave_one_out(y, v, method="DL", labels=["a", "b", "c", "d"])
    assert table.labels == ("a", "c", "d") and table.k == (2, 2, 2)
    with pytest.warns(ReviewWarning, match="NAs omitted"):
        table = cumulative(y, v, order=[4, 1, 3, 2], method="DL")
    assert table.labels == ("Study 4", "Study 3", "Study 1")


def test_table_output() -> None:
    es = _es("debruin2009")
    table = leave_one_out(es.yi, es.vi, method="REML", test="knha", measure="PLO", ni=es.ni)
    d = table.to_dict()
    assert d["kind"] == "leave-one-out" and d["test"] == "knha" and len(d["rows"]) == 13
    assert set(d["rows"][0]) >= {"label", "k", "estimate", "q_p", "pred", "note"}
    text = str(table)
    assert text.splitlines()[0].startswith("Leave-one-out meta-analysis (REML, test=knha")
    assert "tval" in text.splitlines()[1]
    assert len(text.splitlines()) == 2 + 13


def test_leave_one_out_is_order_invariant() -> None:
    es = _es("pritz1997")
    a = leave_one_out(es.yi, es.vi, method="REML")
    b = leave_one_out(es.yi[::-1], es.vi[::-1], method="REML")
    assert np.allclose(a.estimate, b.estimate[::-1], rtol=1e-10)


def test_bad_input() -> None:
    with pytest.raises(InputError, match="same length"):
        leave_one_out([0.1, 0.2], [0.01])
    with pytest.raises(InputError, match="labels"):
        leave_one_out([0.1, 0.2], [0.01, 0.02], labels=["a"])
    with pytest.raises(InputError, match="order"):
        cumulative([0.1, 0.2], [0.01, 0.02], order=[1])
    with pytest.raises(OptionError, match="method"):
        leave_one_out([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], method="XX")
    with pytest.raises(EstimationError, match=r"Stopped because k = 1 — "):
        leave_one_out([0.1], [0.01])
