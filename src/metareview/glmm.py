"""Random-intercept logistic (binomial-normal) model for single proportions.

metafor's ``rma.glmm(measure="PLO", method="ML", nAGQ=7)``, fitted on the raw counts by
maximum likelihood with adaptive Gauss–Hermite quadrature, as R meta uses by default for
logit proportions. No continuity correction enters the fit.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special, stats

from .effects import escalc
from .errors import EstimationError, OptionError, ReviewWarning
from .jsonsafe import plain

__all__ = ["GlmmResult", "pool_glmm"]

Float = NDArray[np.float64]


@dataclass(frozen=True)
class GlmmResult:
    """A fitted binomial-normal model; the estimate is on the logit scale.

    ``estimate``/``se``/``zval``/``pval``/``ci_lb``/``ci_ub`` refer to μ, the mean logit;
    ``tau2`` is the between-study variance of the logits. ``i2``/``h2`` use the typical
    within-study variance ``vt`` of the (continuity-corrected) logit variances, as metafor
    does. ``qe_wald``/``qe_lrt`` are the Wald and likelihood-ratio tests of heterogeneity (a
    saturated model with one logit per study against the common-logit model), df ``k − 1``.
    ``pred``, ``pred_ci_*`` and ``pi_*`` are the back-transformed (proportion) estimate, CI and
    prediction interval. ``loglik`` is the maximised marginal log-likelihood (binomial constants
    included); metafor's ``logLik()`` of an lme4 fit is a different quantity (the saturated
    log-likelihood minus half the conditional deviance), so the two are not comparable.
    """

    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    tau2: float
    tau: float
    i2: float
    h2: float
    vt: float
    qe_wald: float
    qe_wald_p: float
    qe_lrt: float
    qe_lrt_p: float
    qe_df: int
    loglik: float
    pred: float
    pred_ci_lb: float
    pred_ci_ub: float
    pi_lb: float
    pi_ub: float
    k: int
    nagq: int
    level: float
    labels: tuple[str, ...] | None = None
    method: str = "GLMM"
    measure: str = "PLO"

    def confidence_interval(self) -> tuple[float, float]:
        """The CI of the pooled proportion (back-transformed)."""
        return (self.pred_ci_lb, self.pred_ci_ub)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary of every field (NaN and infinities become None)."""
        out: dict[str, Any] = plain(asdict(self))
        return out

    def __str__(self) -> str:
        quad = "Laplace approximation" if self.nagq == 1 else f"{self.nagq}-point adaptive GHQ"
        lvl = f"{self.level:g}%"
        return "\n".join(
            [
                f"Random-effects model (binomial-normal GLMM, k = {self.k}; ML, {quad})",
                f"tau^2 = {self.tau2:.4f}, tau = {self.tau:.4f}, "
                f"I^2 = {self.i2:.2f}%, H^2 = {self.h2:.2f}",
                f"Wald-type test for heterogeneity:  Q(df = {self.qe_df}) = {self.qe_wald:.4f}, "
                f"p = {self.qe_wald_p:.4g}",
                f"Likelihood-ratio test:             Q(df = {self.qe_df}) = {self.qe_lrt:.4f}, "
                f"p = {self.qe_lrt_p:.4g}",
                f"logit estimate = {self.estimate:.4f} (SE = {self.se:.4f}), "
                f"z = {self.zval:.4f}, p = {self.pval:.4g}, "
                f"{lvl} CI [{self.ci_lb:.4f}, {self.ci_ub:.4f}]",
                f"proportion = {self.pred:.4f}, {lvl} CI [{self.pred_ci_lb:.4f}, "
                f"{self.pred_ci_ub:.4f}], {lvl} PI [{self.pi_lb:.4f}, {self.pi_ub:.4f}]",
            ]
        )


