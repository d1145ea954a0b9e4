"""The PRISMA 2020 flow diagram for new and updated systematic reviews, drawn with matplotlib.

The layout follows the templates of the PRISMA 2020 statement (Page et al. 2021, BMJ
372:n71, fig. 1): stage bars on the left, the databases-and-registers column with its
"removed/excluded" boxes to the right, and the optional "other methods" column beside
it. An updated review adds the "Previous studies" column on the left, whose studies
join the new ones in the "Total studies included in review" box at the bottom. Text is
wrapped to the box width as measured in the font, and boxes grow with it;
all boxes of a row share one height so arrows stay level.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import OptionError
from .fileio import atomic_path, check_outputs
from .plots import figure_bytes
from .prisma import NamedCount, PrismaCounts, to_csv

FORMATS = ("svg", "png", "pdf")

# Sizes in inches (1 data unit = 1 inch), fonts in points.
FONT = 9.0
STAGE_FONT = 10.0
LINE = FONT * 1.32 / 72
PAD = 0.09
INDENT = 0.16
BOX_W = 2.75
BAR_W = 0.34
GAP_X = 0.45  # room for a horizontal arrow
GAP_Y = 0.32  # room for a vertical arrow
MARGIN = 0.15

# Measured in DejaVu Sans (shipped with matplotlib); SVG viewers without it fall back to a
# narrower sans-serif, so wrapped text still fits.
FAMILY = ["DejaVu Sans", "sans-serif"]
YELLOW, GREY, BLUE = "#ffd24d", "#d9d9d9", "#b4c9e6"

# Box texts of the PRISMA 2020 template for new reviews; a CSV's own box texts
# (``PrismaCounts.labels``, e.g. a translation) replace them.
TEXT = {
    "prevstud": "Previous studies",
    "previous_studies": "Studies included in previous version of review",
    "previous_reports": "Reports of studies included in previous version of review",
    "total_studies": "Total studies included in review",
    "total_reports": "Reports of total included studies",
    "newstud": "Identification of new studies via databases and registers",
    "othstud": "Identification of new studies via other methods",
    "identification": "Identification",
    "screening": "Screening",
    "included": "Included",
    "database_results": "Databases",
    "register_results": "Registers",
    "website_results": "Websites",
    "organisation_results": "Organisations",
    "citations_results": "Citation searching",
    "duplicates": "Duplicate records removed",
    "excluded_automatic": "Records marked as ineligible by automation tools",
    "excluded_other": "Records removed for other reasons",
    "records_screened": "Records screened",
    "records_excluded": "Records excluded",
    "dbr_sought_reports": "Reports sought for retrieval",
    "dbr_notretrieved_reports": "Reports not retrieved",
    "other_sought_reports": "Reports sought for retrieval",
    "other_notretrieved_reports": "Reports not retrieved",
    "dbr_assessed": "Reports assessed for eligibility",
    "dbr_excluded": "Reports excluded",
    "other_assessed": "Reports assessed for eligibility",
    "other_excluded": "Reports excluded",
    "new_studies": "Studies included in review",
    "new_reports": "Reports of included studies",
}
# An updated review's box texts where they differ from a new review's.
UPDATE_TEXT = {
    "new_studies": "New studies included in review",
    "new_reports": "Reports of new included studies",
}


@dataclass(frozen=True)
class _Para:
    """One paragraph of a box: wrapped to the box, indented ``level`` steps."""

    text: str
    level: int = 0


@dataclass
class _Box:
    paras: list[_Para]
    x: float
    width: float
    align: str = "center"
    lines: list[tuple[float, str]] | None = None  # (indent, line) after wrapping
    y: float = 0.0
    height: float = 0.0


def _n(value: int) -> str:
    return f"(n = {value:,})"


def _text_width(text: str, size: float = FONT, weight: str = "normal") -> float:
    """Width in inches of ``text`` set in the diagram's font."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    prop = FontProperties(family="DejaVu Sans", weight=weight, size=size)
    width, _, _ = text_to_path.get_text_width_height_descent(text, prop, ismath=False)
    return float(width) / 72


# "(n = 1,234)" is kept on one line.
_WORD = re.compile(r"\(n = [\d,]+\)|\S+")


