"""The data extraction workbook: written from records, read back as a validated study table.

A workbook has one row per study: prefilled, grey record columns (id, first author, year,
title, DOI, PMID), then the columns the reviewer codes. The data columns depend on the
design (:data:`DESIGNS`). Reading accepts the workbook, any ``.xlsx`` or CSV with the same
column names (case- and space-insensitive; metafor's ``xi``, ``ni``, ``ai`` … ``m1i`` …
as aliases), checks the whole sheet, and raises one :class:`~metareview.errors.ValidationError`
listing every bad cell, so a reviewer can fix them all in one pass.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl.utils import get_column_letter

import metareview

from ..errors import InputError, OptionError, ReviewError, ReviewWarning, ValidationError
from ..fileio import atomic_path
from . import common

#: Data columns per design: (name, kind, description). Kinds: ``count`` (whole number ≥ 0),
#: ``positive`` (number ≥ 0), ``number``, ``correlation`` (number in [-1, 1]).
DESIGNS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "proportion": (
        ("events", "count", "number of participants with the event (e.g. improved)"),
        ("total", "count", "number of participants in the study"),
    ),
    "binary": (
        ("events_1", "count", "events in group 1 (treatment)"),
        ("total_1", "count", "participants in group 1 (treatment)"),
        ("events_2", "count", "events in group 2 (control)"),
        ("total_2", "count", "participants in group 2 (control)"),
    ),
    "continuous": (
        ("mean_1", "number", "mean in group 1 (treatment)"),
        ("sd_1", "positive", "standard deviation in group 1"),
        ("n_1", "count", "participants in group 1"),
        ("mean_2", "number", "mean in group 2 (control)"),
        ("sd_2", "positive", "standard deviation in group 2"),
        ("n_2", "count", "participants in group 2"),
    ),
    "rate": (
        ("events", "count", "number of events (e.g. strokes) during follow-up"),
        ("person_time", "positive", "person-time at risk, e.g. patient-years; above 0"),
    ),
    "correlation": (
        ("r", "correlation", "correlation coefficient (Pearson's r)"),
        ("n", "count", "sample size the correlation was computed on"),
    ),
    "generic": (
        ("yi", "number", "effect size on the model scale (e.g. log odds ratio)"),
        ("vi", "positive", "its sampling variance (give vi or sei)"),
        ("sei", "positive", "its standard error (give vi or sei)"),
    ),
}

#: Rows below the last prefilled study that still get the sheet's data validation.
TYPED_ROWS = 500

#: (smaller, larger) count pairs checked per design.
_PAIRS = {
    "proportion": (("events", "total"),),
    "binary": (("events_1", "total_1"), ("events_2", "total_2")),
    "continuous": (),
    "rate": (),
    "correlation": (),
    "generic": (),
}

#: metafor argument names accepted as column names, per design.
ALIASES: dict[str, dict[str, str]] = {
    "proportion": {"xi": "events", "ni": "total"},
    "binary": {"ai": "events_1", "n1i": "total_1", "ci": "events_2", "n2i": "total_2",
               "bi": "nonevents_1", "di": "nonevents_2"},
    "continuous": {"m1i": "mean_1", "sd1i": "sd_1", "n1i": "n_1",
                   "m2i": "mean_2", "sd2i": "sd_2", "n2i": "n_2"},
    "rate": {"xi": "events", "ti": "person_time"},
    "correlation": {"ri": "r", "ni": "n"},
    "generic": {},
}

RECORD_COLUMNS = ("record_id", "first_author", "year", "title", "doi", "pmid")
HELPER_SHEETS = ("codebook", "about")
MISSING_TOKENS = frozenset({"na", "n/a", "-", "nan", "none", "null", "."})
YES = frozenset({"yes", "y", "true", "1", "include", "included"})
NO = frozenset({"no", "n", "false", "0", "exclude", "excluded"})

_EMPTY_HINT = "fill it in, or set include to no to leave the study out"
#: Largest size of a number in a data cell: beyond it, the squares and sums the estimators
#: take overflow (1e308 is the float limit); no count, mean or effect size comes near.
MAX_MAGNITUDE = 1e15


def key(name: str) -> str:
    """Column names compare case-, space-, underscore- and hyphen-insensitively."""
    return re.sub(r"[\s_\-.]+", "", name.lower())


# --- writing -----------------------------------------------------------------------------


def extraction_columns(design: str, fields: Sequence[str] = ()) -> list[str]:
    """The header of the extraction sheet for ``design`` plus the reviewer's ``fields``."""
    if design not in DESIGNS:
        raise OptionError(f"unknown design {design!r}", hint=f"choose one of: {', '.join(DESIGNS)}")
    taken = {key(c) for c in (*RECORD_COLUMNS, "study", "include", "subgroup", "notes")}
    taken |= {key(name) for name, _, _ in DESIGNS[design]}
    for name in fields:
        if key(name) in taken or not name.strip():
            raise OptionError(f"--field {name!r} clashes with a built-in column or is empty",
                              hint="choose another name")
        taken.add(key(name))
    data = [name for name, _, _ in DESIGNS[design]]
    return [*RECORD_COLUMNS, "study", "include", *data, "subgroup", *fields, "notes"]


