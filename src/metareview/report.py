"""The review report: one document, written as self-contained HTML, Markdown and DOCX.

The report is built once as a :class:`Document` — numbered sections of headings,
paragraphs, numbered figures and tables with captions, and a references list — and each
format only renders it (:func:`to_html`, :func:`to_markdown`, and
:func:`metareview.report_docx.to_docx`), so the three hold the same words and numbers.

Sections: the question; the methods, written from the settings actually used
(sources by kind and search dates, deduplication rules and threshold, screening, effect
measure with its sampling variance and continuity correction, model and τ² estimator, CI
methods, heterogeneity, sensitivity and small-study tests, software), with a table of the
analysis settings and a citation for every method named; the PRISMA 2020 flow diagram;
the characteristics of the included studies (the extraction sheet's columns); the pooled
result (with the common-effect row and the Mantel–Haenszel tests when run), the study table
and the subgroups; forest and funnel plots; and, each only when run, the meta-regression
(with its bubble plot), the three-level model, leave-one-out, cumulative pooling, influence
diagnostics (with the Baujat plot) and small-study tests; references. Every text that
comes from the user (title, authors, question, study and subgroup names) is escaped for the
format it is written in.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
import platform
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import ReviewConfig
from .errors import OptionError
from .jsonsafe import plain
from .meta import METHOD_NAMES, num
from .multilevel import ProfileCI
from .plots import numeric_moderators
from .poolrun import (
    COMMON_METHODS,
    INFLUENCE_COLUMNS,
    METHOD_TEXT,
    PoolReport,
    Sensitivity,
    bias_sentences,
    egger_variant,
    mh_sentences,
    p_text,
)
from .prisma import PrismaCounts
from .sheets.extraction import DESIGNS, StudyTable

#: Sampling variance of each effect measure, as escalc computes it (metafor defaults).
VARIANCE = {
    "PR": "the binomial variance p(1 − p)/n",
    "PLN": "the variance 1/x − 1/n of the log proportion",
    "PLO": "the variance 1/x + 1/(n − x) of the logit (log odds) of the proportion",
    "PAS": "the variance 1/(4n) of the arcsine square-root proportion",
    "PFT": "the variance 1/(4n + 2) of the Freeman–Tukey double arcsine proportion",
    "OR": "the Woolf variance 1/a + 1/b + 1/c + 1/d of the log odds ratio",
    "RR": "the variance 1/a − 1/n₁ + 1/c − 1/n₂ of the log risk ratio",
    "RD": "the variance p₁(1 − p₁)/n₁ + p₂(1 − p₂)/n₂ of the risk difference",
    "MD": "the variance sd₁²/n₁ + sd₂²/n₂ of the mean difference",
    "SMD": "the large-sample variance 1/n₁ + 1/n₂ + g²/(2(n₁ + n₂)) of Hedges' g",
    "IR": "the Poisson variance x/t² of the incidence rate",
    "IRLN": "the variance 1/x of the log incidence rate",
    "IRS": "the variance 1/(4t) of the square-root incidence rate",
    "IRFT": "the variance 1/(4t) of the Freeman–Tukey incidence rate",
    "COR": "the large-sample variance (1 − r²)²/(n − 1) of the correlation",
    "UCOR": "the large-sample variance (1 − r²)²/(n − 1) of the bias-corrected correlation",
    "ZCOR": "the variance 1/(n − 3) of Fisher's z",
}
GLMM_NAME = "a binomial-normal generalised linear mixed model fitted by maximum likelihood"
#: The figures by name, in report order.
IMAGES = {
    "prisma": "PRISMA 2020 flow diagram",
    "forest": "Forest plot",
    "funnel": "Funnel plot",
    "bubble": "Bubble plot",
    "baujat": "Baujat plot",
}

#: The works the methods cite, in Vancouver style, by key.
REFERENCES = {
    "prisma": "Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated "
              "guideline for reporting systematic reviews. BMJ. 2021;372:n71. "
              "doi:10.1136/bmj.n71",
    "rapidfuzz": "Bachmann M. RapidFuzz: rapid fuzzy string matching in Python and C++ "
                 "[software]. 2020. Available from: https://github.com/rapidfuzz/RapidFuzz",
    "DL": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials. "
          "1986;7(3):177–188. doi:10.1016/0197-2456(86)90046-2",
    "REML": "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the "
            "random-effects model. J Educ Behav Stat. 2005;30(3):261–293. "
            "doi:10.3102/10769986030003261",
    "PM": "Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur Stand. "
          "1982;87(5):377–385. doi:10.6028/jres.087.022",
    "HE": "Hedges LV, Olkin I. Statistical methods for meta-analysis. Orlando (FL): Academic "
          "Press; 1985",
    "SJ": "Sidik K, Jonkman JN. A simple confidence interval for meta-analysis. Stat Med. "
          "2002;21(21):3153–3159. doi:10.1002/sim.1262",
    "EB": "Morris CN. Parametric empirical Bayes inference: theory and applications. J Am Stat "
          "Assoc. 1983;78(381):47–55. doi:10.1080/01621459.1983.10477920",
    "HS": "Hunter JE, Schmidt FL. Methods of meta-analysis: correcting error and bias in "
          "research findings. 2nd ed. Thousand Oaks (CA): Sage; 2004",
    "GLMM": "Stijnen T, Hamza TH, Özdemir P. Random effects meta-analysis of event outcome in "
            "the framework of the generalized linear mixed model with applications in sparse "
            "data. Stat Med. 2010;29(29):3046–3067. doi:10.1002/sim.4040",
    "knha": "Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical "
            "trials with binary outcome. Stat Med. 2001;20(24):3875–3889. doi:10.1002/sim.1009",
    "cochran": "Cochran WG. The combination of estimates from different experiments. "
               "Biometrics. 1954;10(1):101–129. doi:10.2307/3001666",
    "i2": "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med. "
          "2002;21(11):1539–1558. doi:10.1002/sim.1186",
    "qprofile": "Viechtbauer W. Confidence intervals for the amount of heterogeneity in "
                "meta-analysis. Stat Med. 2007;26(1):37–52. doi:10.1002/sim.2514",
    "prediction": "Riley RD, Higgins JPT, Deeks JJ. Interpretation of random effects "
                  "meta-analyses. BMJ. 2011;342:d549. doi:10.1136/bmj.d549",
    "cp": "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the "
          "case of the binomial. Biometrika. 1934;26(4):404–413. doi:10.1093/biomet/26.4.404",
    "wilson": "Wilson EB. Probable inference, the law of succession, and statistical "
              "inference. J Am Stat Assoc. 1927;22(158):209–212. "
              "doi:10.1080/01621459.1927.10502953",
    "PFT": "Freeman MF, Tukey JW. Transformations related to the angular and the square root. "
           "Ann Math Stat. 1950;21(4):607–611. doi:10.1214/aoms/1177729756",
    "PFT-back": "Miller JJ. The inverse of the Freeman–Tukey double arcsine transformation. "
                "Am Stat. 1978;32(4):138. doi:10.1080/00031305.1978.10479283",
    "SMD": "Hedges LV. Distribution theory for Glass's estimator of effect size and related "
           "estimators. J Educ Stat. 1981;6(2):107–128. doi:10.3102/10769986006002107",
    "egger": "Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by "
             "a simple, graphical test. BMJ. 1997;315(7109):629–634. "
             "doi:10.1136/bmj.315.7109.629",
    "begg": "Begg CB, Mazumdar M. Operating characteristics of a rank correlation test for "
            "publication bias. Biometrics. 1994;50(4):1088–1101. doi:10.2307/2533446",
    "trimfill": "Duval S, Tweedie R. Trim and fill: a simple funnel-plot-based method of "
                "testing and adjusting for publication bias in meta-analysis. Biometrics. "
                "2000;56(2):455–463. doi:10.1111/j.0006-341X.2000.00455.x",
    "MH": "Mantel N, Haenszel W. Statistical aspects of the analysis of data from retrospective "
          "studies of disease. J Natl Cancer Inst. 1959;22(4):719–748. "
          "doi:10.1093/jnci/22.4.719",
    "Peto": "Yusuf S, Peto R, Lewis J, Collins R, Sleight P. Beta blockade during and after "
            "myocardial infarction: an overview of the randomized trials. Prog Cardiovasc Dis. "
            "1985;27(5):335–371. doi:10.1016/S0033-0620(85)80003-7",
    "tarone": "Tarone RE. On heterogeneity tests based on efficient scores. Biometrika. "
              "1985;72(1):91–95. doi:10.1093/biomet/72.1.91",
    "cumulative": "Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F, Chalmers TC. "
                  "Cumulative meta-analysis of therapeutic trials for myocardial infarction. "
                  "N Engl J Med. 1992;327(4):248–254. doi:10.1056/NEJM199207233270406",
    "metareg": "Thompson SG, Higgins JPT. How should meta-regression analyses be undertaken and "
               "interpreted? Stat Med. 2002;21(11):1559–1573. doi:10.1002/sim.1187",
    "threelevel": "Konstantopoulos S. Fixed effects and variance components estimation in "
                  "three-level meta-analysis. Res Synth Methods. 2011;2(1):61–76. "
                  "doi:10.1002/jrsm.35",
    "threelevel-i2": "Cheung MWL. Modeling dependent effect sizes with three-level "
                     "meta-analyses: a structural equation modeling approach. Psychol Methods. "
                     "2014;19(2):211–229. doi:10.1037/a0032968",
    "influence": "Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for "
                 "meta-analysis. Res Synth Methods. 2010;1(2):112–125. doi:10.1002/jrsm.11",
    "baujat": "Baujat B, Mahé C, Pignon JP, Hill C. A graphical method for exploring "
              "heterogeneity in meta-analyses: application to a meta-analysis of 65 trials. "
              "Stat Med. 2002;21(18):2641–2652. doi:10.1002/sim.1221",
    "metafor": "Viechtbauer W. Conducting meta-analyses in R with the metafor package. "
               "J Stat Softw. 2010;36(3):1–48. doi:10.18637/jss.v036.i03",
}
# The estimators whose reference is that of another key.
_ESTIMATOR_REFERENCE = {"ML": "REML"}


@dataclass(frozen=True)
class ReportContent:
    """Everything the report shows. ``characteristics`` is a header and rows;
    ``dedupe`` holds the deduplication facts of the run (``identified`` per source,
    ``duplicates``, ``overrides``); ``images`` maps the names of :data:`IMAGES` to SVG
    bytes (HTML) and ``pngs`` to PNG bytes (DOCX); a figure in neither is left out."""

    config: ReviewConfig
    prisma: PrismaCounts
    pool: PoolReport
    characteristics: tuple[list[str], list[list[Any]]]
    dedupe: Mapping[str, Any] = field(default_factory=dict)
    images: Mapping[str, bytes] = field(default_factory=dict)
    pngs: Mapping[str, bytes] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """Plain values that change whenever the report would (for ``review run``)."""
        c = self.config

        def digest(images: Mapping[str, bytes]) -> dict[str, str]:
            return {k: hashlib.sha256(v).hexdigest() for k, v in sorted(images.items())}

        return {
            "config": [c.title, list(c.authors), c.question,
                       [(s.label, s.database, s.kind, s.searched) for s in c.sources],
                       c.dedupe_threshold, c.design, c.fields, repr(c.analysis)],
            "prisma": self.prisma.to_dict(), "pool": self.pool.to_dict(),
            "characteristics": self.characteristics, "dedupe": dict(self.dedupe),
            "images": digest(self.images), "pngs": digest(self.pngs),
        }

    def to_dict(self) -> dict[str, Any]:
        return self.fingerprint()


def characteristics(studies: StudyTable, fields: Sequence[str] = ()) -> tuple[
        list[str], list[list[Any]]]:
    """The characteristics table of the included studies: study, year, the design's data
    columns, subgroup, the reviewer's fields and notes; columns empty for every study are
    left out."""
    names = ["study", "year", *(n for n, _, _ in DESIGNS[studies.design]), "subgroup",
             *fields, "notes"]
    head: list[str] = []
    columns: list[tuple[Any, ...]] = []
    for name in names:
        if name == "study":
            values: tuple[Any, ...] = studies.studies
        else:
            try:
                values = studies.column(name)
            except OptionError:  # a column the sheet does not have
                continue
        cleaned = tuple(_cell_value(v) for v in values)
        if any(v is not None for v in cleaned):
            head.append(name)
            columns.append(cleaned)
    rows = [list(row) for row in zip(*columns, strict=True)]
    return head, rows


def _cell_value(value: Any) -> Any:
    """A table cell: missing values and blank text are None, whole numbers ints."""
    value = plain(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and not value.strip():
        return None
    return value


# --- the document --------------------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    """Plain text; ``ident`` names it for links and tests (``id`` in HTML)."""

    text: str
    ident: str = ""


@dataclass(frozen=True)
class Subheading:
    text: str


@dataclass(frozen=True)
class Figure:
    """Figure ``number``: the image ``name`` (a key of :data:`IMAGES`) and its caption."""

    name: str
    number: int
    caption: str


@dataclass(frozen=True)
class Table:
    """Table ``number`` with its caption; cells are formatted text, ``numeric`` marks the
    right-aligned columns and ``strong`` the indices of summary rows (pooled estimates)."""

    ident: str
    number: int
    caption: str
    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]
    strong: frozenset[int] = frozenset()


@dataclass(frozen=True)
class References:
    items: tuple[str, ...]


Block = Paragraph | Subheading | Figure | Table | References


@dataclass(frozen=True)
class Section:
    ident: str
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Document:
    """The report, format-free: title, authors, sections and a closing line."""

    title: str
    authors: tuple[str, ...]
    sections: tuple[Section, ...]
    footer: str

    def section(self, ident: str) -> Section:
        return next(s for s in self.sections if s.ident == ident)


class _Citations:
    """Numbers references in the order they are first cited."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, *keys: str) -> str:
        numbers = []
        for key in keys:
            if key not in self.keys:
                self.keys.append(key)
            numbers.append(self.keys.index(key) + 1)
        return "[" + ", ".join(map(str, numbers)) + "]"

    def items(self) -> tuple[str, ...]:
        return tuple(REFERENCES[key] for key in self.keys)


