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


@cli.command("dedupe")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Unique records as CSV (default: stdout).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False), default=None,
              help="Write the duplicates log (CSV) here: one row per removed record.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=90.0, show_default=True,
              help="Smallest fuzzy title score (0-100) for two records to count as one.")
@click.option("--overrides", type=click.Path(dir_okay=False), default=None,
              help="A duplicates log with the reviewer's override column filled in.")
@click.option("--format", "format_", default=None,
              help="Force the article format of the inputs (see `review parse --help`).")
@click.option("-f", "--force", is_flag=True, help="Replace output files that exist.")
def dedupe_command(inputs: tuple[str, ...], output: str | None, log_path: str | None,
                   threshold: float, overrides: str | None, format_: str | None,
                   force: bool) -> None:
    """Find duplicate records across and within sources; keep one per article.

    INPUTS are article files in any format `review parse` reads (folders and glob
    patterns too, `-` for stdin) or records tables (CSV, JSONL, XLSX) written by
    `review parse`. Two records are one article when their DOIs match (case, resolver
    prefix and trailing punctuation ignored), their PMIDs match, or their titles match
    (case, punctuation, diacritics and HTML markup ignored) with a fuzzy score of at least
    --threshold in the same year, with the same first-author surname, the same numbers in
    the title and no conflicting DOI, PMID, volume or first page.

    The most complete record of each group is kept, with the ids of the others merged in;
    `found_in` lists the files it was found in. The log names each removed record, the one
    it matched, the rule and the score. To correct a match, write `not duplicate` (keep
    them apart) or `duplicate` (merge a pair the rules missed: add a row with kept and
    removed) in its `override` column, and give the log back with --overrides.

    \b
    Examples:
      review dedupe pubmed.xml embase.ris -o unique.csv --log duplicates.csv
      review dedupe sources/ -o unique.csv --log duplicates.csv --threshold 95
      review dedupe sources/ -o unique.csv --overrides duplicates.csv --log duplicates-2.csv
    """
    from . import dedupe
    from .fileio import atomic_path, check_output

    sources = [*inputs, *([overrides] if overrides else [])]
    for path in (output, log_path):
        if path:
            check_output(path, sources, force)
    decisions = dedupe.read_overrides(overrides) if overrides else ()
    result = dedupe.dedupe(dedupe.read_inputs(list(inputs), format_), threshold, decisions)
    rules = ", ".join(f"{rule} {n:,}" for rule, n in sorted(result.rule_counts().items()))
    summary = (f"{result.n_input:,} records read, {len(result.records):,} unique, "
               f"{result.n_removed:,} duplicates removed" + (f" ({rules})" if rules else ""))
    if output is None:
        click.echo(dedupe.unique_csv(result), nl=False)
    else:
        with atomic_path(output, sources, force) as tmp:
            tmp.write_text(dedupe.unique_csv(result), encoding="utf-8")
    if log_path:
        with atomic_path(log_path, sources, force) as tmp:
            tmp.write_text(dedupe.log_csv(result), encoding="utf-8")
    click.echo(summary, err=output is None)
    for path in (output, log_path):
        if path:
            click.echo(f"wrote {path}", err=output is None)


