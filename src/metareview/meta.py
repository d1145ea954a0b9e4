r"""Fixed- and random-effects pooling (metafor's ``rma.uni`` without moderators).

The model is :math:`y_i = \mu + u_i + e_i` with :math:`u_i \sim N(0, \tau^2)` and
:math:`e_i \sim N(0, v_i)`. :func:`pool` estimates :math:`\tau^2` with one of nine
estimators, then :math:`\hat\mu = \sum w_i y_i / \sum w_i` with :math:`w_i = 1/(v_i+\hat\tau^2)`.
Every number follows metafor 3.8-1 (``tests/reference/README.md`` lists the conventions).

References
----------
DerSimonian R, Laird N (1986). Meta-analysis in clinical trials. Control Clin Trials 7:177-188.
Viechtbauer W (2005). Bias and efficiency of meta-analytic variance estimators in the
    random-effects model. J Educ Behav Stat 30:261-293.
Paule RC, Mandel J (1982). Consensus values and weighting factors. J Res Natl Bur Stand 87:377-385.
Sidik K, Jonkman JN (2005). Simple heterogeneity variance estimation for meta-analysis.
    J R Stat Soc C 54:367-384.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis. Academic Press.
Hunter JE, Schmidt FL (2004). Methods of Meta-Analysis, 2nd ed. Sage.
Morris CN (1983). Parametric empirical Bayes inference. J Am Stat Assoc 78:47-55.
Hartung J, Knapp G (2001). On tests of the overall treatment effect in meta-analysis with
    normally distributed responses. Stat Med 20:1771-1782.
Higgins JPT, Thompson SG (2002). Quantifying heterogeneity in a meta-analysis.
    Stat Med 21:1539-1558.
Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
    Stat Med 26:37-52.
Brent RP (1973). Algorithms for Minimization without Derivatives. Prentice-Hall, ch. 4.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .effects import (
    MEASURES,
    MODEL_SCALE,
    EffectSizes,
    FloatArray,
    alpha_for,
    escalc,
    natural_scale,
    readonly,
    transform_for,
)
from .errors import EstimationError, InputError, OptionError, ReviewWarning
from .jsonsafe import plain

METHODS = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ", "EB", "HS")
TESTS = ("z", "knha", "adhoc")

METHOD_NAMES = {
    "FE": "fixed (common) effect, inverse variance",
    "DL": "DerSimonian-Laird",
    "REML": "restricted maximum likelihood",
    "ML": "maximum likelihood",
    "PM": "Paule-Mandel",
    "HE": "Hedges (variance components)",
    "SJ": "Sidik-Jonkman",
    "EB": "empirical Bayes",
    "HS": "Hunter-Schmidt",
}
TEST_NAMES = {
    "z": "Wald-type z test and CI",
    "knha": "Knapp-Hartung (HKSJ) t test and CI, k-1 df",
    "adhoc": "Knapp-Hartung with the ad hoc correction (never narrower than z), k-1 df",
}

_ZERO_VARIANCE_HINT = (
    "a study has sampling variance 0 (for PR this happens at x = 0 or x = n without a "
    "continuity correction): keep escalc's default correction, use measure PLO or PFT, "
    "or an estimator that allows it (REML, ML, EB, HE, SJ)"
)


@dataclass(frozen=True)
class Control:
    """Convergence settings, named as metafor's ``control`` list (a mapping such as
    ``{"tau2.max": 500}`` is accepted too).

    Attributes
    ----------
    threshold : float
        Fisher scoring (REML, ML, EB) stops when :math:`|\\Delta\\tau^2|` < threshold.
    tol : float
        Root-finder tolerance on the tau2 scale (PM; R's ``.Machine$double.eps^0.25``).
    maxiter : int
        Iteration limit.
    tau2_max : float or None
        Upper end of the PM search; None means metafor's ``max(100, 10 * mad(yi)^2)``.
    stepadj : float
        Step length factor for Fisher scoring.
    ll0check : bool
        For REML/ML, fall back to tau2 = 0 when tau2 = 0 has a higher likelihood.
    """

    threshold: float = 1e-5
    tol: float = float(np.finfo(float).eps ** 0.25)
    maxiter: int = 100
    tau2_max: float | None = None
    stepadj: float = 1.0
    ll0check: bool = True

    @classmethod
    def tight(cls) -> Control:
        """Fully converged settings (metafor ``threshold=1e-12, tol=1e-12, maxiter=10000``)."""
        return cls(threshold=1e-12, tol=1e-12, maxiter=10000)


def _control(control: Control | Mapping[str, Any] | None) -> Control:
    if control is None:
        return Control()
    if isinstance(control, Control):
        return control
    known = {f.name for f in fields(Control)}
    control = {key.replace(".", "_"): value for key, value in control.items()}  # metafor spelling
    unknown = sorted(set(control) - known)
    if unknown:
        raise OptionError(
            f"unknown control setting(s): {', '.join(unknown)}",
            hint=f"use {', '.join(sorted(known))}",
        )
    return Control(**dict(control))


@dataclass(frozen=True)
class Prediction:
    """Pooled estimate with CI and prediction interval, on the natural or the model scale.

    ``se`` is NaN when back-transformed (as metafor); ``pi_lb``/``pi_ub`` are NaN for FE fits.
    """

    pred: float
    se: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float
    scale: str
    transformed: bool
    ddf: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (NaN and infinities become None)."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class Interval:
    """An estimate with its confidence bounds."""

    estimate: float
    ci_lb: float
    ci_ub: float


@dataclass(frozen=True)
class HeterogeneityCI:
    """Q-profile confidence intervals for tau2, tau, I2 (%) and H2 (metafor ``confint``).

    A bound outside the search range ``[0, tau2_max]`` is censored: the number kept is the
    range end and ``lb_sign`` / ``ub_sign`` say which way the true bound lies (metafor's
    ``lb.sign`` / ``ub.sign``): ``">"`` above ``tau2_max``, ``"<"`` below 0 (both bounds
    below 0: the interval is the empty set), ``""`` an exact bound. The signs hold for all four
    rows, which are monotone in tau2. ``note`` explains them in words.
    """

    tau2: Interval
    tau: Interval
    i2: Interval
    h2: Interval
    level: float
    note: str = ""
    lb_sign: str = ""
    ub_sign: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (NaN and infinities become None)."""
        out: dict[str, Any] = {
            name: plain(vars(getattr(self, name)))
            for name in ("tau2", "tau", "i2", "h2")
        }
        out["level"] = self.level
        out["note"] = self.note
        out["lb_sign"] = self.lb_sign
        out["ub_sign"] = self.ub_sign
        return out

    def __str__(self) -> str:
        rows = [f"{'':>6}  {'estimate':>9}  {'ci.lb':>9}  {'ci.ub':>9}"]
        for name, label in (("tau2", "tau^2"), ("tau", "tau"), ("i2", "I^2(%)"), ("h2", "H^2")):
            iv = getattr(self, name)
            lb, ub = f"{self.lb_sign}{iv.ci_lb:.4f}", f"{self.ub_sign}{iv.ci_ub:.4f}"
            rows.append(f"{label:>6}  {iv.estimate:9.4f}  {lb:>9}  {ub:>9}")
        text = f"Q-profile {self.level:g}% confidence intervals for the heterogeneity\n"
        text += "\n".join(rows)
        return text + (f"\n{self.note}" if self.note else "")


@dataclass(frozen=True, eq=False)
class PoolResult:
    """A fitted fixed- or random-effects model; field names follow metafor.

    Attributes
    ----------
    estimate, se, zval, pval, ci_lb, ci_ub : float
        Pooled estimate on the model scale, its SE (times sqrt(s2w) for knha/adhoc), the z
        (or t) statistic, p-value and CI.
    pi_lb, pi_ub : float
        Prediction interval :math:`\\hat\\mu \\pm c\\sqrt{SE^2+\\hat\\tau^2}` with the same
        critical value c as the CI (NaN for FE).
    tau2, tau, se_tau2 : float
        Between-study variance, its square root and standard error.
    i2, h2 : float
        I2 (%) and H2; NaN when a sampling variance is 0.
    q, q_df, q_p : float
        Cochran's Q (always with weights 1/vi), its df (k - 1) and p-value.
    k : int
        Studies used.
    vt : float
        "Typical" within-study variance :math:`(k-1)\\sum w/((\\sum w)^2-\\sum w^2)`.
    s2w : float
        Knapp-Hartung scale factor (1 for the z test).
    ddf : float
        t degrees of freedom (NaN for z).
    qm, qm_p : float
        Test of the pooled estimate (``QM``; chi-square 1 df, or F(1, k-1)).
    ll_ml, ll_reml : float
        Log-likelihood and restricted log-likelihood at the estimates.
    weights : numpy.ndarray
        Percent weight of each study used.
    yi, vi, labels, ni
        The studies used (studies with missing yi/vi are listed in ``omitted``).
    """

    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float
    tau2: float
    tau: float
    se_tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    k: int
    vt: float
    s2w: float
    ddf: float
    qm: float
    qm_p: float
    ll_ml: float
    ll_reml: float
    weights: FloatArray
    yi: FloatArray
    vi: FloatArray
    labels: Sequence[str]
    method: str
    test: str
    level: float
    measure: str
    ni: FloatArray | None = None
    correction: str = "none"
    omitted: tuple[str, ...] = ()
    iterations: int = 0
    control: Control = field(default_factory=Control)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("weights", "yi", "vi", "ni"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, readonly(value))

    @property
    def allvipos(self) -> bool:
        """True when every sampling variance is positive (Q, I2, H2 and confint need it)."""
        return bool(np.all(self.vi > 0))

    def confidence_interval(self) -> tuple[float, float]:
        """The CI of the pooled estimate on the model scale, ``(ci_lb, ci_ub)``."""
        return (self.ci_lb, self.ci_ub)

    def predict(self, transform: bool = True) -> Prediction:
        """Pooled estimate, CI and PI, back-transformed to the natural scale by default.

        The back-transform is applied to each end point (metafor ``predict(fit, transf=)``);
        see :func:`metareview.effects.transform_for`.
        """
        values = np.array([self.estimate, self.ci_lb, self.ci_ub, self.pi_lb, self.pi_ub])
        if transform:
            pred, ci_lb, ci_ub, pi_lb, pi_ub = (
                float(v) for v in transform_for(self.measure, self.ni)(values)
            )
            return Prediction(
                pred,
                math.nan,
                ci_lb,
                ci_ub,
                pi_lb,
                pi_ub,
                scale=natural_scale(self.measure),
                transformed=True,
                ddf=self.ddf,
            )
        return Prediction(
            self.estimate,
            self.se,
            self.ci_lb,
            self.ci_ub,
            self.pi_lb,
            self.pi_ub,
            scale=MODEL_SCALE[self.measure],
            transformed=False,
            ddf=self.ddf,
        )

    def heterogeneity_ci(
        self, level: float | None = None, *, tol: float | None = None, maxiter: int = 1000
    ) -> HeterogeneityCI:
        r"""Q-profile confidence intervals for tau2, tau, I2 and H2 (Viechtbauer 2007).

        The bounds solve :math:`Q(\tau^2)=\sum w_i(\tau^2)(y_i-\hat\mu(\tau^2))^2` =
        the upper and lower :math:`\chi^2_{k-1}` quantiles on :math:`[0, \max(100, 10\hat\tau^2)]`;
        a bound is 0 when :math:`Q(0)` is already below its quantile. I2 and H2 bounds follow
        from the tau2 bounds through ``vt``. Same as metafor ``confint(fit)``; ``tol`` defaults
        to metafor's 1.22e-4 (pass 1e-12 for fully converged bounds).

        Raises
        ------
        EstimationError
            For k = 1, FE fits, or zero sampling variances (as metafor).
        """
        return _qprofile(self, self.level if level is None else level, tol, maxiter)

    confint = heterogeneity_ci  # metafor's name for the same call (documented in the README)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-safe values (NaN and infinities become None)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = plain(vars(value) if isinstance(value, Control) else value)
        return out

    def __str__(self) -> str:
        return _format(self)


# --- the estimators --------------------------------------------------------------------------


_EPS = float(np.finfo(float).eps)


class _Sums:
    r"""Weighted sums for the intercept-only model at one value of tau2.

    With :math:`P = W - ww'/S` (:math:`S=\sum w`), the traces are written over pairs
    :math:`j \ne i` so that every term is positive: :math:`\mathrm{tr}(P) = \sum_i w_i S_{-i}/S`
    and :math:`\mathrm{tr}(PP) = \sum_i w_i^2 (S_{-i}^2 + T_{-i})/S^2` with
    :math:`S_{-i} = \sum_{j\ne i} w_j`, :math:`T_{-i} = \sum_{j\ne i} w_j^2`. The textbook forms
    (:math:`S - \sum w^2/S`, ...) cancel to noise or below 0 when the variances differ by
    1e6 or more.
    """

    def __init__(self, y: FloatArray, v: FloatArray, tau2: float):
        # With a study of v = 0, a tau2 below rounding at the scale of the variances is 0:
        # otherwise that study would get a huge but finite weight instead of metafor's
        # division-by-zero.
        if tau2 and tau2 <= 8 * _EPS * float(v.max(initial=0.0)) and not v.all():
            tau2 = 0.0
        with np.errstate(divide="ignore"):
            self.w = 1.0 / (v + tau2) if tau2 else 1.0 / v
        self.sw = float(self.w.sum())
        if math.isinf(self.sw):  # some v + tau2 == 0
            raise EstimationError(
                "Division by zero when computing the inverse variance weights.",
                hint=_ZERO_VARIANCE_HINT,
            )
        self.sw2 = float(np.dot(self.w, self.w))
        # residuals about the heaviest study, so that its own (tiny) residual keeps its digits
        yc = y - y[int(np.argmax(self.w))]
        shift = float(np.dot(self.w, yc)) / self.sw
        self.b = float(y[int(np.argmax(self.w))]) + shift
        self.r = yc - shift
        self.wr = self.w * self.r
        self._sw_others = _others(self.w)

    @property
    def q(self) -> float:
        """Generalised Q, Y'PY."""
        return float(np.dot(self.wr, self.r))

    @cached_property
    def tr_p(self) -> float:
        return float(np.dot(self.w, self._sw_others)) / self.sw

    @cached_property
    def _pp_terms(self) -> FloatArray:
        """:math:`S_{-i}^2 + T_{-i}`: the row sums of :math:`P \\circ P` times :math:`S^2/w_i^2`."""
        return self._sw_others**2 + _others(self.w * self.w)

    @cached_property
    def tr_pp(self) -> float:
        return float(np.dot(self.w * self.w, self._pp_terms)) / self.sw**2

    def tr_pvpv_pvp(self, v: FloatArray) -> tuple[float, float]:
        """tr(PVPV) and tr(PVP), as sums of positive terms like :attr:`tr_pp`."""
        a = self.w * v
        c = self.w * a
        pvpv = float(np.dot(a * a, self._sw_others**2)) + float(np.dot(c, _others(c)))
        pvp = float(np.dot(c, self._pp_terms))
        return pvpv / self.sw**2, pvp / self.sw**2


def _others(x: FloatArray) -> FloatArray:
    """:math:`\\sum_{j \\ne i} x_j` for each i, from prefix and suffix sums (never the total
    minus :math:`x_i`, which loses every digit when :math:`x_i` dominates)."""
    before = np.concatenate(([0.0], np.cumsum(x[:-1])))
    after = np.concatenate((np.cumsum(x[:0:-1])[::-1], [0.0]))
    return before + after


class _Data:
    """The studies of one fit. Keeps the sums at tau2 = 0 and at the last tau2 asked for:
    the estimators, the likelihood check and the final fit often ask for the same value."""

    def __init__(self, y: FloatArray, v: FloatArray):
        self.y, self.v, self.k = y, v, int(y.size)
        self._zero: _Sums | None = None
        self._last: tuple[float, _Sums] | None = None

    def at(self, tau2: float) -> _Sums:
        if tau2 == 0:
            if self._zero is None:
                self._zero = _Sums(self.y, self.v, 0.0)
            return self._zero
        if self._last is None or self._last[0] != tau2:
            self._last = (tau2, _Sums(self.y, self.v, tau2))
        return self._last[1]


def _he(y: FloatArray, v: FloatArray) -> float:
    """Hedges' estimator, not truncated: sum((y - mean y)^2)/(k-1) - mean(v)."""
    k = y.size
    return (float(np.sum((y - y.mean()) ** 2)) - float(v.sum()) * (1 - 1 / k)) / (k - 1)


def tau2_search_max(y: FloatArray) -> float:
    """metafor's default upper end of the Paule-Mandel search for tau2 (``tau2.max``):
    max(100, 10 mad(y)^2), with R's ``mad()`` = 1.4826 * median absolute deviation."""
    mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
    return max(100.0, 10 * mad**2)


def _refuse_zero(method: str) -> EstimationError:
    return EstimationError(
        f"{method} estimator cannot be used when there are non-positive sampling variances "
        "in the data.",
        hint=_ZERO_VARIANCE_HINT,
    )


def _estimate_tau2(data: _Data, method: str, con: Control) -> tuple[float, float, int]:
    """tau2 (truncated at 0), its SE and the iteration count."""
    y, v, k = data.y, data.v, data.k
    allvipos = bool(v.min() > 0)
    if method in ("HS", "DL", "PM") and not allvipos:
        raise _refuse_zero(method)
    if method == "HS":
        s = data.at(0.0)
        tau2 = max(0.0, (s.q - k) / s.sw)
        se = math.sqrt(2 * (k - 1) + 4 * tau2 * s.tr_p + 2 * tau2**2 * s.tr_pp) / s.sw
        return tau2, se, 0
    if method == "DL":
        s = data.at(0.0)
        tau2 = max(0.0, (s.q - (k - 1)) / s.tr_p)
        se = math.sqrt(2 * (k - 1) + 4 * tau2 * s.tr_p + 2 * tau2**2 * s.tr_pp) / s.tr_p
        return tau2, se, 0
    if method == "HE":
        tau2 = max(0.0, _he(y, v))
        return tau2, _he_se(v, tau2), 0
    if method == "SJ":
        tau0 = float(np.var(y))  # var(y) * (k-1)/k
        s = data.at(tau0)
        tau2 = max(0.0, tau0 * s.q / (k - 1))
        pvpv, pvp = s.tr_pvpv_pvp(v)
        se = math.sqrt(tau0**2 / (k - 1) ** 2 * (2 * pvpv + 4 * tau2 * pvp + 2 * tau2**2 * s.tr_pp))
        return tau2, se, 0
    if method == "PM":
        tau2 = _paule_mandel(data, con)
        return tau2, math.sqrt(2 * k**2 / (k - 1) / data.at(tau2).sw ** 2), 0
    return _fisher_scoring(data, method, con, allvipos)


def _he_se(v: FloatArray, tau2: float) -> float:
    """SE of the HE estimate, with P = I - J/k in metafor's formula."""
    k = v.size
    sv = float(v.sum())
    trpv = sv * (1 - 1 / k)
    pvpv = float(np.dot(v, v)) * (1 - 2 / k) + sv**2 / k**2
    return math.sqrt((2 * pvpv + 4 * tau2 * trpv + 2 * (k - 1) * tau2**2) / (k - 1) ** 2)


def _paule_mandel(data: _Data, con: Control) -> float:
    k = data.k
    tau2_max = con.tau2_max if con.tau2_max is not None else tau2_search_max(data.y)

    def f(tau2: float) -> float:
        return data.at(tau2).q - (k - 1)

    if f(0.0) < 0:
        return 0.0
    if f(tau2_max) > 0:
        raise EstimationError(
            f"Paule-Mandel: Q(tau2) is still above k - 1 at tau2_max = {tau2_max:g}.",
            hint="raise control tau2_max, or use another method (REML, DL)",
        )
    return uniroot(f, 0.0, tau2_max, con.tol, con.maxiter, "Paule-Mandel search for tau2")


def uniroot(
    f: Callable[[float], float], lo: float, hi: float, tol: float, maxiter: int, what: str
) -> float:
    """Root of ``f`` in [lo, hi], where f changes sign, by Brent's (1973) method.

    The steps of Brent's procedure *zero* (Algorithms for Minimization without Derivatives,
    ch. 4): inverse quadratic or linear interpolation when it stays inside the bracket and
    shrinks fast enough, bisection otherwise; stop when half the bracket is within
    ``2*eps*|x| + tol/2``. R's ``uniroot`` runs the same procedure, so with metafor's
    tolerance this lands on the very value metafor reports, not just near it.
    """
    eps = float(np.finfo(float).eps)
    a, b = lo, hi
    fa, fb = f(a), f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):  # keep b the best point so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        step = (c - b) / 2
        if abs(step) <= tol_act or fb == 0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:  # two points: secant
                t1 = fb / fa
                p, q = cb * t1, 1 - t1
            else:  # three points: inverse quadratic interpolation
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1))
                q = (q - 1) * (t1 - 1) * (t2 - 1)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2 and p < abs(prev_step * q / 2):
                step = p / q
        if abs(step) < tol_act:
            step = tol_act if step > 0 else -tol_act
        a, fa = b, fb
        b += step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise EstimationError(
        f"{what} did not converge in {maxiter} iterations.",
        hint="raise control maxiter, or use another method (REML, DL)",
    )


