"""CSV cells as this tool writes and reads them: formula-like text neutralised, any length.

A spreadsheet opening a CSV runs a cell that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a CR (or their fullwidth forms, which some input methods type) as a formula: a
record title can carry ``=HYPERLINK(…)`` from a hostile export. The CSV writers prefix
such text with an apostrophe (shown by spreadsheets, not run), exactly as the ``.xlsx``
writers store it as text; the readers remove that apostrophe again, so every CSV the
tool writes reads back to the same values. Text that already starts with apostrophes
before a formula-like start gets one more, so the round trip is exact.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

# Python's csv module refuses fields over 131,072 characters; an abstract or a reviewer's
# note can be longer, and every CSV this tool writes must read back. Every CSV reader
# imports this module, so the limit is raised for all of them here.
csv.field_size_limit(2**31 - 1)

#: Text starting with these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_like(value: Any) -> bool:
    """Whether a spreadsheet would take ``value`` for a formula (text starting with
    one of :data:`FORMULA_STARTS`)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def escape_formula(value: Any) -> Any:
    """``value`` with an apostrophe in front when a spreadsheet would run it (also when
    apostrophes come before such a start); other values as they are."""
    if isinstance(value, str) and formula_like(value.lstrip("'")):
        return "'" + value
    return value


_RISKY = frozenset(["'", *FORMULA_STARTS])  # first characters that need a closer look


def escape_cells(cells: Iterable[Any]) -> list[Any]:
    """:func:`escape_formula` of every cell of a row; most cells are passed over on
    their first character alone."""
    return [escape_formula(c) if isinstance(c, str) and c[:1] in _RISKY else c for c in cells]


def unescape_formula(value: str) -> str:
    """Undo :func:`escape_formula` on a cell read from CSV."""
    if value.startswith("'") and formula_like(value.lstrip("'")):
        return value[1:]
    return value
