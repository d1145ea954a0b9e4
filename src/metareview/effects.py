"""Effect sizes per study (metafor's ``escalc``), back-transforms and study CIs for proportions.

Everything here works on in-memory arrays and follows metafor 3.8-1 (``escalc`` with
``vtype="LS"``), so the numbers match R to rounding. See ``tests/reference/README.md``.

References
----------
Freeman MF, Tukey JW (1950). Transformations related to the angular and the square root.
    Ann Math Stat 21:607-611.
Miller JJ (1978). The inverse of the Freeman-Tukey double arcsine transformation.
    Am Stat 32:138.
Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rücker G (2019). Seriously misleading results
    using inverse of Freeman-Tukey double arcsine transformation in meta-analysis of single
    proportions. Res Synth Methods 10:476-483.
Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 26:404-413.
Hedges LV (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. J Educ Stat 6:107-128.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InputError, OptionError, ReviewWarning
from .jsonsafe import plain

FloatArray = NDArray[np.float64]

PROPORTION_MEASURES = ("PR", "PLN", "PLO", "PAS", "PFT")
TWO_BY_TWO_MEASURES = ("OR", "RR", "RD")
MEAN_MEASURES = ("MD", "SMD", "ROM")
RATE_MEASURES = ("IR", "IRLN", "IRS", "IRFT")
CORRELATION_MEASURES = ("COR", "UCOR", "ZCOR")
MEASURES = (*PROPORTION_MEASURES, *TWO_BY_TWO_MEASURES, *MEAN_MEASURES, *RATE_MEASURES,
            *CORRELATION_MEASURES, "GEN")
CORRECTION_TARGETS = ("only0", "all", "if0all", "none")

#: What the back-transformed value of each measure is called.
NATURAL_SCALE = {
    "PR": "proportion",
    "PLN": "proportion",
    "PLO": "proportion",
    "PAS": "proportion",
    "PFT": "proportion",
    "OR": "odds ratio",
    "RR": "risk ratio",
    "RD": "risk difference",
    "MD": "mean difference",
    "SMD": "standardised mean difference (Hedges' g)",
    "ROM": "ratio of means",
    "IR": "incidence rate",
    "IRLN": "incidence rate",
    "IRS": "incidence rate",
    "IRFT": "incidence rate",
    "COR": "correlation",
    "UCOR": "correlation",
    "ZCOR": "correlation",
    "GEN": "effect size",
}

#: What yi itself is for each measure (the model scale).
MODEL_SCALE = {
    "PR": "raw proportion",
    "PLN": "log proportion",
    "PLO": "logit proportion",
    "PAS": "arcsine square-root proportion",
    "PFT": "Freeman-Tukey double arcsine proportion",
    "OR": "log odds ratio",
    "RR": "log risk ratio",
    "RD": "risk difference",
    "MD": "mean difference",
    "SMD": "standardised mean difference (Hedges' g)",
    "ROM": "log ratio of means",
    "IR": "incidence rate",
    "IRLN": "log incidence rate",
    "IRS": "square-root incidence rate",
    "IRFT": "Freeman-Tukey incidence rate",
    "COR": "correlation",
    "UCOR": "bias-corrected correlation",
    "ZCOR": "Fisher's z (r-to-z transformed correlation)",
    "GEN": "effect size",
}

PFT_WARNING = (
    "the Freeman-Tukey double arcsine (PFT) back-transformation can be seriously misleading "
    "when study sizes differ (Schwarzer et al. 2019, Res Synth Methods 10:476-483); "
    "prefer PLO or a GLMM for new reviews"
)


@dataclass(frozen=True, eq=False)
class EffectSizes:
    """Per-study effect sizes as metafor's ``escalc`` returns them.

    Attributes
    ----------
    measure : str
        One of :data:`MEASURES`.
    yi, vi : numpy.ndarray
        Effect sizes and sampling variances; NaN where metafor gives NA.
    ni : numpy.ndarray
        Total sample size per study (uncorrected); for incidence rates the person-time
        ``ti``, as metafor keeps it. The PFT and IRFT back-transforms use it.
    correction : str
        The continuity correction applied, in plain words ("none" if nothing was added).
    corrected : numpy.ndarray
        True for studies whose counts were corrected.
    dropped : tuple of (int, str)
        0-based positions of studies whose yi or vi is NaN, with the reason.
    """

    measure: str
    yi: FloatArray
    vi: FloatArray
    ni: FloatArray
    correction: str = "none"
    corrected: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    dropped: tuple[tuple[int, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("yi", "vi", "ni", "corrected"):
            object.__setattr__(self, name, readonly(getattr(self, name)))

    @property
    def k(self) -> int:
        """Number of studies (including dropped ones)."""
        return int(self.yi.size)

    @property
    def sei(self) -> FloatArray:
        """Standard errors, ``sqrt(vi)``."""
        return np.sqrt(self.vi)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe values (NaN and infinities become None)."""
        return {
            "measure": self.measure,
            "yi": plain(self.yi),
            "vi": plain(self.vi),
            "ni": plain(self.ni),
            "correction": self.correction,
            "corrected": [bool(c) for c in self.corrected],
            "dropped": [{"index": i, "reason": r} for i, r in self.dropped],
        }