def pool_glmm(
    events: ArrayLike,
    totals: ArrayLike,
    *,
    nagq: int = 7,
    level: float = 95.0,
    labels: Sequence[str] | None = None,
) -> GlmmResult:
    r"""Pool single proportions with the random-intercept logistic model.

    Model (Stijnen et al. 2010): :math:`x_i \sim \mathrm{Bin}(n_i, \pi_i)`,
    :math:`\operatorname{logit}\pi_i = \mu + \tau u_i`, :math:`u_i \sim N(0, 1)`. The marginal
    likelihood :math:`L_i = \int \binom{n_i}{x_i} \pi_i(u)^{x_i}(1-\pi_i(u))^{n_i-x_i}
    \varphi(u)\,du` is computed by adaptive Gauss–Hermite quadrature (Liu & Pierce 1994): with
    :math:`\hat u_i` the mode of the integrand and
    :math:`\hat\sigma_i = (1 + \tau^2 n_i\hat\pi_i(1-\hat\pi_i))^{-1/2}` its curvature scale,
    :math:`L_i \approx \hat\sigma_i \sum_q w_q\, g_i(\hat u_i + \hat\sigma_i z_q)\, e^{z_q^2/2}`
    over the ``nagq`` probabilists' Hermite nodes :math:`z_q` (``nagq=1`` is the Laplace
    approximation). The same approximation as lme4's ``glmer(nAGQ=7)`` that metafor calls.
    :math:`\sum_i \log L_i` is maximised over :math:`(\mu, \tau)` (it is even in τ, so the
    boundary τ = 0 needs no constraint); the SE of :math:`\hat\mu` comes from the inverse of
    the numerical Hessian (observed information). At an interior maximum that SE is the same
    whether τ (lme4's θ) or τ² is the second parameter. The prediction interval is
    :math:`\hat\mu \pm z_{1-\alpha/2}\sqrt{SE^2 + \hat\tau^2}`, back-transformed with the
    inverse logit. :math:`I^2 = 100\,\hat\tau^2/(\hat\tau^2 + v_t)` with
    :math:`v_t = (k-1)\sum w_i/((\sum w_i)^2 - \sum w_i^2)`, :math:`w_i = 1/v_i` from the
    continuity-corrected logit variances (metafor's convention).

    Heterogeneity tests (df = k − 1): the likelihood-ratio test compares the saturated
    binomial model (one proportion per study) with a common proportion; the Wald test is
    :math:`\sum w_i(\ell_i - \bar\ell_w)^2` over the uncorrected logits
    :math:`\ell_i` with :math:`w_i = x_i(n_i - x_i)/n_i`, where studies with 0 or
    :math:`n_i` events have weight 0 (their saturated logit is infinite).

    Parameters
    ----------
    events, totals
        Events :math:`x_i` and sample sizes :math:`n_i` (integers, :math:`0 \le x_i \le n_i`,
        :math:`n_i > 0`). Studies with a missing count are left out with a warning.
    nagq
        Number of quadrature points (metafor's default 7; 1 = Laplace).
    level
        Confidence level in percent.
    labels
        Optional study labels, kept in the result.

    Returns
    -------
    GlmmResult

    Raises
    ------
    InputError
        Impossible counts (from :func:`metareview.effects.escalc`).
    EstimationError
        Fewer than 2 studies, no events at all or only events (the mean logit is then
        infinite), every study at 0 % or 100 % (τ² is then not identified: metafor returns
        wherever lme4's optimiser stops; we refuse on purpose), or an optimisation that
        does not converge.

    References
    ----------
    Stijnen T, Hamza TH, Özdemir P (2010). Random effects meta-analysis of event outcome in
    the framework of the generalized linear mixed model with applications in sparse data.
    Stat Med 29:3046–3067.
    Liu Q, Pierce DA (1994). A note on Gauss–Hermite quadrature. Biometrika 81:624–629.
    Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis.
    Stat Med 21:1539–1558.

    Examples
    --------
    Pritz (1997), metafor ``rma.glmm(measure="PLO", xi=xi, ni=ni, data=dat.pritz1997)``
    gives a pooled proportion of 0.7984 with τ² = 0.5893:

    >>> fit = pool_glmm([16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6],
    ...                 [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10])
    >>> round(fit.pred, 4), round(fit.tau2, 4)
    (0.7984, 0.5893)
    """
    x = np.atleast_1d(np.asarray(events, dtype=float))
    n = np.atleast_1d(np.asarray(totals, dtype=float))
    if not isinstance(nagq, int) or nagq < 1:
        raise OptionError(f"nagq must be a positive integer (got {nagq!r})", hint="e.g. 7")
    if not 0 < level < 100:
        raise OptionError(f"level must be between 0 and 100 (got {level})", hint="e.g. 95")
    if labels is not None and len(labels) != x.size:
        raise OptionError(f"{len(labels)} labels given for {x.size} studies")
    if x.shape == n.shape and x.ndim == 1:
        keep = np.isfinite(x) & np.isfinite(n)
        if not keep.all():  # as metafor: left out, with a warning
            warnings.warn("Studies with NAs omitted from model fitting.", ReviewWarning,
                          stacklevel=2)
            x, n = x[keep], n[keep]
            labels = None if labels is None else [s for s, k in zip(labels, keep, strict=True) if k]
    es = escalc("PLO", xi=x, ni=n)  # validates the counts
    k = x.size
    if k < 2:
        raise EstimationError(
            "Number of parameters to be estimated is larger than the number of observations.",
            hint=f"the GLMM estimates a mean and tau^2 and needs at least 2 studies (k = {k})",
        )
    if x.sum() == 0 or x.sum() == n.sum():
        raise EstimationError(
            "Cannot fit ML model: every study has "
            + ("no events" if x.sum() == 0 else "only events"),
            hint="the pooled logit is infinite; report the counts or use PR/PFT with care",
        )
    if np.all((x == 0) | (x == n)):
        # The likelihood then rises without bound as tau grows; metafor returns an
        # arbitrary point where lme4's optimiser stops, so we refuse instead.
        raise EstimationError(
            "Cannot fit ML model: every study has 0 % or 100 % events, so tau^2 is not "
            "identified (the likelihood keeps rising as tau^2 grows)",
            hint="report the counts as they are, or pool with --measure PR/PFT with care",
        )

    nodes, weights = np.polynomial.hermite_e.hermegauss(nagq)
    log_w = np.log(weights) + nodes**2 / 2 - 0.5 * math.log(2 * math.pi)
    const = float(np.sum(special.gammaln(n + 1) - special.gammaln(x + 1)
                         - special.gammaln(n - x + 1)))

    def loglik(theta: Float) -> float:
        return const + _log_marginal(theta[0], theta[1], x, n, nodes, log_w)

    p_pool = x.sum() / n.sum()
    start = np.array([math.log(p_pool / (1 - p_pool)), 0.5])
    best = optimize.minimize(lambda t: -loglik(t), start, method="Nelder-Mead",
                             options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 1000})
    # polish with Newton steps on the numerical gradient/Hessian
    theta = best.x
    for _ in range(20):
        grad, hess = _derivatives(loglik, theta)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or loglik(theta - step) < loglik(theta) - 1e-9:
            break
        theta = theta - step
        if np.max(np.abs(step)) < 1e-10:
            break
    mu, tau = float(theta[0]), abs(float(theta[1]))  # the likelihood is even in tau
    if tau < 1e-6:  # a boundary fit: the likelihood is flat to O(tau^2) there
        tau = 0.0
    if not (math.isfinite(mu) and abs(mu) < 50 and tau < 50):
        raise EstimationError(
            "Cannot fit ML model: the optimisation did not converge",
            hint="check the counts, or with very sparse data try the Laplace fit (nagq=1)",
        )
    _, hess = _derivatives(loglik, np.array([mu, tau]))
    info = -hess
    try:
        # at tau = 0 the (mu, tau) cross term vanishes (the likelihood is even in tau)
        var_mu = float(np.linalg.inv(info)[0, 0]) if tau > 1e-6 else 1 / float(info[0, 0])
    except (np.linalg.LinAlgError, ZeroDivisionError):
        raise EstimationError("Cannot invert Hessian for the ML model.") from None
    if not var_mu > 0:
        raise EstimationError("Cannot invert Hessian for the ML model.",
                              hint="the likelihood is flat; more data are needed")
    se = math.sqrt(var_mu)
    tau2 = tau**2
    crit = float(stats.norm.isf((1 - level / 100) / 2))
    zval = mu / se

    w = 1 / es.vi
    vt = (k - 1) * w.sum() / (w.sum() ** 2 - np.sum(w**2))
    qe_wald, qe_lrt = _heterogeneity(x, n)
    pi_half = crit * math.sqrt(se**2 + tau2)
    expit = special.expit
    return GlmmResult(
        estimate=mu,
        se=se,
        zval=zval,
        pval=float(2 * stats.norm.sf(abs(zval))),
        ci_lb=mu - crit * se,
        ci_ub=mu + crit * se,
        tau2=tau2,
        tau=tau,
        i2=float(100 * tau2 / (vt + tau2)),
        h2=float(1 + tau2 / vt),
        vt=float(vt),
        qe_wald=qe_wald,
        qe_wald_p=float(stats.chi2.sf(qe_wald, k - 1)),
        qe_lrt=qe_lrt,
        qe_lrt_p=float(stats.chi2.sf(qe_lrt, k - 1)),
        qe_df=k - 1,
        loglik=loglik(np.array([mu, tau])),
        pred=float(expit(mu)),
        pred_ci_lb=float(expit(mu - crit * se)),
        pred_ci_ub=float(expit(mu + crit * se)),
        pi_lb=float(expit(mu - pi_half)),
        pi_ub=float(expit(mu + pi_half)),
        k=k,
        nagq=nagq,
        level=level,
        labels=tuple(labels) if labels is not None else None,
    )


