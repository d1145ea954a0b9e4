"""The review report: one self-contained HTML file and the same content as Markdown.

Sections: the question; a methods paragraph written from the settings actually used
(databases and search dates, deduplication rules and threshold, effect measure and its
sampling variance, τ² estimator, CI method, heterogeneity, software and version); the
PRISMA 2020 flow diagram; the characteristics of the included studies (from the
extraction sheet); the pooled results with the study and subgroup tables; forest and funnel
plots; leave-one-out; small-study tests. The HTML embeds its images as ``data:`` URIs so
it opens offline; the Markdown links PNG files beside it. The result tables come from
:func:`metareview.poolrun.tables` and :func:`metareview.poolrun.markdown`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import __version__
from .config import ReviewConfig
from .errors import OptionError
from .jsonsafe import plain
from .meta import num
from .poolrun import PoolReport, bias_sentences, markdown, p_text, tables
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
IMAGES = {
    "prisma": "PRISMA 2020 flow diagram",
    "forest": "Forest plot",
    "funnel": "Funnel plot",
}


@dataclass(frozen=True)
class ReportContent:
    """Everything the report shows. ``characteristics`` is a header and rows;
    ``dedupe`` holds the deduplication facts of the run (``identified`` per database,
    ``duplicates``, ``overrides``); ``images`` maps ``prisma``/``forest``/``funnel`` to SVG
    bytes."""

    config: ReviewConfig
    prisma: PrismaCounts
    pool: PoolReport
    characteristics: tuple[list[str], list[list[Any]]]
    dedupe: Mapping[str, Any] = field(default_factory=dict)
    images: Mapping[str, bytes] = field(default_factory=dict)

    def fingerprint(self) -> dict[str, Any]:
        """Plain values that change whenever the report would (for ``review run``)."""
        c = self.config
        return {
            "config": [c.title, c.question, [(s.label, s.database, s.searched) for s in
                                             c.sources], c.dedupe_threshold, c.design,
                       c.fields, repr(c.analysis)],
            "prisma": self.prisma.to_dict(), "pool": self.pool.to_dict(),
            "characteristics": self.characteristics, "dedupe": dict(self.dedupe),
            "images": {k: hashlib.sha256(v).hexdigest() for k, v in sorted(self.images.items())},
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


# --- the words ---------------------------------------------------------------------------


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def methods(content: ReportContent) -> list[str]:
    """The methods as paragraphs of plain text, from the settings actually used."""
    from .meta import METHOD_NAMES

    config, pool = content.config, content.pool
    searched = [f"{s.database} (searched {s.searched})" if s.searched
                else f"{s.database} (search date not recorded)" for s in config.sources]
    overrides = int(content.dedupe.get("overrides", 0))
    search = (
        f"We searched {_join(searched)}. Duplicate records were removed with metareview: "
        "two records were taken as one article when their normalised DOIs (case, resolver "
        "prefix and trailing punctuation ignored) or PubMed ids matched, or when their "
        "normalised titles (case, punctuation, diacritics and markup ignored) reached a "
        f"fuzzy similarity of at least {config.dedupe_threshold:g} (rapidfuzz ratio, 0–100) "
        "with the same publication year, the same first-author surname and no conflicting "
        "identifier, volume or first page. The most complete record of each group was "
        "kept. "
        # only an override in the log shows that someone went through it
        + (f"A reviewer checked the duplicates log and corrected {overrides} match(es)."
           if overrides else "The duplicates log is available for checking.")
        + " Titles and abstracts were screened, then the full texts of the records included "
        "or marked maybe, with the reason for each full-text exclusion recorded."
    )
    if pool.design == "generic":
        variance = "the sampling variances given in the extraction sheet"
    else:
        variance = VARIANCE.get(pool.measure, "the sampling variance of the measure")
    if pool.method == "GLMM":
        model = f"The studies were pooled with {GLMM_NAME} (logit link)"
    elif pool.method == "FE":
        model = "The studies were pooled with a common-effect (inverse-variance) model"
    else:
        model = ("The studies were pooled with a random-effects model; the between-study "
                 f"variance τ² was estimated by the {METHOD_NAMES[pool.method]} ({pool.method}) "
                 "method")
    level = f"{pool.level:g}%"
    analysis = (
        f"Effect sizes were computed as {pool.model_scale} (measure {pool.measure}) with "
        f"{variance}; continuity correction: {pool.correction}. {model}. The {level} "
        f"confidence interval of the pooled estimate used the {pool.pooled_ci}; study "
        f"confidence intervals used the {pool.study_ci} method. Results are shown as "
        f"{pool.natural}. Heterogeneity was tested with Cochran's Q and quantified by I² and "
        "τ²" + (" with Q-profile confidence intervals" if pool.fit.tau2_ci_lb is not None
                else "") + f", and a {level} prediction interval was computed."
    )
    if pool.leave_one_out is not None:
        analysis += " Sensitivity was examined by leaving out one study at a time."
    if pool.bias is not None:
        analysis += (" Small-study effects were examined by Egger's regression test, Begg's "
                     "rank correlation test and trim-and-fill.")
    if pool.method == "GLMM":
        analysis += (" Leave-one-out and small-study tests were not run: they need "
                     "inverse-variance weights, which the GLMM does not use.")
    if pool.by:
        analysis += (f" Subgroups were defined by {pool.by} and compared with a test of "
                     "subgroup differences.")
    software = (f"Analyses were run with metareview {__version__} (Python "
                f"{platform.python_version()}), whose results are checked against R's "
                "metafor.")
    return [search, analysis, software]


def pooled_sentence(pool: PoolReport) -> str:
    """The pooled estimate, its intervals and the heterogeneity statistics in one sentence."""
    fit, s, level = pool.fit, pool.fit.summary, f"{pool.level:g}%"
    text = (f"Pooled {pool.natural} {num(s.estimate, 3)} ({level} CI {num(s.ci_lb, 3)} to "
            f"{num(s.ci_ub, 3)}")
    if s.pi_lb is not None:
        text += f"; {level} prediction interval {num(s.pi_lb, 3)} to {num(s.pi_ub, 3)}"
    text += f") from k = {fit.k} studies"
    if pool.method not in ("FE", "GLMM") or fit.tau2:
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


def _bias_sentences(pool: PoolReport) -> list[str]:
    """The small-study results in words (empty when not computed)."""
    return [] if pool.bias is None else [f"{s}." for s in bias_sentences(pool.bias, tau="τ")]


def _prisma_sentence(counts: PrismaCounts) -> str:
    reasons = "; ".join(f"{item.label}: {item.n}" for item in counts.dbr_excluded)
    return (f"{counts.summary()}." + (f" Reports excluded at full text — {reasons}."
                                       if reasons else ""))


# --- HTML --------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.5;color:#222}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem}
th,td{border:1px solid #ccc;padding:.2rem .45rem;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#eef3fa}
img{max-width:100%;height:auto}footer{margin-top:3rem;color:#666;font-size:.8rem}
"""


