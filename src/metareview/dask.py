"""Corpus-scale parsing on Dask: many export files (e.g. the ~1,300 files of the PubMed
baseline) as one ``dask.dataframe``, one partition per file.

:func:`read_articles` gives the same columns, in the same order and with the same dtypes,
as :func:`metareview.articles_frame` on the same files; each partition keeps its own
0-based index. The files are read twice, in parallel: once for the columns and their
types (other-language titles and history dates add columns, and pandas' types depend on
every value), once for the data, so no worker or client ever holds more than one file.
:func:`write_parquet` writes such a frame as a folder of Parquet files, one per input file.
Needs the ``dask`` extra (``pip install 'metareview[dask]'``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .articles import read_file, worker_files
from .records import Article
from .xmlsafe import DEFAULT_MAX_DECOMPRESSED

if TYPE_CHECKING:
    import dask.dataframe
    import pandas


@dataclass
class _Kinds:
    """What one column holds over the rows seen: the Python types of its values and
    whether any row lacks a value."""

    types: set[str] = field(default_factory=set)
    missing: bool = False

    def dtype(self) -> Any:
        """The dtype pandas gives such a column in ``DataFrame(list_of_dicts)`` (as
        :func:`metareview.articles_frame` builds it): asked of pandas itself, on one value
        of each type seen (plus a missing one), since its inference differs by version."""
        import pandas

        examples = {"int": 1, "float": 0.5, "str": "a", "bool": True}
        sample = [{"c": examples.get(name, object())} for name in sorted(self.types)]
        if self.missing or not sample:
            sample.append({"c": None})
        return pandas.DataFrame(sample)["c"].dtype


def _rows(path: str, format: str | None, max_decompressed: int) -> list[dict[str, Any]]:
    return [item.to_row() for item in read_file(path, format, max_decompressed)
            if isinstance(item, Article)]


def _survey(path: str, format: str | None,
            max_decompressed: int) -> tuple[list[str], dict[str, _Kinds]]:
    """One file's columns in first-seen order and what each holds."""
    rows = _rows(path, format, max_decompressed)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    kinds = {c: _Kinds() for c in columns}
    for row in rows:
        for column in columns:
            value = row.get(column)
            if value is None:
                kinds[column].missing = True
            else:
                kinds[column].types.add(type(value).__name__)
    return columns, kinds


def _frame(path: str, format: str | None, max_decompressed: int,
           dtypes: dict[str, Any]) -> pandas.DataFrame:
    """One file's partition: its rows, with every column of the corpus, typed alike."""
    import pandas

    frame = pandas.DataFrame(_rows(path, format, max_decompressed))
    typed: pandas.DataFrame = frame.reindex(columns=list(dtypes)).astype(dtypes)
    return typed


def read_articles(
    paths: Iterable[str | Path] | str | Path,
    format: str | None = None,
    *,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
) -> dask.dataframe.DataFrame:
    """The articles of ``paths`` as a dask DataFrame with one partition per file.

    Parameters
    ----------
    paths
        Files, folders (read recursively) or glob patterns, as for
        :func:`metareview.read_articles` (not stdin).
    format, max_decompressed
        As for :func:`metareview.read_articles`.

    Returns
    -------
    dask.dataframe.DataFrame
        The columns and dtypes of :func:`metareview.articles_frame`; runs on the current
        Dask scheduler (a ``dask.distributed.Client`` if one is active). Computing the
        columns runs the first (survey) pass at once; a bad file raises there, with its
        location. Withdrawn PMIDs (MEDLINE ``DeleteCitation``) are left out silently.
    """
    import dask
    import dask.dataframe as dd

    files = worker_files(paths, "parse it without Dask")
    surveys = dask.compute(*[dask.delayed(_survey)(path, format, max_decompressed)
                             for path in files])
    kinds: dict[str, _Kinds] = {}
    for columns, found in surveys:
        for column in columns:
            known = kinds.setdefault(column, _Kinds())
            known.types |= found[column].types
            known.missing |= found[column].missing
    for columns, _ in surveys:  # a column a file lacks is missing in its rows
        for column in kinds.keys() - set(columns):
            kinds[column].missing = True
    dtypes = {column: known.dtype() for column, known in kinds.items()}
    # dask would turn text columns into pyarrow strings: keep pandas' own types
    with dask.config.set({"dataframe.convert-string": False}):
        frame: dask.dataframe.DataFrame = dd.from_map(
            _frame, files, format=format, max_decompressed=max_decompressed, dtypes=dtypes,
            meta=_empty(dtypes), enforce_metadata=False)
    return frame


def _empty(dtypes: dict[str, Any]) -> pandas.DataFrame:
    import pandas

    empty: pandas.DataFrame = pandas.DataFrame(
        {c: pandas.Series(dtype=t) for c, t in dtypes.items()})
    return empty


def write_parquet(frame: dask.dataframe.DataFrame, folder: str | Path) -> int:
    """Write ``frame`` (from :func:`read_articles`) as Parquet files in ``folder`` (one
    per partition, ``part.000000.parquet`` on, in input order; text columns as strings
    even in a file where they are all empty);
    return the number of records."""
    import pyarrow as pa

    arrow = {"int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(str(c), arrow.get(str(t), pa.string()))
                        for c, t in frame.dtypes.items()])
    import dask

    write = frame.to_parquet(str(folder), write_index=False, schema=schema, compute=False,
                             name_function=_part_name)
    _, sizes = dask.compute(write, frame.map_partitions(len))  # one pass over the files
    return int(sizes.sum())


def _part_name(number: int) -> str:
    """Zero-padded, so that the files sort in the order of the inputs."""
    return f"part.{number:06d}.parquet"


def parse_to_parquet(
    inputs: Iterable[str | Path],
    folder: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    format: str | None = None,
    max_decompressed: int = DEFAULT_MAX_DECOMPRESSED,
    force: bool = False,
) -> int:
    """What ``review parse --dask`` does: parse ``inputs`` on a Dask cluster into a folder
    of Parquet files (one per input file); return the number of records.

    ``scheduler`` is a scheduler address (``tcp://host:8786``; its workers must see the
    inputs and the output folder at the same paths), or None for a local cluster of
    ``workers`` processes. The folder is written beside its final name and renamed into
    place when complete; an existing folder is replaced only with ``force``.
    """
    import os
    import shutil
    import tempfile

    from distributed import Client, LocalCluster

    from .errors import OutputError
    from .fileio import check_output

    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise OutputError("not a folder", str(target), "name a folder for the Parquet files")
    check_output(target, list(inputs), force)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            cluster, client = None, Client(scheduler)
        try:
            count = write_parquet(read_articles(inputs, format,
                                                max_decompressed=max_decompressed), partial)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        if target.exists():
            shutil.rmtree(target)
        os.replace(partial, target)
    finally:
        if partial.exists():
            shutil.rmtree(partial)
    return count
