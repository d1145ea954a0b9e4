"""JSON-safe plain values, shared by the ``to_dict()`` of every result class."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def plain(value: Any) -> Any:
    """``value`` with JSON-safe leaves, recursively.

    NaN and ±inf become ``None`` (JSON has neither, and ``json.dumps`` would write the
    invalid tokens ``NaN`` / ``Infinity``); numpy scalars become Python numbers; arrays,
    tuples and other sequences become lists; mappings become dicts. Strings are kept.
    """
    if value is None or isinstance(value, (str, bytes, bool)):
        return value
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [plain(v) for v in value]
    return value