def _cell(value: Any) -> tuple[str, bool]:
    value = _cell_value(value)
    if value is None:
        return "", False
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}", True
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), True
    return html.escape(str(value)), False


def _html_table(head: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str) -> str:
    out = [f'<table id="{table_id}">', "<thead><tr>"
           + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead>", "<tbody>"]
    for row in rows:
        cells = []
        for value in row:
            text, numeric = _cell(value)
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _figure(content: ReportContent, name: str) -> str:
    data = content.images.get(name)
    if not data:
        return ""
    uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode("ascii")
    alt = IMAGES[name]
    return (f'<figure id="{name}"><img alt="{alt}" src="{uri}">'
            f"<figcaption>{alt}</figcaption></figure>")


def to_html(content: ReportContent) -> str:
    """The report as one self-contained HTML page (images embedded, no external links)."""
    config, pool = content.config, content.pool
    result_tables = tables(pool)
    title = html.escape(config.title or "Systematic review")

    def section(ident: str, heading: str, *body: str) -> str:
        return f'<section id="{ident}">\n<h2>{heading}</h2>\n' + "\n".join(body) + "\n</section>"

    def para(text: str, ident: str = "") -> str:
        return f"<p{f' id={chr(34)}{ident}{chr(34)}' if ident else ''}>{html.escape(text)}</p>"

    head, rows = content.characteristics
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>{title}</h1>",
        section("question", "Question", para(config.question or "(no question given in "
                                                  "review.toml)")),
        section("methods", "Methods", *(para(p) for p in methods(content))),
        section("selection", "Study selection", para(_prisma_sentence(content.prisma)),
                _figure(content, "prisma")),
        section("characteristics", "Characteristics of included studies",
                _html_table(head, rows, "characteristics-table")),
        section("results", "Pooled results", para(pooled_sentence(pool), "pooled"),
                _html_table(*result_tables["studies"], "studies-table"),
                *(["<h3>Subgroups</h3>", _html_table(*result_tables["subgroups"],
                                                     "subgroups-table")]
                  if "subgroups" in result_tables else [])),
        section("forest-plot", "Forest plot", _figure(content, "forest")),
        section("funnel-plot", "Funnel plot", _figure(content, "funnel")),
    ]
    if "leave_one_out" in result_tables:
        parts.append(section("leave-one-out", "Leave-one-out",
                             para("Each row pools the studies without the one named."),
                             _html_table(*result_tables["leave_one_out"], "leave-one-out-table")))
    if pool.bias is not None:
        parts.append(section("bias", "Small-study effects",
                             *(para(s) for s in _bias_sentences(pool))))
    parts += [f"<footer>Made by metareview {__version__} from {html.escape(config.path.name)}."
              "</footer>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


# --- Markdown ----------------------------------------------------------------------------


def _md_table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        text, _ = _cell(value)
        return html.unescape(text).replace("|", "\\|")

    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows)]


def to_markdown(content: ReportContent, images: Mapping[str, str]) -> str:
    """The report as Markdown; ``images`` maps ``prisma``/``forest``/``funnel`` to the
    paths (relative to the Markdown file) of their image files."""
    config, pool = content.config, content.pool

    def figure(name: str) -> list[str]:
        return [f"![{IMAGES[name]}]({images[name]})", ""] if name in images else []

    # poolrun's Markdown, its headings moved one level down under "Pooled results"
    results = ["#" + line if line.startswith("#") else line
               for line in markdown(pool).splitlines()[1:]]
    lines = [
        f"# {config.title or 'Systematic review'}", "", "## Question", "",
        config.question or "(no question given in review.toml)", "", "## Methods", "",
        *(p + "\n" for p in methods(content)),
        "## Study selection", "", _prisma_sentence(content.prisma), "", *figure("prisma"),
        "## Characteristics of included studies", "", *_md_table(*content.characteristics), "",
        "## Pooled results", "", pooled_sentence(pool), *results, "",
        "## Forest plot", "", *figure("forest"), "## Funnel plot", "", *figure("funnel"),
    ]
    if pool.bias is not None:
        lines += ["## Small-study effects", "", *(f"- {s}" for s in _bias_sentences(pool)), ""]
    lines.append(f"Made by metareview {__version__} from {config.path.name}.")
    return "\n".join(lines) + "\n"
