"""Screening workbooks: title/abstract and full-text, written from records and read back.

Title/abstract: one row per unique record with grey record columns and a ``decision``
(include / exclude / maybe), ``reason`` and ``reviewer``. Full-text: one row per record
included (or ``maybe``) at title/abstract, with ``retrieved`` (yes/no), ``decision``
(include / exclude) and an ``exclusion_reason`` offered from a list.

Reading matches rows by ``record_id`` and columns by name, so a reviewer may sort, filter,
hide rows and add columns. Two reviewers' workbooks are compared with Cohen's kappa.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

import metareview

from ..errors import InputError, OptionError, ReviewError, ValidationError
from ..fileio import atomic_path, check_output
from . import common
from .extraction import key, read_records, record_id

STAGES = ("title-abstract", "full-text")
DECISIONS = {"title-abstract": ("include", "exclude", "maybe"), "full-text": ("include", "exclude")}
DEFAULT_REASONS = (
    "wrong population",
    "wrong intervention or exposure",
    "wrong outcome",
    "wrong study design",
    "duplicate report",
    "full text not in a language we read",
)
HELPER_SHEETS = ("reasons", "about")

_RECORD_COLUMNS = {
    "title-abstract": ("record_id", "first_author", "year", "title", "abstract", "journal", "doi"),
    "full-text": ("record_id", "first_author", "year", "title", "journal", "doi", "pmid"),
}
_WORK_COLUMNS = {
    "title-abstract": ("decision", "reason", "reviewer"),
    "full-text": ("retrieved", "decision", "exclusion_reason", "reviewer", "notes"),
}
_WIDTHS = {"record_id": 18, "first_author": 18, "year": 7, "title": 60, "abstract": 90,
           "journal": 24, "doi": 24, "pmid": 11, "decision": 11, "reason": 30,
           "exclusion_reason": 32, "retrieved": 10, "reviewer": 12, "notes": 40}
_Row = TypeVar("_Row", bound=Mapping[str, Any])
_YES = frozenset({"yes", "y", "true", "1"})
_NO = frozenset({"no", "n", "false", "0"})


def _stage(stage: str) -> str:
    if stage not in STAGES:
        raise OptionError(f"unknown screening stage {stage!r}",
                          hint=f"choose one of: {', '.join(STAGES)}")
    return stage


def screening_columns(stage: str) -> tuple[str, ...]:
    """The header of the workbook for ``stage``."""
    return (*_RECORD_COLUMNS[_stage(stage)], *_WORK_COLUMNS[stage])


# --- writing -----------------------------------------------------------------------------


def write_screening(
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    stage: str = "title-abstract",
    reasons: Sequence[str] = DEFAULT_REASONS,
    sources: Sequence[str] = (),
) -> None:
    """Write a screening workbook with one row per record.

    ``rows`` are record rows as ``review parse`` / ``review dedupe`` write them (``record_id``
    kept when present, else made by :func:`~metareview.sheets.extraction.record_id`). At the
    full-text stage ``reasons`` become the drop-down list of the ``exclusion_reason`` column.
    Texts longer than an Excel cell holds are refused (an
    :class:`~metareview.errors.OutputError` naming their cells) rather than cut.
    """
    header = screening_columns(stage)
    reasons = _check_reasons(reasons)
    ids, body = _body(rows, header)
    _refuse_long((f"{get_column_letter(c)}{r}", name, rid, value)
                 for r, (rid, values) in enumerate(zip(ids, body, strict=True), start=2)
                 for c, (name, value) in enumerate(zip(header, values, strict=True), start=1))
    book, ws = common.new_workbook()
    ws.title = "screening" if stage == "title-abstract" else "full-text"
    last = common.write_table(ws, header, body, locked=range(1, len(_RECORD_COLUMNS[stage]) + 1),
                              widths=[_WIDTHS[name] for name in header])
    _wrap(ws, 2)
    if stage == "full-text":
        common.add_key_value_sheet(book, "reasons", ("exclusion reason",),
                                   [(r,) for r in reasons], (60,))
    _validate(ws, stage, {name: i for i, name in enumerate(header, 1)}, 2, max(last, 2),
              len(reasons))
    how = ("Set decision to include, exclude or maybe for every record; give a reason when "
           "you exclude. Sort, filter and add columns freely; keep record_id as it is."
           if stage == "title-abstract" else
           "Set retrieved to yes or no; for each retrieved report set decision to include, "
           "or exclude with an exclusion_reason from the list (another reason may be typed).")
    about = [("tool", f"metareview {metareview.__version__} (review screen)"), ("stage", stage),
             ("records", len(body)), *(("source", s) for s in sources), ("how to use", how)]
    common.add_key_value_sheet(book, "about", ("key", "value"), about, (16, 90))
    book.save(path)


@dataclass(frozen=True)
class ScreeningUpdate:
    """What :func:`update_screening` did: record ids added as new rows, and ids still in
    the workbook that are no longer among the records (left in place for the reviewer)."""

    stage: str
    added: tuple[str, ...]
    missing: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "added": list(self.added), "missing": list(self.missing)}


def update_screening(
    source: Path, rows: Sequence[Mapping[str, Any]], target: Path
) -> ScreeningUpdate:
    """Add the records a filled-in workbook lacks as new rows at its end, keeping every
    decision, added column, sort order and filter; save the result to ``target``.

    The workbook is read (and checked) first with :func:`read_screening`. Nothing is
    removed: records that disappeared are only reported in :attr:`ScreeningUpdate.missing`.
    """
    sheet = read_screening(source)
    have = {d.record_id for d in sheet.decisions}
    ids, body = _body(rows, screening_columns(sheet.stage))
    wanted = set(ids)
    book = common.open_workbook(Path(source), Path(source).name)
    ws = next(w for w in book.worksheets if w.title.lower() not in HELPER_SHEETS)
    header_row = next(r for r in ws.iter_rows() if any(
        c.value is not None and key(str(c.value)) == key("record_id") for c in r))
    column = {key(str(c.value)): c.column for c in header_row if c.value is not None}
    position = {name: column.get(key(name)) for name in screening_columns(sheet.stage)}
    start = ws.max_row + 1
    new = [(rid, values) for rid, values in zip(ids, body, strict=True) if rid not in have]
    _refuse_long((f"{get_column_letter(position[name] or 1)}{r}", name, rid, value)
                 for r, (rid, values) in enumerate(new, start=start)
                 for name, value in zip(screening_columns(sheet.stage), values, strict=True)
                 if position[name] is not None)
    added: list[str] = []
    scrub = common.Scrub()
    for rid, values in new:
        row = start + len(added)
        for name, value in zip(screening_columns(sheet.stage), values, strict=True):
            col = position[name]
            if col is not None and value is not None:
                cell = common.keep_text(ws.cell(row, col, scrub(value)))
                cell.alignment = common.WRAP
                if name in _RECORD_COLUMNS[sheet.stage]:
                    cell.fill, cell.font = common.LOCKED_FILL, common.LOCKED_FONT
        added.append(rid)
    scrub.warn(str(source))
    if added:
        last = start + len(added) - 1
        _wrap(ws, start)
        reasons = book["reasons"].max_row - 1 if "reasons" in book.sheetnames else 0
        _validate(ws, sheet.stage, {k: v for k, v in position.items() if v}, start, last, reasons)
        if ws.auto_filter.ref:
            ws.auto_filter.ref = f"{ws.auto_filter.ref.split(':')[0]}:" \
                                 f"{get_column_letter(ws.max_column)}{last}"
    book.save(target)
    missing = tuple(d.record_id for d in sheet.decisions if d.record_id not in wanted)
    return ScreeningUpdate(sheet.stage, tuple(added), missing)


@dataclass(frozen=True)
class ScreeningWrite:
    """What :func:`write_or_update` did: the workbook ``path``, its ``stage`` and number of
    ``records`` when written anew, or the :class:`ScreeningUpdate` when updated."""

    path: str
    stage: str
    records: int
    update: ScreeningUpdate | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "stage": self.stage, "records": self.records,
                "update": self.update.to_dict() if self.update else None}

    def summary(self) -> str:
        """The lines ``review screen`` prints."""
        if self.update is None:
            return f"wrote {self.path}: {self.records:,} records for {self.stage} screening"
        done = self.update
        lines = [f"updated {self.path}: {len(done.added):,} new record(s) added as new rows"]
        if done.missing:
            lines.append(f"{len(done.missing):,} record(s) in the workbook are no longer among "
                         f"the records (left in place): {', '.join(done.missing)}")
        return "\n".join(lines)


def write_or_update(
    records: Sequence[str | Path],
    target: str | Path,
    *,
    stage: str = "title-abstract",
    reasons: str | Sequence[str] | None = None,
    screened: str | Path | None = None,
    update: bool = False,
    force: bool = False,
) -> ScreeningWrite:
    """Read ``records`` (records tables or article files, ``-`` for stdin) and write the
    screening workbook ``target`` atomically, or with ``update`` add the new records to
    the existing ``target`` (:func:`update_screening`; a missing ``target`` is written anew).

    At the full-text stage ``screened`` names the title/abstract workbook whose include
    and maybe records are kept. ``reasons`` is a list, or one text separated by ``;``
    (default :data:`DEFAULT_REASONS`). An existing ``target`` is refused without ``force``
    or ``update``; neither it nor any input is ever overwritten half-written.
    """
    inputs = [*records, *([screened] if screened else [])]
    update = update and Path(target).exists()
    check_output(target, inputs, force or update)
    if screened and stage != "full-text":
        raise OptionError("--screened is for the full-text stage",
                          hint="add --stage full-text")
    rows, sources = read_records(records)
    if screened:
        rows = read_screening(screened).select(rows)
    if isinstance(reasons, str):
        reasons = tuple(r.strip() for r in reasons.split(";")) if reasons else None
    listed = tuple(reasons) if reasons else DEFAULT_REASONS
    if update:
        with atomic_path(target, inputs, force=True) as tmp:
            done = update_screening(Path(target), rows, tmp)
        return ScreeningWrite(str(target), done.stage, len(rows), done)
    with atomic_path(target, inputs, force) as tmp:
        write_screening(rows, tmp, stage=stage, reasons=listed, sources=sources)
    return ScreeningWrite(str(target), stage, len(rows))


def _body(
    rows: Sequence[Mapping[str, Any]], header: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Record ids and cell values per row, refusing a record id that appears twice."""
    ids: list[str] = []
    body = []
    seen: set[str] = set()
    for row in rows:
        rid = record_id(row)
        if rid in seen:
            raise InputError(f"record id {rid} appears twice in the records",
                             hint="run `review dedupe` first, or give each record its own id")
        seen.add(rid)
        ids.append(rid)
        values = {**row, "record_id": rid}
        body.append([_cell(values.get(name), name) for name in header])
    return ids, body


