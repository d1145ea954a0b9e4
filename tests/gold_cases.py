"""Load the metafor 3.8-1 reference cases in tests/reference/gold.json (see its README).

Shared by the engine tests: the cases, their input data, the escalc arguments each used, and
a comparison helper with a relative tolerance plus an absolute floor.
"""

from __future__ import annotations

import csv
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).parent / "reference"

# gold `fit` keys -> PoolResult attributes
FIT_FIELDS = {
    "b": "estimate",
    "se": "se",
    "zval": "zval",
    "pval": "pval",
    "ci.lb": "ci_lb",
    "ci.ub": "ci_ub",
    "tau2": "tau2",
    "tau": "tau",
    "se.tau2": "se_tau2",
    "I2": "i2",
    "H2": "h2",
    "QE": "q",
    "QEp": "q_p",
    "df": "q_df",
    "k": "k",
    "vt": "vt",
    "s2w": "s2w",
    "ddf": "ddf",
    "QM": "qm",
    "QMp": "qm_p",
    "ll_ML": "ll_ml",
    "ll_REML": "ll_reml",
}
PRED_FIELDS = {
    "pred": "pred",
    "ci.lb": "ci_lb",
    "ci.ub": "ci_ub",
    "pi.lb": "pi_lb",
    "pi.ub": "pi_ub",
}
CONFINT_FIELDS = {"tau2": "tau2", "tau": "tau", "I2": "i2", "H2": "h2"}


@cache
def gold() -> dict[str, Any]:
    with open(REFERENCE / "gold.json", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def cases() -> list[dict[str, Any]]:
    return list(gold()["cases"])


def case_id(case: dict[str, Any]) -> str:
    return "-".join(case[k] for k in ("dataset", "variant", "measure", "method", "test"))


@cache
def dataset(name: str) -> dict[str, list[Any]]:
    """Columns of tests/reference/data/<name>.csv (numbers as floats)."""
    with open(REFERENCE / "data" / f"{name}.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns: dict[str, list[Any]] = {key: [] for key in rows[0]}
    for row in rows:
        for key, value in row.items():
            columns[key].append(value if key in ("study", "group") else float(value))
    return columns


def escalc_args(case: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of our escalc equivalent to the case's escalc call."""
    data = dataset(case["dataset"])
    names = {
        "prop": ("xi", "ni"),
        "bin": ("ai", "bi", "ci", "di"),
        "means": ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i"),
    }[case["type"]]
    args: dict[str, Any] = {name: data[name] for name in names}
    if case["variant"] == "to_none":
        args["to"] = "none"
    return args


def number(value: Any) -> float:
    """A gold value as float: null -> NaN, "Inf"/"NaN" strings parsed."""
    return math.nan if value is None else float(value)


def close(ours: float, theirs: Any, rel: float, floor: float) -> bool:
    """|ours - theirs| <= rel * |theirs| + floor, with NaN equal to NaN (null)."""
    expected = number(theirs)
    ours = float(ours)
    if math.isnan(expected) or math.isnan(ours):
        return math.isnan(expected) and math.isnan(ours)
    return abs(ours - expected) <= rel * abs(expected) + floor
