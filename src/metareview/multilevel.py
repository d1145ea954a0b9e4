r"""Three-level random-effects model for several estimates per study (metafor's
``rma.mv(yi, vi, mods, random = ~ 1 | cluster/id)``).

Model: :math:`y_{ij} = x_{ij}'\beta + u_i + w_{ij} + e_{ij}` for estimate j of cluster
(study) i, with :math:`u_i \sim N(0, \sigma^2_1)` shared by the estimates of a cluster,
:math:`w_{ij} \sim N(0, \sigma^2_2)` per estimate and :math:`e_{ij} \sim N(0, v_{ij})`; so
:math:`V = \operatorname{diag}(v) + \sigma^2_1 A_1 + \sigma^2_2 A_2` with :math:`A_1`
(:math:`A_2`) the indicator of two estimates in the same cluster (and the same id).

The variance components maximise the restricted (REML) or full (ML) log-likelihood, by Fisher
scoring with step halving on :math:`\sigma^2 \ge 0` (a component that wants to go below 0 is
held at 0 while its score is negative), to a relative change below 1e-10: metafor's
converged fit. Everything works on in-memory arrays with dense k × k matrices.

References
----------
Konstantopoulos S (2011). Fixed effects and variance components estimation in three-level
    meta-analysis. Res Synth Methods 2:61-76.
Cheung MW-L (2014). Modeling dependent effect sizes with three-level meta-analyses: a
    structural equation modeling approach. Psychol Methods 19:211-229.
Assink M, Wibbelink CJM (2016). Fitting three-level meta-analytic models in R: a step-by-step
    tutorial. Quant Methods Psychol 12:154-174.
Harville DA (1977). Maximum likelihood approaches to variance component estimation and to
    related problems. J Am Stat Assoc 72:320-338.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw
    36(3).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .effects import alpha_for, readonly
from .errors import EstimationError, InputError, OptionError, ReviewWarning
from .jsonsafe import plain
from .meta import Prediction, num

Float = NDArray[np.float64]

METHODS = ("REML", "ML")
_TOL = 1e-10
_MAXITER = 500


@dataclass(frozen=True)
class ProfileCI:
    """Profile-likelihood CI of one variance component: the values of σ² whose likelihood-
    ratio statistic against the fit stays below the χ²(1) quantile. ``ci_lb`` is 0 when the
    statistic at σ² = 0 is already below it; ``ci_ub`` is None when no bound was found
    below ``search_max``; both are None for a variance fixed at 0 (a single cluster)."""

    name: str
    estimate: float
    ci_lb: float | None
    ci_ub: float | None
    search_max: float

    def sigma(self) -> tuple[float, float | None, float | None]:
        """Estimate and bounds on the SD scale (square roots)."""
        def root(x: float | None) -> float | None:
            return None if x is None else math.sqrt(x)

        return math.sqrt(self.estimate), root(self.ci_lb), root(self.ci_ub)


@dataclass(frozen=True)
class LikelihoodRatioTest:
    """``2 (ll_full − ll_reduced)`` against χ²(``df``): the reduced model fixes the named
    variance component at 0 (metafor's ``anova(full, reduced)``)."""

    reduced: str
    ll_full: float
    ll_reduced: float
    lrt: float
    df: int
    pval: float


@dataclass(frozen=True, eq=False)
class ThreeLevelResult:
    """A fitted three-level model, in metafor's vocabulary.

    ``sigma2`` holds σ²₁ (between clusters) and σ²₂ (between estimates within a cluster),
    named ``s_names`` = (cluster, cluster/id) with ``s_nlevels`` levels each. ``i2`` is I² of
    each level and ``i2_total`` their sum (Cheung 2014; metafor FAQ) with the typical within-
    study variance ``typical_vi`` = (k − p)/tr(P) of the fixed-effect weights.
    ``lrt_cluster`` tests σ²₁ = 0 (the two-level model), ``lrt_within`` σ²₂ = 0.
    """

    method: str
    level: float
    coef_names: tuple[str, ...]
    beta: Float
    se: Float
    zval: Float
    pval: Float
    ci_lb: Float
    ci_ub: Float
    vb: Float
    sigma2: tuple[float, float]
    s_names: tuple[str, str]
    s_nlevels: tuple[int, int]
    k: int
    qe: float
    qe_df: int
    qe_p: float
    qm: float | None
    qm_df: int
    qm_p: float | None
    loglik: float
    deviance: float
    aic: float
    bic: float
    aicc: float
    typical_vi: float
    i2: tuple[float, float]
    sigma2_ci: tuple[ProfileCI, ProfileCI] | None
    lrt_cluster: LikelihoodRatioTest
    lrt_within: LikelihoodRatioTest
    omitted: tuple[int, ...] = ()
    measure: str = "GEN"
    ni: Float | None = None

    def __post_init__(self) -> None:
        for name in ("beta", "se", "zval", "pval", "ci_lb", "ci_ub", "vb", "ni"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def p(self) -> int:
        """Number of coefficients."""
        return len(self.coef_names)

    @property
    def estimate(self) -> float:
        """The first coefficient (the pooled estimate of an intercept-only model)."""
        return float(self.beta[0])

    @property
    def i2_total(self) -> float:
        return float(sum(self.i2))

    def confidence_interval(self) -> tuple[float, float]:
        """CI of the first coefficient (the pooled estimate without moderators)."""
        return float(self.ci_lb[0]), float(self.ci_ub[0])

    def prediction_interval(self) -> tuple[float, float]:
        """Where the true effect of a new estimate in a new cluster is expected (intercept-
        only models): estimate ± z·√(SE² + σ²₁ + σ²₂), as metafor's ``predict``."""
        if self.p != 1:
            raise OptionError("a prediction interval needs a model without moderators",
                              hint="fit without mods")
        crit = _crit(self.level)
        half = crit * math.sqrt(float(self.se[0]) ** 2 + sum(self.sigma2))
        return self.estimate - half, self.estimate + half

    def predict(self, transform: bool = True) -> Prediction:
        """The pooled estimate with CI and prediction interval (intercept-only models),
        back-transformed to the natural scale of ``measure`` unless ``transform`` is False
        (see :func:`metareview.effects.transform_for`)."""
        from .effects import natural_scale, transform_for

        pi = self.prediction_interval()
        values = np.array([self.estimate, self.ci_lb[0], self.ci_ub[0], *pi])
        if transform:
            values = transform_for(self.measure, self.ni)(values)
        return Prediction(float(values[0]), math.nan if transform else float(self.se[0]),
                          float(values[1]), float(values[2]), float(values[3]),
                          float(values[4]),
                          natural_scale(self.measure) if transform else "model", transform,
                          math.nan)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (NaN and infinities become None)."""
        out: dict[str, Any] = {
            "model": "three-level", "method": self.method, "level": self.level, "k": self.k,
            "coefficients": [
                {"name": n, "estimate": b, "se": s, "zval": z, "pval": p, "ci_lb": lb,
                 "ci_ub": ub}
                for n, b, s, z, p, lb, ub in zip(self.coef_names, self.beta, self.se,
                                                  self.zval, self.pval, self.ci_lb,
                                                  self.ci_ub, strict=True)],
            "sigma2": list(self.sigma2), "s_names": list(self.s_names),
            "s_nlevels": list(self.s_nlevels),
            "qe": self.qe, "qe_df": self.qe_df, "qe_p": self.qe_p,
            "qm": self.qm, "qm_df": self.qm_df, "qm_p": self.qm_p,
            "loglik": self.loglik, "deviance": self.deviance, "aic": self.aic,
            "bic": self.bic, "aicc": self.aicc, "typical_vi": self.typical_vi,
            "i2": list(self.i2), "i2_total": self.i2_total,
            "sigma2_ci": None if self.sigma2_ci is None else [
                {"name": c.name, "estimate": c.estimate, "ci_lb": c.ci_lb, "ci_ub": c.ci_ub}
                for c in self.sigma2_ci],
            "lrt_cluster": vars(self.lrt_cluster), "lrt_within": vars(self.lrt_within),
            "omitted": list(self.omitted),
        }
        if self.p == 1:
            out["pi_lb"], out["pi_ub"] = self.prediction_interval()
        cleaned: dict[str, Any] = plain(out)
        return cleaned


def _crit(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1 - alpha_for(level) / 2))


# --- the likelihood ---------------------------------------------------------------------


class _Model:
    """y, v, X and the indicators Z₁, Z₂ of each row's cluster and (cluster, id) level
    (A_j = Z_j Z_j'); evaluates the (restricted) log-likelihood, its score and Fisher
    information at given variance components. V is block diagonal by cluster and is
    inverted block by block."""

    def __init__(self, y: Float, v: Float, X: Float, z1: Float, z2: Float, reml: bool):
        self.y, self.v, self.X, self.reml = y, v, X, reml
        self.z = (z1, z2)
        self.k, self.p = X.shape
        self.logdet_xx = float(np.linalg.slogdet(X.T @ X)[1])
        self.rowwise = z2.shape[1] == self.k  # every row its own id: the common case
        # the clusters' blocks of V, padded to one size and stacked, so that they are
        # factorised in one batched call (pads: variance 1, no covariance)
        blocks = [np.flatnonzero(col) for col in z1.T]
        size = max(len(b) for b in blocks)
        self.index = np.full((len(blocks), size), -1)
        for n, b in enumerate(blocks):
            self.index[n, :len(b)] = b
        valid = self.index >= 0
        self.inside = valid[:, :, None] & valid[:, None, :]
        zb = np.where(valid[:, :, None], z2[self.index], 0.0)
        self.shared = zb @ np.swapaxes(zb, 1, 2)
        self.vpad = np.where(valid, v[self.index], 1.0)
        rows = np.broadcast_to(self.index[:, :, None], self.inside.shape)
        cols = np.broadcast_to(self.index[:, None, :], self.inside.shape)
        self.cells = (rows[self.inside], cols[self.inside])

    def inverse(self, s: Sequence[float] | Float) -> tuple[Float, float]:
        """V⁻¹ and log|V|, from the Cholesky factors of the cluster blocks."""
        stack = (self.vpad[:, :, None] * np.eye(self.vpad.shape[1])
                 + s[0] * self.inside + s[1] * self.shared)
        try:
            chol = np.linalg.cholesky(stack)
        except np.linalg.LinAlgError:
            raise EstimationError("the marginal variance matrix is not positive definite",
                                  hint="check for zero sampling variances") from None
        inv_chol = np.linalg.inv(chol)
        inv = np.swapaxes(inv_chol, 1, 2) @ inv_chol
        Vi = np.zeros((self.k, self.k))
        Vi[self.cells] = inv[self.inside]
        logdet = 2 * float(np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
        return Vi, logdet

    def at(self, s: Sequence[float] | Float) -> dict[str, Any]:
        Vi, logdet_v = self.inverse(s)
        X, y = self.X, self.y
        vx = Vi @ X
        try:
            xvx_inv = np.linalg.inv(X.T @ vx)
        except np.linalg.LinAlgError:
            raise EstimationError("X'V⁻¹X is singular at these variance components",
                                  hint="the data cannot separate the two levels") from None
        beta = xvx_inv @ (vx.T @ y)
        r = y - X @ beta
        vr = Vi @ r  # = P y for REML too
        quad = float(r @ vr)
        if self.reml:
            ll = -0.5 * ((self.k - self.p) * math.log(2 * math.pi) - self.logdet_xx + logdet_v
                         - float(np.linalg.slogdet(xvx_inv)[1]) + quad)
            M = Vi - vx @ xvx_inv @ vx.T  # P, the REML projection
        else:
            ll = -0.5 * (self.k * math.log(2 * math.pi) + logdet_v + quad)
            M = Vi
        # with A_j = Z_j Z_j': tr(M A_j) = tr(Z_j'M Z_j), r'V⁻¹A_jV⁻¹r = |Z_j'V⁻¹r|²,
        # tr(M A_i M A_j) = |Z_i' M Z_j|²_F
        z1 = self.z[0]
        if self.rowwise:  # Z₂ = I: no products with it
            mz1 = M @ z1
            c = [[z1.T @ mz1, mz1.T], [mz1, M]]
            zvr = [z1.T @ vr, vr]
        else:
            mz = [M @ z for z in self.z]
            c = [[z.T @ m for m in mz] for z in self.z]
            zvr = [z.T @ vr for z in self.z]
        score = np.array([-0.5 * np.trace(c[j][j]) + 0.5 * float(np.sum(zvr[j] ** 2))
                          for j in range(2)])
        info = np.array([[0.5 * float(np.sum(c[i][j] ** 2)) for j in range(2)]
                         for i in range(2)])
        return {"ll": ll, "score": score, "info": info, "beta": beta, "vb": xvx_inv}


def _maximise(model: _Model, start: Sequence[float],
              fixed: Mapping[int, float] | None = None) -> tuple[Float, dict[str, Any]]:
    """The maximum of the likelihood over the components not in ``fixed`` (at or above 0):
    Fisher scoring from ``start`` and again from 0, the higher of the two. (The ML and REML
    likelihoods can have an interior stationary point below their maximum at the
    boundary; starting from 0 climbs only where the score is positive.)"""
    fixed = dict(fixed or {})
    s, cur = _scoring(model, [fixed.get(i, max(start[i], 0.0)) for i in range(2)], fixed)
    zero, low = _scoring(model, [fixed.get(i, 0.0) for i in range(2)], fixed)
    return (zero, low) if low["ll"] > cur["ll"] else (s, cur)


def _scoring(model: _Model, start: Sequence[float],
             fixed: Mapping[int, float]) -> tuple[Float, dict[str, Any]]:
    """Fisher scoring with step halving over the components not in ``fixed``, keeping them
    at or above 0 (a component at 0 with a negative score stays there). Where the expected
    information understates the curvature the steps overshoot and alternate around the
    maximum; each reversal of the score halves the steps that follow."""
    s = np.array(start, dtype=float)
    free = [i for i in range(2) if i not in fixed]
    cur = model.at(s)
    damp = 1.0
    for _ in range(_MAXITER):
        active = [i for i in free if s[i] > 0 or cur["score"][i] > 0]
        if not active:
            return s, cur
        info = cur["info"][np.ix_(active, active)]
        # the pseudo-inverse: with one estimate per cluster the information is singular
        # (only σ²₁ + σ²₂ is identified) and the step then moves along the sum alone
        step = np.linalg.pinv(info, rcond=1e-10) @ cur["score"][active]
        full = np.zeros(2)
        full[active] = step * damp
        factor = 1.0
        while True:
            trial = np.maximum(s + factor * full, 0.0)
            new = model.at(trial)
            if new["ll"] >= cur["ll"] - 1e-12 * abs(cur["ll"]) or factor < 1e-8:
                break
            factor /= 2
        change = np.max(np.abs(trial - s) / np.maximum(1.0, s))
        turned = float(new["score"][active] @ cur["score"][active]) < 0
        damp = damp / 2 if turned else min(1.0, damp * 2)
        s, cur = trial, new
        if change < _TOL:
            return s, cur
    raise EstimationError("the three-level model did not converge in "
                          f"{_MAXITER} Fisher scoring iterations",
                          hint="check the data for clusters with extreme estimates")


# --- the public function ---------------------------------------------------------------


def threelevel(
    yi: ArrayLike,
    vi: ArrayLike,
    cluster: Sequence[Any],
    *,
    inner: Sequence[Any] | None = None,
    mods: ArrayLike | str | None = None,
    data: Mapping[str, Sequence[Any]] | None = None,
    names: Sequence[str] | None = None,
    method: str = "REML",
    level: float = 95.0,
    cluster_name: str = "cluster",
    inner_name: str = "id",
    profile: bool = True,
    measure: str = "GEN",
    ni: ArrayLike | None = None,
) -> ThreeLevelResult:
    r"""Fit ``rma.mv(yi, vi, mods, random = ~ 1 | cluster/id, method=method)``.

    Parameters
    ----------
    yi, vi
        Estimates and their sampling variances, one per row.
    cluster
        The cluster (study) of each row; rows of a cluster share :math:`u_i`.
    inner
        The id of each row within its cluster (default: every row its own id). Rows with the
        same cluster and id share :math:`w_{ij}`.
    mods
        Optional moderators: an array (one column per moderator, intercept added) or a
        formula over ``data`` as in :func:`metareview.metareg.metareg`.
    method
        ``"REML"`` (default) or ``"ML"``.
    level
        Confidence level in percent (or as a fraction).
    profile
        Compute profile-likelihood CIs for σ²₁ and σ²₂ (a few dozen refits).
    measure, ni
        The effect measure of ``yi`` and the study sizes its back-transform needs (PFT,
        IRFT), for :meth:`ThreeLevelResult.predict`.

    Returns
    -------
    ThreeLevelResult

    Notes
    -----
    With :math:`W = V^{-1}`: :math:`\hat\beta = (X'WX)^{-1}X'Wy`, :math:`\mathrm{Var}(\hat\beta)
    = (X'WX)^{-1}`, Wald z tests and CIs; :math:`Q_M` is the Wald statistic of all
    coefficients but the intercept. The ML log-likelihood is
    :math:`-\tfrac12[k\log 2\pi + \log|V| + r'V^{-1}r]`; REML replaces :math:`k` by
    :math:`k-p` and adds :math:`\log|X'V^{-1}X| - \log|X'X|` (metafor's convention). The
    deviance is :math:`-2\,\ell` for REML and :math:`-2(\ell - \ell_{sat})` for ML, with
    :math:`\ell_{sat} = -\tfrac12\sum\log(2\pi v_i)`; AIC, BIC and AICc count p + 2
    parameters and, for REML, k − p observations. :math:`Q_E = y'P_{FE}y` with the
    fixed-effect weights, :math:`\tilde v = (k-p)/\mathrm{tr}(P_{FE})` and
    :math:`I^2_\ell = 100\,\sigma^2_\ell/(\sigma^2_1+\sigma^2_2+\tilde v)`.

    Raises
    ------
    InputError
        Missing clusters, negative variances or inputs of different lengths.
    EstimationError
        Too few estimates for the coefficients, a rank-deficient moderator matrix, or no
        convergence.

    Examples
    --------
    >>> fit = threelevel([0.1, 0.3, 0.2, 0.5, 0.45, 0.6], [0.01, 0.02, 0.01, 0.02, 0.01, 0.03],
    ...                  ["a", "a", "b", "b", "c", "c"], profile=False)
    >>> fit.s_names, fit.s_nlevels
    (('cluster', 'cluster/id'), (3, 6))
    """
    method = method.upper()
    if method not in METHODS:
        raise OptionError(f"unknown method {method!r} for the three-level model",
                          hint="use REML or ML")
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    k_all = len(y)
    clusters = [None if _blank(c) else str(c) for c in cluster]
    ids = [str(i) for i in range(k_all)] if inner is None else [
        None if _blank(i) else str(i) for i in inner]
    if not (len(v) == len(clusters) == len(ids) == k_all):
        raise InputError(f"yi, vi, cluster (and inner) have different lengths "
                         f"({k_all}, {len(v)}, {len(clusters)}, {len(ids)})",
                         hint="give one value per estimate in each")
    gone = [i for i, c in enumerate(clusters) if c is None]
    if gone:
        raise InputError(f"the cluster of estimate {', '.join(str(i + 1) for i in gone)} "
                         "(numbered from 1) is missing",
                         hint="give every estimate the study (cluster) it comes from")
    if np.any(v[np.isfinite(v)] < 0):
        raise InputError("a sampling variance is negative",
                         hint="vi must be 0 or more")
    X, coef_names = _design(mods, data, names, k_all)
    keep = np.isfinite(y) & np.isfinite(v) & np.all(np.isfinite(X), axis=1)
    keep &= np.array([i is not None for i in ids])
    omitted = tuple(int(i) for i in np.flatnonzero(~keep))
    if omitted:
        warnings.warn(f"{len(omitted)} estimate(s) with missing values left out "
                      f"(rows {', '.join(str(i + 1) for i in omitted)})",
                      ReviewWarning, stacklevel=2)
    y, v, X = y[keep], v[keep], X[keep]
    cl = [str(c) for c, ok in zip(clusters, keep, strict=True) if ok]
    inn = [f"{c}\x00{i}" for c, i, ok in zip(clusters, ids, keep, strict=True) if ok]
    k, p = X.shape
    if k - p < 1 or (method == "REML" and k - p < 2):
        raise EstimationError(f"too few estimates (k = {k}) for {p} coefficient(s) and two "
                              "variance components", hint="the model needs more estimates")
    if np.linalg.matrix_rank(X) < p:
        raise EstimationError("the moderator matrix is rank deficient",
                              hint="drop moderators that are redundant")
    model = _Model(y, v, X, _indicator(cl), _indicator(inn), method == "REML")
    start = _start(y, v, X)
    single = len(set(cl)) == 1
    if single:  # as metafor: a one-level factor's variance is fixed at 0
        warnings.warn(f"all estimates are in one {cluster_name}: its variance is fixed at 0 "
                      "(the model is the two-level one)", ReviewWarning, stacklevel=2)
    held = {0: 0.0} if single else {}
    sigma2, best = _maximise(model, (start / 2, start / 2), fixed=held)
    two_level, reduced = _maximise(model, (0.0, start), fixed={0: 0.0})
    without, no_within = _maximise(model, (start, 0.0), fixed={**held, 1: 0.0})
    # the best of the interior fit and the fits on the boundary (one variance at 0)
    for other, fit in ((two_level, reduced), (without, no_within)):
        if fit["ll"] > best["ll"]:
            sigma2, best = other, fit
    ll = float(best["ll"])
    beta, vb = best["beta"], best["vb"]
    se = np.sqrt(np.diag(vb))
    crit = _crit(level)
    from scipy import stats

    zval = beta / se
    pval = 2 * stats.norm.sf(np.abs(zval))
    qm = qm_p = None
    if p > 1:
        b = beta[1:]
        qm = float(b @ np.linalg.solve(vb[1:, 1:], b))
        qm_p = float(stats.chi2.sf(qm, p - 1))
    w = 1 / v
    wx = X * w[:, None]
    pfe = np.diag(w) - wx @ np.linalg.solve(X.T @ wx, wx.T)
    qe = float(y @ pfe @ y)
    typical = (k - p) / float(np.trace(pfe))
    total = float(sigma2.sum()) + typical
    npar = p + 2
    n = k - p if method == "REML" else k
    ll_sat = -0.5 * float(np.sum(np.log(2 * math.pi * v)))
    deviance = -2 * ll if method == "REML" else -2 * (ll - ll_sat)
    s_names = (cluster_name, f"{cluster_name}/{inner_name}")
    cis = None
    if profile:
        cis = tuple(ProfileCI(s_names[j], 0.0, None, None, 0.0) if single and j == 0
                    else _profile(model, sigma2, ll, j, level, s_names[j], held)
                    for j in range(2))
    return ThreeLevelResult(
        method=method, level=level, coef_names=coef_names, beta=beta, se=se, zval=zval,
        pval=pval, ci_lb=beta - crit * se, ci_ub=beta + crit * se, vb=vb,
        sigma2=(float(sigma2[0]), float(sigma2[1])), s_names=s_names,
        s_nlevels=(len(set(cl)), len(set(inn))), k=k, qe=qe, qe_df=k - p,
        qe_p=float(stats.chi2.sf(qe, k - p)), qm=qm, qm_df=p - 1, qm_p=qm_p, loglik=ll,
        deviance=deviance, aic=-2 * ll + 2 * npar, bic=-2 * ll + npar * math.log(n),
        aicc=-2 * ll + 2 * npar * max(n, npar + 2) / (max(n, npar + 2) - npar - 1),
        typical_vi=typical, i2=(100 * float(sigma2[0]) / total, 100 * float(sigma2[1]) / total),
        sigma2_ci=cis,  # type: ignore[arg-type]
        lrt_cluster=_lrt(s_names[0], ll, float(reduced["ll"])),
        lrt_within=_lrt(s_names[1], ll, float(no_within["ll"])),
        omitted=omitted, measure=measure,
        ni=None if ni is None else np.asarray(ni, dtype=float).ravel()[keep],
    )


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _design(mods: ArrayLike | str | None, data: Mapping[str, Sequence[Any]] | None,
            names: Sequence[str] | None, k: int) -> tuple[Float, tuple[str, ...]]:
    if mods is None:
        return np.ones((k, 1)), ("intrcpt",)
    if isinstance(mods, str):
        from .formula import model_frame

        if data is None:
            raise OptionError("a moderator formula needs data", hint="pass data={column: values}")
        frame = model_frame(mods, data)
        matrix = np.asarray(frame.matrix, dtype=float)
        if len(matrix) != k:
            raise OptionError(f"yi has {k} values but data {len(matrix)} rows",
                              hint="give one value per estimate in each")
        return matrix, tuple(frame.coef_names)
    m = np.asarray(mods, dtype=float)
    if m.ndim == 1:
        m = m[:, None]
    if m.shape[0] != k:
        raise OptionError(f"yi has {k} values but mods {m.shape[0]} rows",
                          hint="give one value per estimate in each")
    labels = list(names) if names is not None else [f"mod{j + 1}" for j in range(m.shape[1])]
    return np.column_stack([np.ones(k), m]), ("intrcpt", *labels)


def _indicator(groups: Sequence[str]) -> Float:
    """k × levels matrix with a 1 where a row belongs to a level."""
    codes = np.unique(np.asarray(groups), return_inverse=True)[1]
    return np.asarray(codes[:, None] == np.arange(codes.max() + 1)[None, :], dtype=np.float64)


def _start(y: Float, v: Float, X: Float) -> float:
    """A positive start for the total heterogeneity: the OLS residual variance less the
    mean sampling variance (at least a hundredth of it)."""
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    spread = float(resid @ resid) / max(len(y) - X.shape[1], 1)
    return float(max(spread - float(np.mean(v)), 0.01 * float(np.mean(v)), 1e-8))


def _lrt(name: str, ll: float, ll_reduced: float) -> LikelihoodRatioTest:
    from scipy import stats

    stat = max(2 * (ll - ll_reduced), 0.0)
    return LikelihoodRatioTest(f"{name} variance = 0", ll, ll_reduced, stat, 1,
                               float(stats.chi2.sf(stat, 1)))


def _profile(model: _Model, sigma2: Float, ll: float, j: int, level: float,
             name: str, held: Mapping[int, float]) -> ProfileCI:
    """Profile-likelihood CI of component ``j``: roots of LR(s) = χ²₁ quantile, where the
    other component is re-estimated at each fixed s (metafor's ``confint.rma.mv``)."""
    from scipy import optimize, stats

    target = float(stats.chi2.ppf(1 - alpha_for(level), 1))
    other = 1 - j
    est = float(sigma2[j])

    def excess(s: float) -> float:
        start = [0.0, 0.0]
        start[other] = max(float(sigma2[other]), 1e-8)
        _, fit = _maximise(model, start, fixed={**held, j: s})
        return 2 * (ll - float(fit["ll"])) - target

    lower: float | None = 0.0
    if est > 0 and excess(0.0) > 0:
        lower = optimize.brentq(excess, 0.0, est, xtol=1e-12, rtol=1e-12)
    search_max = max(10.0, 100 * est)
    upper: float | None = None
    below, hi = est, max(est, 1e-4)
    while hi < search_max:  # widen until the statistic passes the quantile
        hi = min(hi * 4, search_max)
        if excess(hi) > 0:
            upper = optimize.brentq(excess, below, hi, xtol=1e-12, rtol=1e-12)
            break
        below = hi
    return ProfileCI(name, est, lower, upper, search_max)


# --- how review pool shows it ------------------------------------------------------------


def text_lines(fit: ThreeLevelResult, natural: str, digits: int = 3) -> list[str]:
    """The three-level block of the ``review pool`` text report."""
    from .poolrun import p_text as _p

    lv = f"{fit.level:g}%"
    cluster = fit.s_names[0]
    lines = [f"Three-level model ({fit.method}): k = {fit.k} estimates in "
             f"{fit.s_nlevels[0]} clusters ({cluster})"]
    for j, name in enumerate((f"between {cluster}", f"within {cluster}")):
        text = f"  sigma² {name} = {num(fit.sigma2[j], 4)}"
        if fit.sigma2_ci is not None and fit.sigma2_ci[j].ci_lb is None:
            text += " (fixed: a single cluster)"
        elif fit.sigma2_ci is not None:
            ci = fit.sigma2_ci[j]
            upper = num(ci.ci_ub, 4) if ci.ci_ub is not None else f">{num(ci.search_max, 4)}"
            text += f" ({lv} profile CI {num(ci.ci_lb, 4)} to {upper})"
        lines.append(text + f"; I² = {num(fit.i2[j], 1)}%")
    lines.append(f"  I² total = {num(fit.i2_total, 1)}% (typical sampling variance "
                 f"{num(fit.typical_vi, 4)})")
    if fit.p == 1:
        pred = fit.predict()
        lines.append(f"  Pooled {natural}: {num(pred.pred, digits)} [{num(pred.ci_lb, digits)}, "
                     f"{num(pred.ci_ub, digits)}], prediction interval "
                     f"[{num(pred.pi_lb, digits)}, {num(pred.pi_ub, digits)}]")
    for j, name in enumerate(fit.coef_names):
        lines.append(f"  {name}: estimate = {num(float(fit.beta[j]), 4)}, se = "
                     f"{num(float(fit.se[j]), 4)}, z = {num(float(fit.zval[j]), 3)}, "
                     f"{_p(float(fit.pval[j]))}, CI [{num(float(fit.ci_lb[j]), 4)}, "
                     f"{num(float(fit.ci_ub[j]), 4)}]")
    if fit.qm is not None and fit.qm_p is not None:
        lines.append(f"  Test of moderators: QM({fit.qm_df}) = {fit.qm:.2f}, {_p(fit.qm_p)}")
    lines.append(f"  Test for residual heterogeneity: QE({fit.qe_df}) = {fit.qe:.2f}, "
                 f"{_p(fit.qe_p)}")
    t = fit.lrt_cluster
    lines.append(f"  Against the two-level model ({t.reduced}): LRT = {t.lrt:.2f}, {_p(t.pval)}")
    lines.append(f"  logLik = {fit.loglik:.4f}, AIC = {fit.aic:.4f}, BIC = {fit.bic:.4f}")
    return lines


def table_rows(fit: ThreeLevelResult) -> tuple[list[str], list[list[Any]]]:
    """The three-level results as key/value rows (CSV, XLSX, Markdown outputs)."""
    flat = fit.to_dict()
    rows: list[list[Any]] = [[k, v] for k, v in flat.items() if not isinstance(v, (dict, list))]
    for j, name in enumerate(fit.s_names):
        rows.append([f"sigma2[{name}]", fit.sigma2[j]])
        rows.append([f"i2[{name}]", fit.i2[j]])
        if fit.sigma2_ci is not None:
            rows += [[f"sigma2_ci_lb[{name}]", fit.sigma2_ci[j].ci_lb],
                     [f"sigma2_ci_ub[{name}]", fit.sigma2_ci[j].ci_ub]]
    for c in flat["coefficients"]:
        rows += [[f"{key}[{c['name']}]", c[key]] for key in c if key != "name"]
    for name in ("lrt_cluster", "lrt_within"):
        rows += [[f"{name}_{key}", value] for key, value in flat[name].items()]
    return ["key", "value"], rows


__all__: Sequence[str] = ["LikelihoodRatioTest", "ProfileCI", "ThreeLevelResult", "table_rows",
                          "text_lines", "threelevel"]
