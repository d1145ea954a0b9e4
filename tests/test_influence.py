"""Influence diagnostics and Baujat coordinates against metafor 3.8-1 (``influence()``,
``baujat()``).

Gold: tests/reference/r2/f3_influence.json. DL fits are closed form (1e-6 relative); REML fits
copy metafor's default stopping rule and are held to its default ``outputs`` at the iterative
tolerance (1e-4 relative, 1e-6 absolute), as the README of the gold set says.
"""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gold_cases import REFERENCE, close
from metareview.errors import EstimationError, ReviewWarning
from metareview.influence import COLUMNS, InfluenceResult, influence

with open(REFERENCE / "r2" / "f3_influence.json", encoding="utf-8") as _fh:
    GOLD = json.load(_fh)
CASES = GOLD["cases"]


def _run(case: dict[str, Any]) -> InfluenceResult:
    data = case["data"]
    mods = data["ablat"] if "mods" in case["call"] else None
    method = "REML" if "REML" in case["call"] else "DL"
    return influence(data["yi"], data["vi"], mods=mods, method=method, labels=data["study"])


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_matches_metafor(case: dict[str, Any]) -> None:
    tol = GOLD["tolerances"]["closed_form" if case["kind"] == "closed_form" else "iterative"]
    res = _run(case)
    gold = case["outputs"]["influence"]
    bad = []
    for theirs, ours in COLUMNS.items():
        bad += [f"{ours}[{i}]: {a!r} vs {b!r}"
                for i, (a, b) in enumerate(zip(getattr(res, ours), gold[theirs], strict=True))
                if not close(a, b, tol["rel"], tol["abs"])]
    for coef, values in gold["dfbs"].items():
        ours_coef = coef if coef == "intrcpt" else "mod1"
        bad += [f"dfbs.{coef}[{i}]" for i, (a, b) in
                enumerate(zip(res.dfbetas[ours_coef], values, strict=True))
                if not close(a, b, tol["rel"], tol["abs"])]
    baujat = case["outputs"]["baujat"]
    for axis in ("x", "y"):
        bad += [f"baujat_{axis}[{i}]" for i, (a, b) in
                enumerate(zip(getattr(res, f"baujat_{axis}"), baujat[axis], strict=True))
                if not close(a, b, tol["rel"], tol["abs"])]
    assert not bad, "\n".join(bad)
    assert list(res.influential) == gold["is.infl"]


def test_every_case_is_covered() -> None:
    assert GOLD["n_errors"] == 0 and len(CASES) == GOLD["n_cases"] == 10
    assert any(any(c["outputs"]["influence"]["is.infl"]) for c in CASES)


def test_result_value_rows_and_printout() -> None:
    res = _run(CASES[1])
    d = res.to_dict()
    assert json.loads(json.dumps(d)) == d and d["coef_names"] == ["intrcpt"]
    rows = res.rows()
    assert len(rows) == res.k == 13 and rows[0]["study"] == CASES[1]["data"]["study"][0]
    assert set(rows[0]) >= {"rstudent", "cook_d", "dfbetas_intrcpt", "influential", "baujat_x"}
    text = str(res)
    assert text.startswith("Influence diagnostics") and "dfbs.intrcpt" in text
    assert math.isclose(sum(res.weight), 100.0)


def test_refusals_and_missing_values() -> None:
    with pytest.raises(EstimationError, match="k = 1"):
        influence([0.2], [0.1])
    with pytest.warns(ReviewWarning, match="left out of the influence"):
        res = influence([0.2, math.nan, 0.5, 0.1], [0.1, 0.1, 0.2, 0.05], method="DL",
                        labels=["a", "b", "c", "d"])
    assert res.labels == ("a", "c", "d")
    # k = 2: a leave-one-out model of one study cannot estimate tau2; those rows say why
    two = influence([0.2, 0.5], [0.1, 0.2], method="DL")
    assert two.k == 2 and all(math.isnan(x) for x in two.tau2_del)
    assert all("larger than the number of observations" in n for n in two.notes)
    assert math.isfinite(two.hat[0]) and math.isfinite(two.baujat_x[0])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-2, 2), st.floats(0.01, 1)), min_size=3, max_size=9),
       st.randoms(use_true_random=False))