class _Numbers:
    """Figure and table numbers in order of appearance."""

    def __init__(self) -> None:
        self.figures = 0
        self.tables = 0

    def figure(self) -> int:
        self.figures += 1
        return self.figures

    def table(self) -> int:
        self.tables += 1
        return self.tables


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _searched(config: ReviewConfig, kinds: Sequence[str]) -> list[str]:
    return [f"{s.name} (searched {s.searched})" if s.searched
            else f"{s.name} (search date not recorded)"
            for s in config.sources if s.kind in kinds]


def _search_paragraph(content: ReportContent, cite: _Citations) -> str:
    config = content.config
    databases = _searched(config, ("database",))
    registers = _searched(config, ("register",))
    others = [f"{s.kind} ({s.name}{', searched ' + s.searched if s.searched else ''})"
              for s in config.sources if not s.screened]
    found = []
    if databases:
        found.append(f"the databases {_join(databases)}")
    if registers:
        found.append(f"the trial registers {_join(registers)}")
    text = f"We searched {_join(found) or 'no database or register'}."
    if others:
        text += f" Studies were also sought by other methods: {_join(others)}."
    overrides = int(content.dedupe.get("overrides", 0))
    text += (
        " Duplicate records were removed with metareview: "
        "two records were taken as one article when their normalised DOIs (case, resolver "
        "prefix and trailing punctuation ignored) or PubMed ids matched, or when their "
        "normalised titles (case, punctuation, diacritics and markup ignored) reached a "
        f"fuzzy similarity of at least {config.dedupe_threshold:g} (rapidfuzz ratio, 0–100 "
        f"{cite('rapidfuzz')}) with the same publication year, the same first-author surname "
        "and no conflicting identifier, volume or first page. The most complete record of "
        "each group was kept. "
        # only an override in the log shows that someone went through it
        + (f"A reviewer checked the duplicates log and corrected {overrides} match(es)."
           if overrides else "The duplicates log is available for checking.")
        + " Titles and abstracts were screened, then the full texts of the records included "
        "or marked maybe, with the reason for each full-text exclusion recorded; the flow of "
        f"records is reported following PRISMA 2020 {cite('prisma')}."
    )
    return text


