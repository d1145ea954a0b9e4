r"""Mantel–Haenszel and Peto pooling of 2x2 tables (metafor's ``rma.mh`` and ``rma.peto``).

Both are common-effect (fixed) methods that work on the cell counts rather than on per-study
effect sizes, so tables with a zero cell need no continuity correction for the estimate.
Per-study ``yi``/``vi`` are still computed (with metafor's correction, double-zero tables
dropped) for the Q-test of heterogeneity and for the study rows of a forest plot.

With :math:`N_i=a_i+b_i+c_i+d_i`, :math:`n_{1i}=a_i+b_i`, :math:`n_{2i}=c_i+d_i`,
:math:`x_i=a_i+c_i` (events) and :math:`y_i=b_i+d_i` (non-events):

* MH odds ratio: :math:`\hat\psi=\sum a_id_i/N_i \big/ \sum b_ic_i/N_i`, variance of
  :math:`\log\hat\psi` by Robins, Breslow & Greenland (1986);
* MH risk ratio: :math:`\sum a_in_{2i}/N_i \big/ \sum c_in_{1i}/N_i`, variance by Greenland &
  Robins (1985);
* MH risk difference: :math:`\sum (a_in_{2i}-c_in_{1i})/N_i \big/ \sum n_{1i}n_{2i}/N_i`,
  variance by Sato, Greenland & Robins (1989);
* Peto's log odds ratio: :math:`\sum(a_i-E_i)/\sum V_i` with :math:`E_i=x_in_{1i}/N_i`,
  :math:`V_i=x_iy_in_{1i}n_{2i}/(N_i^2(N_i-1))`, SE :math:`1/\sqrt{\sum V_i}` (Yusuf et al. 1985).

For the odds ratio the Cochran–Mantel–Haenszel test of no association and the Breslow–Day
test of homogeneous odds ratios with Tarone's (1985) adjustment are given as well.

References
----------
Mantel N, Haenszel W (1959). Statistical aspects of the analysis of data from retrospective
    studies of disease. J Natl Cancer Inst 22:719-748.
Robins J, Breslow N, Greenland S (1986). Estimators of the Mantel-Haenszel variance consistent
    in both sparse data and large-strata limiting models. Biometrics 42:311-323.
Greenland S, Robins JM (1985). Estimation of a common effect parameter from sparse follow-up
    data. Biometrics 41:55-68.
Sato T, Greenland S, Robins JM (1989). On the variance estimator for the Mantel-Haenszel risk
    difference. Biometrics 45:1323-1324.
Yusuf S, Peto R, Lewis J, Collins R, Sleight P (1985). Beta blockade during and after
    myocardial infarction. Prog Cardiovasc Dis 27:335-371.
Breslow NE, Day NE (1980). Statistical Methods in Cancer Research, Vol. I. IARC.
Tarone RE (1985). On heterogeneity tests based on efficient scores. Biometrika 72:91-95.
Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .effects import (
    CORRECTION_TARGETS,
    MODEL_SCALE,
    FloatArray,
    alpha_for,
    escalc,
    natural_scale,
    readonly,
    transform_for,
)
from .errors import EstimationError, InputError, OptionError, ReviewWarning
from .jsonsafe import plain
from .meta import Prediction, _p, check_choice, num

__all__ = ["MH_MEASURES", "MHResult", "checked_cells", "pool_counts", "pool_mh", "pool_peto"]

#: Measures :func:`pool_mh` supports (Peto's method is for the odds ratio only).
MH_MEASURES = ("OR", "RR", "RD")


@dataclass(frozen=True, eq=False)
class MHResult:
    """A Mantel–Haenszel or Peto fit; field names follow metafor (``MH`` → ``cmh``).

    Attributes
    ----------
    method : {"MH", "Peto"}
    measure : {"OR", "RR", "RD"}
        Peto's method pools log odds ratios (metafor calls the measure ``PETO``).
    estimate, se, zval, pval, ci_lb, ci_ub : float
        Pooled estimate on the model scale (log OR, log RR or RD), Wald-type z test and CI.
    q, q_df, q_p, i2, h2 : float
        Test for heterogeneity: for MH, Cochran's Q of the per-study ``yi`` around the MH
        estimate with weights :math:`1/v_i`; for Peto, Peto's own statistic
        :math:`\\sum (a_i-E_i)^2/V_i-(\\sum(a_i-E_i))^2/\\sum V_i`. df = ``k_yi`` − 1;
        :math:`I^2=\\max(0,100(Q-df)/Q)`, :math:`H^2=Q/df`.
    k : int
        Tables in the MH/Peto computation.
    k_yi : int
        Tables with a per-study ``yi``/``vi`` (those in the Q-test).
    k_pos : int or None
        Tables that inform the Breslow–Day test (OR) or have :math:`V_i>0` (Peto).
    cmh, cmh_p : float
        Cochran–Mantel–Haenszel test (metafor ``MH``; with the 1/2 continuity correction
        when ``correct``); NaN unless MH odds ratio.
    cochran, cochran_p : float
        Cochran's variant of that test (metafor ``CO``: variances with :math:`N_i` instead of
        :math:`N_i-1`).
    breslow_day, breslow_day_p, tarone, tarone_p : float
        Breslow–Day test of homogeneous odds ratios and Tarone's adjusted version.
    correct : bool
        Whether the CMH test used the continuity correction.
    yi, vi : numpy.ndarray
        Per-table effect sizes and variances (NaN where dropped), as metafor's ``yi.f``.
    weights : numpy.ndarray
        Percent weight of each table in the estimate (metafor ``weights()``), NaN if omitted.
    labels : sequence of str
    correction : str
        The continuity correction of ``yi``/``vi`` in words (the estimate uses raw counts).
    """

    method: str
    measure: str
    estimate: float
    se: float
    zval: float
    pval: float
    ci_lb: float
    ci_ub: float
    q: float
    q_df: int
    q_p: float
    i2: float
    h2: float
    k: int
    k_yi: int
    k_pos: int | None
    cmh: float
    cmh_p: float
    cochran: float
    cochran_p: float
    breslow_day: float
    breslow_day_p: float
    tarone: float
    tarone_p: float
    correct: bool
    level: float
    yi: FloatArray
    vi: FloatArray
    weights: FloatArray
    labels: Sequence[str]
    correction: str = "none"
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        for name in ("yi", "vi", "weights"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def tau2(self) -> float:
        """0: a common-effect model has no between-study variance (metafor's ``tau2``)."""
        return 0.0

    def confidence_interval(self) -> tuple[float, float]:
        """The CI of the pooled estimate on the model scale, ``(ci_lb, ci_ub)``."""
        return (self.ci_lb, self.ci_ub)

    def predict(self, transform: bool = True) -> Prediction:
        """Estimate and CI, exponentiated for OR and RR by default (no prediction interval:
        a common-effect model has none)."""
        values = np.array([self.estimate, self.ci_lb, self.ci_ub])
        if transform:
            values = transform_for(self.measure)(values)
        pred, lb, ub = (float(v) for v in values)
        return Prediction(pred, math.nan if transform else self.se, lb, ub, math.nan, math.nan,
                          scale=natural_scale(self.measure) if transform
                          else MODEL_SCALE[self.measure],
                          transformed=transform, ddf=math.nan)

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON-safe values (NaN and infinities become None)."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}

    def __str__(self) -> str:
        name = "Mantel-Haenszel" if self.method == "MH" else "Peto"
        lines = [
            f"Common-effect model, {name} method (k = {self.k})",
            f"Measure: {self.measure} ({MODEL_SCALE[self.measure]}); pooled CI: Wald-type z "
            f"({self.level:g}%)",
            f"Continuity correction of the study yi/vi: {self.correction} "
            "(the pooled estimate uses the raw counts)",
            "",
            f"I^2 (heterogeneity / total variation): {num(self.i2, 2)}%",
            f"H^2 (total / sampling variation):      {num(self.h2, 2)}",
            "",
            f"Test for heterogeneity: Q(df = {self.q_df}) = {num(self.q)}, "
            f"p-val = {_p(self.q_p)}",
        ]
        if self.method == "MH" and self.measure == "OR":
            lines += [
                f"Cochran-Mantel-Haenszel test: CMH = {num(self.cmh)}, df = 1, "
                f"p-val = {_p(self.cmh_p)}"
                + ("" if self.correct else " (no continuity correction)"),
                f"Tarone's test for heterogeneity: X^2 = {num(self.tarone)}, "
                f"df = {max((self.k_pos or 0) - 1, 0)}, p-val = {_p(self.tarone_p)}",
            ]
        lines += [
            "",
            "Model results (model scale):",
            f"{'estimate':>9} {'se':>8} {'zval':>8} {'pval':>8} {'ci.lb':>8} {'ci.ub':>8}",
            f"{num(self.estimate):>9} {num(self.se):>8} {num(self.zval):>8} "
            f"{_p(self.pval):>8} {num(self.ci_lb):>8} {num(self.ci_ub):>8}",
        ]
        if self.measure != "RD":
            p = self.predict()
            lines += ["", f"Back-transformed ({p.scale}): {num(p.pred)} "
                          f"[{num(p.ci_lb)}, {num(p.ci_ub)}]"]
        return "\n".join(lines)


def pool_mh(
    ai: ArrayLike,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    *,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    measure: str = "OR",
    correct: bool = True,
    add: float | tuple[float, float] = 0.5,
    to: str | tuple[str, str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    level: float = 95.0,
    labels: Sequence[str] | None = None,
) -> MHResult:
    r"""Mantel–Haenszel common-effect estimate of an OR, RR or RD (metafor ``rma.mh``).

    Parameters
    ----------
    ai, bi, ci, di : array_like
        The 2x2 cells (events and non-events in group 1, then group 2); or give ``ai, ci``
        with the group sizes ``n1i, n2i``.
    measure : {"OR", "RR", "RD"}
    correct : bool
        Continuity correction (1/2) in the Cochran–Mantel–Haenszel test (OR only).
    add, to, drop00
        As metafor: one value applies to the per-study ``yi``/``vi`` (Q-test, study rows),
        and the MH computation itself uses ``0``, ``"none"``, ``False``; a pair gives both.
        Defaults: 1/2 added to every cell of tables with a zero cell, double-zero tables
        dropped from the ``yi``/``vi`` (but kept, contributing nothing, in the estimate).
    level : float
        Confidence level in percent (or as a fraction).
    labels : sequence of str, optional
        Table names (default "Study 1", ...).

    Returns
    -------
    MHResult

    Raises
    ------
    EstimationError
        When the pooled ratio is 0 or infinite (e.g. no events in one group of every table),
        where metafor returns NA.

    Examples
    --------
    BCG vaccine trials (``dat.bcg``); metafor 3.8-1 ``rma.mh(ai=tpos, bi=tneg, ci=cpos,
    di=cneg, data=dat.bcg)`` gives log OR -0.4734 (SE 0.0410), CMH = 135.6889, Tarone 171.7567:

    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> tneg = [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> cneg = [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825]
    >>> fit = pool_mh(tpos, tneg, cpos, cneg)
    >>> print(f"{fit.estimate:.4f} {fit.se:.4f} {fit.cmh:.4f} {fit.tarone:.4f}")
    -0.4734 0.0410 135.6889 171.7567
    """
    measure = check_choice(measure, MH_MEASURES, "measure")
    return _fit("MH", measure, ai, bi, ci, di, n1i, n2i, correct, add, to, drop00, level, labels)


def pool_peto(
    ai: ArrayLike,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    *,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    add: float | tuple[float, float] = 0.5,
    to: str | tuple[str, str] = "only0",
    drop00: bool | tuple[bool, bool] = True,
    level: float = 95.0,
    labels: Sequence[str] | None = None,
) -> MHResult:
    r"""Peto's one-step common-effect log odds ratio (metafor ``rma.peto``).

    :math:`\hat\theta=\sum(a_i-E_i)/\sum V_i`, :math:`SE=1/\sqrt{\sum V_i}` with
    :math:`E_i=x_in_{1i}/N_i`, :math:`V_i=x_iy_in_{1i}n_{2i}/(N_i^2(N_i-1))`; per-study
    :math:`y_i=(a_i-E_i)/V_i`, :math:`v_i=1/V_i` on the corrected counts. Parameters as
    :func:`pool_mh`.

    Raises
    ------
    EstimationError
        When one of the two outcomes occurs in no table (metafor: "Peto's method cannot be
        used").

    Examples
    --------
    >>> fit = pool_peto([12, 5], n1i=[100, 60], ci=[20, 9], n2i=[98, 61])
    >>> print(f"{fit.estimate:.4f} {fit.se:.4f}")
    -0.6190 0.3184
    """
    return _fit("Peto", "OR", ai, bi, ci, di, n1i, n2i, True, add, to, drop00, level, labels)


def pool_counts(method: str, ai: ArrayLike, bi: ArrayLike | None = None,
                ci: ArrayLike | None = None, di: ArrayLike | None = None,
                **options: Any) -> MHResult:
    """:func:`pool_mh` (``method="MH"``) or :func:`pool_peto` (``"Peto"``) by name, for
    callers that refit either; ``options`` go to that function. Peto accepts ``measure="OR"``
    (its only measure) so that both take the same options."""
    method = check_choice(method, ("MH", "Peto"), "method")
    if method == "MH":
        return pool_mh(ai, bi, ci, di, **options)
    check_choice(options.pop("measure", "OR"), ("OR",), "measure of Peto's method")
    return pool_peto(ai, bi, ci, di, **options)


def checked_cells(method: str, ai: ArrayLike, bi: ArrayLike | None = None,
                  ci: ArrayLike | None = None, di: ArrayLike | None = None, *,
                  n1i: ArrayLike | None = None, n2i: ArrayLike | None = None,
                  labels: Sequence[str] | None = None,
                  **options: Any) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The cells ``a, b, c, d`` of every table as float arrays (NaN where a count is
    missing), for refits of subsets; the :func:`pool_counts` fit to all tables is run first
    (its warnings silenced), so that bad counts, labels or options stop here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        pool_counts(method, ai, bi, ci, di, n1i=n1i, n2i=n2i, labels=labels, **options)
    return _cells(ai, bi, ci, di, n1i, n2i)


# --- the computation ---------------------------------------------------------------------


def _pair(value: Any, second: Any, name: str) -> tuple[Any, Any]:
    """metafor's add/to/drop00: one value (for escalc; the MH part gets ``second``) or two."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise OptionError(f"{name} takes one or two values, not {len(value)}",
                              hint="the first applies to the study yi/vi, the second to the "
                                   "MH/Peto computation")
        return value[0], value[1]
    return value, second


def _fit(method: str, measure: str, ai: ArrayLike, bi: ArrayLike | None, ci: ArrayLike | None,
         di: ArrayLike | None, n1i: ArrayLike | None, n2i: ArrayLike | None, correct: bool,
         add: Any, to: Any, drop00: Any, level: float, labels: Sequence[str] | None) -> MHResult:
    add_yi, add_mh = _pair(add, 0.0, "add")
    to_yi, to_mh = _pair(to, "none", "to")
    drop_yi, drop_mh = _pair(drop00, False, "drop00")
    for target in (to_yi, to_mh):
        check_choice(target, CORRECTION_TARGETS, "continuity-correction target to")
    if not (math.isfinite(add_mh) and add_mh >= 0):
        raise OptionError(f"add must be a non-negative number, not {add_mh!r}")
    alpha = alpha_for(level)
    level = 100 * (1 - alpha)
    issued: list[str] = []

    def warn(message: str) -> None:
        issued.append(message)
        warnings.warn(message, ReviewWarning, stacklevel=4)

    # escalc checks the counts and gives the per-study yi/vi with metafor's correction; its
    # own notes on double-zero tables are replaced by one that says what MH does with them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReviewWarning)
        es = escalc(measure, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, add=add_yi,
                    to=to_yi, drop00=bool(drop_yi))
    a, b, c, d = _cells(ai, bi, ci, di, n1i, n2i)
    k_all = a.size
    names = list(labels) if labels is not None else [f"Study {i + 1}" for i in range(k_all)]
    if len(names) != k_all:
        raise InputError(f"{len(names)} labels for {k_all} tables",
                         hint="give one label per table")
    yi, vi = np.array(es.yi), np.array(es.vi)
    if method == "Peto":
        yi, vi = _peto_yi(a, b, c, d, es.corrected, add_yi)
    both = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    no_yi = np.isnan(yi) | np.isnan(vi)
    used = ~(np.isnan(a) | np.isnan(b) | np.isnan(c) | np.isnan(d))
    if drop_mh:
        used &= ~both
    if (no_yi & used).any():
        warn(f"{_listed(names, no_yi & used)}: no study yi/vi (no events, or only events, in "
             f"both groups); left out of the Q-test, but the {method} estimate uses the counts")
    if not used.all():
        warn(f"{_listed(names, ~used)}: left out of the {method} estimate "
             "(missing counts or dropped double-zero table)")
    if not used.any():
        raise EstimationError("no tables left to pool (k = 0)",
                              hint="give at least one table with all four counts")
    a, b, c, d = _add(a[used], b[used], c[used], d[used], float(add_mh), str(to_mh))
    if method == "Peto":
        core = _peto(a, b, c, d)
    else:
        core = {"OR": _mh_or, "RR": _mh_rr, "RD": _mh_rd}[measure](a, b, c, d, correct)
    from scipy import special

    est, se = core["estimate"], core["se"]
    zval = est / se
    crit = -float(special.ndtri(alpha / 2))
    k_yi = int((~no_yi).sum())
    if method == "Peto":
        q = core["q"]
        multi = (core["k_pos"] or 0) > 1
    else:
        w = 1 / vi[~no_yi]
        q = max(0.0, float(np.sum(w * (yi[~no_yi] - est) ** 2)))
        multi = k_yi > 1
    if multi:
        q_p = float(special.chdtrc(k_yi - 1, q))
        with np.errstate(divide="ignore", invalid="ignore"):
            i2 = max(0.0, float(100 * np.float64(q - (k_yi - 1)) / q))
        h2 = q / (k_yi - 1)
    else:
        q, q_p, i2, h2 = (q if method == "Peto" else 0.0), 1.0, 0.0, 1.0
    weights = np.full(k_all, math.nan)
    weights[used] = 100 * core["weights"] / np.sum(core["weights"])
    nan = math.nan
    return MHResult(
        method=method, measure=measure, estimate=est, se=se, zval=zval,
        pval=2 * float(special.ndtr(-abs(zval))), ci_lb=est - crit * se, ci_ub=est + crit * se,
        q=q, q_df=max(k_yi - 1, 0), q_p=q_p, i2=i2, h2=h2, k=int(used.sum()), k_yi=k_yi,
        k_pos=core.get("k_pos"), cmh=core.get("cmh", nan), cmh_p=core.get("cmh_p", nan),
        cochran=core.get("cochran", nan), cochran_p=core.get("cochran_p", nan),
        breslow_day=core.get("bd", nan), breslow_day_p=core.get("bd_p", nan),
        tarone=core.get("tarone", nan), tarone_p=core.get("tarone_p", nan),
        correct=bool(correct), level=float(level), yi=yi, vi=vi, weights=weights,
        labels=tuple(names), correction=es.correction, warnings=tuple(issued),
    )


def _cells(ai: ArrayLike, bi: ArrayLike | None, ci: ArrayLike | None, di: ArrayLike | None,
           n1i: ArrayLike | None, n2i: ArrayLike | None
           ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The four cells as float arrays (escalc has already checked them)."""
    a = np.atleast_1d(np.asarray(ai, dtype=np.float64))
    c = np.atleast_1d(np.asarray(ci, dtype=np.float64))
    b = (np.asarray(n1i, dtype=np.float64) - a if bi is None
         else np.atleast_1d(np.asarray(bi, dtype=np.float64)))
    d = (np.asarray(n2i, dtype=np.float64) - c if di is None
         else np.atleast_1d(np.asarray(di, dtype=np.float64)))
    return a, b, c, d


def _listed(names: Sequence[str], mask: Any) -> str:
    chosen = [names[int(i)] for i in np.flatnonzero(mask)]
    return f"{'table' if len(chosen) == 1 else 'tables'} {', '.join(chosen)}"


def _add(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray, add: float,
         to: str) -> tuple[FloatArray, ...]:
    """metafor's add/to on the counts of the MH/Peto computation (default: nothing)."""
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    if to == "all" or (to == "if0all" and zero.any()):
        mask = np.ones(a.size, dtype=bool)
    elif to == "only0":
        mask = zero
    else:
        return a, b, c, d
    return tuple(x + add * mask for x in (a, b, c, d))


def _peto_yi(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray,
             corrected: Any, add: float) -> tuple[FloatArray, FloatArray]:
    """Per-study Peto log OR and variance on the corrected counts (escalc ``PETO``); NaN
    where escalc dropped the table or one outcome never occurs (:math:`V_i = 0`)."""
    a, b, c, d = (x + add * corrected for x in (a, b, c, d))
    n1, n2, n = a + b, c + d, a + b + c + d
    x, y = a + c, b + d
    v = x * y * (n1 / n) * (n2 / n) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        yi = (a - x * n1 / n) / v
        vi = 1 / v
    bad = ~np.isfinite(yi) | ~np.isfinite(vi)
    return np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)


def _chi2_p(stat: float, df: int) -> float:
    from scipy import special

    return float(special.chdtrc(df, stat)) if math.isfinite(stat) else math.nan


def _refuse_ratio(measure: str) -> EstimationError:
    return EstimationError(
        f"the Mantel-Haenszel {measure} is 0 or infinite: no table has the events it needs in "
        "one of the groups (metafor returns NA)",
        hint="use --measure RD, or an inverse-variance method with the continuity correction")


def _mh_or(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray,
           correct: bool) -> dict[str, Any]:
    n = a + b + c + d
    n1, n2, xt, yt = a + b, c + d, a + c, b + d
    r_i, s_i = a / n * d, b / n * c
    p_i, q_i = a / n + d / n, b / n + c / n
    r, s = float(r_i.sum()), float(s_i.sum())
    if r == 0 or s == 0:
        raise _refuse_ratio("odds ratio")
    psi = r / s
    var = 0.5 * (np.sum(p_i * r_i) / r**2 + np.sum(p_i * s_i + q_i * r_i) / (r * s)
                 + np.sum(q_i * s_i) / s**2)
    out: dict[str, Any] = {"estimate": math.log(psi), "se": math.sqrt(float(var)),
                           "weights": s_i}
    if xt.sum() > 0 and yt.sum() > 0:
        # Cochran-Mantel-Haenszel test (Cochran's variant: N in place of N - 1)
        num_ = (abs(float(np.sum(a - n1 / n * xt))) - (0.5 if correct else 0.0)) ** 2
        out["cochran"] = num_ / float(np.sum(n1 / n * (n2 / n) * (xt * (yt / n))))
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cmh"] = num_ / float(np.sum(n1 / n * (n2 / n) * (xt * (yt / (n - 1)))))
        out["cochran_p"] = _chi2_p(out["cochran"], 1)
        out["cmh_p"] = _chi2_p(out["cmh"], 1)
    # Breslow-Day: a_i expected under the common OR psi, the smaller root of
    # (psi-1) N^2 - B N + psi n1 x = 0, written without the cancellation near psi = 1
    big = psi * (n1 + xt) + (n2 - xt)
    with np.errstate(invalid="ignore", divide="ignore"):
        n11 = 2 * psi * n1 * xt / (big + np.sqrt(big**2 - 4 * n1 * xt * psi * (psi - 1)))
    pos = (n11 > 0) & (xt > 0) & (yt > 0)
    n11, n1p, xtp, np_ = n11[pos], n1[pos], xt[pos], n[pos]
    var_a = 1 / (1 / n11 + 1 / (n1p - n11) + 1 / (xtp - n11) + 1 / (n11 - n1p - xtp + np_))
    dev = a[pos] - n11
    bd = max(0.0, float(np.sum(dev**2 / var_a)))
    k_pos = int(pos.sum())
    tarone = math.nan if k_pos == 0 else max(0.0, bd - float(dev.sum()) ** 2 / float(var_a.sum()))
    out |= {"k_pos": k_pos, "bd": bd if k_pos else math.nan, "tarone": tarone}
    if k_pos > 1:
        out["bd_p"] = _chi2_p(bd, k_pos - 1)
        out["tarone_p"] = _chi2_p(out["tarone"], k_pos - 1)
    return out


def _mh_rr(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray,
           correct: bool) -> dict[str, Any]:
    n = a + b + c + d
    n1, n2 = a + b, c + d
    r, s = float(np.sum(a * (n2 / n))), float(np.sum(c * (n1 / n)))
    if a.sum() == 0 or c.sum() == 0:
        raise _refuse_ratio("risk ratio")
    var = float(np.sum(n1 / n * (n2 / n) * (a + c) - a / n * c)) / (r * s)
    return {"estimate": math.log(r / s), "se": math.sqrt(var), "weights": c * n1 / n}


def _mh_rd(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray,
           correct: bool) -> dict[str, Any]:
    n = a + b + c + d
    n1, n2 = a + b, c + d
    w = n1 * (n2 / n)
    sw = float(w.sum())
    est = float(np.sum(a * (n2 / n) - c * (n1 / n))) / sw
    var = (est * float(np.sum(c * (n1 / n) ** 2 - a * (n2 / n) ** 2
                              + (n1 / n) * (n2 / n) * (n2 - n1) / 2))
           + float(np.sum(a * (n2 - c) / n + c * (n1 - a) / n)) / 2) / sw**2
    if not var > 0:
        raise EstimationError("the Mantel-Haenszel risk difference has no variance (every "
                              "table has the same risk 0 or 1 in both groups)",
                              hint="check the counts")
    return {"estimate": est, "se": math.sqrt(var), "weights": w}


def _peto(a: FloatArray, b: FloatArray, c: FloatArray, d: FloatArray) -> dict[str, Any]:
    n = a + b + c + d
    n1, n2, xt, yt = a + b, c + d, a + c, b + d
    e = xt * n1 / n
    with np.errstate(divide="ignore", invalid="ignore"):
        v = xt * yt * (n1 / n) * (n2 / n) / (n - 1)
    v = np.where(xt * yt == 0, 0.0, v)
    sv = float(v.sum())
    if sv == 0:
        raise EstimationError("one of the two outcomes never occurred in any of the tables: "
                              "Peto's method cannot be used (as metafor)",
                              hint="check the counts, or pool risk differences (--measure RD)")
    dev = a - e
    pos = v > 0
    q = max(0.0, float(np.sum(dev[pos] ** 2 / v[pos])) - float(dev.sum()) ** 2 / sv)
    return {"estimate": float(dev.sum()) / sv, "se": math.sqrt(1 / sv), "weights": v,
            "q": q, "k_pos": int(pos.sum())}
