"""Moderator formulas (``"ablat + alloc"``, ``"weeks * setting"``) into model matrices.

The coding follows R's ``model.matrix`` with treatment contrasts, as metafor's
``rma(mods = ~ ...)`` uses it: a numeric column is one coefficient; a text column is a factor
whose first level in C-locale sort order is the reference, with one dummy per other level
named ``<column><level>``; ``a:b`` multiplies the columns of its parts and ``a * b`` stands
for ``a + b + a:b``. Terms are ordered by degree, main effects first, as R orders them.
Column names with spaces or symbols go in backquotes: ```risk of bias` + year``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import OptionError
from .numtext import number

__all__ = ["ModelFrame", "model_frame", "parse_formula"]

_TOKEN = re.compile(r"\s*(`[^`]*`|[A-Za-z_.][\w.]*|[+*:~()]|\S)")


def parse_formula(formula: str) -> tuple[tuple[str, ...], ...]:
    """The terms of a moderator formula, each a tuple of variable names, in R's order.

    ``"~ a * b + c"`` gives ``(("a",), ("b",), ("c",), ("a", "b"))``. A leading ``~`` is
    optional. Only ``+``, ``*`` and ``:`` are understood; anything else is an
    :class:`~metareview.errors.OptionError` naming what was not understood.
    """
    tokens = [m.group(1) for m in _TOKEN.finditer(formula)]
    if tokens and tokens[0] == "~":
        tokens = tokens[1:]
    terms: list[tuple[str, ...]] = []
    for chunk in _split(tokens, "+", formula):
        factors = [_split(part, ":", formula) for part in _split(chunk, "*", formula)]
        parts = [tuple(_name(t, formula) for t in f) for f in factors]
        # a * b * c: every non-empty combination of the starred parts
        for size in range(1, len(parts) + 1):
            for combo in itertools.combinations(parts, size):
                names = tuple(dict.fromkeys(n for part in combo for n in part))
                if names not in terms:
                    terms.append(names)
    if not terms:
        raise OptionError(f"moderator formula {formula!r} names no column",
                          hint='write e.g. "year + region" or "dose * region"')
    return tuple(sorted(terms, key=len))


def _split(tokens: Sequence[str], sep: str, formula: str) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for token in tokens:
        if token == sep:
            out.append([])
        else:
            out[-1].append(token)
    if any(not part for part in out):
        raise OptionError(f"moderator formula {formula!r}: {sep!r} without a term beside it",
                          hint='write e.g. "year + region"')
    return out


def _name(tokens: Sequence[str], formula: str) -> str:
    if len(tokens) != 1 or not re.fullmatch(r"`[^`]+`|[A-Za-z_.][\w.]*", tokens[0]):
        raise OptionError(
            f"moderator formula {formula!r}: cannot read {' '.join(tokens)!r}",
            hint="join column names with +, * and : (names with spaces in backquotes)",
        )
    return tokens[0].strip("`")


@dataclass(frozen=True)
class ModelFrame:
    """A model matrix built from a formula: ``matrix`` (k × p, intercept first),
    ``coef_names`` (``intrcpt`` then R's column names), and what it takes to code new rows
    (``terms``, and ``levels`` of each factor, reference first)."""

    formula: str
    terms: tuple[tuple[str, ...], ...]
    levels: Mapping[str, tuple[str, ...]]
    coef_names: tuple[str, ...]
    matrix: NDArray[np.float64]

    def rows(self, points: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Model-matrix rows (without the intercept) for new moderator values, e.g.
        ``[{"ablat": 20, "alloc": "random"}]``; every variable of the formula is needed."""
        needed = sorted({v for term in self.terms for v in term})
        out = []
        for point in points:
            missing = [v for v in needed if v not in point]
            if missing:
                raise OptionError(f"prediction point {dict(point)} lacks {', '.join(missing)}",
                                  hint=f"give a value for each of: {', '.join(needed)}")
            columns = {v: [point[v]] for v in needed}
            out.append(_code(self.terms, columns, self.levels, "prediction")[1][0, 1:])
        return np.array(out, dtype=float).reshape(len(points), len(self.coef_names) - 1)


def model_frame(formula: str, columns: Mapping[str, Sequence[Any]]) -> ModelFrame:
    """Code ``columns`` (name → one value per study) by ``formula`` into a :class:`ModelFrame`.

    A column is numeric when every value present is a number (or text that reads as one);
    otherwise it is a factor. Missing values (``None``, NaN, empty text) give NaN rows, which
    the fit leaves out with a warning as metafor does.
    """
    terms = parse_formula(formula)
    names = list(dict.fromkeys(v for term in terms for v in term))
    unknown = [n for n in names if n not in columns]
    if unknown:
        raise OptionError(
            f"moderator column {', '.join(map(repr, unknown))} is not in the sheet",
            hint=f"columns: {', '.join(columns)}",
        )
    levels: dict[str, tuple[str, ...]] = {}
    for name in names:
        values = [_text(v) for v in columns[name]]
        present = [v for v in values if v is not None]
        if present and not all(number(v) is not None for v in present):
            found = tuple(sorted(set(present)))  # C-locale order, as R's factor()
            if len(found) < 2:
                raise OptionError(f"moderator {name!r} has a single value ({found[0]!r})",
                                  hint="a factor needs at least two levels to compare")
            levels[name] = found
    for term in terms:
        if len(term) > 1 and any(v in levels for v in term):
            absent = [v for v in term if (v,) not in terms]
            if absent:
                raise OptionError(
                    f"interaction {':'.join(term)} without the main effect of "
                    f"{', '.join(absent)}",
                    hint=f"write {' * '.join(term)} to include the main effects",
                )
    coef_names, matrix = _code(terms, columns, levels, "sheet")
    return ModelFrame(formula, terms, levels, coef_names, matrix)


def _code(terms: Sequence[tuple[str, ...]], columns: Mapping[str, Sequence[Any]],
          levels: Mapping[str, tuple[str, ...]],
          where: str) -> tuple[tuple[str, ...], NDArray[np.float64]]:
    k = len(next(iter(columns.values())))
    coded: dict[str, tuple[list[str], NDArray[np.float64]]] = {}
    for name in dict.fromkeys(v for term in terms for v in term):
        values = [_text(v) for v in columns[name]]
        if name in levels:
            bad = [v for v in values if v is not None and v not in levels[name]]
            if bad:
                raise OptionError(f"{where}: {name} = {bad[0]!r} is not a level of {name}",
                                  hint=f"levels: {', '.join(levels[name])}")
            dummies = np.array([[math.nan if v is None else float(v == lev)
                                 for lev in levels[name][1:]] for v in values], dtype=float)
            coded[name] = ([f"{name}{lev}" for lev in levels[name][1:]],
                           dummies.reshape(k, len(levels[name]) - 1))
        else:
            nums = [math.nan if v is None else number(v) for v in values]
            bad = [str(v) for v, x in zip(values, nums, strict=True) if x is None]
            if bad:
                raise OptionError(f"{where}: {name} = {bad[0]!r} is not a number",
                                  hint=f"{name} is a numeric moderator")
            coded[name] = ([name], np.array(nums, dtype=float).reshape(k, 1))
    names, blocks = ["intrcpt"], [np.ones((k, 1))]
    for term in terms:
        parts = [coded[v] for v in term]
        # R varies the first part's columns fastest
        for reverse in itertools.product(*(range(len(p[0])) for p in reversed(parts))):
            combo = reverse[::-1]
            names.append(":".join(p[0][i] for p, i in zip(parts, combo, strict=True)))
            column = np.ones(k)
            for p, i in zip(parts, combo, strict=True):
                column = column * p[1][:, i]
            blocks.append(column[:, None])
    return tuple(names), np.hstack(blocks)


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def parse_pairs(text: str, option: str, hint: str) -> list[tuple[str, str]]:
    """``"a=1, b=x"`` as ``[("a", "1"), ("b", "x")]``, names and values stripped; a part
    without a name, ``=`` or a value is an :class:`OptionError` naming ``option``."""
    pairs = []
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise OptionError(f"{option} {text!r}: cannot read {part.strip()!r}", hint=hint)
        pairs.append((name.strip(), value.strip()))
    return pairs
