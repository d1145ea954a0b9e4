"""Start-up and sheet-reading time of ``review pool`` (the command, as a user runs it).

In the same run, each timed as a fresh process (best of ``--repeat``, CPU seconds of the
child, so other work on the machine disturbs it less; wall seconds too):

* ``review pool`` on the 14-study sample sheet ``data/extraction.xlsx`` (aim: < 0.4 s);
* ``review pool`` on a generated sheet of ``--studies`` proportion studies;
* for scale, ``python -c "import scipy.stats"`` (what the command no longer imports) and
  ``python -c "import numpy, scipy.special, openpyxl"`` (what it must import);
* reading the large sheet with openpyxl's full-mode ``load_workbook`` against
  ``metareview.sheets.common.read_table`` (read-only mode, the one sheet needed).

Usage::

    python benchmarks/pool_cli_bench.py
    python benchmarks/pool_cli_bench.py --studies 50000 --repeat 3
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "extraction.xlsx"


def run(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best ``(CPU seconds, wall seconds)`` of a command run ``repeat`` times."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    best = (math.inf, math.inf)
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (cpu, wall))
    return best


def make_sheet(path: Path, studies: int) -> None:
    """A proportion extraction sheet: study, events, total (saved in full mode, which
    records the sheet's dimension as Excel does)."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.append(["study", "events", "total"])
    for i in range(studies):
        total = 20 + i % 180
        ws.append([f"Study {i + 1}", (i * 7) % total, total])
    book.save(path)


def timed(label: str, seconds: tuple[float, float]) -> None:
    cpu, wall = seconds
    print(f"{label:58} {cpu:7.2f} s CPU {wall:7.2f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=50_000, help="studies in the large sheet")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (best is kept)")
    args = parser.parse_args()
    python = sys.executable
    review = [python, "-c", "from metareview.cli import main; main()"]
    timed("python -c pass", run([python, "-c", "pass"], args.repeat))
    timed("python -c 'import scipy.stats'", run([python, "-c", "import scipy.stats"],
                                                 args.repeat))
    timed("python -c 'import numpy, scipy.special, openpyxl'",
          run([python, "-c", "import numpy, scipy.special, openpyxl"], args.repeat))
    timed("review pool data/extraction.xlsx (14 studies; aim < 0.4 s)",
          run([*review, "pool", str(SAMPLE)], args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.xlsx"
        make_sheet(big, args.studies)
        repeat = max(1, args.repeat // 2)
        timed(f"review pool ({args.studies:,} studies)",
              run([*review, "pool", str(big)], repeat))
        timed("  openpyxl load_workbook(full mode) of that sheet",
              run([python, "-c", f"import openpyxl; openpyxl.load_workbook({str(big)!r})"],
                  repeat))
        timed("  metareview read_table (read-only mode) of that sheet",
              run([python, "-c", "from metareview.sheets.common import read_table;"
                   f"read_table({str(big)!r})"], repeat))


if __name__ == "__main__":
    main()
