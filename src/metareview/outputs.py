"""Writing article records to CSV, JSONL, XLSX or Parquet (and more, via :data:`WRITERS`).

Every writer gets the records and a binary stream; :func:`write_articles` picks the writer
from the output's extension (or ``to``), writes atomically with
:func:`metareview.fileio.atomic_path`, and writes CSV to stdout when no output is given.

Tables use the flat form :meth:`Article.to_row`; JSON lines its structured form, with
``authors`` as a list of objects (:meth:`~metareview.records.Author.to_dict`). Rows are
spooled to a temporary file while the set of columns is collected (other-language titles
and history dates add columns), so memory stays flat however many records pass through.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, BinaryIO

from .csvtext import escape_cells
from .errors import OptionError, OutputError
from .fileio import atomic_path
from .records import Article

Row = dict[str, Any]


@dataclass(frozen=True)
class Writer:
    """An output format: ``write(records, stream, name)`` writes every record to the
    binary ``stream`` and returns how many it wrote; ``name`` is the output's name for
    error messages. ``binary`` formats are refused on a terminal. ``table`` formats write
    rows (mappings, or anything with a ``to_row(structured)``): flat ones, or with
    ``structured`` the form whose values may be lists and objects (JSON lines); the
    others need :class:`Article` s."""

    name: str
    suffixes: tuple[str, ...]
    description: str
    write: Callable[[Iterable[Any], BinaryIO, str], int]
    binary: bool = False
    table: bool = False
    structured: bool = False


@dataclass(frozen=True)
class Table:
    """Rows for a table writer with the ``columns`` that come first, so the header is
    complete even when no row has them (an empty duplicates log still gets its header)."""

    rows: Iterable[Any]
    columns: Sequence[str] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


@dataclass(frozen=True)
class RowSpool:
    """Rows already serialised to spool files (``(path, rows)`` each, read back by
    ``read(path, rows)``), with their ``columns`` in first-seen order and their ``count``:
    a table writer takes them as they are instead of spooling them again. Made by
    :func:`metareview.articles.spool_rows`."""

    files: tuple[tuple[str, int], ...]
    columns: tuple[str, ...]
    count: int
    read: Callable[[str, int], Iterator[Row]]
    #: ``csv_parts(escape)``: paths of the rows' CSV text (no header, a part per spool
    #: file, in order) as other processes write them; ``None`` when there are none
    csv_parts: Callable[[bool], Iterator[str]] | None = None

    def rows(self) -> Iterator[Row]:
        for path, count in self.files:
            yield from self.read(path, count)

    def __iter__(self) -> Iterator[Row]:
        return self.rows()


#: Items pickled together in a spool: fewer, smaller pickles (the keys of the rows in one
#: batch are written once), and never more than a batch in memory.
_BATCH = 500


class SpoolWriter:
    """Pickles items (articles, or rows with :meth:`add_row`, whose columns are collected
    in first-seen order) to ``stream`` in batches; :func:`read_spool` reads them back.
    Call :meth:`flush` when done."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.columns: dict[str, None] = {}
        self.count = 0
        self._batch: list[Any] = []

    def add(self, item: Any) -> None:
        self._batch.append(item)
        self.count += 1
        if len(self._batch) == _BATCH:
            self.flush()

    def add_row(self, row: Row) -> None:
        if not row.keys() <= self.columns.keys():
            self.columns.update(dict.fromkeys(row))
        self.add(row)

    def flush(self) -> None:
        if self._batch:
            pickle.dump(self._batch, self.stream, pickle.HIGHEST_PROTOCOL)
            self._batch = []


def read_spool(stream: IO[bytes], count: int) -> Iterator[Any]:
    """The first ``count`` items a :class:`SpoolWriter` wrote to ``stream``."""
    while count > 0:
        batch = pickle.load(stream)  # our own file, in a private temporary folder
        count -= len(batch)
        yield from batch


def _row(item: Any, structured: bool = False) -> Row:
    return dict(item) if isinstance(item, Mapping) else item.to_row(structured)


