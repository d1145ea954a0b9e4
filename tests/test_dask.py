"""Corpus-scale parsing on Dask (a dask.distributed.LocalCluster): one partition per file,
the columns, dtypes and rows of articles_frame, and `review parse --dask -o folder/`."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import distributed
import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from metareview import articles_frame
from metareview import dask as mdask
from metareview.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
FILES = [*sorted(str(p) for p in (FIXTURES / "pubmed").iterdir() if ".xml" in p.name),
         *sorted(str(p) for p in (FIXTURES / "ris").glob("*.ris"))[:2]]


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def expected() -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return articles_frame(FILES)


def test_read_articles_matches_articles_frame(client: object) -> None:
    frame = mdask.read_articles(FILES)
    assert frame.npartitions == len(FILES)
    reference = expected()
    assert list(frame.columns) == list(reference.columns)
    assert dict(frame.dtypes) == dict(reference.dtypes)
    assert any(c.startswith("date_") for c in frame.columns)  # columns some files lack
    got = frame.compute()
    assert list(got.index).count(0) == len(FILES)  # each partition keeps its own index
    pd.testing.assert_frame_equal(got.reset_index(drop=True), reference)


def test_review_parse_dask_writes_partitioned_parquet(client: object, tmp_path: Path) -> None:
    out = tmp_path / "records"
    result = CliRunner().invoke(
        cli, ["parse", *FILES, "-o", str(out), f"--dask={client.scheduler.address}"])  # type: ignore[attr-defined]
    assert result.exit_code == 0, result.output
    assert f"{len(expected()):,} records" in result.stderr
    assert len(list(out.glob("*.parquet"))) == len(FILES)
    back = pd.read_parquet(out)
    reference = expected()
    assert list(back.columns) == list(reference.columns)
    def text(column: pd.Series) -> list[str | None]:
        return [v if isinstance(v, str) else None for v in column]

    for column in ("pmid", "title", "authors", "abstract"):
        assert text(back[column]) == text(reference[column]), column
    assert back["record_index"].tolist() == reference["record_index"].tolist()
    again = CliRunner().invoke(
        cli, ["parse", *FILES, "-o", str(out), f"--dask={client.scheduler.address}"])  # type: ignore[attr-defined]
    assert again.exit_code != 0 and "exists" in again.output
    forced = CliRunner().invoke(
        cli, ["parse", *FILES, "-o", str(out), "--force", f"--dask={client.scheduler.address}"])  # type: ignore[attr-defined]
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["records"]  # no partial folder
    assert len(pd.read_parquet(out)) == len(reference)


def test_a_column_empty_in_every_file_is_written_as_text(client: object,
                                                        tmp_path: Path) -> None:
    frame = mdask.read_articles(FILES[:1])
    empty = [c for c in frame.columns if frame[c].isna().all().compute()]
    assert empty  # e.g. url: no record of this file has one
    assert mdask.write_parquet(frame, tmp_path / "one") == 1
    assert str(pq.read_schema(next((tmp_path / "one").glob("*.parquet"))).field(empty[0])
               .type) == "string"


def test_dask_refuses_stdin_and_a_missing_output() -> None:
    with pytest.raises(Exception, match="stdin"):
        mdask.read_articles(["-"])
    result = CliRunner().invoke(cli, ["parse", FILES[0], "--dask"])
    assert result.exit_code != 0 and "-o FOLDER" in result.output
