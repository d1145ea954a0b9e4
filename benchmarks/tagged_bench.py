"""Time of the tagged text readers (RIS, MEDLINE/nbib, BibTeX) on one record with a field
of n and 8n lines: linear readers take about 8 times as long, a quadratic one 64 times.

The inputs are the ones ``tests/test_tagged_limits.py`` counts the work of (continuation
lines as Scopus writes reference lists in ``N1``; a long abstract with LaTeX accents).
Times are CPU seconds, best of ``--repeat`` runs.

Usage::

    python benchmarks/tagged_bench.py            # n = 5 000 lines (8n: ≈3 MB field, under the cap)
    python benchmarks/tagged_bench.py --lines 1000 --repeat 1
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Callable

from metareview.formats import bibtex, nbib, ris

LINE = "continued text of a long field, as Scopus writes its reference lists"


def ris_input(lines: int) -> bytes:
    body = "\n".join(f"{LINE} {i}" for i in range(lines))
    return f"TY  - JOUR\nTI  - T\nN1  - References:\n{body}\nER  - \n".encode()


def nbib_input(lines: int) -> bytes:
    body = "\n".join(f"      {LINE} {i}" for i in range(lines))
    return f"PMID- 1\nTI  - T\nAB  - Start\n{body}\n".encode()


def bibtex_input(lines: int) -> bytes:
    words = " ".join(f'M{{\\"u}}ller --- {i}' for i in range(lines // 20))  # slow decoder
    return f"@article{{k,\n  title = {{T}},\n  abstract = {{{words}}}\n}}\n".encode()


READERS: dict[str, tuple[Callable[[int], bytes], Callable[..., object]]] = {
    "ris": (ris_input, ris.read),
    "nbib": (nbib_input, nbib.read),
    "bibtex": (bibtex_input, bibtex.read),
}


def cpu_time(read: Callable[..., object], data: bytes, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        list(read(io.BytesIO(data), "bench"))  # type: ignore[call-overload]
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(f"{'reader':8} {'n lines':>10} {'time n':>9} {'time 8n':>9} {'ratio':>6}")
    for name, (make, read) in READERS.items():
        small = cpu_time(read, make(options.lines), options.repeat)
        large = cpu_time(read, make(8 * options.lines), options.repeat)
        print(f"{name:8} {options.lines:>10} {small:>8.3f}s {large:>8.3f}s {large / small:>6.1f}")


if __name__ == "__main__":
    main()
