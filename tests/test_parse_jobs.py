"""`review parse --jobs N` gives the rows of `--jobs 1`, in the same order, for every table
output; bad files are reported the same way. The library's spool gives the same rows."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from metareview.articles import read_articles, spool_rows
from metareview.cli import cli
from metareview.errors import ReviewError
from metareview.records import Deletion

FIXTURES = Path(__file__).parent / "fixtures"
PUBMED = sorted(str(p) for p in (FIXTURES / "pubmed").iterdir() if ".xml" in p.name)
MIXED = [*PUBMED, *sorted(str(p) for p in (FIXTURES / "ris").glob("*.ris"))[:2]]


def parse(*args: str) -> str:
    result = CliRunner().invoke(cli, ["parse", *args])
    assert result.exit_code == 0, result.output
    return said(result.stderr)


def said(stderr: str) -> str:
    """stderr without the warning that --jobs is cut to the CPUs (on a small machine)."""
    return "".join(line for line in stderr.splitlines(keepends=True)
                   if not line.startswith("review: warning: --jobs"))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
def test_jobs_2_writes_the_rows_of_jobs_1(tmp_path: Path, suffix: str) -> None:
    one, two = tmp_path / f"one{suffix}", tmp_path / f"two{suffix}"
    said_one = parse(*MIXED, "-o", str(one))
    said_two = parse(*MIXED, "-o", str(two), "--jobs", "2")
    assert said_two.replace("two", "one") == said_one  # counts, files, withdrawn PMIDs
    if suffix == ".csv":
        assert two.read_bytes() == one.read_bytes()
    elif suffix == ".jsonl":
        assert two.read_text(encoding="utf-8") == one.read_text(encoding="utf-8")
    else:
        read = pd.read_parquet if suffix == ".parquet" else pd.read_excel
        frame = read(two)
        pd.testing.assert_frame_equal(frame, read(one))
        assert len(frame) > 100


def test_jobs_with_a_bad_file_and_keep_going(tmp_path: Path) -> None:
    bad = tmp_path / "broken.xml"
    bad.write_bytes((FIXTURES / "pubmed" / "seed_aacc_2025.xml").read_bytes()[:-200])
    runs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}.csv"
        result = CliRunner().invoke(cli, ["parse", PUBMED[0], str(bad), PUBMED[1], "-o",
                                          str(out), "--keep-going", "--jobs", jobs])
        assert result.exit_code == 65
        runs.append((said(result.stderr).replace(out.name, "out.csv"), out.read_bytes()))
    assert runs[1] == runs[0]
    assert "broken.xml" in runs[0][0]
    failed = CliRunner().invoke(cli, ["parse", PUBMED[0], str(bad), "-o",
                                      str(tmp_path / "x.csv"), "--jobs", "2"])
    assert failed.exit_code == 65 and not (tmp_path / "x.csv").exists()


def test_spool_rows_and_parallel_read_articles_match_the_serial_reader() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        serial = list(read_articles(MIXED))
        parallel = list(read_articles(MIXED, jobs=2))
    assert parallel == serial
    deleted: list[Deletion] = []
    seen: list[tuple[str, int]] = []
    with spool_rows(MIXED, jobs=2, on_deletion=deleted.append,
                    on_file=lambda path, n: seen.append((path, n))) as spool:
        rows = list(spool)
        assert spool.count == len(serial)
        assert list(spool.columns) == list(dict.fromkeys(k for r in rows for k in r))
    assert rows == [a.to_row() for a in serial]
    assert [path for path, _ in seen] == MIXED
    assert sum(n for _, n in seen) == len(serial)
    assert deleted  # the MEDLINE samples withdraw PMIDs
    assert json.dumps(rows, default=str)  # plain values


def test_spool_rows_refuses_stdin() -> None:
    with pytest.raises(ReviewError, match="stdin"), spool_rows(["-"]):
        pass
