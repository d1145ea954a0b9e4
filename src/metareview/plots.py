"""Forest and funnel plots of a :class:`~metareview.poolrun.PoolReport` (matplotlib, Agg).

The forest plot shows, per study, the label, the data, the estimate and CI on the natural
scale with a square whose area is proportional to the study weight, then the pooled
diamond, the prediction interval and a heterogeneity line (subgroup blocks with their own
diamonds when the report has subgroups). The funnel plot shows each study's estimate on the
model scale against its standard error, with the pseudo confidence region around the pooled
estimate (and trim-and-fill studies, if computed). Files are written atomically as PNG, SVG
or PDF, chosen by the suffix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OptionError
from .fileio import atomic_path
from .poolrun import COMMON_METHODS, METHOD_TEXT

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .poolrun import Fit, PoolReport

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
#: Most studies a forest plot draws: one line each, so beyond a few hundred the figure is
#: metres tall, unreadable, and takes minutes and gigabytes to render.
MAX_FOREST_STUDIES = 300
_LABEL_CHARS = 60  # a study label (or data cell) longer than this is cut with "…"
_RATIO_SCALES = ("odds ratio", "risk ratio", "ratio of means")
_DIAMOND = "#1f3b73"
_SQUARE = "#4a4a4a"
#: Footer size (pt): the forest plot is shown about 0.6 of its size on an A4 page, so
#: its footer must start large to stay readable there (about 5.5 pt).
FOOTER_PT = 9.0


@dataclass(frozen=True)
class _Row:
    kind: str  # study, pooled, prediction, heading, hetero, blank
    label: str
    data: tuple[str, ...] = ()
    estimate: float | None = None
    lb: float | None = None
    ub: float | None = None
    weight: float | None = None
    text: str = ""


def _load_pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise OptionError(f"unknown plot type {path.suffix or '(none)'!r}", str(path),
                          f"use one of: {', '.join(PLOT_SUFFIXES)}")


def figure_bytes(fig: Figure, fmt: str, dpi: int = 200, **options: Any) -> bytes:
    """``fig`` as the bytes of an SVG, PNG or PDF file, the same bytes for the same figure:
    no creation date in SVG and PDF and fixed SVG element ids, so that ``report.html`` and
    the files of ``review run`` do not change between identical runs. ``options`` go to
    :meth:`matplotlib.figure.Figure.savefig`."""
    import io

    from matplotlib import rc_context

    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt, {})
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "metareview"}):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata, **options)
    return buffer.getvalue()


def save_figure(fig: Figure, path: str | Path, *, inputs: Sequence[str | Path] = (),
                force: bool = False) -> Path:
    """Save ``fig`` atomically in the format named by the suffix of ``path``."""
    target = Path(path)
    _check_suffix(target)
    data = figure_file(fig, target.suffix[1:].lower())
    with atomic_path(target, inputs=inputs, force=force) as tmp:
        tmp.write_bytes(data)
    return target


def figure_file(fig: Figure, fmt: str) -> bytes:
    """The bytes :func:`save_figure` writes for ``fmt`` (png, svg, pdf); closes ``fig``."""
    plt = _load_pyplot()
    try:
        return figure_bytes(fig, fmt, bbox_inches="tight")
    finally:
        plt.close(fig)


def _ci_text(est: float | None, lb: float | None, ub: float | None, digits: int,
             scale: float) -> str:
    if est is None or lb is None or ub is None or math.isnan(est):
        return ""
    return f"{est * scale:.{digits}f} [{lb * scale:.{digits}f}, {ub * scale:.{digits}f}]"


def _hetero_text(fit: Fit, method: str) -> str:
    parts = []
    if method not in COMMON_METHODS:
        parts.append(f"τ² = {fit.tau2:.3f}")
    if fit.i2 is not None:
        parts.append(f"I² = {fit.i2:.0f}%")
    if fit.q is not None and fit.q_p is not None:
        p = "p < 0.001" if fit.q_p < 0.001 else f"p = {fit.q_p:.3f}"
        parts.append(f"Q({fit.q_df}) = {fit.q:.2f}, {p}")
    return "Heterogeneity: " + ", ".join(parts)


def _cut(text: str) -> str:
    """A label as drawn: a very long one would make the figure as wide as it is."""
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def _rows(report: PoolReport, digits: int, scale: float) -> list[_Row]:
    from .poolrun import data_totals

    model = ("Common-effect model" if report.method in COMMON_METHODS
             else "Random-effects model")
    rows: list[_Row] = []

    def pooled(label: str, fit: Fit, weight: float | None, group: str | None = None) -> None:
        s = fit.summary
        rows.append(_Row("pooled", label, data_totals(report, group), estimate=s.estimate,
                         lb=s.ci_lb, ub=s.ci_ub, weight=weight,
                         text=_ci_text(s.estimate, s.ci_lb, s.ci_ub, digits, scale)))
        if s.pi_lb is not None and s.pi_ub is not None:
            rows.append(_Row("prediction", f"Prediction interval ({fit.pi_dist})",
                             estimate=s.estimate,
                             lb=s.pi_lb, ub=s.pi_ub,
                             text=f"[{s.pi_lb * scale:.{digits}f}, {s.pi_ub * scale:.{digits}f}]"))

    def studies(group: str | None) -> None:
        for s in report.studies:
            if group is not None and s.group != group:
                continue
            rows.append(_Row("study", _cut(s.study), tuple(_cut(d) for d in s.data), s.estimate,
                             s.ci_lb, s.ci_ub, s.weight,
                             _ci_text(s.estimate, s.ci_lb, s.ci_ub, digits, scale)))

    if report.by and report.subgroups:
        for g in report.subgroups:
            rows.append(_Row("heading", _cut(f"{report.by}: {g.name}")))
            studies(g.name)
            share = [s.weight for s in report.studies if s.group == g.name and s.weight]
            if g.common is not None:
                pooled(f"Common effect (k = {g.common.k})", g.common, None, g.name)
            label = "Random effects" if g.common else "Subtotal"
            pooled(f"{label} (k = {g.fit.k})", g.fit, sum(share) if share else None, g.name)
            rows.append(_Row("hetero", _hetero_text(g.fit, report.method)))
            rows.append(_Row("blank", ""))
    else:
        studies(None)
    if report.common is not None:
        pooled("Common-effect model (FE)", report.common, None)
    pooled(f"{model} ({report.method})", report.fit, 100.0 if report.method != "GLMM" else None)
    rows.append(_Row("hetero", _hetero_text(report.fit, report.method)))
    if report.fit.effect_test():
        rows.append(_Row("hetero", f"Test for overall effect: {report.fit.effect_test()}"))
    if report.subgroup_test is not None:
        t = report.subgroup_test
        p = "p < 0.001" if t.p < 0.001 else f"p = {t.p:.3f}"
        name = t.name.replace("tau²", "τ²")
        rows.append(_Row("hetero", f"Test for subgroup differences ({name}): "
                                   f"{t.statistic} = {t.q:.2f}, {p}"))
    return rows


def forest_plot(report: PoolReport, *, digits: int | None = None, percent: bool = False,
                title: str | None = None, xlim: tuple[float, float] | None = None,
                refline: float | None = None,
                favours: tuple[str, str] | None = None) -> Figure:
    """A publication-style forest plot of ``report`` on the natural scale.

    Squares have areas proportional to the study weights; horizontal lines are the study
    CIs (arrows where they leave the axis); the diamond spans the pooled CI and the bar
    under it the prediction interval; the pooled rows carry the total events and
    participants, and the test for the overall effect is given under the heterogeneity.
    Ratio measures use a log axis with a line at 1, differences a line at 0 (``refline``
    moves it; ``xlim`` sets the axis, natural scale, in percent with ``percent``).
    ``favours`` labels the two sides of the line (e.g. ``("Favours treatment", "Favours
    control")``). A GLMM has no inverse-variance weights: its squares are of one size and
    there is no weight column.
    More than :data:`MAX_FOREST_STUDIES` studies are refused (an
    :class:`~metareview.errors.OptionError`).
    """
    if len(report.studies) > MAX_FOREST_STUDIES:
        raise OptionError(
            f"a forest plot of {len(report.studies):,} studies is not drawn (at most "
            f"{MAX_FOREST_STUDIES:,}: one line each, it would be unreadable and take minutes)",
            hint="pool without --plot (the funnel plot and the results still work), or "
                 "plot subsets of the studies")
    plt = _load_pyplot()
    from matplotlib.patches import Polygon

    scale = 100.0 if percent and report.natural == "proportion" else 1.0
    if digits is None:  # 0.76 [0.66, 0.83] or 75.7 [66.1, 83.4]
        digits = 1 if scale == 100 else 2
    rows = _rows(report, digits, scale)
    log = report.natural in _RATIO_SCALES
    n = len(rows)
    height = 1.6 + 0.26 * (n + 2)  # 1.2 in under the axis: its labels and the footer
    data_cols = list(report.data_columns)
    unit = " (%)" if scale == 100 else ""
    lv = f"{report.level:g}%"
    name = report.natural if len(report.natural) <= 18 else report.measure
    result_head = f"{name[0].upper()}{name[1:]}{unit} [{lv} CI]"
    # column widths in inches, from the longest text (about 0.075 in per character at 9 pt)
    char = 0.075
    study_w = char * max(len(r.label) for r in rows if r.kind != "hetero") + 0.3
    data_w = [char * max([len(h), *(len(r.data[j]) for r in rows if r.data)]) + 0.3
              for j, h in enumerate(data_cols)]
    result_w = char * max([len(result_head), *(len(r.text) for r in rows)]) + 0.3
    has_weights = report.method != "GLMM"
    plot_w, weight_w, pad = 3.6, 0.8 if has_weights else 0.0, 0.25
    width = pad + study_w + sum(data_w) + 0.2 + plot_w + 0.3 + result_w + weight_w + pad
    fig = plt.figure(figsize=(width, height))
    plot_left = pad + study_w + sum(data_w) + 0.2
    ax = fig.add_axes((plot_left / width, 1.2 / height, plot_w / width, 1 - 1.8 / height))

    def at(inch: float) -> float:  # a position in inches from the figure's left edge, in axes units
        return (inch - plot_left) / plot_w

    y_of = {i: n - i for i in range(n)}
    ax.set_ylim(0.4, n + 1.2)

    values = [v for r in rows if r.kind in ("study", "pooled", "prediction")
              for v in (r.lb, r.ub, r.estimate) if v is not None and math.isfinite(v)]
    lo, hi = _limits(values, log, report.natural)
    if xlim is not None:
        lo, hi = (v / scale for v in xlim) if not log else xlim
        if not lo < hi or (log and lo <= 0):
            raise OptionError(f"--xlim {xlim[0]:g},{xlim[1]:g} is not an axis range",
                              hint="give LOW,HIGH with LOW < HIGH (and LOW > 0 for ratios)")
    if log:
        ax.set_xlim(lo / 1.08, hi * 1.08)  # room for a square at either end
    else:
        margin = (hi - lo) * 0.03
        ax.set_xlim((lo - margin) * scale, (hi + margin) * scale)
    if log:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

        ax.set_xscale("log")
        nice = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)
                if lo <= t <= hi] or [lo, hi]
        ax.xaxis.set_major_locator(FixedLocator(nice))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    if not log:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
        ticks = [t for t in ax.get_xticks() if lo * scale - 1e-9 <= t <= hi * scale + 1e-9]
        ax.set_xticks(ticks)
    weights = [r.weight for r in rows if r.kind == "study" and r.weight]
    biggest = max(weights) if weights else 1.0
    for i, row in enumerate(rows):
        y = y_of[i]
        if row.kind == "study" and row.estimate is not None and row.lb is not None \
                and row.ub is not None:
            est, lb, ub = (v * scale if not log else v for v in (row.estimate, row.lb, row.ub))
            left, right = ax.get_xlim()
            ax.plot([max(lb, left), min(ub, right)], [y, y], color=_SQUARE, lw=1, zorder=2)
            for beyond, edge, arrow in ((lb < left, left, "<"), (ub > right, right, ">")):
                if beyond:  # the CI goes on past the axis
                    ax.plot([edge], [y], marker=arrow, ms=5, color=_SQUARE, clip_on=False)
            size = 4 + 10 * math.sqrt(row.weight / biggest) if row.weight else 7.0
            if left <= est <= right:
                ax.plot([est], [y], marker="s", ms=size, color=_SQUARE, mec="none", zorder=3,
                        clip_on=False)
        elif row.kind == "pooled" and row.estimate is not None and row.lb is not None \
                and row.ub is not None:
            est, lb, ub = (v * scale if not log else v for v in (row.estimate, row.lb, row.ub))
            ax.add_patch(Polygon([(lb, y), (est, y + 0.32), (ub, y), (est, y - 0.32)],
                                 closed=True, color=_DIAMOND, zorder=3))
        elif row.kind == "prediction" and row.lb is not None and row.ub is not None:
            lb, ub = (v * scale if not log else v for v in (row.lb, row.ub))
            left, right = ax.get_xlim()
            ax.plot([max(lb, left), min(ub, right)], [y, y], color=_DIAMOND, lw=1.2)
            ax.add_patch(plt.Rectangle((max(lb, left), y - 0.12), min(ub, right) - max(lb, left),
                                       0.24, facecolor="#b8c4de", edgecolor=_DIAMOND, lw=0.8))
    null = 1.0 if log else 0.0 if report.natural != "proportion" else None
    if refline is not None:
        null = refline if log else refline / scale
    if null is not None:
        null = null if log else null * scale
    if null is not None and ax.get_xlim()[0] < null < ax.get_xlim()[1]:
        ax.axvline(null, color="black", lw=0.8, zorder=1)
    if favours is not None:
        centre = null if null is not None else sum(ax.get_xlim()) / 2
        for text, ha in zip(favours, ("right", "left"), strict=True):
            ax.annotate(text, xy=(centre, 0), xycoords=ax.get_xaxis_transform(),
                        xytext=(-6 if ha == "right" else 6, -30), textcoords="offset points",
                        ha=ha, va="top", fontsize=8.5, annotation_clip=False)
    overall = report.fit.summary.estimate * (scale if not log else 1)
    ax.axvline(overall, color=_DIAMOND, lw=0.8, ls=(0, (4, 3)), zorder=1)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])
    ax.set_xlabel(report.natural[0].upper() + report.natural[1:] + unit, fontsize=10)
    ax.tick_params(axis="x", labelsize=9)

    # text columns, in axes coordinates (x) and data rows (y)
    header_y = n + 0.8
    trans = ax.get_yaxis_transform()
    col_x = [at(pad)]
    edge = pad + study_w
    for w in data_w:
        edge += w
        col_x.append(at(edge))  # data columns are right-aligned at their right edge
    right_x = at(plot_left + plot_w + 0.3)
    weight_x = at(width - pad)
    ax.text(col_x[0], header_y, "Study", transform=trans, fontweight="bold", fontsize=9.5,
            va="center", clip_on=False)
    for j, head in enumerate(data_cols):
        ax.text(col_x[j + 1], header_y, head, transform=trans, fontweight="bold",
                fontsize=9.5, va="center", ha="right", clip_on=False)
    ax.text(right_x, header_y, result_head,
            transform=trans, fontweight="bold", fontsize=9.5, va="center", clip_on=False)
    if has_weights:
        ax.text(weight_x, header_y, "Weight", transform=trans, fontweight="bold",
                fontsize=9.5, va="center", ha="right", clip_on=False)
    for i, row in enumerate(rows):
        y = y_of[i]
        bold = row.kind in ("pooled", "heading")
        if row.kind == "hetero":
            ax.text(col_x[0], y, row.label, transform=trans, fontsize=8.5, va="center",
                    style="italic", clip_on=False)
            continue
        ax.text(col_x[0], y, row.label, transform=trans, fontsize=9, va="center",
                fontweight="bold" if bold else "normal", clip_on=False)
        for j, value in enumerate(row.data):
            ax.text(col_x[j + 1], y, value, transform=trans, fontsize=9,
                    va="center", ha="right", clip_on=False)
        if row.text:
            ax.text(right_x, y, row.text, transform=trans, fontsize=9, va="center",
                    fontweight="bold" if bold else "normal", clip_on=False, family="monospace")
        if row.weight is not None:
            ax.text(weight_x, y, f"{row.weight:.1f}%", transform=trans, fontsize=9,
                    va="center", ha="right", fontweight="bold" if bold else "normal",
                    clip_on=False)
    ax.plot([col_x[0], weight_x], [n + 0.4, n + 0.4], transform=trans, color="black",
            lw=0.8, clip_on=False)
    note = _method_note(report)
    if not has_weights:
        note += "; GLMM: no inverse-variance weights, squares of equal size"
    fig.text(0.01, 0.08 / height, note, fontsize=FOOTER_PT, color="#444444", va="bottom")
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    figure: Figure = fig
    return figure


def _method_note(report: PoolReport) -> str:
    """The footer every plot carries, on two lines: how its numbers were made."""
    how = (f"{report.method} method" if report.method in METHOD_TEXT
           else f"{report.method} estimator")
    return (f"{report.measure}, {how}; pooled CI: {report.pooled_ci}; "
            f"study CIs: {report.study_ci}\ncontinuity correction: {report.correction}")


def _limits(values: Sequence[float], log: bool, natural: str) -> tuple[float, float]:
    """Axis limits: the data range (CIs included) with a margin; proportions stay in
    [0, 1]; a log axis covers whole powers of 2 around the data, clipped to 1/100..100."""
    if not values:
        return (0.0, 1.0)
    if log:
        positive = [v for v in values if v > 0]
        lo = max(min(positive), 0.01)
        hi = min(max(positive), 100.0)
        lo = 2.0 ** math.floor(math.log2(min(lo, 1.0)))
        hi = 2.0 ** math.ceil(math.log2(max(hi, 1.0)))
        return lo, hi
    lo, hi = min(values), max(values)
    if natural == "proportion":
        lo = max(0.0, math.floor(lo * 10) / 10)
        hi = min(1.0, math.ceil(hi * 10) / 10)
        return (lo, hi) if hi > lo else (0.0, 1.0)
    pad = (hi - lo) * 0.05 or 1.0
    if natural != "proportion":
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    return lo - pad, hi + pad


def notice_figure(text: str) -> Figure:
    """A small figure that only says ``text``: what stands in a report for a plot that
    is not drawn (a forest plot of thousands of studies)."""
    plt = _load_pyplot()
    fig: Figure = plt.figure(figsize=(6.4, 1.2))
    fig.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    return fig


def funnel_plot(report: PoolReport) -> Figure:
    """A funnel plot: study estimates (model scale) against their standard errors, the
    pooled estimate and its pseudo ``level`` % region, trim-and-fill studies hollow."""
    plt = _load_pyplot()
    from scipy import stats

    ys = [s.yi for s in report.studies if s.yi is not None and s.vi is not None]
    ses = [math.sqrt(s.vi) for s in report.studies if s.yi is not None and s.vi is not None]
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    est = report.fit.estimate
    top = max(ses) * 1.08 if ses else 1.0
    z = float(stats.norm.ppf(0.5 + report.level / 200))
    ax.fill([est - z * top, est, est + z * top], [top, 0, top], color="#eef1f7", zorder=0)
    ax.plot([est - z * top, est, est + z * top], [top, 0, top], color="#8a94a8", lw=0.8, ls="--")
    ax.axvline(est, color=_DIAMOND, lw=1)
    ax.scatter(ys, ses, s=30, color=_SQUARE, zorder=3, label="studies")
    if report.bias is not None and report.bias.filled_yi:
        ax.scatter(list(report.bias.filled_yi), [math.sqrt(v) for v in report.bias.filled_vi],
                   s=30, facecolors="white", edgecolors=_SQUARE, zorder=3,
                   label="filled (trim-and-fill)")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    ax.set_ylim(top, 0)
    ax.set_xlabel(report.model_scale.capitalize() + f" ({report.measure})")
    ax.set_ylabel("Standard error")
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_title(f"Funnel plot, {report.method} pooled estimate with {report.level:g}% region",
                 fontsize=10)
    fig.subplots_adjust(bottom=0.23)  # room for the method note under the axis label
    fig.text(0.01, 0.015, _method_note(report), fontsize=FOOTER_PT - 1, color="#444444",
             wrap=True)
    figure: Figure = fig
    return figure


def bubble_plot(report: PoolReport, x: str | None = None) -> Figure:
    r"""A bubble plot of a meta-regression (metafor ``regplot``): each study's effect on the
    model scale against moderator ``x`` (default: the first numeric one), the bubble area
    proportional to its random-effects weight :math:`1/(v_i + \hat\tau^2)`, and the fitted
    line with its CI band, the other coefficients held at their means over the studies
    (as regplot does). No line where ``x`` is part of an interaction."""
    block = report.metareg
    if block is None or block.fit.frame is None:
        raise OptionError("a bubble plot needs a meta-regression model",
                          hint='add --mods, e.g. --mods "year"')
    fit, frame = block.fit, block.fit.frame
    numeric = numeric_moderators(report)
    if x is None:
        if not numeric:
            raise OptionError("the bubble plot needs a numeric moderator",
                              hint=f"--mods {block.formula!r} has only factors")
        x = numeric[0]
    if x not in numeric:
        raise OptionError(f"--bubble-x {x!r} is not a numeric moderator of the model",
                          hint=f"numeric moderators: {', '.join(numeric) or 'none'}")
    plt = _load_pyplot()
    import numpy as np

    col = frame.coef_names.index(x)
    rows = [(s, frame.matrix[i]) for i, s in enumerate(report.studies)
            if s.yi is not None and s.vi is not None and np.all(np.isfinite(frame.matrix[i]))]
    xs = np.array([r[col] for _, r in rows])
    ys = np.array([s.yi for s, _ in rows], dtype=float)
    w = 1.0 / (np.array([s.vi for s, _ in rows], dtype=float) + fit.tau2)
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    ax.scatter(xs, ys, s=400 * w / w.max() + 10, facecolors="#c9d3e6", edgecolors=_SQUARE,
               lw=0.8, zorder=3)
    in_interaction = any(x in term for term in frame.terms if len(term) > 1)
    if not in_interaction and len(xs) > 1:
        grid = np.linspace(xs.min(), xs.max(), 100)
        means = np.array([r for _, r in rows]).mean(axis=0)[1:]
        points = np.tile(means, (len(grid), 1))
        points[:, col - 1] = grid
        pred = fit.predict(points)
        ax.plot(grid, pred.pred, color=_DIAMOND, lw=1.5)
        ax.fill_between(grid, pred.ci_lb, pred.ci_ub, color=_DIAMOND, alpha=0.12, lw=0)
    ax.axhline(0, color="#8a94a8", lw=0.8, ls=":")
    ax.set_xlabel(x)
    ax.set_ylabel(report.model_scale.capitalize() + f" ({report.measure})")
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_title(f"Meta-regression on {x} (~ {block.formula.lstrip('~ ')}), k = {fit.k}",
                 fontsize=10)
    fig.subplots_adjust(bottom=0.19)
    note = (f"{report.measure}, {fit.method} estimator, {fit.level:g}% CI band; bubble area "
            "proportional to weight")
    if in_interaction:
        note += f"; no line: {x} is part of an interaction"
    fig.text(0.01, 0.01, note, fontsize=6, color="#555555", wrap=True)
    figure: Figure = fig
    return figure


def numeric_moderators(report: PoolReport) -> list[str]:
    """The numeric moderators of the meta-regression (those a bubble plot can show)."""
    frame = None if report.metareg is None else report.metareg.fit.frame
    if frame is None:
        return []
    return [n for term in frame.terms if len(term) == 1 for n in term if n not in frame.levels]


def save_bubble(report: PoolReport, path: str | Path, *, x: str | None = None,
                inputs: Sequence[str | Path] = (), force: bool = False) -> Path:
    """Draw :func:`bubble_plot` and save it atomically (PNG, SVG or PDF by suffix)."""
    _check_suffix(Path(path))
    return save_figure(bubble_plot(report, x), path, inputs=inputs, force=force)


def forest_options(xlim: str | None, refline: float | None,
                   favours: str | None) -> dict[str, Any]:
    """``review pool``'s forest plot options (``--xlim 0.1,10``, ``--refline``,
    ``--favours "A,B"``) as :func:`forest_plot` keywords, checked before any work."""
    out: dict[str, Any] = {"refline": refline}
    if xlim is not None:
        try:
            low, high = (float(v) for v in xlim.split(","))
        except ValueError:
            raise OptionError(f"--xlim {xlim!r} is not LOW,HIGH",
                              hint="give two numbers, e.g. --xlim 0.1,10") from None
        if not low < high:
            raise OptionError(f"--xlim {xlim!r}: LOW must be below HIGH", hint="e.g. 0.1,10")
        out["xlim"] = (low, high)
    if favours is not None:
        sides = [part.strip() for part in favours.split(",")]
        if len(sides) != 2 or not all(sides):
            raise OptionError(f"--favours {favours!r} needs two labels",
                              hint='e.g. --favours "Favours treatment,Favours control"')
        out["favours"] = (sides[0], sides[1])
    return out


def save_forest(report: PoolReport, path: str | Path, *, inputs: Sequence[str | Path] = (),
                force: bool = False, digits: int | None = None, percent: bool = False,
                **options: Any) -> Path:
    """Draw :func:`forest_plot` (``options``: its ``xlim``, ``refline``, ``favours``) and
    save it atomically (PNG, SVG or PDF by suffix)."""
    _check_suffix(Path(path))
    return save_figure(forest_plot(report, digits=digits, percent=percent, **options), path,
                       inputs=inputs, force=force)


def save_funnel(report: PoolReport, path: str | Path, *, inputs: Sequence[str | Path] = (),
                force: bool = False) -> Path:
    """Draw :func:`funnel_plot` and save it atomically (PNG, SVG or PDF by suffix)."""
    _check_suffix(Path(path))
    return save_figure(funnel_plot(report), path, inputs=inputs, force=force)


def baujat_plot(report: PoolReport) -> Figure:
    r"""A Baujat plot (Baujat et al. 2002; metafor ``baujat``): each study's contribution to
    the heterogeneity, :math:`(y_i-\hat\mu)^2/(v_i+\hat\tau^2)`, against its influence on the
    pooled result, :math:`(\hat\mu_{(-i)}-\hat\mu)^2/\mathrm{Var}(\hat\mu_{(-i)})`, each point
    labelled with the study; studies flagged influential in red."""
    inf = report.influence
    if inf is None:
        raise OptionError("a Baujat plot needs the influence diagnostics",
                          hint="add --influence")
    plt = _load_pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    for label, x, y, flag in zip(inf.labels, inf.baujat_x, inf.baujat_y, inf.influential,
                                 strict=True):
        if math.isnan(x) or math.isnan(y):
            continue
        color = "#b2182b" if flag else _SQUARE
        ax.scatter([x], [y], s=18, color=color, zorder=3)
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7,
                    color=color)
    ax.grid(color="#e5e5e5", lw=0.6)
    common = report.method in COMMON_METHODS
    ax.set_xlabel("Contribution to overall heterogeneity" if common
                  else "Squared Pearson residual")
    ax.set_ylabel("Influence on overall result")
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    ax.set_title(f"Baujat plot, k = {inf.k} (red: influential by metafor's rules)", fontsize=10)
    fig.subplots_adjust(bottom=0.19)
    fig.text(0.01, 0.01, _method_note(report), fontsize=6, color="#555555", wrap=True)
    figure: Figure = fig
    return figure


def save_baujat(report: PoolReport, path: str | Path, *, inputs: Sequence[str | Path] = (),
                force: bool = False) -> Path:
    """Draw :func:`baujat_plot` and save it atomically (PNG, SVG or PDF by suffix)."""
    _check_suffix(Path(path))
    return save_figure(baujat_plot(report), path, inputs=inputs, force=force)