def record_id(row: Mapping[str, Any]) -> str:
    """A stable id: the record's own ``record_id`` (or ``id``), else
    :func:`metareview.dedupe.record_id` of the row read as an article, so a table from
    ``review parse`` and one from ``review dedupe`` give a record the same id."""
    from ..dedupe import article_from_row
    from ..dedupe import record_id as article_id

    for name in ("record_id", "id"):
        if row.get(name):
            return str(row[name])
    return article_id(article_from_row(row, "", 0))


#: Author columns a study label can be built from, the first present preferred.
AUTHOR_COLUMNS = ("first_author", "author", "authors")


def first_author(authors: Any) -> str | None:
    """The first name of an author list: the text before the first ``;``, ``,``, ``&``,
    `` and `` or ``et al`` (``"Smith, Jones and Lee"`` and ``"Smith et al."`` give
    ``"Smith"``)."""
    if authors is None:
        return None
    name = re.split(r"[;,&]|\s+and\s+|\s+et\.?\s+al\b", str(authors), maxsplit=1,
                    flags=re.IGNORECASE)[0].strip()
    return name or None


def study_label(row: Mapping[str, Any]) -> str | None:
    """``First author year`` as a study label (``Smith 2010``): the :func:`first_author`
    of the row's ``first_author``, ``author`` or ``authors`` (the first of a JSON lines
    list of author objects), and its ``year``."""
    author = next((row[k] for k in AUTHOR_COLUMNS if row.get(k)), None)
    author = _display(author[0]) if isinstance(author, list) else first_author(author)
    parts = [str(p).strip() for p in (author, _year(row.get("year"))) if p not in (None, "")]
    return " ".join(parts) or None


def _display(author: Any) -> str | None:
    """``Last FM`` of an author of a JSON lines records table (None if malformed)."""
    from ..records import Author

    if isinstance(author, str):
        return author
    try:
        return Author.from_dict(author).display or None if isinstance(author, dict) else None
    except ValueError:
        return None


def _suffixed(labels: Sequence[str | None]) -> list[str | None]:
    """Labels that occur more than once (ignoring case) get a, b, c … in row order, as in
    a reference list: ``Smith 2010a``, ``Smith 2010b``."""
    counts = Counter(label.casefold() for label in labels if label)
    given: Counter[str] = Counter()
    out: list[str | None] = []
    for label in labels:
        if label and counts[label.casefold()] > 1:
            key_ = label.casefold()
            label += _letters(given[key_])
            given[key_] += 1
        out.append(label)
    return out


def unique_label(base: str, taken: set[str]) -> str:
    """``base``, or ``base`` with the first free letter from b on (``Smith 2010b``) when a
    row already has it; ``taken`` holds case-folded labels."""
    label, n = base, 1
    while label.casefold() in taken:
        label, n = base + _letters(n), n + 1
    return label


def _letters(n: int) -> str:
    """0 → a … 25 → z, 26 → aa, 27 → ab …"""
    letters = ""
    while True:
        n, rest = divmod(n, 26)
        letters = chr(ord("a") + rest) + letters
        if not n:
            return letters
        n -= 1


def _year(value: Any) -> Any:
    """A year as a number where it is one (CSV gives text, JSON may give 2019.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


@dataclass(frozen=True)
class SheetPlan:
    """What goes into an extraction workbook: the design, extra fields, the study rows
    (record columns + optional prefilled values) and the records' source files."""

    design: str
    rows: tuple[Mapping[str, Any], ...]
    fields: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def write_extraction(plan: SheetPlan, path: Path) -> None:
    """Write the extraction workbook for ``plan`` to ``path``.

    Each row may carry values for any sheet column (e.g. ``events`` for a filled-in
    example); record columns are prefilled and grey; ``study`` defaults to
    ``first author year`` and ``include`` to ``yes``.
    """
    header = extraction_columns(plan.design, plan.fields)
    book, ws = common.new_workbook()
    ws.title = "extraction"
    body = []
    # duplicate labels would fail validation later: Smith 2010a, Smith 2010b now
    labels = _suffixed([row.get("study") or study_label(row) for row in plan.rows])
    for row, label in zip(plan.rows, labels, strict=True):
        values = {**row, "record_id": record_id(row), "year": _year(row.get("year"))}
        values["study"] = label
        values.setdefault("include", "yes")
        body.append([_cell_value(values.get(name)) for name in header])
    common.refuse_long_cells(
        ((f"{get_column_letter(c)}{r}", f"{name} of {row[0]}", value)
         for r, row in enumerate(body, start=2)
         for c, (name, value) in enumerate(zip(header, row, strict=True), start=1)), None,
        common.LONG_TEXT_HINT)
    widths = [16, 20, 8, 50, 22, 11, 24, 9] + [11] * (len(header) - 8)
    widths[header.index("notes")] = 40
    last = common.write_table(ws, header, body, locked=range(1, len(RECORD_COLUMNS) + 1),
                              widths=widths)
    # studies typed in below the prefilled ones get the same drop-downs and checks
    last = max(last + TYPED_ROWS, 200)
    kinds = {name: kind for name, kind, _ in DESIGNS[plan.design]}
    for col, name in enumerate(header, 1):
        if name == "include":
            common.add_validation(ws, col, 2, last, kind="list", choices=("yes", "no"))
        elif name in kinds:
            kind = kinds[name]
            common.add_validation(ws, col, 2, last,
                                  kind="whole" if kind == "count" else "decimal",
                                  minimum=_LIMITS[kind][0], maximum=_LIMITS[kind][1])
    codebook = [(name, _describe(name, plan.design, plan.fields)) for name in header]
    common.add_key_value_sheet(book, "codebook", ("column", "meaning"), codebook, (16, 90))
    about = [
        ("tool", f"metareview {metareview.__version__} (review sheet)"),
        ("design", plan.design),
        ("studies", len(body)),
        *(("source", s) for s in plan.sources),
        ("how to use", "Fill in the white columns, one study per row. Set include to no to "
                       "leave a study out. Then run: review pool <this file>"),
    ]
    common.add_key_value_sheet(book, "about", ("key", "value"), about, (16, 90))
    book.save(path)


