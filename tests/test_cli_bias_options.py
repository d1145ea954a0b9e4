"""review pool --bias with R meta's limits and metafor's regtest variants: --bias-model,
--bias-predictor, --bias-min-k (and the same keys in review.toml's [analysis]).
Gold: tests/reference/r2/f6_regtest.json (metafor 3.8-1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from files import review_toml
from metareview.cli import cli

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "reference" / "data"
BCG = DATA / "bcg.csv"  # k = 13, the dat.bcg of the f6 gold
NORMAND = DATA / "normand1999.csv"  # k = 9
GOLD = {c["id"]: c for c in json.loads(
    (ROOT / "tests" / "reference" / "r2" / "f6_regtest.json").read_text(encoding="utf-8"))["cases"]}

pytestmark = pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")


def pool(*args: str | Path) -> Any:
    result = CliRunner().invoke(cli, ["pool", *map(str, args)])
    return result


def bias_json(*args: str | Path) -> dict[str, Any]:
    result = pool(*args, "--bias", "--to", "json")
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.stdout)["bias"]
    return out


@pytest.mark.parametrize(("options", "case"), [
    ((), "f6_bcg_rma_sei"),
    (("--bias-model", "lm"), "f6_bcg_lm_sei"),
    (("--bias-predictor", "sqrtninv"), "f6_bcg_rma_sqrtninv"),
    (("--bias-model", "LM", "--bias-predictor", "sqrtninv"), "f6_bcg_lm_sqrtninv"),
    (("--method", "FE", "--bias-predictor", "sqrtninv"), "f6_bcg_fe_sqrtninv"),
    (("--test", "knha"), "f6_bcg_knha_sei"),
])
def test_variants_match_metafor(options: tuple[str, ...], case: str) -> None:
    bias = bias_json(BCG, "--measure", "RR", *options)
    gold = GOLD[case]["outputs"]
    assert bias["egger_z"] == pytest.approx(gold.get("tval", gold.get("zval")), rel=1e-6)
    assert bias["egger_p"] == pytest.approx(gold["pval"], rel=1e-6)
    assert bias["egger_df"] == gold.get("dfs")
    assert (bias["egger_model"], bias["egger_predictor"]) == (gold["model"], gold["predictor"])


def test_classic_egger_in_words() -> None:
    result = pool(BCG, "--measure", "RR", "--bias", "--bias-model", "lm")
    assert result.exit_code == 0, result.output
    assert ("Egger's regression test (classic Egger test, weighted least squares): "
            "t(11) = -1.401, p = 0.1887") in result.stdout
    result = pool(BCG, "--measure", "RR", "--bias", "--bias-predictor", "sqrtninv")
    assert "Egger's regression test (predictor 1/sqrt(n)): z = -1.836" in result.stdout


def test_fewer_than_ten_studies_are_refused_by_default() -> None:
    bias = bias_json(NORMAND, "--measure", "MD")
    assert bias["egger_z"] is None and bias["begg_tau"] is None and bias["trimfill"] is None
    assert bias["min_k"] == 10
    assert any("not run: 9 studies, fewer than 10; lower --bias-min-k" in n
               for n in bias["notes"])
    assert any("should be used only when there are at least 10 studies" in n
               for n in bias["notes"])
    text = pool(NORMAND, "--measure", "MD", "--bias").stdout
    assert "Egger's regression test" not in text
    assert "lower --bias-min-k to run them anyway" in text


def test_bias_min_k_runs_them_and_keeps_the_note() -> None:
    bias = bias_json(NORMAND, "--measure", "MD", "--bias-min-k", "9")
    assert bias["egger_z"] is not None and bias["begg_tau"] is not None
    assert bias["min_k"] == 9
    assert any("should be used only when there are at least 10 studies" in n
               for n in bias["notes"])
    assert not any("fewer than" in n for n in bias["notes"])


def test_peters_predictor_without_sample_sizes_is_refused_with_metafor_reason(
        tmp_path: Path) -> None:
    sheet = tmp_path / "generic.csv"
    sheet.write_text("study,yi,vi\n" + "".join(
        f"S{i},{0.1 * i},{0.01 * i}\n" for i in range(1, 11)), encoding="utf-8")
    bias = bias_json(sheet, "--bias-predictor", "sqrtninv")
    assert bias["egger_z"] is None
    assert ("Egger's test not run: No sample size information available to use this "
            "predictor.") in bias["notes"]
    assert bias["begg_tau"] is not None  # the other tests still run


@pytest.mark.parametrize(("args", "message"), [
    (("--bias-model", "lm"), "--bias-model applies only to the small-study tests — add --bias"),
    (("--bias-min-k", "5", "--bias-predictor", "vi"),
     "--bias-predictor, --bias-min-k apply only to the small-study tests"),
    (("--bias", "--bias-model", "glm"), "unknown --bias-model 'glm' — choose one of: rma, lm"),
    (("--bias", "--bias-predictor", "n"), "unknown --bias-predictor 'n'"),
    (("--bias", "--bias-min-k", "0"), "--bias-min-k 0 is not a whole number of 1 or more"),
])
def test_bad_bias_options_are_clear_errors(args: tuple[str, ...], message: str,
                                           tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = pool(BCG, "--measure", "RR", *args, "-o", out)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_help_shows_the_options_with_examples() -> None:
    text = CliRunner().invoke(cli, ["pool", "--help"]).output
    for option in ("--bias-model", "--bias-predictor", "--bias-min-k", "--bias-model lm"):
        assert option in text


def test_review_toml_takes_the_bias_settings(tmp_path: Path) -> None:
    from metareview.config import load_config

    path = review_toml(tmp_path / "r",
                        'bias_model = "lm"\nbias_predictor = "sqrtninv"\nbias_min_k = 5\n')
    analysis = load_config(path).analysis
    assert (analysis.bias_model, analysis.bias_predictor, analysis.bias_min_k) == (
        "lm", "sqrtninv", 5)
    assert analysis.bias


def test_review_toml_bad_bias_setting_is_reported_at_its_line(tmp_path: Path) -> None:
    from metareview.config import load_config
    from metareview.errors import ValidationError

    path = review_toml(tmp_path / "r", 'bias_model = "glm"\n')
    line = path.read_text(encoding="utf-8").splitlines().index('bias_model = "glm"') + 1
    with pytest.raises(ValidationError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.location == f"{path}:{line}"
    assert "unknown bias-model 'glm'" in problem.message


def test_report_methods_name_the_variant_or_say_why_not_run() -> None:
    from metareview.config import load_config
    from metareview.poolrun import PoolOptions, run_pool
    from metareview.prisma import FullText, PrismaCounts
    from metareview.report import ReportContent, characteristics, to_markdown
    from metareview.sheets.extraction import read_extraction

    counts = PrismaCounts.from_pipeline(identified={"PubMed": 3}, duplicates=1,
                                        screening=["include", "exclude"],
                                        full_text=[FullText(True, "include")])
    config = load_config(ROOT / "data" / "example-review")

    def methods(path: Path, **options: Any) -> str:
        studies = read_extraction(path)
        report = run_pool(studies, PoolOptions(bias=True, **options))
        return to_markdown(ReportContent(config, counts, report, characteristics(studies)), {})

    text = methods(BCG, measure="RR", bias_model="lm", bias_predictor="sqrtninv")
    assert ("(classic Egger test, weighted least squares, predictor 1/sqrt(n)), Begg's rank "
            "correlation test") in text
    text = methods(NORMAND, measure="MD")
    assert "Small-study tests were not run (Only 9 studies" in text
    assert "Small-study effects were examined" not in text
