"""Prediction intervals with a stated reference distribution, and the common-effect row of
``review pool --common``.

``df="model"`` must reproduce metafor's ``predict()`` (which ``pool`` already matches against
gold.json); the t versions are checked against scipy-free closed values computed with mpmath.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import mpmath
import pytest
from click.testing import CliRunner

from metareview.cli import cli
from metareview.errors import OptionError
from metareview.meta import pool
from metareview.predint import PI_DF, prediction_interval

YI = [0.1, 0.3, 0.35, 0.6, 0.4]
VI = [0.02, 0.03, 0.01, 0.04, 0.02]
DATA = Path(__file__).parent.parent / "data" / "extraction.xlsx"


def _t_quantile(df: float) -> float:
    """The 97.5% quantile of t(df) by mpmath root finding on its CDF (independent of scipy)."""
    mpmath.mp.dps = 30

    def cdf(x: Any) -> Any:
        return 1 - mpmath.betainc(df / 2, 0.5, 0, df / (df + x**2), regularized=True) / 2

    return float(mpmath.findroot(lambda x: cdf(x) - mpmath.mpf("0.975"), 2.5))


@pytest.mark.parametrize("test", ["z", "knha"])
def test_model_df_is_metafors_interval(test: str) -> None:
    fit = pool(YI, VI, method="DL", test=test)
    pi = prediction_interval(fit)
    assert (pi.pi_lb, pi.pi_ub) == (fit.pi_lb, fit.pi_ub)
    assert pi.distribution == ("z" if test == "z" else "t(4)")
    assert "metafor" in pi.method


@pytest.mark.parametrize(("choice", "df"), [("k-1", 4), ("k-2", 3)])
def test_t_intervals(choice: str, df: int) -> None:
    fit = pool(YI, VI, method="REML")
    pi = prediction_interval(fit, choice)
    half = _t_quantile(df) * math.sqrt(fit.se**2 + fit.tau2)
    assert pi.df == df and pi.distribution == f"t({df})"
    assert pi.pi_lb == pytest.approx(fit.estimate - half, rel=1e-10)
    assert pi.pi_ub == pytest.approx(fit.estimate + half, rel=1e-10)
    assert pi.pi_ub - pi.pi_lb > fit.pi_ub - fit.pi_lb  # t is wider than z
    assert json.loads(json.dumps(pi.to_dict()))["df"] == df


def test_back_transformed_and_edge_cases() -> None:
    fit = pool([-0.5, -0.2, -0.9], [0.04, 0.05, 0.03], method="DL", measure="OR")
    pi = prediction_interval(fit, "k-1")
    assert pi.lb == pytest.approx(math.exp(pi.pi_lb)) and pi.ub == pytest.approx(math.exp(pi.pi_ub))
    two = pool([0.1, 0.3], [0.02, 0.03], method="DL")
    assert math.isnan(prediction_interval(two, "k-2").pi_lb)
    assert "more studies" in prediction_interval(two, "k-2").method
    fe = pool(YI, VI, method="FE")
    assert math.isnan(prediction_interval(fe, "k-1").pi_lb)
    with pytest.raises(OptionError, match="prediction-interval df"):
        prediction_interval(fit, "k-3")
    assert PI_DF == ("model", "k-1", "k-2")


# --- review pool --common / --pi-df -----------------------------------------------------------


def _gold_fit(method: str) -> dict[str, Any]:
    from gold_cases import gold

    return next(c for c in gold()["cases"] if c["dataset"] == "pritz1997"
                and c["variant"] == "default" and c["measure"] == "PLO"
                and c["method"] == method and c["test"] == "z")


def test_cli_common_row_matches_metafor_fe(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA), "--common", "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    fe = _gold_fit("FE")
    assert out["common"]["estimate"] == pytest.approx(fe["fit"]["b"], rel=1e-6)
    assert out["common"]["se"] == pytest.approx(fe["fit"]["se"], rel=1e-6)
    assert out["common"]["summary"]["estimate"] == pytest.approx(fe["pred"]["pred"], rel=1e-6)
    assert out["common"]["pi_lb"] is None
    reml = _gold_fit("REML")
    assert out["estimate"] == pytest.approx(reml["fit"]["b"], rel=1e-6)
    assert out["pi_df"] is None and out["pi_method"].startswith("normal quantile z")
    text = CliRunner().invoke(cli, ["pool", str(DATA), "--common"]).stdout
    lines = text.splitlines()
    common = next(i for i, line in enumerate(lines) if line.startswith("Pooled (common effect)"))
    assert lines[common + 1].startswith("Pooled (random effects)")
    assert f"{fe['pred']['pred']:.3f}" in lines[common]
    assert "Prediction interval (z)" in text
    assert "Prediction interval: normal quantile z" in text
    png, csv_out = tmp_path / "forest.png", tmp_path / "r.csv"
    result = CliRunner().invoke(cli, ["pool", str(DATA), "--common", "--plot", str(png), "-o",
                                      str(csv_out)])
    assert result.exit_code == 0 and png.stat().st_size > 1000
    rows = csv_out.read_text(encoding="utf-8").splitlines()
    assert any(r.startswith("common,pooled (common effect),") for r in rows)
    assert any(r.startswith("prediction,") and "normal quantile z" in r for r in rows)


@pytest.mark.parametrize(("choice", "df"), [("k-1", 13), ("k-2", 12)])
def test_cli_pi_df(choice: str, df: int) -> None:
    result = CliRunner().invoke(cli, ["pool", str(DATA), "--pi-df", choice, "--to", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    reml = _gold_fit("REML")["fit"]
    half = _t_quantile(df) * math.sqrt(reml["se"] ** 2 + reml["tau2"])
    assert out["pi_df"] == df
    assert out["pi_lb"] == pytest.approx(reml["b"] - half, rel=1e-5)
    assert out["pi_ub"] == pytest.approx(reml["b"] + half, rel=1e-5)
    assert out["summary"]["pi_ub"] == pytest.approx(1 / (1 + math.exp(-out["pi_ub"])), rel=1e-9)
    assert f"k−{choice[-1]} = {df} df" in out["pi_method"]
    text = CliRunner().invoke(cli, ["pool", str(DATA), "--pi-df", choice]).stdout
    assert f"Prediction interval (t, df = {df})" in text


def test_cli_refuses_common_and_pi_df_with_common_effect_methods() -> None:
    for args, message in ((["--method", "FE", "--common"], "--common adds"),
                          (["--method", "GLMM", "--common"], "no inverse-variance weights"),
                          (["--method", "FE", "--pi-df", "k-1"], "--pi-df applies")):
        result = CliRunner().invoke(cli, ["pool", str(DATA), *args])
        assert result.exit_code == 64, result.output
        assert message in result.output and "Traceback" not in result.output


def test_review_toml_pi_df(tmp_path: Path) -> None:
    from metareview.config import load_config
    from metareview.errors import ValidationError
    from test_project import GOOD, write_toml

    path = write_toml(tmp_path, GOOD + '\n[analysis]\npi_df = "k-1"\n')
    assert load_config(path).analysis.pi_df == "k-1"
    path = write_toml(tmp_path, GOOD + '\n[analysis]\npi_df = "k-9"\n')
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:9" and "pi-df" in problem.message
