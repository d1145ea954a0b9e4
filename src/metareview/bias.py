"""Small-study effects and publication bias: Egger's regression test, Begg's rank
correlation and trim-and-fill (metafor ``regtest``, ``ranktest``, ``trimfill``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special  # scipy.stats is imported only by ranktest: ~1 s

from .errors import EstimationError, InputError, OptionError, ReviewWarning
from .jsonsafe import plain
from .meta import PoolResult, pool
from .metareg import MetaRegResult, fit_design

__all__ = [
    "RanktestResult",
    "RegtestResult",
    "TrimFillResult",
    "ranktest",
    "regtest",
    "trimfill",
]

Float = NDArray[np.float64]


#: Predictors of the regression test (metafor ``regtest(predictor=)``), as functions of vi, ni.
PREDICTORS: dict[str, str] = {
    "sei": "standard error",
    "vi": "sampling variance",
    "ninv": "1/n",
    "sqrtninv": "1/sqrt(n)",
}
#: The regression models of the test (metafor ``regtest(model=)``).
REGRESSIONS: dict[str, str] = {
    "rma": "mixed-effects meta-regression",
    "lm": "classic Egger test, weighted least squares",
}


@dataclass(frozen=True)
class RegtestResult:
    """Egger-type regression test for funnel-plot asymmetry.

    ``zval``/``pval`` test the slope on the ``predictor`` (a t statistic with ``ddf`` df for
    ``test="knha"`` and for ``regression="lm"``); ``limit_estimate`` and its CI are the
    intercept, the estimate for a study of infinite precision (Stanley & Doucouliagos 2014).
    ``coef``/``coef_se`` are the intercept and slope with their SEs. ``model`` is the full
    meta-regression for ``regression="rma"`` (None for ``"lm"``, whose residual standard
    error is ``sigma``; its ``method`` is ``"WLS"`` and ``test`` ``"t"``).
    """

    zval: float
    pval: float
    ddf: int | None
    limit_estimate: float
    limit_ci_lb: float
    limit_ci_ub: float
    model: MetaRegResult | None
    method: str
    test: str
    predictor: str = "sei"
    regression: str = "rma"
    coef: tuple[float, ...] = ()
    coef_se: tuple[float, ...] = ()
    sigma: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary (the model as a nested dictionary)."""
        out: dict[str, Any] = plain(asdict(self))
        return out

    def __str__(self) -> str:
        stat = f"t = {self.zval:.4f}, df = {self.ddf}" if self.ddf is not None else (
            f"z = {self.zval:.4f}")
        how = (REGRESSIONS["lm"] if self.regression == "lm"
               else f"{REGRESSIONS['rma']} ({self.method})")
        return "\n".join(
            [
                "Regression test for funnel plot asymmetry",
                f"Model: {how}, predictor: {PREDICTORS[self.predictor]}",
                f"Test for funnel plot asymmetry: {stat}, p = {self.pval:.4f}",
                f"Limit estimate (as {self.predictor} -> 0): b = {self.limit_estimate:.4f} "
                f"(CI: {self.limit_ci_lb:.4f}, {self.limit_ci_ub:.4f})",
            ]
        )