#: Excel data-validation bounds per column kind.
_LIMITS: dict[str, tuple[float | None, float | None]] = {
    "count": (0, None), "positive": (0, None), "number": (None, None), "correlation": (-1, 1),
}


def _cell_value(value: Any) -> Any:
    if value is None or isinstance(value, (int, float, str, date, datetime)):
        return value
    return str(value)


def _describe(name: str, design: str, fields: Sequence[str]) -> str:
    fixed = {
        "record_id": "stable record id (PMID, DOI or a hash of the record); do not edit",
        "first_author": "first author, from the records (grey: prefilled)",
        "year": "publication year, from the records",
        "title": "title, from the records",
        "doi": "DOI, from the records",
        "pmid": "PubMed id, from the records",
        "study": "study label shown in tables and the forest plot; must be unique",
        "include": "yes to pool this study, no to leave it out (counted, not pooled)",
        "subgroup": "optional subgroup for `review pool --by subgroup`",
        "notes": "free text: where the numbers come from (table, page), doubts",
    }
    if name in fixed:
        return fixed[name]
    for data_name, kind, text in DESIGNS[design]:
        if data_name == name:
            rule = {"count": "whole number ≥ 0", "positive": "number ≥ 0", "number": "number",
                    "correlation": "number from -1 to 1"}
            return f"{text}; {rule[kind]}"
    return "reviewer-defined field (--field); free text, usable with --by or --cumulative"