def _analysis_paragraph(pool: PoolReport, cite: _Citations, figures: Collection[str]) -> str:
    if pool.design == "generic":
        variance = "the sampling variances given in the extraction sheet"
    else:
        variance = VARIANCE.get(pool.measure, "the sampling variance of the measure")
    if pool.measure == "SMD":
        variance += f" {cite('SMD')}"
    if pool.measure == "PFT":
        variance += f" {cite('PFT', 'PFT-back')}"
    if pool.method == "GLMM":
        model = f"The studies were pooled with {GLMM_NAME} (logit link) {cite('GLMM')}"
    elif pool.method == "FE":
        model = "The studies were pooled with a common-effect (inverse-variance) model"
    elif pool.method in ("MH", "Peto"):
        name = "Mantel–Haenszel" if pool.method == "MH" else "Peto"
        model = (f"The 2×2 tables were pooled with the {name} common-effect method "
                 f"{cite(pool.method)}")
        if pool.mh is not None and mh_sentences(pool.mh):
            model += (", with the Cochran–Mantel–Haenszel test of no association and Tarone's "
                      f"test of homogeneous odds ratios {cite('tarone')}")
    elif pool.method in METHOD_NAMES:
        ref = _ESTIMATOR_REFERENCE.get(pool.method, pool.method)
        model = ("The studies were pooled with a random-effects model; the between-study "
                 f"variance τ² was estimated by the {METHOD_NAMES[pool.method]} ({pool.method})"
                 f" method" + (f" {cite(ref)}" if ref in REFERENCES else ""))
    else:  # a method this report has no words for: name it as poolrun does
        model = f"The studies were pooled with method {pool.method}"
    level = f"{pool.level:g}%"
    pooled_ci = pool.pooled_ci + (f" {cite('knha')}" if pool.test in ("knha", "adhoc") else "")
    study_ci = pool.study_ci
    for key, word in (("cp", "Clopper"), ("wilson", "Wilson")):
        if word in study_ci:
            study_ci += f" {cite(key)}"
    text = (
        f"Effect sizes were computed as {pool.model_scale} (measure {pool.measure}) with "
        f"{variance}; continuity correction: {pool.correction}. {model}. The {level} "
        f"confidence interval of the pooled estimate used the {pooled_ci}; study "
        f"confidence intervals used the {study_ci} method. Results are shown as "
        f"{pool.natural}. Heterogeneity was tested with Cochran's Q {cite('cochran')} and "
        f"quantified by I² {cite('i2')} and τ²"
        + (f" with Q-profile confidence intervals {cite('qprofile')}"
           if pool.fit.tau2_ci_lb is not None else "")
        + (f", and a {level} prediction interval was computed {cite('prediction')}."
           if pool.fit.summary.pi_lb is not None else ".")
    )
    if pool.common is not None:
        text += (" The common-effect (inverse-variance) model is reported alongside the "
                 "random-effects model.")
    if pool.leave_one_out is not None:
        text += " Sensitivity was examined by leaving out one study at a time."
    if pool.cumulative is not None:
        text += (" A cumulative meta-analysis added the studies one at a time in order of "
                 f"{pool.cumulative.order} {cite('cumulative')}.")
    text += _extra_methods(pool, cite, figures)
    bias = pool.bias
    if bias is not None and bias.egger_z is None and bias.begg_tau is None and (
            bias.trimfill is None):
        text += (f" Small-study tests were not run ({'; '.join(bias.notes)}).")
    elif bias is not None:
        text += (f" Small-study effects were examined by Egger's regression test "
                 f"{cite('egger')}{egger_variant(bias)}, Begg's rank correlation test "
                 f"{cite('begg')} and trim-and-fill {cite('trimfill')}.")
    if pool.method == "GLMM":
        text += (" Leave-one-out and small-study tests were not run: they need "
                 "inverse-variance weights, which the GLMM does not use.")
    if pool.by:
        text += (f" Subgroups were defined by {pool.by} and compared with a test of "
                 "subgroup differences.")
    return text