@dataclass(frozen=True)
class RanktestResult:
    """Begg & Mazumdar rank correlation test: Kendall's τ and its p-value (exact when there
    are no ties, otherwise the normal approximation; ``exact`` says which)."""

    tau: float
    pval: float
    exact: bool
    k: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary."""
        out: dict[str, Any] = plain(asdict(self))
        return out

    def __str__(self) -> str:
        how = "exact" if self.exact else "normal approximation (ties)"
        return (f"Rank correlation test for funnel plot asymmetry: Kendall's tau = "
                f"{self.tau:.4f}, p = {self.pval:.4f} ({how}; k = {self.k})")


@dataclass(frozen=True, eq=False)
class TrimFillResult:
    """Trim-and-fill: the estimated number of missing studies and the filled model.

    ``k0`` studies are estimated missing on ``side`` (``se_k0`` its standard error; ``p_k0``
    the p-value of the R0 estimator, ``None`` otherwise). ``fit`` is the model refitted to the
    observed plus the filled studies (the original model when ``k0 = 0``); ``filled_yi`` /
    ``filled_vi`` are the imputed studies, mirror images of the most extreme ones.
    """

    k0: int
    se_k0: float
    p_k0: float | None
    side: str
    estimator: str
    fit: PoolResult
    filled_yi: tuple[float, ...]
    filled_vi: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary (the filled fit as a nested dictionary)."""
        out: dict[str, Any] = plain({
            "k0": self.k0,
            "se_k0": self.se_k0,
            "p_k0": self.p_k0,
            "side": self.side,
            "estimator": self.estimator,
            "filled_yi": list(self.filled_yi),
            "filled_vi": list(self.filled_vi),
            "fit": self.fit.to_dict(),
        })
        return out

    def __str__(self) -> str:
        head = (f"Estimated number of missing studies on the {self.side} side: {self.k0} "
                f"(SE = {self.se_k0:.4f})")
        if self.p_k0 is not None:
            head += f"; test of H0 no missing studies: p = {self.p_k0:.4f}"
        return f"{head}\n\n{self.fit}"


def regtest(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    model: str = "rma",
    predictor: str = "sei",
    ni: ArrayLike | None = None,
) -> RegtestResult:
    r"""Egger's regression test for funnel-plot asymmetry (metafor ``regtest``).

    Regresses :math:`y_i` on a predictor :math:`x_i` of study precision and tests the slope
    :math:`b_1 = 0`; the intercept :math:`b_0` is the "limit estimate" for a study with
    :math:`x_i = 0`.

    * ``model="rma"`` (metafor's default): the mixed-effects meta-regression
      :math:`y_i = b_0 + b_1 x_i + u_i + e_i` (:func:`metareview.metareg.metareg`, same τ²
      estimator and test as the main analysis).
    * ``model="lm"``: the classic Egger test as R's meta package runs it, weighted least
      squares with weights :math:`1/v_i` and a multiplicative residual variance
      :math:`\hat\sigma^2 = \sum w_i r_i^2/(k-2)`, t test with k − 2 df (the same as regressing
      :math:`y_i/\sqrt{v_i}` on :math:`1/\sqrt{v_i}`, Egger et al. 1997).

    Predictors: ``"sei"`` :math:`\sqrt{v_i}` (Egger), ``"vi"``, ``"ninv"`` :math:`1/n_i`, and
    ``"sqrtninv"`` :math:`1/\sqrt{n_i}` (a Peters-type test on sample sizes; needs ``ni``).

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances.
    method, test, level
        τ² estimator, ``"z"``/``"knha"``/``"adhoc"`` and confidence level, as for the fit
        (``method`` and ``test`` are not used by ``model="lm"``).
    model
        ``"rma"`` or ``"lm"``.
    predictor
        ``"sei"``, ``"vi"``, ``"ninv"`` or ``"sqrtninv"``.
    ni
        Study sizes, for the predictors on sample size.

    Raises
    ------
    EstimationError
        With one study, when the predictor does not vary (e.g. equal variances), with k = 2
        (too few studies for two coefficients and τ², or for the t test of ``"lm"``), and for a
        sample-size predictor without sample sizes, as metafor refuses.

    References
    ----------
    Egger M, Davey Smith G, Schneider M, Minder C (1997). Bias in meta-analysis detected by a
    simple, graphical test. BMJ 315:629–634.
    Sterne JAC, Egger M (2005). Regression methods to detect publication and other bias in
    meta-analysis. In Rothstein HR et al. (eds), Publication Bias in Meta-Analysis. Wiley.
    Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L (2006). Comparison of two methods to
    detect publication bias in meta-analysis. JAMA 295:676–680.

    Examples
    --------
    Pritz (1997), logit proportions, DL: metafor ``regtest(fit)`` gives z = 2.4496,
    p = 0.0143:

    >>> from metareview.effects import escalc
    >>> es = escalc("PLO", xi=[16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    ...             ni=[17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10])
    >>> r = regtest(es.yi, es.vi, method="DL")
    >>> print(f"z = {r.zval:.4f}, p = {r.pval:.4f}")
    z = 2.4496, p = 0.0143
    """
    if model not in REGRESSIONS:
        raise OptionError(f"unknown regression model {model!r}", hint="use 'rma' or 'lm'")
    if predictor not in PREDICTORS:
        raise OptionError(f"unknown predictor {predictor!r}",
                          hint=f"use one of: {', '.join(PREDICTORS)}")
    y, v, n = _arrays(yi, vi, ni)
    if predictor in ("ninv", "sqrtninv") and (n is None or not np.all(n > 0)):
        raise EstimationError(
            "No sample size information available to use this predictor.",
            hint="give the study sizes (ni), or use the predictor 'sei'",
        )
    need = 2 if model == "rma" and method.upper() == "FE" else 3
    if y.size < need:
        raise _too_few("Egger's test", y.size, need, _FULL_RANK if y.size < 2 else _TOO_MANY)
    if predictor in ("sei", "vi"):
        x = np.sqrt(v) if predictor == "sei" else v
    else:
        assert n is not None  # checked above
        x = 1 / n if predictor == "ninv" else 1 / np.sqrt(n)
    X = np.column_stack([np.ones(y.size), x])
    if np.linalg.matrix_rank(X) < 2:
        raise EstimationError(
            _FULL_RANK,
            hint=f"the predictor ({PREDICTORS[predictor]}) does not vary; Egger's test "
            "needs studies of different precision",
        )
    if model == "lm":
        return _regtest_lm(y, v, X, predictor, level)
    fit = fit_design(y, v, X, ("intrcpt", predictor), method=method, test=test, level=level)
    return RegtestResult(
        zval=fit.zval[1],
        pval=fit.pval[1],
        ddf=fit.ddf,
        limit_estimate=fit.beta[0],
        limit_ci_lb=fit.ci_lb[0],
        limit_ci_ub=fit.ci_ub[0],
        model=fit,
        method=fit.method,
        test=fit.test,
        predictor=predictor,
        coef=fit.beta,
        coef_se=fit.se,
    )