def _fisher_scoring(
    data: _Data, method: str, con: Control, allvipos: bool
) -> tuple[float, float, int]:
    """REML, ML or EB by Fisher scoring from the HE estimate, with step halving at 0."""
    k = data.k
    tau2 = max(0.0, _he(data.y, data.v))
    change = con.threshold + 1
    iteration = 0
    # a change within rounding of tau2 is as converged as double precision allows (a large
    # tau2 can never move by less than a tiny threshold)
    while change > max(con.threshold, 4 * _EPS * tau2):
        iteration += 1
        old = tau2
        adj = _scoring_step(data.at(tau2), method, k)
        adj = 0.0 if math.isnan(adj) else adj * con.stepadj
        while tau2 + adj < 0:
            adj /= 2
        tau2 += adj
        change = abs(old - tau2)
        if iteration > con.maxiter:
            raise EstimationError(
                f"Fisher scoring algorithm ({method}) did not converge "
                f"in {con.maxiter} iterations.",
                hint="raise control maxiter, lower stepadj, or use method PM or DL",
            )
    if (
        0 < tau2 <= con.threshold
        and allvipos
        and tau2 > float(data.v.min())
        and _scoring_step(data.at(0.0), method, k) <= 0
    ):
        # The maximum is at 0, which step halving only creeps towards; metafor stops at a
        # tau2 below the threshold, harmless unless a study's variance is smaller still (its
        # weight would then be off by half or more): report the boundary itself.
        tau2 = 0.0
    if (
        method in ("ML", "REML")
        and con.ll0check
        and allvipos
        and tau2 > con.threshold
        and _loglik(data.at(0.0), method) - _loglik(data.at(tau2), method) > con.tol
    ):
        warnings.warn(
            "Fisher scoring may have stopped at a local maximum; tau2 set to 0 "
            "(its likelihood is higher).",
            ReviewWarning,
            stacklevel=4,
        )
        tau2 = 0.0
    s = data.at(tau2)
    if method == "ML":
        se = math.sqrt(2 / s.sw2)
    elif method == "REML":
        se = math.sqrt(2 / s.tr_pp)
    else:
        se = math.sqrt(2 * k**2 / (k - 1) / s.sw**2)
    return tau2, se, iteration