def _wrap(ws: Any, first_row: int) -> None:
    for row_cells in ws.iter_rows(min_row=first_row):
        for cell in row_cells:
            cell.alignment = common.WRAP


def _validate(ws: Any, stage: str, column: Mapping[str, int], first: int, last: int,
              reasons: int) -> None:
    """Drop-down lists on the rows ``first``..``last`` of the decision columns."""
    if "decision" in column:
        common.add_validation(ws, column["decision"], first, last, kind="list",
                              choices=DECISIONS[stage])
    if stage == "full-text" and "retrieved" in column:
        common.add_validation(ws, column["retrieved"], first, last, kind="list",
                              choices=("yes", "no"))
    if stage == "full-text" and "exclusion_reason" in column and reasons:
        # A drop-down from the reasons sheet (an inline list stops at 255 characters) that
        # still accepts a reason typed in, so no error message.
        offer = DataValidation(type="list", formula1=f"reasons!$A$2:$A${reasons + 1}",
                               allow_blank=True, showErrorMessage=False)
        letter = get_column_letter(column["exclusion_reason"])
        offer.add(f"{letter}{first}:{letter}{last}")
        ws.add_data_validation(offer)


def _check_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(r.strip() for r in reasons if r.strip()))
    if not cleaned:
        raise OptionError("the list of exclusion reasons is empty",
                          hint='give e.g. --reasons "wrong population; wrong outcome"')
    return cleaned