def _extra_methods(pool: PoolReport, cite: _Citations, figures: Collection[str]) -> str:
    """The sentences on meta-regression, the three-level model and influence diagnostics."""
    text = ""
    if pool.metareg is not None:
        fit = pool.metareg.fit
        test = ("a Knapp–Hartung F test" if fit.ddf is not None
                else "an omnibus Wald-type test (QM)")
        text += (" Whether study characteristics explain heterogeneity was examined by "
                 f"meta-regression {cite('metareg')} on {_formula(pool.metareg.formula)} "
                 f"(a mixed-effects model, τ² by {fit.method}); the moderators were tested "
                 f"together with {test}"
                 + (" and the effect predicted at the values given."
                    if pool.metareg.predictions else "."))
    if pool.threelevel is not None:
        three = pool.threelevel
        text += (" Because several estimates came from the same "
                 f"{three.s_names[0]}, a three-level model (estimates within {three.s_names[0]}; "
                 f"{three.method}) was fitted {cite('threelevel')}, with the heterogeneity "
                 f"apportioned to each level by I² {cite('threelevel-i2')} and compared with "
                 "the two-level model by a likelihood-ratio test.")
    if pool.influence is not None:
        text += (" Outlying and influential studies were sought with leave-one-out diagnostics "
                 f"{cite('influence')} (studentised deleted residuals, DFFITS, Cook's "
                 "distances, covariance ratios, τ² and Q with the study left out, hat values "
                 "and DFBETAS), flagged by metafor's rules"
                 + (f", and shown in a Baujat plot {cite('baujat')}." if "baujat" in figures
                    else "."))
    return text


def _formula(formula: str) -> str:
    return formula.lstrip("~ ")


def _software_paragraph(cite: _Citations) -> str:
    return (f"Analyses were run with metareview {__version__} (Python "
            f"{platform.python_version()}), whose results are checked against R's "
            f"metafor {cite('metafor')}.")


def methods(content: ReportContent) -> list[str]:
    """The methods as paragraphs of plain text, from the settings actually used (with the
    citation numbers of the report's references list)."""
    return [b.text for b in build(content).section("methods").blocks
            if isinstance(b, Paragraph)]


def _settings_table(pool: PoolReport, number: int) -> Table:
    """The analysis settings, one per row: what every output of the report states."""
    if pool.method == "GLMM":
        model = f"GLMM ({GLMM_NAME})"
    elif pool.method == "FE":
        model = "Common effect (inverse variance)"
    elif pool.method in METHOD_TEXT:
        model = METHOD_TEXT[pool.method]
    else:
        model = f"Random effects; τ² estimator {pool.method} ({METHOD_NAMES.get(pool.method, '')})"
    rows = (
        ("Effect measure", f"{pool.measure} ({pool.model_scale}); results shown as "
                           f"{pool.natural}"),
        ("Model and estimator", model.replace(" ()", "")),
        (f"{pool.level:g}% CI of the pooled estimate", pool.pooled_ci),
        (f"{pool.level:g}% CI of each study", pool.study_ci),
        ("Continuity correction", pool.correction),
    )
    return Table("settings-table", number, "Analysis settings.", ("Setting", "Value"),
                 rows, (False, False))


def pooled_sentence(pool: PoolReport) -> str:
    """The pooled estimate, its intervals and the heterogeneity statistics in one sentence."""
    fit, s, level = pool.fit, pool.fit.summary, f"{pool.level:g}%"
    text = (f"Pooled {pool.natural} {num(s.estimate, 3)} ({level} CI {num(s.ci_lb, 3)} to "
            f"{num(s.ci_ub, 3)}")
    if s.pi_lb is not None:
        text += f"; {level} prediction interval {num(s.pi_lb, 3)} to {num(s.pi_ub, 3)}"
    text += f") from k = {fit.k} studies"
    if pool.method not in ("FE", "MH", "Peto", "GLMM") or fit.tau2:
        text += f"; τ² = {num(fit.tau2, 4)}"
        if fit.tau2_ci_lb is not None:
            text += f" ({fit.tau2_ci_text()})"
    if fit.i2 is not None:
        text += f", I² = {num(fit.i2, 1)}%"
        if fit.i2_ci_lb is not None:
            text += f" ({fit.i2_ci_text()})"
    if fit.q is not None:
        text += f"; Q = {num(fit.q, 2)} (df = {fit.q_df}, {p_text(fit.q_p)})"
    return text + "."


def _prisma_sentence(counts: PrismaCounts) -> str:
    reasons = "; ".join(f"{item.label}: {item.n}"
                        for item in (*counts.dbr_excluded, *counts.other_excluded))
    return (f"{counts.summary()}." + (f" Reports excluded at full text — {reasons}."
                                       if reasons else ""))


# --- tables ----------------------------------------------------------------------------------

_UPPER = {"sd": "SD", "n": "N", "yi": "yi", "vi": "vi", "se": "SE"}


def heading(name: str) -> str:
    """A column name as a table heading: ``events_1`` → ``Events 1``, ``sd_1`` → ``SD 1``."""
    words = [_UPPER.get(w.lower(), w) for w in re.split(r"[_\s]+", name.strip()) if w]
    if not words:
        return name
    first = words[0]
    words[0] = first if first in _UPPER.values() else first[:1].upper() + first[1:]
    return " ".join(words)


def _decimals(value: float) -> int:
    """Decimals needed to show ``value`` as given (at most 3)."""
    text = f"{value:.3f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _column_texts(values: Sequence[Any]) -> tuple[list[str], bool]:
    """One column's cells as text with one number of decimals for all its numbers (as
    many as its most precise value needs, at most 3); whether the column is numeric."""
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    numeric = bool(numbers) and len(numbers) == sum(v is not None for v in values)
    places = max((_decimals(float(v)) for v in numbers if isinstance(v, float)), default=0)
    out = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append("")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(f"{value:.{places}f}")
        else:
            out.append(str(value))
    return out, numeric


