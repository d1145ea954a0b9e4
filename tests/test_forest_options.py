"""`review pool` forest plot and table finish: totals on the pooled row, the test for the
overall effect (against metafor), --sort, --xlim, --refline, --favours, GLMM without a weight
column, and result tables that keep numbers as numbers."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import OptionError
from metareview.plots import forest_options

HERE = Path(__file__).parent
BCG = HERE / "reference" / "data" / "bcg.csv"
NORMAND = HERE / "reference" / "data" / "normand1999.csv"
PRITZ = HERE.parent / "data" / "extraction.xlsx"
GOLD = json.loads((HERE / "reference" / "gold.json").read_text(encoding="utf-8"))


def gold(dataset: str, measure: str, method: str = "REML", test: str = "z") -> dict:
    return next(c for c in GOLD["cases"] if (c["dataset"], c["variant"], c["measure"],
                c["method"], c["test"]) == (dataset, "default", measure, method, test))


def pool(*args: str) -> object:
    result = CliRunner().invoke(cli, ["pool", *args])
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return result


@pytest.mark.parametrize("test", ["z", "knha"])
def test_overall_effect_test_matches_metafor(test: str) -> None:
    fit = gold("bcg", "RR", test=test)["fit"]
    data = json.loads(pool(str(BCG), "--measure", "RR", "--test", test, "--to",
                           "json").stdout)  # type: ignore[attr-defined]
    assert data["zval"] == pytest.approx(fit["zval"], rel=1e-5)
    assert data["pval"] == pytest.approx(fit["pval"], rel=1e-4)
    text = pool(str(BCG), "--measure", "RR", "--test", test).stdout  # type: ignore[attr-defined]
    stat = "z" if test == "z" else f"t({fit['ddf']})"
    assert f"Test for overall effect: {stat} = {fit['zval']:.2f}, p" in text


def test_pooled_row_totals_are_the_sums_of_the_arms() -> None:
    text = pool(str(BCG), "--measure", "RR").stdout  # type: ignore[attr-defined]
    rows = [line for line in text.splitlines() if "/" in line and "Pooled" not in line]
    e1 = sum(int(r.split()[-6].split("/")[0]) for r in rows)
    n1 = sum(int(r.split()[-6].split("/")[1]) for r in rows)
    assert len(rows) == 13
    assert f"Pooled (random effects)    {e1}/{n1}" in text


def test_continuous_studies_show_mean_sd_and_n_per_group() -> None:
    text = pool(str(NORMAND)).stdout  # type: ignore[attr-defined]
    assert "mean_1  sd_1  n_1  mean_2  sd_2  n_2" in text
    assert "Edinburgh                    55    47  155      75    64  156" in text


@pytest.mark.parametrize(("key", "expected_first"), [
    ("estimate", "Vandiviere et al 1973"),   # smallest risk ratio
    ("weight", "TPT Madras 1980"),           # largest weight
    ("study", "Aronson 1948"),               # a column, alphabetical
])
def test_sort_orders_the_studies(key: str, expected_first: str) -> None:
    data = json.loads(pool(str(BCG), "--measure", "RR", "--sort", key, "--to",
                           "json").stdout)  # type: ignore[attr-defined]
    assert data["studies"][0]["study"] == expected_first
    assert len(data["studies"]) == 13


def test_sort_by_an_unknown_column_is_an_error() -> None:
    result = CliRunner().invoke(cli, ["pool", str(BCG), "--sort", "latitude"])
    assert result.exit_code != 0
    assert "review: error:" in result.output and "no column 'latitude'" in result.output


def test_forest_options_in_the_plot(tmp_path: Path) -> None:
    out = tmp_path / "f.svg"
    pool(str(BCG), "--measure", "RR", "--plot", str(out), "--favours",
         "Favours vaccine,Favours control", "--xlim", "0.05,10", "--refline", "0.5")
    svg = out.read_text(encoding="utf-8")
    assert "Favours vaccine" in svg and "Favours control" in svg
    assert "Test for overall effect: z = -3.97" in svg
    assert "1065/191064" in svg  # total events / participants, vaccinated arm


def test_glmm_forest_has_no_weight_column(tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    pool(str(PRITZ), "--method", "GLMM", "--plot", str(out))
    svg = out.read_text(encoding="utf-8")
    assert "Weight" not in svg
    assert "no inverse-variance weights" in svg


@pytest.mark.parametrize(("args", "message"), [
    (("0.1", None, None), "is not LOW,HIGH"),
    (("10,1", None, None), "LOW must be below HIGH"),
    ((None, None, "only one"), "needs two labels"),
])
def test_bad_forest_options_are_refused(args: tuple, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        forest_options(*args)


def test_bad_xlim_stops_before_any_file_is_written(tmp_path: Path) -> None:
    out = tmp_path / "f.png"
    result = CliRunner().invoke(cli, ["pool", str(BCG), "--plot", str(out), "--xlim", "a,b"])
    assert result.exit_code != 0 and "--xlim 'a,b' is not LOW,HIGH" in result.output
    assert not out.exists()


def test_xlsx_results_keep_numbers_as_numbers(tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    pool(str(BCG), "--measure", "RR", "-o", str(out))
    sheet = openpyxl.load_workbook(out)["studies"]
    head = [c.value for c in sheet[1]]
    assert head[:6] == ["row", "study", "events_1", "total_1", "events_2", "total_2"]
    first = [c.value for c in sheet[2]]
    assert first[2:6] == [4, 123, 11, 139]
    assert all(isinstance(v, (int, float)) for v in first[2:6])


def test_digits_reach_the_forest_plot(tmp_path: Path) -> None:
    out = tmp_path / "f.svg"
    pool(str(PRITZ), "--percent", "--digits", "2", "--plot", str(out))
    svg = out.read_text(encoding="utf-8")
    import re

    assert re.search(r"75\.7\d \[66\.\d\d, 83\.\d\d\]", svg)  # two decimals, in percent
    default = tmp_path / "d.svg"
    pool(str(PRITZ), "--percent", "--plot", str(default))
    assert "75.7 [66.1, 83.4]" in default.read_text(encoding="utf-8")