def _scoring_step(s: _Sums, method: str, k: int) -> float:
    """The Fisher scoring step for ML, REML or EB at the tau2 of ``s`` (NaN when undefined);
    its sign is that of the score."""
    try:
        if method == "ML":
            return (float(np.dot(s.wr, s.wr)) - s.sw) / s.sw2
        if method == "REML":
            return (float(np.dot(s.wr, s.wr)) - s.tr_p) / s.tr_pp
        return (s.q * k / (k - 1) - k) / s.sw  # EB
    except ZeroDivisionError:
        # a zero sampling variance with tau2 ~ 0: weights so large the sums cancel to 0
        raise EstimationError(
            "Division by zero when computing the inverse variance weights.",
            hint="a study with sampling variance 0 gets infinite weight while tau^2 is "
            "near 0; check that study's variance, or keep a continuity correction",
        ) from None


def _loglik(s: _Sums, method: str) -> float:
    """ML or REML log-likelihood (REML without metafor's constant log det X'X term, as in its
    check against tau2 = 0)."""
    k = s.w.size
    total = -float(np.sum(np.log(s.w)))  # sum of log(vi + tau2)
    if method == "ML":
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * total - 0.5 * s.q
    return -0.5 * (k - 1) * math.log(2 * math.pi) - 0.5 * total - 0.5 * math.log(s.sw) - 0.5 * s.q


