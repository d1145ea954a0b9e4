"""The one reader of tabular exports (CSV and tab-delimited text) that the database
formats share: each format only declares its columns (a :class:`Table`).

Rows are streamed through :mod:`csv`; the codec comes from the byte-order mark
(:func:`~metareview.textcodec.text_codec`), lines may end in LF, CRLF or a lone CR,
cells may be as long as a full reference list, and lines before the header that
some databases write (Embase's ``"SEARCH QUERY"`` line and a row of dashes) are
passed over. A cell's column decides its :class:`Article` field; columns the table
does not know stay in ``extra``, so no text is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from .. import csvtext  # noqa: F401  (raises the csv field limit: a cell may hold a reference list)
from ..errors import InputError
from ..records import Article, Author, PubDate
from ..textcodec import text_codec
from . import Format
from ._fields import ADDITIVE, build
from ._xmltext import clean, iso_date, make_date, split_pages

_FORMULA = re.compile(r'^="(.*)"$', re.DOTALL)  # EBSCO wraps numbers as ="0123"
_DASHES = re.compile(r"^[\s\-=]+$")
_PREAMBLE = re.compile(r'^"?SEARCH QUERY"?\s*[,\t]', re.IGNORECASE)

def _same(value: str) -> Any:
    return value


@dataclass(frozen=True)
class Column:
    """Where one column goes.

    ``field`` is one of :data:`~metareview.formats._fields.FIELDS`; ``sep`` (a regular
    expression) splits a cell holding several values; ``read`` turns each value into
    the field's type (a :class:`Author` for ``authors``, a :class:`PubDate` for
    ``date``, a mapping of fields for ``citation``) and may return ``None`` for a value
    that is no such thing.
    ``keep`` also keeps the cell as printed in ``extra`` (for values read out of a
    longer text, such as a DOI inside a link).
    """

    field: str
    sep: str | None = None
    read: Callable[[str], Any] = _same
    keep: bool = False


@dataclass(frozen=True)
class Table:
    """A tabular export: its columns and how to recognise its header.

    ``signatures``: the header holds every column of at least one of these sets.
    ``database`` names the database for ``source_database`` (``None`` if unknown);
    ``database_of`` may tell it from the row instead (e.g. EBSCO's link says which);
    ``finish`` may refine the gathered values (e.g. tie addresses to the authors a
    column names). Both get the row's cells keyed by :func:`column_key`.
    ``placeholders``: cell texts that stand for a missing value (kept in ``extra``).
    """

    name: str
    description: str
    columns: Mapping[str, Column]
    signatures: tuple[frozenset[str], ...]
    database: str | None = None
    delimiter: str = ","
    placeholders: frozenset[str] = frozenset()
    database_of: Callable[[Mapping[str, str]], str | None] | None = None
    finish: Callable[[dict[str, list[Any]], Mapping[str, str]], None] | None = None


def column_key(name: str) -> str:
    """A header name as matched: BOM, no-break spaces and case do not count."""
    name = name.replace("\ufeff", "").replace("\u00a0", " ")
    return " ".join(name.split()).casefold()


# ------------------------------------------------------------------- detection


def header_of(head: bytes) -> tuple[list[str], str] | None:
    """The header row's names and delimiter, from the first bytes of a file (already
    UTF-8 and without BOM, as :func:`~metareview.formats.detect` passes them)."""
    found = _header_line(head.decode("utf-8", errors="ignore").splitlines()[:50])
    return _names(found[1]) if found else None


def _header_line(lines: Iterable[str]) -> tuple[int, str] | None:
    """The header line and its (1-based) number, past blank lines and Embase's
    ``"SEARCH QUERY"`` block (whose query may run over several lines) ended by a row
    of dashes or a blank line."""
    in_query = False
    for number, line in enumerate(lines, start=1):
        if number == 1 and _PREAMBLE.match(line.removeprefix("\ufeff")):
            in_query = True
        elif in_query:
            in_query = bool(line.strip()) and not _DASHES.match(line)
        elif line.strip() and not _DASHES.match(line):
            return number, line.removeprefix("\ufeff")
    return None


def _names(line: str) -> tuple[list[str], str]:
    delimiter = "\t" if "\t" in line else ","
    return next(_reader([line], delimiter), []), delimiter


def has_header(head: bytes, signatures: Iterable[frozenset[str]], delimiter: str) -> bool:
    """Whether ``head`` starts with a ``delimiter``-separated header row holding every
    column (as :func:`column_key` gives it) of one of ``signatures``."""
    found = header_of(head)
    if found is None or found[1] != delimiter:
        return False
    names = {column_key(n) for n in found[0]}
    return any(signature <= names for signature in signatures)


# --------------------------------------------------------------------- reading


def read_rows(
    stream: BinaryIO, source: str, delimiter: str
) -> Iterator[tuple[int, list[tuple[str, str]]]]:
    """``(line number, [(column, cell), …])`` for each data row of a table.

    A row with more cells than the header is accepted only when the extra cells are
    empty (WoS ends every row with a tab); any other mismatch is an
    :class:`InputError` at the row's line.
    """
    codec = text_codec(stream.peek(4)[:4] if hasattr(stream, "peek") else b"")
    text = io.TextIOWrapper(stream, encoding=codec, newline="")
    skipped = 0
    try:
        header = _header_line(iter(text.readline, ""))
        if header is None:
            raise InputError("no header row", source, "export the table again with its header row")
        skipped = header[0]
        names: list[str] = next(_reader([header[1].rstrip("\r\n")], delimiter), [])
        if len(names) < 2:
            shown = "tab" if delimiter == "\t" else repr(delimiter)
            raise InputError(
                f"the header row is not {shown}-separated",
                f"{source}:{skipped}",
                "leave out --from to detect the format from the content",
            )
        rows = _reader(text, delimiter)
        for cells in rows:
            line = skipped + rows.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(names) and not any(c.strip() for c in cells[len(names):]):
                cells = cells[: len(names)]
            if len(cells) != len(names):
                raise InputError(
                    f"this row has {len(cells)} cells but the header has {len(names)} columns",
                    f"{source}:{line}",
                    "export the file again; a cell may hold an unbalanced quote",
                )
            yield line, [
                (name, unicodedata.normalize("NFC", cell))
                for name, cell in zip(names, cells, strict=True)
            ]
    except UnicodeDecodeError:
        raise InputError(
            f"text that is not {codec.upper().removesuffix('-SIG')}",
            f"{source}:{skipped + 1}",
            "export the file again as UTF-8 text (CSV UTF-8)",
        ) from None
    except csv.Error as exc:
        raise InputError(f"broken table: {exc}", source, "export the file again") from None
    finally:
        text.detach()  # the caller owns the binary stream


def _reader(lines: Iterable[str], delimiter: str) -> Any:
    if delimiter == "\t":  # WoS never quotes: a '"' in a title is text
        return csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    return csv.reader(lines)


def read_table(table: Table, stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a table export."""
    for index, (_, cells) in enumerate(read_rows(stream, source, table.delimiter)):
        values, extra = gather(table.columns, cells, table.placeholders)
        row = {column_key(name): value for name, value in cells}
        if table.finish:
            table.finish(values, row)
        database = table.database_of(row) if table.database_of else None
        yield build(table.name, database or table.database, values, extra, source, index)


