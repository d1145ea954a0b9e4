"""Workbook helpers shared by every sheet the tool writes or reads.

Reading gives a :class:`RawTable`: the header row and data rows as :class:`Cell` values
with their A1 references, plus what a validator must know about the sheet (formulas
whose result was never saved, merged cells, hidden rows, values outside the header).
CSV files are read into the same shape, with the references a spreadsheet would show.
Writing offers the house style: a bold header, grey read-only-looking columns, data
validation, a frozen header row, filters and key/value helper sheets.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, range_boundaries
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import WorkSheetParser
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from ..csvtext import formula_like, unescape_formula
from ..errors import InputError, MissingInputError, OutputError, ReviewWarning
from ..textcodec import text_codec

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (OLE2 compound file)
# Excel saves a password-protected .xlsx as an OLE2 file holding this stream
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
EXCEL_CELL_LIMIT = 32_767  # characters in one cell
#: Largest sheet read, as rows x columns of its used range: a stray value in XFD1048576
#: spans 17 billion cells, which a table reader would otherwise walk one by one.
MAX_SHEET_CELLS = 20_000_000
#: Largest total size of a workbook's unpacked parts (bytes): a zip bomb is refused.
MAX_UNPACKED = 1 << 30
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
LOCKED_FILL = PatternFill("solid", fgColor="E7E6E6")
LOCKED_FONT = Font(color="595959")
WRAP = Alignment(wrap_text=True, vertical="top")


@dataclass(frozen=True)
class Cell:
    """One cell as read: its value (``None`` when empty), A1 reference and row number.

    ``formula_unsaved`` marks a formula whose result was never stored in the file
    (written by a program, not yet opened and saved in a spreadsheet application).
    """

    value: Any
    ref: str
    row: int
    formula_unsaved: bool = False


@dataclass(frozen=True)
class RawTable:
    """A sheet as a header row plus data rows (blank rows left out), every row as long
    as the header. ``source`` is the name used in error locations (``book.xlsx``)."""

    source: str
    sheet: str | None
    header: tuple[Cell, ...]
    rows: tuple[tuple[Cell, ...], ...]
    hidden_rows: tuple[int, ...] = ()
    merged: tuple[str, ...] = ()  # merged ranges touching the table, e.g. "C7:D7"
    stray: tuple[Cell, ...] = ()  # values in columns without a header
    # a ";"-separated CSV, as spreadsheets write it where the decimal mark is a comma
    decimal_comma: bool = False

    def where(self, ref: str) -> str:
        """The location of a cell for messages: ``book.xlsx!C7``."""
        return f"{self.source}!{ref}"


def read_table(source: str | Path, *, sheet: str | None = None, skip: Iterable[str] = (),
               data: bytes | None = None, name: str | None = None) -> RawTable:
    """Read the first table of an ``.xlsx`` or CSV file (or of ``data`` bytes, e.g. stdin).

    The kind is told from the content (zip magic for xlsx). Without ``sheet`` the first
    worksheet whose name is not in ``skip`` is read. ``name`` overrides the file name
    used in locations.
    """
    label = name or Path(source).name
    if data is None:
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise MissingInputError("no such file", str(source), "check the path") from None
        except OSError as exc:
            raise MissingInputError(f"cannot read the file ({exc.strerror})", str(source)) from None
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data, label, sheet, {s.lower() for s in skip})
    if data.startswith(OLE_MAGIC) and ENCRYPTED_STREAM in data:
        raise InputError("the workbook is password-protected", label,
                         "remove the password (Excel: File > Info > Protect Workbook > "
                         "Encrypt with Password, clear it), save, and try again")
    if data.startswith(OLE_MAGIC):
        raise InputError("an old-style .xls workbook", label,
                         "open it in Excel or LibreOffice and save it as .xlsx")
    if sheet is not None:
        raise InputError("--sheet given but the input is CSV, not a workbook", label,
                         "leave out --sheet for CSV files")
    return _read_csv(data, label)


def _open_workbook(data: bytes, label: str) -> Any:
    """The workbook in openpyxl's read-only mode: the structure, shared strings and styles,
    with no worksheet loaded (full mode builds every sheet's cell and style objects, most
    of the time spent on a large sheet). Checked first as :func:`open_workbook` does."""
    return open_workbook(data, label, read_only=True)


def open_workbook(source: bytes | Path, label: str, read_only: bool = False) -> Any:
    """Load a workbook (its bytes, or a path) with openpyxl, after refusing what would
    make loading dangerous or endless: unpacked parts larger than :data:`MAX_UNPACKED`, an
    XML part with a DTD or entity declarations (:func:`metareview.xmlsafe.refuse_dtd`),
    a sheet whose stored used range exceeds :data:`MAX_SHEET_CELLS`. Any failure to load
    is an :class:`~metareview.errors.InputError` naming the file."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        _check_parts(data, label)
        with warnings.catch_warnings():  # unsupported Excel extensions do not affect values
            warnings.filterwarnings("ignore", category=UserWarning, module="openpyxl")
            book = load_workbook(io.BytesIO(data), read_only=read_only)
    except InputError:
        raise
    except Exception as exc:  # openpyxl fails on damaged parts with all kinds of errors
        raise _unreadable(exc, label) from None
    if not read_only:  # a full workbook knows the range its cells span
        for ws in book.worksheets:
            _refuse_extent(ws.max_row, ws.max_column, f"{label}!{ws.title}")
    return book


