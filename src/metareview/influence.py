r"""Leave-one-out influence diagnostics and Baujat plot coordinates (metafor's ``influence()``
and ``baujat()`` for ``rma.uni`` fits).

For each study *i* the model is refitted without it (same τ² estimator and test), giving
:math:`\hat\beta_{(-i)}`, :math:`V_{(-i)}`, :math:`\hat\tau^2_{(-i)}`, :math:`Q_{E(-i)}` and
:math:`s^2_{w(-i)}` (1 unless Knapp–Hartung). With :math:`w_j = 1/(v_j+\hat\tau^2)` of the full
fit, :math:`H = X(X'WX)^{-1}X'W` and :math:`\hat y_{(-i)} = x_i'\hat\beta_{(-i)}`:

* ``rstudent``: :math:`(y_i-\hat y_{(-i)}) / \sqrt{s^2_{w(-i)}(v_i+\hat\tau^2_{(-i)}) +
  x_i'V_{(-i)}x_i}` (externally studentized residual);
* ``dffits``: :math:`(x_i'\hat\beta-\hat y_{(-i)}) /
  \sqrt{s^2_{w(-i)}\,h_{ii}\,(\hat\tau^2_{(-i)}+v_i)}`;
* ``cook_d``: :math:`(\hat\beta-\hat\beta_{(-i)})'V^{-1}(\hat\beta-\hat\beta_{(-i)})`;
* ``cov_r``: :math:`\det V_{(-i)}/\det V`;
* ``dfbetas``: :math:`(\hat\beta-\hat\beta_{(-i)}) / \sqrt{s^2_{w(-i)}\,\mathrm{diag}
  (X'W_{(-i)}X)^{-1}}` with :math:`W_{(-i)}` the full data weighted with :math:`\hat\tau^2_{(-i)}`;
* ``hat`` :math:`h_{ii}`, ``weight`` :math:`100\,w_i/\sum w`.

A study is flagged influential (metafor's ``inf`` column, ``*``) when
:math:`|\text{DFFITS}| > 3\sqrt{p/(k-p)}`, or :math:`P(\chi^2_p \le D_i) > 0.5` for Cook's
distance, or :math:`h_{ii} > 3p/k`, or any :math:`|\text{DFBETAS}| > 1` (Viechtbauer &
Cheung 2010). Baujat et al. (2002): :math:`x_i = (y_i - x_i'\hat\beta)^2/(v_i+\hat\tau^2)`
(contribution to heterogeneity), :math:`y_i = (\hat y_{(-i)} - x_i'\hat\beta)^2 /
x_i'V_{(-i)}x_i` (influence on the result).

References
----------
Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for meta-analysis.
    Res Synth Methods 1:112-125.
Baujat B, Mahé C, Pignon J-P, Hill C (2002). A graphical method for exploring heterogeneity in
    meta-analyses: application to a meta-analysis of 65 trials. Stat Med 21:2641-2652.
Belsley DA, Kuh E, Welsch RE (1980). Regression Diagnostics. Wiley.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import EstimationError, InputError, ReviewWarning
from .jsonsafe import plain
from .meta import num

__all__ = ["InfluenceResult", "influence"]

Float = NDArray[np.float64]

#: Columns of the influence table, metafor's names → ours.
COLUMNS = {"rstudent": "rstudent", "dffits": "dffits", "cook.d": "cook_d", "cov.r": "cov_r",
           "tau2.del": "tau2_del", "QE.del": "qe_del", "hat": "hat", "weight": "weight"}


@dataclass(frozen=True)
class InfluenceResult:
    """Leave-one-out diagnostics, one entry per study used (metafor ``influence(fit)``).

    ``dfbetas`` maps each coefficient name to its DFBETAS per study; ``influential`` is
    metafor's ``is.infl``; ``baujat_x``/``baujat_y`` are the coordinates of ``baujat(fit)``.
    Values of a study whose leave-one-out fit fails are NaN, with the reason in ``notes``.
    """

    labels: tuple[str, ...]
    rstudent: tuple[float, ...]
    dffits: tuple[float, ...]
    cook_d: tuple[float, ...]
    cov_r: tuple[float, ...]
    tau2_del: tuple[float, ...]
    qe_del: tuple[float, ...]
    hat: tuple[float, ...]
    weight: tuple[float, ...]
    dfbetas: dict[str, tuple[float, ...]]
    influential: tuple[bool, ...]
    baujat_x: tuple[float, ...]
    baujat_y: tuple[float, ...]
    coef_names: tuple[str, ...]
    method: str
    test: str
    k: int
    p: int
    notes: tuple[str, ...] = field(default=())

    def rows(self) -> list[dict[str, Any]]:
        """One dict per study: ``study``, the columns, ``dfbetas_<coef>``, ``influential``,
        ``baujat_x``, ``baujat_y``, ``note``."""
        out = []
        for i, label in enumerate(self.labels):
            row: dict[str, Any] = {"study": label}
            row |= {name: getattr(self, name)[i] for name in COLUMNS.values()}
            row |= {f"dfbetas_{c}": v[i] for c, v in self.dfbetas.items()}
            row |= {"influential": self.influential[i], "baujat_x": self.baujat_x[i],
                    "baujat_y": self.baujat_y[i], "note": self.notes[i] if self.notes else ""}
            out.append(row)
        return out

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-safe values (NaN becomes None)."""
        out: dict[str, Any] = plain({f.name: getattr(self, f.name) for f in fields(self)})
        return out

    def __str__(self) -> str:
        head = ["study", "rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat",
                "weight", *(f"dfbs.{c}" for c in self.coef_names), "inf"]
        body = [[r["study"], *(num(r[c], 4) for c in COLUMNS.values()),
                 *(num(r[f"dfbetas_{c}"], 4) for c in self.coef_names),
                 "*" if r["influential"] else ""] for r in self.rows()]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
        lines = ["  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w)
                           for j, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
                 for row in [head, *body]]
        title = (f"Influence diagnostics (leave-one-out refits, {self.method} estimator, "
                 f"{self.test} test; * = influential)")
        return "\n".join([title, *lines])