def readonly(values: NDArray[Any]) -> NDArray[Any]:
    """A read-only copy, so a frozen result cannot change under its holder (or with the
    caller's own array)."""
    copy = np.array(values)
    copy.setflags(write=False)
    return copy


def _studies(mask: NDArray[np.bool_], verb: str = "") -> str:
    """'study 3' or 'studies 2, 5', with 'has'/'have' when ``verb`` is 'has'."""
    numbers = [str(i + 1) for i in np.flatnonzero(mask)]
    single = len(numbers) == 1
    text = f"{'study' if single else 'studies'} {', '.join(numbers)}"
    if verb:
        text += f" (numbered from 1) {verb if single else 'have'}"
    return text


def alpha_for(level: float) -> float:
    """Two-sided alpha from a confidence level given in percent (95) or as a fraction (0.95),
    as metafor accepts both."""
    if not 0 < level < 100:
        raise OptionError(
            f"level must be between 0 and 100, not {level}", hint="give e.g. 95 or 0.95"
        )
    return 1 - level if level < 1 else 1 - level / 100


def _array(name: str, values: ArrayLike | None, k: int | None = None) -> FloatArray:
    if values is None:
        raise OptionError(f"missing argument {name}", hint=f"give {name} for this measure")
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional")
    if k is not None and arr.size != k:
        raise InputError(
            f"{name} has {arr.size} values but the other inputs have {k}",
            hint="give one value per study in every argument",
        )
    return arr


def _check(problems: list[str], bad: NDArray[np.bool_], what: str) -> None:
    if bad.any():
        problems.append(f"{what} in {_studies(bad)}")


def _raise(problems: list[str]) -> None:
    if problems:
        raise InputError(
            "invalid study data: " + "; ".join(problems) + " (studies numbered from 1)",
            hint="correct these values and run again",
        )


def _check_counts(problems: list[str], **counts: FloatArray) -> None:
    # NaN (missing) passes: the study gets NaN yi/vi, as metafor gives NA
    for name, arr in counts.items():
        finite = np.where(np.isfinite(arr), arr, 0.0)
        _check(problems, np.isinf(arr), f"{name} is infinite")
        _check(problems, finite < 0, f"{name} is negative")
        _check(problems, finite != np.round(finite), f"{name} is not a whole number")


def _zero_mask(to: str, has_zero: NDArray[np.bool_]) -> NDArray[np.bool_]:
    if to == "only0":
        return np.array(has_zero, dtype=bool)
    if to == "all" or (to == "if0all" and has_zero.any()):
        return np.ones(has_zero.size, dtype=bool)
    return np.zeros(has_zero.size, dtype=bool)


def _describe(add: float, to: str, mask: NDArray[np.bool_], zero_word: str) -> str:
    count = int(mask.sum())
    if add == 0 or count == 0:
        return "none"
    studies = f"{count} {'study' if count == 1 else 'studies'}"
    if to == "only0":
        return f"{add:g} added to every cell of studies with a {zero_word} ({studies})"
    if to == "if0all":
        return (
            f"{add:g} added to every cell of all studies because some had a {zero_word} ({studies})"
        )
    return f"{add:g} added to every cell of all studies ({studies})"