def _unreadable(exc: Exception, label: str) -> InputError:
    return InputError(f"not a readable .xlsx workbook ({type(exc).__name__}: {exc})", label,
                      "save the file again as an Excel workbook (.xlsx) or CSV")


def _check_parts(data: bytes, label: str) -> None:
    from ..xmlsafe import refuse_dtd

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_UNPACKED:  # zipfile stops at file_size
            raise InputError(f"unpacks to more than {MAX_UNPACKED:,} bytes", label,
                             "this may be a zip bomb; a genuine workbook this large is not "
                             "read: save the table as CSV")
        for member in members:
            if not member.filename.endswith((".xml", ".rels", ".vml")):
                continue
            with archive.open(member) as part:
                refuse_dtd(part, f"{label} ({member.filename})")
            if member.filename.startswith("xl/worksheets/"):
                with archive.open(member) as part:
                    head = part.read(65536).decode("utf-8", "replace")
                found = re.search(r'<(?:\w+:)?dimension\s+ref="([A-Z]+\d+(?::[A-Z]+\d+)?)"', head)
                if found:
                    ref = found.group(1) if ":" in found.group(1) else f"A1:{found.group(1)}"
                    _, _, max_col, max_row = range_boundaries(ref)
                    _refuse_extent(max_row, max_col, f"{label} ({member.filename})")


def _refuse_extent(rows: int, columns: int, where: str) -> None:
    if rows * columns > MAX_SHEET_CELLS:
        raise InputError(
            f"the sheet's used range is {rows:,} rows by {columns:,} columns "
            f"({rows * columns:,} cells; at most {MAX_SHEET_CELLS:,} are read)", where,
            "delete the rows and columns after the table (a stray value far below or to "
            "the right of it), save, and try again")


@dataclass(frozen=True)
class _SheetScan:
    """One worksheet as parsed: ``{(row, column): (value, data_type)}``, hidden row
    numbers and merged ranges."""

    cells: dict[tuple[int, int], tuple[Any, str]]
    hidden: frozenset[int]
    merged: tuple[str, ...]


def _scan(book: Any, ws: Any, data_only: bool) -> _SheetScan:
    """Parse one sheet of a read-only workbook with openpyxl's own worksheet parser (the
    one its full mode uses, so values, dates and formulas come out the same), keeping the
    row and merge facts that read-only worksheets do not expose."""
    cells: dict[tuple[int, int], tuple[Any, str]] = {}
    with ws._get_source() as source:
        parser = WorkSheetParser(
            source, ws._shared_strings, data_only=data_only, epoch=book.epoch,
            date_formats=book._date_formats, timedelta_formats=book._timedelta_formats)
        for r, row in parser.parse():
            for cell in row:
                if cell["value"] is not None or cell["data_type"] == "f":
                    cells[r, cell["column"]] = (cell["value"], cell["data_type"])
    hidden = frozenset(int(r) for r, attrs in parser.row_dimensions.items()
                       if str(attrs.get("hidden", "")).lower() in ("1", "true"))
    merged = () if parser.merged_cells is None else tuple(
        str(m.ref) for m in parser.merged_cells.mergeCell)
    return _SheetScan(cells, hidden, merged)


