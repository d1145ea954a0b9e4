"""Reading article records from many files: the library face of ``review parse``.

:func:`read_articles` expands paths (files, folders, glob patterns, ``-`` for stdin),
detects each file's format from its content, streams its records and, with ``jobs > 1``,
parses files in parallel processes. :func:`articles_frame` gives the same records as a
pandas table (one row per article, the columns of :meth:`Article.to_row`).
"""

from __future__ import annotations

import glob
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, MissingInputError, ReviewError, ReviewWarning
from .formats import Format, by_name, detect
from .outputs import RowSpool, SpoolWriter, read_spool, write_csv_rows
from .records import Article, Deletion
from .xmlsafe import DEFAULT_MAX_DECOMPRESSED, open_input

if TYPE_CHECKING:
    import pandas

#: File names read from a folder (other files there are skipped); formats are still
#: detected from content.
FOLDER_SUFFIXES = (
    ".xml",
    ".xml.gz",
    ".nxml",
    ".gz",
    ".ris",
    ".nbib",
    ".bib",
    ".txt",
    ".ciw",  # Web of Science plain text
    ".ovd",  # Ovid Citavi export
    ".cgi",  # Ovid EndNote export, as browsers save it
    ".csv",  # Scopus, Embase, Cochrane, EBSCOhost, Lens, OpenAlex
    ".tsv",  # Web of Science tab-delimited, when renamed
    ".json",  # OpenAlex API, CSL-JSON
)
STDIN = "-"
STDIN_NAME = "<stdin>"


def expand_paths(paths: Iterable[str | Path]) -> list[str]:
    """Files named, files under folders (recursively, sorted), glob matches (sorted).

    A name that matches nothing is an error, never silently skipped.
    """
    found: list[str] = []
    for item in paths:
        name = str(item)
        path = Path(name)
        if name == STDIN or path.is_file():
            found.append(name)
        elif path.is_dir():
            files = sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file()
                and not p.name.startswith(".")
                and p.name.lower().endswith(FOLDER_SUFFIXES)
            )
            if not files:
                raise MissingInputError(
                    "no article files in this folder",
                    name,
                    f"files ending in {', '.join(FOLDER_SUFFIXES)} are read",
                )
            found.extend(files)
        elif any(char in name for char in "*?["):
            matches = sorted(p for p in glob.glob(name, recursive=True) if Path(p).is_file())
            if not matches:
                raise MissingInputError("no file matches this pattern", name)
            found.extend(matches)
        else:
            raise MissingInputError("no such file or folder", name, "check the path")
    return list(dict.fromkeys(found))


def read_file(
    path: str,
    format: str | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
) -> Iterator[Article | Deletion]:
    """Stream the records (and deletions) of one file, ``-`` for stdin.

    A file that gives nothing under a ``format`` forced on it is an
    :class:`~metareview.errors.InputError`: most likely it is in another format.
    """
    source = STDIN_NAME if path == STDIN else path
    with open_input(path, max_decompressed) as stream:
        fmt: Format = by_name(format) if format else detect(stream, source)
        count = 0
        for item in fmt.read(stream, source):
            count += 1
            yield item
    if format and not count:
        raise InputError(
            f"no {format} records in this file",
            source,
            "leave out --from to detect the format from the content",
        )


@dataclass(frozen=True)
class _Spooled:
    """What a worker left of one file: ``spool`` holds its articles (or their rows), ``count``
    of them, pickled by a :class:`~metareview.outputs.SpoolWriter`; the rows' ``columns``
    in first-seen order; PMIDs withdrawn; the error that stopped the file, if any."""

    spool: str
    count: int
    columns: tuple[str, ...]
    deletions: tuple[Deletion, ...]
    failure: tuple[type[ReviewError], str, str | None, str | None] | None

    @property
    def error(self) -> ReviewError | None:
        if self.failure is None:
            return None
        kind, message, location, hint = self.failure
        return kind(message, location, hint)


def worker_files(paths: Iterable[str | Path] | str | Path, hint: str) -> list[str]:
    """The files of ``paths`` (:func:`expand_paths`) for other processes to read: stdin,
    which only this process can read, is refused with ``hint``."""
    files = expand_paths([paths] if isinstance(paths, (str, Path)) else paths)
    if STDIN in files:
        raise InputError("stdin cannot be read by another process", STDIN_NAME,
                         f"give the input as a file, or {hint}")
    return files