def escalc(
    measure: str,
    *,
    xi: ArrayLike | None = None,
    ni: ArrayLike | None = None,
    ai: ArrayLike | None = None,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    ti: ArrayLike | None = None,
    ri: ArrayLike | None = None,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    m1i: ArrayLike | None = None,
    sd1i: ArrayLike | None = None,
    m2i: ArrayLike | None = None,
    sd2i: ArrayLike | None = None,
    yi: ArrayLike | None = None,
    vi: ArrayLike | None = None,
    sei: ArrayLike | None = None,
    add: float | None = None,
    to: str = "only0",
    drop00: bool = False,
) -> EffectSizes:
    r"""Compute per-study effect sizes and sampling variances, as metafor's ``escalc``.

    Parameters
    ----------
    measure : str
        ``PR``, ``PLN``, ``PLO``, ``PAS``, ``PFT`` (events ``xi`` out of ``ni``);
        ``OR``, ``RR``, ``RD`` (2x2 cells ``ai, bi, ci, di``, or ``ai, ci`` with group sizes
        ``n1i, n2i``); ``MD``, ``SMD``, ``ROM`` (``m1i, sd1i, n1i, m2i, sd2i, n2i``);
        ``IR``, ``IRLN``, ``IRS``, ``IRFT`` (events ``xi`` in person-time ``ti``);
        ``COR``, ``UCOR``, ``ZCOR`` (correlation ``ri`` in a sample of ``ni``);
        ``GEN`` (given ``yi`` with ``vi`` or ``sei``).
    add : float, optional
        Continuity correction. ``None`` means metafor's default: 1/2, but 0 for PAS, PFT,
        IRS and IRFT.
    to : {"only0", "all", "if0all", "none"}
        Which studies get ``add``: only those with a zero cell (for proportions: x = 0 or
        x = n; for rates: x = 0), all, all if any has a zero cell, or none.
    drop00 : bool
        Drop 2x2 studies with no events (or only events) in both groups. metafor's default
        (False) keeps them, corrected like any study with a zero cell.

    Returns
    -------
    EffectSizes

    Notes
    -----
    With p = x/n on the (corrected) counts: PR :math:`y=p,\ v=p(1-p)/n`; PLN
    :math:`y=\log p,\ v=1/x-1/n`; PLO :math:`y=\operatorname{logit} p,\ v=1/x+1/(n-x)`;
    PAS :math:`y=\arcsin\sqrt p,\ v=1/(4n)`; PFT (Freeman & Tukey 1950)
    :math:`y=\tfrac12[\arcsin\sqrt{x/(n+1)}+\arcsin\sqrt{(x+1)/(n+1)}],\ v=1/(4n+2)`.
    2x2: log OR with :math:`v=1/a+1/b+1/c+1/d`, log RR with :math:`v=1/a-1/n_1+1/c-1/n_2`,
    RD with :math:`v=ab/n_1^3+cd/n_2^3`. SMD is Hedges' g with the exact correction
    :math:`J(m)=\Gamma(m/2)/(\sqrt{m/2}\,\Gamma((m-1)/2))`, :math:`m=n_1+n_2-2` and
    :math:`v=1/n_1+1/n_2+g^2/(2(n_1+n_2))` (Hedges 1981). ROM: :math:`\log(m_1/m_2)`.
    Rates, with :math:`r=x/t` on the (corrected) count: IR :math:`y=r,\ v=x/t^2`; IRLN
    :math:`y=\log r,\ v=1/x`; IRS :math:`y=\sqrt r,\ v=1/(4t)`; IRFT (Freeman & Tukey
    1950) :math:`y=\tfrac12(\sqrt{r}+\sqrt{r+1/t}),\ v=1/(4t)`. Correlations: COR
    :math:`y=r,\ v=(1-r^2)^2/(n-1)`; UCOR (Olkin & Pratt 1958)
    :math:`y=r\,{}_2F_1(\tfrac12,\tfrac12;\tfrac{n-2}2;1-r^2),\ v=(1-y^2)^2/(n-1)`
    (missing for n <= 4); ZCOR (Fisher 1921) :math:`y=\operatorname{atanh} r,\ v=1/(n-3)`
    (missing for n <= 3).

    Raises
    ------
    InputError
        Listing every study with impossible data (x > n, negative or non-integer counts,
        n = 0, sd <= 0, non-positive means for ROM, person-time <= 0, |r| > 1, negative
        variances).

    Examples
    --------
    >>> es = escalc("PLO", xi=[0, 12, 30], ni=[25, 40, 30])
    >>> [round(float(v), 4) for v in es.yi]
    [-3.9318, -0.8473, 4.1109]
    >>> es.correction
    '0.5 added to every cell of studies with a zero cell (2 studies)'
    """
    measure = measure.upper()
    if measure not in MEASURES:
        raise OptionError(f"unknown measure {measure!r}", hint=f"use one of {', '.join(MEASURES)}")
    if to not in CORRECTION_TARGETS:
        raise OptionError(
            f"unknown continuity-correction target to={to!r}",
            hint=f"use one of {', '.join(CORRECTION_TARGETS)}",
        )
    if add is not None and (not np.isfinite(add) or add < 0):
        raise OptionError(f"add must be a non-negative number, not {add!r}")
    if measure in PROPORTION_MEASURES:
        result = _proportions(measure, xi, ni, add, to)
    elif measure in TWO_BY_TWO_MEASURES:
        result = _two_by_two(measure, ai, bi, ci, di, n1i, n2i, add, to, drop00)
    elif measure in MEAN_MEASURES:
        result = _means(measure, m1i, sd1i, n1i, m2i, sd2i, n2i)
    elif measure in RATE_MEASURES:
        result = _rates(measure, xi, ti, add, to)
    elif measure in CORRELATION_MEASURES:
        result = _correlations(measure, ri, ni)
    else:
        result = _generic(yi, vi, sei, ni)
    if measure == "PFT":
        warnings.warn(PFT_WARNING, ReviewWarning, stacklevel=2)
    return result


