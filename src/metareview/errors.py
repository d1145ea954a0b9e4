"""One error hierarchy for the whole library.

Every error a user can cause carries a *location* (``file:line:col`` for XML,
``book.xlsx!C7`` for a sheet cell, a file path otherwise), a message saying
*what* is wrong and a hint saying *how to fix it*. The CLI prints them as::

    review: error: <location>: <what> — <how to fix>

and exits with the error's ``exit_code`` (BSD ``sysexits`` values).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# sysexits.h values: scripts can tell bad data from a bad call from a bug.
EX_USAGE = 64
EX_DATAERR = 65
EX_NOINPUT = 66
EX_SOFTWARE = 70
EX_CANTCREAT = 73


class ReviewError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = EX_DATAERR

    def __init__(self, message: str, location: str | None = None, hint: str | None = None,
                 *, details: Sequence[str] = ()):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint
        self.details = tuple(details)  # lines listed under the message (e.g. cells to fill in)

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:  # one "<what> — <how>": a what quoted with its full stop loses it
            what = text[:-1] if text.endswith(".") and not text.endswith("..") else text
            text = f"{what} — {self.hint}"
        return "\n".join([one_line(text), *(f"  {one_line(line)}" for line in self.details)])


_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` on one line, without control characters: a message quoting a hostile
    input (a newline in a parser's message, a terminal escape in a cell) stays one line
    and cannot drive the terminal."""
    return _CONTROLS.sub(" ", text)


class InputError(ReviewError):
    """An input file is malformed, hostile or holds values we cannot use."""


class MissingInputError(ReviewError):
    """An input file or folder does not exist or cannot be read."""

    exit_code = EX_NOINPUT


class OutputError(ReviewError):
    """An output cannot be written (exists, would overwrite an input, no folder for it)."""

    exit_code = EX_CANTCREAT


def os_error(exc: OSError, path: object = None) -> ReviewError:
    """An :class:`OutputError` (exit 73) for a file the system would not let us write or
    read (a read-only folder, permission denied, a full disk), naming ``path`` (or the
    error's own file name); a file that is not there is a :class:`MissingInputError`."""
    import errno

    where = str(path if path is not None else exc.filename or "") or None
    if isinstance(exc, FileNotFoundError):
        return MissingInputError("no such file or folder", where, "check the path")
    what, hint = {
        errno.ENOSPC: ("the disk is full", "free some space, then run again"),
        errno.EDQUOT: ("the disk quota is used up", "free some space, then run again"),
        errno.EROFS: ("the file system is read-only", "copy the review to a writable place"),
        errno.EACCES: ("permission denied", "check the permissions of the file and its folder"),
        errno.EPERM: ("permission denied", "check the permissions of the file and its folder"),
    }.get(exc.errno or 0, (exc.strerror or type(exc).__name__, "check the file and its folder"))
    return OutputError(f"cannot read or write ({what})", where, hint)


class OptionError(ReviewError):
    """Arguments that do not fit together or name unknown choices."""

    exit_code = EX_USAGE


class EstimationError(ReviewError):
    """A model cannot be fitted to the data (as metafor refuses: k too small, zero variances,
    no convergence)."""


class ValidationError(ReviewError):
    """Several located problems found in one pass over an input (e.g. every bad cell of a sheet);
    ``what`` names the places listed (``cell`` for workbooks, ``line`` for review.toml)."""

    def __init__(self, problems: Sequence[ReviewError], location: str | None = None,
                 what: str = "cell"):
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} found",
            location,
            f"fix every {what} listed below and run again",
            details=[str(p) for p in self.problems],
        )


class ReviewWarning(UserWarning):
    """Something the user should know that does not stop the work (metafor-style warnings:
    studies dropped, a test switched, PFT's back-transformation caveat)."""