def _log_marginal(mu: float, tau: float, x: Float, n: Float, nodes: Float, log_w: Float) -> float:
    """Σ log ∫ π(u)^x (1−π(u))^(n−x) φ(u) du by adaptive Gauss–Hermite quadrature."""

    def h(u: Float) -> Float:
        eta = mu + tau * u
        xx, nn = x[:, None], n[:, None]
        # x·log π + (n−x)·log(1−π) − u²/2, stable for large |eta|
        return np.asarray(-xx * np.logaddexp(0, -eta) - (nn - xx) * np.logaddexp(0, eta) - u**2 / 2)

    # mode of h: h'(u) = tau·(x − nπ) − u is decreasing, with its root in [tau(x−n), tau·x]
    lo = np.minimum(tau * (x - n), tau * x) - 1e-12
    hi = np.maximum(tau * (x - n), tau * x) + 1e-12
    u = np.zeros_like(x)
    for _ in range(200):
        pi = special.expit(mu + tau * u)
        grad = tau * (x - n * pi) - u
        curv = tau**2 * n * pi * (1 - pi) + 1
        lo = np.where(grad > 0, u, lo)
        hi = np.where(grad < 0, u, hi)
        step = grad / curv
        converged = np.abs(step) < 1e-13
        new = u + step
        # safeguarded Newton: bisect unless the step lands strictly inside the bracket
        # (a step back onto an end point made it cycle, e.g. x = 0 with a large tau)
        outside = ~converged & ((new <= lo) | (new >= hi))
        u = np.where(outside, (lo + hi) / 2, new)
        if np.all(converged):
            break
    pi = special.expit(mu + tau * u)
    sigma = 1 / np.sqrt(tau**2 * n * pi * (1 - pi) + 1)
    pts = u[:, None] + sigma[:, None] * nodes[None, :]
    terms = h(pts) + log_w[None, :]
    return float(np.sum(np.log(sigma) + special.logsumexp(terms, axis=1)))


