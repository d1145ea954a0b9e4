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


@cli.command("prisma")
@click.argument("counts", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Output file, its format from the extension: .svg, .png, .pdf (the diagram) "
    "or .csv (the counts in the PRISMA2020 layout). Repeat for several.",
)
@click.option("--check", is_flag=True, help="Only check that the counts add up; write nothing.")
@click.option(
    "--template", is_flag=True, help="Write the blank PRISMA2020 CSV template to -o and stop."
)
@click.option(
    "--dpi",
    type=click.IntRange(50, 1200),
    default=200,
    show_default=True,
    help="Resolution of a PNG diagram.",
)
@click.option("-f", "--force", is_flag=True, help="Replace output files that exist.")
def prisma_command(
    counts: str | None,
    outputs: tuple[str, ...],
    check: bool,
    template: bool,
    dpi: int,
    force: bool,
) -> None:
    """Draw the PRISMA 2020 flow diagram of a new systematic review from its counts.

    COUNTS is a CSV in the layout of the PRISMA2020 R package and Shiny app
    (columns data,node,box,description,boxtext,tooltips,url,n; `-` reads stdin). Fill
    in its `n` column; reasons and per-database counts are written "label, n; label, n".
    The counts must add up (identified − removed = screened; screened − excluded =
    sought; sought − not retrieved = assessed; assessed − excluded = included reports):
    a mismatch is an error naming the two numbers, and nothing is written.

    \b
    Examples:
      review prisma --template -o counts.csv       a blank template to fill in
      review prisma counts.csv --check             do the counts add up?
      review prisma counts.csv -o flow.svg -o flow.png
      review prisma counts.csv -o flow.pdf --force
      review prisma counts.csv -o tidy.csv          the counts written back
    """
    from . import prisma, prisma_diagram
    from .errors import OptionError

    if template:
        if counts or check or len(outputs) != 1 or not outputs[0].lower().endswith(".csv"):
            raise OptionError(
                "--template takes exactly one -o FILE.csv and no COUNTS or --check",
                hint="review prisma --template -o counts.csv",
            )
        prisma.write_template(outputs[0], force=force)
        click.echo(f"wrote {outputs[0]}")
        return
    if counts is None:
        raise OptionError("no COUNTS file given", hint="review prisma counts.csv -o flow.svg")
    if check == bool(outputs):
        raise OptionError(
            "give either --check or at least one -o output",
            hint="review prisma counts.csv --check, or review prisma counts.csv -o flow.svg",
        )
    if counts == "-":
        data = prisma.read_csv("<stdin>", click.get_text_stream("stdin").read())
    else:
        data = prisma.read_csv(counts)
    data.check(location=counts if counts != "-" else "<stdin>")
    if check:
        click.echo(f"counts add up: {data.summary()}")
        return
    for path in prisma_diagram.save(data, outputs, force=force, inputs=[counts], dpi=dpi):
        click.echo(f"wrote {path}")


def main() -> None:
    cli(prog_name="review")