def _regtest_lm(y: Float, v: Float, X: Float, predictor: str, level: float) -> RegtestResult:
    """Weighted least squares of y on X (weights 1/v) with the residual variance estimated:
    R's ``lm(yi ~ X, weights = 1/vi)``, t tests with k - 2 df."""
    if not 0 < level < 100:
        raise OptionError(f"level must be between 0 and 100 (got {level})", hint="e.g. 95")
    w = 1 / v
    xtwx_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    beta = xtwx_inv @ (X.T @ (w * y))
    df = y.size - 2
    sigma2 = float(np.sum(w * (y - X @ beta) ** 2)) / df
    se = np.sqrt(sigma2 * np.diag(xtwx_inv))
    with np.errstate(divide="ignore", invalid="ignore"):  # a perfect fit: t = +-Inf
        tval = beta / se
    pval = 2 * special.stdtr(df, -np.abs(tval))
    crit = -float(special.stdtrit(df, (1 - level / 100) / 2))
    return RegtestResult(
        zval=float(tval[1]),
        pval=float(pval[1]),
        ddf=df,
        limit_estimate=float(beta[0]),
        limit_ci_lb=float(beta[0] - crit * se[0]),
        limit_ci_ub=float(beta[0] + crit * se[0]),
        model=None,
        method="WLS",
        test="t",
        predictor=predictor,
        regression="lm",
        coef=(float(beta[0]), float(beta[1])),
        coef_se=(float(se[0]), float(se[1])),
        sigma=math.sqrt(sigma2),
    )