@contextmanager
def _spooled(
    articles: Iterable[Any],
) -> Iterator[tuple[list[str], int, Callable[[], Iterator[Row]]]]:
    """``(columns, count, rows)``: rows pickled to a temporary file while their columns
    are collected in first-seen order; ``rows()`` reads them back (as often as needed).
    A :class:`RowSpool` is spooled already."""
    if isinstance(articles, RowSpool):
        yield list(articles.columns), articles.count, articles.rows
        return
    with tempfile.TemporaryFile() as spool:
        out = SpoolWriter(spool)
        out.columns.update(dict.fromkeys(articles.columns if isinstance(articles, Table) else ()))
        for article in articles:
            out.add_row(_row(article))
        out.flush()

        def rows() -> Iterator[Row]:
            spool.seek(0)
            return read_spool(spool, out.count)

        yield list(out.columns), out.count, rows


def write_csv_rows(rows: Iterable[Row], columns: Sequence[str], text: IO[str],
                   escape: bool = True) -> None:
    """``rows`` as CSV lines under ``columns`` (a missing key is an empty cell), formula-like
    text quoted unless ``escape`` is off (:mod:`metareview.csvtext`)."""
    writer = csv.writer(text)
    if escape:
        writer.writerows(escape_cells(map(row.get, columns)) for row in rows)
    else:
        writer.writerows(map(row.get, columns) for row in rows)


def _write_csv(articles: Iterable[Any], stream: BinaryIO, name: str,
               escape: bool = True) -> int:
    """CSV, formula-like text quoted unless ``escape`` is off (:mod:`metareview.csvtext`).
    The rows of a :class:`RowSpool` with ``csv_parts`` are copied as the workers wrote them."""
    with _spooled(articles) as (columns, count, rows):
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        try:
            csv.writer(text).writerow(escape_cells(columns) if escape else columns)
            if isinstance(articles, RowSpool) and articles.csv_parts is not None:
                for part in articles.csv_parts(escape):
                    with open(part, "rb") as lines:
                        shutil.copyfileobj(lines, stream, 1 << 20)
            else:
                write_csv_rows(rows(), columns, text, escape)
            return count
        finally:
            text.flush()
            text.detach()  # the caller owns the stream, also after a failed write


def _write_jsonl(articles: Iterable[Any], stream: BinaryIO, name: str) -> int:
    count = 0
    for article in articles:
        row = _row(article, structured=True)
        stream.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")
        count += 1
    return count


def _write_xlsx(articles: Iterable[Any], stream: BinaryIO, name: str) -> int:
    from .sheets.common import write_records

    with _spooled(articles) as (columns, count, rows):
        write_records(columns, rows, stream, name)
        return count


def _write_parquet(articles: Iterable[Any], stream: BinaryIO, name: str) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OutputError(
            "Parquet output needs pyarrow", name, "pip install 'metareview[parquet]'"
        ) from None
    with _spooled(articles) as (columns, count, rows):
        kinds: dict[str, set[type]] = {c: set() for c in columns}
        for row in rows():
            for key, value in row.items():
                if value is not None:
                    kinds[key].add(type(value))

        def arrow_type(column: str) -> Any:
            # year is a number even in a file where no record has one
            if column in ("record_index", "year") or kinds[column] == {int}:
                return pa.int64()
            if kinds[column] and kinds[column] <= {int, float}:
                return pa.float64()
            return pa.string()

        schema = pa.schema([(c, arrow_type(c)) for c in columns])
        with pq.ParquetWriter(stream, schema) as out:
            batch: list[Row] = []
            for row in rows():
                batch.append(row)
                if len(batch) == 10_000:
                    out.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch.clear()
            if batch or not count:
                out.write_table(pa.Table.from_pylist(batch, schema=schema))
        return count


def _text(module: str) -> Callable[[Iterable[Article], BinaryIO, str], int]:
    """The ``write(articles, text_stream)`` of a text format module (RIS, BibTeX, MEDLINE),
    as UTF-8 bytes. The module is imported on first use (BibTeX brings a LaTeX decoder)."""

    def write(articles: Iterable[Article], stream: BinaryIO, name: str) -> int:
        from importlib import import_module

        text = io.TextIOWrapper(stream, encoding="utf-8", newline="\n", write_through=True)
        try:
            count: int = import_module(f".formats.{module}", __package__).write(articles, text)
            return count
        finally:
            text.flush()
            text.detach()

    return write