def _cell(value: Any, column: str) -> Any:
    if isinstance(value, float) and value.is_integer() and column == "year":
        return int(value)
    if value is None or isinstance(value, (int, float)):
        return value
    return str(value)


def _refuse_long(cells: Iterable[tuple[str, str, str, Any]]) -> None:
    """Refuse texts longer than an Excel cell holds, naming each cell ``(ref, column,
    record id, value)``."""
    common.refuse_long_cells(
        ((ref, f"{column} of {rid}", value) for ref, column, rid, value in cells), None,
        common.LONG_TEXT_HINT)


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """One record's screening row as read. ``decision`` is lower-case (or ``None`` when
    empty); ``retrieved`` is ``None`` at the title/abstract stage or when left empty.
    ``cell`` is the location of the decision cell (``book.xlsx!H7``)."""

    record_id: str
    decision: str | None
    reason: str | None
    reviewer: str | None
    cell: str
    retrieved: bool | None = None
    retrieved_cell: str | None = None
    reason_cell: str | None = None

    @property
    def pending(self) -> bool:
        """Still to be decided: no decision, or at full text, a retrieved report without an
        include/exclude-with-reason outcome or a report whose retrieval is not recorded."""
        if self.retrieved_cell is not None:  # full-text stage
            if self.retrieved is None:
                return True
            if not self.retrieved:
                return False
            return self.decision is None or (self.decision == "exclude" and not self.reason)
        return self.decision is None

    @property
    def pending_cell(self) -> str:
        """The cell to fill in next: ``retrieved`` when unrecorded, the reason of a full-text
        exclusion without one, else the decision."""
        if self.retrieved_cell is not None and self.retrieved is None:
            return self.retrieved_cell
        if self.retrieved and self.decision == "exclude" and not self.reason and self.reason_cell:
            return self.reason_cell
        return self.cell