# --- pooling ---------------------------------------------------------------------------------


def pool(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    measure: str = "GEN",
    ni: ArrayLike | None = None,
    labels: Sequence[str] | None = None,
    control: Control | Mapping[str, Any] | None = None,
    correction: str = "none",
) -> PoolResult:
    r"""Fit a fixed- or random-effects model to effect sizes ``yi`` with variances ``vi``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (NaN studies are left out with a warning).
    method : {"REML", "FE", "DL", "ML", "PM", "HE", "SJ", "EB", "HS"}
        The tau2 estimator (FE: none). REML is metafor's default.
    test : {"z", "knha", "adhoc"}
        z: normal CI and test. knha: Knapp-Hartung (HKSJ), SE times
        :math:`\sqrt{s^2_w}`, :math:`s^2_w=\sum w_i(y_i-\hat\mu)^2/(k-1)` with t(k-1);
        adhoc: the same with :math:`s^2_w` floored at 1.
    level : float
        Confidence level in percent (or as a fraction, e.g. 0.95, as metafor allows).
    measure : str
        The effect measure of ``yi`` (used by :meth:`PoolResult.predict` to back-transform).
    ni : array_like, optional
        Study sizes (needed to back-transform PFT).
    labels : sequence of str, optional
        Study names (default "Study 1", ...).
    control : Control or mapping, optional
        Convergence settings; metafor's defaults when omitted.
    correction : str
        Plain-words note of the continuity correction behind ``yi`` (kept in the result).

    Returns
    -------
    PoolResult

    Notes
    -----
    With :math:`w_i=1/v_i`, :math:`Q=\sum w_i(y_i-\bar y_w)^2` and
    :math:`Q(t)=\sum (y_i-\hat\mu_t)^2/(v_i+t)`, all truncated at 0:

    * DL (DerSimonian & Laird 1986): :math:`(Q-(k-1))/(\sum w-\sum w^2/\sum w)`
    * HE (Hedges & Olkin 1985): :math:`\sum(y_i-\bar y)^2/(k-1)-\bar v`
    * HS (Hunter & Schmidt 2004): :math:`(Q-k)/\sum w`
    * SJ (Sidik & Jonkman 2005): :math:`t_0 Q(t_0)/(k-1)`, :math:`t_0=\sum(y_i-\bar y)^2/k`
    * PM (Paule & Mandel 1982): root of :math:`Q(t)=k-1` (Brent's method)
    * REML, ML, EB (Viechtbauer 2005; Morris 1983): Fisher scoring from the HE value,
      stopping when :math:`|\Delta\tau^2|<10^{-5}` as metafor does (or when the step is
      within rounding of :math:`\tau^2`). A boundary maximum (score :math:`\le 0` at 0) whose
      leftover :math:`\tau^2` exceeds the smallest :math:`v_i` is reported as 0.

    Sums such as :math:`\sum w-\sum w^2/\sum w` are computed as sums over pairs
    :math:`j \ne i` (:class:`_Sums`), so variances that differ by 1e12 lose no digits.

    I2 and H2 follow metafor: :math:`I^2=100\,\hat\tau^2/(\hat\tau^2+v_t)`,
    :math:`H^2=1+\hat\tau^2/v_t` with :math:`v_t=(k-1)\sum w/((\sum w)^2-\sum w^2)`
    (Higgins & Thompson 2002); for FE :math:`I^2=\max(0,100(Q-(k-1))/Q)`, :math:`H^2=Q/(k-1)`.

    Raises
    ------
    EstimationError
        Where metafor refuses: zero sampling variances with FE, DL, HS or PM; no
        convergence; no studies left.

    Examples
    --------
    Pritz (1997), 14 single-arm studies, logit proportions, REML. metafor 3.8-1,
    ``rma(yi, vi, data=escalc(measure="PLO", xi=xi, ni=ni, data=dat.pritz1997))``, gives
    estimate 1.1389 (SE 0.2415), tau^2 0.3646, I^2 56.56%, Q(df = 13) = 29.7854 and, with
    ``predict(fit, transf=transf.ilogit)``, 0.7575 [0.6605, 0.8337], PI [0.4661, 0.9179]:

    >>> from metareview.effects import escalc
    >>> xi = [16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6]
    >>> ni = [17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10]
    >>> fit = pool_effects(escalc("PLO", xi=xi, ni=ni), method="REML")
    >>> print(f"{fit.estimate:.4f} {fit.se:.4f} {fit.tau2:.4f} {fit.i2:.2f} {fit.q:.4f}")
    1.1389 0.2415 0.3646 56.56 29.7854
    >>> p = fit.predict()
    >>> print(f"{p.pred:.4f} [{p.ci_lb:.4f}, {p.ci_ub:.4f}] PI [{p.pi_lb:.4f}, {p.pi_ub:.4f}]")
    0.7575 [0.6605, 0.8337] PI [0.4661, 0.9179]
    """
    method, test = check_choice(method, METHODS, "method"), check_choice(test, TESTS, "test")
    measure = check_choice(measure, MEASURES, "measure")
    alpha = alpha_for(level)
    level = 100 * (1 - alpha)
    con = _control(control)
    y_all = np.atleast_1d(np.asarray(yi, dtype=np.float64))
    v_all = np.atleast_1d(np.asarray(vi, dtype=np.float64))
    if y_all.ndim != 1 or y_all.shape != v_all.shape:
        raise InputError(
            "yi and vi must be one-dimensional and of the same length "
            f"({y_all.shape} vs {v_all.shape})"
        )
    k_all = y_all.size
    names = _labels(labels, k_all, None)
    n_all = None if ni is None else np.atleast_1d(np.asarray(ni, dtype=np.float64))
    if n_all is not None and n_all.shape != y_all.shape:
        raise InputError("ni must have one value per study")
    # one pass per array when all is well (a sum is finite only if every term is)
    all_finite = math.isfinite(float(y_all.sum())) and math.isfinite(float(v_all.sum()))
    if not all_finite and (np.isinf(y_all).any() or np.isinf(v_all).any()):
        raise InputError("yi or vi is infinite", hint="give finite values, or NaN for missing")
    issued: list[str] = []

    def warn(message: str) -> None:
        issued.append(message)
        warnings.warn(message, ReviewWarning, stacklevel=3)

    omitted: tuple[str, ...] = ()
    if not all_finite:
        missing = np.isnan(y_all) | np.isnan(v_all)
        omitted = tuple(names[int(i)] for i in np.flatnonzero(missing))
        warn(f"studies with missing yi or vi left out of the model: {', '.join(omitted)}")
        keep = ~missing
        y, v = y_all[keep], v_all[keep]
        names = _labels(labels, k_all, keep)
        n_used = None if n_all is None else n_all[keep]
    else:
        y, v, n_used = y_all, v_all, n_all
    k = y.size
    if k == 0:
        raise EstimationError(
            "no studies left to pool (k = 0)", hint="give at least one study with yi and vi"
        )
    v_min = float(v.min())
    allvipos = v_min > 0
    if not allvipos:
        warn("There are outcomes with non-positive sampling variances.")
        if (v < 0).any():
            v = np.where(v < 0, 0.0, v)
            warn("Negative sampling variances constrained to zero.")
    elif float(v.max()) / v_min >= 1e7:
        warn(
            "Ratio of largest to smallest sampling variance extremely large; "
            "results may not be stable."
        )
    if k == 1 and test != "z":
        warn('Setting test="z" since k = 1.')
        test = "z"
    if method == "FE" and test != "z":
        warn("Knapp & Hartung method is not meant to be used in the context of FE models.")

    data = _Data(y, v)
    iterations = 0
    if method == "FE" or k == 1:
        tau2, se_tau2 = 0.0, math.nan
    else:
        tau2, se_tau2, iterations = _estimate_tau2(data, method, con)
    s = data.at(tau2)
    fe = data.at(0.0) if allvipos else None
    rss = s.q
    s2w = 1.0
    if test != "z":
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        if test == "adhoc":
            s2w = max(1.0, s2w)
    se = math.sqrt(s2w / s.sw)
    if se > 0:
        zval = s.b / se
        qm = zval**2
    else:  # knha with all residuals 0: metafor reports z = +-Inf, p = 0 and no QM
        zval = math.copysign(math.inf, s.b) if s.b else math.nan
        qm = math.nan
    # scipy.special rather than scipy.stats: same functions, far less overhead per call
    from scipy import special

    if test == "z":
        ddf = math.nan
        crit = -float(special.ndtri(alpha / 2))
        pval = 2 * float(special.ndtr(-abs(zval)))
        qm_p = float(special.chdtrc(1, qm))
    else:
        ddf = float(k - 1)
        crit = -float(special.stdtrit(ddf, alpha / 2))
        pval = 2 * float(special.stdtr(ddf, -abs(zval)))
        qm_p = float(special.fdtrc(1, ddf, qm))
    if fe is not None and k > 1:
        q = max(0.0, fe.q)
        q_p = float(special.chdtrc(k - 1, q))
        vt = (k - 1) / fe.tr_p
        if method == "FE":
            with np.errstate(divide="ignore", invalid="ignore"):
                i2 = max(0.0, float(100 * np.float64(q - (k - 1)) / q))
            h2 = q / (k - 1)
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    elif fe is not None:
        q, q_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    else:
        q = q_p = i2 = h2 = vt = math.nan
        warn(
            "Cannot compute Q-test, I^2, or H^2 when there are non-positive sampling "
            "variances in the data."
        )
    if method == "FE":
        pi_lb = pi_ub = math.nan
    else:
        half = crit * math.sqrt(se**2 + tau2)
        pi_lb, pi_ub = s.b - half, s.b + half
    log_v = -float(np.sum(np.log(s.w)))  # sum of log(vi + tau2)
    ll_ml = -0.5 * k * math.log(2 * math.pi) - 0.5 * log_v - 0.5 * rss
    ll_reml = (
        -0.5 * (k - 1) * math.log(2 * math.pi)
        + 0.5 * math.log(k)
        - 0.5 * log_v
        - 0.5 * math.log(s.sw)
        - 0.5 * rss
    )
    return PoolResult(
        estimate=s.b,
        se=se,
        zval=zval,
        pval=pval,
        ci_lb=s.b - crit * se,
        ci_ub=s.b + crit * se,
        pi_lb=pi_lb,
        pi_ub=pi_ub,
        tau2=tau2,
        tau=math.sqrt(tau2),
        se_tau2=se_tau2,
        i2=i2,
        h2=h2,
        q=q,
        q_df=k - 1,
        q_p=q_p,
        k=k,
        vt=vt,
        s2w=s2w,
        ddf=ddf,
        qm=qm,
        qm_p=qm_p,
        ll_ml=ll_ml,
        ll_reml=ll_reml,
        weights=s.w * (100 / s.sw),
        yi=y,
        vi=v,
        labels=names,
        method=method,
        test=test,
        level=float(level),
        measure=measure,
        ni=n_used,
        correction=correction,
        omitted=omitted,
        iterations=iterations,
        control=con,
        warnings=tuple(issued),
    )