def _read_xlsx(data: bytes, label: str, sheet: str | None, skip: set[str]) -> RawTable:
    book = _open_workbook(data, label)
    try:
        ws = _pick_sheet(book, label, sheet, skip)
        scan = _scan(book, ws, data_only=False)
        has_formula = any(kind == "f" for _, kind in scan.cells.values())
        cached = _scan(book, ws, data_only=True).cells if has_formula else {}
    except InputError:
        raise
    except Exception as exc:  # a damaged sheet part fails openpyxl's parser in many ways
        raise _unreadable(exc, label) from None
    finally:
        book.close()

    def value_of(r: int, c: int) -> Cell:
        value, kind = scan.cells.get((r, c), (None, "n"))
        ref = f"{get_column_letter(c)}{r}"
        if kind == "f":
            saved = cached.get((r, c), (None, "n"))[0]
            return Cell(saved, ref, r, formula_unsaved=saved is None)
        if isinstance(value, str) and not value.strip():
            value = None
        return Cell(value, ref, r)

    # each stored row from column A to its last cell: the empty rest of the used range
    # (a stray value in XFD1048576 spans 17 billion cells) is never materialised
    last: dict[int, int] = {}
    for r, c in scan.cells:
        last[r] = max(last.get(r, 0), c)
    _refuse_extent(max(last, default=0), max(last.values(), default=0), f"{label}!{ws.title}")
    grid = [[value_of(r, c) for c in range(1, width + 1)] for r, width in sorted(last.items())]
    table = _table_from_grid(grid, label, ws.title)
    kept = {row[0].row for row in table.rows}
    hidden = tuple(sorted(r for r in scan.hidden if r in kept))
    width = len(table.header)
    first = table.header[0].row if table.header else 1
    merged = tuple(
        ref for ref in scan.merged
        if (bounds := range_boundaries(ref))[3] >= first and bounds[0] <= width
    )
    return RawTable(label, ws.title, table.header, table.rows, hidden, merged, table.stray)


def _pick_sheet(book: Any, label: str, sheet: str | None, skip: set[str]) -> Worksheet:
    names = list(book.sheetnames)
    if sheet is not None:
        for title in names:
            if title == sheet or title.lower() == sheet.lower():
                return book[title]
        raise InputError(f"no sheet named {sheet!r}", label, f"sheets: {', '.join(names)}")
    for title in names:
        ws = book[title]
        if title.lower() not in skip and isinstance(ws, (Worksheet, ReadOnlyWorksheet)):
            return ws
    raise InputError("the workbook has no data sheet", label,
                     "put the study table on the first sheet")


def csv_records(data: bytes, label: str) -> tuple[list[list[str]], str]:
    """The records of CSV (or ``;``/tab separated) text as lists of strings, and the
    delimiter, told from the first line. The apostrophe the tool's CSV writers put before
    formula-like text is removed (:func:`metareview.csvtext.unescape_formula`)."""
    try:
        text = data.decode(text_codec(data))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", label,
                         "save the file as CSV UTF-8, or as an .xlsx workbook") from None
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [[unescape_formula(value) for value in row] for row in rows], delimiter


def _read_csv(data: bytes, label: str) -> RawTable:
    records, delimiter = csv_records(data, label)
    grid = [[Cell(value.strip() or None, f"{get_column_letter(c)}{r}", r)
             for c, value in enumerate(record, 1)]
            for r, record in enumerate(records, 1)]
    table = _table_from_grid(grid, label, None)
    return replace(table, decimal_comma=delimiter == ";")


def _table_from_grid(grid: list[list[Cell]], label: str, sheet: str | None) -> RawTable:
    rows = [row for row in grid if any(c.value is not None or c.formula_unsaved for c in row)]
    if not rows:
        raise InputError("the sheet is empty", label, "put a header row and one row per study")
    header = list(rows[0])
    while header and header[-1].value is None:
        header.pop()
    width = len(header)
    body: list[tuple[Cell, ...]] = []
    stray: list[Cell] = []
    for row in rows[1:]:
        cells = list(row[:width])
        r = row[0].row
        cells += [Cell(None, f"{get_column_letter(c)}{r}", r)
                  for c in range(len(cells) + 1, width + 1)]
        stray += [c for c in row[width:] if c.value is not None or c.formula_unsaved]
        if any(c.value is not None or c.formula_unsaved for c in cells):
            body.append(tuple(cells))
    return RawTable(label, sheet, tuple(header), tuple(body), stray=tuple(stray))


