"""Meta-regression for ``review pool --mods``: the fit on the sheet's columns, predictions at
``--predict`` points back-transformed to the natural scale, and how they are printed.

The model is :func:`metareview.metareg.metareg` with the formula coded by
:mod:`metareview.formula`; τ² estimator, test and level are those of the pooled model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OptionError
from .formula import parse_formula, parse_pairs
from .jsonsafe import plain
from .meta import Prediction, num
from .metareg import MetaRegResult


@dataclass(frozen=True)
class PointPrediction:
    """The fitted value at one ``--predict`` point, on the model scale and back-transformed
    to the natural scale (``se`` NaN there, as metafor)."""

    point: Mapping[str, str]
    model: Prediction
    natural: Prediction


@dataclass(frozen=True)
class MetaRegression:
    """The ``--mods`` block of a pool report: the formula, the fitted model (its ``frame``
    holds each study's coded moderators, in sheet order) and the predictions."""

    formula: str
    fit: MetaRegResult
    predictions: tuple[PointPrediction, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        fit = self.fit
        coefficients = [
            {"name": n, "estimate": b, "se": s, "zval": z, "pval": p, "ci_lb": lb, "ci_ub": ub}
            for n, b, s, z, p, lb, ub in zip(fit.coef_names, fit.beta, fit.se, fit.zval,
                                              fit.pval, fit.ci_lb, fit.ci_ub, strict=True)]
        out = {"formula": self.formula, "k": fit.k, "method": fit.method, "test": fit.test,
               "coefficients": coefficients, "tau2": fit.tau2, "se_tau2": fit.se_tau2,
               "i2": fit.i2, "h2": fit.h2, "r2": fit.r2, "qe": fit.qe, "qe_df": fit.qe_df,
               "qe_p": fit.qe_p, "qm": fit.qm, "qm_df": list(fit.qm_df), "qm_p": fit.qm_p,
               "levels": {k: list(v) for k, v in (fit.frame.levels if fit.frame else {}).items()},
               "predictions": [{"point": dict(p.point), **p.model.to_dict(),
                                "natural": p.natural.to_dict()} for p in self.predictions]}
        cleaned: dict[str, Any] = plain(out)
        return cleaned


def moderator_columns(formula: str) -> list[str]:
    """The sheet columns a formula uses (so the sheet reader can check they exist)."""
    return list(dict.fromkeys(v for term in parse_formula(formula) for v in term))


def parse_point(text: str) -> dict[str, str]:
    """``"year=2000, region=Europe"`` → ``{"year": "2000", "region": "Europe"}``."""
    return dict(parse_pairs(text, "--predict",
                            'give moderator=value pairs, e.g. "year=2000,region=Europe"'))


def fit_moderators(yi: np.ndarray, vi: np.ndarray, columns: Mapping[str, Sequence[Any]],
                   formula: str, points: Sequence[str], *, method: str, test: str,
                   level: float, measure: str, ni: np.ndarray | None) -> MetaRegression:
    """Fit ``formula`` to the studies and predict at ``points`` (``--predict`` texts),
    back-transformed by ``measure`` (``ni``: the study sizes, for PFT's harmonic mean)."""
    from .effects import MODEL_SCALE, natural_scale, transform_for
    from .metareg import metareg

    if method == "GLMM":
        raise OptionError("--mods is not available with --method GLMM",
                          hint="run the meta-regression with an inverse-variance method "
                               "such as REML")
    fit = metareg(yi, vi, formula, data=columns, method=method, test=test, level=level)
    parsed = [parse_point(p) for p in points]
    back = transform_for(measure, ni)
    predictions = []
    if parsed:
        pred = fit.predict(parsed)
        for i, point in enumerate(parsed):
            values = (pred.pred[i], pred.ci_lb[i], pred.ci_ub[i], pred.pi_lb[i], pred.pi_ub[i])
            est, lb, ub, plb, pub = (float(x) for x in back(np.array(values)))
            model = Prediction(values[0], pred.se[i], values[1], values[2], values[3],
                               values[4], scale=MODEL_SCALE[measure], transformed=False,
                               ddf=fit.ddf or math.nan)
            natural = Prediction(est, math.nan, lb, ub, plb, pub, scale=natural_scale(measure),
                                 transformed=True, ddf=fit.ddf or math.nan)
            predictions.append(PointPrediction(point, model, natural))
    return MetaRegression(formula, fit, tuple(predictions))


def text_lines(block: MetaRegression, natural: str, digits: int) -> list[str]:
    """The meta-regression section of the text report."""
    from .poolrun import p_text

    def cell(p: float) -> str:
        return p_text(p).removeprefix("p = ").replace("p < ", "<")

    fit = block.fit
    stat = "t" if fit.ddf is not None else "z"
    lines = [f"Meta-regression (mixed-effects model, ~ {block.formula.lstrip('~ ')}; "
             f"k = {fit.k}; {fit.method} estimator; "
             f"{'Knapp-Hartung t and F tests' if fit.ddf is not None else 'z and QM tests'})"]
    width = max(len(n) for n in fit.coef_names)
    lines.append(f"  {'':{width}}  estimate       se  {stat} value        p    {fit.level:g}% CI")
    for i, name in enumerate(fit.coef_names):
        lines.append(f"  {name:{width}}  {num(fit.beta[i], 4):>8}  {num(fit.se[i], 4):>7}  "
                     f"{num(fit.zval[i], 3):>7}  {cell(fit.pval[i]):>7}  "
                     f"[{num(fit.ci_lb[i], 4)}, {num(fit.ci_ub[i], 4)}]")
    if fit.ddf is None:
        lines.append(f"  Test of moderators: QM({fit.qm_df[0]}) = {fit.qm:.2f}, "
                     f"{p_text(fit.qm_p)}")
    else:
        lines.append(f"  Test of moderators: F({fit.qm_df[0]}, {fit.qm_df[1]}) = {fit.qm:.2f}, "
                     f"{p_text(fit.qm_p)}")
    if fit.qe is not None:
        lines.append(f"  Residual heterogeneity: QE({fit.qe_df}) = {fit.qe:.2f}, "
                     f"{p_text(fit.qe_p)}; tau² = {num(fit.tau2, 4)}; "
                     f"I² = {num(fit.i2, 1)}%")
    if fit.r2 is not None:
        lines.append(f"  R² (heterogeneity accounted for) = {num(fit.r2, 1)}%")
    if fit.frame is not None and fit.frame.levels:
        refs = ", ".join(f"{k} = {v[0]}" for k, v in fit.frame.levels.items())
        lines.append(f"  Reference levels: {refs}")
    for p in block.predictions:
        at = ", ".join(f"{k} = {v}" for k, v in p.point.items())
        n = p.natural
        lines.append(f"  Predicted {natural} at {at}: {num(n.pred, digits)} "
                     f"[{num(n.ci_lb, digits)}, {num(n.ci_ub, digits)}], "
                     f"PI [{num(n.pi_lb, digits)}, {num(n.pi_ub, digits)}]")
    return lines


def table_rows(block: MetaRegression) -> tuple[list[str], list[list[Any]]]:
    """Coefficients then predictions as one table for CSV/XLSX/Markdown outputs."""
    fit = block.fit
    head = ["term", "estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "pi_lb", "pi_ub"]
    rows: list[list[Any]] = [
        [n, b, s, z, p, lb, ub, None, None]
        for n, b, s, z, p, lb, ub in zip(fit.coef_names, fit.beta, fit.se, fit.zval, fit.pval,
                                          fit.ci_lb, fit.ci_ub, strict=True)]
    rows.append([f"test of moderators: {'QM' if fit.ddf is None else 'F'}"
                 f"{tuple(d for d in fit.qm_df if d is not None)}", fit.qm, None, None,
                 fit.qm_p, None, None, None, None])
    for p in block.predictions:
        at = ", ".join(f"{k}={v}" for k, v in p.point.items())
        n = p.natural
        rows.append([f"predicted at {at} (natural scale)", n.pred, None, None, None, n.ci_lb,
                     n.ci_ub, n.pi_lb, n.pi_ub])
    return head, rows
