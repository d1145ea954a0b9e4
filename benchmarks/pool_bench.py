"""Pooling speed of ``metareview.meta.pool`` against statsmodels and (if present) R metafor.

For k = 16, 1,000 and 100,000 simulated studies, in the same run:

* ``metareview`` — ``pool(yi, vi, method="DL")`` and ``method="REML"`` (full result: Q, I2,
  H2, PI, weights, log-likelihoods);
* ``statsmodels`` — ``statsmodels.stats.meta_analysis.combine_effects`` with
  ``method_re="dl"``; statsmodels has no REML, so the REML row uses its iterated
  Paule-Mandel estimator (``method_re="iterated"``), the nearest iterative one;
* ``metafor`` — ``rma(yi, vi, method=...)`` timed inside R with ``system.time``, if
  ``Rscript`` and metafor are installed. metafor builds k x k matrices, so it runs only
  up to k = 1,000.

Times are the best of 15 alternating repeats (milliseconds per fit). numpy's BLAS runs on one
thread (unless OPENBLAS_NUM_THREADS etc. are set): both Python tools use the same numpy, and
on a busy machine threaded dot products over 100,000 numbers mostly wait for each other. Usage::

    python benchmarks/pool_bench.py
    python benchmarks/pool_bench.py --sizes 16 1000 100000 1000000
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import tempfile
import timeit
from collections.abc import Callable
from functools import partial
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy loads its BLAS

import numpy as np  # noqa: E402

METAFOR_MAX_K = 1000


def best_ms(funcs: list[Callable[[], object]], k: int, repeat: int = 15) -> list[float]:
    """Best time per call (ms) of each function, timed in alternation so that a busy
    machine slows all of them alike."""
    number = max(1, 20_000 // max(k, 1))
    best = [math.inf] * len(funcs)
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            best[i] = min(best[i], timeit.timeit(func, number=number) / number * 1e3)
    return best


def simulate(k: int, seed: int = 20261126) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.5, k)
    yi = rng.normal(0.3, np.sqrt(vi + 0.1))
    return yi, vi


def metafor_ms(yi: np.ndarray, vi: np.ndarray, method: str) -> float | None:
    if shutil.which("Rscript") is None or yi.size > METAFOR_MAX_K:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "d.csv"
        np.savetxt(data, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="")
        reps = max(1, 2000 // yi.size)
        script = (
            "suppressMessages(library(metafor));"
            f"d <- read.csv('{data}');"
            f"f <- function() rma(d$yi, d$vi, method='{method}');"
            "invisible(f());"
            f"t <- min(sapply(1:5, function(i) system.time(for (j in 1:{reps}) f())[['elapsed']]));"
            f"cat(t / {reps} * 1000)"
        )
        run = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=False)
    try:
        return float(run.stdout.strip())
    except ValueError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 1000, 100_000])
    args = parser.parse_args()

    from statsmodels.stats.meta_analysis import combine_effects

    from metareview.meta import pool

    header = (
        f"{'k':>9} {'method':>6} {'metareview ms':>14} {'statsmodels ms':>15} {'ratio':>6}"
        f" {'metafor ms':>11} {'ratio':>6} {'µs/study':>9}"
    )
    print(header)
    print("-" * len(header))
    for k in args.sizes:
        yi, vi = simulate(k)
        for method, sm_method in (("DL", "dl"), ("REML", "iterated")):
            ours, theirs = best_ms(
                [
                    partial(pool, yi, vi, method=method),
                    partial(combine_effects, yi, vi, method_re=sm_method),
                ],
                k,
            )
            if method == "DL":  # same estimator: the numbers must agree
                sm = combine_effects(yi, vi, method_re="dl")
                assert np.isclose(pool(yi, vi, method="DL").estimate, sm.mean_effect_re)
            r_ms = metafor_ms(yi, vi, method)
            r_text = f"{r_ms:11.3f} {r_ms / ours:6.1f}" if r_ms else f"{'n/a':>11} {'':>6}"
            print(
                f"{k:>9,} {method:>6} {ours:14.3f} {theirs:15.3f} {theirs / ours:6.1f}"
                f" {r_text} {ours * 1e3 / k:9.3f}"
            )
    print("\nratio = other tool's time / metareview's time (above 1: metareview is faster).")
    print("statsmodels has no REML: its REML row is the iterated Paule-Mandel estimator.")


if __name__ == "__main__":
    main()
