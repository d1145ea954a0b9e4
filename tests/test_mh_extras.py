"""Mantel–Haenszel and Peto with leave-one-out, cumulative and subgroup analyses, against
metafor 3.8-1: ``leave1out(rma.mh(...))``, ``cumul(rma.mh(...), order=year)``, the same for
``rma.peto``, ``rma.mh(..., subset = group == g)`` per subgroup and the Q between the subgroup
estimates (tests/reference/mh_extras.json, from mh_extras.R; 1e-6 relative)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from files import write_csv
from gold_cases import REFERENCE, close
from metareview.cli import cli
from metareview.errors import EstimationError, InputError, ReviewWarning
from metareview.sensitivity import SensitivityTable, cumulative_mh, leave_one_out_mh
from metareview.subgroups import subgroup_mh

GOLD = json.loads((REFERENCE / "mh_extras.json").read_text(encoding="utf-8"))
REL, ABS = GOLD["tolerance"]["rel"], GOLD["tolerance"]["abs"]
SENSITIVITY = GOLD["sensitivity"]
SUBGROUPS = GOLD["subgroups"]
TABLE_FIELDS = {"estimate": "estimate", "se": "se", "zval": "zval", "pval": "pval",
                "ci.lb": "ci_lb", "ci.ub": "ci_ub", "Q": "q", "Qp": "q_p", "I2": "i2",
                "H2": "h2"}
FIT_FIELDS = {"k": "k", "beta": "estimate", "se": "se", "zval": "zval", "pval": "pval",
              "ci.lb": "ci_lb", "ci.ub": "ci_ub", "QE": "q", "QEp": "q_p", "I2": "i2",
              "H2": "h2"}


def _cells(dataset: str) -> dict[str, Any]:
    d = GOLD["datasets"][dataset]
    return {"ai": d["ai"], "n1i": d["n1i"], "ci": d["ci"], "n2i": d["n2i"],
            "labels": d["study"]}


def _options(case: dict[str, Any]) -> dict[str, Any]:
    return {"method": case["method"], "measure": case["measure"]}


def _mismatches(ours: Any, theirs: dict[str, Any], fields: dict[str, str]) -> list[str]:
    bad = []
    for key, name in fields.items():
        got = getattr(ours, name)
        want = theirs[key]
        if isinstance(want, list):
            bad += [f"{name}[{i}]: {a!r} vs {b!r}" for i, (a, b) in
                    enumerate(zip(got, want, strict=True)) if not close(a, b, REL, ABS)]
        elif not close(got, want, REL, ABS):
            bad.append(f"{name}: {got!r} vs {want!r}")
    return bad


class _Kept:
    """The columns of ``table`` without the rows flagged in ``drop``."""

    def __init__(self, table: SensitivityTable, drop: list[bool]):
        self.table, self.drop = table, drop

    def __getattr__(self, name: str) -> list[float]:
        values = getattr(self.table, name)
        return [v for v, d in zip(values, self.drop, strict=True) if not d]


def _refit(case: dict[str, Any]) -> SensitivityTable:
    cells = _cells(case["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)  # tables without a study yi/vi
        if case["kind"] == "leave1out":
            return leave_one_out_mh(**cells, **_options(case))
        return cumulative_mh(**cells, order=GOLD["datasets"][case["dataset"]]["year"],
                             **_options(case))


@pytest.mark.parametrize("case", SENSITIVITY, ids=[c["id"] for c in SENSITIVITY])
def test_leave_one_out_and_cumulative_match_metafor(case: dict[str, Any]) -> None:
    table = _refit(case)
    out = case["outputs"]
    assert list(table.labels) == out["slab"]
    assert table.method == case["method"] and table.measure == case["measure"]
    # a row whose estimate metafor gives as NA (an MH ratio of 0: that fit raises here)
    # holds NaN throughout and the reason; metafor still reports that fit's Q (0, k = 1)
    na = [e is None for e in out["estimate"]]
    for note, missing, row in zip(table.notes, na, table.rows(), strict=True):
        assert bool(note) == missing, note
        if missing:
            assert "ratio is 0 or infinite" in note
            assert all(row[c] is None for c in ("estimate", "se", "q", "i2", "tau2"))
    kept = {key: [v for v, m in zip(values, na, strict=True) if not m]
            for key, values in out.items() if isinstance(values, list)}
    assert _mismatches(_Kept(table, na), kept, TABLE_FIELDS) == []
    assert all(t == 0 for t, m in zip(table.tau2, na, strict=True) if not m)
    if case["measure"] in ("OR", "RR"):
        assert _Kept(table, na).pred == pytest.approx([math.exp(e) for e in kept["estimate"]],
                                                      rel=REL)


def test_every_sensitivity_case_is_covered() -> None:
    kinds = {(c["kind"], c["dataset"], c["method"], c["measure"]) for c in SENSITIVITY}
    assert len(kinds) == 24 and not any("error" in c for c in SENSITIVITY)
    assert any(None in c["outputs"]["estimate"] for c in SENSITIVITY)  # an NA row is in


@pytest.mark.parametrize("case", SUBGROUPS, ids=[c["id"] for c in SUBGROUPS])
def test_subgroups_match_metafor(case: dict[str, Any]) -> None:
    data = GOLD["datasets"][case["dataset"]]
    res = subgroup_mh(**_cells(case["dataset"]), groups=data[case["by"]], **_options(case))
    assert res.groups == tuple(g["name"] for g in case["groups"])
    for fit, gold in zip(res.fits, case["groups"], strict=True):
        assert _mismatches(fit, gold, FIT_FIELDS) == [], gold["name"]
    between = case["between"]
    assert close(between["Q"], between["Q_formula"], 1e-12, 1e-12)  # R's two ways agree
    assert close(res.q_between, between["Q"], REL, ABS)
    assert close(res.q_between_p, between["p"], REL, 1e-300)
    assert res.q_between_df == between["df"]
    assert json.loads(json.dumps(res.to_dict()))["q_between_df"] == between["df"]
    assert "common-effect model" in str(res)


def test_one_table_single_group_and_a_failing_subgroup_are_refused() -> None:
    with pytest.raises(EstimationError, match="k = 1"):
        leave_one_out_mh([3], n1i=[20], ci=[5], n2i=[21])
    with pytest.raises(EstimationError, match="only one subgroup"):
        subgroup_mh([3, 4], n1i=[20, 20], ci=[5, 6], n2i=[21, 22], groups=["a", "a"])
    with pytest.raises(InputError, match="2 subgroups for 3 tables"):
        subgroup_mh([3, 4, 5], n1i=[20] * 3, ci=[5, 6, 7], n2i=[21] * 3, groups=["a", "b"])
    # no events in group 1 of subgroup b: its MH odds ratio is 0 (metafor: NA)
    with pytest.raises(EstimationError, match="subgroup 'b': the Mantel-Haenszel odds ratio"):
        subgroup_mh([3, 4, 0, 0], n1i=[20] * 4, ci=[5, 6, 7, 2], n2i=[21] * 4,
                    groups=["a", "a", "b", "b"])


def test_table_with_missing_counts_gets_no_row() -> None:
    with pytest.warns(ReviewWarning, match="NAs omitted"):
        table = leave_one_out_mh([3, 4, np.nan, 6], n1i=[20, 30, 25, 40], ci=[5, 6, 2, 9],
                                 n2i=[21, 28, 26, 41], labels=["A", "B", "C", "D"])
    assert table.labels == ("A", "B", "D") and table.k == (2, 2, 2)
    kept = leave_one_out_mh([3, 4, 6], n1i=[20, 30, 40], ci=[5, 6, 9], n2i=[21, 28, 41])
    assert table.estimate == pytest.approx(kept.estimate)


def test_peto_refits_keep_peto_options() -> None:
    with pytest.raises(Exception, match="measure"):
        leave_one_out_mh([3, 4], n1i=[20, 30], ci=[5, 6], n2i=[21, 28], method="Peto",
                         measure="RR")
    table = cumulative_mh([3, 4], n1i=[20, 30], ci=[5, 6], n2i=[21, 28], method="Peto",
                          order=[2001, 1999], decreasing=True, level=90)
    assert table.method == "Peto" and table.level == 90 and table.labels == ("Study 1",
                                                                              "Study 2")


# --- review pool --method MH|Peto with --by, --leave-one-out, --cumulative ------------------


def _sheet(tmp_path: Path, dataset: str) -> Path:
    d = GOLD["datasets"][dataset]
    groups = [c for c in ("alloc", "lat", "oedema") if c in d]
    header = ["study", "year", *groups, "ai", "n1i", "ci", "n2i"]
    rows = [[d[c][i] for c in header] for i in range(len(d["study"]))]
    return write_csv(tmp_path / f"{dataset}.csv", header, rows)


def _case(collection: list[dict[str, Any]], case_id: str) -> dict[str, Any]:
    return next(c for c in collection if c["id"] == case_id)


def _pool(tmp_path: Path, dataset: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["pool", str(_sheet(tmp_path, dataset)), *args])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize(("method", "measure"), [("MH", "OR"), ("MH", "RR"), ("MH", "RD"),
                                                 ("Peto", "OR")])
def test_cli_json_matches_metafor(tmp_path: Path, method: str, measure: str) -> None:
    result = _pool(tmp_path, "bcg", "--method", method, "--measure", measure, "--by", "alloc",
                   "--leave-one-out", "--cumulative", "year", "--to", "json")
    out = json.loads(result.stdout)
    back = (lambda x: x) if measure == "RD" else math.exp
    for kind, key in (("leave1out", "leave_one_out"), ("cumul", "cumulative")):
        gold = _case(SENSITIVITY, f"{kind}_bcg_{method}_{measure}")["outputs"]
        ours = out[key]
        assert ours["studies"] == gold["slab"]
        for mine, theirs in (("estimate", "estimate"), ("ci_lb", "ci.lb"), ("ci_ub", "ci.ub")):
            assert all(close(a, back(b), REL, ABS)
                       for a, b in zip(ours[mine], gold[theirs], strict=True)), (key, mine)
        assert all(close(a, b, REL, ABS) for a, b in zip(ours["i2"], gold["I2"], strict=True))
        assert set(ours["tau2"]) == {0.0}
    gold_sub = _case(SUBGROUPS, f"by_bcg_alloc_{method}_{measure}")
    groups = out["subgroups"]["groups"]
    assert [g["name"] for g in groups] == [g["name"] for g in gold_sub["groups"]]
    for ours, theirs in zip(groups, gold_sub["groups"], strict=True):
        assert ours["k"] == theirs["k"]
        for mine, key in (("estimate", "beta"), ("se", "se"), ("ci_lb", "ci.lb"),
                          ("ci_ub", "ci.ub"), ("q", "QE"), ("i2", "I2")):
            assert close(ours[mine], theirs[key], REL, ABS), (ours["name"], mine)
        assert ours["tau2"] == 0 and ours["pi_lb"] is None
    test = out["subgroups"]["test"]
    between = gold_sub["between"]
    assert close(test["q"], between["Q"], REL, ABS) and test["df"] == between["df"]
    assert close(test["p"], between["p"], REL, 1e-300)
    assert test["q_separate"] is None and test["p_separate"] is None
    assert test["name"].startswith("common-effect model") and method in test["name"]
    assert out["mh"]["method"] == method


def test_cli_text_shows_subgroups_and_the_one_test(tmp_path: Path) -> None:
    text = _pool(tmp_path, "collins1985b", "--method", "Peto", "--by", "oedema").stdout
    gold = _case(SUBGROUPS, "by_collins1985b_oedema_Peto_OR")
    assert "oedema = no" in text and "oedema = yes" in text
    for g in gold["groups"]:
        assert f"  pooled ({g['name']}), k = {g['k']}" in text
        assert f"{math.exp(g['beta']):.3f}" in text
    between = gold["between"]
    assert ("Test for subgroup differences (common-effect model, Q between the subgroup Peto "
            f"estimates): Q(1) = {between['Q']:.2f}, p = {between['p']:.4f}") in text
    assert "common tau²" not in text and "separate tau²" not in text


def test_cli_forest_plot_and_tables_with_mh_subgroups(tmp_path: Path) -> None:
    png, csv_out, md = tmp_path / "forest.png", tmp_path / "mh.csv", tmp_path / "mh.md"
    _pool(tmp_path, "bcg", "--method", "MH", "--measure", "RR", "--by", "lat",
          "--leave-one-out", "--plot", str(png), "-o", str(csv_out), "-o", str(md))
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    rows = csv_out.read_text(encoding="utf-8").splitlines()
    assert sum(r.startswith("subgroup,") for r in rows) == 2
    markdown = md.read_text(encoding="utf-8")
    gold = _case(SUBGROUPS, "by_bcg_lat_MH_RR")["between"]
    line = next(r for r in markdown.splitlines() if "Q between the subgroup MH estimates" in r)
    q = float(line.split("Q(1) = ")[1].split(",")[0])
    assert close(q, gold["Q"], REL, ABS)
    assert "separate tau2" not in markdown


@pytest.mark.parametrize("method", ["MH", "Peto"])
@pytest.mark.parametrize("extra", [["--bias"], ["--mods", "year"], ["--influence"]])
def test_cli_refuses_what_needs_inverse_variance_weights(tmp_path: Path, method: str,
                                                         extra: list[str]) -> None:
    result = CliRunner().invoke(cli, ["pool", str(_sheet(tmp_path, "bcg")), "--method", method,
                                      "--by", "alloc", *extra])
    assert result.exit_code == 64, result.output
    assert f"{extra[0]} not available with --method {method}" in result.output
    assert "inverse-variance" in result.output and "Traceback" not in result.output


def test_review_toml_with_mh_runs_leave_one_out_and_subgroups_not_bias(tmp_path: Path) -> None:
    from files import review_toml
    from metareview.config import load_config

    path = review_toml(tmp_path / "r", 'by = "alloc"\n')
    text = path.read_text(encoding="utf-8")
    for old, new in (('design = "proportion"', 'design = "binary"'),
                     ('measure = "PLO"', 'measure = "RR"'), ('method = "REML"', 'method = "mh"')):
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    analysis = load_config(path).analysis
    assert (analysis.method, analysis.by) == ("MH", "alloc")
    assert analysis.leave_one_out and not analysis.bias