def test_order_invariance(rows: list[tuple[float, float]], rnd: Any) -> None:
    labels = [f"s{i}" for i in range(len(rows))]
    order = list(range(len(rows)))
    rnd.shuffle(order)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = influence([r[0] for r in rows], [r[1] for r in rows], method="DL", labels=labels)
        b = influence([rows[j][0] for j in order], [rows[j][1] for j in order], method="DL",
                      labels=[labels[j] for j in order])
    for name in ("rstudent", "cook_d", "hat", "tau2_del", "baujat_y"):
        mine = dict(zip(a.labels, getattr(a, name), strict=True))
        theirs = dict(zip(b.labels, getattr(b, name), strict=True))
        for lab in labels:
            assert np.isclose(mine[lab], theirs[lab], rtol=1e-7, atol=1e-10, equal_nan=True)


# --- review pool --influence / --baujat -------------------------------------------------------


def _generic_csv(tmp_path: Any, case: dict[str, Any]) -> Any:
    data = case["data"]
    lines = ["study,yi,vi"] + [f"\"{s} {i}\",{y!r},{v!r}" for i, (s, y, v) in
                               enumerate(zip(data["study"], data["yi"], data["vi"],
                                             strict=True))]
    path = tmp_path / "studies.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_influence_json_text_csv_and_baujat(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    case = next(c for c in CASES if c["id"] == "f3_hackshaw1998_intonly_dl")
    gold = case["outputs"]["influence"]
    book = _generic_csv(tmp_path, case)
    result = CliRunner().invoke(cli, ["pool", str(book), "--method", "DL", "--influence",
                                      "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["influence"]
    assert out["method"] == "DL" and len(out["labels"]) == len(gold["hat"])
    for theirs, ours in COLUMNS.items():
        assert all(close(a, b, 1e-6, 1e-10) for a, b in zip(out[ours], gold[theirs],
                                                              strict=True)), ours
    assert out["influential"] == gold["is.infl"]
    png, csv_out = tmp_path / "baujat.png", tmp_path / "inf.csv"
    result = CliRunner().invoke(cli, ["pool", str(book), "--method", "DL", "--baujat", str(png),
                                      "-o", str(csv_out)])
    assert result.exit_code == 0, result.output
    assert "Influence diagnostics (leave-one-out refits" in result.stdout
    assert png.stat().st_size > 1000
    header = csv_out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"rstudent", "cook_d", "dfbetas_intrcpt", "influential", "baujat_y"} <= set(header)
    assert len(header) == len(set(header))


def test_cli_influence_refused_with_mh_and_baujat_checked_first(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from metareview.cli import cli

    book = tmp_path / "t.csv"
    book.write_text("study,ai,n1i,ci,n2i\nA,3,10,4,12\nB,5,20,2,18\nC,1,9,3,9\n",
                    encoding="utf-8")
    result = CliRunner().invoke(cli, ["pool", str(book), "--method", "MH", "--influence"])
    assert result.exit_code == 64 and "--influence not available" in result.output
    result = CliRunner().invoke(cli, ["pool", str(book), "--baujat", str(tmp_path / "b.txt")])
    assert result.exit_code != 0 and not (tmp_path / "b.txt").exists()


@pytest.mark.parametrize("case", [c for c in CASES if "mods" in c["call"]],
                         ids=lambda c: c["id"])
def test_cli_influence_with_mods_is_that_of_the_meta_regression(
        case: dict[str, Any], tmp_path: Any) -> None:
    """`review pool --mods ablat --influence` diagnoses the meta-regression, as metafor's
    influence() of the rma(mods = ~ ablat) fit (a formula, so the dfbetas name ablat)."""
    from click.testing import CliRunner

    from metareview.cli import cli

    data = case["data"]
    sheet = tmp_path / "bcg.csv"
    sheet.write_text("study,yi,vi,ablat\n" + "".join(
        f"{i} {s},{y!r},{v!r},{a}\n" for i, (s, y, v, a) in   # two Rosenthal et al
        enumerate(zip(data["study"], data["yi"], data["vi"], data["ablat"], strict=True))))
    method = "REML" if "REML" in case["call"] else "DL"
    result = CliRunner().invoke(cli, ["pool", str(sheet), "--measure", "GEN", "--method",
                                      method, "--mods", "ablat", "--influence", "--to",
                                      "json"])
    assert result.exit_code == 0, result.output
    ours = json.loads(result.stdout)["influence"]
    gold = case["outputs"]["influence"]
    tol = GOLD["tolerances"]["closed_form" if case["kind"] == "closed_form" else "iterative"]
    assert ours["coef_names"] == ["intrcpt", "ablat"]
    for theirs, name in COLUMNS.items():
        assert all(close(a, b, tol["rel"], tol["abs"])
                   for a, b in zip(ours[name], gold[theirs], strict=True)), name
    for coef, values in gold["dfbs"].items():
        assert all(close(a, b, tol["rel"], tol["abs"])
                   for a, b in zip(ours["dfbetas"][coef], values, strict=True)), coef
