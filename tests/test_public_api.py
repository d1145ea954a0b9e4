"""The top-level API the README and docstrings promise: metareview.pool, pool_proportions,
escalc and metareg, imported only on first use."""

from __future__ import annotations

import subprocess
import sys
from importlib import import_module

import pytest

import metareview
from metareview import effects, meta


def test_top_level_names_are_the_engine_functions() -> None:
    assert metareview.pool is meta.pool
    assert metareview.pool_proportions is meta.pool_proportions
    assert metareview.escalc is effects.escalc
    assert metareview.metareg is import_module("metareview.metareg").metareg
    for name in ("pool", "pool_proportions", "escalc", "metareg"):
        assert name in metareview.__all__


def test_top_level_api_works_end_to_end() -> None:
    xi = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
    ni = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
    es = metareview.escalc("PLO", xi=xi, ni=ni)
    fit = metareview.pool(es.yi, es.vi, measure="PLO")
    # metafor 3.8-1: rma(yi, vi, data=escalc("PLO", xi, ni, data=dat.pritz1997))
    assert round(fit.estimate, 4) == 1.1389 and round(fit.tau2, 4) == 0.3646
    assert metareview.pool_proportions(xi, ni).estimate == pytest.approx(fit.estimate)
    reg = metareview.metareg(es.yi, es.vi, ni, names=["n"])
    assert reg.coef_names == ("intrcpt", "n")


def test_metareg_is_the_function_even_when_its_module_was_imported_first() -> None:
    # importing a submodule sets it as an attribute of the package; the function must win
    code = (
        "from metareview.bias import regtest; import metareview, metareview.metareg; "
        "print(callable(metareview.metareg), type(metareview.metareg).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "function"]


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'pooled'"):
        _ = metareview.pooled  # type: ignore[attr-defined]


def test_import_stays_light() -> None:
    code = (
        "import sys, metareview; "
        "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_mh_peto_influence_and_prediction_interval_at_the_top_level() -> None:
    import metareview.influence  # the submodule import must not hide the function
    from metareview import mh, predint

    assert metareview.pool_mh is mh.pool_mh and metareview.pool_peto is mh.pool_peto
    assert metareview.prediction_interval is predint.prediction_interval
    assert callable(metareview.influence)
    assert metareview.influence is import_module("metareview.influence").influence
    res = metareview.influence([0.1, 0.3, 0.35, 0.6, 1.4], [0.02, 0.03, 0.01, 0.04, 0.02],
                               method="DL")
    assert res.influential[-1] and not any(res.influential[:-1])
    for name in ("pool_mh", "pool_peto", "influence", "prediction_interval"):
        assert name in metareview.__all__