def ranktest(yi: ArrayLike, vi: ArrayLike) -> RanktestResult:
    r"""Begg and Mazumdar's rank correlation test (metafor ``ranktest``).

    Kendall's τ (τ-b) between the standardised effects
    :math:`y_i^* = (y_i - \hat\mu_{FE}) / \sqrt{v_i - 1/\sum_j w_j}` and the variances
    :math:`v_i`, with :math:`\hat\mu_{FE}` the fixed-effect estimate and :math:`w_j = 1/v_j`.
    The p-value is exact when there are no ties; with ties it uses the normal approximation
    (no continuity correction) and warns, like R's ``cor.test``.

    Raises
    ------
    EstimationError
        With fewer than 2 studies, or when all effect sizes are identical (not computable:
        their standardised deviations are rounding noise).

    References
    ----------
    Begg CB, Mazumdar M (1994). Operating characteristics of a rank correlation test for
    publication bias. Biometrics 50:1088–1101.

    Examples
    --------
    Pritz (1997), logit proportions: metafor ``ranktest(fit)`` gives tau = 0.2967,
    p = 0.1572:

    >>> from metareview.effects import escalc
    >>> es = escalc("PLO", xi=[16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    ...             ni=[17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10])
    >>> r = ranktest(es.yi, es.vi)
    >>> print(f"tau = {r.tau:.4f}, p = {r.pval:.4f}")
    tau = 0.2967, p = 0.1572
    """
    y, v, _ = _arrays(yi, vi)
    if y.size < 2:
        raise _too_few("Begg's test", y.size, 2, "not enough finite observations")
    if np.ptp(y) <= 4 * np.finfo(float).eps * float(np.max(np.abs(y))):
        # the deviations from the pooled estimate would be rounding noise, and ranking noise
        # gives a "significant" correlation (p = 0.0028 for 10 identical effects)
        raise EstimationError(
            "not computable: all effect sizes are identical, so there is no "
            "ranking of effects to correlate with their variances",
            hint="report the rank correlation test as not computable",
        )
    w = 1 / v
    theta = np.sum(w * y) / np.sum(w)
    y_star = (y - theta) / np.sqrt(v - 1 / np.sum(w))
    ties = np.unique(y_star).size < y.size or np.unique(v).size < v.size
    if ties:
        warnings.warn("Cannot compute exact p-value with ties", ReviewWarning, stacklevel=2)
    from scipy import stats

    res = stats.kendalltau(y_star, v, method="asymptotic" if ties else "exact")
    return RanktestResult(tau=float(res.statistic), pval=float(res.pvalue), exact=not ties,
                          k=int(y.size))


