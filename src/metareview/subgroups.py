"""Subgroup analysis: a fit per subgroup and the test of subgroup differences, with a common
τ² (mixed-effects model with the subgroup as moderator) and with a separate τ² per subgroup."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import EstimationError, InputError, ReviewWarning
from .jsonsafe import plain
from .meta import PoolResult, pool
from .metareg import MetaRegResult, metareg

__all__ = ["SubgroupResult", "subgroup_analysis"]


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
            stacklevel=3,
        )


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
