"""Mixed-effects meta-regression (metafor's ``rma(yi, vi, mods=...)``).

Used by Egger's regression test (:func:`metareview.bias.regtest`) and the common-τ² test of
subgroup differences (:func:`metareview.subgroups.subgroup_analysis`), and usable on its own.
No file I/O: everything works on in-memory arrays.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # not scipy.stats: its import alone costs ~1 s

from .errors import EstimationError, OptionError, ReviewWarning
from .formula import ModelFrame, model_frame
from .jsonsafe import plain
from .meta import METHODS, TESTS, check_choice, tau2_search_max, uniroot

__all__ = ["MetaRegPrediction", "MetaRegResult", "WaldTest", "metareg"]

# metafor's rma() control defaults
_THRESHOLD = 1e-5
_MAXITER = 100
_TOL = float(np.finfo(float).eps) ** 0.25

Float = NDArray[np.float64]


@dataclass(frozen=True)
class MetaRegResult:
    """A fitted meta-regression model ``y_i = x_i'β + u_i + e_i``, ``u_i ~ N(0, τ²)``.

    Field names follow metafor: ``beta`` (coefficients), ``se``, ``zval`` (t statistic for
    ``test="knha"``), ``pval``, ``ci_lb``/``ci_ub``, ``tau2`` (residual heterogeneity) with
    ``se_tau2``, ``i2``/``h2`` (residual), ``r2`` (% of τ² accounted for, ``None`` when not
    defined), ``qe``/``qe_df``/``qe_p`` (residual heterogeneity test), ``qm``/``qm_df``/``qm_p``
    (omnibus test of the moderators: χ² with ``qm_df[0]`` df for ``z``, F with ``qm_df`` for
    ``knha``), ``ddf`` (t df, ``None`` for ``z``), ``vt`` (typical within-study variance),
    ``s2w`` (Knapp–Hartung scale factor, 1 for ``z``).
    """

    coef_names: tuple[str, ...]
    beta: tuple[float, ...]
    se: tuple[float, ...]
    zval: tuple[float, ...]
    pval: tuple[float, ...]
    ci_lb: tuple[float, ...]
    ci_ub: tuple[float, ...]
    vb: tuple[tuple[float, ...], ...]
    tau2: float
    se_tau2: float | None
    i2: float | None
    h2: float | None
    r2: float | None
    qe: float | None
    qe_df: int
    qe_p: float | None
    qm: float
    qm_df: tuple[int, int | None]
    qm_p: float
    k: int
    p: int
    vt: float | None
    s2w: float
    ddf: int | None
    ll_ml: float
    ll_reml: float
    method: str
    test: str
    level: float
    frame: ModelFrame | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary of every field but ``frame`` (NaN and infinities
        become None)."""
        out: dict[str, Any] = plain(
            {f.name: getattr(self, f.name) for f in fields(self) if f.name != "frame"})
        return out

    def confidence_interval(self) -> tuple[tuple[float, float], ...]:
        """``(ci_lb, ci_ub)`` of each coefficient, in ``coef_names`` order."""
        return tuple(zip(self.ci_lb, self.ci_ub, strict=True))

    def predict(self, newmods: ArrayLike | Sequence[Mapping[str, Any]]) -> MetaRegPrediction:
        r"""Fitted values at new moderator values (metafor ``predict(fit, newmods=)``).

        ``newmods`` holds one row per point and one column per non-intercept coefficient;
        a model fitted from a formula also takes the points as mappings of moderator values,
        ``[{"ablat": 20, "alloc": "random"}]``, coded as the fit was. With :math:`x_0` the row
        with a leading 1: :math:`\hat y_0 = x_0'\hat\beta`,
        :math:`se = \sqrt{x_0' V_\beta x_0}`, the CI :math:`\hat y_0 \pm c\,se` and the
        prediction interval :math:`\hat y_0 \pm c\sqrt{se^2 + \hat\tau^2}`, where :math:`c`
        is the normal quantile, or the t(k−p) quantile under Knapp–Hartung, as metafor does.
        """
        points = list(newmods) if isinstance(newmods, Sequence) else []
        if self.frame is not None and points and all(isinstance(p, Mapping) for p in points):
            rows = self.frame.rows(points)
        else:
            rows = np.asarray(newmods, dtype=float)
        if rows.ndim == 1:
            rows = rows[None, :] if self.p > 2 or rows.size != 1 else rows[:, None]
        if rows.ndim != 2 or rows.shape[1] != self.p - 1:
            raise OptionError(
                f"newmods needs {self.p - 1} value(s) per point, one per moderator coefficient",
                hint=f"coefficients: {', '.join(self.coef_names[1:])}",
            )
        X0 = np.column_stack([np.ones(len(rows)), rows])
        vb = np.array(self.vb)
        pred = X0 @ np.array(self.beta)
        se = np.sqrt(np.einsum("ij,jk,ik->i", X0, vb, X0))
        crit = self._crit()
        pi_half = crit * np.sqrt(se**2 + self.tau2)
        return MetaRegPrediction(
            tuple(map(float, pred)), tuple(map(float, se)),
            tuple(map(float, pred - crit * se)), tuple(map(float, pred + crit * se)),
            tuple(map(float, pred - pi_half)), tuple(map(float, pred + pi_half)),
        )

    def wald_test(self, coefs: Sequence[str]) -> WaldTest:
        r"""Omnibus test that the named coefficients are all zero (metafor ``anova(fit, btt=)``).

        :math:`Q_M = \hat\beta_b' V_b^{-1} \hat\beta_b`, χ² with m df; under Knapp–Hartung
        :math:`F = Q_M/m` with (m, k−p) df.
        """
        unknown = [c for c in coefs if c not in self.coef_names]
        if unknown or not coefs:
            raise OptionError(f"no coefficient {', '.join(unknown) or '(none given)'}",
                              hint=f"coefficients: {', '.join(self.coef_names)}")
        btt = [self.coef_names.index(c) for c in dict.fromkeys(coefs)]
        b, vb = np.array(self.beta)[btt], np.array(self.vb)[np.ix_(btt, btt)]
        qm = float(b @ np.linalg.solve(vb, b))
        m = len(btt)
        if self.ddf is None:
            return WaldTest(tuple(self.coef_names[i] for i in btt), qm, (m, None),
                            float(special.chdtrc(m, qm)))
        f = qm / m
        p = float(special.fdtrc(m, self.ddf, f)) if self.ddf > 0 else math.nan
        return WaldTest(tuple(self.coef_names[i] for i in btt), f, (m, self.ddf), p)

    def _crit(self) -> float:
        alpha = 1 - self.level / 100
        if self.ddf is None:
            return -float(special.ndtri(alpha / 2))
        return -float(special.stdtrit(self.ddf, alpha / 2)) if self.ddf > 0 else math.nan

    def __str__(self) -> str:
        stat = "t" if self.ddf is not None else "z"
        lines = [
            f"Mixed-effects meta-regression (k = {self.k}; tau^2 estimator: {self.method})",
            f"tau^2 (residual heterogeneity) = {self.tau2:.4f}"
            + (f" (SE = {self.se_tau2:.4f})" if self.se_tau2 is not None else ""),
        ]
        if self.i2 is not None and self.h2 is not None:
            lines.append(f"I^2 = {self.i2:.2f}%, H^2 = {self.h2:.2f}")
        if self.r2 is not None:
            lines.append(f"R^2 (amount of heterogeneity accounted for) = {self.r2:.2f}%")
        if self.qe is not None and self.qe_p is not None:
            lines.append(f"QE(df = {self.qe_df}) = {self.qe:.4f}, p = {self.qe_p:.4g}")
        if self.ddf is None:
            lines.append(f"QM(df = {self.qm_df[0]}) = {self.qm:.4f}, p = {self.qm_p:.4g}")
        else:
            lines.append(f"F(df1 = {self.qm_df[0]}, df2 = {self.qm_df[1]}) = {self.qm:.4f}, "
                         f"p = {self.qm_p:.4g}")
        width = max(len(n) for n in self.coef_names)
        lines.append(f"{'':{width}}  estimate      se    {stat}val      pval    ci.lb    ci.ub")
        for i, name in enumerate(self.coef_names):
            lines.append(
                f"{name:{width}}  {self.beta[i]:8.4f} {self.se[i]:7.4f} {self.zval[i]:8.4f} "
                f"{self.pval[i]:9.4g} {self.ci_lb[i]:8.4f} {self.ci_ub[i]:8.4f}"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class MetaRegPrediction:
    """Fitted values at new moderator values on the model scale: ``pred``, ``se``, the CI
    (``ci_lb``, ``ci_ub``) and the prediction interval (``pi_lb``, ``pi_ub``), one entry per
    point."""

    pred: tuple[float, ...]
    se: tuple[float, ...]
    ci_lb: tuple[float, ...]
    ci_ub: tuple[float, ...]
    pi_lb: tuple[float, ...]
    pi_ub: tuple[float, ...]

    def confidence_interval(self) -> tuple[tuple[float, float], ...]:
        return tuple(zip(self.ci_lb, self.ci_ub, strict=True))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = plain(asdict(self))
        return out


@dataclass(frozen=True)
class WaldTest:
    """A test that ``coefs`` are all zero: ``qm`` is χ² with ``df[0]`` df (``df[1]`` None), or
    under Knapp–Hartung F with ``df`` = (m, k−p)."""

    coefs: tuple[str, ...]
    qm: float
    df: tuple[int, int | None]
    pval: float

    @property
    def statistic(self) -> str:
        """``QM(2)`` for the χ² test, ``F(2, 10)`` for the Knapp–Hartung F test."""
        return f"QM({self.df[0]})" if self.df[1] is None else f"F({self.df[0]}, {self.df[1]})"


def metareg(
    yi: ArrayLike,
    vi: ArrayLike,
    mods: ArrayLike | str,
    *,
    data: Mapping[str, Sequence[Any]] | None = None,
    names: Sequence[str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
) -> MetaRegResult:
    r"""Fit a mixed-effects meta-regression model with an intercept and moderators.

    Model: :math:`y_i = \beta_0 + x_i'\beta + u_i + e_i` with :math:`u_i \sim N(0, \tau^2)` and
    :math:`e_i \sim N(0, v_i)`. τ² is estimated from the residuals with the chosen method
    (metafor's estimators in their meta-regression form, with :math:`P = W - WX(X'WX)^{-1}X'W`):

    * DL: :math:`\hat\tau^2 = (Q_E - (k-p)) / \mathrm{tr}(P)` with :math:`W = \mathrm{diag}(1/v_i)`
      (DerSimonian & Laird 1986);
    * HE: :math:`(y'P_I y - \mathrm{tr}(P_I V)) / (k-p)` with ordinary least squares;
    * HS: :math:`(Q_E - k)/\sum w_i`; SJ: :math:`\tau_0^2\, y'P(\tau_0^2)y/(k-p)` with
      :math:`\tau_0^2 = \sum(y_i-\bar y)^2/k` (Sidik & Jonkman 2005);
    * PM: solve :math:`y'P(\tau^2)y = k-p` (Paule & Mandel 1982);
    * ML / REML / EB: Fisher scoring from the HE estimate, stopping at
      :math:`|\Delta\tau^2| < 10^{-5}` as metafor does (Viechtbauer 2005);

    all truncated at 0. Then :math:`\hat\beta = (X'WX)^{-1}X'Wy` with
    :math:`W = \mathrm{diag}(1/(v_i+\hat\tau^2))` and :math:`\mathrm{Var}(\hat\beta) = (X'WX)^{-1}`,
    multiplied by :math:`s^2_w = \sum w_i (y_i - x_i'\hat\beta)^2/(k-p)` for ``test="knha"``
    (Hartung & Knapp 2001; Knapp & Hartung 2003), with t(k−p) tests and an F test for the
    moderators; ``"adhoc"`` truncates :math:`s^2_w` at 1. The moderator test is
    :math:`Q_M = \hat\beta_m' V_m^{-1} \hat\beta_m` over all non-intercept coefficients.
    Residual heterogeneity :math:`Q_E` uses the fixed-effect weights; :math:`I^2 = 100\,\tau^2 /
    (\tau^2 + v_t)` with :math:`v_t = (k-p)/\mathrm{tr}(P_{FE})`; :math:`R^2` is the relative
    reduction of τ² against the same model without moderators (Raudenbush 2009).

    Parameters
    ----------
    yi, vi
        Effect sizes and their sampling variances (same length). Studies with a missing value
        in ``yi``, ``vi`` or a moderator are left out with a warning, as metafor does.
    mods
        Moderator values: one column per moderator (a 1-D array for a single moderator);
        or a formula such as ``"ablat + alloc"`` or ``"weeks * setting"`` over the columns of
        ``data``, coded as R's ``model.matrix`` codes it (text columns are factors with the
        first level in sorted order as reference; see :mod:`metareview.formula`).
    data
        With a formula: the moderator columns, name → one value per study.
    names
        Moderator names (default ``mod1``, ``mod2``, ...). The intercept is ``intrcpt``.
    method
        τ² estimator: one of ``FE, DL, HE, HS, SJ, PM, ML, REML, EB``.
    test
        ``"z"``, ``"knha"`` (Knapp–Hartung) or ``"adhoc"``.
    level
        Confidence level in percent.

    Returns
    -------
    MetaRegResult

    Raises
    ------
    EstimationError
        Too few studies for the parameters, a rank-deficient moderator matrix, non-positive
        variances with DL/HS/PM, or an iteration that does not converge.

    References
    ----------
    Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261–293.
    Knapp G, Hartung J (2003). Improved tests for a random effects meta-regression with a single
    covariate. Stat Med 22:2693–2710.
    Raudenbush SW (2009). Analyzing effect sizes: random-effects models. In Cooper H et al.
    (eds), The Handbook of Research Synthesis and Meta-Analysis, 2nd ed.

    Examples
    --------
    >>> fit = metareg([0.1, 0.3, 0.35, 0.6, 0.4], [0.02, 0.03, 0.01, 0.04, 0.02],
    ...               [1.0, 2.0, 3.0, 4.0, 5.0], names=["dose"], method="DL")
    >>> fit.coef_names
    ('intrcpt', 'dose')
    """
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if isinstance(mods, str):
        if data is None:
            raise OptionError("a moderator formula needs data", hint="pass data={column: values}")
        frame = model_frame(mods, data)
        if len(frame.matrix) != len(y):
            raise OptionError(f"yi has {len(y)} values but data {len(frame.matrix)} rows",
                              hint="give one value per study in each")
        fit = fit_design(y, v, frame.matrix, frame.coef_names, method=method, test=test,
                         level=level)
        return replace(fit, frame=frame)
    m = np.asarray(mods, dtype=float)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[1] == 0:
        raise OptionError("mods must hold at least one moderator column")
    if not (len(y) == len(v) == m.shape[0]):
        raise OptionError(
            f"yi, vi and mods have different lengths ({len(y)}, {len(v)}, {m.shape[0]})",
            hint="give one value per study in each",
        )
    mod_names = list(names) if names is not None else [f"mod{j + 1}" for j in range(m.shape[1])]
    if len(mod_names) != m.shape[1]:
        raise OptionError(f"{len(mod_names)} names given for {m.shape[1]} moderators")
    X = np.column_stack([np.ones(len(y)), m])
    return fit_design(y, v, X, ("intrcpt", *mod_names), method=method, test=test, level=level)


def fit_design(
    y: Float,
    v: Float,
    X: Float,
    coef_names: Sequence[str],
    *,
    method: str,
    test: str,
    level: float,
) -> MetaRegResult:
    """Fit the model for a design matrix ``X`` whose first column is the intercept."""
    method = check_choice(method, METHODS, "method")
    test = check_choice(test, TESTS, "test")
    if not 0 < level < 100:
        raise OptionError(f"level must be between 0 and 100 (got {level})", hint="e.g. 95")
    keep = np.isfinite(y) & np.isfinite(v) & np.all(np.isfinite(X), axis=1)
    if not keep.all():
        warnings.warn("Studies with NAs omitted from model fitting.", ReviewWarning, stacklevel=3)
        y, v, X = y[keep], v[keep], X[keep]
    if np.any(v < 0):
        raise EstimationError("negative sampling variances", hint="check vi (or sei)")
    k, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise EstimationError(
            "Model matrix not of full rank. Cannot fit model.",
            hint="drop a redundant moderator or add studies",
        )
    if (p if method == "FE" else p + 1) > k:
        raise EstimationError(
            "Number of parameters to be estimated is larger than the number of observations.",
            hint=f"k = {k} studies cannot support {p} coefficients"
            + ("" if method == "FE" else " plus tau^2"),
        )
    tau2, se_tau2 = _estimate_tau2(y, v, X, method)

    w = 1.0 / (v + tau2)
    if np.any(np.isinf(w)):
        raise EstimationError(
            "Division by zero when computing the inverse variance weights.",
            hint="a study has zero sampling variance; use a random-effects method or another "
            "measure",
        )
    vb = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = vb @ (X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    s2w = 1.0
    if test != "z":
        if method == "FE":
            warnings.warn("Knapp & Hartung method is not meant to be used in the context of FE "
                          "models.", ReviewWarning, stacklevel=3)
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        if test == "adhoc":
            s2w = max(s2w, 1.0)
    vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    btt = np.arange(1, p)
    if s2w > 0:
        zval = beta / se
        qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    else:  # knha with all residuals 0: as metafor, z = beta/0 = +-Inf (p = 0) and no QM
        with np.errstate(divide="ignore", invalid="ignore"):
            zval = beta / se
        qm = math.nan
    alpha = 1 - level / 100
    ddf: int | None = None
    if test == "z":
        qm_df: tuple[int, int | None] = (p - 1, None)
        qm_p = float(special.chdtrc(p - 1, qm))
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = -float(special.ndtri(alpha / 2))
    else:
        ddf = k - p
        qm /= p - 1
        qm_df = (p - 1, ddf)
        qm_p = float(special.fdtrc(p - 1, ddf, qm)) if ddf > 0 else math.nan
        pval = 2 * special.stdtr(ddf, -np.abs(zval)) if ddf > 0 else np.full(p, np.nan)
        crit = -float(special.stdtrit(ddf, alpha / 2)) if ddf > 0 else math.nan

    qe = qe_p = i2 = h2 = vt = None
    if np.all(v > 0):
        if k > p:
            p_fe = _p_matrix(1.0 / v, X)
            yc = y - y.mean()
            qe = max(0.0, float(yc @ p_fe @ yc))
            qe_p = float(special.chdtrc(k - p, qe))
            vt = (k - p) / float(np.trace(p_fe))
            if method == "FE":  # QE = 0 gives -Inf, so I2 = 0, as in metafor
                i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
                h2 = qe / (k - p)
            else:
                i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
        else:
            qe, qe_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    else:
        warnings.warn("Cannot compute QE-test, I^2, or H^2 when there are non-positive sampling "
                      "variances in the data.", ReviewWarning, stacklevel=3)

    ll_ml = -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * rss
    ll_reml = (
        -0.5 * (k - p) * math.log(2 * math.pi)
        + 0.5 * float(np.linalg.slogdet(X.T @ X)[1])
        - 0.5 * float(np.sum(np.log(v + tau2)))
        - 0.5 * float(np.linalg.slogdet(X.T @ (X / (v + tau2)[:, None]))[1])
        - 0.5 * rss
    )
    r2 = None
    if method != "FE":
        tau2_null, _ = _estimate_tau2(y, v, X[:, :1], method)
        r2 = 0.0 if tau2_null == 0 else max(0.0, 100 * (tau2_null - tau2) / tau2_null)

    def tup(a: Float) -> tuple[float, ...]:
        return tuple(float(x) for x in a)

    return MetaRegResult(
        coef_names=tuple(coef_names),
        beta=tup(beta),
        se=tup(se),
        zval=tup(zval),
        pval=tup(pval),
        ci_lb=tup(beta - crit * se),
        ci_ub=tup(beta + crit * se),
        vb=tuple(tup(row) for row in vb),
        tau2=tau2,
        se_tau2=se_tau2,
        i2=i2,
        h2=h2,
        r2=r2,
        qe=qe,
        qe_df=k - p,
        qe_p=qe_p,
        qm=qm,
        qm_df=qm_df,
        qm_p=qm_p,
        k=k,
        p=p,
        vt=vt,
        s2w=s2w,
        ddf=ddf,
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        method=method,
        test=test,
        level=level,
    )


def _p_matrix(w: Float, X: Float) -> Float:
    """:math:`P = W - WX(X'WX)^{-1}X'W` for weights ``w``."""
    wx = w[:, None] * X
    return np.diag(w) - wx @ np.linalg.solve(X.T @ wx, wx.T)


def _estimate_tau2(y: Float, v: Float, X: Float, method: str) -> tuple[float, float | None]:
    """τ² and its standard error, as metafor's ``rma.uni`` computes them (truncated at 0)."""
    k, p = X.shape
    if method == "FE":
        return 0.0, None
    if method in ("DL", "HS", "PM") and np.any(v <= 0):
        raise EstimationError(
            f"{method} estimator cannot be used when there are non-positive sampling variances "
            "in the data.",
            hint="use REML, ML, EB, HE or SJ, or a measure with positive variances",
        )
    yc = y - y.mean()  # metafor centres y for the τ² step (same result, better numerics)
    if method in ("DL", "HS"):
        w = 1.0 / v
        P = _p_matrix(w, X)
        rss = float(yc @ P @ yc)
        if method == "HS":
            tau2 = max(0.0, (rss - k) / w.sum())
            tr = float(np.trace(P))
            se2 = (2 * (k - p) + 4 * tau2 * tr + 2 * tau2**2 * np.sum(P * P)) / w.sum() ** 2
        else:
            tr = float(np.trace(P))
            tau2 = max(0.0, (rss - (k - p)) / tr)
            se2 = (2 * (k - p) + 4 * tau2 * tr + 2 * tau2**2 * np.sum(P * P)) / tr**2
        return tau2, math.sqrt(se2)
    if method == "SJ":
        t0 = float(np.var(y))  # var(y)·(k−1)/k
        P = _p_matrix(1.0 / (v + t0), X)
        tau2 = max(0.0, t0 * float(yc @ P @ yc) / (k - p))
        PV = P * v[None, :]
        se2 = t0**2 / (k - p) ** 2 * (
            2 * np.sum(PV * PV.T) + 4 * tau2 * np.sum(PV * P) + 2 * tau2**2 * np.sum(P * P)
        )
        return tau2, math.sqrt(se2)
    if method == "PM":
        tau2 = _paule_mandel(y, yc, v, X)
        w = 1.0 / (v + tau2)
        return tau2, math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)
    # HE, and the start of the Fisher scoring for ML/REML/EB
    P_ols = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    PV = P_ols * v[None, :]
    he = float(yc @ P_ols @ yc - np.trace(PV)) / (k - p)
    if method == "HE":
        tau2 = max(0.0, he)
        trpv = float(np.trace(PV))
        se2 = (2 * np.sum(PV * PV.T) + 4 * tau2 * trpv + 2 * tau2**2 * (k - p)) / (k - p) ** 2
        return tau2, math.sqrt(se2)
    tau2 = _fisher_scoring(yc, v, X, method, max(0.0, he))
    w = 1.0 / (v + tau2)
    if method == "ML":
        return tau2, math.sqrt(2 / np.sum(w**2))
    if method == "REML":
        P = _p_matrix(w, X)
        return tau2, math.sqrt(2 / np.sum(P * P))
    return tau2, math.sqrt(2 * k**2 / (k - p) / w.sum() ** 2)


def _fisher_scoring(yc: Float, v: Float, X: Float, method: str, tau2: float) -> float:
    """ML/REML/EB by metafor's Fisher scoring, with its step halving and stopping rule."""
    k, p = X.shape
    for _ in range(_MAXITER + 1):
        w = 1.0 / (v + tau2)
        if np.any(np.isinf(w)):
            raise EstimationError("Division by zero when computing the inverse variance weights.")
        P = _p_matrix(w, X)
        Py = P @ yc
        if method == "ML":
            adj = (Py @ Py - w.sum()) / np.sum(w**2)
        elif method == "REML":
            adj = (Py @ Py - np.trace(P)) / np.sum(P * P.T)
        else:  # EB
            adj = (yc @ Py * k / (k - p) - k) / w.sum()
        adj = 0.0 if math.isnan(adj) else float(adj)
        while tau2 + adj < 0:
            adj /= 2
        old, tau2 = tau2, tau2 + adj
        if abs(old - tau2) <= _THRESHOLD:
            break
    else:
        raise EstimationError(
            "Fisher scoring algorithm did not converge.",
            hint="try method='DL' or 'PM', or check the data for extreme values",
        )
    # metafor's check: a boundary fit at 0 beats a spurious interior optimum
    if (
        method in ("ML", "REML")
        and np.all(v > 0)
        and tau2 > _THRESHOLD
        and _loglik(yc, v, X, 0.0, method) - _loglik(yc, v, X, tau2, method) > _TOL
    ):
        warnings.warn("Fisher scoring algorithm may have gotten stuck at a local maximum. "
                      "Setting tau^2 = 0.", ReviewWarning, stacklevel=4)
        tau2 = 0.0
    return max(0.0, tau2)


def _loglik(y: Float, v: Float, X: Float, tau2: float, method: str) -> float:
    k, p = X.shape
    w = 1.0 / (v + tau2)
    xtwx = X.T @ (w[:, None] * X)
    beta = np.linalg.solve(xtwx, X.T @ (w * y))
    rss = float(np.sum(w * (y - X @ beta) ** 2))
    if method == "ML":
        return float(-0.5 * k * math.log(2 * math.pi) - 0.5 * np.sum(np.log(v + tau2)) - 0.5 * rss)
    return float(-0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * np.sum(np.log(v + tau2))
                 - 0.5 * np.linalg.slogdet(xtwx)[1] - 0.5 * rss)


def _paule_mandel(y: Float, yc: Float, v: Float, X: Float) -> float:
    """Root of the generalised Q-statistic minus its df, by Brent's method as metafor does."""
    k, p = X.shape

    def excess(t: float) -> float:
        P = _p_matrix(1.0 / (v + t), X)
        return float(yc @ P @ yc - (k - p))

    upper = tau2_search_max(y)
    if excess(0.0) < 0:
        return 0.0
    if excess(upper) > 0:
        raise EstimationError(
            "Value of 'tau2.max' too low.", hint="switch to another method (REML or DL)"
        )
    return uniroot(excess, 0.0, upper, _TOL, _MAXITER, "Paule-Mandel search for tau2")