def _proportions(
    measure: str, xi: ArrayLike | None, ni: ArrayLike | None, add: float | None, to: str
) -> EffectSizes:
    x = _array("xi", xi)
    n = _array("ni", ni, x.size)
    problems: list[str] = []
    _check_counts(problems, xi=x, ni=n)
    _check(problems, x > n, "xi is larger than ni")
    _check(problems, n == 0, "ni is 0")
    _raise(problems)
    if add is None:
        add = 0.0 if measure in ("PAS", "PFT") else 0.5
    mask = _zero_mask(to, (x == 0) | (x == n)) if add > 0 else np.zeros(x.size, dtype=bool)
    xc = x + add * mask
    nc = n + 2 * add * mask
    p = xc / nc
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PR":
            y, v = p, p * (1 - p) / nc
        elif measure == "PLN":
            y, v = np.log(p), 1 / xc - 1 / nc
        elif measure == "PLO":
            y, v = np.log(p / (1 - p)), 1 / xc + 1 / (nc - xc)
        elif measure == "PAS":
            y, v = np.arcsin(np.sqrt(p)), 1 / (4 * nc)
        else:
            y = 0.5 * (np.arcsin(np.sqrt(xc / (nc + 1))) + np.arcsin(np.sqrt((xc + 1) / (nc + 1))))
            v = 1 / (4 * nc + 2)
    y, v, dropped = _finish(y, v, _missing(x, n))
    correction = _describe(add, to, mask, "zero cell")
    return EffectSizes(measure, y, v, n, correction, mask, dropped)


def _missing(*arrays: FloatArray) -> NDArray[np.bool_]:
    """Studies with a missing (NaN) input value."""
    mask = np.zeros(arrays[0].size, dtype=bool)
    for arr in arrays:
        mask |= np.isnan(arr)
    return mask


def _finish(
    y: FloatArray,
    v: FloatArray,
    missing: NDArray[np.bool_],
    dropped: tuple[tuple[int, str], ...] = (),
) -> tuple[FloatArray, FloatArray, tuple[tuple[int, str], ...]]:
    """NaN yi/vi for studies with missing inputs or an infinite/undefined result (metafor: NA),
    with the reason for each, in study order."""
    skip = missing.copy()
    for index, _ in dropped:
        skip[index] = True
    y, v, undefined = _infinite_to_nan(y, v, skip)
    reasons = dropped + tuple((int(i), "missing input value") for i in np.flatnonzero(missing))
    return y, v, tuple(sorted(reasons + undefined))


def _infinite_to_nan(
    y: FloatArray, v: FloatArray, skip: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, tuple[tuple[int, str], ...]]:
    """Set yi/vi to NaN where a zero cell made them infinite or undefined (metafor: NA)."""
    bad = (~np.isfinite(y) | ~np.isfinite(v)) & ~skip
    if not bad.any():
        return y, v, ()
    warnings.warn(
        f"{_studies(bad, 'has')} an infinite or undefined effect size or variance "
        "(a zero cell without continuity correction); set to missing and left out of pooling",
        ReviewWarning,
        stacklevel=4,
    )
    y = np.where(bad, np.nan, y)
    v = np.where(bad, np.nan, v)
    reason = "infinite or undefined yi or vi (zero cell, no correction)"
    return y, v, tuple((int(i), reason) for i in np.flatnonzero(bad))