class _ScreenGroup(click.Group):
    """`review screen RECORDS …` writes a workbook; `status` and `compare` read them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


@cli.group("screen", cls=_ScreenGroup)
def screen_group() -> None:
    """Screening workbooks: write them, check progress, compare two reviewers.

    \b
    review screen RECORDS -o FILE.xlsx [--stage …]   write a workbook (see `review screen write -h`)
    review screen status FILE.xlsx                   decisions so far and rows still to decide
    review screen compare A.xlsx B.xlsx              agreement table, Cohen's kappa, conflicts

    \b
    Examples:
      review screen unique.csv -o title-abstract.xlsx
      review screen unique.csv --stage full-text --screened title-abstract.xlsx -o full-text.xlsx
      review screen status title-abstract.xlsx
      review screen compare reviewer-a.xlsx reviewer-b.xlsx
    """


@screen_group.command("write")
@click.argument("records", type=click.Path(dir_okay=False, allow_dash=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The workbook to write (.xlsx).")
@click.option("--stage", type=click.Choice(["title-abstract", "full-text"]),
              default="title-abstract", show_default=True, help="Which screening stage.")
@click.option("--screened", type=click.Path(dir_okay=False), default=None,
              help="Full text: the title/abstract workbook; only its include and maybe "
              "records go into the full-text workbook.")
@click.option("--reasons", default=None,
              help='Full text: exclusion reasons offered, separated by ";" '
              '(default: wrong population; wrong intervention or exposure; wrong outcome; …).')
@click.option("-f", "--force", is_flag=True, help="Replace an output file that exists.")
def screen_write_command(records: str, output: str, stage: str, screened: str | None,
                         reasons: str | None, force: bool) -> None:
    """Write a screening workbook with one row per record.

    RECORDS is a records table (CSV, JSONL or XLSX) from `review dedupe` or `review parse`,
    or article files. The title/abstract workbook has a decision column (include, exclude,
    maybe) with a drop-down, a reason and a reviewer column. The full-text workbook has
    retrieved (yes/no), decision (include, exclude) and an exclusion_reason with a
    drop-down of --reasons (another reason may be typed). Record columns are grey: sort,
    filter and add columns freely, but keep record_id.

    \b
    Examples:
      review screen unique.csv -o title-abstract.xlsx
      review screen unique.csv --stage full-text --screened title-abstract.xlsx \\
          -o full-text.xlsx --reasons "wrong population; wrong outcome; no control group"
    """
    from .errors import OptionError
    from .fileio import atomic_path, check_output
    from .sheets import screening
    from .sheets.extraction import record_id

    inputs = [records, *([screened] if screened else [])]
    check_output(output, inputs, force)
    if screened and stage != "full-text":
        raise OptionError("--screened is for the full-text stage",
                          hint="add --stage full-text")
    rows, sources = _record_rows(records)
    if screened:
        keep = set(screening.read_screening(screened).included())
        rows = [row for row in rows if record_id(row) in keep]
    listed = tuple(r.strip() for r in reasons.split(";")) if reasons else screening.DEFAULT_REASONS
    with atomic_path(output, inputs, force) as tmp:
        screening.write_screening(rows, tmp, stage=stage, reasons=listed, sources=sources)
    click.echo(f"wrote {output}: {len(rows):,} records for {stage} screening")


def _record_rows(path: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a records table as written (its record_id kept), or of article files."""
    from pathlib import Path

    from .articles import read_articles
    from .dedupe import is_records_table
    from .sheets.extraction import read_record_rows

    if is_records_table(Path(path)):
        return read_record_rows(path)
    articles = list(read_articles(path))
    return [a.to_row() for a in articles], sorted({a.source_file for a in articles})


@screen_group.command("status")
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def screen_status_command(workbook: str, as_json: bool) -> None:
    """Decisions so far in a screening workbook, and every row still to decide with its cell.

    \b
    Examples:
      review screen status title-abstract.xlsx
      review screen status full-text.xlsx --json
    """
    import json

    from .sheets import screening

    sheet = screening.read_screening(workbook)
    if as_json:
        click.echo(json.dumps(sheet.to_dict(), indent=2, ensure_ascii=False))
        return
    counts = sheet.counts()
    reasons = counts.pop("reasons", {})
    click.echo(f"{sheet.source} ({sheet.stage}): "
               + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items()))
    for reason, n in sorted(reasons.items(), key=lambda item: -item[1]):
        click.echo(f"  excluded: {reason}: {n:,}")
    pending = sheet.pending
    if pending:
        click.echo(f"{len(pending):,} record(s) still to decide:")
        for d in pending:
            click.echo(f"  {d.pending_cell}  {d.record_id}")


@screen_group.command("compare")
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def screen_compare_command(first: str, second: str, as_json: bool) -> None:
    """Compare two reviewers' workbooks of the same records and stage.

    Prints the agreement table (first reviewer in rows, second in columns), observed and
    chance agreement, Cohen's kappa and every record decided differently with both cells.
    Only records decided in both workbooks are compared.

    \b
    Examples:
      review screen compare reviewer-a.xlsx reviewer-b.xlsx
      review screen compare reviewer-a.xlsx reviewer-b.xlsx --json
    """
    import json

    from .sheets import screening

    agreement = screening.compare(screening.read_screening(first),
                                  screening.read_screening(second))
    if as_json:
        click.echo(json.dumps(agreement.to_dict(), indent=2, ensure_ascii=False))
        return
    width = max(len(c) for c in agreement.categories) + 2
    click.echo(f"{'':{width}}" + "".join(f"{c:>{width}}" for c in agreement.categories)
               + f"   (rows: {agreement.first}; columns: {agreement.second})")
    for name, row in zip(agreement.categories, agreement.table, strict=True):
        click.echo(f"{name:{width}}" + "".join(f"{n:>{width},}" for n in row))
    kappa = "undefined" if agreement.kappa is None else f"{agreement.kappa:.3f}"
    click.echo(f"records compared: {agreement.n:,}; observed agreement {agreement.observed:.3f}, "
               f"chance agreement {agreement.expected:.3f}, Cohen's kappa {kappa}")
    if agreement.only_first or agreement.only_second:
        click.echo(f"decided in one workbook only: {agreement.only_first:,} "
                   f"({agreement.first}), {agreement.only_second:,} ({agreement.second})")
    if agreement.conflicts:
        click.echo(f"{len(agreement.conflicts):,} conflict(s):")
        for c in agreement.conflicts:
            click.echo(f"  {c.record_id}: {c.first} ({c.first_cell}) vs {c.second} "
                       f"({c.second_cell})")


def main() -> None:
    cli(prog_name="review")