def _characteristics_table(content: ReportContent, number: int) -> Table:
    head, rows = content.characteristics
    columns = [_column_texts([row[i] for row in rows]) for i in range(len(head))]
    cells = tuple(zip(*(texts for texts, _ in columns), strict=True)) if rows else ()
    return Table("characteristics-table", number,
                 "Characteristics of the included studies (from the extraction sheet).",
                 tuple(heading(h) for h in head), cells,
                 tuple(numeric for _, numeric in columns))


def _ci(lb: float | None, ub: float | None, digits: int = 3) -> str:
    if lb is None or ub is None:
        return ""
    return f"{num(lb, digits)} to {num(ub, digits)}"


def _studies_table(pool: PoolReport, number: int) -> Table:
    """The study results on the natural scale with the pooled rows; no weight column for
    the GLMM, which has no inverse-variance weights."""
    level = f"{pool.level:g}%"
    weights = pool.method != "GLMM"
    by = bool(pool.by)
    head = ["Study", *([heading(pool.by or "")] if by else []),
            *(heading(c) for c in pool.data_columns), heading(pool.natural), f"{level} CI",
            *(["Weight (%)"] if weights else [])]
    blank = [""] * len(pool.data_columns)
    rows: list[tuple[str, ...]] = []
    strong = set()

    def row(label: str, group: str, data: Sequence[str], est: float | None, lb: float | None,
            ub: float | None, weight: float | None) -> None:
        rows.append((label, *([group] if by else []), *data,
                     "" if est is None else num(est, 3), _ci(lb, ub),
                     *([num(weight, 1) if weight is not None else "—"] if weights else [])))

    for study in pool.studies:
        row(study.study, study.group or "", study.data, study.estimate, study.ci_lb,
            study.ci_ub, study.weight)
    for g in pool.subgroups:
        share = sum(s.weight or 0.0 for s in pool.studies if s.group == g.name)
        if g.common is not None:
            c = g.common.summary
            strong.add(len(rows))
            row(f"Common effect, {g.name} (k = {g.common.k})", g.name, blank, c.estimate,
                c.ci_lb, c.ci_ub, None)
        strong.add(len(rows))
        row(f"Pooled, {g.name} (k = {g.fit.k})", g.name, blank, g.fit.summary.estimate,
            g.fit.summary.ci_lb, g.fit.summary.ci_ub, share)
    if pool.common is not None:
        c = pool.common.summary
        strong.add(len(rows))
        row(f"Pooled, common effect (k = {pool.common.k})", "", blank, c.estimate, c.ci_lb,
            c.ci_ub, None)
    s = pool.fit.summary
    strong.add(len(rows))
    model = "common effect" if pool.method in COMMON_METHODS else (
        "GLMM" if pool.method == "GLMM" else "random effects")
    row(f"Pooled, {model} (k = {pool.fit.k})", "", blank, s.estimate, s.ci_lb, s.ci_ub,
        100.0 if weights else None)
    if s.pi_lb is not None:
        rows.append(("Prediction interval", *([""] if by else []), *blank, "",
                     _ci(s.pi_lb, s.pi_ub), *([""] if weights else [])))
    caption = (f"Study results: {pool.natural} with {level} confidence intervals "
               f"({pool.study_ci} for the studies, {pool.pooled_ci} for the pooled estimate)"
               + ("; weights are those of the model, in percent" if weights else
                  "; the GLMM has no inverse-variance weights, so no weights are shown")
               + ("; the common-effect rows pool with inverse-variance weights, without τ²."
                  if pool.common is not None or any(g.common for g in pool.subgroups)
                  else "."))
    numeric = (False, *([False] if by else []), *(True for _ in pool.data_columns), True,
               True, *([True] if weights else []))
    return Table("studies-table", number, caption, tuple(head), tuple(rows), numeric,
                 frozenset(strong))


def _subgroups_table(pool: PoolReport, number: int) -> Table:
    level = f"{pool.level:g}%"
    head = (heading(pool.by or "subgroup"), "k", heading(pool.natural), f"{level} CI", "τ²",
            "I² (%)", "Q", "df", "p")
    rows = tuple(
        (g.name, str(g.fit.k), num(g.fit.summary.estimate, 3),
         _ci(g.fit.summary.ci_lb, g.fit.summary.ci_ub), num(g.fit.tau2, 4),
         "" if g.fit.i2 is None else num(g.fit.i2, 1),
         "" if g.fit.q is None else num(g.fit.q, 2), str(g.fit.q_df),
         "" if g.fit.q_p is None else _p_cell(g.fit.q_p))
        for g in pool.subgroups)
    return Table("subgroups-table", number, f"Subgroups by {pool.by}: pooled {pool.natural} "
                 "and heterogeneity within each subgroup.", head, rows,
                 (False, *([True] * 8)))


def _subgroup_test_sentence(pool: PoolReport) -> str:
    t = pool.subgroup_test
    if t is None:
        return ""
    text = (f"Test of subgroup differences: {t.statistic} = {num(t.q, 2)}, {p_text(t.p)} "
            f"({t.name.replace('tau²', 'τ²')})")
    if t.q_separate is None:  # Mantel–Haenszel / Peto: the one test
        return text + "."
    return (text + f"; Q = {num(t.q_separate, 2)}, df = {t.df}, {p_text(t.p_separate)} "
            "(separate τ² per subgroup).")


def _sensitivity_table(pool: PoolReport, sens: Sensitivity, number: int) -> Table:
    """Leave-one-out or cumulative pooling, one row per study omitted or added."""
    level = f"{pool.level:g}%"
    notes = any(sens.notes)
    loo = sens.kind == "leave_one_out"
    head = ("Study omitted" if loo else "Study added", heading(pool.natural), f"{level} CI",
            "τ²", "I² (%)", *(["Note"] if notes else []))
    rows = tuple(
        (study, num(est, 3), _ci(lb, ub), num(tau2, 4), "" if i2 is None else num(i2, 1),
         *([note] if notes else []))
        for study, est, lb, ub, tau2, i2, note in zip(
            sens.studies, sens.estimate, sens.ci_lb, sens.ci_ub, sens.tau2, sens.i2,
            sens.notes, strict=True))
    caption = ("Leave-one-out: each row pools the studies without the one named"
               if loo else "Cumulative meta-analysis: each row pools the studies up to and "
               f"including the one named, added in order of {sens.order}")
    return Table("leave-one-out-table" if loo else "cumulative-table", number,
                 f"{caption} ({pool.method}, {level} CI).", head, rows,
                 (False, True, True, True, True, *([False] if notes else [])))


def _p_cell(value: float | None) -> str:
    """A p value in a table cell: ``0.0123`` or ``< 0.0001``."""
    return p_text(value).removeprefix("p = ").replace("p < ", "< ")


