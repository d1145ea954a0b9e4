"""Subgroup analysis and meta-regression against metafor 3.8-1 (``subgroups`` in
tests/reference/gold.json: de Bruin 2009 by ``select``, DL/REML x z/knha).

DL is closed form and REML copies metafor's Fisher scoring: 1e-6 relative, floor 1e-10.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from typing import Any

import numpy as np
import pytest

from gold_cases import FIT_FIELDS, PRED_FIELDS, REFERENCE, close, dataset, gold
from metareview.effects import escalc
from metareview.errors import EstimationError, InputError, OptionError
from metareview.metareg import metareg
from metareview.subgroups import subgroup_analysis

CASES = gold()["subgroups"]


def _id(case: dict[str, Any]) -> str:
    return f"{case['method']}-{case['test']}"


def _data() -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    data = dataset("debruin2009")
    es = escalc("PLO", xi=data["xi"], ni=data["ni"])
    return es.yi, es.vi, data["group"], es.ni


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_per_group_fits(case: dict[str, Any]) -> None:
    yi, vi, groups, ni = _data()
    res = subgroup_analysis(yi, vi, groups, method=case["method"], test=case["test"],
                            measure="PLO", ni=ni)
    assert res.groups == tuple(g["group"] for g in case["per_group"])
    for fit, ref in zip(res.fits, case["per_group"], strict=True):
        for theirs, ours in FIT_FIELDS.items():
            if theirs in ref["fit"]:
                assert close(getattr(fit, ours), ref["fit"][theirs], 1e-6, 1e-10), ours
        pred = fit.predict()
        for theirs, ours in PRED_FIELDS.items():
            assert close(getattr(pred, ours), ref["pred"][theirs], 1e-6, 1e-10), ours


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_tests_of_subgroup_differences(case: dict[str, Any]) -> None:
    yi, vi, groups, _ = _data()
    res = subgroup_analysis(yi, vi, groups, method=case["method"], test=case["test"])
    mods, sep = case["mods"], case["separate_tau2"]
    assert close(res.qm, mods["QM"], 1e-6, 1e-12)
    assert close(res.qm_p, mods["QMp"], 1e-6, 1e-12)
    assert list(res.qm_df) == mods["QMdf"]
    assert close(res.tau2_common, mods["tau2"], 1e-6, 1e-10)
    assert close(res.q_between, sep["Q_between"], 1e-6, 1e-12)
    assert res.q_between_df == sep["Q_between_df"]
    assert close(res.q_between_p, sep["Q_between_p"], 1e-6, 1e-12)
    assert close(res.between.estimate, sep["b"], 1e-6, 1e-10)
    assert close(res.between.se, sep["se"], 1e-6, 1e-10)
    for ours, theirs in zip(res.between.vi, sep["subgroup_se"], strict=True):
        assert close(math.sqrt(ours), theirs, 1e-6, 1e-10)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_metareg_matches_rma_with_mods(case: dict[str, Any]) -> None:
    yi, vi, groups, _ = _data()
    dummy = [1.0 if g == "yes" else 0.0 for g in groups]
    fit = metareg(yi, vi, dummy, names=["groupyes"], method=case["method"], test=case["test"])
    mods = case["mods"]
    assert list(fit.coef_names) == mods["coef_names"]
    for name in ("b", "se", "zval", "pval", "ci.lb", "ci.ub"):
        ours = fit.beta if name == "b" else getattr(fit, name.replace(".", "_"))
        for a, b in zip(ours, mods[name], strict=True):
            assert close(a, b, 1e-6, 1e-10), name
    for theirs, ours in [("tau2", "tau2"), ("se.tau2", "se_tau2"), ("I2", "i2"), ("H2", "h2"),
                         ("R2", "r2"), ("QE", "qe"), ("QEp", "qe_p"), ("vt", "vt"),
                         ("ll_ML", "ll_ml"), ("ll_REML", "ll_reml")]:
        assert close(getattr(fit, ours), mods[theirs], 1e-6, 1e-10), ours
    assert fit.qe_df == mods["QEdf"] and fit.k == mods["k"] and fit.p == mods["p"]
    assert fit.ddf == mods["ddf"]


def test_result_objects() -> None:
    yi, vi, groups, ni = _data()
    res = subgroup_analysis(yi, vi, groups, method="REML", test="knha", measure="PLO", ni=ni)
    d = res.to_dict()
    assert d["groups"] == ["no", "yes"] and d["qm_df"] == [1, 11]
    assert d["fits"]["yes"]["k"] == 5
    json.dumps(d)
    text = str(res)
    assert "F(df1 = 1, df2 = 11)" in text and "separate tau^2" in text
    model_text = str(res.model)
    assert "groupyes" in model_text and "tau^2 estimator: REML" in model_text
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.qm = 0.0  # type: ignore[misc]


def test_three_groups_and_order_invariance() -> None:
    rng = np.random.default_rng(1)
    yi = rng.normal(0, 0.5, 15)
    vi = rng.uniform(0.02, 0.1, 15)
    groups = ["c", "a", "b"] * 5
    res = subgroup_analysis(yi, vi, groups, method="DL")
    assert res.groups == ("a", "b", "c") and res.qm_df == (2, None)
    perm = rng.permutation(15)
    again = subgroup_analysis(yi[perm], vi[perm], [groups[i] for i in perm], method="DL")
    assert math.isclose(res.qm, again.qm, rel_tol=1e-10)
    assert math.isclose(res.q_between, again.q_between, rel_tol=1e-10)


ADHOC = json.loads((REFERENCE / "extras_more.json").read_text(encoding="utf-8"))["metareg_adhoc"]


@pytest.mark.parametrize("case", ADHOC, ids=lambda c: c["method"])
def test_metareg_every_estimator_with_adhoc_matches_metafor(case: dict[str, Any]) -> None:
    yi, vi, groups, _ = _data()
    dummy = [1.0 if g == "yes" else 0.0 for g in groups]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = metareg(yi, vi, dummy, method=case["method"], test="adhoc")
    for theirs, ours in [("tau2", "tau2"), ("s2w", "s2w"), ("I2", "i2"), ("H2", "h2"),
                         ("QE", "qe")]:
        assert close(getattr(fit, ours), case[theirs], 1e-6, 1e-10), ours
    for a, b in zip(fit.beta, case["b"], strict=True):
        assert close(a, b, 1e-6, 1e-10)
    for a, b in zip(fit.se, case["se"], strict=True):
        assert close(a, b, 1e-6, 1e-10)
    assert fit.qe_df == case["QEdf"]
    if case["method"] == "FE":  # metafor 3.8-1 still reports an R2 here; we give none
        assert fit.tau2 == 0 and fit.r2 is None
    else:
        assert close(fit.r2, case["R2"], 1e-6, 1e-10)


def test_bad_input() -> None:
    yi, vi, groups, _ = _data()
    with pytest.raises(InputError, match="no subgroup for study 2"):
        subgroup_analysis(yi, vi, [groups[0], None, *groups[2:]])
    with pytest.raises(InputError, match="lengths"):
        subgroup_analysis(yi, vi, groups[:-1])
    with pytest.raises(EstimationError, match="only one subgroup"):
        subgroup_analysis(yi, vi, ["same"] * len(yi))
    with pytest.raises(EstimationError, match="larger than the number of observations"):
        subgroup_analysis([0.1, 0.2, 0.3], [0.01, 0.02, 0.03], ["a", "b", "c"], method="DL")
    with pytest.raises(EstimationError, match="not of full rank"):
        metareg(yi, vi, np.column_stack([np.ones(len(yi)), np.arange(len(yi))]))
    with pytest.raises(OptionError, match="names"):
        metareg(yi, vi, np.arange(len(yi)), names=["a", "b"])
    with pytest.raises(EstimationError, match="non-positive sampling variances"):
        metareg([0.1, 0.2, 0.3, 0.4], [0.01, 0.0, 0.02, 0.03], [1, 2, 3, 4], method="DL")


# metafor 3.8.1: rma(yi, vi, data = read.csv("docs/examples/bcg.csv"), subset = alloc == a,
# method = "FE"): b, se
BCG_COMMON_BY_ALLOC = {"alternate": (-0.7185522049, 0.0780086599),
                       "random": (-0.2945617458, 0.0546199652),
                       "systematic": (-0.4133275179, 0.0952840552)}


def test_cli_common_gives_each_subgroup_its_common_effect_fit(tmp_path: Any) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from metareview.cli import cli

    bcg = Path(__file__).resolve().parent.parent / "docs" / "examples" / "bcg.csv"
    args = ["pool", str(bcg), "--measure", "RR", "--by", "alloc", "--common"]
    result = CliRunner().invoke(cli, [*args, "--to", "json"])
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["subgroups"]["groups"]
    assert [g["name"] for g in groups] == list(BCG_COMMON_BY_ALLOC)
    for g in groups:
        b, se = BCG_COMMON_BY_ALLOC[g["name"]]
        assert close(g["common"]["estimate"], b, 1e-8, 1e-10)
        assert close(g["common"]["se"], se, 1e-8, 1e-10)
        assert g["common"]["tau2"] == 0 and g["tau2"] > 0
    text = CliRunner().invoke(cli, args).stdout
    assert "  common effect (random)           0.745  [0.669, 0.829]" in text
    out = tmp_path / "results.csv"
    assert CliRunner().invoke(cli, [*args, "-o", str(out)]).exit_code == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert sum(r.startswith("subgroup common,common effect (") for r in rows) == 3
    without = json.loads(CliRunner().invoke(cli, [*args[:-1], "--to", "json"]).stdout)
    assert all("common" not in g for g in without["subgroups"]["groups"])
