"""Reading article records from many files: the library face of ``review parse``.

:func:`read_articles` expands paths (files, folders, glob patterns, ``-`` for stdin),
detects each file's format from its content, streams its records and, with ``jobs > 1``,
parses files in parallel processes. :func:`articles_frame` gives the same records as a
pandas table (one row per article, the columns of :meth:`Article.to_row`).
"""

from __future__ import annotations

import glob
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputError, MissingInputError, ReviewError, ReviewWarning
from .formats import Format, by_name, detect
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
            "leave out --format to detect the format from the content",
        )


def _parse_whole(
    path: str, format: str | None, max_decompressed: int
) -> tuple[list[Article | Deletion], ReviewError | None]:
    """Worker for parallel parsing: every record of one file, or the error it raised."""
    records: list[Article | Deletion] = []
    try:
        records.extend(read_file(path, format, max_decompressed))
    except ReviewError as exc:
        return records, exc
    return records, None


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
        records, so memory then grows with the largest file.
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
    deleted: list[str] = []

    def deletion(item: Deletion) -> None:
        if on_deletion is not None:
            on_deletion(item)
        else:
            deleted.append(item.pmid)

    def failed(exc: ReviewError) -> None:
        if on_error is None:
            raise exc
        on_error(exc)

    if jobs > 1 and len(files) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = pool.map(
                _parse_whole,
                files,
                [format] * len(files),
                [max_decompressed] * len(files),
            )
            for path, (records, error) in zip(files, results, strict=True):
                count = 0
                for item in records:
                    if isinstance(item, Deletion):
                        deletion(item)
                    else:
                        count += 1
                        yield item
                if error is not None:
                    failed(error)
                elif on_file is not None:
                    on_file(path, count)
    else:
        for path in files:
            count = 0
            try:
                for item in read_file(path, format, max_decompressed):
                    if isinstance(item, Deletion):
                        deletion(item)
                    else:
                        count += 1
                        yield item
            except ReviewError as exc:
                failed(exc)
                continue
            if on_file is not None:
                on_file(path, count)
    if deleted:
        shown = ", ".join(deleted[:5]) + (", …" if len(deleted) > 5 else "")
        warnings.warn(
            f"{len(deleted)} PMID(s) withdrawn by DeleteCitation entries ({shown}); "
            "they are not articles and are not in the output",
            ReviewWarning,
            stacklevel=2,
        )


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