def _coefficients_table(ident: str, number: int, caption: str, names: Sequence[str],
                        columns: Sequence[Any], stat: str, level: float) -> Table:
    """Model coefficients: ``columns`` are the estimates, SEs, test statistics, p values
    and CI bounds, one value per name each (as metafor prints them)."""
    beta, se, zval, pval, lb, ub = columns
    rows = tuple((name, num(float(beta[i]), 4), num(float(se[i]), 4), num(float(zval[i]), 3),
                  _p_cell(float(pval[i])), _ci(float(lb[i]), float(ub[i]), 4))
                 for i, name in enumerate(names))
    return Table(ident, number, caption,
                 ("Term", "Estimate", "SE", stat, "p", f"{level:g}% CI"), rows,
                 (False, True, True, True, True, True))


def _metareg_sentence(pool: PoolReport) -> str:
    assert pool.metareg is not None
    fit = pool.metareg.fit
    stat = (f"QM({fit.qm_df[0]})" if fit.ddf is None
            else f"F({fit.qm_df[0]}, {fit.qm_df[1]})")
    parts = [f"Test of moderators: {stat} = {num(fit.qm, 2)}, {p_text(fit.qm_p)}"]
    if fit.qe is not None:
        parts.append(f"residual heterogeneity: QE({fit.qe_df}) = {num(fit.qe, 2)}, "
                     f"{p_text(fit.qe_p)}; τ² = {num(fit.tau2, 4)}"
                     + ("" if fit.i2 is None else f"; I² = {num(fit.i2, 1)}%"))
    if fit.r2 is not None:
        parts.append(f"R² (heterogeneity accounted for) = {num(fit.r2, 1)}%")
    if fit.frame is not None and fit.frame.levels:
        parts.append("reference levels: " + ", ".join(
            f"{name} = {levels[0]}" for name, levels in fit.frame.levels.items()))
    return "; ".join(parts) + "."


def _metareg_blocks(pool: PoolReport, numbers: _Numbers,
                    figure: Callable[[str], list[Block]]) -> list[Block]:
    block = pool.metareg
    assert block is not None
    fit, level = block.fit, f"{pool.level:g}%"
    blocks: list[Block] = [
        Paragraph(_metareg_sentence(pool), "metareg-tests"),
        _coefficients_table(
            "metareg-table", numbers.table(),
            f"Meta-regression on {_formula(block.formula)}: coefficients on the "
            f"{pool.model_scale} scale ({pool.measure}) with {level} CIs; mixed-effects model, "
            f"τ² by {fit.method}, k = {fit.k}.", fit.coef_names,
            (fit.beta, fit.se, fit.zval, fit.pval, fit.ci_lb, fit.ci_ub),
            "z" if fit.ddf is None else "t", pool.level)]
    if block.predictions:
        rows = tuple((", ".join(f"{k} = {v}" for k, v in p.point.items()),
                      num(p.natural.pred, 3), _ci(p.natural.ci_lb, p.natural.ci_ub),
                      _ci(p.natural.pi_lb, p.natural.pi_ub)) for p in block.predictions)
        blocks.append(Table("predictions-table", numbers.table(),
                            f"Predicted {pool.natural} at the moderator values given.",
                            ("Moderator values", heading(pool.natural), f"{level} CI",
                             f"{level} prediction interval"), rows,
                            (False, True, True, True)))
    return blocks + figure("bubble")


def _profile_ci(ci: ProfileCI) -> str:
    if ci.ci_lb is None:
        return "fixed: a single cluster"
    upper = num(ci.ci_ub, 4) if ci.ci_ub is not None else f">{num(ci.search_max, 4)}"
    return f"{num(ci.ci_lb, 4)} to {upper}"


def _threelevel_blocks(pool: PoolReport, numbers: _Numbers) -> list[Block]:
    fit = pool.threelevel
    assert fit is not None
    level, cluster = f"{fit.level:g}%", fit.s_names[0]
    cis = fit.sigma2_ci
    text = (f"Three-level model ({fit.method}): k = {fit.k} estimates in {fit.s_nlevels[0]} "
            f"clusters ({cluster})")
    if fit.p == 1:
        pred = fit.predict()
        text += (f"; pooled {pool.natural} {num(pred.pred, 3)} ({level} CI "
                 f"{_ci(pred.ci_lb, pred.ci_ub)}; {level} prediction interval "
                 f"{_ci(pred.pi_lb, pred.pi_ub)})")
    t = fit.lrt_cluster
    text += (f". Test for residual heterogeneity: QE({fit.qe_df}) = {num(fit.qe, 2)}, "
             f"{p_text(fit.qe_p)}. Against the two-level model ({t.reduced}): LRT = "
             f"{num(t.lrt, 2)} (df = {t.df}), {p_text(t.pval)}.")
    if fit.qm is not None and fit.qm_p is not None:
        text += f" Test of moderators: QM({fit.qm_df}) = {num(fit.qm, 2)}, {p_text(fit.qm_p)}."
    head = ("Level", "Units", "σ²", *([f"{level} profile CI"] if cis else []), "I² (%)")
    rows = [(f"Between {cluster} (level 3)", str(fit.s_nlevels[0]), num(fit.sigma2[0], 4),
             *([_profile_ci(cis[0])] if cis else []), num(fit.i2[0], 1)),
            (f"Within {cluster} (level 2)", str(fit.s_nlevels[1]), num(fit.sigma2[1], 4),
             *([_profile_ci(cis[1])] if cis else []), num(fit.i2[1], 1)),
            ("Total", "", "", *([""] if cis else []), num(fit.i2_total, 1))]
    blocks: list[Block] = [
        Paragraph(text, "threelevel-tests"),
        Table("threelevel-table", numbers.table(),
              f"Three-level model: variance components between and within {cluster} with "
              f"{level} profile-likelihood CIs, and the share of the total variance (I²) at each "
              f"level (typical sampling variance {num(fit.typical_vi, 4)}).", head, tuple(rows),
              (False, True, True, *([True] if cis else []), True), frozenset({2}))]
    if fit.p > 1:
        blocks.append(_coefficients_table(
            "threelevel-coefficients", numbers.table(),
            f"Three-level model coefficients on the {pool.model_scale} scale ({pool.measure}) "
            f"with {level} CIs.", fit.coef_names,
            (fit.beta, fit.se, fit.zval, fit.pval, fit.ci_lb, fit.ci_ub), "z", fit.level))
    return blocks