def _wrap(text: str, width: float) -> list[str]:
    """Greedy word wrap to ``width`` inches; a word longer than the line stays whole."""
    lines: list[str] = []
    current = ""
    for word in _WORD.findall(text):
        candidate = f"{current} {word}" if current else word
        if current and _text_width(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current else lines


def _layout(box: _Box) -> float:
    """Wrap the box's paragraphs; return the height the box needs."""
    inner = box.width - 2 * PAD
    box.lines = []
    for para in box.paras:
        indent = para.level * INDENT
        for i, line in enumerate(_wrap(para.text, inner - indent - (INDENT if para.level else 0))):
            # continuation lines of an indented item hang one step further in
            box.lines.append((indent + (INDENT if i and para.level else 0), line))
    return len(box.lines) * LINE + 2 * PAD


def _excluded(items: Iterable[NamedCount], total: int, label: str, x: float) -> _Box:
    """The "Reports excluded" box: one line per reason, or the bare total centred."""
    listed = [i for i in items if i.label]
    if not listed:
        return _Box([_Para(label), _Para(_n(total))], x, BOX_W)
    reasons = [_Para(f"{i.label} {_n(i.n)}", 1) for i in listed]
    return _Box([_Para(f"{label}:"), *reasons], x, BOX_W, "left")


def _text(counts: PrismaCounts) -> dict[str, str]:
    """The box texts: the template's, an updated review's, then the CSV's own."""
    return {**TEXT, **(UPDATE_TEXT if counts.is_update else {}), **dict(counts.labels)}


def _columns(counts: PrismaCounts) -> tuple[float, float, float, float, float]:
    """The left edges of the previous-studies column, the main column and its side
    column, the other-methods column and its side column."""
    x_prev = MARGIN + BAR_W + 0.2
    x_main = x_prev + (BOX_W + GAP_X + 0.15 if counts.is_update else 0)
    x_side = x_main + BOX_W + GAP_X
    x_other = x_side + BOX_W + GAP_X + 0.15
    return x_prev, x_main, x_side, x_other, x_other + BOX_W + GAP_X


def _boxes(counts: PrismaCounts) -> tuple[list[list[_Box | None]], list[_Box]]:
    """The grid of boxes: rows of [main, main-side, other, other-side, previous] columns
    (a row more for an updated review's total), and the title boxes."""
    text = _text(counts)

    def t(key: str) -> str:
        return text[key]

    def simple(key: str, value: int) -> list[_Para]:
        return [_Para(t(key)), _Para(_n(value))]

    identified = [_Para("Records identified from:")]
    for key, total, parts in (
        ("database_results", counts.database_results, counts.database_specific_results),
        ("register_results", counts.register_results, counts.register_specific_results),
    ):
        identified.append(_Para(f"{t(key)} {_n(total)}", 1))
        identified += [_Para(f"{p.label} {_n(p.n)}", 2) for p in parts]
    removed = [
        _Para("Records removed before screening:"),
        *(
            _Para(f"{t(key)} {_n(getattr(counts, key))}", 1)
            for key in ("duplicates", "excluded_automatic", "excluded_other")
        ),
    ]
    x_prev, x_main, x_side, x_other, x_oside = _columns(counts)

    def box(paras: list[_Para], x: float, align: str = "center") -> _Box:
        return _Box(paras, x, BOX_W, align)

    rows: list[list[_Box | None]] = [
        [box(identified, x_main, "left"), box(removed, x_side, "left"), None, None],
        [
            box(simple("records_screened", counts.records_screened), x_main),
            box(simple("records_excluded", counts.records_excluded), x_side),
            None,
            None,
        ],
        [
            box(simple("dbr_sought_reports", counts.dbr_sought_reports), x_main),
            box(simple("dbr_notretrieved_reports", counts.dbr_notretrieved_reports), x_side),
            None,
            None,
        ],
        [
            box(simple("dbr_assessed", counts.dbr_assessed), x_main),
            _excluded(counts.dbr_excluded, counts.dbr_excluded_total, t("dbr_excluded"), x_side),
            None,
            None,
        ],
        [
            box(
                [
                    *simple("new_studies", counts.new_studies),
                    *simple("new_reports", counts.new_reports),
                ],
                x_main,
            ),
            None,
            None,
            None,
        ],
    ]
    for row in rows:
        row.append(None)
    if counts.is_update:
        rows[0][4] = box([*simple("previous_studies", counts.previous_studies),
                          *simple("previous_reports", counts.previous_reports)], x_prev)
        rows.append([box([*simple("total_studies", counts.total_studies),
                          *simple("total_reports", counts.total_reports)], x_main),
                     None, None, None, None])
    if counts.has_other_methods:
        rows[0][2] = box(
            [
                _Para("Records identified from:"),
                *(
                    _Para(f"{t(key)} {_n(getattr(counts, key))}", 1)
                    for key in ("website_results", "organisation_results", "citations_results")
                ),
            ],
            x_other,
            "left",
        )
        rows[2][2] = box(simple("other_sought_reports", counts.other_sought_reports), x_other)
        rows[2][3] = box(
            simple("other_notretrieved_reports", counts.other_notretrieved_reports), x_oside
        )
        rows[3][2] = box(simple("other_assessed", counts.other_assessed), x_other)
        rows[3][3] = _excluded(
            counts.other_excluded, counts.other_excluded_total, t("other_excluded"), x_oside
        )
    span = 2 * BOX_W + GAP_X
    heads = [_Box([_Para(t("newstud"))], x_main, span)]
    if counts.has_other_methods:
        heads.append(_Box([_Para(t("othstud"))], x_other, span))
    if counts.is_update:
        heads.append(_Box([_Para(t("prevstud"))], x_prev, BOX_W))
    return rows, heads


def figure(counts: PrismaCounts) -> Any:
    """The diagram as a matplotlib ``Figure`` (checked counts only).

    Raises
    ------
    InputError
        when the counts do not satisfy the PRISMA 2020 identities
        (:meth:`PrismaCounts.check`).
    """
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    counts.check()
    rows, head_boxes = _boxes(counts)
    other = counts.has_other_methods
    width = max(b.x + b.width for b in head_boxes) + MARGIN

    # Header row (title boxes), then each row as tall as its tallest box.
    y = MARGIN
    head_h = max(_layout(b) for b in head_boxes)
    for b in head_boxes:
        b.y, b.height = y, head_h
    y += head_h + GAP_Y
    text = _text(counts)
    stages = [text[key] for key in ("identification", "screening", "included")]
    last = len(rows) - 1
    # the first and last rows may carry a stage bar alone, so they must be as tall as its label
    bar_min = {
        r: _text_width(stages[i], STAGE_FONT, "bold") + 0.25 for r, i in ((0, 0), (last, 2))
    }
    if counts.is_update:  # the included bar spans two rows
        bar_min[last] /= 2
    for r, row in enumerate(rows):
        present = [b for b in row if b is not None]
        height = max([bar_min.get(r, 0.0), *(_layout(b) for b in present)])
        for b in present:
            b.y, b.height = y, height
        y += height + GAP_Y
    height_total = y - GAP_Y + MARGIN

    fig = Figure(figsize=(width, height_total))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height_total, 0)
    ax.set_axis_off()

    def draw_box(b: _Box, face: str = "white", bold: bool = False) -> None:
        ax.add_patch(
            Rectangle((b.x, b.y), b.width, b.height, facecolor=face, edgecolor="black", lw=0.8)
        )
        assert b.lines is not None
        top = b.y + (b.height - len(b.lines) * LINE) / 2
        for i, (indent, line) in enumerate(b.lines):
            ax.text(
                b.x + b.width / 2 if b.align == "center" else b.x + PAD + indent,
                top + (i + 0.5) * LINE,
                line,
                ha=b.align,
                va="center_baseline",
                fontsize=FONT,
                family=FAMILY,
                fontweight="bold" if bold else "normal",
            )

    def arrow(points: list[tuple[float, float]]) -> None:
        if len(points) > 2:  # an elbow: plain segments, then the arrow head on the last
            ax.plot([p[0] for p in points[:-1]], [p[1] for p in points[:-1]], c="black", lw=0.9)
        ax.add_patch(
            FancyArrowPatch(
                points[-2],
                points[-1],
                arrowstyle="-|>",
                mutation_scale=11,
                color="black",
                lw=0.9,
                shrinkA=0,
                shrinkB=0,
            )
        )

    def stage(label: str, top: float, bottom: float) -> None:
        ax.add_patch(
            FancyBboxPatch(
                (MARGIN, top),
                BAR_W,
                bottom - top,
                boxstyle="round,pad=0,rounding_size=0.08",
                facecolor=BLUE,
                edgecolor="none",
            )
        )
        ax.text(
            MARGIN + BAR_W / 2,
            (top + bottom) / 2,
            label,
            rotation=90,
            ha="center",
            va="center",
            fontsize=STAGE_FONT,
            fontweight="bold",
            family=FAMILY,
        )

    for head, face in zip(head_boxes, (YELLOW, GREY, GREY), strict=False):
        draw_box(head, face, bold=True)
    for row in rows:
        for cell in row:
            if cell is not None:
                draw_box(cell)

    def box_at(r: int, c: int) -> _Box:
        found = rows[r][c]
        assert found is not None
        return found

    for label, (first, end) in zip(stages, ((0, 0), (1, 3), (4, last)), strict=True):
        stage(label, box_at(first, 0).y, box_at(end, 0).y + box_at(end, 0).height)

    def down(a: _Box, b: _Box) -> None:
        x = a.x + a.width / 2
        arrow([(x, a.y + a.height), (x, b.y)])

    def across(a: _Box, b: _Box) -> None:
        mid = a.y + a.height / 2
        arrow([(a.x + a.width, mid), (b.x, mid)])

    for r in range(4):
        down(box_at(r, 0), box_at(r + 1, 0))
        across(box_at(r, 0), box_at(r, 1))
    if other:
        down(box_at(0, 2), box_at(2, 2))
        down(box_at(2, 2), box_at(3, 2))
        across(box_at(2, 2), box_at(2, 3))
        across(box_at(3, 2), box_at(3, 3))
        source, target = box_at(3, 2), box_at(4, 0)
        x, mid = source.x + source.width / 2, target.y + target.height / 2
        arrow([(x, source.y + source.height), (x, mid), (target.x + target.width, mid)])
    if counts.is_update:
        down(box_at(4, 0), box_at(5, 0))
        source, target = box_at(0, 4), box_at(5, 0)
        x, mid = source.x + source.width / 2, target.y + target.height / 2
        arrow([(x, source.y + source.height), (x, mid), (target.x, mid)])
    return fig


