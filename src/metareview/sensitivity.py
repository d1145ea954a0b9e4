"""Sensitivity analyses: leave-one-out and cumulative meta-analysis (metafor ``leave1out``,
``cumul``), of inverse-variance models and of Mantel–Haenszel or Peto fits of 2x2 tables."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .errors import EstimationError, InputError, OptionError, ReviewWarning
from .jsonsafe import plain
from .meta import PoolResult, pool
from .mh import MHResult, checked_cells, pool_counts

__all__ = ["SensitivityTable", "cumulative", "cumulative_mh", "leave_one_out", "leave_one_out_mh"]

#: One refit: the rows (indices) of a subset to its fit.
Refit = Callable[[np.ndarray], "PoolResult | MHResult"]

_COLUMNS = ("estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "q", "q_p", "tau2", "i2", "h2")


@dataclass(frozen=True)
class SensitivityTable:
    """One refit per row, as metafor's ``leave1out``/``cumul`` tables.

    ``labels[j]`` is the study left out (leave-one-out) or the study added (cumulative) in
    row ``j``; ``k[j]`` the number of studies in that fit. The columns ``estimate`` ...
    ``h2`` are the fields of the same name of each :class:`~metareview.meta.PoolResult`
    (model scale; a Mantel–Haenszel or Peto fit has ``tau2`` 0); ``pred``, ``pred_ci_lb``,
    ``pred_ci_ub`` are the estimate and CI back-transformed to the natural scale of
    ``measure``. A row whose fit fails holds NaN and the reason in ``notes``. ``fits`` keeps
    the full results (not part of :meth:`to_dict`).
    """

    kind: str
    labels: tuple[str, ...]
    k: tuple[int, ...]
    estimate: tuple[float, ...]
    se: tuple[float, ...]
    zval: tuple[float, ...]
    pval: tuple[float, ...]
    ci_lb: tuple[float, ...]
    ci_ub: tuple[float, ...]
    q: tuple[float, ...]
    q_p: tuple[float, ...]
    tau2: tuple[float, ...]
    i2: tuple[float, ...]
    h2: tuple[float, ...]
    pred: tuple[float, ...]
    pred_ci_lb: tuple[float, ...]
    pred_ci_ub: tuple[float, ...]
    notes: tuple[str, ...]
    method: str
    test: str
    level: float
    measure: str
    fits: tuple[PoolResult | MHResult | None, ...] = field(default=(), repr=False,
                                                           compare=False)

    def rows(self) -> list[dict[str, Any]]:
        """One dictionary per row (``None`` for missing values), ready for a CSV writer."""
        names = ("label", "k", *_COLUMNS, "pred", "pred_ci_lb", "pred_ci_ub", "note")
        columns = zip(self.labels, self.k, *(getattr(self, c) for c in names[2:-1]), self.notes,
                      strict=True)
        return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in columns]

    def to_dict(self) -> dict[str, Any]:
        """The settings and the rows as plain JSON-ready values."""
        return {
            "kind": self.kind,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "measure": self.measure,
            "rows": self.rows(),
        }

    def __str__(self) -> str:
        head = "left out" if self.kind == "leave-one-out" else "added"
        stat = "tval" if self.test != "z" else "zval"
        width = max(len(head), *(len(s) for s in self.labels))
        lines = [
            f"{self.kind.capitalize()} meta-analysis ({self.method}, test={self.test}, "
            f"{self.level:g}% CI; {self.measure})",
            f"{head:<{width}}   k  estimate      se    {stat}     pval    ci.lb    ci.ub"
            "        Q      Qp    tau2      I2",
        ]
        for j, label in enumerate(self.labels):
            lines.append(
                f"{label:<{width}} {self.k[j]:3d} {self.estimate[j]:9.4f} {self.se[j]:7.4f} "
                f"{self.zval[j]:7.4f} {self.pval[j]:8.4f} {self.ci_lb[j]:8.4f} "
                f"{self.ci_ub[j]:8.4f} {self.q[j]:8.4f} {self.q_p[j]:7.4f} "
                f"{self.tau2[j]:7.4f} {self.i2[j]:7.2f}"
                + (f"  ({self.notes[j]})" if self.notes[j] else "")
            )
        return "\n".join(lines)


def leave_one_out(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    labels: Sequence[str] | None = None,
    ni: ArrayLike | None = None,
    **pool_kwargs: Any,
) -> SensitivityTable:
    """Refit the model k times, each time without one study (metafor ``leave1out``).

    Each refit is :func:`metareview.meta.pool` with the same options (``method``, ``test``,
    ``level``, ``measure``, ``control``); warnings of the refits are kept in each fit's
    ``warnings`` rather than re-issued, as metafor silences them. Studies with a missing yi
    or vi are left out of the table with a warning (metafor's ``na.omit``).

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances.
    labels
        Study labels (default ``Study 1``, ...), used to name the omitted study.
    ni
        Study sizes (needed to back-transform PFT); subset with the studies.
    **pool_kwargs
        Passed on to :func:`~metareview.meta.pool`.

    Raises
    ------
    EstimationError
        ``Stopped because k = 1.`` when there is a single study (as metafor).

    References
    ----------
    Viechtbauer W, Cheung MWL (2010). Outlier and influence diagnostics for meta-analysis.
    Res Synth Methods 1:112–125.

    Examples
    --------
    >>> table = leave_one_out([0.1, 0.3, 0.35, 0.6], [0.02, 0.03, 0.01, 0.04], method="DL")
    >>> table.labels[0], table.k[0]
    ('Study 1', 3)
    """
    y, v, names, n, _ = _inputs(yi, vi, labels, ni)
    if y.size == 1:
        raise EstimationError(
            "Stopped because k = 1.", hint="leave-one-out needs at least 2 studies"
        )
    subsets = [np.delete(np.arange(y.size), i) for i in range(y.size)]
    return _table("leave-one-out", names, subsets, _pool_refit(y, v, names, n, pool_kwargs),
                  _test(pool_kwargs))


def cumulative(
    yi: ArrayLike,
    vi: ArrayLike,
    order: ArrayLike | None = None,
    *,
    decreasing: bool = False,
    labels: Sequence[str] | None = None,
    ni: ArrayLike | None = None,
    **pool_kwargs: Any,
) -> SensitivityTable:
    """Cumulative meta-analysis: add the studies one at a time (metafor ``cumul``).

    Studies are sorted by ``order`` (e.g. publication year; ties keep the input order) and
    row j is the fit to the first j studies. The first row is a single-study fit (τ² = 0,
    z test, as metafor).

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances.
    order
        Sort key per study (default: the input order).
    decreasing
        Sort the key from largest to smallest.
    labels, ni, **pool_kwargs
        As for :func:`leave_one_out`.

    References
    ----------
    Lau J, Antman EM, Jimenez-Silva J, et al. (1992). Cumulative meta-analysis of therapeutic
    trials for myocardial infarction. N Engl J Med 327:248–254.

    Examples
    --------
    >>> table = cumulative([0.1, 0.3, 0.35], [0.02, 0.03, 0.01], order=[2001, 1999, 2005],
    ...                    method="DL")
    >>> table.labels, table.k
    (('Study 2', 'Study 1', 'Study 3'), (1, 2, 3))
    """
    y, v, names, n, keep = _inputs(yi, vi, labels, ni)
    rank = _rank(order, keep, decreasing)
    subsets = [rank[: j + 1] for j in range(y.size)]
    return _table("cumulative", [names[i] for i in rank], subsets,
                  _pool_refit(y, v, names, n, pool_kwargs), _test(pool_kwargs))


def leave_one_out_mh(
    ai: ArrayLike,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    *,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    method: str = "MH",
    labels: Sequence[str] | None = None,
    **options: Any,
) -> SensitivityTable:
    """Refit a Mantel–Haenszel (``method="MH"``) or Peto (``"Peto"``) model k times, each
    time without one table (metafor ``leave1out(rma.mh(...))``, ``leave1out(rma.peto(...))``).

    Each refit is :func:`metareview.mh.pool_mh` or :func:`~metareview.mh.pool_peto` of the
    other tables with the same ``options`` (``measure``, ``correct``, ``add``, ``to``,
    ``drop00``, ``level``), so ``q``, ``i2`` and ``h2`` are those of the MH/Peto fit and
    ``tau2`` is 0. Tables with a missing count get no row (metafor's ``na.omit``); a refit
    that fails (an MH ratio of 0 or ∞, where metafor gives NA) holds NaN and the reason.

    Parameters
    ----------
    ai, bi, ci, di, n1i, n2i
        The 2x2 tables, as for :func:`~metareview.mh.pool_mh`.
    method : {"MH", "Peto"}
    labels
        Table names (default ``Study 1``, ...).
    **options
        Passed on to each fit.

    Raises
    ------
    EstimationError
        ``Stopped because k = 1.`` for a single table (as metafor).

    Examples
    --------
    >>> table = leave_one_out_mh([14, 21, 14], n1i=[131, 385, 57], ci=[14, 17, 24],
    ...                          n2i=[136, 134, 48])
    >>> table.method, table.k, round(table.estimate[2], 4)
    ('MH', (2, 2, 2), -0.4838)
    """
    cells, names, _ = _tables(ai, bi, ci, di, n1i, n2i, labels, method, options)
    k = len(names)
    if k == 1:
        raise EstimationError("Stopped because k = 1.",
                              hint="leave-one-out needs at least 2 tables")
    subsets = [np.delete(np.arange(k), i) for i in range(k)]
    return _table("leave-one-out", names, subsets, _counts_refit(method, cells, names, options),
                  "z")


def cumulative_mh(
    ai: ArrayLike,
    bi: ArrayLike | None = None,
    ci: ArrayLike | None = None,
    di: ArrayLike | None = None,
    *,
    n1i: ArrayLike | None = None,
    n2i: ArrayLike | None = None,
    order: ArrayLike | None = None,
    decreasing: bool = False,
    method: str = "MH",
    labels: Sequence[str] | None = None,
    **options: Any,
) -> SensitivityTable:
    """Cumulative Mantel–Haenszel (or Peto) meta-analysis: row j is the fit to the first j
    tables sorted by ``order`` (metafor ``cumul(rma.mh(...), order=...)``; ties keep the
    input order). Parameters and rows as :func:`leave_one_out_mh`; the first row is a
    one-table fit.

    Examples
    --------
    >>> table = cumulative_mh([14, 21, 14], n1i=[131, 385, 57], ci=[14, 17, 24],
    ...                       n2i=[136, 134, 48], order=[1964, 1962, 1962], method="Peto")
    >>> table.labels, table.k
    (('Study 2', 'Study 3', 'Study 1'), (1, 2, 3))
    """
    cells, names, keep = _tables(ai, bi, ci, di, n1i, n2i, labels, method, options)
    rank = _rank(order, keep, decreasing)
    subsets = [rank[: j + 1] for j in range(len(names))]
    return _table("cumulative", [names[i] for i in rank], subsets,
                  _counts_refit(method, cells, names, options), "z")


def _rank(order: ArrayLike | None, keep: np.ndarray, decreasing: bool) -> np.ndarray:
    """The positions (among the kept studies) in cumulative order."""
    if order is None:
        return np.arange(int(keep.sum()))
    key = np.asarray(order)
    if key.shape != keep.shape:
        raise InputError(
            f"order has {key.size} values for {keep.size} studies", hint="give one per study"
        )
    key = key[keep]
    # a stable sort keeps ties in input order, like R's order()
    return np.argsort(-key if decreasing else key, kind="stable")


def _inputs(
    yi: ArrayLike, vi: ArrayLike, labels: Sequence[str] | None, ni: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None, np.ndarray]:
    """Checked arrays of the studies with finite yi and vi, and the mask of those studies."""
    y = np.atleast_1d(np.asarray(yi, dtype=float))
    v = np.atleast_1d(np.asarray(vi, dtype=float))
    if y.ndim != 1 or y.shape != v.shape:
        raise InputError(f"yi and vi must have the same length ({y.size} vs {v.size})")
    names = [f"Study {i + 1}" for i in range(y.size)] if labels is None else list(labels)
    if len(names) != y.size:
        raise InputError(f"{len(names)} labels for {y.size} studies", hint="one per study")
    n = None if ni is None else np.atleast_1d(np.asarray(ni, dtype=float))
    if n is not None and n.shape != y.shape:
        raise InputError("ni must have one value per study")
    keep = np.isfinite(y) & np.isfinite(v)
    if not keep.all():  # metafor leaves them out of the table (na.omit)
        warnings.warn("Studies with NAs omitted from the table.", ReviewWarning, stacklevel=3)
        y, v = y[keep], v[keep]
        names = [name for name, k in zip(names, keep, strict=True) if k]
        n = None if n is None else n[keep]
    if y.size == 0:
        raise EstimationError("no studies with both yi and vi to analyse")
    return y, v, names, n, keep


def _tables(
    ai: ArrayLike, bi: ArrayLike | None, ci: ArrayLike | None, di: ArrayLike | None,
    n1i: ArrayLike | None, n2i: ArrayLike | None, labels: Sequence[str] | None, method: str,
    options: dict[str, Any],
) -> tuple[tuple[np.ndarray, ...], list[str], np.ndarray]:
    """The four cells of the tables with all counts, their names, and the mask of those
    tables."""
    cells = checked_cells(method, ai, bi, ci, di, n1i=n1i, n2i=n2i, labels=labels, **options)
    names = ([f"Study {i + 1}" for i in range(cells[0].size)] if labels is None
             else [str(label) for label in labels])
    keep = ~np.any([np.isnan(x) for x in cells], axis=0)
    if not keep.all():  # metafor leaves them out of the table (na.omit)
        warnings.warn("Studies with NAs omitted from the table.", ReviewWarning, stacklevel=3)
    return (tuple(x[keep] for x in cells), [n for n, k in zip(names, keep, strict=True) if k],
            keep)


def _test(options: dict[str, Any]) -> str:
    return str(options.get("test", "z")).lower()


def _pool_refit(y: np.ndarray, v: np.ndarray, names: Sequence[str], n: np.ndarray | None,
                options: dict[str, Any]) -> Refit:
    for clash in ("yi", "vi", "labels", "ni"):
        if clash in options:
            raise OptionError(f"{clash} cannot be passed twice")

    def refit(idx: np.ndarray) -> PoolResult:
        return pool(y[idx], v[idx], labels=[names[i] for i in idx],
                    ni=None if n is None else n[idx], **options)

    return refit


def _counts_refit(method: str, cells: tuple[np.ndarray, ...], names: Sequence[str],
                  options: dict[str, Any]) -> Refit:
    def refit(idx: np.ndarray) -> MHResult:
        a, b, c, d = (x[idx] for x in cells)
        return pool_counts(method, a, b, c, d, labels=[names[i] for i in idx], **options)

    return refit


def _table(
    kind: str,
    row_labels: Sequence[str],
    subsets: Sequence[np.ndarray],
    refit: Refit,
    test: str,
) -> SensitivityTable:
    cols: dict[str, list[float]] = {c: [] for c in (*_COLUMNS, "pred", "pred_ci_lb", "pred_ci_ub")}
    ks: list[int] = []
    notes: list[str] = []
    fits: list[PoolResult | MHResult | None] = []
    settings: PoolResult | MHResult | None = None
    for idx in subsets:
        ks.append(int(idx.size))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # kept in fit.warnings
                fit = refit(idx)
        except EstimationError as exc:
            fits.append(None)
            notes.append(exc.message)
            for values in cols.values():
                values.append(math.nan)
            continue
        settings = settings or fit
        fits.append(fit)
        notes.append("")
        for c in _COLUMNS:
            cols[c].append(float(getattr(fit, c)))
        p = fit.predict()
        cols["pred"].append(p.pred)
        cols["pred_ci_lb"].append(p.ci_lb)
        cols["pred_ci_ub"].append(p.ci_ub)
    if settings is None:
        raise EstimationError(f"no {kind} fit could be computed: {notes[0]}")
    return SensitivityTable(
        kind=kind,
        labels=tuple(row_labels),
        k=tuple(ks),
        estimate=tuple(cols["estimate"]),
        se=tuple(cols["se"]),
        zval=tuple(cols["zval"]),
        pval=tuple(cols["pval"]),
        ci_lb=tuple(cols["ci_lb"]),
        ci_ub=tuple(cols["ci_ub"]),
        q=tuple(cols["q"]),
        q_p=tuple(cols["q_p"]),
        tau2=tuple(cols["tau2"]),
        i2=tuple(cols["i2"]),
        h2=tuple(cols["h2"]),
        pred=tuple(cols["pred"]),
        pred_ci_lb=tuple(cols["pred_ci_lb"]),
        pred_ci_ub=tuple(cols["pred_ci_ub"]),
        notes=tuple(notes),
        method=settings.method,
        test=test,  # as asked: k = 1 rows switch to z
        level=settings.level,
        measure=settings.measure,
        fits=tuple(fits),
    )