def _influence_blocks(pool: PoolReport, numbers: _Numbers,
                      figure: Callable[[str], list[Block]]) -> list[Block]:
    inf = pool.influence
    assert inf is not None
    rows = inf.rows()
    notes = any(r["note"] for r in rows)
    dfbetas = ["DFBETAS" if len(inf.coef_names) == 1 else f"DFBETAS {c}"
               for c in inf.coef_names]
    head = ("Study", "rstudent", "DFFITS", "Cook's D", "cov.r", "τ² del", "QE del", "Hat",
            "Weight (%)", *dfbetas, "Influential", *(["Note"] if notes else []))
    cells = tuple(
        (r["study"], *(num(r[c], 4) for c in INFLUENCE_COLUMNS),
         *(num(r[f"dfbetas_{c}"], 4) for c in inf.coef_names),
         "yes" if r["influential"] else "no", *([r["note"]] if notes else []))
        for r in rows)
    flagged = [r["study"] for r in rows if r["influential"]]
    caption = (f"Influence diagnostics: leave-one-out refits ({inf.method}, {inf.test} test). "
               "rstudent: studentised deleted residual; Cook's D: Cook's distance; cov.r: "
               "covariance ratio; τ² del and QE del: τ² and Q with the study left out; Hat: "
               "leverage; influential: by metafor's rules.")
    return [Paragraph(f"Studies flagged as influential: {_join(flagged)}." if flagged else
                      "No study was flagged as influential.", "influence-flagged"),
            Table("influence-table", numbers.table(), caption, head, cells,
                  (False, *([True] * (8 + len(dfbetas))), False, *([False] if notes else []))),
            *figure("baujat")]


def _mh_sentence(pool: PoolReport) -> str:
    """The Mantel–Haenszel tests and which tables entered what, in words; ``""`` if none."""
    mh = pool.mh
    if mh is None:
        return ""
    parts = list(mh_sentences(mh))
    if mh.k_yi != mh.k:
        name = "Mantel–Haenszel" if mh.method == "MH" else "Peto"
        parts.append(f"{mh.k} tables entered the {name} estimate, "
                     f"{mh.k_yi} (those with a study-level estimate) the test for heterogeneity")
    return ". ".join(parts) + "." if parts else ""


def _common_sentence(pool: PoolReport) -> str:
    assert pool.common is not None
    c, level = pool.common.summary, f"{pool.level:g}%"
    return (f"Common-effect (inverse-variance) model: pooled {pool.natural} "
            f"{num(c.estimate, 3)} ({level} CI {_ci(c.ci_lb, c.ci_ub)}) from k = "
            f"{pool.common.k} studies.")


# --- the whole document --------------------------------------------------------------------


def _figure_captions(pool: PoolReport, cite: _Citations) -> dict[str, str]:
    level = f"{pool.level:g}%"
    model = ("common-effect model" if pool.method in COMMON_METHODS else
             "GLMM" if pool.method == "GLMM" else f"random-effects model ({pool.method})")
    funnel = (f"Funnel plot: {pool.model_scale} ({pool.measure}) of each study against its "
              f"standard error, with the pooled estimate and its pseudo {level} region")
    if pool.bias is not None and pool.bias.filled_yi:
        funnel += "; hollow points are the studies added by trim-and-fill"
    return {
        "prisma": f"PRISMA 2020 flow diagram of the study selection {cite('prisma')}.",
        "forest": (f"Forest plot: {pool.natural} of each study with its {level} confidence "
                   f"interval and the pooled estimate of the {model} (diamond) with its "
                   f"prediction interval; measure {pool.measure}, pooled CI: {pool.pooled_ci}, "
                   f"continuity correction: {pool.correction}."),
        "funnel": funnel + ".",
        "bubble": (f"Bubble plot: {pool.model_scale} ({pool.measure}) of each study against "
                   f"{_join(numeric_moderators(pool)[:1])}, the bubble area proportional to its "
                   f"weight, with the fitted meta-regression line and its {level} confidence "
                   "band (other moderators held at their means)."),
        "baujat": ("Baujat plot: each study's contribution to the overall heterogeneity "
                   "against its influence on the pooled result; studies flagged as "
                   "influential in red."),
    }


