"""Speed, memory, growth and recall of ``review dedupe`` on generated records tables.

Each size is a CSV records table (as ``review parse`` writes) of synthetic articles:
titles of 6-18 words drawn from a 40,000-word vocabulary with Zipf-like frequencies, a
first author from 8,000 surnames, years 1990-2024, and 10 % planted near-duplicates of
other records (1-3 character typos, case and punctuation changes, the DOI dropped, an
author initial changed). Each run is ``metareview.dedupe.dedupe_files`` (read the CSV,
find duplicates, write the unique records) in a fresh process, for its own peak RSS.

Printed side by side: seconds, CPU seconds (user + system, all threads), peak RSS,
planted pairs found (recall), the growth exponent between sizes (CPU time ∝ n^b), and
at the smallest size the recall when every pair of titles is scored (the candidates
replaced by all pairs), which the candidate search must equal.

Usage::

    python benchmarks/dedupe_bench.py                        # 10k, 50k, 200k records
    python benchmarks/dedupe_bench.py --sizes 10000 20000
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import multiprocessing
import random
import resource
import string
import tempfile
import time
from pathlib import Path
from typing import Any

SEED = 20261206


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 11)))


def make_table(path: Path, n: int) -> list[tuple[str, str]]:
    """Write ``n`` records (10 % planted near-duplicates); return the planted pairs as
    record keys ``(original, copy)``."""
    rng = random.Random(SEED)
    vocabulary = [_word(rng) for _ in range(40_000)]
    # cumulative weights once: choices() would add up all 40,000 weights on every call
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    surnames = [_word(rng).capitalize() for _ in range(8_000)]
    originals = n - n // 10
    rows: list[dict[str, Any]] = []
    for i in range(originals):
        words = rng.choices(vocabulary, cum_weights=cumulative, k=rng.randint(6, 18))
        rows.append({
            "source_file": "bench.csv", "record_index": i,
            "title": " ".join(words).capitalize() + ".",
            "authors": f"{rng.choice(surnames)} {rng.choice(string.ascii_uppercase)}",
            "year": rng.randint(1990, 2024), "doi": f"10.1000/bench.{i}",
            "volume": rng.randint(1, 60), "pages": f"{rng.randint(1, 900)}-{rng.randint(901, 999)}",
        })
    planted = []
    for k in range(originals, n):
        source = rows[rng.randrange(originals)]
        title = list(source["title"])
        for _ in range(rng.randint(1, 3)):  # typos: a letter swapped for another
            at = rng.randrange(len(title) - 1)
            if title[at].isalpha():
                title[at] = rng.choice(string.ascii_lowercase)
        copy = dict(source, record_index=k, doi="",
                    title=("".join(title).upper() if rng.random() < 0.2
                           else "".join(title).rstrip(".") + " [abstract]"))
        planted.append((f"bench.csv#{source['record_index']}", f"bench.csv#{k}"))
        rows.append(copy)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return planted


def _peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def _child(path: str, exhaustive: bool, pipe: Any) -> None:
    import numpy as np
    from rapidfuzz import fuzz, process

    from metareview import dedupe

    if exhaustive:  # every pair of distinct titles scored: the reference for recall
        def every_pair(titles: Any, blocks: Any, threshold: float) -> dict[Any, float]:
            matrix = process.cdist(titles, titles, scorer=fuzz.ratio, score_cutoff=threshold,
                                   dtype=np.float32, workers=-1)
            return {(int(u), int(v)): float(matrix[u, v])
                    for u, v in zip(*np.nonzero(matrix), strict=True) if u < v}

        dedupe._candidates = every_pair  # type: ignore[assignment]
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = dedupe.dedupe_files([path], output=str(Path(path).with_suffix(".out.csv")),
                                 force=True)
    seconds, cpu = time.perf_counter() - wall, _cpu_seconds() - cpu
    clusters = {key: r.cluster for r in result.records for key in r.members}
    pipe.send((seconds, cpu, _peak_rss_mb(), clusters))


def _cpu_seconds() -> float:
    """User and system time of this process, every thread (rapidfuzz scores on all cores)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(path: Path, exhaustive: bool = False
            ) -> tuple[float, float, float, dict[str, int]]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=_child, args=(str(path), exhaustive, child))
    process.start()
    result = parent.recv()
    process.join()
    return result  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    args = parser.parse_args()
    print(f"{'records':>9} {'seconds':>8} {'CPU s':>8} {'peak MB':>8} {'recall':>8} "
          f"{'exponent':>9}")
    previous: tuple[int, float] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            path = Path(tmp) / f"records-{n}.csv"
            planted = make_table(path, n)
            seconds, cpu, peak, clusters = measure(path)
            recall = sum(clusters[a] == clusters[b] for a, b in planted) / len(planted)
            # from CPU seconds: on a shared machine the wall clock also measures the others
            growth = (f"{math.log(cpu / previous[1]) / math.log(n / previous[0]):9.2f}"
                      if previous else f"{'':>9}")
            print(f"{n:>9,} {seconds:8.1f} {cpu:8.1f} {peak:8.0f} {recall:8.4f} {growth}",
                  flush=True)
            previous = (n, cpu)
        n = args.sizes[0]
        path = Path(tmp) / f"records-{n}.csv"
        planted = make_table(path, n)
        seconds, cpu, peak, clusters = measure(path, exhaustive=True)
        recall = sum(clusters[a] == clusters[b] for a, b in planted) / len(planted)
        print(f"{n:>9,} {seconds:8.1f} {cpu:8.1f} {peak:8.0f} {recall:8.4f}  "
              "every pair scored (the reference for recall)")

if __name__ == "__main__":
    main()
