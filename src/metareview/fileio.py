"""Writing output files safely: atomically, never over an input, never over a file by surprise."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MissingInputError, OptionError, OutputError, os_error


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), force: bool = False) -> Path:
    """Refuse an output that is one of the inputs, or that exists when ``force`` is off.

    ``inputs`` may name folders and glob patterns: the files they stand for
    (:func:`metareview.articles.expand_paths`) are inputs too.
    """
    target = Path(path)
    resolved = target.resolve()
    for source in _input_files(inputs):
        if Path(source).resolve() == resolved:
            raise OutputError(
                "the output is also an input", str(target), "choose another output file name"
            )
    if target.exists() and not force:
        raise OutputError("the file exists", str(target), "use --force to replace it")
    if not target.parent.exists():
        raise OutputError(
            "the folder does not exist", str(target), f"create {target.parent} first"
        )
    return target


def _input_files(inputs: Iterable[str | Path]) -> Iterator[str]:
    from .articles import STDIN, expand_paths  # articles imports the format readers

    for source in inputs:
        if str(source) == STDIN:
            continue
        try:
            yield from expand_paths([source])
        except MissingInputError:  # not there (yet): still never to be written over
            yield str(source)


@contextmanager
def atomic_path(
    path: str | Path, inputs: Iterable[str | Path] = (), force: bool = False
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the block
    succeeds, so a failed run leaves no partial output."""
    target = check_output(path, inputs, force)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent
        )
    except OSError as exc:  # a read-only folder, permission denied
        raise os_error(exc, target) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except OSError as exc:  # a full disk while writing: name the output, not the temp file
        if exc.filename in (None, str(tmp), tmp_name) and not isinstance(exc, BrokenPipeError):
            raise os_error(exc, target) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_outputs(targets: Iterable[tuple[str | Path, Iterable[str]]],
                  inputs: Iterable[str | Path] = (), force: bool = False) -> list[Path]:
    """Refuse, before any work, a set of outputs: one named twice, one whose suffix is not
    among those allowed for it (an :class:`~metareview.errors.OptionError`), and what
    :func:`check_output` refuses. ``targets`` pairs each output with its allowed suffixes."""
    pairs = [(Path(path), tuple(allowed)) for path, allowed in targets]
    inputs = list(inputs)
    if len({path.resolve() for path, _ in pairs}) < len(pairs):
        raise OptionError("the same output file is named twice",
                          hint="give each output its own name")
    for path, allowed in pairs:
        if path.suffix.lower() not in allowed:
            raise OptionError(f"unknown output type {path.suffix or '(none)'!r}", str(path),
                              f"use one of: {', '.join(allowed)}")
        check_output(path, inputs, force)
    return [path for path, _ in pairs]