def _spool_file(path: str, format: str | None, max_decompressed: int, directory: str,
                rows: bool, structured: bool = False) -> _Spooled:
    """Worker for parallel parsing: parse one file into a spool file in ``directory``, one
    record at a time, so neither this process nor the reader ever holds the whole file;
    with ``rows`` each article is flattened (:meth:`Article.to_row`, ``structured`` or
    not) here, off the parent."""
    deletions: list[Deletion] = []
    failure = None
    handle, spool = tempfile.mkstemp(suffix=".spool", dir=directory)
    with os.fdopen(handle, "wb") as stream:
        out = SpoolWriter(stream)
        try:
            for item in read_file(path, format, max_decompressed):
                if isinstance(item, Deletion):
                    deletions.append(item)
                elif rows:
                    out.add_row(item.to_row(structured))
                else:
                    out.add(item)
        except ReviewError as exc:  # sent as plain values: the exception may hold lxml state
            failure = (type(exc), exc.message, exc.location, exc.hint)
        except Exception as exc:  # anything else would be lost with the worker's result
            failure = (InputError, f"could not be read ({type(exc).__name__}: {exc})", path,
                       "read this file alone, without --jobs, to see the full error")
        out.flush()  # what was read before an error stands
    return _Spooled(spool, out.count, tuple(out.columns), tuple(deletions), failure)


def _unspool(path: str, count: int) -> Iterator[Any]:
    with open(path, "rb") as spool:
        yield from read_spool(spool, count)


def _csv_part(spool: str, count: int, columns: tuple[str, ...], escape: bool) -> str:
    """Worker for parallel CSV output: the rows of a spool as CSV lines under ``columns``
    (those of every file), in a file next to it; returns its path."""
    part = f"{spool}.csv"
    with open(spool, "rb") as rows, open(part, "w", encoding="utf-8", newline="") as text:
        write_csv_rows(read_spool(rows, count), columns, text, escape)
    return part


@contextmanager
def _pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    pool = ProcessPoolExecutor(max_workers=jobs)
    try:
        yield pool
    finally:  # a reader that stops early does not wait for the files it will not read
        pool.shutdown(cancel_futures=True)


def _parallel(pool: ProcessPoolExecutor, files: list[str], format: str | None,
              max_decompressed: int, directory: str, rows: bool, structured: bool = False,
              ) -> Iterator[tuple[str, _Spooled]]:
    """Each file's spool, in file order, as the ``pool``'s workers finish them (each takes
    the next file when it is free)."""
    futures = [pool.submit(_spool_file, path, format, max_decompressed, directory, rows,
                           structured)
               for path in files]
    for path, future in zip(files, futures, strict=True):
        yield path, future.result()


class Withdrawn:
    """PMIDs withdrawn by MEDLINE ``DeleteCitation`` entries, each kept once however many
    entries and files name it; ``add`` is an ``on_deletion`` callback."""

    def __init__(self) -> None:
        self.pmids: dict[str, None] = {}

    def add(self, item: Deletion) -> None:
        self.pmids[item.pmid] = None

    def __len__(self) -> int:
        return len(self.pmids)

    def shown(self) -> str:
        """The first five PMIDs, then "…"."""
        return ", ".join(list(self.pmids)[:5]) + (", …" if len(self.pmids) > 5 else "")

    def warn(self, stacklevel: int = 2) -> None:
        """A :class:`~metareview.errors.ReviewWarning` naming them, if there are any."""
        if self.pmids:
            warnings.warn(
                f"{len(self.pmids)} PMID(s) withdrawn by DeleteCitation entries "
                f"({self.shown()}); they are not articles and are not in the output",
                ReviewWarning,
                stacklevel=stacklevel + 1,
            )


class _Reporter:
    """The callbacks of :func:`read_articles` and :func:`spool_rows`: withdrawn PMIDs and
    bad files, with their defaults (a warning; raising the error)."""

    def __init__(self, on_deletion: Callable[[Deletion], None] | None,
                 on_error: Callable[[ReviewError], None] | None):
        self.on_error = on_error
        self.withdrawn = Withdrawn()
        self.deletion = on_deletion or self.withdrawn.add

    def failed(self, exc: ReviewError) -> None:
        if self.on_error is None:
            raise exc
        self.on_error(exc)

    def finish(self) -> None:
        self.withdrawn.warn(stacklevel=3)


