"""Records per second of ``metareview.dask`` on a local Dask cluster of 1 and 2 workers,
and the projected time for the full PubMed baseline (~1,300 files, ~36 million records).

``--files`` gzipped MEDLINE files of ``--records`` each are made as in ``parse_bench.py``
(real records of ``tests/fixtures/pubmed`` with fresh PMIDs), then parsed to a folder of
Parquet files by :func:`metareview.dask.read_articles` and ``write_parquet`` (survey
pass, then data pass), on a ``LocalCluster`` of 1 and of 2 workers (one thread each),
started before the clock. The projection
divides 36 million records by the measured rate per worker times the worker count.

Usage::

    python benchmarks/dask_bench.py                          # 4 files x 5,000 records
    python benchmarks/dask_bench.py --files 8 --records 30000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from parse_bench import make_file

BASELINE_RECORDS = 36_000_000
BASELINE_FILES = 1_300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--records", type=int, default=5_000, help="records per file")
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from metareview.dask import read_articles, write_parquet

    total = args.files * args.records
    with tempfile.TemporaryDirectory() as tmp:
        paths = [str(Path(tmp) / f"medline-{n:04d}.xml.gz") for n in range(args.files)]
        for path in paths:
            make_file(Path(path), args.records)
        rates = {}
        for workers in (1, 2):
            out = Path(tmp) / f"out-{workers}"
            with LocalCluster(n_workers=workers, threads_per_worker=1,
                              dashboard_address=None) as cluster, Client(cluster):
                wall = time.perf_counter()
                count = write_parquet(read_articles(paths), out)
                wall = time.perf_counter() - wall
            assert count == total, (count, total)
            rates[workers] = total / wall
            print(f"{workers} worker(s): {total:,} records in {wall:6.1f} s"
                  f"  {rates[workers]:8,.0f} records/s")
    print(f"2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    per_worker = rates[2] / 2
    for workers in (2, 16, 64):
        hours = BASELINE_RECORDS / (per_worker * workers) / 3600
        print(f"projected PubMed baseline ({BASELINE_FILES:,} files, {BASELINE_RECORDS:,} "
              f"records) on {workers} workers: {hours:6.1f} h")


if __name__ == "__main__":
    main()