def pool_effects(es: EffectSizes, **options: Any) -> PoolResult:
    """:func:`pool` on the output of :func:`~metareview.effects.escalc`, keeping its measure,
    study sizes and continuity-correction note."""
    return pool(es.yi, es.vi, measure=es.measure, ni=es.ni, correction=es.correction, **options)


def pool_proportions(
    events: ArrayLike,
    totals: ArrayLike,
    measure: str = "PLO",
    method: str = "REML",
    *,
    test: str = "z",
    level: float = 95.0,
    labels: Sequence[str] | None = None,
    add: float | None = None,
    to: str = "only0",
    control: Control | Mapping[str, Any] | None = None,
) -> PoolResult:
    """Pool single proportions from raw counts: :func:`escalc` then :func:`pool`.

    Examples
    --------
    >>> fit = pool_proportions([16, 10, 2, 43], [17, 12, 4, 58], method="DL")
    >>> fit.method, fit.k
    ('DL', 4)
    """
    measure = check_choice(measure, ("PR", "PLN", "PLO", "PAS", "PFT"), "measure for proportions")
    es = escalc(measure, xi=events, ni=totals, add=add, to=to)
    return pool_effects(es, method=method, test=test, level=level, labels=labels, control=control)


def check_choice(value: str, allowed: Sequence[str], what: str) -> str:
    """The entry of ``allowed`` that ``value`` names, ignoring case ("reml" → "REML"),
    else an :class:`OptionError` that lists the choices."""
    for option in allowed:
        if value.lower() == option.lower():
            return option
    raise OptionError(f"unknown {what} {value!r}", hint=f"choose one of: {', '.join(allowed)}")