@dataclass(frozen=True)
class Screening:
    """A screening workbook read back: one :class:`Decision` per record, in sheet order."""

    source: str
    stage: str
    decisions: tuple[Decision, ...]

    @property
    def pending(self) -> tuple[Decision, ...]:
        """Rows still to be decided (see :attr:`Decision.pending`)."""
        return tuple(d for d in self.decisions if d.pending)

    def included(self) -> tuple[str, ...]:
        """Record ids that go on to the next stage: include (and maybe at title/abstract)."""
        go = {"include", "maybe"} if self.stage == "title-abstract" else {"include"}
        return tuple(d.record_id for d in self.decisions
                     if d.decision in go and d.retrieved is not False)

    def select(self, rows: Sequence[_Row]) -> list[_Row]:
        """The ``rows`` (records) this workbook sends on (:meth:`included`), matched by
        :func:`~metareview.sheets.extraction.record_id`. An :class:`InputError` when it
        sends records on but none of them is among ``rows`` (records of another search)."""
        keep = set(self.included())
        chosen = [row for row in rows if record_id(row) in keep]
        if keep and not chosen:
            raise InputError(
                f"none of the {len(keep):,} record(s) included in this workbook is among "
                "the records", self.source,
                "give the records the workbook was written from (the same `review dedupe` "
                "output), so their record ids match")
        return chosen

    def counts(self) -> dict[str, Any]:
        """Decisions per value (``undecided`` for pending rows); at full text also
        ``not_retrieved`` and ``reasons`` (exclusion reason → n)."""
        tally = Counter(_outcome(d) for d in self.decisions)
        out: dict[str, Any] = {"records": len(self.decisions)}
        out.update({name: 0 for name in (*DECISIONS[self.stage], "undecided")})
        out.update(tally)
        if self.stage == "full-text":
            out.setdefault("not_retrieved", 0)
            out["reasons"] = dict(Counter(d.reason for d in self.decisions
                                          if d.retrieved and d.decision == "exclude" and d.reason))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "stage": self.stage,
            "counts": self.counts(),
            "pending": [{"record_id": d.record_id, "cell": d.pending_cell} for d in self.pending],
        }


def _outcome(d: Decision) -> str:
    if d.pending:
        return "undecided"
    if d.retrieved is False:
        return "not_retrieved"
    return d.decision or "undecided"


def read_screening(source: str | Path, *, data: bytes | None = None,
                   name: str | None = None) -> Screening:
    """Read a screening workbook (either stage, told from its columns) or a CSV of it.

    Columns are found by name (case, spaces and underscores ignored), rows by
    ``record_id``; hidden (filtered) rows are read like the others. Decisions are matched
    case-insensitively. Raises :class:`~metareview.errors.ValidationError` listing every
    unknown decision, duplicated record id or bad ``retrieved`` cell.
    """
    table = common.read_table(source, skip=HELPER_SHEETS, data=data, name=name)
    columns = {key(str(c.value)): i for i, c in enumerate(table.header) if c.value is not None}
    stage = "full-text" if "retrieved" in columns else "title-abstract"
    need = [c for c in ("record_id", "decision") if key(c) not in columns]
    if need:
        raise InputError(f"no {' or '.join(need)} column in the screening sheet", table.source,
                         "read a workbook written by `review screen` (keep its header row)")
    problems: list[ReviewError] = []
    decisions: list[Decision] = []
    seen: dict[str, str] = {}
    allowed = DECISIONS[stage]
    reason_col = "exclusion_reason" if stage == "full-text" else "reason"

    def text(row: Sequence[common.Cell], column: str) -> str | None:
        if key(column) not in columns:
            return None
        value = row[columns[key(column)]].value
        return " ".join(str(value).split()) or None if value is not None else None

    for row in table.rows:
        id_cell = row[columns[key("record_id")]]
        rid = text(row, "record_id")
        if rid is None:
            problems.append(InputError("a row without a record_id", table.where(id_cell.ref),
                                       "restore the record_id or delete the row"))
            continue
        if rid in seen:
            problems.append(InputError(f"record {rid} appears again (first at {seen[rid]})",
                                       table.where(id_cell.ref), "keep one row per record"))
            continue
        seen[rid] = id_cell.ref
        decision_cell = row[columns["decision"]]
        decision = (text(row, "decision") or "").lower() or None
        if decision is not None and decision not in allowed:
            problems.append(InputError(f"unknown decision {decision_cell.value!r}",
                                       table.where(decision_cell.ref),
                                       f"write one of: {', '.join(allowed)}"))
            continue
        retrieved: bool | None = None
        retrieved_cell = None
        if stage == "full-text":
            cell = row[columns["retrieved"]]
            retrieved_cell = table.where(cell.ref)
            answer = (text(row, "retrieved") or "").lower()
            if answer and answer not in _YES | _NO:
                problems.append(InputError(f"retrieved is {cell.value!r}", retrieved_cell,
                                           "write yes or no"))
                continue
            retrieved = None if not answer else answer in _YES
        reason_cell = (table.where(row[columns[key(reason_col)]].ref)
                       if key(reason_col) in columns else None)
        decisions.append(Decision(rid, decision, text(row, reason_col), text(row, "reviewer"),
                                  table.where(decision_cell.ref), retrieved, retrieved_cell,
                                  reason_cell))
    if problems:
        raise ValidationError(problems, table.source)
    return Screening(table.source, stage, tuple(decisions))


