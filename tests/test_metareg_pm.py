"""Meta-regression with the Paule-Mandel estimator against metafor 3.8-1
(tests/reference/metareg_pm.json, made by metareg_pm.R).

PM runs R's uniroot procedure (meta.uniroot) with metafor's tolerance, so the default fit
is matched at 1e-6 relative, floor 1e-10, like the closed-form estimators.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gold_cases import REFERENCE, close
from metareview.metareg import metareg

with open(REFERENCE / "metareg_pm.json", encoding="utf-8") as fh:
    CASES: list[dict[str, Any]] = json.load(fh)["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_paule_mandel_with_moderators_matches_rma(case: dict[str, Any]) -> None:
    fit = metareg(case["yi"], case["vi"], case["mods"], method="PM")
    ref = case["fit"]
    assert close(fit.tau2, ref["tau2"], 1e-6, 1e-10)
    assert fit.qe is not None and close(fit.qe, ref["QE"], 1e-6, 1e-10)
    assert fit.qm is not None and close(fit.qm, ref["QM"], 1e-6, 1e-10)
    for name, ours in (("b", fit.beta), ("se", fit.se)):
        assert len(ours) == len(ref[name])
        for a, b in zip(ours, ref[name], strict=True):
            assert close(a, b, 1e-6, 1e-10), name