def _labels(labels: Sequence[str] | None, k: int, keep: NDArray[np.bool_] | None) -> Sequence[str]:
    """The study names (of the studies kept), "Study i" made lazily when none are given."""
    if labels is None:
        return StudyNumbers(np.arange(k) if keep is None else np.flatnonzero(keep))
    names = tuple(str(label) for label in labels)
    if len(names) != k:
        raise InputError(f"{len(names)} labels for {k} studies", hint="give one label per study")
    return names if keep is None else tuple(n for n, kept in zip(names, keep, strict=True) if kept)


class StudyNumbers(Sequence[str]):
    """Default study labels "Study 1", "Study 2", ... built on access, so that pooling
    100,000 studies does not spend its time formatting names."""

    def __init__(self, positions: NDArray[np.intp]):
        self._positions = positions

    def __len__(self) -> int:
        return int(self._positions.size)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return StudyNumbers(self._positions[index])
        return f"Study {int(self._positions[index]) + 1}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"StudyNumbers(k={len(self)})"


# --- Q-profile CI ----------------------------------------------------------------------------


def _qprofile(fit: PoolResult, level: float, tol: float | None, maxiter: int) -> HeterogeneityCI:
    from scipy import special

    if fit.k == 1:
        raise EstimationError(
            "Stopped because k = 1.", hint="confidence intervals for tau2 need k >= 2"
        )
    if fit.method == "FE":
        raise EstimationError(
            "Model does not contain a random-effects component.",
            hint="fit a random-effects model (e.g. method='REML') for heterogeneity CIs",
        )
    if not fit.allvipos:
        raise EstimationError(
            "Cannot compute CI for tau^2 when there are non-positive sampling variances "
            "in the data.",
            hint=_ZERO_VARIANCE_HINT,
        )
    alpha = alpha_for(level)
    level = 100 * (1 - alpha)
    tol = Control().tol if tol is None else tol
    y, v, k = fit.yi, fit.vi, fit.k
    crit_u = float(special.chdtri(k - 1, alpha / 2))
    crit_l = float(special.chdtri(k - 1, 1 - alpha / 2))
    lo, hi = 0.0, max(100.0, 10 * fit.tau2)

    def q(tau2: float) -> float:
        return _Sums(y, v, tau2).q

    def root(target: float) -> float:
        return uniroot(lambda t: q(t) - target, lo, hi, tol, maxiter, "Q-profile bound for tau2")

    q_lo, q_hi = q(lo), q(hi)
    notes = []
    lb_sign = ub_sign = ""
    if q_lo < crit_l:
        tau2_lb = tau2_ub = lo
        lb_sign = ub_sign = "<"
        notes.append("both bounds for tau2 fall below 0: the interval is the empty set")
    elif q_hi > crit_l:
        tau2_ub = hi
        ub_sign = ">"
        notes.append(f"upper bound for tau2 is above the search limit {hi:g} ('>')")
    else:
        tau2_ub = root(crit_l)
    if q_hi > crit_u:
        tau2_lb = tau2_ub = hi
        lb_sign = ub_sign = ">"
        notes[-1:] = [f"both bounds for tau2 are above the search limit {hi:g} ('>')"]
    elif q_lo < crit_u:
        tau2_lb = lo
    else:
        tau2_lb = root(crit_u)
    vt = fit.vt

    def i2(t: float) -> float:
        return 100 * t / (vt + t)

    def h2(t: float) -> float:
        return t / vt + 1

    return HeterogeneityCI(
        tau2=Interval(fit.tau2, tau2_lb, tau2_ub),
        tau=Interval(fit.tau, math.sqrt(tau2_lb), math.sqrt(tau2_ub)),
        i2=Interval(fit.i2, i2(tau2_lb), i2(tau2_ub)),
        h2=Interval(fit.h2, h2(tau2_lb), h2(tau2_ub)),
        level=level,
        note="; ".join(notes),
        lb_sign=lb_sign,
        ub_sign=ub_sign,
    )