def _two_by_two(
    measure: str,
    ai: ArrayLike | None,
    bi: ArrayLike | None,
    ci: ArrayLike | None,
    di: ArrayLike | None,
    n1i: ArrayLike | None,
    n2i: ArrayLike | None,
    add: float | None,
    to: str,
    drop00: bool,
) -> EffectSizes:
    a = _array("ai", ai)
    c = _array("ci", ci, a.size)
    problems: list[str] = []
    if bi is None and n1i is not None:
        n1 = _array("n1i", n1i, a.size)
        _check(problems, a > n1, "ai is larger than n1i")
        b = n1 - a
    else:
        b = _array("bi", bi, a.size)
    if di is None and n2i is not None:
        n2 = _array("n2i", n2i, a.size)
        _check(problems, c > n2, "ci is larger than n2i")
        d = n2 - c
    else:
        d = _array("di", di, a.size)
    _raise(problems)
    _check_counts(problems, ai=a, bi=b, ci=c, di=d)
    _check(problems, (a + b == 0) | (c + d == 0), "a group has no participants")
    _raise(problems)
    both = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    dropped: tuple[tuple[int, str], ...] = ()
    if both.any():
        if drop00:
            dropped = tuple(
                (int(i), "no events (or only events) in both groups") for i in np.flatnonzero(both)
            )
            warnings.warn(
                f"{_studies(both, 'has')} no events (or only events) in both "
                "groups: dropped (drop00=True)",
                ReviewWarning,
                stacklevel=3,
            )
        else:
            warnings.warn(
                f"{_studies(both, 'has')} no events (or only events) in both "
                "groups: kept with the continuity correction, as metafor does by default — to "
                "leave such a study out, set include to no in the extraction sheet (from "
                "Python: escalc(..., drop00=True))",
                ReviewWarning,
                stacklevel=3,
            )
    if add is None:
        add = 0.5
    total = a + b + c + d
    has_zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    if drop00:
        has_zero &= ~both
    mask = _zero_mask(to, has_zero) if add > 0 else np.zeros(a.size, dtype=bool)
    if drop00:
        mask &= ~both
    a, b, c, d = (arr + add * mask for arr in (a, b, c, d))
    n1, n2 = a + b, c + d
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            y = np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2))
            v = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RR":
            y = np.log(p1) - np.log(p2)
            v = 1 / a - 1 / n1 + 1 / c - 1 / n2
        else:
            y = p1 - p2
            v = a * b / n1**3 + c * d / n2**3
    if drop00:
        y = np.where(both, np.nan, y)
        v = np.where(both, np.nan, v)
    y, v, dropped = _finish(y, v, _missing(a, b, c, d), dropped)
    correction = _describe(add, to, mask, "zero cell")
    return EffectSizes(measure, y, v, total, correction, mask, dropped)


def _means(
    measure: str,
    m1i: ArrayLike | None,
    sd1i: ArrayLike | None,
    n1i: ArrayLike | None,
    m2i: ArrayLike | None,
    sd2i: ArrayLike | None,
    n2i: ArrayLike | None,
) -> EffectSizes:
    m1 = _array("m1i", m1i)
    k = m1.size
    sd1, n1 = _array("sd1i", sd1i, k), _array("n1i", n1i, k)
    m2, sd2, n2 = _array("m2i", m2i, k), _array("sd2i", sd2i, k), _array("n2i", n2i, k)
    problems: list[str] = []
    for name, arr in (("m1i", m1), ("m2i", m2), ("sd1i", sd1), ("sd2i", sd2)):
        _check(problems, np.isinf(arr), f"{name} is infinite")
    _check_counts(problems, n1i=n1, n2i=n2)
    _check(problems, (n1 == 0) | (n2 == 0), "a group size is 0")
    _check(problems, (sd1 <= 0) | (sd2 <= 0), "a standard deviation is <= 0")
    if measure == "ROM":
        _check(problems, (m1 <= 0) | (m2 <= 0), "a mean is <= 0 (ROM needs positive means)")
    if measure == "SMD":
        _check(problems, n1 + n2 < 4, "n1i + n2i is below 4 (Hedges' correction needs 2 df)")
    _raise(problems)
    if measure == "MD":
        y = m1 - m2
        v = sd1**2 / n1 + sd2**2 / n2
    elif measure == "SMD":
        from scipy.special import gammaln

        m = n1 + n2 - 2
        j = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
        sdp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m)
        y = j * (m1 - m2) / sdp
        v = 1 / n1 + 1 / n2 + y**2 / (2 * (n1 + n2))
    else:
        y = np.log(m1 / m2)
        v = sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)
    y, v, dropped = _finish(y, v, _missing(m1, sd1, n1, m2, sd2, n2))
    return EffectSizes(measure, y, v, n1 + n2, "none", np.zeros(k, dtype=bool), dropped)


def _rates(
    measure: str, xi: ArrayLike | None, ti: ArrayLike | None, add: float | None, to: str
) -> EffectSizes:
    x = _array("xi", xi)
    t = _array("ti", ti, x.size)
    problems: list[str] = []
    _check_counts(problems, xi=x)
    _check(problems, np.isinf(t), "ti is infinite")
    _check(problems, t <= 0, "ti (person-time) is not above 0")
    _raise(problems)
    if add is None:
        add = 0.0 if measure in ("IRS", "IRFT") else 0.5
    mask = _zero_mask(to, x == 0) if add > 0 else np.zeros(x.size, dtype=bool)
    xc = x + add * mask
    rate = xc / t
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "IR":
            y, v = rate, xc / t**2
        elif measure == "IRLN":
            y, v = np.log(rate), 1 / xc
        elif measure == "IRS":
            y, v = np.sqrt(rate), 1 / (4 * t)
        else:
            y, v = 0.5 * (np.sqrt(rate) + np.sqrt(rate + 1 / t)), 1 / (4 * t)
    y, v, dropped = _finish(y, v, _missing(x, t))
    correction = _describe(add, to, mask, "zero count")
    return EffectSizes(measure, y, v, t, correction, mask, dropped)