# --- two reviewers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    record_id: str
    first: str
    second: str
    first_cell: str
    second_cell: str


@dataclass(frozen=True)
class Agreement:
    """Agreement of two reviewers on the records both decided.

    ``table[i][j]`` counts records the first reviewer put in ``categories[i]`` and the
    second in ``categories[j]``. Cohen's kappa

    .. math:: \\kappa = (p_o - p_e) / (1 - p_e),\\quad p_o = \\sum_i n_{ii}/n,\\quad
              p_e = \\sum_i (n_{i\\cdot}/n)(n_{\\cdot i}/n)

    (Cohen 1960, *Educ Psychol Meas* 20:37-46); ``None`` when :math:`p_e = 1` (both
    reviewers used one and the same category throughout). ``only_first`` / ``only_second``
    count records decided in one workbook only (not in the table).
    """

    first: str
    second: str
    categories: tuple[str, ...]
    table: tuple[tuple[int, ...], ...]
    n: int
    observed: float | None
    expected: float | None
    kappa: float | None
    conflicts: tuple[Conflict, ...]
    only_first: int
    only_second: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "n": self.n,
            "categories": list(self.categories),
            "table": [list(r) for r in self.table],
            "observed_agreement": self.observed,
            "expected_agreement": self.expected,
            "kappa": self.kappa,
            "conflicts": [vars(c) for c in self.conflicts],
            "only_first": self.only_first,
            "only_second": self.only_second,
        }


def cohen_kappa(table: Sequence[Sequence[int]]) -> tuple[float, float, float | None]:
    """Observed agreement, chance agreement and Cohen's kappa of a square count table."""
    n = sum(sum(r) for r in table)
    if n == 0:
        raise InputError("no record was decided by both reviewers",
                         hint="compare workbooks of the same records once both are screened")
    k = len(table)
    observed = sum(table[i][i] for i in range(k)) / n
    expected = sum(sum(table[i]) * sum(r[i] for r in table) for i in range(k)) / n**2
    kappa = None if expected == 1 else (observed - expected) / (1 - expected)
    return observed, expected, kappa


def compare(first: Screening, second: Screening) -> Agreement:
    """Cross-tabulate two reviewers' decisions on the same stage, with Cohen's kappa and
    every record they decided differently (with both cells)."""
    if first.stage != second.stage:
        raise InputError(f"{first.source} is a {first.stage} sheet but {second.source} is "
                         f"{second.stage}", hint="compare two workbooks of the same stage")
    a = {d.record_id: d for d in first.decisions if d.decision}
    b = {d.record_id: d for d in second.decisions if d.decision}
    both = [rid for rid in a if rid in b]
    categories = DECISIONS[first.stage]
    index = {c: i for i, c in enumerate(categories)}
    table = [[0] * len(categories) for _ in categories]
    conflicts = []
    for rid in both:
        x, y = a[rid], b[rid]
        table[index[x.decision or ""]][index[y.decision or ""]] += 1
        if x.decision != y.decision:
            conflicts.append(Conflict(rid, x.decision or "", y.decision or "", x.cell, y.cell))
    observed, expected, kappa = cohen_kappa(table)
    return Agreement(first.source, second.source, categories,
                     tuple(tuple(r) for r in table), len(both), observed, expected, kappa,
                     tuple(conflicts), len(a) - len(both), len(b) - len(both))
