"""Text read as a number, without numpy: the records readers import it at start-up."""

from __future__ import annotations

import math


def number(text: str) -> float | None:
    """``text`` as a finite number, else ``None`` ("nan", "inf" and words are not numbers)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