#: Smallest sample size for which each correlation measure has a variance (metafor: NA below).
_COR_MIN_N = {"COR": 2, "UCOR": 5, "ZCOR": 4}


def _olkin_pratt(r: FloatArray, n: FloatArray) -> FloatArray:
    """:math:`{}_2F_1(1/2, 1/2; (n-2)/2; 1-r^2)`, the Olkin-Pratt correction factor.

    scipy's ``hyp2f1`` returns NaN for large c with x near 1; there the power series
    converges within a few dozen terms (its terms fall like k^-c), so it is summed directly.
    """
    from scipy.special import hyp2f1

    c, x = (n - 2) / 2, 1 - r**2
    out = np.asarray(hyp2f1(0.5, 0.5, c, x), dtype=np.float64)
    big = np.isfinite(c) & np.isfinite(x) & (c >= 10)
    cb, xb = c[big], x[big]
    total, term = np.ones_like(xb), np.ones_like(xb)
    for k in range(10_000):
        term = term * (k + 0.5) ** 2 / ((cb + k) * (k + 1)) * xb
        total += term
        if np.all(term <= 1e-17 * total):
            break
    out[big] = total
    return out


def _correlations(measure: str, ri: ArrayLike | None, ni: ArrayLike | None) -> EffectSizes:
    r = _array("ri", ri)
    n = _array("ni", ni, r.size)
    problems: list[str] = []
    _check(problems, np.abs(r) > 1, "ri is outside [-1, 1]")
    _check_counts(problems, ni=n)
    _check(problems, n == 0, "ni is 0")
    _raise(problems)
    small = n < _COR_MIN_N[measure]
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "ZCOR":
            y, v = np.arctanh(r), 1 / (n - 3)
        else:
            y = r if measure == "COR" else r * _olkin_pratt(r, n)
            v = (1 - y**2) ** 2 / (n - 1)
    y = np.where(small, np.nan, y)
    v = np.where(small, np.nan, v)
    missing = _missing(r, n)
    reason = f"ni below {_COR_MIN_N[measure]}: no sampling variance for {measure}"
    dropped = tuple((int(i), reason) for i in np.flatnonzero(small & ~missing))
    if dropped:
        warnings.warn(
            f"{_studies(small & ~missing, 'has')} fewer than {_COR_MIN_N[measure]} "
            f"participants, too few for {measure}; set to missing and left out of pooling",
            ReviewWarning,
            stacklevel=3,
        )
    y, v, dropped = _finish(y, v, missing, dropped)
    return EffectSizes(measure, y, v, n, "none", np.zeros(r.size, dtype=bool), dropped)


def _generic(
    yi: ArrayLike | None, vi: ArrayLike | None, sei: ArrayLike | None, ni: ArrayLike | None
) -> EffectSizes:
    y = _array("yi", yi)
    if (vi is None) == (sei is None):
        raise OptionError("give exactly one of vi and sei with yi", hint="vi = sei squared")
    v = _array("vi", vi, y.size) if vi is not None else _array("sei", sei, y.size) ** 2
    n = _array("ni", ni, y.size) if ni is not None else np.full(y.size, np.nan)
    problems: list[str] = []
    _check(problems, np.isinf(y) | np.isinf(v), "yi or its variance is infinite")
    _check(problems, v < 0, "the variance (or standard error) is negative")
    _raise(problems)
    y, v, dropped = _finish(y, v, _missing(y, v))
    return EffectSizes("GEN", y, v, n, "none", np.zeros(y.size, dtype=bool), dropped)


# --- back-transforms -------------------------------------------------------------------------


def _ilogit(x: FloatArray) -> FloatArray:
    from scipy.special import expit

    return np.asarray(expit(x), dtype=np.float64)


def _iarcsin(x: FloatArray) -> FloatArray:
    # metafor's transf.iarcsin: sin(x)^2, clamped to 0 below 0 and to 1 above pi/2
    z = np.sin(x) ** 2
    z = np.where(x < 0, 0.0, z)
    return np.where(x > np.pi / 2, 1.0, z)