#: Output formats by name; add an entry to support another (e.g. RIS, BibTeX).
WRITERS: dict[str, Writer] = {
    w.name: w
    for w in [
        Writer("csv", (".csv",), "comma-separated table, UTF-8", _write_csv, table=True),
        Writer("jsonl", (".jsonl", ".ndjson"), "one JSON object per line", _write_jsonl,
               table=True, structured=True),
        Writer("xlsx", (".xlsx",), "Excel workbook, formula-like text escaped", _write_xlsx,
               binary=True, table=True),
        Writer("parquet", (".parquet",), "Apache Parquet (needs pyarrow)", _write_parquet,
               binary=True, table=True),
        Writer("ris", (".ris",), "RIS for Zotero, EndNote, Mendeley", _text("ris")),
        Writer("bibtex", (".bib", ".bibtex"), "BibTeX for JabRef, Zotero, LaTeX", _text("bibtex")),
        Writer("nbib", (".nbib",), "MEDLINE text, PubMed format", _text("nbib")),
    ]
}


def writer_for(output: str | Path | None, to: str | None = None) -> Writer:
    """The writer named by ``to``, else the one for the output's extension; CSV for stdout."""
    if to:
        if to.lower() not in WRITERS:
            raise OptionError(
                f"unknown output type {to!r}", hint=f"choose one of: {', '.join(WRITERS)}"
            )
        return WRITERS[to.lower()]
    if output is None or str(output) == "-":
        return WRITERS["csv"]
    name = Path(output).name.lower()
    for writer in WRITERS.values():
        if name.endswith(writer.suffixes):
            return writer
    known = ", ".join(s for w in WRITERS.values() for s in w.suffixes)
    raise OptionError(
        "unknown output type", str(output), f"use one of {known}, or say which with --to"
    )


def write_rows(
    items: Iterable[Any],
    output: str | Path | None = None,
    *,
    to: str | None = None,
    columns: Sequence[str] = (),
    inputs: Iterable[str | Path] = (),
    force: bool = False,
    stdout: IO[bytes] | None = None,
    raw_csv: bool = False,
) -> int:
    """Write ``items`` (mappings, or objects with a ``to_row()``) as a table, like
    :func:`write_articles`: the format from ``to`` or the extension (CSV, JSONL, XLSX,
    Parquet), ``None`` or ``"-"`` for CSV on stdout; return the count. ``columns`` come
    first (see :class:`Table`), then every other key in order of first use."""
    writer = writer_for(output, to)
    if not writer.table:
        raise OptionError(
            f"{writer.name} output holds articles, not a table",
            str(output),
            "write .csv, .jsonl, .xlsx or .parquet",
        )
    table = Table(items, columns) if columns else items
    return write_articles(table, output, to=to, inputs=inputs, force=force, stdout=stdout,
                          raw_csv=raw_csv)


def write_articles(
    articles: Iterable[Article],
    output: str | Path | None = None,
    *,
    to: str | None = None,
    inputs: Iterable[str | Path] = (),
    force: bool = False,
    stdout: IO[bytes] | None = None,
    raw_csv: bool = False,
) -> int:
    """Write ``articles`` to ``output`` (``None`` or ``"-"``: to stdout); return the count.

    The file appears only when every record is written (atomic rename); an existing
    file is replaced only with ``force``; an input is never overwritten. CSV text a
    spreadsheet would run as a formula gets a leading apostrophe (read back without it),
    unless ``raw_csv`` (for scripts).
    """
    writer = writer_for(output, to)
    if raw_csv and writer.name == "csv":
        writer = replace(writer, write=lambda rows, stream, name: _write_csv(
            rows, stream, name, escape=False))
    if output is None or str(output) == "-":
        stream = stdout if stdout is not None else sys.stdout.buffer
        if writer.binary and stream.isatty():
            raise OutputError(
                f"{writer.name} output is binary", "stdout", "give a file name with -o"
            )
        count = writer.write(articles, stream, "stdout")  # type: ignore[arg-type]
        stream.flush()
        return count
    with atomic_path(output, inputs=inputs, force=force) as tmp, tmp.open("wb") as stream:
        return writer.write(articles, stream, str(output))