def trimfill(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    side: str | None = None,
    estimator: str = "L0",
    maxiter: int = 100,
    labels: Sequence[str] | None = None,
    ni: ArrayLike | None = None,
    **pool_kwargs: Any,
) -> TrimFillResult:
    r"""Duval and Tweedie's trim-and-fill method (metafor ``trimfill``), as a sensitivity
    analysis.

    The side where studies are missing is, unless given, the opposite of the sign of the
    slope in a regression of :math:`y_i` on :math:`\sqrt{v_i}` (positive slope: missing on
    the left). With the effects mirrored so that the gap is on the left and sorted, the
    algorithm iterates: fit the model to the :math:`k - k_0` least extreme studies, rank
    :math:`|y_i - \hat\mu|` over all k studies, and estimate :math:`k_0` from the sum
    :math:`S_r` of the ranks of the positive deviations:

    * L0: :math:`k_0 = (4 S_r - k(k+1)) / (2k - 1)`
    * R0: :math:`k_0 = k - r^* - 1`, :math:`r^*` the longest run of top ranks on one side
    * Q0: :math:`k_0 = k - 1/2 - \sqrt{2k^2 - 4S_r + 1/4}`

    rounded and truncated at 0, until :math:`k_0` stops changing. The :math:`k_0` most
    extreme studies are then mirrored around :math:`\hat\mu` (:math:`2\hat\mu - y_i`, same
    variance) and the model refitted to all :math:`k + k_0` studies.

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances.
    side
        ``"left"`` or ``"right"``; estimated as above when ``None``.
    estimator
        ``"L0"`` (default), ``"R0"`` or ``"Q0"``.
    maxiter
        Iteration limit.
    labels, ni
        Study labels and sizes; filled studies are labelled ``Filled 1``, ... and take the
        size of the study they mirror.
    **pool_kwargs
        Options of :func:`~metareview.meta.pool` (``method``, ``test``, ``level``, ``measure``,
        ``control``), used for every fit.

    Notes
    -----
    metafor 3.8 refits the filled data with the z test whatever ``test`` the original model
    used; here the filled model keeps the requested ``test`` (estimates, τ² and
    heterogeneity are the same either way).

    Raises
    ------
    EstimationError
        With one study ("Stopped because k = 1."), when the side regression cannot be fitted
        (k = 2 with a random-effects method), when every study would be trimmed, or when the
        iteration does not settle.

    References
    ----------
    Duval S, Tweedie R (2000). Trim and fill: a simple funnel-plot-based method of testing and
    adjusting for publication bias in meta-analysis. Biometrics 56:455–463.
    Duval S, Tweedie R (2000). A nonparametric "trim and fill" method of accounting for
    publication bias in meta-analysis. J Am Stat Assoc 95:89–98.

    Examples
    --------
    Pritz (1997), logit proportions, DL: metafor ``trimfill(fit)`` estimates 6 missing
    studies on the left and a filled estimate of 0.6922:

    >>> from metareview.effects import escalc
    >>> es = escalc("PLO", xi=[16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    ...             ni=[17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10])
    >>> tf = trimfill(es.yi, es.vi, method="DL", measure="PLO")
    >>> print(tf.k0, tf.side, f"{tf.fit.estimate:.4f}")
    6 left 0.6922
    """
    y, v, _ = _arrays(yi, vi)
    k = y.size
    if estimator not in ("L0", "R0", "Q0"):
        raise OptionError(f"unknown estimator {estimator!r}", hint="use L0, R0 or Q0")
    if side is not None and side not in ("left", "right"):
        raise OptionError(f"unknown side {side!r}", hint="use 'left' or 'right'")
    for clash in ("yi", "vi"):
        if clash in pool_kwargs:
            raise OptionError(f"{clash} cannot be passed twice")
    if k == 1:
        raise _too_few("trim-and-fill", k, 2, "Stopped because k = 1.")
    names = [f"Study {i + 1}" for i in range(k)] if labels is None else [str(s) for s in labels]
    if len(names) != k:
        raise InputError(f"{len(names)} labels for {k} studies", hint="one per study")
    n = None if ni is None else np.atleast_1d(np.asarray(ni, dtype=float))
    if n is not None and n.shape != y.shape:
        raise InputError("ni must have one value per study")
    method = str(pool_kwargs.get("method", "REML"))

    def beta(yy: Float, vv: Float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pool(yy, vv, method=method, control=pool_kwargs.get("control")).estimate

    if side is None:
        if k < 3 and method.upper() != "FE":
            raise _too_few("trim-and-fill (to choose the side)", k, 3, _TOO_MANY)
        X = np.column_stack([np.ones(k), np.sqrt(v)])
        if np.linalg.matrix_rank(X) < 2:
            raise EstimationError(
                "cannot choose the side: the standard errors do not vary",
                hint="give side='left' or side='right'",
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            slope = fit_design(y, v, X, ("intrcpt", "sei"), method=method, test="z",
                               level=95.0).beta[1]
        side = "right" if slope < 0 else "left"
    flip = -1.0 if side == "right" else 1.0
    order = np.argsort(flip * y, kind="stable")
    ys, vs = flip * y[order], v[order]

    k0, previous, iterations = 0, -1, 0
    se_k0 = b = math.nan
    while k0 != previous:
        previous = k0
        iterations += 1
        if iterations > maxiter:
            raise EstimationError("Trim and fill algorithm did not converge.",
                                  hint="raise maxiter or give the side explicitly")
        if k - k0 < 1:
            raise EstimationError("Processing terminated since k = 0.",
                                  hint=f"the {estimator} estimator would trim every study")
        b = beta(ys[: k - k0], vs[: k - k0])
        dev = ys - b
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(dev), kind="stable")] = np.arange(1, k + 1)  # ties: first
        signed = np.sign(dev) * ranks
        sr = float(np.sum(signed[signed > 0]))
        if estimator == "R0":
            neg = -signed[signed < 0]
            est = k - float(neg.max()) - 1 if neg.size else float(k - 1)
            se_k0 = math.sqrt(2 * max(0.0, est) + 2)
        else:
            if estimator == "Q0" and 2 * k**2 - 4 * sr + 0.25 < 0:
                raise EstimationError(
                    "the Q0 estimator is undefined for these data (4 S_r > 2k^2 + 1/4)",
                    hint="use estimator='L0' or 'R0'",
                )
            est = ((4 * sr - k * (k + 1)) / (2 * k - 1) if estimator == "L0"
                   else k - 0.5 - math.sqrt(2 * k**2 - 4 * sr + 0.25))
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * est**3 + 27 * est**2 + 17 * est
                      - 18 * k * est**2 - 18 * k * est + 6 * k**2 * est) / 24
            denom = 2 * k - 1 if estimator == "L0" else 2 * math.sqrt(
                max(0.0, (k - 0.5) ** 2 - est * (2 * k - est - 1)))
            # R gives NaN (not an error) when the variance formula goes negative
            se_k0 = 4 * math.sqrt(var_sr) / denom if var_sr >= 0 and denom > 0 else math.nan
        k0 = max(0, round(est))  # halves to even, like R's round()

    # R0: P(longest run >= k0 + 1) under no asymmetry (Duval & Tweedie 2000)
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else None
    options = {key: val for key, val in pool_kwargs.items() if key not in ("labels", "ni")}
    if k0 == 0:
        fit = pool(y, v, labels=names, ni=n, **options)
        return TrimFillResult(0, se_k0, p_k0, side, estimator, fit, (), ())
    filled = flip * (2 * b - ys[k - k0:])
    filled_v = vs[k - k0:]
    all_n = None if n is None else np.concatenate([n, n[order][k - k0:]])
    fit = pool(np.concatenate([y, filled]), np.concatenate([v, filled_v]),
               labels=[*names, *(f"Filled {j + 1}" for j in range(k0))], ni=all_n, **options)
    return TrimFillResult(k0, se_k0, p_k0, side, estimator, fit,
                          tuple(float(x) for x in filled), tuple(float(x) for x in filled_v))


