"""One error hierarchy for the whole library.

Every error a user can cause carries a *location* (``file:line:col`` for XML,
``book.xlsx!C7`` for a sheet cell, a file path otherwise), a message saying
*what* is wrong and a hint saying *how to fix it*. The CLI prints them as::

    review: error: <location>: <what> — <how to fix>

and exits with the error's ``exit_code`` (BSD ``sysexits`` values).
"""

from __future__ import annotations

from collections.abc import Sequence

# sysexits.h values: scripts can tell bad data from a bad call from a bug.
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_CANTCREAT = 73


class ReviewError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = EX_DATAERR

    def __init__(self, message: str, location: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text} — {self.hint}" if self.hint else text


class InputError(ReviewError):
    """An input file is malformed, hostile or holds values we cannot use."""


class MissingInputError(ReviewError):
    """An input file or folder does not exist or cannot be read."""

    exit_code = EX_NOINPUT


class OutputError(ReviewError):
    """An output cannot be written (exists, would overwrite an input, no folder for it)."""

    exit_code = EX_CANTCREAT


class OptionError(ReviewError):
    """Arguments that do not fit together or name unknown choices."""

    exit_code = EX_USAGE


class EstimationError(ReviewError):
    """A model cannot be fitted to the data (as metafor refuses: k too small, zero variances,
    no convergence)."""


class ValidationError(ReviewError):
    """Several located problems found in one pass over an input (e.g. every bad cell of a sheet)."""

    def __init__(self, problems: Sequence[ReviewError], location: str | None = None):
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} found",
            location,
            "fix every cell listed below and run again",
        )

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *(f"  {p}" for p in self.problems)])


class ReviewWarning(UserWarning):
    """Something the user should know that does not stop the work (metafor-style warnings:
    studies dropped, a test switched, PFT's back-transformation caveat)."""