def _unwrap(value: str) -> str:
    found = _FORMULA.match(value.strip())
    return found.group(1) if found else value


def gather(
    columns: Mapping[str, Column],
    cells: Iterable[tuple[str, str]],
    placeholders: frozenset[str] = frozenset(),
) -> tuple[dict[str, list[Any]], tuple[tuple[str, str], ...]]:
    """The values of each field from named cells (a row, or a flattened JSON record),
    and the ``(name, text)`` pairs no column took, for ``extra``.

    Columns are tried in declared order: a field takes the first column with a value
    (``keywords`` and the like add up); later columns for the same field stay in extra.
    """
    by_key = {column_key(name): (name, value) for name, value in cells}
    values: dict[str, list[Any]] = {}
    used: set[str] = set()
    for name, column in columns.items():
        key = column_key(name)
        raw = _unwrap(by_key.get(key, ("", ""))[1])
        value = clean(raw)
        if value is None or value in placeholders:
            continue
        if column.field in values and column.field not in ADDITIVE:
            continue  # an earlier column gave it; this one stays in extra
        parts = re.split(column.sep, raw) if column.sep else [value]
        found = [v for v in (column.read(p) for p in map(clean, parts) if p) if v is not None]
        if found:
            values.setdefault(column.field, []).extend(found)
            # A one-value field given several keeps the cell, so the others are not lost.
            if not column.keep and (len(found) == 1 or column.field in ADDITIVE):
                used.add(key)
    extra = tuple(
        (name, value)
        for key, (name, raw) in by_key.items()
        if key not in used and (value := clean(_unwrap(raw))) is not None
    )
    return values, extra


