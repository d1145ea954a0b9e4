"""The ``review`` command: arguments in, library calls, errors out as messages and exit codes.

Heavy libraries (pandas, scipy, matplotlib) are imported inside the commands that
need them so ``review --help`` stays fast.
"""

from __future__ import annotations

import warnings
from typing import Any

import click

from . import __version__
from .errors import ReviewError, ReviewWarning


class _ReviewGroup(click.Group):
    """Turns library errors into ``review: error: …`` and their exit codes, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("always", ReviewWarning)
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except ReviewError as exc:
                click.echo(f"review: error: {exc}", err=True)
                ctx.exit(exc.exit_code)


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    if issubclass(category, ReviewWarning):
        click.echo(f"review: warning: {message}", err=True)
    else:  # a library's own warning is not ours to reword
        click.echo(f"review: warning: {category.__name__}: {message}", err=True)


@click.group(cls=_ReviewGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="review")
def cli() -> None:
    """Systematic reviews and meta-analyses from the command line.

    \b
    A review moves through:
      review parse pubmed.xml -o records.csv     search exports to tidy records
      review sheet records.csv -o extraction.xlsx  an extraction workbook to fill in
      review pool extraction.xlsx --plot forest.png  random-effects meta-analysis

    Run `review COMMAND --help` for the options and examples of each command.
    """


def main() -> None:
    cli(prog_name="review")