def _derivatives(f: Any, theta: Float) -> tuple[Float, Float]:
    """Central-difference gradient and Hessian of ``f`` at ``theta``."""
    d = theta.size
    step = 1e-4 * np.maximum(1.0, np.abs(theta))
    grad = np.empty(d)
    hess = np.empty((d, d))
    f0 = f(theta)
    for i in range(d):
        e_i = np.zeros(d)
        e_i[i] = step[i]
        fp, fm = f(theta + e_i), f(theta - e_i)
        grad[i] = (fp - fm) / (2 * step[i])
        hess[i, i] = (fp - 2 * f0 + fm) / step[i] ** 2
        for j in range(i):
            e_j = np.zeros(d)
            e_j[j] = step[j]
            hess[i, j] = hess[j, i] = (
                f(theta + e_i + e_j) - f(theta + e_i - e_j) - f(theta - e_i + e_j)
                + f(theta - e_i - e_j)
            ) / (4 * step[i] * step[j])
    return grad, hess


def _heterogeneity(x: Float, n: Float) -> tuple[float, float]:
    """Wald and likelihood-ratio statistics of the saturated vs the common-proportion model."""
    inner = (x > 0) & (x < n)
    logit = np.log(x[inner] / (n[inner] - x[inner]))
    w = x[inner] * (n[inner] - x[inner]) / n[inner]
    wald = float(np.sum(w * (logit - np.sum(w * logit) / np.sum(w)) ** 2)) if w.size else 0.0
    p = x.sum() / n.sum()
    fitted = n * p
    lrt = 2 * float(np.sum(special.xlogy(x, x / fitted)
                           + special.xlogy(n - x, (n - x) / (n - fitted))))
    return max(0.0, wald), max(0.0, lrt)