# --- printing --------------------------------------------------------------------------------


def num(value: float | None, digits: int = 4, scale: float = 1.0) -> str:
    """``value * scale`` with ``digits`` decimals; ``"NA"`` when missing (None or NaN)."""
    if value is None or math.isnan(value):
        return "NA"
    return f"{value * scale:.{digits}f}"


def _p(value: float) -> str:
    if math.isnan(value):
        return "NA"
    return "<.0001" if value < 1e-4 else f"{value:.4f}"


def _format(fit: PoolResult) -> str:
    model = "Fixed (common) effect model" if fit.method == "FE" else "Random-effects model"
    lines = [
        f"{model} (k = {fit.k}; tau^2 estimator: {fit.method}, {METHOD_NAMES[fit.method]})",
        f"Measure: {fit.measure} ({MODEL_SCALE[fit.measure]}); "
        f"pooled CI: {TEST_NAMES[fit.test]} ({fit.level:g}%)",
    ]
    if fit.correction != "none":
        lines.append(f"Continuity correction: {fit.correction}")
    if fit.omitted:
        lines.append(f"Left out (missing yi/vi): {', '.join(fit.omitted)}")
    lines.append("")
    if fit.method != "FE":
        se_tau2 = f" (SE = {num(fit.se_tau2)})" if not math.isnan(fit.se_tau2) else ""
        lines += [
            f"tau^2 (between-study variance):        {num(fit.tau2)}{se_tau2}",
            f"tau (its square root):                 {num(fit.tau)}",
        ]
    i2_unit = "" if math.isnan(fit.i2) else "%"
    lines += [
        f"I^2 (heterogeneity / total variation): {num(fit.i2, 2)}{i2_unit}",
        f"H^2 (total / sampling variation):      {num(fit.h2, 2)}",
        "",
        f"Test for heterogeneity: Q(df = {fit.q_df}) = {num(fit.q)}, p-val = {_p(fit.q_p)}",
        "",
    ]
    stat = "zval" if fit.test == "z" else "tval"
    header = f"{'estimate':>9} {'se':>8} {stat:>8} {'pval':>8} {'ci.lb':>8} {'ci.ub':>8}"
    if fit.method != "FE":
        header += f" {'pi.lb':>8} {'pi.ub':>8}"
    row = (
        f"{num(fit.estimate):>9} {num(fit.se):>8} {num(fit.zval):>8} {_p(fit.pval):>8} "
        f"{num(fit.ci_lb):>8} {num(fit.ci_ub):>8}"
    )
    if fit.method != "FE":
        row += f" {num(fit.pi_lb):>8} {num(fit.pi_ub):>8}"
    lines += ["Model results (model scale):", header, row]
    if fit.measure not in ("PR", "RD", "MD", "SMD", "GEN") and (
        fit.measure != "PFT" or fit.ni is not None
    ):
        p = fit.predict()
        text = f"Back-transformed ({p.scale}): {num(p.pred)} [{num(p.ci_lb)}, {num(p.ci_ub)}]"
        if fit.method != "FE":
            text += f", prediction interval [{num(p.pi_lb)}, {num(p.pi_ub)}]"
        lines += ["", text]
    if fit.warnings:
        lines += ["", "Warnings:", *(f"  {w}" for w in fit.warnings)]
    return "\n".join(lines)


__all__ = [
    "METHODS",
    "TESTS",
    "Control",
    "HeterogeneityCI",
    "Interval",
    "PoolResult",
    "Prediction",
    "pool",
    "pool_effects",
    "pool_proportions",
]