def pft(p: ArrayLike, n: ArrayLike) -> FloatArray:
    """Freeman-Tukey double arcsine of proportion ``p`` for sample size ``n`` (``transf.pft``)."""
    p_arr, n_arr = np.asarray(p, dtype=np.float64), np.asarray(n, dtype=np.float64)
    x = p_arr * n_arr
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(x / (n_arr + 1))) + np.arcsin(np.sqrt((x + 1) / (n_arr + 1)))),
        dtype=np.float64,
    )


def ipft_hm(values: ArrayLike, ni: ArrayLike) -> FloatArray:
    r"""Inverse Freeman-Tukey transform with the harmonic mean of ``ni`` (``transf.ipft.hm``).

    Miller (1978): with :math:`\bar n` the harmonic mean of the study sizes and
    :math:`s=\sin 2t`,
    :math:`p = \tfrac12\{1-\operatorname{sgn}(\cos 2t)\sqrt{1-[s+(s-1/s)/\bar n]^2}\}`,
    set to 0 below ``pft(0, n̄)`` and 1 above ``pft(1, n̄)``. Schwarzer et al. (2019) show
    this can mislead badly when study sizes differ.
    """
    t = np.asarray(values, dtype=np.float64)
    n_arr = np.asarray(ni, dtype=np.float64)
    nhm = 1 / np.nanmean(1 / n_arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sin(2 * t)
        z = 0.5 * (1 - np.sign(np.cos(2 * t)) * np.sqrt(1 - (s + (s - 1 / s) / nhm) ** 2))
    z = np.where(t > pft(1.0, nhm), 1.0, z)
    return np.asarray(np.where(t < pft(0.0, nhm), 0.0, z), dtype=np.float64)


def _isqrt(x: FloatArray) -> FloatArray:
    # metafor's transf.isqrt: squares, 0 below 0
    return np.asarray(np.where(x < 0, 0.0, x**2), dtype=np.float64)


def _ztor(x: FloatArray) -> FloatArray:
    return np.asarray(np.tanh(x), dtype=np.float64)


def iirft(values: ArrayLike, ti: ArrayLike) -> FloatArray:
    r"""Inverse Freeman-Tukey transform of incidence rates with the harmonic mean of the
    person-times ``ti`` (metafor's ``transf.iirft`` with ``targs = 1/mean(1/ti)``).

    Solving :math:`y=\tfrac12(\sqrt r+\sqrt{r+1/t})` for r gives
    :math:`r=(y-1/(4yt))^2=(1/t-8y^2+16ty^4)/(16y^2t)`; set to 0 below
    :math:`y(0)=\tfrac12\sqrt{1/t}` (and where it is at most machine epsilon).
    """
    y = np.asarray(values, dtype=np.float64)
    t = 1 / np.nanmean(1 / np.asarray(ti, dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (1 / t - 8 * y**2 + 16 * t * y**4) / (16 * y**2 * t)
    r = np.where((y < 0.5 * np.sqrt(1 / t)) | (r <= np.finfo(float).eps), 0.0, r)
    return np.asarray(np.where(np.isnan(y), np.nan, r), dtype=np.float64)


def exp_int(values: ArrayLike, tau2: float) -> FloatArray:
    r"""Mean of :math:`e^Y` for :math:`Y\sim N(x,\tau^2)`: :math:`e^{x+\tau^2/2}` (the exact
    value metafor's ``transf.exp.int`` integrates numerically)."""
    return np.asarray(np.exp(np.asarray(values, dtype=np.float64) + tau2 / 2), dtype=np.float64)


def ztor_int(values: ArrayLike, tau2: float) -> FloatArray:
    r"""Mean correlation :math:`E[\tanh Y]` for :math:`Y\sim N(x,\tau^2)` (metafor's
    ``transf.ztor.int``), by 80-point Gauss-Hermite quadrature; ``tanh(x)`` when
    :math:`\tau^2=0`."""
    x = np.asarray(values, dtype=np.float64)
    if tau2 <= 0:
        return _ztor(x)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    z = x[..., None] + np.sqrt(tau2) * nodes
    return np.asarray(np.tanh(z) @ weights / np.sqrt(2 * np.pi), dtype=np.float64)


def transform_for(measure: str, ni: ArrayLike | None = None) -> Callable[[FloatArray], FloatArray]:
    """The function taking the model scale of ``measure`` back to its natural scale.

    identity (PR, RD, MD, SMD, IR, COR, UCOR, GEN), exp (PLN, OR, RR, ROM, IRLN), inverse
    logit (PLO), inverse arcsine clamped to [0, 1] (PAS), inverse Freeman-Tukey with the
    harmonic mean of ``ni`` (PFT; ``ni`` required), square clamped at 0 (IRS), inverse
    Freeman-Tukey for rates with the harmonic mean of the person-times (IRFT; ``ni``
    required, holding ``ti``), tanh (ZCOR). PR is not clamped: like metafor, its PI may
    leave [0, 1].
    """
    measure = measure.upper()
    if measure in ("PLN", "OR", "RR", "ROM", "IRLN"):
        return np.exp
    if measure == "PLO":
        return _ilogit
    if measure == "PAS":
        return _iarcsin
    if measure == "IRS":
        return _isqrt
    if measure == "ZCOR":
        return _ztor
    if measure in ("PFT", "IRFT"):
        if ni is None:
            what = "study sizes ni" if measure == "PFT" else "person-times ti (as ni)"
            raise OptionError(
                f"the {measure} back-transform needs the {what}",
                hint="pass ni (EffectSizes.ni of the escalc result)",
            )
        sizes = np.asarray(ni, dtype=np.float64)
        inverse = ipft_hm if measure == "PFT" else iirft
        return lambda values: inverse(values, sizes)
    if measure in MEASURES:
        return lambda values: np.asarray(values, dtype=np.float64)
    raise OptionError(f"unknown measure {measure!r}", hint=f"use one of {', '.join(MEASURES)}")


def back_transform(measure: str, values: ArrayLike, ni: ArrayLike | None = None) -> FloatArray:
    """Apply :func:`transform_for` to ``values`` (NaN stays NaN)."""
    return transform_for(measure, ni)(np.asarray(values, dtype=np.float64))


# --- study confidence intervals for single proportions ---------------------------------------

PROPORTION_CI_METHODS = ("cp", "wilson", "wald")


def proportion_ci(
    x: ArrayLike, n: ArrayLike, method: str = "cp", level: float = 95.0
) -> tuple[FloatArray, FloatArray]:
    r"""Confidence interval for each proportion x/n on the natural scale.

    Parameters
    ----------
    method : {"cp", "wilson", "wald"}
        ``cp``: Clopper-Pearson exact interval (Clopper & Pearson 1934; R meta's default),
        :math:`[B(\alpha/2; x, n-x+1),\ B(1-\alpha/2; x+1, n-x)]` with beta quantiles B.
        ``wilson``: score interval
        :math:`(\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2})/(1+z^2/n)`.
        ``wald``: :math:`\hat p \pm z\sqrt{\hat p(1-\hat p)/n}`, clipped to [0, 1].
    level : float
        Confidence level in percent (or as a fraction, e.g. 0.95).

    Returns
    -------
    (lower, upper) : tuple of numpy.ndarray
    """
    from scipy import special  # not scipy.stats: its import alone costs 0.4 s

    xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
    ns = np.atleast_1d(np.asarray(n, dtype=np.float64))
    if xs.shape != ns.shape:
        raise InputError("x and n must have the same length")
    problems: list[str] = []
    _check_counts(problems, x=xs, n=ns)
    _check(problems, xs > ns, "x is larger than n")
    _check(problems, ns == 0, "n is 0")
    _raise(problems)
    alpha = alpha_for(level)
    method = method.lower()
    p = xs / ns
    if method == "cp":
        with np.errstate(invalid="ignore"):
            lower = np.where(xs == 0, 0.0, special.betaincinv(xs, ns - xs + 1, alpha / 2))
            upper = np.where(xs == ns, 1.0, special.betaincinv(xs + 1, ns - xs, 1 - alpha / 2))
        return lower.astype(np.float64), upper.astype(np.float64)
    z = float(special.ndtri(1 - alpha / 2))
    if method == "wilson":
        centre = (p + z**2 / (2 * ns)) / (1 + z**2 / ns)
        half = z * np.sqrt(p * (1 - p) / ns + z**2 / (4 * ns**2)) / (1 + z**2 / ns)
        return centre - half, centre + half
    if method == "wald":
        half = z * np.sqrt(p * (1 - p) / ns)
        return np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)
    raise OptionError(
        f"unknown proportion CI method {method!r}",
        hint=f"use one of {', '.join(PROPORTION_CI_METHODS)}",
    )


def natural_scale(measure: str) -> str:
    """Name of the back-transformed scale of ``measure`` ("proportion", "odds ratio", ...)."""
    try:
        return NATURAL_SCALE[measure.upper()]
    except KeyError:
        raise OptionError(
            f"unknown measure {measure!r}", hint=f"use one of {', '.join(MEASURES)}"
        ) from None


__all__: Sequence[str] = [
    "MEASURES",
    "NATURAL_SCALE",
    "EffectSizes",
    "back_transform",
    "escalc",
    "exp_int",
    "iirft",
    "ipft_hm",
    "natural_scale",
    "proportion_ci",
    "transform_for",
    "ztor_int",
]