_FULL_RANK = 'Model matrix no longer of full rank after addition of predictor. Cannot fit model.'
_TOO_MANY = 'Number of parameters to be estimated is larger than the number of observations.'


def _too_few(what: str, k: int, need: int, reason: str) -> EstimationError:
    """The small-k refusal: plain words first, metafor's own message after."""
    return EstimationError(
        f"too few studies (k = {k}) for {what}, which needs at least {need} "
        f"(metafor: {reason})",
        hint="with so few studies a test for small-study effects cannot say anything; "
        "report it as not done",
    )


def _arrays(yi: ArrayLike, vi: ArrayLike,
            ni: ArrayLike | None = None) -> tuple[Float, Float, Float | None]:
    """yi, vi (and ni, when given) as arrays, studies with a missing value left out."""
    y = np.atleast_1d(np.asarray(yi, dtype=float))
    v = np.atleast_1d(np.asarray(vi, dtype=float))
    if y.ndim != 1 or y.shape != v.shape:
        raise InputError(f"yi and vi must have the same length ({y.size} vs {v.size})")
    n = None if ni is None else np.atleast_1d(np.asarray(ni, dtype=float))
    if n is not None and n.shape != y.shape:
        raise InputError(f"ni must have one value per study ({n.size} for {y.size})")
    keep = np.isfinite(y) & np.isfinite(v)
    if not keep.all():
        warnings.warn("Studies with NAs omitted from test.", ReviewWarning, stacklevel=3)
        y, v = y[keep], v[keep]
        n = None if n is None else n[keep]
    if np.any(v <= 0):
        raise EstimationError("sampling variances must be positive",
                              hint="a study has variance 0; use a measure with a correction")
    return y, v, n