def _usable_jobs(jobs: int) -> int:
    """``jobs``, or the number of CPUs this process may run on (its affinity, where the
    system tells it) when it asks for more, with a warning."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    if jobs > cpus:
        warnings.warn(ReviewWarning(f"--jobs {jobs} is more than the {cpus} CPU(s) this "
                                    f"process may use; parsing with {cpus}"), stacklevel=3)
    return min(jobs, cpus)


def read_articles(
    paths: Iterable[str | Path] | str | Path,
    format: str | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    jobs: int = 1,
    on_deletion: Callable[[Deletion], None] | None = None,
    on_error: Callable[[ReviewError], None] | None = None,
    on_file: Callable[[str, int], None] | None = None,
) -> Iterator[Article]:
    """Stream every article of every file, in file order then record order.

    Parameters
    ----------
    paths
        Files, folders (read recursively), glob patterns, or ``"-"`` for stdin.
    format
        A format name (``"medline"``, ``"pubmed"``, …) to skip detection.
    max_decompressed
        Cap in bytes on what one ``.gz`` input may decompress to (a gzip bomb is refused).
    jobs
        Files parsed in parallel processes when > 1. Each worker returns a whole file's
        records, so memory then grows with the largest file. More jobs than CPUs (those
        this process may use) are cut to that number, with a warning.
    on_deletion
        Called with each :class:`Deletion` (MEDLINE ``DeleteCitation``). Without it, a
        :class:`~metareview.errors.ReviewWarning` tells how many PMIDs were withdrawn.
    on_error
        Called with the error of a bad file, and reading goes on with the next file.
        Without it the first error is raised (an :class:`~metareview.errors.InputError`
        located at ``file:line:col``). Records already yielded from the bad file stand.
    on_file
        Called with ``(path, number of articles)`` when a file is done.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = expand_paths(paths)
    if files.count(STDIN) and jobs > 1:
        jobs = 1  # stdin cannot be handed to another process
    jobs = _usable_jobs(jobs)
    report = _Reporter(on_deletion, on_error)
    if jobs > 1 and len(files) > 1:
        with tempfile.TemporaryDirectory(prefix="metareview-") as directory, \
                _pool(jobs) as pool:
            for path, done in _parallel(pool, files, format, max_decompressed, directory,
                                        rows=False):
                for withdrawn in done.deletions:
                    report.deletion(withdrawn)
                yield from _unspool(done.spool, done.count)
                os.unlink(done.spool)
                if done.error is not None:
                    report.failed(done.error)
                elif on_file is not None:
                    on_file(path, done.count)
    else:
        for path in files:
            count = 0
            try:
                for item in read_file(path, format, max_decompressed):
                    if isinstance(item, Deletion):
                        report.deletion(item)
                    else:
                        count += 1
                        yield item
            except ReviewError as exc:
                report.failed(exc)
                continue
            if on_file is not None:
                on_file(path, count)
    report.finish()


@contextmanager
def spool_rows(
    paths: Iterable[str | Path] | str | Path,
    format: str | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    jobs: int = 2,
    on_deletion: Callable[[Deletion], None] | None = None,
    on_error: Callable[[ReviewError], None] | None = None,
    on_file: Callable[[str, int], None] | None = None,
    structured: bool = False,
) -> Iterator[RowSpool]:
    """Parse files in ``jobs`` processes straight to rows (:meth:`Article.to_row`; its
    ``structured`` form for JSON lines) in temporary spool files, one per input file;
    yield them as a
    :class:`~metareview.outputs.RowSpool` for :func:`metareview.outputs.write_articles`.

    The same rows in the same order as :func:`read_articles`, but the workers also flatten
    and serialise them, and this process never holds more than one row: what makes
    ``review parse --jobs N`` scale with N. Options and callbacks as for
    :func:`read_articles` (stdin cannot go to a worker: give files). The spool files are
    removed when the ``with`` block ends.
    """
    files = worker_files(paths, "leave out --jobs")
    report = _Reporter(on_deletion, on_error)
    spools: list[tuple[str, int]] = []
    columns: dict[str, None] = {}
    with tempfile.TemporaryDirectory(prefix="metareview-") as directory, \
            _pool(_usable_jobs(max(jobs, 1))) as pool:
        for path, done in _parallel(pool, files, format, max_decompressed, directory,
                                    rows=True, structured=structured):
            for withdrawn in done.deletions:
                report.deletion(withdrawn)
            spools.append((done.spool, done.count))
            columns.update(dict.fromkeys(done.columns))
            if done.error is not None:
                report.failed(done.error)
            elif on_file is not None:
                on_file(path, done.count)
        report.finish()
        every = tuple(columns)

        def csv_parts(escape: bool) -> Iterator[str]:
            parts = [pool.submit(_csv_part, spool, count, every, escape)
                     for spool, count in spools]
            for part in parts:
                path = part.result()
                yield path
                os.unlink(path)  # copied into the output: no longer needed

        yield RowSpool(tuple(spools), every, sum(n for _, n in spools), _unspool,
                       csv_parts)


def articles_frame(
    paths: Iterable[str | Path] | str | Path, format: str | None = None, **options: object
) -> pandas.DataFrame:
    """The articles of ``paths`` as a table, one row per article (:meth:`Article.to_row`).

    Takes the same options as :func:`read_articles`.
    """
    from pandas import DataFrame

    rows = [article.to_row() for article in read_articles(paths, format, **options)]  # type: ignore[arg-type]
    frame: DataFrame = DataFrame(rows)
    return frame
