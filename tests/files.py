"""Small input files the tests write: a CSV table, a fresh review with extra [analysis] lines."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def review_toml(folder: Path, analysis: str) -> Path:
    """``review init`` in ``folder``, with ``analysis`` lines first in its [analysis] table."""
    from metareview.config import init_project

    init_project(folder)
    path = folder / "review.toml"
    text = path.read_text(encoding="utf-8").replace("[analysis]\n", f"[analysis]\n{analysis}", 1)
    path.write_text(text, encoding="utf-8")
    return path
