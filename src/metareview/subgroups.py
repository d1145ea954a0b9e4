"""Subgroup analysis: a fit per subgroup and the test of subgroup differences, with a common
τ² (mixed-effects model with the subgroup as moderator) and with a separate τ² per subgroup;
for Mantel–Haenszel and Peto fits of 2x2 tables, the test between the subgroup estimates."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import EstimationError, InputError, ReviewWarning
from .jsonsafe import plain
from .meta import PoolResult, pool
from .metareg import MetaRegResult, metareg
from .mh import MHResult, checked_cells, pool_counts

__all__ = ["MHSubgroupResult", "SubgroupResult", "subgroup_analysis", "subgroup_mh"]


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Per-subgroup fits and two tests of subgroup differences.

    ``groups`` are the subgroup names in sorted order and ``fits`` their
    :class:`~metareview.meta.PoolResult`. Common τ² (metafor ``rma(yi, vi, mods=~group)``):
    ``qm`` with ``qm_df`` (χ² df, or F numerator/denominator df for Knapp–Hartung) and
    ``qm_p``, residual ``tau2_common``; ``model`` is the full meta-regression (first group as
    reference). Separate τ² per subgroup: ``q_between`` (df ``q_between_df``, p
    ``q_between_p``) is Cochran's Q of a fixed-effect model over the subgroup estimates with
    their standard errors; ``between`` is that fit. When a subgroup's SE is 0 (identical
    estimates under Knapp–Hartung) that test is not computable: ``q_between`` and
    ``q_between_p`` are NaN and ``between`` is None.
    """

    groups: tuple[str, ...]
    fits: tuple[PoolResult, ...]
    qm: float
    qm_df: tuple[int, int | None]
    qm_p: float
    tau2_common: float
    q_between: float
    q_between_df: int
    q_between_p: float
    model: MetaRegResult
    between: PoolResult | None
    method: str
    test: str
    level: float
    measure: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary (fits and models as nested dictionaries)."""
        out: dict[str, Any] = plain({
            "groups": list(self.groups),
            "fits": {g: f.to_dict() for g, f in zip(self.groups, self.fits, strict=True)},
            "qm": self.qm,
            "qm_df": list(self.qm_df),
            "qm_p": self.qm_p,
            "tau2_common": self.tau2_common,
            "q_between": self.q_between,
            "q_between_df": self.q_between_df,
            "q_between_p": self.q_between_p,
            "model": self.model.to_dict(),
            "between": None if self.between is None else self.between.to_dict(),
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "measure": self.measure,
        })
        return out

    def __str__(self) -> str:
        width = max(5, *(len(g) for g in self.groups))
        lines = [
            f"Subgroup analysis ({self.method}, test={self.test}, {self.level:g}% CI; "
            f"{self.measure})",
            f"{'group':<{width}}   k  estimate      se    ci.lb    ci.ub    tau2     I2",
        ]
        for g, f in zip(self.groups, self.fits, strict=True):
            lines.append(f"{g:<{width}} {f.k:3d} {f.estimate:9.4f} {f.se:7.4f} {f.ci_lb:8.4f} "
                         f"{f.ci_ub:8.4f} {f.tau2:7.4f} {f.i2:6.2f}")
        if self.qm_df[1] is None:
            common = f"QM(df = {self.qm_df[0]}) = {self.qm:.4f}, p = {self.qm_p:.4g}"
        else:
            common = (f"F(df1 = {self.qm_df[0]}, df2 = {self.qm_df[1]}) = {self.qm:.4f}, "
                      f"p = {self.qm_p:.4g}")
        lines += [
            f"Test for subgroup differences (common tau^2 = {self.tau2_common:.4f}): {common}",
            f"Test for subgroup differences (separate tau^2): Q(df = {self.q_between_df}) = "
            + ("not computable (a subgroup has SE 0)" if self.between is None
               else f"{self.q_between:.4f}, p = {self.q_between_p:.4g}"),
        ]
        return "\n".join(lines)


def subgroup_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[Any],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95.0,
    measure: str = "GEN",
    ni: ArrayLike | None = None,
    labels: Sequence[str] | None = None,
) -> SubgroupResult:
    r"""Fit the model in each subgroup and test whether the subgroups differ.

    * Per subgroup: :func:`metareview.meta.pool` on its studies (own τ²).
    * Common τ²: the mixed-effects model :math:`y_i = \beta_0 + \sum_g \beta_g d_{ig} + u_i +
      e_i` with dummies :math:`d_{ig}` for every subgroup but the first
      (:func:`metareview.metareg.metareg`); :math:`Q_M` tests :math:`\beta_g = 0` (χ² with
      G − 1 df, or F(G − 1, k − G) for ``test="knha"``).
    * Separate τ²: :math:`Q_{between} = \sum_g (\hat\mu_g - \bar\mu)^2 / SE_g^2` with
      :math:`\bar\mu` the inverse-variance mean of the subgroup estimates, χ² with G − 1 df
      (Borenstein et al. 2009, ch. 19). The SEs are those of the subgroup fits (Knapp–Hartung
      SEs when ``test="knha"``).

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances.
    groups
        Subgroup of each study (any values; shown as text, sorted).
    method, test, level, measure, ni, labels
        As for :func:`~metareview.meta.pool`.

    Raises
    ------
    InputError
        A study without a subgroup, or lengths that do not match.
    EstimationError
        Fewer than two subgroups, or a model that cannot be fitted.

    References
    ----------
    Borenstein M, Hedges LV, Higgins JPT, Rothstein HR (2009). Introduction to Meta-Analysis,
    chapter 19. Wiley.
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3).

    Examples
    --------
    de Bruin et al. (2009), logit proportions by ``select``, DL: metafor gives QM(df = 1) =
    1.6724, p = 0.1959 (common τ²) and Q_between = 1.1634, p = 0.2808 (separate τ²):

    >>> from metareview.effects import escalc
    >>> es = escalc("PLO", xi=[11, 24, 179, 82, 60, 11, 99, 9, 88, 17, 26, 23, 40],
    ...             ni=[29, 33, 326, 240, 110, 29, 244, 17, 215, 26, 138, 55, 54])
    >>> select = ["no", "yes", "no", "no", "no", "yes", "no", "no", "yes", "no", "yes",
    ...           "yes", "no"]
    >>> res = subgroup_analysis(es.yi, es.vi, select, method="DL", measure="PLO")
    >>> print(res.groups, f"{res.qm:.4f} {res.qm_p:.4f} {res.q_between:.4f} {res.q_between_p:.4f}")
    ('no', 'yes') 1.6724 0.1959 1.1634 0.2808
    """
    y = np.atleast_1d(np.asarray(yi, dtype=float))
    v = np.atleast_1d(np.asarray(vi, dtype=float))
    if y.shape != v.shape or len(groups) != y.size:
        raise InputError(
            f"yi, vi and groups have different lengths ({y.size}, {v.size}, {len(groups)})",
            hint="give one subgroup per study",
        )
    names, levels = _levels(groups)
    study_labels = (
        [f"Study {i + 1}" for i in range(y.size)] if labels is None else list(labels)
    )
    n = None if ni is None else np.atleast_1d(np.asarray(ni, dtype=float))
    member = np.array(names)
    fits = []
    for level_name in levels:
        idx = np.flatnonzero(member == level_name)
        fits.append(
            pool(y[idx], v[idx], method=method, test=test, level=level, measure=measure,
                 ni=None if n is None else n[idx], labels=[study_labels[i] for i in idx])
        )
    dummies = np.column_stack([(member == g).astype(float) for g in levels[1:]])
    model = metareg(y, v, dummies, names=[f"group{g}" for g in levels[1:]], method=method,
                    test=test, level=level)
    between = None
    if all(f.se > 0 for f in fits):  # knha gives SE 0 to a subgroup of identical estimates
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FE over G estimates; k = G may be small
            between = pool([f.estimate for f in fits], [f.se**2 for f in fits], method="FE",
                           level=level, measure=measure, labels=list(levels))
    else:
        warnings.warn(
            "test of subgroup differences with a separate tau^2 not computable: a subgroup "
            "has standard error 0 (identical estimates under Knapp-Hartung); the test with a "
            "common tau^2 is reported",
            ReviewWarning,
            stacklevel=2,
        )
    return SubgroupResult(
        groups=levels,
        fits=tuple(fits),
        qm=model.qm,
        qm_df=model.qm_df,
        qm_p=model.qm_p,
        tau2_common=model.tau2,
        q_between=math.nan if between is None else between.q,
        q_between_df=len(levels) - 1,
        q_between_p=math.nan if between is None else between.q_p,
        model=model,
        between=between,
        method=fits[0].method,
        test=test,
        level=level,
        measure=measure,
    )


@dataclass(frozen=True, eq=False)
class MHSubgroupResult:
    """Mantel–Haenszel (or Peto) fits per subgroup and the test of subgroup differences.

    ``groups`` are the subgroup names in sorted order and ``fits`` their
    :class:`~metareview.mh.MHResult`. ``q_between`` (df ``q_between_df``, p ``q_between_p``)
    is Cochran's Q of the subgroup estimates around their inverse-variance mean, weights
    1/SE² — R meta's "test for subgroup differences (common effect model)"; ``between`` is
    that common-effect fit over the subgroup estimates. There is no common-τ² test: an MH fit
    has no τ² and no inverse-variance meta-regression.
    """

    groups: tuple[str, ...]
    fits: tuple[MHResult, ...]
    q_between: float
    q_between_df: int
    q_between_p: float
    between: PoolResult
    method: str
    level: float
    measure: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dictionary (fits as nested dictionaries)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)} | {
            "groups": list(self.groups), "between": self.between.to_dict(),
            "fits": {g: f.to_dict() for g, f in zip(self.groups, self.fits, strict=True)}}
        cleaned: dict[str, Any] = plain(out)
        return cleaned

    def __str__(self) -> str:
        width = max(5, *(len(g) for g in self.groups))
        lines = [
            f"Subgroup analysis ({self.method}, {self.level:g}% CI; {self.measure})",
            f"{'group':<{width}}   k  estimate      se    ci.lb    ci.ub        Q     I2",
        ]
        for g, f in zip(self.groups, self.fits, strict=True):
            lines.append(f"{g:<{width}} {f.k:3d} {f.estimate:9.4f} {f.se:7.4f} {f.ci_lb:8.4f} "
                         f"{f.ci_ub:8.4f} {f.q:8.4f} {f.i2:6.2f}")
        lines.append(f"Test for subgroup differences (common-effect model): Q(df = "
                     f"{self.q_between_df}) = {self.q_between:.4f}, p = {self.q_between_p:.4g}")
        return "\n".join(lines)


def subgroup_mh(
    ai: ArrayLike,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    *,
    groups: Sequence[Any],
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    method: str = "MH",
    labels: Sequence[str] | None = None,
    **options: Any,
) -> MHSubgroupResult:
    r"""A Mantel–Haenszel (``method="MH"``) or Peto (``"Peto"``) fit per subgroup, as metafor's
    ``rma.mh(..., subset = group == g)``, and the test of subgroup differences.

    :math:`Q_{between} = \sum_g (\hat	heta_g - ar	heta)^2 / SE_g^2`, with
    :math:`ar	heta` the inverse-variance mean of the subgroup estimates, χ² with G − 1 df
    (R meta's ``Q.b.common`` of ``metabin(..., method = "MH", subgroup = ...)``).

    Parameters
    ----------
    ai, bi, ci, di, n1i, n2i
        The 2x2 tables, as for :func:`~metareview.mh.pool_mh`.
    groups
        Subgroup of each table (any values; shown as text, sorted).
    method : {"MH", "Peto"}
    labels
        Table names.
    **options
        Passed on to each fit (``measure``, ``correct``, ``add``, ``to``, ``drop00``,
        ``level``).

    Raises
    ------
    InputError
        A table without a subgroup, or lengths that do not match.
    EstimationError
        Fewer than two subgroups, or a subgroup whose fit fails (named in the message).

    Examples
    --------
    BCG trials (``dat.bcg``) by absolute latitude, MH odds ratio; metafor gives log OR
    -1.0844 (ablat ≥ 30) and -0.1152, and Q between them 120.33:

    >>> tpos = [4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27]
    >>> tneg = [119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886]
    >>> cpos = [11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29]
    >>> cneg = [128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825]
    >>> lat = ["high"] * 4 + ["low", "high", "low", "low", "low", "high", "low", "high", "high"]
    >>> res = subgroup_mh(tpos, tneg, cpos, cneg, groups=lat)
    >>> print(res.groups, [round(f.estimate, 4) for f in res.fits], round(res.q_between, 2))
    ('high', 'low') [-1.0844, -0.1152] 120.33
    """
    cells = checked_cells(method, ai, bi, ci, di, n1i=n1i, n2i=n2i, labels=labels, **options)
    k = cells[0].size
    if len(groups) != k:
        raise InputError(f"{len(groups)} subgroups for {k} tables",
                         hint="give one subgroup per table")
    names, levels = _levels(groups)
    study_labels = [f"Study {i + 1}" for i in range(k)] if labels is None else list(labels)
    member = np.array(names)
    fits = []
    for name in levels:
        idx = np.flatnonzero(member == name)
        try:
            fits.append(pool_counts(method, *(x[idx] for x in cells),
                                    labels=[study_labels[i] for i in idx], **options))
        except EstimationError as exc:
            raise EstimationError(f"subgroup {name!r}: {exc.message}", exc.location,
                                  exc.hint) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FE over G estimates; k = G may be small
        between = pool([f.estimate for f in fits], [f.se**2 for f in fits], method="FE",
                       level=fits[0].level, measure=fits[0].measure, labels=list(levels))
    return MHSubgroupResult(
        groups=levels, fits=tuple(fits), q_between=between.q, q_between_df=len(levels) - 1,
        q_between_p=between.q_p, between=between, method=fits[0].method,
        level=fits[0].level, measure=fits[0].measure)


def _levels(groups: Sequence[Any]) -> tuple[list[str], tuple[str, ...]]:
    """Each study's subgroup as text, and the subgroups in sorted order; refuses a study
    without one and fewer than two subgroups."""
    missing = [i + 1 for i, g in enumerate(groups) if g is None or _isnan(g) or str(g) == ""]
    if missing:
        raise InputError(
            f"no subgroup for stud{'y' if len(missing) == 1 else 'ies'} "
            f"{', '.join(map(str, missing))} (numbered from 1)",
            hint="fill in the subgroup of every study or leave those studies out",
        )
    names = [str(g) for g in groups]
    levels = tuple(sorted(set(names)))
    _warn_near_duplicates(levels)
    if len(levels) < 2:
        raise EstimationError(
            f"only one subgroup ({levels[0]!r})", hint="a subgroup analysis needs at least two"
        )
    return names, levels


def _warn_near_duplicates(levels: Sequence[str]) -> None:
    """Warn about labels that differ only in case or spacing ("Random", "random "): they
    stay separate subgroups, as the data say, but are most likely typing slips."""
    alike: dict[str, list[str]] = {}
    for name in levels:
        alike.setdefault(" ".join(name.split()).casefold(), []).append(name)
    clashes = [names for names in alike.values() if len(names) > 1]
    if clashes:
        listed = "; ".join(" vs ".join(repr(n) for n in names) for names in clashes)
        warnings.warn(
            f"subgroup labels that differ only in case or spaces form separate subgroups: "
            f"{listed}; if they mean the same group, spell them the same way in the sheet",
            ReviewWarning,
            stacklevel=4,
        )


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