def build(content: ReportContent) -> Document:
    """The report as a :class:`Document`, the same for every format."""
    config, pool = content.config, content.pool
    cite, numbers = _Citations(), _Numbers()
    drawn = {name for name in IMAGES if name in content.images or name in content.pngs}
    methods_blocks: list[Block] = [Paragraph(_search_paragraph(content, cite)),
                                   Paragraph(_analysis_paragraph(pool, cite, drawn)),
                                   Paragraph(_software_paragraph(cite))]
    methods_blocks.append(_settings_table(pool, numbers.table()))
    captions = _figure_captions(pool, cite)

    def figure(name: str) -> list[Block]:
        if name not in drawn:
            return []
        return [Figure(name, numbers.figure(), captions[name])]

    sections = [
        Section("question", "Question", (Paragraph(config.question or "(no question given in "
                                                                      "review.toml)"),)),
        Section("methods", "Methods", tuple(methods_blocks)),
        Section("selection", "Study selection",
                (Paragraph(_prisma_sentence(content.prisma)), *figure("prisma"))),
        Section("characteristics", "Characteristics of included studies",
                (_characteristics_table(content, numbers.table()),)),
    ]
    results: list[Block] = [Paragraph(pooled_sentence(pool), "pooled")]
    if pool.common is not None:
        results.append(Paragraph(_common_sentence(pool), "common"))
    if _mh_sentence(pool):
        results.append(Paragraph(_mh_sentence(pool), "mh-tests"))
    results.append(_studies_table(pool, numbers.table()))
    if pool.subgroups:
        results += [Subheading("Subgroups"), _subgroups_table(pool, numbers.table())]
        if pool.subgroup_test is not None:
            results.append(Paragraph(_subgroup_test_sentence(pool), "subgroup-test"))
    sections.append(Section("results", "Pooled results", tuple(results)))
    for name, ident, title in (("forest", "forest-plot", "Forest plot"),
                               ("funnel", "funnel-plot", "Funnel plot")):
        if shown := figure(name):
            sections.append(Section(ident, title, tuple(shown)))
    if pool.metareg is not None:
        sections.append(Section("meta-regression", "Meta-regression",
                                tuple(_metareg_blocks(pool, numbers, figure))))
    if pool.threelevel is not None:
        sections.append(Section("three-level", "Three-level model",
                                tuple(_threelevel_blocks(pool, numbers))))
    for sens, ident, title in ((pool.leave_one_out, "leave-one-out", "Leave-one-out"),
                               (pool.cumulative, "cumulative", "Cumulative meta-analysis")):
        if sens is not None:
            sections.append(Section(ident, title, (_sensitivity_table(pool, sens,
                                                                      numbers.table()),)))
    if pool.influence is not None:
        sections.append(Section("influence", "Influence diagnostics",
                                tuple(_influence_blocks(pool, numbers, figure))))
    if pool.bias is not None:
        sections.append(Section("bias", "Small-study effects", tuple(
            Paragraph(f"{s}.") for s in bias_sentences(pool.bias, tau="τ"))))
    sections.append(Section("references", "References", (References(cite.items()),)))
    return Document(config.title or "Systematic review", config.authors, tuple(sections),
                    f"Made by metareview {__version__} from {config.path.name}.")


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.5;color:#222;overflow-wrap:break-word}
h1{font-size:1.6rem;margin-bottom:.3rem}.authors{margin-top:0;color:#444}
h2{font-size:1.25rem;border-bottom:1px solid #ccc;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;max-width:100%}
caption{caption-side:top;text-align:left;font-size:.85rem;padding:.2rem 0;color:#333}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}th{overflow-wrap:break-word}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#eef3fa}tr.strong td{font-weight:600;background:#f7f7f7}
figure{margin:1rem 0}figcaption{font-size:.85rem;color:#333;margin-top:.3rem}
img{max-width:100%;height:auto;display:block}.label{font-weight:600}
ol.references{font-size:.85rem;padding-left:1.6rem}
footer{margin-top:3rem;color:#666;font-size:.8rem}
@page{size:A4;margin:16mm 15mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt;color:#000}
h2{break-after:avoid;page-break-after:avoid}h3{break-after:avoid}
figure,caption,tr{break-inside:avoid;page-break-inside:avoid}
thead{display:table-header-group}
th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}
table{font-size:8.5pt}
}
"""


def _html_table(table: Table) -> str:
    out = [f'<table id="{table.ident}">',
           f'<caption><span class="label">Table {table.number}.</span> '
           f"{html.escape(table.caption)}</caption>",
           "<thead><tr>" + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in table.head)
           + "</tr></thead>", "<tbody>"]
    for index, row in enumerate(table.rows):
        cells = "".join(
            f'<td class="n">{html.escape(v)}</td>' if numeric else f"<td>{html.escape(v)}</td>"
            for v, numeric in zip(row, table.numeric, strict=True))
        attr = ' class="strong"' if index in table.strong else ""
        out.append(f"<tr{attr}>{cells}</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _html_block(block: Block, content: ReportContent) -> str:
    if isinstance(block, Paragraph):
        ident = f' id="{block.ident}"' if block.ident else ""
        return f"<p{ident}>{html.escape(block.text)}</p>"
    if isinstance(block, Subheading):
        return f"<h3>{html.escape(block.text)}</h3>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        svg = content.images.get(block.name)
        uri = ("data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii") if svg
               else "data:image/png;base64,"
               + base64.b64encode(content.pngs[block.name]).decode("ascii"))
        alt = html.escape(f"Figure {block.number}. {IMAGES[block.name]}")
        return (f'<figure id="{block.name}"><img alt="{alt}" src="{uri}">'
                f'<figcaption><span class="label">Figure {block.number}.</span> '
                f"{html.escape(block.caption)}</figcaption></figure>")
    return ('<ol class="references">'
            + "".join(f"<li>{html.escape(item)}</li>" for item in block.items) + "</ol>")


def to_html(content: ReportContent) -> str:
    """The report as one self-contained HTML page (images embedded, no external links,
    no scripts), with print styles so a browser's "Save as PDF" gives clean A4 pages."""
    doc = build(content)
    title = html.escape(doc.title)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{title}</h1>",
    ]
    if doc.authors:
        parts.append(f'<p class="authors">{html.escape(", ".join(doc.authors))}</p>')
    for section in doc.sections:
        parts += [f'<section id="{section.ident}">', f"<h2>{html.escape(section.heading)}</h2>",
                  *(_html_block(b, content) for b in section.blocks), "</section>"]
    parts += [f"<footer>{html.escape(doc.footer)}</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --- Markdown ------------------------------------------------------------------------------

# Characters that could start markup (emphasis, links, raw HTML, code, tables) anywhere.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&!])")
# ... and at the start of a line (headings, lists, quotes, rules).
_MD_LINE_START = re.compile(r"^(\s*)(#+|\++|[\-=]+|\d+[.)])(?=\s|$)", re.M)


def md_escape(text: str) -> str:
    """``text`` as literal Markdown text: markup characters backslash-escaped (so a title
    like ``[x](javascript:...)`` or ``<script>`` stays text) and line breaks as spaces."""
    text = " ".join(text.split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(_escape_marker, text)


def _escape_marker(match: re.Match[str]) -> str:
    """``1.`` → ``1\\.``, ``-`` → ``\\-``: the punctuation is what CommonMark escapes."""
    marker = match.group(2)
    if marker[0].isdigit():
        return match.group(1) + marker[:-1] + "\\" + marker[-1]
    return match.group(1) + "\\" + marker


def _md_table(table: Table) -> list[str]:
    def row(cells: Sequence[str], strong: bool = False) -> str:
        texts = [md_escape(c) if not strong or not c else f"**{md_escape(c)}**" for c in cells]
        return "| " + " | ".join(texts) + " |"

    align = "|" + "".join("---:|" if n else "---|" for n in table.numeric)
    return [f"**Table {table.number}.** {md_escape(table.caption)}", "", row(table.head), align,
            *(row(r, i in table.strong) for i, r in enumerate(table.rows)), ""]


def to_markdown(content: ReportContent, images: Mapping[str, str]) -> str:
    """The report as Markdown, the same content as :func:`to_html`; ``images`` maps
    the names of :data:`IMAGES` to the paths (relative to the Markdown file) of their
    image files; a figure without a path is left out."""
    doc = build(content)
    lines = [f"# {md_escape(doc.title)}", ""]
    if doc.authors:
        lines += [md_escape(", ".join(doc.authors)), ""]
    for section in doc.sections:
        lines += [f"## {md_escape(section.heading)}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                lines += [md_escape(block.text), ""]
            elif isinstance(block, Subheading):
                lines += [f"### {md_escape(block.text)}", ""]
            elif isinstance(block, Table):
                lines += _md_table(block)
            elif isinstance(block, Figure):
                if block.name in images:
                    lines += [f"![Figure {block.number}. {IMAGES[block.name]}]"
                              f"({images[block.name]})", "",
                              f"*Figure {block.number}.* {md_escape(block.caption)}", ""]
            else:
                lines += [f"{i}. {md_escape(item)}" for i, item in enumerate(block.items, 1)]
                lines.append("")
    lines.append(md_escape(doc.footer))
    return "\n".join(lines) + "\n"