def table_format(table: Table) -> Format:
    """The :class:`Format` of a declared table."""
    return Format(
        name=table.name,
        description=table.description,
        xml=False,
        detect=lambda head: has_header(head, table.signatures, table.delimiter),
        read=lambda stream, source: read_table(table, stream, source),
    )


# --------------------------------------------------------------- cell readers


def pages_of(value: str) -> str | None:
    """A page range as printed (``152-160``); kept whole, split by :func:`build`."""
    return value if split_pages(value) != (None, None) else None


def digits(value: str) -> str | None:
    """The number in ``PUBMED 21314913`` or ``MEDLINE:8391436``."""
    found = re.search(r"\d+", value)
    return found.group(0) if found else None


def initials_name(value: str) -> Author:
    """``Wilson L.N.``, ``Dos Santos H.B.``, ``Bozdog NV`` (Scopus, Embase) → last name
    and initials; a name with no initials at the end is kept whole as the last name."""
    found = re.fullmatch(r"(.+?)\s+((?:[A-Z][a-z]?\.?-?\s?)+)", value)
    if not found:
        return Author(last=value)
    return Author(last=found.group(1), initials=re.sub(r"[.\s-]", "", found.group(2)))


def comma_person(value: str) -> Author:
    """``Last, First`` or ``Last, FM`` (initials only); a trailing ``(id)`` dropped;
    a name without a comma is kept whole as the last name."""
    value = re.sub(r"\s*\(\d+\)$", "", value)
    last, comma, first = (clean(p) for p in value.partition(","))
    if not comma or not first:
        return Author(last=last)
    if re.fullmatch(r"(?:[A-Z]\.?-?\s?){1,4}", first):
        return Author(last=last, initials=re.sub(r"[.\s-]", "", first))
    return Author(last=last, first=first)


#: Words that belong to the last name that follows them ("David De Roure").
_PARTICLES = frozenset(
    {"van", "von", "de", "del", "della", "der", "den", "di", "da", "das", "do", "dos", "du"}
    | {"la", "le", "ter", "ten", "zu", "st.", "bin", "ibn"}
)


def display_name(value: str) -> Author:
    """``First Middle Last`` as printed by OpenAlex and Lens: the last word is the
    last name, with the particles before it (``De Roure``, ``van der Berg``); the
    source gives no structure to do better."""
    words = value.split()
    start = len(words) - 1
    while start > 1 and words[start - 1].casefold() in _PARTICLES:
        start -= 1
    return Author(last=" ".join(words[start:]) or None, first=" ".join(words[:start]) or None)


def iso_or_year(value: str) -> PubDate | None:
    """``2020-11-22``, ``2020-11`` or ``2020``."""
    date = iso_date(value)
    return date if date.year is not None else None


def day_month_year(value: str) -> PubDate | None:
    """``1 Dec 2024``, ``Dec 2024`` or ``2024`` (Embase)."""
    parts = value.split()
    if not parts or not re.fullmatch(r"\d{4}", parts[-1]) or len(parts) > 3:
        return None
    date = make_date(parts[-1], *reversed(parts[:-1]))
    return date if date.year is not None else None


def us_date(value: str) -> PubDate | None:
    """``4/3/2024`` (month/day/year, EBSCOhost) or a plain year."""
    found = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
    if found:
        month_, day, year = found.groups()
        return make_date(year, month_, day)
    return iso_or_year(value)


def tie_addresses(
    values: dict[str, list[Any]], addresses: Iterable[tuple[list[str], str]]
) -> None:
    """Give each ``(names, address)`` to the authors it names (``Wilson L.N.`` matches
    the author ``Wilson, Lauren N.``); an address naming someone not in the byline, and
    the record's own addresses no author was given, stay the record's."""
    authors: list[Author] = values.get("authors") or []
    keys = [_name_key(a.display) for a in authors]
    own: list[list[str]] = [[] for _ in authors]
    record: list[str] = []
    for names, address in addresses:
        wanted = {_name_key(initials_name(n).display) for n in names}
        spots = [i for i, key in enumerate(keys) if key in wanted]
        if names and len({keys[i] for i in spots}) == len(wanted):
            for i in spots:
                own[i].append(address)
        else:
            record.append(address)
    given = {a for found in own for a in found}
    values["authors"] = [
        dataclasses.replace(a, affiliations=(*a.affiliations, *dict.fromkeys(found)))
        for a, found in zip(authors, own, strict=True)
    ]
    rest = [a for a in values.get("affiliations", []) if a not in given]
    values["affiliations"] = list(dict.fromkeys([*record, *rest]))


def _name_key(name: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", name).casefold().split())