def influence(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    mods: ArrayLike | str | None = None,
    data: Mapping[str, Sequence[Any]] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    labels: Sequence[str] | None = None,
) -> InfluenceResult:
    r"""Influence diagnostics of a random- (or fixed-) effects model, as metafor's
    ``influence(rma(yi, vi, mods = mods, method = method, test = test))`` and ``baujat()``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (studies with a missing value are left out).
    mods : array_like or str, optional
        Moderator columns (one per column, an intercept is added), or an R-style formula
        such as ``"~ ablat + alloc"`` coded from ``data`` (as :func:`metareview.metareg`);
        none for the pooled model.
    data : mapping of str to sequence, optional
        The columns a formula names, one value per study.
    method, test, level
        As :func:`metareview.meta.pool` (the leave-one-out fits use the same).
    labels : sequence of str, optional
        Study names.

    Returns
    -------
    InfluenceResult

    Raises
    ------
    EstimationError
        k = 1 (metafor: "Stopped because k = 1."), or when the full model cannot be fitted.

    Examples
    --------
    >>> res = influence([0.1, 0.3, 0.35, 0.6, 1.4], [0.02, 0.03, 0.01, 0.04, 0.02], method="DL")
    >>> [lab for lab, flag in zip(res.labels, res.influential) if flag]
    ['Study 5']
    """
    from .formula import model_frame
    from .metareg import fit_design

    y = np.atleast_1d(np.asarray(yi, dtype=np.float64))
    v = np.atleast_1d(np.asarray(vi, dtype=np.float64))
    k_all = y.size
    names = list(labels) if labels is not None else [f"Study {i + 1}" for i in range(k_all)]
    if v.size != k_all or len(names) != k_all:
        raise InputError("yi, vi and labels must have one value per study")
    X = np.ones((k_all, 1))
    coef_names: tuple[str, ...] = ("intrcpt",)
    if isinstance(mods, str):
        frame = model_frame(mods, data or {})
        X, coef_names = frame.matrix, frame.coef_names
    elif mods is not None:
        m = np.asarray(mods, dtype=np.float64)
        m = m[:, None] if m.ndim == 1 else m
        X = np.column_stack([X, m])
        coef_names += tuple(f"mod{j + 1}" for j in range(m.shape[1]))
    keep = np.isfinite(y) & np.isfinite(v) & np.all(np.isfinite(X), axis=1)
    if not keep.all():
        warnings.warn("studies with missing values left out of the influence diagnostics: "
                      + ", ".join(n for n, ok in zip(names, keep, strict=True) if not ok),
                      ReviewWarning, stacklevel=2)
    y, v, X = y[keep], v[keep], X[keep]
    names = [n for n, ok in zip(names, keep, strict=True) if ok]
    k, p = X.shape
    if k == 1:
        raise EstimationError("Stopped because k = 1.", hint="influence needs two or more studies")

    def fit(rows: NDArray[np.bool_]) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ReviewWarning)
            return fit_design(y[rows], v[rows], X[rows], coef_names, method=method, test=test,
                              level=level)

    full = fit(np.ones(k, dtype=bool))
    beta, vb = np.asarray(full.beta), np.asarray(full.vb)
    w = 1 / (v + full.tau2)
    hat = np.einsum("ij,ji->i", X @ np.linalg.inv(X.T @ (w[:, None] * X)), X.T * w)
    pred = X @ beta
    out = {name: np.full(k, math.nan) for name in
           ("dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "delpred", "vdelpred", "s2w")}
    dfbs = np.full((k, p), math.nan)
    notes = [""] * k
    vb_inv = np.linalg.inv(vb)
    for i in range(k):
        rows = np.arange(k) != i
        try:
            res = fit(rows)
        except EstimationError as exc:
            notes[i] = exc.message
            continue
        b_del, vb_del = np.asarray(res.beta), np.asarray(res.vb)
        xi = X[i]
        out["tau2_del"][i], out["qe_del"][i], out["s2w"][i] = res.tau2, _nan(res.qe), res.s2w
        out["delpred"][i] = xi @ b_del
        out["vdelpred"][i] = xi @ vb_del @ xi
        out["dffits"][i] = (pred[i] - out["delpred"][i]) / math.sqrt(
            res.s2w * hat[i] * (res.tau2 + v[i]))
        w_del = 1 / (v + res.tau2)
        vb_full_del = np.linalg.inv(X.T @ (w_del[:, None] * X))
        dfb = beta - b_del
        dfbs[i] = dfb / np.sqrt(res.s2w * np.diag(vb_full_del))
        out["cook_d"][i] = dfb @ vb_inv @ dfb
        out["cov_r"][i] = np.linalg.det(vb_del) / np.linalg.det(vb)
    resid = y - out["delpred"]
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    rstudent = resid / np.sqrt(v * out["s2w"] + out["vdelpred"] + out["tau2_del"] * out["s2w"])
    from scipy import special

    with np.errstate(invalid="ignore"):
        flagged = ((np.abs(out["dffits"]) > 3 * math.sqrt(p / (k - p)) if k > p
                    else np.zeros(k, dtype=bool))
                   | (special.chdtr(p, out["cook_d"]) > 0.5)
                   | (hat > 3 * p / k)
                   | np.any(np.abs(dfbs) > 1, axis=1))
    return InfluenceResult(
        labels=tuple(names), rstudent=_t(rstudent), dffits=_t(out["dffits"]),
        cook_d=_t(out["cook_d"]), cov_r=_t(out["cov_r"]), tau2_del=_t(out["tau2_del"]),
        qe_del=_t(out["qe_del"]), hat=_t(hat), weight=_t(100 * w / w.sum()),
        dfbetas={c: _t(dfbs[:, j]) for j, c in enumerate(coef_names)},
        influential=tuple(bool(f) for f in flagged),
        baujat_x=_t((y - pred) ** 2 / (v + full.tau2)),
        baujat_y=_t((out["delpred"] - pred) ** 2 / out["vdelpred"]),
        coef_names=coef_names, method=full.method, test=full.test, k=k, p=p,
        notes=tuple(notes),
    )


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _t(values: Float) -> tuple[float, ...]:
    return tuple(float(x) for x in values)