# --- writing ---------------------------------------------------------------------------


def new_workbook() -> tuple[Workbook, Worksheet]:
    """A workbook and its first sheet."""
    book = Workbook()
    return book, book.active


def keep_text(cell: Any) -> Any:
    """Store formula-like text in ``cell`` (a worksheet or write-only cell) as text with
    Excel's own "quote prefix": shown and kept exactly, never run as a formula, even after
    editing the cell. Other values are left alone. Returns the cell."""
    if formula_like(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


class Scrub:
    """Makes text storable in a workbook: control characters XML 1.0 cannot hold (all
    below U+0020 but tab, newline and CR) become U+FFFD, and the cells changed are
    counted so :meth:`warn` can say so once."""

    def __init__(self) -> None:
        self.cells = 0

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str) and ILLEGAL_CHARACTERS_RE.search(value):
            self.cells += 1
            return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
        return value

    def warn(self, where: str) -> None:
        if self.cells:
            warnings.warn(ReviewWarning(
                f"{where}: {self.cells:,} cell(s) held control characters a workbook cannot "
                "store; each was replaced by \ufffd (U+FFFD)"), stacklevel=3)


def _append(ws: Worksheet, values: Sequence[Any], scrub: Scrub) -> None:
    values = [scrub(v) for v in values]
    ws.append(values)
    for col, value in enumerate(values, 1):
        if formula_like(value):
            keep_text(ws.cell(ws.max_row, col))


def write_table(ws: Worksheet, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
                locked: Iterable[int] = (), widths: Sequence[float] | None = None) -> int:
    """Write a header and rows in the house style; return the last row number.

    ``locked`` are 1-based columns shown grey (prefilled, not for editing). The header
    row is frozen and gets filters. Formula-like text is kept as text (:func:`keep_text`).
    """
    scrub = Scrub()
    _append(ws, header, scrub)
    for cell in ws[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = WRAP
    last = 1
    grey = set(locked)
    for row in rows:
        _append(ws, row, scrub)
        last += 1
        for col in grey:
            cell = ws.cell(last, col)
            cell.fill = LOCKED_FILL
            cell.font = LOCKED_FONT
    frame_table(ws, last, widths or [max(10.0, min(40.0, len(name) + 4.0)) for name in header])
    scrub.warn(f"sheet {ws.title!r}")
    return last


def frame_table(ws: Any, last: int, widths: Sequence[float]) -> None:
    """Freeze the header row, put filters on the table (header and rows down to row
    ``last``) and set the columns' ``widths``, one per column; on a write-only sheet this
    must come before its first row."""
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(max(len(widths), 1))}{max(last, 2)}"
    for col, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(col)].width = width


def add_validation(ws: Worksheet, column: int, first_row: int, last_row: int, *, kind: str,
                   choices: Sequence[str] = (), minimum: float | None = None,
                   maximum: float | None = None, prompt: str | None = None) -> None:
    """Excel data validation on one column: ``kind`` is ``whole`` or ``decimal`` (with an
    optional minimum, or a minimum and a maximum) or ``list`` (of ``choices``). Empty cells
    stay allowed."""
    if kind == "list":
        validation = DataValidation(type="list", formula1='"' + ",".join(choices) + '"',
                                    allow_blank=True)
        validation.error = f"Choose one of: {', '.join(choices)}"
    elif minimum is not None and maximum is not None:
        validation = DataValidation(type=kind, operator="between", formula1=str(minimum),
                                    formula2=str(maximum), allow_blank=True)
        validation.error = f"Enter a number from {minimum:g} to {maximum:g}"
    elif minimum is not None:
        validation = DataValidation(type=kind, operator="greaterThanOrEqual",
                                    formula1=str(minimum), allow_blank=True)
        validation.error = f"Enter a {'whole ' if kind == 'whole' else ''}number ≥ {minimum:g}"
    else:
        validation = DataValidation(type=kind, operator="between", formula1="-1E+300",
                                    formula2="1E+300", allow_blank=True)
        validation.error = "Enter a number"
    validation.errorTitle = "Invalid value"
    validation.showErrorMessage = True
    if prompt:
        validation.prompt = prompt
        validation.showInputMessage = True
    letter = get_column_letter(column)
    validation.add(f"{letter}{first_row}:{letter}{last_row}")
    ws.add_data_validation(validation)


