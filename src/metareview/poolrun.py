"""From a validated study table to every result of ``review pool``, and the result writers.

:func:`run_pool` chains the engine: effect sizes (:func:`metareview.effects.escalc`),
the pooled model (:func:`metareview.meta.pool`, or :func:`metareview.glmm.pool_glmm`),
back-transformed predictions, study confidence intervals on the natural scale, and on
request subgroups, leave-one-out, cumulative pooling and small-study tests. The result is
a frozen :class:`PoolReport`; :func:`format_report` prints it and :func:`write_report`
saves it as ``.json``, ``.csv``, ``.xlsx`` or ``.md``, atomically.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .bias import PREDICTORS, REGRESSIONS
from .errors import OptionError, ReviewWarning
from .fileio import atomic_path
from .influence import COLUMNS as _INFLUENCE_NAMES
from .influence import InfluenceResult
from .jsonsafe import plain
from .meta import check_choice, num
from .mh import MHResult
from .moderators import MetaRegression
from .multilevel import ThreeLevelResult
from .numtext import number
from .predint import PI_DF
from .sheets.extraction import StudyTable, check_columns

#: Effect measures per design; the first is the default.
MEASURES = {
    "proportion": ("PLO", "PR", "PLN", "PAS", "PFT"),
    "binary": ("OR", "RR", "RD"),
    "continuous": ("SMD", "MD"),
    "rate": ("IRLN", "IR", "IRS", "IRFT"),
    "correlation": ("ZCOR", "COR", "UCOR"),
    "generic": ("GEN", "OR", "RR", "PLO", "PLN", "PR", "RD", "MD", "SMD"),
}
METHODS = ("REML", "DL", "ML", "PM", "HE", "SJ", "EB", "HS", "FE", "GLMM", "MH", "Peto")
#: Common-effect (fixed) methods: no τ², no prediction interval.
COMMON_METHODS = ("FE", "MH", "Peto")
#: How the text output names the methods that are not a τ² estimator.
METHOD_TEXT = {"MH": "Mantel–Haenszel (common effect)", "Peto": "Peto (common effect)"}
TESTS = ("z", "knha", "adhoc")
#: Fewest studies for which small-study (funnel asymmetry) tests are advised, and run by
#: default (R meta's ``k.min``).
SMALL_STUDY_MIN_K = 10
STUDY_CI = ("cp", "wilson", "wald")
STUDY_CI_NAMES = {"cp": "Clopper–Pearson (exact)", "wilson": "Wilson score", "wald": "Wald"}
OUTPUT_SUFFIXES = (".json", ".csv", ".xlsx", ".md")
INFLUENCE_COLUMNS = tuple(_INFLUENCE_NAMES.values())
#: The Mantel–Haenszel/Peto tests kept in the ``mh`` block of the JSON output.
MH_FIELDS = ("method", "k_yi", "k_pos", "cmh", "cmh_p", "cochran", "cochran_p", "breslow_day",
             "breslow_day_p", "tarone", "tarone_p", "correct")


@dataclass(frozen=True)
class StudyResult:
    """One study: model-scale ``yi``, ``vi`` (``None`` if the study was dropped), weight in
    percent, and the estimate with its CI on the natural scale. ``data`` is the counts or
    summary data as printed (``16/17``); ``values`` the same numbers, one per column of
    :attr:`PoolReport.value_columns`."""

    study: str
    yi: float | None
    vi: float | None
    weight: float | None
    estimate: float | None
    ci_lb: float | None
    ci_ub: float | None
    data: tuple[str, ...] = ()
    group: str | None = None
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class Summary:
    """Pooled estimate, CI and prediction interval back-transformed to the natural scale."""

    estimate: float
    ci_lb: float
    ci_ub: float
    pi_lb: float | None
    pi_ub: float | None


@dataclass(frozen=True)
class Fit:
    """One pooled model on the model scale, with its natural-scale :class:`Summary`.

    ``tau2_ci_lb_sign`` / ``tau2_ci_ub_sign`` mark a censored Q-profile bound of τ² and I²
    (metafor's ``lb.sign`` / ``ub.sign``): ``">"`` means the true bound lies above the number
    given, which is the search limit ``tau2_max``; ``"<"`` means below it (0; both bounds
    below 0 make the interval empty); ``""`` means the bound is exact.
    """

    k: int
    estimate: float
    se: float
    ci_lb: float
    ci_ub: float
    pi_lb: float | None
    pi_ub: float | None
    tau2: float
    tau2_ci_lb: float | None
    tau2_ci_ub: float | None
    i2: float | None
    i2_ci_lb: float | None
    i2_ci_ub: float | None
    h2: float | None
    q: float | None
    q_df: int
    q_p: float | None
    summary: Summary
    tau2_ci_lb_sign: str = ""
    tau2_ci_ub_sign: str = ""
    pi_df: float | None = None
    zval: float | None = None
    pval: float | None = None
    ddf: int | None = None

    @property
    def pi_dist(self) -> str:
        """The reference distribution of the prediction interval: ``"z"`` or ``"t, df = 12"``."""
        return "z" if self.pi_df is None else f"t, df = {self.pi_df:g}"

    def effect_test(self) -> str:
        """The test for the overall effect in words: ``z = -3.97, p < 0.0001``, or
        ``t(12) = …`` under Knapp–Hartung; ``""`` when the model gives none."""
        if self.zval is None:
            return ""
        stat = "z" if self.ddf is None else f"t({self.ddf})"
        return f"{stat} = {self.zval:.2f}, {p_text(self.pval)}"

    def tau2_ci_text(self) -> str:
        """The τ² CI as ``"0.0031 to >100.0000"`` (signs as metafor prints them); ``""`` if none."""
        return self._ci_text(self.tau2_ci_lb, self.tau2_ci_ub, 4, "")

    def i2_ci_text(self) -> str:
        """The I² CI as ``"9.7% to >100.0%"``; ``""`` if none."""
        return self._ci_text(self.i2_ci_lb, self.i2_ci_ub, 1, "%")

    def _ci_text(self, lb: float | None, ub: float | None, digits: int, unit: str) -> str:
        def bound(value: float | None, sign: str) -> str:
            if value is not None and sign == ">":  # round down so that ">" stays true
                value = math.floor(value * 10 ** digits) / 10 ** digits
            return f"{sign}{num(value, digits)}{unit}"

        if lb is None:
            return ""
        return f"{bound(lb, self.tau2_ci_lb_sign)} to {bound(ub, self.tau2_ci_ub_sign)}"


@dataclass(frozen=True)
class Subgroup:
    """One subgroup's fit; ``common`` is its common-effect (inverse-variance) fit when
    ``--common`` asked for one."""

    name: str
    fit: Fit
    common: Fit | None = None


@dataclass(frozen=True)
class SubgroupTest:
    """Tests of subgroup differences, ``name`` says which ``q``/``df``/``p`` is.

    Inverse-variance methods: ``q``/``df``/``p`` with a common τ² (metafor
    ``rma(mods=~group)``, QM) and ``q_separate``/``p_separate`` with a separate τ² per group
    (fixed-effect model over the subgroup estimates). Under Knapp–Hartung (``test="knha"``)
    the common-τ² test is an F test with ``df`` and ``df2`` degrees of freedom (metafor's
    QMdf); ``df2`` is None for the Wald (χ²) test. Mantel–Haenszel and Peto: ``q`` is the
    inverse-variance Q between the subgroup MH/Peto estimates (R meta's test for subgroup
    differences, common effect model); there is no common-τ² or separate-τ² test
    (``q_separate``/``p_separate`` None)."""

    q: float
    df: int
    p: float
    q_separate: float | None
    p_separate: float | None
    df2: int | None = None
    name: str = "common tau²"

    @property
    def statistic(self) -> str:
        """``F(1, 11)`` for the Knapp–Hartung F test, ``Q(1)`` for the χ² test."""
        return f"Q({self.df})" if self.df2 is None else f"F({self.df}, {self.df2})"


@dataclass(frozen=True)
class Sensitivity:
    """A leave-one-out or cumulative table: one row per omitted/added study, the natural-scale
    estimate and CI, and τ² and I² of that fit. A row whose fit failed holds NaN and the
    reason in ``notes`` (``""`` for the rows that were fitted)."""

    kind: str
    studies: tuple[str, ...]
    order: str | None
    estimate: tuple[float, ...]
    ci_lb: tuple[float, ...]
    ci_ub: tuple[float, ...]
    tau2: tuple[float, ...]
    i2: tuple[float | None, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Bias:
    """Small-study tests: Egger's regression test (``z``, ``p``; a t statistic with
    ``egger_df`` df for the classic ``lm`` regression or Knapp–Hartung), Begg's rank
    correlation (Kendall's ``tau``, ``p``) and trim-and-fill (studies added and the adjusted
    estimate on the natural scale). ``egger_model`` / ``egger_predictor`` name the regression
    (metafor's ``model`` and ``predictor``); ``min_k`` is the fewest studies the tests were
    run for. Entries are ``None`` where a test did not run (``notes`` say why)."""

    egger_z: float | None
    egger_p: float | None
    begg_tau: float | None
    begg_p: float | None
    trimfill_k0: int | None
    trimfill_side: str | None
    trimfill: Summary | None
    filled_yi: tuple[float, ...] = ()
    filled_vi: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    egger_model: str = "rma"
    egger_predictor: str = "sei"
    egger_df: int | None = None
    min_k: int = SMALL_STUDY_MIN_K


@dataclass(frozen=True)
class PoolReport:
    """Everything ``review pool`` reports. ``fit`` is on the model scale of ``measure``;
    ``natural`` names the scale of the back-transformed numbers (``proportion``, ``odds
    ratio``…). ``correction`` says in words which continuity correction was used."""

    source: str
    design: str
    measure: str
    method: str
    test: str
    level: float
    study_ci: str
    pooled_ci: str
    correction: str
    natural: str
    model_scale: str
    excluded: int
    fit: Fit
    studies: tuple[StudyResult, ...]
    data_columns: tuple[str, ...] = ()
    value_columns: tuple[str, ...] = ()
    by: str | None = None
    subgroups: tuple[Subgroup, ...] = ()
    subgroup_test: SubgroupTest | None = None
    leave_one_out: Sensitivity | None = None
    cumulative: Sensitivity | None = None
    bias: Bias | None = None
    metareg: MetaRegression | None = None
    threelevel: ThreeLevelResult | None = None
    mh: MHResult | None = None
    influence: InfluenceResult | None = None
    common: Fit | None = None
    pi_method: str = ""
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON layout of ``review pool --to json``: model-scale fields at the top
        level, ``summary`` on the natural scale, ``studies``, and optional blocks."""
        fit = asdict(self.fit)
        summary = fit.pop("summary")
        out: dict[str, Any] = {
            "source": self.source, "design": self.design, "k": self.fit.k,
            "measure": self.measure, "method": self.method, "test": self.test,
            "level": self.level, "study_ci": self.study_ci, "pooled_ci": self.pooled_ci,
            "correction": self.correction, "natural_scale": self.natural,
            "model_scale": self.model_scale, "excluded": self.excluded,
        }
        fit.pop("k")
        out.update(fit)
        out["summary"] = summary
        out["studies"] = [
            {k: v for k, v in asdict(s).items() if k not in ("data", "group")}
            | ({"group": s.group} if self.by else {})
            for s in self.studies
        ]
        if self.by:
            out["by"] = self.by
            out["subgroups"] = {
                "groups": [{"name": g.name, **asdict(g.fit)}
                           | ({"common": asdict(g.common)} if g.common else {})
                           for g in self.subgroups],
                "test": asdict(self.subgroup_test) if self.subgroup_test else None,
            }
        for name in ("leave_one_out", "cumulative", "bias"):
            value = getattr(self, name)
            if value is not None:
                out[name] = asdict(value)
        if self.metareg is not None:
            out["metareg"] = self.metareg.to_dict()
        if self.threelevel is not None:
            out["threelevel"] = self.threelevel.to_dict()
            if self.threelevel.p == 1:
                out["threelevel"]["summary"] = self.threelevel.predict().to_dict()
        if self.mh is not None:
            out["mh"] = {name: getattr(self.mh, name) for name in MH_FIELDS}
        if self.influence is not None:
            out["influence"] = self.influence.to_dict()
        if self.common is not None:
            out["common"] = asdict(self.common)
        out["pi_method"] = self.pi_method
        out["warnings"] = list(self.warnings)
        cleaned: dict[str, Any] = plain(out)
        return cleaned


# --- printing ----------------------------------------------------------------------------


def p_text(value: float | None) -> str:
    """``p = 0.0123``, ``p < 0.0001`` or ``p = NA`` for the prose of a report."""
    if value is None or math.isnan(value):
        return "p = NA"
    return "p < 0.0001" if value < 1e-4 else f"p = {value:.4f}"


def describe(report: PoolReport) -> list[str]:
    """The lines that say how the numbers were made (measure, estimator, CIs, correction)."""
    model = ("common-effect (fixed) model" if report.method in COMMON_METHODS
             else "random-effects model")
    how = (f"Method: {METHOD_TEXT[report.method]}" if report.method in METHOD_TEXT
           else f"Estimator: {report.method}")
    lines = [
        f"{model.capitalize()}, k = {report.fit.k} "
        f"{'study' if report.fit.k == 1 else 'studies'} from {report.source}"
        + (f" ({report.excluded} excluded)" if report.excluded else ""),
        f"Measure: {report.measure} ({report.model_scale}); results shown as {report.natural}",
        f"{how}; pooled CI: {report.pooled_ci}; "
        f"study CIs: {report.study_ci}; level {report.level:g}%",
        f"Continuity correction: {report.correction}",
    ]
    if report.fit.pi_lb is not None:
        lines.append(f"Prediction interval: {report.pi_method}")
    return lines


def format_report(report: PoolReport, digits: int = 3, percent: bool = False) -> str:
    """A readable text report: the study table on the natural scale, the pooled rows, the
    heterogeneity statistics and any subgroup, sensitivity and bias results."""
    scale = 100.0 if percent and report.natural == "proportion" else 1.0
    unit = "%" if scale == 100 else ""
    lv = f"{report.level:g}%"
    head = ["study", *report.data_columns, report.natural + (" (%)" if unit else ""),
            f"{lv} CI", "weight"]
    rows: list[list[str]] = []

    def ci(lb: float | None, ub: float | None) -> str:
        return f"[{num(lb, digits, scale)}, {num(ub, digits, scale)}]"

    groups = [g.name for g in report.subgroups] if report.by else [None]
    for group in groups:
        if group is not None:
            rows.append([f"{report.by} = {group}"])
        for s in report.studies:
            if s.group != group and group is not None:
                continue
            weight = ("" if report.method == "GLMM" else "dropped") if s.weight is None \
                else f"{s.weight:.1f}%"
            rows.append([s.study, *s.data, num(s.estimate, digits, scale), ci(s.ci_lb, s.ci_ub),
                         weight])
        if group is not None:
            sub = next(g.fit for g in report.subgroups if g.name == group)
            share = sum(s.weight or 0.0 for s in report.studies if s.group == group)
            common_fit = next(g.common for g in report.subgroups if g.name == group)
            if common_fit is not None:
                rows.append(_pooled_row(f"  common effect ({group})", common_fit, report,
                                        digits, scale, ci, "", group))
            rows.append(_pooled_row(f"  pooled ({group}), k = {sub.k}", sub, report, digits,
                                    scale, ci, f"{share:.1f}%", group))
            rows.append([f"  {_heterogeneity(sub, report.method, lv)[0]}"])
            rows += [[f"  {line}"] for line in _censored_note(sub)]
    label = ("Pooled (common effect)" if report.method in COMMON_METHODS
             else "Pooled (random effects)")
    if report.common is not None:
        rows.append(_pooled_row("Pooled (common effect)", report.common, report, digits, scale,
                                ci, ""))
    rows.append(_pooled_row(label, report.fit, report, digits, scale, ci,
                            "" if report.method == "GLMM" else "100.0%"))
    if report.fit.summary.pi_lb is not None:
        rows.append([f"Prediction interval ({report.fit.pi_dist})", *[""] * (len(head) - 3),
                     ci(report.fit.summary.pi_lb, report.fit.summary.pi_ub), ""])
    lines = [*describe(report), "", *_table(head, rows), ""]
    lines += _heterogeneity(report.fit, report.method, lv)
    if report.fit.effect_test():
        lines.append(f"Test for overall effect: {report.fit.effect_test()}")
    if report.common is not None:
        c = report.common
        lines.append(f"Common-effect model (inverse variance): estimate = {c.estimate:.4f}, "
                     f"se = {c.se:.4f}, CI [{c.ci_lb:.4f}, {c.ci_ub:.4f}]")
    if report.mh is not None:
        lines += mh_sentences(report.mh)
    if report.subgroup_test is not None:
        t = report.subgroup_test
        line = (f"Test for subgroup differences ({t.name}): {t.statistic} = {num(t.q, 2)}, "
                f"{p_text(t.p)}")
        if t.q_separate is not None:
            line += "; separate tau²: " + (
                "not computable (a subgroup has SE 0)" if math.isnan(t.q_separate)
                else f"Q({t.df}) = {num(t.q_separate, 2)}, {p_text(t.p_separate)}")
        lines.append(line)
    for sens in (report.leave_one_out, report.cumulative):
        if sens is not None:
            lines += ["", _sensitivity_title(sens)]
            lines += _table(
                ["study", report.natural, f"{lv} CI", "tau²", "I²"],
                [[s, num(e, digits, scale), ci(lb, ub), num(t2, 4), num(i2, 1)]
                 for s, e, lb, ub, t2, i2 in zip(sens.studies, sens.estimate, sens.ci_lb,
                                                 sens.ci_ub, sens.tau2, sens.i2, strict=True)])
            lines += [f"  {s}: not computed: {note}"
                      for s, note in zip(sens.studies, sens.notes, strict=True) if note]
    if report.influence is not None:
        inf = report.influence
        lines += ["", f"Influence diagnostics (leave-one-out refits; * = influential by "
                      f"metafor's rules; {inf.method}, {inf.test} test):"]
        dfbs = [f"dfbetas {c}" for c in inf.coef_names]
        lines += _table(
            ["study", "rstudent", "dffits", "cook.d", "cov.r", "tau2.del", "QE.del", "hat",
             "weight", *dfbs, "inf"],
            [[r["study"], *(num(r[c], 4) for c in INFLUENCE_COLUMNS),
              *(num(r[f"dfbetas_{c}"], 4) for c in inf.coef_names),
              "*" if r["influential"] else ""] for r in inf.rows()])
        lines += [f"  {r['study']}: not computed: {r['note']}" for r in inf.rows() if r["note"]]
    if report.bias is not None:
        lines += ["", "Small-study effects:",
                  *(f"  {s}" for s in bias_sentences(report.bias, digits, scale))]
    if report.metareg is not None:
        from .moderators import text_lines

        lines += ["", *text_lines(report.metareg, report.natural, digits)]
    if report.threelevel is not None:
        from . import multilevel

        lines += ["", *multilevel.text_lines(report.threelevel, report.natural, digits)]
    return "\n".join(lines)


def _pooled_row(label: str, fit: Fit, report: PoolReport, digits: int, scale: float,
                ci: Callable[[float | None, float | None], str], weight: str,
                group: str | None = None) -> list[str]:
    return [label, *data_totals(report, group), num(fit.summary.estimate, digits, scale),
            ci(fit.summary.ci_lb, fit.summary.ci_ub), weight]


def value_totals(report: PoolReport, group: str | None = None) -> tuple[float | None, ...]:
    """The sums of the count columns (events, totals, n) over the studies (of ``group``),
    one per :attr:`PoolReport.value_columns`; ``None`` for means and SDs."""
    rows = [s.values for s in report.studies if group is None or s.group == group]
    return tuple(
        math.fsum(r[j] for r in rows) if name not in _NOT_SUMMED else None
        for j, name in enumerate(report.value_columns))


def data_totals(report: PoolReport, group: str | None = None) -> tuple[str, ...]:
    """The pooled row's cells under the data columns: total events and participants, as
    the study rows print them (``224/287`` for a 2×2 arm); ``""`` where nothing adds up."""
    if not report.value_columns:
        return ("",) * len(report.data_columns)
    totals = dict(zip(report.value_columns, value_totals(report, group), strict=True))
    return _cells(report.design, totals)


def _heterogeneity(fit: Fit, method: str, lv: str) -> list[str]:
    tau2 = f"tau² = {num(fit.tau2, 4)}"
    if fit.tau2_ci_lb is not None:
        tau2 += f" ({lv} CI {fit.tau2_ci_text()})"
    i2 = f"I² = {num(fit.i2, 1)}%"
    if fit.i2_ci_lb is not None:
        i2 += f" ({lv} CI {fit.i2_ci_text()})"
    lines = [f"Heterogeneity: {tau2}; {i2}; H² = {num(fit.h2, 2)}", *_censored_note(fit)]
    if fit.q is not None:
        kind = "Wald test" if method == "GLMM" else "Test"
        lines.append(f"{kind} for heterogeneity: Q({fit.q_df}) = {fit.q:.2f}, {p_text(fit.q_p)}")
    lines.append(f"Model scale: estimate = {fit.estimate:.4f}, se = {fit.se:.4f}, "
                 f"CI [{fit.ci_lb:.4f}, {fit.ci_ub:.4f}]"
                 + (f", PI [{fit.pi_lb:.4f}, {fit.pi_ub:.4f}]" if fit.pi_lb is not None
                    and fit.pi_ub is not None else ""))
    return lines


def mh_sentences(mh: MHResult) -> list[str]:
    """The Cochran–Mantel–Haenszel and Tarone tests of an MH odds ratio, one line each
    (nothing for RR, RD or Peto)."""
    if mh.method != "MH" or mh.measure != "OR":
        return []
    df = max((mh.k_pos or 0) - 1, 0)
    return [f"Cochran–Mantel–Haenszel test: CMH(1) = {num(mh.cmh, 2)}, {p_text(mh.cmh_p)}"
            + ("" if mh.correct else " (no continuity correction)"),
            f"Tarone's test for heterogeneity: X²({df}) = {num(mh.tarone, 2)}, "
            f"{p_text(mh.tarone_p)}"]


def _censored_note(fit: Fit) -> list[str]:
    """What a ``>``/``<`` before a τ² CI bound means (metafor prints the same signs)."""
    if ">" in (fit.tau2_ci_lb_sign, fit.tau2_ci_ub_sign):
        return [f"  '>': the CI bound lies above the search limit tau² = "
                f"{num(fit.tau2_ci_ub, 4)}; the data do not bound it more closely"]
    if fit.tau2_ci_lb_sign == "<":
        return ["  '<': both CI bounds for tau² fall below 0, so the CI is the empty set"]
    return []


def _sensitivity_title(sens: Sensitivity) -> str:
    if sens.kind == "leave_one_out":
        return "Leave-one-out (each row omits that study):"
    return f"Cumulative meta-analysis (studies added in order of {sens.order or 'the sheet'}):"


def egger_variant(bias: Bias) -> str:
    """`` (classic Egger test, weighted least squares, predictor 1/sqrt(n))`` for a test other
    than metafor's default (mixed-effects, standard error), else ``""``."""
    how = [words for on, words in (
        (bias.egger_model == "lm", REGRESSIONS["lm"]),
        (bias.egger_predictor != "sei", f"predictor {PREDICTORS[bias.egger_predictor]}"),
    ) if on]
    return f" ({', '.join(how)})" if how else ""


def bias_sentences(bias: Bias, digits: int = 3, scale: float = 1.0,
                   tau: str = "tau") -> list[str]:
    """Egger, Begg and trim-and-fill results in words, then the notes: one sentence each,
    without the final period (the text report and ``report.html`` share this wording).
    ``scale`` multiplies the adjusted estimate (100 for percent); ``tau`` is the symbol."""
    out = []
    if bias.egger_z is not None:
        stat = "z" if bias.egger_df is None else f"t({bias.egger_df})"
        out.append(f"Egger's regression test{egger_variant(bias)}: {stat} = "
                   f"{num(bias.egger_z, 3)}, {p_text(bias.egger_p)}")
    if bias.begg_tau is not None:
        out.append(f"Begg's rank correlation: Kendall's {tau} = {num(bias.begg_tau, 3)}, "
                   f"{p_text(bias.begg_p)}")
    if bias.trimfill is not None:
        k0, tf = bias.trimfill_k0, bias.trimfill
        out.append(f"Trim-and-fill (L0): {k0} stud{'y' if k0 == 1 else 'ies'} filled on the "
                   f"{bias.trimfill_side} side; adjusted estimate "
                   f"{num(tf.estimate, digits, scale)} ({num(tf.ci_lb, digits, scale)} to "
                   f"{num(tf.ci_ub, digits, scale)})")
    return out + [note.removesuffix(".") for note in bias.notes]


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    full = [r for r in rows if len(r) == len(head)]
    widths = [max(len(str(r[i])) for r in [head, *full]) for i in range(len(head))]
    out = []
    for row in [head, *rows]:
        if len(row) != len(head):  # a section title
            out.append(row[0])
            continue
        cells = [str(c).ljust(w) if i == 0 else str(c).rjust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return out


# --- writing -----------------------------------------------------------------------------


def tables(report: PoolReport) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The result tables by name (``studies``, ``summary``, optional ``subgroups``,
    ``leave_one_out``, ``cumulative``, ``bias``) as header + rows, for CSV/XLSX/Markdown."""
    out: dict[str, tuple[list[str], list[list[Any]]]] = {}
    study_head = ["row", "study", *report.value_columns, "group", "yi", "vi", "weight",
                  "estimate", "ci_lb", "ci_ub"]
    rows: list[list[Any]] = [
        ["study", s.study, *s.values, s.group, s.yi, s.vi, s.weight, s.estimate, s.ci_lb,
         s.ci_ub]
        for s in report.studies
    ]
    blank = [None] * len(report.value_columns)
    for g in report.subgroups:
        s = g.fit.summary
        if g.common is not None:
            c = g.common
            rows.append(["subgroup common", f"common effect ({g.name})", *blank, g.name,
                         c.estimate, c.se ** 2, None, c.summary.estimate, c.summary.ci_lb,
                         c.summary.ci_ub])
        rows.append(["subgroup", f"pooled ({g.name})", *value_totals(report, g.name), g.name,
                     g.fit.estimate, g.fit.se ** 2, 100.0, s.estimate, s.ci_lb, s.ci_ub])
    if report.common is not None:
        c = report.common
        rows.append(["common", "pooled (common effect)", *blank, None, c.estimate, c.se ** 2,
                     None, c.summary.estimate, c.summary.ci_lb, c.summary.ci_ub])
    s = report.fit.summary
    rows.append(["pooled", "pooled", *value_totals(report), None, report.fit.estimate,
                 report.fit.se ** 2, 100.0, s.estimate, s.ci_lb, s.ci_ub])
    if s.pi_lb is not None:
        rows.append(["prediction", "prediction interval", *blank, None, None, None, None,
                     s.estimate, s.pi_lb, s.pi_ub])
    if report.influence is not None:  # the diagnostics as columns of the study rows
        by_study = {r.pop("study"): r for r in report.influence.rows()}
        names = [n for n in next(iter(by_study.values())) if n != "weight"]  # = the weight
        study_head += [f"influence_{n}" if n == "note" else n for n in names]
        rows = [r + [by_study[r[1]][n] if r[0] == "study" and r[1] in by_study else None
                     for n in names] for r in rows]
    out["studies"] = (study_head, rows)
    flat = report.to_dict()
    summary = [[k, v] for k, v in flat.items()
               if not isinstance(v, (dict, list)) and k != "source"] + [
        [f"summary_{k}", v] for k, v in flat["summary"].items()]
    out["summary"] = (["key", "value"], [["source", report.source], *summary])
    if report.subgroups:
        names = [n for n in asdict(report.subgroups[0].fit) if n != "summary"]
        head = ["group", *names, "summary_estimate", "summary_ci_lb", "summary_ci_ub",
                "summary_pi_lb", "summary_pi_ub"]
        sub_rows = []
        for g in report.subgroups:
            d = asdict(g.fit)
            sm = d.pop("summary")
            sub_rows.append([g.name, *d.values(), *sm.values()])
        if report.subgroup_test is not None:
            t = report.subgroup_test
            name = t.name.replace("tau²", "tau2")
            sub_rows.append([f"test ({name}): {t.statistic} = {t.q}, p={t.p}"]
                            + [None] * (len(head) - 1))
            if t.q_separate is not None:
                sub_rows.append([f"test (separate tau2): Q={t.q_separate}, df={t.df}, "
                                 f"p={t.p_separate}"] + [None] * (len(head) - 1))
        out["subgroups"] = (head, sub_rows)
    for sens in (report.leave_one_out, report.cumulative):
        if sens is not None:
            out[sens.kind] = (["study", "estimate", "ci_lb", "ci_ub", "tau2", "i2", "note"],
                              [list(r) for r in zip(sens.studies, sens.estimate, sens.ci_lb,
                                                    sens.ci_ub, sens.tau2, sens.i2, sens.notes,
                                                    strict=True)])
    if report.metareg is not None:
        from .moderators import table_rows

        out["metareg"] = table_rows(report.metareg)
    if report.threelevel is not None:
        from . import multilevel

        out["threelevel"] = multilevel.table_rows(report.threelevel)
    if report.bias is not None:
        b = asdict(report.bias)
        tf = b.pop("trimfill") or {}
        b.pop("filled_yi")
        b.pop("filled_vi")
        b["notes"] = "; ".join(b["notes"])
        out["bias"] = (["key", "value"], [[k, v] for k, v in b.items()]
                       + [[f"trimfill_{k}", v] for k, v in tf.items()])
    return {name: (head, [[plain(v) for v in r] for r in body])
            for name, (head, body) in out.items()}


def write_report(report: PoolReport, path: str | Path, *, inputs: Sequence[str | Path] = (),
                 force: bool = False, raw_csv: bool = False) -> Path:
    """Save ``report`` by the suffix of ``path``: ``.json`` (the ``--to json`` object),
    ``.csv`` (the study table with pooled rows; study names a spreadsheet would run as a
    formula quoted unless ``raw_csv``, see :mod:`metareview.csvtext`), ``.xlsx`` (one
    sheet per table) or ``.md`` (the method lines and Markdown tables). Atomic; never
    over an input."""
    from .csvtext import escape_formula
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise OptionError(f"unknown output type {suffix or '(none)'!r}", str(target),
                          f"use one of: {', '.join(OUTPUT_SUFFIXES)}")
    with atomic_path(target, inputs=inputs, force=force) as tmp:
        if suffix == ".json":
            tmp.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        elif suffix == ".csv":
            head, rows = tables(report)["studies"]
            # one file on its own must say how its numbers were made
            how = [report.measure, report.method, report.correction]
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow([*head, "ci_method", "measure", "method", "correction"])
                writer.writerows(
                    [v if raw_csv else escape_formula(v) for v in (
                        ["" if v is None else v for v in r]
                        + [report.study_ci if r[0] == "study" else report.pi_method
                           if r[0] == "prediction" else report.pooled_ci, *how])]
                    for r in rows)
        elif suffix == ".xlsx":
            from .sheets.common import write_tables

            write_tables(tables(report), tmp)
        else:
            tmp.write_text(markdown(report), encoding="utf-8")
    return target


def markdown(report: PoolReport) -> str:
    """The report as Markdown: the method lines, then one table per result table."""
    parts = [f"# Meta-analysis of {report.source}", "", *(f"- {line}" for line in describe(report))]
    for name, (head, rows) in tables(report).items():
        parts += ["", f"## {name.replace('_', ' ').capitalize()}", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        parts += ["| " + " | ".join(_md(v) for v in r) + " |" for r in rows]
    return "\n".join(parts) + "\n"


def _md(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


# --- computing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolOptions:
    """The choices of ``review pool`` (see :func:`run_pool`)."""

    measure: str | None = None
    method: str = "REML"
    test: str = "z"
    study_ci: str = "cp"
    level: float = 95.0
    by: str | None = None
    leave_one_out: bool = False
    cumulative: str | None = None
    bias: bool = False
    mods: str | None = None
    predict: tuple[str, ...] = ()
    influence: bool = False
    common: bool = False
    pi_df: str = "model"
    bias_model: str = "rma"
    bias_predictor: str = "sei"
    bias_min_k: int = SMALL_STUDY_MIN_K
    cluster: str | None = None
    sort: str | None = None
    #: our column names → the sheet's own headers, for reading the sheet
    #: (:func:`metareview.sheets.extraction.check_columns`)
    columns: dict[str, str] = field(default_factory=dict)


def run_pool(table: StudyTable, options: PoolOptions = PoolOptions()) -> PoolReport:
    """All results for a validated study table.

    Effect sizes by :func:`metareview.effects.escalc` (metafor's default continuity
    correction: 1/2 added to the cells of studies with a zero cell, where the measure needs
    it), the model by :func:`metareview.meta.pool` (or the binomial-normal GLMM of
    :func:`metareview.glmm.pool_glmm` for ``method="GLMM"``), back-transformed summary,
    Q-profile CIs for τ² and I² (Viechtbauer 2007), study CIs on the natural scale
    (Clopper & Pearson 1934 by default for proportions, else yi ± z·√vi back-transformed),
    and on request subgroups, leave-one-out, cumulative pooling and Egger/Begg/trim-and-fill.
    Engine warnings (studies dropped, PFT caveat, tests switched) are re-issued and kept in
    :attr:`PoolReport.warnings`.

    Parameters
    ----------
    table : StudyTable
        Included studies from :func:`metareview.sheets.extraction.read_extraction`.
    options : PoolOptions
        ``measure`` (default by design: PLO, OR, SMD, GEN), ``method`` (REML), ``test``
        (z), ``study_ci`` (cp), ``level`` (95), and the optional analyses.

    Returns
    -------
    PoolReport

    Raises
    ------
    OptionError
        Unknown or unsuitable choices (e.g. OR for a proportion sheet, GLMM with knha).
    EstimationError
        Where metafor refuses the model (e.g. zero variances with DL, k = 1 with
        leave-one-out).

    References
    ----------
    Clopper CJ, Pearson ES (1934). The use of confidence or fiducial limits illustrated in the
    case of the binomial. Biometrika 26:404-413.
    Viechtbauer W (2007). Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 26:37-52.
    Higgins JPT, Thompson SG, Spiegelhalter DJ (2009). A re-evaluation of random-effects
    meta-analysis. J R Stat Soc A 172:137-159 (prediction intervals).
    """
    from . import effects, meta

    design = table.design
    options = check_options(design, options)
    assert options.measure is not None  # check_options fills in the design's default
    measure, method, test, study_ci = (options.measure, options.method, options.test,
                                       options.study_ci)
    labels = list(table.studies)
    v = {name: np.asarray(values, dtype=float) for name, values in table.values.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with warnings.catch_warnings():
            if method in ("MH", "Peto"):  # their own yi/vi replace these, with their notes
                warnings.simplefilter("ignore", ReviewWarning)
            es = _effect_sizes(design, measure, v)
        pool_kwargs: dict[str, Any] = {"method": method, "test": test, "level": options.level,
                                       "measure": measure, "ni": es.ni}
        mh = None
        counts = _mh_options(v, method, measure, options.level)
        if method == "GLMM":
            fit, used = _glmm_fit(v["events"], v["total"], labels, options.level)
            correction = "none: the GLMM models the raw counts"
        elif counts is not None:
            mh, es = _mh_fit(counts, es, labels)
            fit = _common_fit(mh)
            used = {lab: plain(w) for lab, w in zip(labels, mh.weights, strict=True)}
            correction = (f"{mh.correction} (study yi/vi, used for the Q-test and the study "
                          f"rows; the {method} estimate uses the raw counts)")
        else:
            result = meta.pool(es.yi, es.vi, labels=labels, correction=es.correction,
                               **pool_kwargs)
            fit = _fit(result, options.pi_df)
            used = dict(zip(result.labels, result.weights, strict=True))
            correction = es.correction
            test = result.test  # metafor switches knha to z for k = 1
        studies = _studies(table, es, used, study_ci, options.level, measure, options.by)
        if options.sort:
            studies = _sorted(studies, table, options.sort)
        groups: tuple[Subgroup, ...] = ()
        group_test: SubgroupTest | None = None
        if options.by:
            groups, group_test = (
                _mh_subgroups(table, options.by, counts) if counts is not None
                else _subgroups(table, es, options.by, pool_kwargs, options.pi_df,
                                options.common))
        loo = (_leave_one_out(es, labels, pool_kwargs, counts) if options.leave_one_out
               else None)
        cum = (_cumulative(table, es, labels, options.cumulative, pool_kwargs, counts)
               if options.cumulative else None)
        bias = _bias(es, labels, pool_kwargs, options) if options.bias else None
        mods = _moderators(table, es, options, pool_kwargs) if options.mods else None
        three = _threelevel(table, es, options, measure) if options.cluster else None
        infl = _influence(table, es, labels, options, pool_kwargs) if options.influence else None
        common = None
        if options.common:
            common = _common_effect(es, labels, pool_kwargs)
    messages = _warn_text(caught)
    for message in messages:
        warnings.warn(message, ReviewWarning, stacklevel=2)
    return PoolReport(
        source=table.source, design=design, measure=measure, method=method, test=test,
        level=options.level,
        study_ci=(STUDY_CI_NAMES[study_ci] if design == "proportion"
                  else "Wald-type yi ± z·√vi, back-transformed"),
        pooled_ci=("Wald-type z (GLMM, observed information)" if method == "GLMM"
                   else meta.TEST_NAMES[test]),
        correction=correction, natural=effects.natural_scale(measure),
        model_scale=effects.MODEL_SCALE[measure], excluded=table.excluded, fit=fit,
        studies=studies, data_columns=DATA_COLUMNS[design],
        value_columns=VALUE_COLUMNS[design], by=options.by, subgroups=groups,
        subgroup_test=group_test, leave_one_out=loo, cumulative=cum, bias=bias, metareg=mods,
        threelevel=three, mh=mh, influence=infl, common=common,
        pi_method=_pi_method(method, test, fit, options), warnings=messages,
    )


#: Columns of study data shown in tables and the forest plot, per design.
DATA_COLUMNS = {
    "proportion": ("events", "total"),
    "binary": ("group 1", "group 2"),
    "continuous": ("mean_1", "sd_1", "n_1", "mean_2", "sd_2", "n_2"),
    "rate": ("events", "person_time"),
    "correlation": ("r", "n"),
    "generic": (),
}
#: The sheet columns behind the data columns, per design, as numbers in result tables.
VALUE_COLUMNS = {
    "proportion": ("events", "total"),
    "binary": ("events_1", "total_1", "events_2", "total_2"),
    "continuous": ("mean_1", "sd_1", "n_1", "mean_2", "sd_2", "n_2"),
    "rate": ("events", "person_time"),
    "correlation": ("r", "n"),
    "generic": (),
}
_NOT_SUMMED = frozenset({"mean_1", "sd_1", "mean_2", "sd_2", "r"})


def check_options(design: str, options: PoolOptions = PoolOptions(),
                  problems: list[tuple[str, OptionError]] | None = None) -> PoolOptions:
    """``options`` checked for a ``design`` sheet: ``measure`` (the design's default when
    None), ``method``, ``test`` and ``study_ci`` spelled as poolrun spells them ("reml" →
    "REML"), ``level`` within (0, 100), GLMM only where it can run.

    Raises
    ------
    OptionError
        For the first unsuitable choice. When a ``problems`` list is given, each one is
        appended to it as ``(field name, error)`` instead and the field keeps its value, so
        that a caller can report them all (``review.toml``). Messages name options as
        ``review pool`` spells them (``--level``).
    """
    checked: dict[str, Any] = {}

    def check(name: str, value: Callable[[], Any]) -> None:
        try:
            result = value()
        except OptionError as exc:
            if problems is None:
                raise
            problems.append((name, exc))
        else:
            if result is not None:  # a pure check (level, GLMM) returns None
                checked[name] = result

    check("method", lambda: check_choice(options.method, METHODS, "method"))
    check("test", lambda: check_choice(options.test, TESTS, "test"))
    check("study_ci", lambda: check_choice(options.study_ci, STUDY_CI, "study CI method"))
    check("bias_model", lambda: check_choice(options.bias_model, tuple(REGRESSIONS),
                                             "--bias-model"))
    check("bias_predictor", lambda: check_choice(options.bias_predictor,
                                                 tuple(PREDICTORS), "--bias-predictor"))
    if not (isinstance(options.bias_min_k, int) and options.bias_min_k >= 1):
        check("bias_min_k", lambda: _refuse(f"--bias-min-k {options.bias_min_k} is not a "
                                            "whole number of 1 or more",
                                            f"the default is {SMALL_STUDY_MIN_K}"))
    if design not in MEASURES:
        check("design", lambda: _refuse(f"unknown design {design!r}",
                                        f"choose one of: {', '.join(MEASURES)}"))
        return replace(options, **checked)
    check("measure", lambda: _check_measure(options.measure or MEASURES[design][0], design))
    if not 0 < options.level < 100:
        check("level", lambda: _refuse(f"--level {options.level:g} is not between 0 and 100",
                                       "give the confidence level in percent, e.g. 95"))
    if options.predict and not options.mods:
        check("predict", lambda: _refuse("--predict needs a meta-regression model",
                                         'add --mods, e.g. --mods "year + region"'))
    if options.mods:
        from .formula import parse_formula

        check("mods", lambda: parse_formula(options.mods or "") and None)
    if options.cluster and options.method.upper() not in ("REML", "ML"):
        check("method", lambda: _refuse("--cluster fits the three-level model by REML or ML",
                                        "drop --method or give --method ML"))
    if options.cluster and options.test != "z":
        check("test", lambda: _refuse("--cluster supports --test z only (as rma.mv's default)",
                                      "drop --test"))
    if options.columns:
        check("columns", lambda: check_columns(design, options.columns))
    out = replace(options, **checked)
    if out.method == "GLMM" and "measure" in checked:
        check("method", lambda: _check_glmm(design, checked["measure"], out.test, out))
    check("pi_df", lambda: check_choice(options.pi_df, PI_DF, "--pi-df"))
    if options.common and out.method in (*COMMON_METHODS, "GLMM"):
        check("common", lambda: _refuse(
            f"--common adds the common-effect row to a random-effects analysis; --method "
            f"{out.method} " + ("is one already" if out.method != "GLMM"
                                else "has no inverse-variance weights"),
            "drop --common, or use a random-effects method such as REML"))
    if options.pi_df.lower() != "model" and out.method in (*COMMON_METHODS, "GLMM"):
        check("pi_df", lambda: _refuse(
            f"--pi-df applies to inverse-variance random-effects models, not --method "
            f"{out.method}", "drop --pi-df"))
    if out.method in ("MH", "Peto") and "measure" in checked:
        check("method", lambda: _check_mh(design, checked["measure"], out.test, out))
    return out


def _check_mh(design: str, measure: str, test: str, options: PoolOptions) -> None:
    if design != "binary":
        raise OptionError(f"--method {options.method} pools 2×2 tables: it needs a binary "
                          "sheet (events_1, total_1, events_2, total_2)",
                          hint="use an inverse-variance method such as REML or FE")
    if options.method == "Peto" and measure != "OR":
        raise OptionError("--method Peto pools odds ratios only",
                          hint="drop --measure, or use --method MH for RR and RD")
    if test != "z":
        raise OptionError(f"--method {options.method} uses the z test only", hint="drop --test")
    extras = [e for e in _extras(options) if e in _NEED_WEIGHTS]
    if extras:
        raise OptionError(f"{', '.join(extras)} not available with --method {options.method}: "
                          f"{'it needs' if len(extras) == 1 else 'they need'} inverse-variance "
                          "weights", hint="run them with an inverse-variance method such as FE "
                                          "or REML")


def _check_measure(measure: str, design: str) -> str:
    fitting = MEASURES[design]
    try:
        return check_choice(measure, fitting, "measure")
    except OptionError:
        known = {m for ms in MEASURES.values() for m in ms}
        what = (f"measure {measure!r} does not fit design {design!r}"
                if measure.upper() in known else f"unknown measure {measure!r}")
        raise OptionError(what, hint=f"choose one of {', '.join(fitting)}") from None


def _refuse(message: str, hint: str) -> None:
    raise OptionError(message, hint=hint)


#: Analyses that need the per-study inverse-variance weights (MH and Peto refuse them; their
#: subgroups, leave-one-out and cumulative refits are MH/Peto fits).
_NEED_WEIGHTS = ("--bias", "--mods", "--influence")


def _extras(options: PoolOptions) -> list[str]:
    """The optional analyses asked for that need inverse-variance weights."""
    return [name for name, on in (("--by", options.by), ("--leave-one-out",
            options.leave_one_out), ("--cumulative", options.cumulative),
            ("--bias", options.bias), ("--mods", options.mods),
            ("--influence", options.influence)) if on]


def _check_glmm(design: str, measure: str, test: str, options: PoolOptions) -> None:
    if design != "proportion" or measure != "PLO":
        raise OptionError("--method GLMM pools single proportions on the logit scale only",
                          hint="use a proportion sheet with --measure PLO")
    if test != "z":
        raise OptionError("--method GLMM supports --test z only", hint="drop --test")
    extras = _extras(options)
    if extras:
        raise OptionError(f"{', '.join(extras)} not available with --method GLMM",
                          hint="run them with an inverse-variance method such as REML")


def _effect_sizes(design: str, measure: str, v: dict[str, np.ndarray]) -> Any:
    from .effects import escalc

    if design == "proportion":
        return escalc(measure, xi=v["events"], ni=v["total"])
    if design == "binary":
        return escalc(measure, ai=v["events_1"], n1i=v["total_1"], ci=v["events_2"],
                      n2i=v["total_2"])
    if design == "continuous":
        return escalc(measure, m1i=v["mean_1"], sd1i=v["sd_1"], n1i=v["n_1"],
                      m2i=v["mean_2"], sd2i=v["sd_2"], n2i=v["n_2"])
    if design == "rate":
        return escalc(measure, xi=v["events"], ti=v["person_time"])
    if design == "correlation":
        return escalc(measure, ri=v["r"], ni=v["n"])
    vi = v.get("vi", np.full(len(v["yi"]), np.nan))
    if "sei" in v:
        vi = np.where(np.isnan(vi), v["sei"] ** 2, vi)
    es = escalc("GEN", yi=v["yi"], vi=vi)
    return replace(es, measure=measure)


def _fit(result: Any, pi_df: str = "model") -> Fit:
    """A :class:`Fit` from a :class:`metareview.meta.PoolResult`, with Q-profile CIs where
    metafor gives them (not for FE fits, k = 1 or zero variances) and the prediction interval
    with the reference distribution ``pi_df`` (:func:`metareview.predint.prediction_interval`)."""
    from .errors import EstimationError
    from .predint import prediction_interval

    pred = result.predict()
    pi = prediction_interval(result, pi_df)
    tau2_ci: tuple[float | None, float | None] = (None, None)
    i2_ci: tuple[float | None, float | None] = (None, None)
    signs = ("", "")
    if result.method != "FE" and result.k > 1:
        try:
            hci = result.heterogeneity_ci()
            tau2_ci = (plain(hci.tau2.ci_lb), plain(hci.tau2.ci_ub))
            i2_ci = (plain(hci.i2.ci_lb), plain(hci.i2.ci_ub))
            signs = (hci.lb_sign, hci.ub_sign)
        except EstimationError:
            pass
    return Fit(
        k=result.k, estimate=result.estimate, se=result.se, ci_lb=result.ci_lb,
        ci_ub=result.ci_ub, pi_lb=plain(pi.pi_lb), pi_ub=plain(pi.pi_ub),
        tau2=result.tau2, tau2_ci_lb=tau2_ci[0], tau2_ci_ub=tau2_ci[1], i2=plain(result.i2),
        i2_ci_lb=i2_ci[0], i2_ci_ub=i2_ci[1], h2=plain(result.h2), q=plain(result.q),
        q_df=result.q_df, q_p=plain(result.q_p),
        summary=Summary(pred.pred, pred.ci_lb, pred.ci_ub, plain(pi.lb), plain(pi.ub)),
        tau2_ci_lb_sign=signs[0], tau2_ci_ub_sign=signs[1], pi_df=pi.df, zval=plain(result.zval),
        pval=plain(result.pval), ddf=None if math.isnan(result.ddf) else int(result.ddf),
    )


def _pi_method(method: str, test: str, fit: Fit, options: PoolOptions) -> str:
    """How the prediction interval of the main model was made, in words."""
    if fit.pi_lb is None:
        return "none (common-effect model)" if method in COMMON_METHODS else "none"
    if method == "GLMM":
        return "normal quantile z (GLMM)"
    from .predint import describe_pi

    return describe_pi(options.pi_df, fit.pi_df, test)


def _mh_options(v: dict[str, np.ndarray], method: str, measure: str,
                level: float) -> dict[str, Any] | None:
    """The counts and options of a binary sheet's MH/Peto fits (and refits), as keyword
    arguments of :func:`metareview.mh.pool_counts`; None for the other methods."""
    if method not in ("MH", "Peto"):
        return None
    return {"method": method, "ai": v["events_1"], "n1i": v["total_1"], "ci": v["events_2"],
            "n2i": v["total_2"], "measure": measure, "level": level}


def _mh_fit(counts: dict[str, Any], es: Any, labels: list[str]) -> tuple[MHResult, Any]:
    """The MH/Peto fit of a binary sheet, and the effect sizes with its study yi/vi
    (metafor's: double-zero tables without one)."""
    from .mh import pool_counts

    mh = pool_counts(**counts, labels=labels)
    return mh, replace(es, yi=mh.yi, vi=mh.vi, correction=mh.correction)


def _common_fit(mh: MHResult) -> Fit:
    p = mh.predict()
    return Fit(
        k=mh.k, estimate=mh.estimate, se=mh.se, ci_lb=mh.ci_lb, ci_ub=mh.ci_ub, pi_lb=None,
        pi_ub=None, tau2=0.0, tau2_ci_lb=None, tau2_ci_ub=None, i2=plain(mh.i2),
        i2_ci_lb=None, i2_ci_ub=None, h2=plain(mh.h2), q=plain(mh.q), q_df=mh.q_df,
        q_p=plain(mh.q_p), summary=Summary(p.pred, p.ci_lb, p.ci_ub, None, None))


def _glmm_fit(events: np.ndarray, totals: np.ndarray, labels: list[str],
              level: float) -> tuple[Fit, dict[str, float | None]]:
    from scipy import special

    from .glmm import pool_glmm

    g = pool_glmm(events, totals, level=level, labels=labels)
    crit = float(special.ndtri(0.5 + level / 200))
    half = crit * math.sqrt(g.se ** 2 + g.tau2)
    fit = Fit(
        k=g.k, estimate=g.estimate, se=g.se, ci_lb=g.ci_lb, ci_ub=g.ci_ub,
        pi_lb=g.estimate - half, pi_ub=g.estimate + half, tau2=g.tau2, tau2_ci_lb=None,
        tau2_ci_ub=None, i2=g.i2, i2_ci_lb=None, i2_ci_ub=None, h2=g.h2, q=g.qe_wald,
        q_df=g.qe_df, q_p=g.qe_wald_p,
        summary=Summary(g.pred, g.pred_ci_lb, g.pred_ci_ub, g.pi_lb, g.pi_ub),
        zval=g.zval, pval=g.pval,
    )
    return fit, dict.fromkeys(labels)  # no inverse-variance weights in a GLMM


def _studies(table: StudyTable, es: Any, used: dict[str, float | None], study_ci: str,
             level: float, measure: str, by: str | None) -> tuple[StudyResult, ...]:
    from scipy import special

    from .effects import back_transform, proportion_ci

    v = table.values
    k = table.k
    if table.design == "proportion":
        x, n = np.asarray(v["events"]), np.asarray(v["total"])
        est = x / n
        lb, ub = proportion_ci(x, n, study_ci, level)
    else:
        crit = float(special.ndtri(0.5 + level / 200))
        half = crit * np.sqrt(es.vi)
        est, lb, ub = (back_transform(measure, a, es.ni) for a in
                       (es.yi, es.yi - half, es.yi + half))
    columns = VALUE_COLUMNS.get(table.design, ())
    values = [tuple(float(v[c][i]) for c in columns) for i in range(k)]
    groups = table.column(by) if by else (None,) * k
    out = []
    for i, label in enumerate(table.studies):
        ok = label in used and not math.isnan(es.yi[i]) and not math.isnan(es.vi[i])
        weight = used.get(label)
        out.append(StudyResult(
            label, float(es.yi[i]) if ok else None, float(es.vi[i]) if ok else None,
            None if weight is None else float(weight),
            plain(float(est[i])), plain(float(lb[i])), plain(float(ub[i])),
            _cells(table.design, dict(zip(columns, values[i], strict=True))),
            None if groups[i] is None else str(groups[i]), values[i]))
    return tuple(out)


def _cells(design: str, v: Mapping[str, float | None]) -> tuple[str, ...]:
    """A row's data cells as printed, from its values by column name."""
    def n(name: str) -> str:
        value = v.get(name)
        return "" if value is None else f"{value:g}"

    if design == "binary":
        return (f"{n('events_1')}/{n('total_1')}", f"{n('events_2')}/{n('total_2')}")
    return tuple(n(name) for name in VALUE_COLUMNS.get(design, ()))


def _sorted(studies: tuple[StudyResult, ...], table: StudyTable,
            by: str) -> tuple[StudyResult, ...]:
    """Studies in the order of ``--sort``: ``estimate`` (smallest first), ``weight``
    (largest first) or a sheet column (numbers ascending, else text); missing last."""
    if by.lower() == "estimate":
        keys: Sequence[Any] = [s.estimate for s in studies]
    elif by.lower() == "weight":
        keys = [None if s.weight is None else -s.weight for s in studies]
    else:
        keys = [None if v is None or v == "" else v for v in table.column(by)]
    numeric = all(isinstance(k, (int, float)) for k in keys if k is not None)

    def key(i: int) -> tuple[bool, Any]:
        k = keys[i]
        if k is None or (isinstance(k, float) and math.isnan(k)):
            return (True, 0)
        return (False, k if numeric else str(k).casefold())

    return tuple(studies[i] for i in sorted(range(len(studies)), key=key))


def _sensitivity(kind: str, order: str | None, t: Any) -> Sensitivity:
    return Sensitivity(kind, tuple(t.labels), order, tuple(t.pred), tuple(t.pred_ci_lb),
                       tuple(t.pred_ci_ub), tuple(t.tau2), tuple(plain(x) for x in t.i2),
                       tuple(t.notes))


def _leave_one_out(es: Any, labels: list[str], kwargs: dict[str, Any],
                   counts: dict[str, Any] | None) -> Sensitivity:
    """Inverse-variance refits of the yi/vi, or MH/Peto refits of the ``counts``."""
    from .sensitivity import leave_one_out, leave_one_out_mh

    return _sensitivity("leave_one_out", None,
                        leave_one_out_mh(**counts, labels=labels) if counts is not None
                        else leave_one_out(es.yi, es.vi, labels=labels, **kwargs))


def _cumulative(table: StudyTable, es: Any, labels: list[str], column: str | None,
                kwargs: dict[str, Any], counts: dict[str, Any] | None) -> Sensitivity:
    from .sensitivity import cumulative, cumulative_mh

    assert column is not None
    raw = table.column(column)
    try:
        order = [float(x) for x in raw]
    except (TypeError, ValueError):  # text: sort alphabetically
        ranks = {value: i for i, value in enumerate(sorted({str(x) for x in raw}))}
        order = [float(ranks[str(x)]) for x in raw]
    return _sensitivity("cumulative", column,
                        cumulative_mh(**counts, order=order, labels=labels)
                        if counts is not None
                        else cumulative(es.yi, es.vi, order, labels=labels, **kwargs))


def _bias(es: Any, labels: list[str], kwargs: dict[str, Any], options: PoolOptions) -> Bias:
    from .bias import ranktest, regtest, trimfill
    from .errors import EstimationError

    notes: list[str] = []
    ok = ~(np.isnan(es.yi) | np.isnan(es.vi))
    yi, vi = es.yi[ok], es.vi[ok]
    ni = None if es.ni is None else es.ni[ok]
    chosen = Bias(None, None, None, None, None, None, None, egger_model=options.bias_model,
                  egger_predictor=options.bias_predictor, min_k=options.bias_min_k)
    if len(yi) < SMALL_STUDY_MIN_K:
        notes.append(
            f"Only {len(yi)} studies: tests for funnel plot asymmetry should be used only when "
            f"there are at least {SMALL_STUDY_MIN_K} studies, as with fewer they are too weak "
            "to tell chance from real asymmetry (Sterne et al. 2011, BMJ 343:d4002; Cochrane "
            "Handbook 13.3.5.4)")
    if len(yi) < options.bias_min_k:  # refused, as R meta's metabias with k.min
        notes.append(
            f"Egger's test, Begg's test and trim-and-fill not run: {len(yi)} studies, fewer "
            f"than {options.bias_min_k}; lower --bias-min-k to run them anyway")
        return replace(chosen, notes=tuple(notes))
    egger = begg = tf = None
    try:
        egger = regtest(yi, vi, method=kwargs["method"], test=kwargs["test"],
                        level=kwargs["level"], model=options.bias_model,
                        predictor=options.bias_predictor, ni=ni)
    except EstimationError as exc:
        notes.append(f"Egger's test not run: {exc.message}")
    try:
        begg = ranktest(yi, vi)
    except EstimationError as exc:
        notes.append(f"Begg's test not run: {exc.message}")
    try:
        tf = trimfill(yi, vi, labels=[lab for lab, keep in zip(labels, ok, strict=True) if keep],
                      **{**kwargs, "ni": ni})
    except EstimationError as exc:
        notes.append(f"trim-and-fill not run: {exc.message}")
    summary = None
    if tf is not None:
        p = tf.fit.predict()
        summary = Summary(p.pred, p.ci_lb, p.ci_ub, plain(p.pi_lb), plain(p.pi_ub))
    return replace(
        chosen,
        egger_z=None if egger is None else egger.zval,
        egger_p=None if egger is None else egger.pval,
        egger_df=None if egger is None else egger.ddf,
        begg_tau=None if begg is None else begg.tau, begg_p=None if begg is None else begg.pval,
        trimfill_k0=None if tf is None else tf.k0, trimfill_side=None if tf is None else tf.side,
        trimfill=summary, filled_yi=() if tf is None else tuple(tf.filled_yi),
        filled_vi=() if tf is None else tuple(tf.filled_vi), notes=tuple(notes))


def _moderators(table: StudyTable, es: Any, options: PoolOptions,
                kwargs: dict[str, Any]) -> MetaRegression:
    from .moderators import fit_moderators

    columns = _moderator_data(table, options.mods)
    assert options.mods is not None and columns is not None
    return fit_moderators(es.yi, es.vi, columns, options.mods, options.predict,
                          method=kwargs["method"], test=kwargs["test"], level=kwargs["level"],
                          measure=kwargs["measure"], ni=es.ni)


def _moderator_data(table: StudyTable, mods: str | None) -> dict[str, Any] | None:
    """The sheet columns the ``--mods`` formula names, by name (None without a formula)."""
    from .moderators import moderator_columns

    return {name: table.column(name) for name in moderator_columns(mods)} if mods else None


def _threelevel(table: StudyTable, es: Any, options: PoolOptions,
                measure: str) -> ThreeLevelResult:
    """Estimates nested in ``options.cluster`` (metafor's ``rma.mv(random = ~ 1 |
    cluster/id)``), with the ``--mods`` formula as moderators."""
    from .multilevel import threelevel

    assert options.cluster is not None
    return threelevel(es.yi, es.vi, table.column(options.cluster), mods=options.mods,
                      data=_moderator_data(table, options.mods), method=options.method,
                      level=options.level, cluster_name=options.cluster, inner_name="estimate",
                      measure=measure, ni=es.ni)


def _influence(table: StudyTable, es: Any, labels: list[str], options: PoolOptions,
               kwargs: dict[str, Any]) -> InfluenceResult:
    """Diagnostics of the model reported: with ``--mods``, the meta-regression."""
    from .influence import influence

    return influence(es.yi, es.vi, mods=options.mods, data=_moderator_data(table, options.mods),
                     method=kwargs["method"], test=kwargs["test"], level=kwargs["level"],
                     labels=labels)


def _subgroups(table: StudyTable, es: Any, by: str, kwargs: dict[str, Any],
               pi_df: str = "model", common: bool = False,
               ) -> tuple[tuple[Subgroup, ...], SubgroupTest | None]:
    from .subgroups import subgroup_analysis

    groups = _groups(table, by)
    result = subgroup_analysis(es.yi, es.vi, groups, labels=list(table.studies), **kwargs)
    subs = tuple(Subgroup(name, _fit(fit, pi_df),
                          _common_effect(es, list(table.studies), kwargs,
                                         [i for i, g in enumerate(groups) if g == name])
                          if common else None)
                 for name, fit in zip(result.groups, result.fits, strict=True))
    test = SubgroupTest(q=result.qm, df=result.qm_df[0], p=result.qm_p,
                        q_separate=result.q_between, p_separate=result.q_between_p,
                        df2=result.qm_df[1])
    return subs, test


def _mh_subgroups(table: StudyTable, by: str,
                  counts: dict[str, Any]) -> tuple[tuple[Subgroup, ...], SubgroupTest]:
    """An MH/Peto fit per subgroup, and the Q between their estimates."""
    from .subgroups import subgroup_mh

    result = subgroup_mh(**counts, groups=_groups(table, by), labels=list(table.studies))
    test = SubgroupTest(q=result.q_between, df=result.q_between_df, p=result.q_between_p,
                        q_separate=None, p_separate=None,
                        name=f"common-effect model, Q between the subgroup {result.method} "
                             "estimates")
    return tuple(Subgroup(g, _common_fit(fit))
                 for g, fit in zip(result.groups, result.fits, strict=True)), test


def _groups(table: StudyTable, by: str) -> list[str]:
    """The ``--by`` column as subgroup names; refused when every study is a group of its
    own, with a warning when numbers make many groups."""
    groups = [str(g) for g in table.column(by)]
    if len(set(groups)) == len(groups) > 1:  # one study per subgroup: nothing to compare
        raise OptionError(f"--by {by}: every study is a subgroup of its own", table.source,
                          "give a column that puts several studies in a group")
    if len(set(groups)) > 2 and all(number(g) is not None for g in groups):
        warnings.warn(f"--by {by} holds numbers: each of its {len(set(groups))} values is a "
                      f"subgroup of its own; for a continuous moderator use --mods {by}",
                      ReviewWarning, stacklevel=3)
    return groups


def _common_effect(es: Any, labels: list[str], kwargs: dict[str, Any],
                   rows: list[int] | None = None) -> Fit:
    """The inverse-variance common-effect (FE, z) fit of the studies, or of ``rows`` of them
    (a subgroup)."""
    from .meta import pool

    yi, vi, ni = es.yi, es.vi, kwargs["ni"]
    if rows is not None:
        yi, vi = np.asarray(yi)[rows], np.asarray(vi)[rows]
        ni = None if ni is None else np.asarray(ni)[rows]
        labels = [labels[i] for i in rows]
    return _fit(pool(yi, vi, labels=labels, correction=es.correction,
                     **{**kwargs, "ni": ni, "method": "FE", "test": "z"}))


def _warn_text(caught: Sequence[warnings.WarningMessage]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(w.message) for w in caught))