def read_records(paths: Sequence[str | Path], stdin: BinaryIO | None = None,
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of records tables (their ``record_id`` kept) and of article files
    (:meth:`~metareview.records.Article.to_row`), read by
    :func:`metareview.dedupe.read_sources`, with the source files they name (else the
    input's own name)."""
    from ..dedupe import read_sources

    rows: list[dict[str, Any]] = []
    sources: list[str] = []
    for name, table, articles in read_sources(paths, stdin=stdin):
        more = table if table is not None else [a.to_row() for a in articles]
        names = sorted({str(r["source_file"]) for r in more if r.get("source_file")})
        rows += more
        sources += [s for s in names or [name] if s not in sources]
    return rows, sources


def read_record_rows(path: str | Path, data: bytes | None = None,
                     ) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a records table written by ``review parse`` (CSV, JSONL or XLSX), with the
    source files they name; ``data`` is its content when already read (``path`` then only
    names it). Article XML is read by :mod:`metareview.articles` instead."""
    if data is None:
        data = Path(path).read_bytes()
    name = Path(path).name
    if data.lstrip()[:1] == b"{":
        rows = []
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text (byte {exc.start})", name,
                             "write JSON lines as UTF-8") from None
        # lines end at \n only: U+2028, U+0085 and the like may stand unescaped in a string
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"not JSON ({exc.msg})", f"{name}:{number}:{exc.colno}",
                                     "each line must be one JSON object") from None
                if not isinstance(rows[-1], dict):
                    raise InputError("not a JSON object", f"{name}:{number}",
                                     "each line must be one JSON object") from None
    elif data.startswith(common.XLSX_MAGIC):
        table = common.read_table(path, data=data)
        names = [str(c.value) for c in table.header]
        rows = [{n: c.value for n, c in zip(names, row, strict=True) if c.value is not None}
                for row in table.rows]
    else:  # CSV as plain strings: no Cell per value, which costs more than the parsing
        records = (r for r in common.csv_records(data, name)[0] if any(v.strip() for v in r))
        header = [v.strip() for v in next(records, [])]
        while header and not header[-1]:
            header.pop()
        if not header:
            raise InputError("the sheet is empty", name, "put a header row and one row per study")
        rows = [row for record in records
                if (row := {n: v.strip() for n, v in zip(header, record, strict=False)
                            if v.strip()})]
    sources = sorted({str(r["source_file"]) for r in rows if r.get("source_file")})
    return rows, sources


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyTable:
    """The included studies of a validated sheet.

    ``values`` maps the design's data columns to floats (``nan`` only where a column is
    optional, e.g. ``vi`` when ``sei`` is given). ``columns`` holds every other column by
    its header (subgroup, notes, reviewer fields), as read. ``rows`` are the sheet rows.
    """

    source: str
    design: str
    studies: tuple[str, ...]
    values: Mapping[str, tuple[float, ...]]
    columns: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    rows: tuple[int, ...] = ()
    excluded: int = 0

    @property
    def k(self) -> int:
        return len(self.studies)

    def column(self, name: str) -> tuple[Any, ...]:
        """Any column by name (matched like headers); an :class:`OptionError` if absent."""
        if key(name) == "study":  # kept as ``studies``, not among ``columns``
            return self.studies
        for header, values in [*self.columns.items(), *self.values.items()]:
            if key(header) == key(name):
                return values
        known = ", ".join([*self.columns, *self.values])
        raise OptionError(f"no column {name!r} in {self.source}", hint=f"other columns: {known}")

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "design": self.design, "studies": list(self.studies),
                "values": {k: list(v) for k, v in self.values.items()},
                "columns": {k: list(v) for k, v in self.columns.items()},
                "rows": list(self.rows), "excluded": self.excluded}


def infer_design(headers: Iterable[str]) -> str | None:
    """The design named by the columns present, or ``None``."""
    keys = {key(h) for h in headers}
    if keys & {"mean1", "m1i"}:
        return "continuous"
    if keys & {"persontime", "ti"}:
        return "rate"
    if keys & {"r", "ri"}:
        return "correlation"
    if keys & {"events1", "ai", "ci"}:
        return "binary"
    if keys & {"events", "xi"}:
        return "proportion"
    if "yi" in keys:
        return "generic"
    return None


#: Columns besides the data that a column mapping may name.
MAPPABLE = ("study", "include", "author", "year")


def column_keys(design: str) -> tuple[str, ...]:
    """The names a column mapping may give for a ``design`` sheet: its data columns
    (binary: also ``nonevents_1``, ``nonevents_2``), then :data:`MAPPABLE`."""
    if design not in DESIGNS:
        raise OptionError(f"unknown design {design!r}", hint=f"choose one of: {', '.join(DESIGNS)}")
    data = [name for name, _, _ in DESIGNS[design]]
    if design == "binary":
        data += ["nonevents_1", "nonevents_2"]
    return (*data, *MAPPABLE)


def check_columns(design: str | None,
                  columns: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, str]:
    """A column mapping ``{our name: your header}`` (or its pairs) checked for a ``design``
    sheet and returned with our names spelled as :func:`column_keys` spells them. An
    :class:`OptionError` for a name that is not one of them, a header that is not
    non-empty text, or two names given the same header (headers compare as sheet
    headers do: ignoring case and spaces). With ``design`` None (not known yet) the
    names are kept as given and only the headers are checked."""
    valid = column_keys(design) if design else ()
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    pairs = columns.items() if isinstance(columns, Mapping) else columns
    for name, header in pairs:
        ours = next((k for k in valid if key(k) == key(str(name))), None) if design else name
        if ours is None:
            raise OptionError(f"--columns {name}: not a column of a {design} sheet",
                              hint=f"map any of: {', '.join(valid)}")
        if not isinstance(header, str) or not key(header):
            raise OptionError(f"--columns {ours}: the header must be a column name",
                              hint=f"give the header of your {ours} column as text, "
                                   f'e.g. {ours} = "N"')
        if any(key(ours) == key(other) for other in out):
            raise OptionError(f"--columns gives {ours} twice", hint="map each column once")
        if key(header) in taken:
            raise OptionError(f"--columns maps both {taken[key(header)]} and {ours} to "
                              f"{header!r}", hint="map each of your columns to one name")
        out[ours] = header.strip()
        taken[key(header)] = ours
    return out


def parse_columns(texts: Iterable[str]) -> dict[str, str]:
    """``--columns`` texts (``"events=Events,total=N"``, each repeatable) as a mapping
    ``{our name: your header}``, its headers checked by :func:`check_columns` (the names
    are checked against the design when the sheet is read)."""
    from ..formula import parse_pairs

    hint = "give name=header pairs, e.g. events=Events,total=N"
    return check_columns(None, [pair for text in texts
                                for pair in parse_pairs(text, "--columns", hint)])


def read_extraction(source: str | Path, *, sheet: str | None = None, design: str | None = None,
                    required: Iterable[str] = (), data: bytes | None = None,
                    name: str | None = None,
                    columns: Mapping[str, str] | None = None) -> StudyTable:
    """Read and validate a study sheet (.xlsx or CSV; ``data`` bytes for stdin).

    ``required`` names extra columns that every included row must fill (e.g. the
    ``--by`` column). ``columns`` maps our column names to the sheet's own headers
    (``{"events": "Events", "total": "N", "study": "Author"}``, see :func:`check_columns`);
    mapped columns go by our names. Without a study column, labels are built from author
    and year columns (``Smith 2010``; ``Smith 2010a``, ``Smith 2010b`` for two).
    Raises :class:`ValidationError` listing every bad cell.
    """
    table = common.read_table(source, sheet=sheet, skip=HELPER_SHEETS, data=data, name=name)
    return validate(table, design=design, required=required, columns=columns)


def validate(table: common.RawTable, *, design: str | None = None,
             required: Iterable[str] = (),
             columns: Mapping[str, str] | None = None) -> StudyTable:
    """Check every cell of ``table``; return the included studies (see :func:`read_extraction`)."""
    headers = [str(c.value).strip() for c in table.header]
    given = check_columns(None, columns or {})
    mapped = {key(h): name for name, h in given.items()}
    design = design or infer_design([mapped.get(key(h), h) for h in headers])
    if design is None:
        raise InputError(
            "cannot tell the design from the columns", table.source,
            "name the data columns events,total (proportions), events_1,total_1,events_2,total_2 "
            "(binary), mean_1,sd_1,n_1,mean_2,sd_2,n_2 (continuous), events,person_time "
            "(rate), r,n (correlation) or yi,vi (generic), map your own headers to these "
            "names with --columns (e.g. --columns events=Cases,total=N), or give --design",
        )
    checker = _Checker(table, design, headers, list(required), check_columns(design, given))
    return checker.run()


def _missing_hint(missing: Sequence[str]) -> str:
    """How to supply missing columns: map them, build study labels, or change --design."""
    pairs = ",".join(f"{name}=<header>" for name in missing)
    names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 1
                         else missing)
    fixes = [f"name the column{'s' if len(missing) > 1 else ''} that "
             f"{'hold' if len(missing) > 1 else 'holds'} {names} with --columns {pairs}"]
    if "study" in missing:
        fixes.append("add author and year columns to label the studies (Smith 2010)")
    if missing != ["study"]:
        fixes.append("give the right --design")
    return ", ".join(fixes[:-1]) + f", or {fixes[-1]}"


def _cell_order(problem: ReviewError) -> tuple[int, int]:
    """Sort problems by row, then column, of their ``book!C7`` location."""
    ref = (problem.location or "").rsplit("!", 1)[-1]
    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    if not match:
        return (0, 0)
    column = 0
    for char in match.group(1):
        column = column * 26 + ord(char) - 64
    return (int(match.group(2)), column)


class _Checker:
    """One pass over the sheet that collects every problem before raising."""

    def __init__(self, table: common.RawTable, design: str, headers: list[str],
                 required: list[str], columns: Mapping[str, str]) -> None:
        self.table = table
        self.design = design
        self.problems: list[ReviewError] = []
        self.index: dict[str, int] = {}
        aliases = ALIASES[design]
        self.columns = columns
        mapped = {key(header): name for name, header in columns.items()}
        present = {key(h) for h in headers}
        #: (our name, header) pairs of the mapping whose header the sheet lacks
        self.unmatched = [(n, h) for n, h in columns.items() if key(h) not in present]
        for i, header in enumerate(headers):
            if key(header) in mapped:
                canonical = mapped[key(header)]
            else:
                name = aliases.get(key(header), header)
                canonical = next((n for n, _, _ in DESIGNS[design] if key(n) == key(name)),
                                 name)
                if key(canonical) in {key(n) for n in columns}:
                    ours = next(n for n in columns if key(n) == key(canonical))
                    self.error(table.header[i], f"column {header!r} would be read as {ours}, "
                               f"which the column mapping reads from {columns[ours]!r}",
                               f"rename column {header!r}, or leave {ours} out of the mapping")
                    continue
            if key(canonical) in {key(n) for n in self.index}:
                self.error(table.header[i], f"column {header!r} appears twice",
                           "delete or rename one of them")
                continue
            self.index[canonical] = i
        self.required = required

    def error(self, cell: common.Cell, what: str, hint: str) -> None:
        self.problems.append(InputError(what, self.table.where(cell.ref), hint))

    def find(self, name: str) -> int | None:
        for header, i in self.index.items():
            if key(header) == key(name):
                return i
        return None

    def run(self) -> StudyTable:
        table = self.table
        spec = list(DESIGNS[self.design])
        arms_as_cells = self.find("total_1") is None and self.find("nonevents_1") is not None
        if self.design == "binary" and arms_as_cells:
            spec = [("events_1", "count", ""), ("nonevents_1", "count", ""),
                    ("events_2", "count", ""), ("nonevents_2", "count", "")]
        needed = [n for n, _, _ in spec if n not in ("vi", "sei")]
        if self.design == "generic" and self.find("vi") is None and self.find("sei") is None:
            needed.append("vi")
        found = ", ".join(str(c.value) for c in table.header)
        corner = table.where(table.header[0].ref if table.header else "A1")
        if self.unmatched:
            raise InputError(
                f"no column {', '.join(repr(h) for _, h in self.unmatched)} (mapped to "
                f"{', '.join(n for n, _ in self.unmatched)})", corner,
                f"columns found: {found}; map to one of these")
        study_col = self.find("study")
        author_col, year_col = self.label_columns()
        missing = [n for n in needed if self.find(n) is None]
        if study_col is None and (author_col is None or year_col is None):
            missing.append("study")
        if missing:
            raise InputError(
                f"no column {', '.join(repr(m) for m in missing)} for a {self.design} sheet",
                corner, f"columns found: {found}; {_missing_hint(missing)}")
        missing = [n for n in self.required if self.find(n) is None]
        if missing:
            raise OptionError(f"no column {', '.join(repr(m) for m in missing)} in {table.source}",
                              hint=f"columns found: {found}")
        for rng in table.merged:
            self.problems.append(InputError(
                f"cells {rng} are merged", table.where(rng.split(":")[0]),
                "unmerge them and put one value in each cell"))
        for cell in table.stray:
            self.error(cell, "has a value but its column has no header",
                       "add a column name in the header row or clear the cell")
        if table.hidden_rows:
            hidden = ", ".join(str(r) for r in table.hidden_rows)
            noun = "rows" if len(table.hidden_rows) > 1 else "row"
            warnings.warn(f"{table.source}: {noun} {hidden} hidden but read like the others",
                          ReviewWarning, stacklevel=2)
        include_col = self.find("include")
        built = None
        if study_col is None:
            assert author_col is not None and year_col is not None
            built = _suffixed([self.built_label(row, author_col, year_col)
                               for row in table.rows])
        kinds = dict((n, k) for n, k, _ in spec)
        data_cols = {n: self.find(n) for n in kinds}
        values: dict[str, list[float]] = {n: [] for n in kinds if data_cols[n] is not None}
        others = {h: i for h, i in self.index.items()
                  if i not in data_cols.values() and h not in ("study", "include")}
        columns: dict[str, list[Any]] = {h: [] for h in others}
        studies: list[str] = []
        rows: list[int] = []
        seen: dict[str, str] = {}
        excluded = 0
        for number, row in enumerate(table.rows):
            if not self.included(row, include_col):
                excluded += 1
                continue
            for cell in row:
                if cell.formula_unsaved:
                    self.error(cell, "holds a formula whose result was never saved",
                               "open the file in Excel or LibreOffice, let it calculate, "
                               "and save it")
            if built is None:
                assert study_col is not None
                label_cell = row[study_col]
                label = self.text(label_cell)
            else:
                assert author_col is not None and year_col is not None
                label_cell, label = row[author_col], built[number]
            if label is None:
                if built is not None:
                    self.label_parts_missing(row, author_col, year_col)
                elif not label_cell.formula_unsaved:
                    self.error(label_cell, "study is empty", "give the study a unique label")
            elif label.casefold() in seen:
                self.error(label_cell, f"study {label!r} is also in {seen[label.casefold()]}",
                           "give each study a unique label (e.g. Smith 2001a, Smith 2001b)")
            else:
                seen[label.casefold()] = label_cell.ref
            numbers = {n: self.number(row[i], n, kinds[n])
                       for n, i in data_cols.items() if i is not None}
            self.check_row(row, numbers, data_cols)
            for name in self.required:
                i = self.find(name)
                assert i is not None
                if self.text(row[i]) is None and not row[i].formula_unsaved:
                    self.error(row[i], f"{table.header[i].value} is empty",
                               f"{_EMPTY_HINT} (needed for {name})")
            studies.append(label or "")
            rows.append(row[0].row)
            for n in values:
                values[n].append(math.nan if numbers[n] is None else numbers[n])  # type: ignore[arg-type]
            for h, i in others.items():
                columns[h].append(self.optional(row[i]))
        if not studies and not self.problems:
            raise InputError("no included studies", table.source,
                             "fill in at least one row with include = yes")
        if self.problems:
            raise ValidationError(sorted(self.problems, key=_cell_order), table.source)
        if "nonevents_1" in values:
            for arm in ("1", "2"):  # metafor ai, bi (non-events) form: total = a + b
                nonevents = values.pop(f"nonevents_{arm}")
                values[f"total_{arm}"] = [
                    a + b for a, b in zip(values[f"events_{arm}"], nonevents, strict=True)]
        return StudyTable(table.source, self.design, tuple(studies),
                          {n: tuple(v) for n, v in values.items()},
                          {h: tuple(v) for h, v in columns.items()}, tuple(rows), excluded)

    def label_columns(self) -> tuple[int | None, int | None]:
        """The author and year columns that study labels are built from."""
        author = self.find("author") if "author" in self.columns else next(
            (i for n in AUTHOR_COLUMNS if (i := self.find(n)) is not None), None)
        return author, self.find("year")

    def built_label(self, row: Sequence[common.Cell], author: int, year: int) -> str | None:
        """``Author year`` from the row's cells; ``None`` when either is missing."""
        name, when = first_author(self.text(row[author])), self.text(row[year])
        return None if name is None or when is None else study_label(
            {"author": name, "year": when})

    def label_parts_missing(self, row: Sequence[common.Cell], author: int | None,
                            year: int | None) -> None:
        for i in (author, year):
            assert i is not None
            text = self.text(row[i])
            if row[i].formula_unsaved or (text is not None and first_author(text) is not None):
                continue
            what = "is empty" if text is None else f"is {text!r}, not an author name"
            self.error(row[i], f"{self.table.header[i].value} {what}",
                       "fill it in: without a study column the study label is built from "
                       "author and year (or add a study column)")

    def included(self, row: Sequence[common.Cell], col: int | None) -> bool:
        if col is None:
            return True
        cell = row[col]
        text = self.text(cell)
        if text is None or text.lower() in YES:
            return True
        if text.lower() in NO:
            return False
        self.error(cell, f"include is {text!r}", "use yes or no")
        return True

    @staticmethod
    def text(cell: common.Cell) -> str | None:
        if cell.value is None:
            return None
        if isinstance(cell.value, float) and cell.value.is_integer():
            return str(int(cell.value))
        text = str(cell.value).strip()
        return text or None

    def optional(self, cell: common.Cell) -> Any:
        """An optional cell's value, with the usual missing-value spellings as ``None``."""
        value = cell.value
        if isinstance(value, str) and value.strip().lower() in MISSING_TOKENS:
            return None
        return value

    def number(self, cell: common.Cell, name: str, kind: str) -> float | None:
        """A numeric cell as float; ``None`` (after reporting) when it is not usable."""
        value = cell.value
        optional = self.design == "generic" and name in ("vi", "sei")
        if cell.formula_unsaved:
            return None
        if value is None:
            if not optional:
                self.error(cell, f"{name} is empty", _EMPTY_HINT)
            return None
        if isinstance(value, bool):
            self.error(cell, f"{name} is {str(value).upper()}, not a number", "enter a number")
            return None
        if isinstance(value, (datetime, date, time)):
            self.error(cell, f"{name} is a date or time ({value}), not a number",
                       "format the cell as Number and type the value again")
            return None
        if isinstance(value, str):
            text = value.strip().replace("\u2212", "-")
            if text.lower() in MISSING_TOKENS:
                if not optional:
                    self.error(cell, f"{name} is {value!r} (missing)", _EMPTY_HINT)
                return None
            if self.table.decimal_comma and re.fullmatch(r"[+-]?\d+,\d+", text):
                text = text.replace(",", ".")  # 0,5 in a ";"-separated CSV
            try:
                value = float(text)
            except ValueError:
                hint = ("write it without commas, with a decimal point for decimals"
                        if re.fullmatch(r"-?\d+,\d+", text)
                        else "enter a number only (comments go in the notes column)")
                self.error(cell, f"{name} is {value!r}, not a number", hint)
                return None
        number = float(value)
        if not math.isfinite(number):
            self.error(cell, f"{name} is {value}, not a finite number", "enter a number")
            return None
        if abs(number) > MAX_MAGNITUDE:  # squares and sums of such values overflow
            self.error(cell, f"{name} is {number:g}, out of range",
                       f"values up to {MAX_MAGNITUDE:g} in size are computed with; "
                       "check the cell (a misplaced exponent?)")
            return None
        if kind == "correlation" and abs(number) > 1:
            self.error(cell, f"{name} is {number:g}; a correlation lies between -1 and 1",
                       "enter the correlation coefficient, not a percentage or a statistic")
            return None
        if kind in ("count", "positive") and number < 0:
            self.error(cell, f"{name} is {number:g}; it cannot be negative", "enter a value ≥ 0")
            return None
        if kind == "count" and not number.is_integer():
            self.error(cell, f"{name} is {number:g}; counts must be whole numbers",
                       "enter the number of participants, not a percentage or mean")
            return None
        return number

    def check_row(self, row: Sequence[common.Cell], numbers: Mapping[str, float | None],
                  cols: Mapping[str, int | None]) -> None:
        for small, large in _PAIRS[self.design]:
            a, n = numbers.get(small), numbers.get(large)
            i, j = cols.get(small), cols.get(large)
            if i is None or j is None or a is None or n is None:
                continue
            if n == 0:
                self.error(row[j], f"{large} is 0", "a study needs at least one participant")
            elif a > n:
                self.error(row[i], f"{small} is {a:g} but {large} is {n:g}",
                           f"{small} cannot exceed {large}; check both cells")
        for name in ("n_1", "n_2"):
            i = cols.get(name)
            value = numbers.get(name)
            if i is not None and value is not None and value < 2:
                self.error(row[i], f"{name} is {value:g}", "a group needs at least 2 participants "
                           "for a standard deviation")
        i = cols.get("person_time")
        if i is not None and numbers.get("person_time") == 0:
            self.error(row[i], "person_time is 0", "a rate needs person-time above 0")
        i = cols.get("n")
        if self.design == "correlation" and i is not None and numbers.get("n") == 0:
            self.error(row[i], "n is 0", "give the sample size of the correlation")
        for name in ("sd_1", "sd_2"):  # negative ones are reported as negative already
            i = cols.get(name)
            if i is not None and numbers.get(name) == 0:
                self.error(row[i], f"{name} is 0", "a standard deviation must be above 0; "
                           "give more decimals if it was rounded to 0")
        for arm in ("1", "2"):  # the events/non-events form: the group must not be empty
            i, j = cols.get(f"events_{arm}"), cols.get(f"nonevents_{arm}")
            a, b = numbers.get(f"events_{arm}"), numbers.get(f"nonevents_{arm}")
            if i is not None and j is not None and a == 0 and b == 0:
                self.error(row[j], f"events_{arm} and nonevents_{arm} are both 0",
                           "a group needs at least one participant")
        if self.design == "generic":
            vi, sei = numbers.get("vi"), numbers.get("sei")
            if vi is None and sei is None and all(
                    row[i].value is None or str(row[i].value).strip().lower() in MISSING_TOKENS
                    for i in (cols.get("vi"), cols.get("sei")) if i is not None):
                i = cols.get("vi") if cols.get("vi") is not None else cols.get("sei")
                assert i is not None
                self.error(row[i], "vi and sei are both empty",
                           "give the variance or the standard error")


# --- a workbook the reviewer works in: its rows, and rows appended to it ----------------


def known_rows(path: Path) -> tuple[set[str], set[str]] | None:
    """The record ids and the study labels (casefolded) of the rows of the extraction
    sheet at ``path``; ``None`` when it has no record_id column to match records by."""
    table = common.read_table(path, skip=HELPER_SHEETS)
    names = [key(str(c.value)) for c in table.header]
    if "recordid" not in names:
        return None
    column = names.index("recordid")
    ids = {str(row[column].value) for row in table.rows if row[column].value is not None}
    labels = ({str(row[names.index("study")].value).casefold() for row in table.rows}
              if "study" in names else set())
    return ids, labels


def pending_rows(table: common.RawTable, design: str, columns: Mapping[str, str] | None = None,
                 ) -> tuple[list[tuple[str, str]], int, list[str]]:
    """The included rows (include not set to no) of an extraction sheet whose data cells
    are all empty, as ``(cell, record id and study)``; the number of included rows; and
    the headers of the design's data columns (found through the ``columns`` mapping of
    :func:`check_columns` where it names them)."""
    names = [key(str(c.value)) for c in table.header]
    mapped = {name: key(header) for name, header in (columns or {}).items()}

    def header(name: str) -> str:
        return mapped.get(name, key(name))

    data = [names.index(header(n)) for n, _, _ in DESIGNS[design] if header(n) in names]
    include = header("include")
    included = [row for row in table.rows if include not in names
                or str(row[names.index(include)].value).strip().lower() not in NO]
    label = [names.index(n) for n in ("recordid", header("study")) if n in names]
    waiting = [(table.where(row[data[0]].ref), "  ".join(str(row[i].value or "") for i in label))
               for row in included if data and all(row[i].value is None for i in data)]
    return waiting, len(included), [str(table.header[i].value) for i in data]


def append_rows(path: Path, render: Callable[[Path], None]) -> None:
    """Append the data rows that ``render`` writes (into a scratch workbook) to the
    workbook at ``path``, matching columns by name and keeping the reviewer's sheet as it
    is: values, styles and data validations of the new rows come from the writer."""
    import tempfile
    from copy import copy

    from openpyxl.worksheet.cell_range import CellRange, MultiCellRange

    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch) / "new.xlsx"
        render(fresh)
        source = common.open_workbook(fresh, fresh.name).worksheets[0]
    book = common.open_workbook(Path(path), Path(path).name)
    ws = next(s for s in book.worksheets if s.title.lower() not in HELPER_SHEETS)
    header_row = next(row[0].row for row in ws.iter_rows()
                      if any(c.value is not None for c in row))
    where = {key(str(c.value)): c.column for c in ws[header_row] if c.value is not None}
    last = max((c.row for row in ws.iter_rows() for c in row if c.value is not None),
               default=header_row)
    columns = {c.column: where.get(key(str(c.value))) for c in source[1]}
    for offset, row in enumerate(source.iter_rows(min_row=2), start=1):
        for cell in row:
            target_col = columns.get(cell.column)
            if target_col is None:  # a column the reviewer deleted
                continue
            target = common.keep_text(ws.cell(last + offset, target_col, cell.value))
            target.font, target.fill = copy(cell.font), copy(cell.fill)
            target.alignment, target.number_format = copy(cell.alignment), cell.number_format
    end = last + source.max_row - 1

    def grown(c: CellRange) -> CellRange:
        return CellRange(min_col=c.min_col, min_row=c.min_row, max_col=c.max_col,
                         max_row=max(c.max_row, end))

    for validation in ws.data_validations.dataValidation:
        ranges = [grown(c) if c.min_row > header_row else c for c in validation.sqref.ranges]
        validation.sqref = MultiCellRange(" ".join(c.coord for c in ranges))
    if ws.auto_filter.ref:
        ws.auto_filter.ref = grown(CellRange(ws.auto_filter.ref)).coord
    with atomic_path(path, force=True) as tmp:
        book.save(tmp)