def add_key_value_sheet(book: Workbook, title: str, header: Sequence[str],
                        rows: Iterable[Sequence[Any]], widths: Sequence[float]) -> Worksheet:
    """A helper sheet (codebook, about): bold header, wrapped text, fixed widths."""
    ws = book.create_sheet(title)
    write_table(ws, header, rows, widths=widths)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.alignment = WRAP
    return ws


def write_tables(named: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
                 path: Path) -> None:
    """Write each named table (header, rows) to its own sheet of a new workbook."""
    book = Workbook()
    book.remove(book.active)
    for title, (header, rows) in named.items():
        ws = book.create_sheet(title[:31])  # Excel's limit on sheet names
        write_table(ws, header, rows)
    book.save(path)


#: What to do about record texts too long for a cell of a workbook the tool writes.
LONG_TEXT_HINT = ("shorten these texts in the records (the full text stays in the records "
                  "table), then write the workbook again")


def refuse_long_cells(cells: Iterable[tuple[str, str, Any]], location: str | None,
                      hint: str) -> None:
    """An :class:`~metareview.errors.OutputError` naming the cells ``(ref, what, value)``
    whose text is longer than an Excel cell holds (:data:`EXCEL_CELL_LIMIT`): Excel would
    cut it, so the workbook is not written."""
    too_long = [f"{ref} ({what}, {len(value):,})" for ref, what, value in cells
                if isinstance(value, str) and len(value) > EXCEL_CELL_LIMIT]
    if too_long:
        shown = ", ".join(too_long[:5]) + (", …" if len(too_long) > 5 else "")
        raise OutputError(f"{len(too_long)} cell(s) longer than Excel's "
                          f"{EXCEL_CELL_LIMIT:,}-character limit: {shown}", location, hint)


#: Column widths of a records table, in characters: its longest text, within these bounds.
RECORD_WIDTHS = (8, 60)


def write_records(columns: Sequence[str], rows: Callable[[], Iterable[Mapping[str, Any]]],
                  stream: BinaryIO, name: str) -> None:
    """Write records as one ``records`` sheet of a new workbook to ``stream``.

    ``rows()`` gives the rows again on each call: they are checked for texts longer than
    an Excel cell holds (an :class:`~metareview.errors.OutputError` naming their cells,
    before anything is written) and measured, then written one by one (a write-only
    workbook, so memory stays flat). The header is bold and frozen, with filters; each
    column is as wide as its longest value or header, within :data:`RECORD_WIDTHS`
    (longer texts such as abstracts are not wrapped: every record stays one line high).
    Text a spreadsheet would run as a formula is stored as text. ``name`` is the output's
    name for messages.
    """
    from openpyxl.cell import WriteOnlyCell

    longest = [len(c) + 3 for c in columns]  # bold, and room for the filter button
    too_long: list[tuple[str, str, Any]] = []
    count = 0
    for count, row in enumerate(rows(), start=1):
        for col, key in enumerate(columns):
            value = row.get(key)
            if value is None:
                continue
            size = len(value) if isinstance(value, str) else len(str(value))
            if size >= longest[col]:
                longest[col] = size + 1
            if size > EXCEL_CELL_LIMIT:
                too_long.append((f"{get_column_letter(col + 1)}{count + 1}", key, value))
    refuse_long_cells(too_long, name,
                      "Excel would cut these texts; write .csv, .jsonl or .parquet instead")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("records")
    if columns:
        low, high = RECORD_WIDTHS
        frame_table(sheet, count + 1, [min(max(n, low), high) for n in longest])
    scrub = Scrub()
    header = []
    for column in columns:
        cell = keep_text(WriteOnlyCell(sheet, value=scrub(column)))
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        header.append(cell)
    sheet.append(header)
    for row in rows():
        cells: list[Any] = []
        for key in columns:
            value = scrub(row.get(key))
            if formula_like(value):
                value = keep_text(WriteOnlyCell(sheet, value=value))
            cells.append(value)
        sheet.append(cells)
    book.save(stream)
    scrub.warn(name)