def render(counts: PrismaCounts, fmt: str = "svg", dpi: int = 200) -> bytes:
    """The diagram as the bytes of an SVG, PNG or PDF file.

    Text stays text in SVG and PDF (searchable, editable); the output does not embed
    dates, so the same counts give the same bytes.
    """
    from matplotlib import rc_context

    if fmt not in FORMATS:
        raise OptionError(
            f"unknown diagram format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}"
        )
    fig = figure(counts)
    with rc_context({"svg.fonttype": "none", "pdf.fonttype": 42}):
        return figure_bytes(fig, fmt, dpi)


def file_bytes(counts: PrismaCounts, suffix: str, dpi: int = 200) -> bytes:
    """What :func:`save` writes to a file with this ``suffix``: the PRISMA2020 CSV for
    ``.csv``, else the diagram (``.svg``, ``.png``, ``.pdf``)."""
    if suffix.lower() == ".csv":
        return to_csv(counts.check()).encode()
    return render(counts, suffix.lower().lstrip("."), dpi)


def save(
    counts: PrismaCounts,
    paths: Iterable[str | Path],
    *,
    force: bool = False,
    inputs: Iterable[str | Path] = (),
    dpi: int = 200,
) -> list[Path]:
    """Write the diagram (.svg, .png, .pdf) or the PRISMA2020 CSV (.csv) to each path,
    the format from its extension.

    Every path is checked and every file rendered before the first is written, and
    each is written atomically, so a bad count or a bad path leaves no file behind.
    """
    inputs = list(inputs)
    suffixes = [f".{fmt}" for fmt in (*FORMATS, "csv")]
    targets = check_outputs(((p, suffixes) for p in paths), inputs, force)
    contents = [file_bytes(counts, t.suffix, dpi) for t in targets]
    for target, data in zip(targets, contents, strict=True):
        with atomic_path(target, inputs=inputs, force=force) as tmp:
            tmp.write_bytes(data)
    return targets
