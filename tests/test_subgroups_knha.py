"""Regression: the subgroup test under Knapp–Hartung is metafor's F test, labelled F(df1, df2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metareview.cli import cli

REFERENCE = Path(__file__).parent / "reference"


def bcg_by_latitude(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """tests/reference/data/bcg.csv with ``lat`` = ablat >= 30 ("high"/"low") as in
    tests/reference/subgroup_knha.R, and metafor's output of that script."""
    gold = json.loads((REFERENCE / "subgroup_knha.json").read_text(encoding="utf-8"))
    rows = list(csv.reader((REFERENCE / "data" / "bcg.csv").open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == gold["study"]
    path = tmp_path / "bcg2.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([*rows[0], "lat"])
        writer.writerows([*r, lat] for r, lat in zip(rows[1:], gold["lat"], strict=True))
    return path, gold


KNHA = ["--measure", "OR", "--method", "PM", "--test", "knha", "--by", "lat"]


def test_knha_subgroup_test_is_labelled_as_metafors_f_test(tmp_path: Path) -> None:
    path, gold = bcg_by_latitude(tmp_path)
    assert gold["QMdf"] == [1, 11]
    runner = CliRunner()
    text = runner.invoke(cli, ["pool", str(path), *KNHA])
    assert text.exit_code == 0, text.output
    assert f"(common tau²): F(1, 11) = {gold['QM']:.2f}, p = {gold['QMp']:.4f}" in text.output
    assert "(common tau²): Q(1)" not in text.output
    result = runner.invoke(cli, ["pool", str(path), *KNHA, "--to", "json"])
    assert result.exit_code == 0, result.output
    test = json.loads(result.stdout)["subgroups"]["test"]
    assert (test["df"], test["df2"]) == (1, 11)
    assert test["q"] == pytest.approx(gold["QM"], rel=1e-6)
    assert test["p"] == pytest.approx(gold["QMp"], rel=1e-6)
    md = tmp_path / "pool.md"
    saved = runner.invoke(cli, ["pool", str(path), *KNHA, "-o", str(md)])
    assert saved.exit_code == 0, saved.output
    assert "F(1, 11) = " in md.read_text(encoding="utf-8")


def test_knha_subgroup_test_in_the_forest_plot_and_z_stays_q(tmp_path: Path) -> None:
    from metareview.plots import forest_plot
    from metareview.poolrun import PoolOptions, run_pool
    from metareview.sheets.extraction import read_extraction

    path, gold = bcg_by_latitude(tmp_path)
    table = read_extraction(path)
    for test, label in (("knha", f"F(1, 11) = {gold['QM']:.2f}"), ("z", "Q(1) = ")):
        report = run_pool(table, PoolOptions(measure="OR", method="PM", test=test, by="lat"))
        fig = forest_plot(report)
        shown = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(label in s and "subgroup differences" in s for s in shown), shown
    assert report.subgroup_test is not None and report.subgroup_test.df2 is None
