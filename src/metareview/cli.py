"""The ``review`` command: arguments in, library calls, errors out as messages and exit codes.

Heavy libraries (pandas, scipy, matplotlib) are imported inside the commands that
need them so ``review --help`` stays fast.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from .errors import EX_SOFTWARE, ReviewError, ReviewWarning, one_line, os_error


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
            except BrokenPipeError as exc:  # the reader went away (`review parse … | head`)
                _quiet_stdout(exc)
                ctx.exit(EX_SIGPIPE)
            except OSError as exc:  # a read-only folder, permission denied, a full disk
                error = os_error(exc)
                click.echo(f"review: error: {error}", err=True)
                ctx.exit(error.exit_code)
            except (click.exceptions.Exit, click.ClickException, click.Abort):
                raise
            except (Exception, RecursionError) as exc:  # a bug: still no traceback
                click.echo(f"review: error: internal error ({one_line(type(exc).__name__)}: "
                           f"{one_line(str(exc))[:300]}) — this is a bug in review; please "
                           "report it with the command that caused it", err=True)
                ctx.exit(EX_SOFTWARE)


EX_SIGPIPE = 141  # 128 + SIGPIPE: what a shell reports for a command killed by it
_RAW_CSV_HELP = ("CSV output for scripts: write text exactly as it is. By default text a "
                 "spreadsheet would run as a formula (starting with = + - @, a tab or CR) "
                 "gets a leading ' so it shows as text; review reads it back without it.")

# One meaning per option name: --from is what is read, --to what is written, -o where.
_ARTICLE_OUTPUTS = ("csv", "jsonl", "xlsx", "parquet", "ris", "bibtex", "nbib")  # outputs.WRITERS
_FROM_HELP = ("Read every input as this format instead of detecting it (medline, pubmed, jats, "
              "crossref, ris, scopus-csv, wos-tabdelim, openalex-json, csl-json, endnote-xml, "
              "…; the README lists them all).")
_TEXT_OR_JSON = click.Choice(["text", "json"])
F = TypeVar("F", bound=Callable[..., Any])


def _old_name(old: str, new: str, dest: str, **option: Any) -> Callable[[F], F]:
    """Keep ``old``, the former spelling of option ``new`` (parameter ``dest``), working
    with its former meaning but out of ``--help``; ``option`` as for :func:`click.option`
    (``flag_value`` for a former flag). Both given with different values: a usage error."""
    hidden = f"{dest}_as_{old.lstrip('-')}"

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def call(**params: Any) -> Any:
            value = params.pop(hidden)
            if value is not None:
                ctx = click.get_current_context()
                given = ctx.get_parameter_source(dest) is ParameterSource.COMMANDLINE
                if given and params[dest] != value:
                    said = old if "flag_value" in option else f"{old} {value}"
                    raise click.BadOptionUsage(old, f"{said} and {new} {params[dest]} disagree "
                                               f"({old} is the old name of {new}) — give "
                                               f"{new} only")
                params[dest] = value
            return command(**params)

        flag = "flag_value" in option
        return click.option(old, hidden, hidden=True, default=None, is_flag=flag,
                            **option)(call)  # type: ignore[return-value]

    return decorate


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    if issubclass(category, ReviewWarning):
        click.echo(f"review: warning: {message}", err=True)
    else:  # a library's own warning is not ours to reword
        click.echo(f"review: warning: {category.__name__}: {message}", err=True)


def _quiet_stdout(exc: BaseException) -> None:
    """Send what is still to be written to stdout nowhere, and drop the half-written
    objects of the failed write without the "Exception ignored" noise they would print."""
    import gc
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    exc.__traceback__ = None
    hook, sys.unraisablehook = sys.unraisablehook, lambda _: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from . import __version__

        click.echo(f"review, version {__version__}")
        ctx.exit()


@click.group(cls=_ReviewGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the version and exit.")
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
    """Draw the PRISMA 2020 flow diagram of a new or updated systematic review from its counts.

    COUNTS is a CSV in the layout of the PRISMA2020 R package and Shiny app
    (columns data,node,box,description,boxtext,tooltips,url,n; `-` reads stdin). Fill
    in its `n` column; reasons and per-database counts are written "label, n; label, n".
    The counts must add up (identified − removed = screened; screened − excluded =
    sought; sought − not retrieved = assessed; assessed − excluded = included reports):
    a mismatch is an error naming the two numbers, and nothing is written. An updated
    review (previous_studies or previous_reports not 0) gets the "Previous studies" column
    and the total box.

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
        data = prisma.read_csv("<stdin>", sys.stdin.read())
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
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Unique records: .csv, .jsonl, .xlsx or .parquet; .ris, .bib or .nbib "
                   "for reference managers (default: CSV to stdout).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, allow_dash=True),
              default=None, help="Write the duplicates log here (.csv, .jsonl, .xlsx or "
                                 ".parquet; - for stdout): one row per removed record.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=90.0, show_default=True,
              help="Smallest fuzzy title score (0-100) for two records to count as one.")
@click.option("--overrides", type=click.Path(dir_okay=False), default=None,
              help="A duplicates log with the reviewer's override column filled in.")
@click.option("--from", "from_", default=None, metavar="NAME", help=_FROM_HELP)
@click.option("--to", default=None, type=click.Choice(_ARTICLE_OUTPUTS),
              help="Type of the unique records output, whatever the file name says.")
@click.option("-f", "--force", is_flag=True, help="Replace output files that exist.")
@click.option("--raw-csv", is_flag=True, help=_RAW_CSV_HELP)
@_old_name("--format", "--from", "from_")
def dedupe_command(inputs: tuple[str, ...], output: str | None, log_path: str | None,
                   threshold: float, overrides: str | None, from_: str | None, to: str | None,
                   force: bool, raw_csv: bool) -> None:
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
    removed) in its `override` column, and give the log back with --overrides. Tables are
    written as `review parse` writes them (JSONL: authors as objects with given names;
    .xlsx: a frozen header with filters).

    \b
    Examples:
      review dedupe pubmed.xml embase.ris -o unique.csv --log duplicates.csv
      review dedupe sources/ -o unique.csv --log duplicates.csv --threshold 95
      review dedupe sources/ -o unique.csv --overrides duplicates.csv --log duplicates-2.csv
      review dedupe pubmed.xml embase.ris -o unique.xlsx --log duplicates.xlsx
      review dedupe sources/ -o unique.ris      for Zotero or EndNote
      review dedupe sources/ --to jsonl > unique.jsonl
      review dedupe exports/ --from wos-plaintext -o unique.csv   skip detection
      review dedupe sources/ --raw-csv | python my_script.py   CSV text as it is
    """
    from .dedupe import dedupe_files

    result = dedupe_files(inputs, output=output, to=to, log_path=log_path, threshold=threshold,
                          overrides=overrides, format=from_, force=force, raw_csv=raw_csv)
    to_stdout = output in (None, "-") or log_path == "-"
    click.echo(result.summary(), err=to_stdout)
    for path in (output, log_path):
        if path and path != "-":
            click.echo(f"wrote {path}", err=to_stdout)


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
@click.argument("records", nargs=-1, required=True)
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
@click.option("--update", is_flag=True,
              help="Add new records to the existing OUTPUT workbook as new rows, keeping "
              "every decision, added column and sort order; report records that disappeared.")
@click.option("-f", "--force", is_flag=True, help="Replace an output file that exists.")
def screen_write_command(records: tuple[str, ...], output: str, stage: str,
                         screened: str | None,
                         reasons: str | None, update: bool, force: bool) -> None:
    """Write a screening workbook with one row per record.

    RECORDS is a records table (CSV, JSONL or XLSX) from `review dedupe` or `review parse`,
    or article files (folders and glob patterns too; `-` for stdin). The title/abstract
    workbook has a decision column (include, exclude, maybe) with a drop-down, a reason
    and a reviewer column. The full-text workbook has retrieved (yes/no), decision
    (include, exclude) and an exclusion_reason with a drop-down of --reasons (another
    reason may be typed). Record columns are grey: sort, filter and add columns freely,
    but keep record_id.

    \b
    Examples:
      review screen unique.csv -o title-abstract.xlsx
      review screen unique.csv --stage full-text --screened title-abstract.xlsx \\
          -o full-text.xlsx --reasons "wrong population; wrong outcome; no control group"
      review screen unique-2.csv -o title-abstract.xlsx --update   after a new search
      review dedupe sources/ | review screen - -o title-abstract.xlsx
    """
    from .sheets import screening

    done = screening.write_or_update(records, output, stage=stage, reasons=reasons,
                                     screened=screened, update=update, force=force)
    click.echo(done.summary())


@screen_group.command("status")
@click.argument("workbook", type=click.Path(dir_okay=False))
@click.option("--to", type=_TEXT_OR_JSON, default="text", show_default=True,
              help="What to print: text, or json (one JSON object).")
@_old_name("--json", "--to", "to", flag_value="json")
def screen_status_command(workbook: str, to: str) -> None:
    """Decisions so far in a screening workbook, and every row still to decide with its cell.

    \b
    Examples:
      review screen status title-abstract.xlsx
      review screen status full-text.xlsx --to json
    """
    import json

    from .sheets import screening

    sheet = screening.read_screening(workbook)
    if to == "json":
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
@click.option("--to", type=_TEXT_OR_JSON, default="text", show_default=True,
              help="What to print: text, or json (one JSON object).")
@_old_name("--json", "--to", "to", flag_value="json")
def screen_compare_command(first: str, second: str, to: str) -> None:
    """Compare two reviewers' workbooks of the same records and stage.

    Prints the agreement table (first reviewer in rows, second in columns), observed and
    chance agreement, Cohen's kappa and every record decided differently with both cells.
    Only records decided in both workbooks are compared.

    \b
    Examples:
      review screen compare reviewer-a.xlsx reviewer-b.xlsx
      review screen compare reviewer-a.xlsx reviewer-b.xlsx --to json
    """
    import json

    from .sheets import screening

    agreement = screening.compare(screening.read_screening(first),
                                  screening.read_screening(second))
    if to == "json":
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


@cli.command("sheet")
@click.argument("records", nargs=-1)
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The extraction workbook to write (.xlsx).")
@click.option("--design", type=click.Choice(["proportion", "binary", "continuous", "rate",
                                           "correlation", "generic"]),
              default="proportion", show_default=True,
              help="Which data columns to code (see above).")
@click.option("--field", "fields", multiple=True, metavar="NAME",
              help="An extra column to code (repeatable), e.g. country or risk of bias.")
@click.option("-f", "--force", is_flag=True, help="Replace an output file that exists.")
def sheet_command(records: tuple[str, ...], output: str, design: str, fields: tuple[str, ...],
                  force: bool) -> None:
    """Write an Excel extraction workbook, one row per study, ready to fill in.

    RECORDS are tables written by `review parse` (CSV, JSONL, XLSX) or article files
    (folders and glob patterns too; `-` for stdin); their id, first author, year, title,
    DOI and PMID are prefilled (grey).
    With no RECORDS the sheet is empty: type one study per row.

    \b
    Data columns by --design:
      proportion  events, total
      binary      events_1, total_1, events_2, total_2
      continuous  mean_1, sd_1, n_1, mean_2, sd_2, n_2
      rate        events, person_time (incidence rates)
      correlation r, n (correlation coefficients)
      generic     yi with vi or sei
    Always: study (label), include (yes/no), subgroup, notes, and each --field.
    The workbook also has a `codebook` and an `about` sheet; `review pool` ignores them.

    \b
    Examples:
      review sheet records.csv -o extraction.xlsx
      review sheet pubmed.xml --design binary --field country --field "risk of bias" -o rct.xlsx
      review sheet --design proportion -o blank.xlsx
      review sheet --design rate -o rates.xlsx
      review sheet records.csv --design correlation -o correlations.xlsx
      review sheet 'sources/*/*.xml' -o extraction.xlsx
    """
    from pathlib import Path

    from .errors import OptionError
    from .fileio import atomic_path
    from .sheets.extraction import SheetPlan, extraction_columns, read_records, write_extraction

    if Path(output).suffix.lower() != ".xlsx":
        raise OptionError("the extraction workbook must be an .xlsx file", output,
                          "name the output something.xlsx")
    extraction_columns(design, fields)  # refuse clashing --field names before reading
    rows, sources = read_records(records)
    plan = SheetPlan(design, tuple(rows), tuple(fields), tuple(sources))
    with atomic_path(output, inputs=records, force=force) as tmp:
        write_extraction(plan, tmp)
    noun = "study" if len(rows) == 1 else "studies"
    click.echo(f"wrote {output}: {len(rows):,} {noun}, {design} design; fill in the white "
               f"columns, then run: review pool {output}")


@cli.command("pool")
@click.argument("table", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--sheet", default=None, help="Worksheet to read (default: the first data sheet).")
@click.option("--design", type=click.Choice(["proportion", "binary", "continuous", "rate",
                                           "correlation", "generic"]),
              default=None, help="Data layout (default: told from the column names).")
@click.option("--columns", "columns", multiple=True, metavar="NAME=HEADER,...",
              help="Your own headers for our column names, e.g. events=Events,total=N,"
                   "study=Author (repeatable). Names: the design's data columns (events, "
                   "total, events_1 … total_2, mean_1, sd_1, n_1 …, person_time, r, n, yi, "
                   "vi, sei), study, include, author, year.")
@click.option("--measure", default=None,
              help="PR, PLN, PLO, PAS, PFT (proportions; default PLO), OR, RR, RD (binary; "
                   "default OR), SMD, MD (continuous; default SMD), IRLN, IR, IRS, IRFT "
                   "(rate; default IRLN), ZCOR, COR, UCOR (correlation; default ZCOR). "
                   "For generic yi: GEN, "
                   "or the measure yi is on (e.g. OR) to back-transform.")
@click.option("--method", default="REML", show_default=True,
              help="tau² estimator: REML, DL, ML, PM, HE, SJ, EB, HS, FE (common effect), "
                   "or GLMM (proportions, logit scale); for binary sheets also MH "
                   "(Mantel-Haenszel OR, RR or RD, with the CMH and Tarone tests for OR) or "
                   "Peto (OR), as metafor's rma.mh / rma.peto; with them --by, "
                   "--leave-one-out and --cumulative refit MH (Peto), and --bias, --mods and "
                   "--influence are refused (they need inverse-variance weights).")
@click.option("--test", default="z", show_default=True, type=click.Choice(["z", "knha", "adhoc"]),
              help="CI and test of the pooled estimate: z, knha (Knapp-Hartung) or adhoc.")
@click.option("--study-ci", default="cp", show_default=True,
              type=click.Choice(["cp", "wilson", "wald"]),
              help="Study CIs for proportions: Clopper-Pearson, Wilson or Wald.")
@click.option("--by", default=None, metavar="COLUMN",
              help="Subgroup analysis by this column (e.g. subgroup).")
@click.option("--level", default=95.0, show_default=True, type=float,
              help="Confidence level in percent.")
@click.option("--digits", default=None, type=click.IntRange(0, 10),
              help="Decimals in the printed table and the forest plot (default: 3 in the "
                   "table; 2 in the plot, 1 with --percent).")
@click.option("--leave-one-out", is_flag=True, help="Add a leave-one-out table.")
@click.option("--cumulative", default=None, metavar="COLUMN",
              help="Add a cumulative meta-analysis, studies ordered by COLUMN (e.g. year).")
@click.option("--bias", is_flag=True,
              help="Small-study tests: Egger's regression, Begg's rank test, trim-and-fill "
                   "(run with 10 or more studies; see --bias-min-k).")
@click.option("--bias-model", default=None, metavar="rma|lm",
              help="With --bias: Egger's test as metafor's mixed-effects meta-regression "
                   "(rma, the default) or the classic Egger test of R meta, weighted least "
                   "squares with a t test (lm).")
@click.option("--bias-predictor", default=None, metavar="sei|vi|ninv|sqrtninv",
              help="With --bias: the predictor of Egger's test: the standard error (sei, the "
                   "default), the variance, 1/n or 1/sqrt(n) (sqrtninv: Peters-type, needs "
                   "study sizes).")
@click.option("--bias-min-k", type=int, default=None, metavar="K",
              help="With --bias: run the tests with at least K studies (default 10, as R "
                   "meta's k.min; below 10 they are too weak and a note says so).")
@click.option("--mods", default=None, metavar="FORMULA",
              help='Meta-regression on sheet columns, e.g. "year + region" or "dose * region" '
                   "(text columns are factors; * adds the interaction).")
@click.option("--predict", "predict", multiple=True, metavar="COL=VALUE,...",
              help='With --mods: the predicted effect at these moderator values, e.g. '
                   '"year=2000,region=Europe" (repeatable).')
@click.option("--bubble", type=click.Path(dir_okay=False), default=None,
              help="With --mods: save a bubble plot (.png, .svg or .pdf) of the effects "
                   "against a numeric moderator (--bubble-x).")
@click.option("--bubble-x", default=None, metavar="COLUMN",
              help="The moderator on the bubble plot's x axis (default: the first numeric one).")
@click.option("--sort", default=None, metavar="estimate|weight|COLUMN",
              help="Order the studies in the table and forest plot by estimate, weight "
                   "(largest first) or a sheet column such as year (default: sheet order).")
@click.option("--xlim", default=None, metavar="LOW,HIGH",
              help="Forest plot axis range on the natural scale, e.g. 0.1,10 or 0,1.")
@click.option("--refline", type=float, default=None,
              help="Forest plot reference line (default: 1 for ratios, 0 for differences).")
@click.option("--favours", default=None, metavar="LEFT,RIGHT",
              help='Forest plot labels for the two sides of the reference line, e.g. '
                   '"Favours treatment,Favours control".')
@click.option("--percent", is_flag=True, help="Show proportions as percentages.")
@click.option("--to", type=_TEXT_OR_JSON, default="text", show_default=True,
              help="What to print: the text tables, or json (one JSON object); -o saves files.")
@click.option("-o", "--output", "outputs", multiple=True, type=click.Path(dir_okay=False),
              help="Save the results: .json, .csv, .xlsx or .md (repeatable).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Save a forest plot: .png, .svg or .pdf.")
@click.option("--funnel", type=click.Path(dir_okay=False), default=None,
              help="Save a funnel plot: .png, .svg or .pdf.")
@click.option("--cluster", default=None, metavar="COLUMN",
              help="Several estimates per study: add a three-level model (rma.mv, random = "
                   "~ 1 | COLUMN/estimate) with estimates nested in the studies named by "
                   "COLUMN (e.g. study_id): sigma² and I² per level, profile CIs and a "
                   "likelihood-ratio test against the two-level model. REML or ML, test z; "
                   "--mods are used as its moderators.")
@click.option("--influence", is_flag=True,
              help="Add influence diagnostics (metafor's influence(): rstudent, DFFITS, Cook's "
                   "distance, cov.r, tau² and QE deleted, hat, weight, DFBETAS, flagged "
                   "studies); with --mods, of the meta-regression.")
@click.option("--baujat", type=click.Path(dir_okay=False), default=None,
              help="Save a Baujat plot (heterogeneity contribution against influence): .png, "
                   ".svg or .pdf; implies --influence.")
@click.option("--common", is_flag=True,
              help="Show the common-effect (inverse-variance) model as well, as R's meta "
                   "prints both: a row in the text, JSON (common) and forest plot; with --by, "
                   "one per subgroup too.")
@click.option("--pi-df", default="model", show_default=True,
              type=click.Choice(["model", "k-1", "k-2"]),
              help="Prediction interval distribution: model = metafor's (z, or t(k-1) with "
                   "knha); k-1 = t with k-1 df (R meta); k-2 = t with k-2 df (Higgins et al. "
                   "2009). Every output states the one used.")
@click.option("-f", "--force", is_flag=True, help="Replace output files that exist.")
@click.option("--raw-csv", is_flag=True, help=_RAW_CSV_HELP)
@_old_name("--format", "--to", "to", type=_TEXT_OR_JSON)
def pool_command(table: str, sheet: str | None, design: str | None,
                 columns: tuple[str, ...], measure: str | None,
                 method: str, test: str, study_ci: str, by: str | None, level: float,
                 digits: int | None, leave_one_out: bool, cumulative: str | None, bias: bool,
                 bias_model: str | None, bias_predictor: str | None, bias_min_k: int | None,
                 mods: str | None, predict: tuple[str, ...], bubble: str | None,
                 bubble_x: str | None, sort: str | None, xlim: str | None,
                 refline: float | None, favours: str | None, percent: bool, to: str,
                 outputs: tuple[str, ...], plot: str | None, funnel: str | None,
                 cluster: str | None, influence: bool, baujat: str | None, common: bool,
                 pi_df: str, force: bool,
                 raw_csv: bool) -> None:
    """Pool the studies of an extraction sheet: random-effects meta-analysis.

    TABLE is an .xlsx workbook (the first sheet, or --sheet), a CSV file, or - for
    stdin. Column names are matched ignoring case and spaces; metafor's names
    (xi, ni, ai, bi, ci, di, n1i, n2i, m1i, sd1i, ...) work too. The whole sheet is
    checked first and every bad cell is listed (e.g. extraction.xlsx!C7). Rows with
    include = no are skipped and counted.

    Your own sheet: --columns names the column that holds each of ours (e.g. a header
    N for total); mapped columns then go by our names. Without a study column, labels
    are built from author (or first_author, authors: the first name) and year columns,
    Smith 2010, with a, b, c for the same author and year (Smith 2010a, Smith 2010b).

    The output always states the measure, the tau² estimator, the CI methods and the
    continuity correction (metafor's default: 1/2 added to studies with a zero cell).
    Numbers match R's metafor (escalc + rma + predict + confint).

    \b
    Examples:
      review pool data/extraction.xlsx
      review pool data/extraction.xlsx --plot forest.png --funnel funnel.png
      review pool extraction.xlsx --measure PR --method DL     # binomial variance, DL
      review pool extraction.xlsx --by subgroup --test knha -o results.xlsx
      review pool extraction.xlsx --to json --leave-one-out --bias
      review pool extraction.xlsx --bias --bias-model lm          # classic Egger, as R meta
      review pool extraction.xlsx --bias --bias-predictor sqrtninv --bias-min-k 5
      review pool studies.csv --cumulative year --percent
      review pool own.csv --columns events=Events,total=N,study=Author   # your headers
      review pool bcg.csv --measure RR \\
          --columns events_1=tpos,nonevents_1=tneg,events_2=cpos,nonevents_2=cneg
      review pool extraction.xlsx --mods "year + region" --predict "year=2010,region=Asia"
      review pool extraction.xlsx --mods year --bubble bubble.png
      review pool outcomes.xlsx --cluster study_id               # several estimates per study
      review pool outcomes.xlsx --cluster study_id --method ML --mods outcome
      review pool extraction.xlsx --influence --baujat baujat.png
      review pool extraction.xlsx --common --pi-df k-1        # both models, t(k-1) PI
      review pool rct.xlsx --method MH --measure RR --by subgroup --leave-one-out
      review pool rct.xlsx --measure RR --sort year --plot forest.pdf \\
          --favours "Favours treatment,Favours control" --xlim 0.1,10
      review pool extraction.xlsx -o results.csv --raw-csv   study names as they are
    """
    import json

    from .errors import OptionError
    from .fileio import check_outputs

    # refuse before any work so nothing is half-written
    from .plots import PLOT_SUFFIXES, forest_options
    from .poolrun import OUTPUT_SUFFIXES, PoolOptions, format_report, run_pool, write_report
    from .sheets.extraction import parse_columns, read_extraction

    plot_options = forest_options(xlim, refline, favours)
    if (bubble or bubble_x) and not mods:
        raise OptionError("--bubble needs a meta-regression model",
                          hint='add --mods, e.g. --mods "year"')
    bias_given = {"--bias-model": bias_model, "--bias-predictor": bias_predictor,
                  "--bias-min-k": bias_min_k}
    if not bias and any(value is not None for value in bias_given.values()):
        given = ", ".join(name for name, value in bias_given.items() if value is not None)
        verb = "applies" if "," not in given else "apply"
        raise OptionError(f"{given} {verb} only to the small-study tests", hint="add --bias")
    check_outputs([*((o, OUTPUT_SUFFIXES) for o in outputs),
                   *((p, PLOT_SUFFIXES) for p in (plot, funnel, bubble, baujat) if p)], [table],
                  force)
    options = PoolOptions(
        measure=measure, method=method, test=test, study_ci=study_ci, level=level, by=by,
        leave_one_out=leave_one_out, cumulative=cumulative, bias=bias, mods=mods,
        predict=predict, bias_model=bias_model or PoolOptions.bias_model,
        bias_predictor=bias_predictor or PoolOptions.bias_predictor,
        bias_min_k=PoolOptions.bias_min_k if bias_min_k is None else bias_min_k,
        cluster=cluster, influence=influence or baujat is not None, common=common,
        pi_df=pi_df, sort=sort, columns=parse_columns(columns))
    needed = [c for c in (by, cumulative, cluster) if c]
    if table == "-":
        studies = read_extraction("-", sheet=sheet, design=design, data=sys.stdin.buffer.read(),
                                  name="<stdin>", required=needed, columns=options.columns)
    else:
        studies = read_extraction(table, sheet=sheet, design=design, required=needed,
                                  columns=options.columns)
    report = run_pool(studies, options)
    if plot or funnel or bubble or baujat:
        from .plots import save_baujat, save_bubble, save_forest, save_funnel

        if baujat:
            save_baujat(report, baujat, inputs=[table], force=force)
        if plot:
            save_forest(report, plot, inputs=[table], force=force, percent=percent,
                        digits=digits, **plot_options)
        if funnel:
            save_funnel(report, funnel, inputs=[table], force=force)
        if bubble:
            save_bubble(report, bubble, x=bubble_x, inputs=[table], force=force)
    for target in outputs:
        write_report(report, target, inputs=[table], force=force, raw_csv=raw_csv)
    if to == "json":
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_report(report, digits=3 if digits is None else digits,
                                 percent=percent))
    written = [*outputs, *(p for p in (plot, funnel, bubble, baujat) if p)]
    if written:
        click.echo(f"wrote {', '.join(written)}", err=True)


@cli.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--title", default="", help="The review's title (default: the folder name).")
def init_command(directory: str, title: str) -> None:
    """Start a review in DIRECTORY: a commented review.toml and the folder layout.

    \b
    DIRECTORY/
      review.toml        the review in one file: question, sources, workbooks, analysis
      sources/pubmed/    put each database's export here (one folder or file per source)
      screening/         title/abstract and full-text workbooks (written by `review run`)
      extraction/        the extraction workbook (written by `review run`)
      output/            records, duplicates log, PRISMA diagram, results, plots, report

    An existing review.toml is never overwritten.

    \b
    Examples:
      review init my-review
      review init my-review --title "Hyperdynamic therapy for cerebral vasospasm"
    """
    from .config import init_project

    path = init_project(directory, title)
    click.echo(f"wrote {path} and the folders sources/pubmed, screening, extraction, output")
    click.echo(f"next: put your search exports in {directory}/sources/, describe them in "
               f"review.toml, then run: review run {directory}")


@cli.command("run")
@click.argument("review", default=".", type=click.Path())
def run_command(review: str) -> None:
    """Bring a review up to date: every step whose inputs changed.

    REVIEW is the folder holding review.toml, or the file itself (default: the current
    folder). The steps: parse the sources and remove duplicates (output/records.csv,
    output/duplicates.csv: write `not duplicate` or `duplicate` in its override column
    and run again); the title/abstract, full-text and extraction workbooks; the PRISMA
    2020 counts and diagram; the pooled results, forest and funnel plots (and the Baujat
    and bubble plots when [analysis] sets influence = true or mods); and the report
    (output/report.html, one self-contained file, output/report.docx and output/report.md),
    with a section for each analysis [analysis] asks for (mods, cluster, influence,
    common, cumulative).

    A workbook is created once and never overwritten: new records are added as new
    rows, records that disappeared are reported. While a workbook has undecided rows the
    run stops there (exit status 0) and lists their cells. Running again with nothing
    changed changes no file (fingerprints in output/.review-state.json).

    Every path in review.toml must lie inside the review folder (a source kept
    elsewhere needs `read_only = true` in its [[sources]] table). The run replaces or
    removes only output files it wrote that still hold what it wrote: a file edited by
    hand is kept and named (exit 73 when the run would have to replace it).

    \b
    Examples:
      review run                      the review in the current folder
      review run data/example-review
      review run my-review/review.toml
    """
    from .config import load_config
    from .project import run

    run(load_config(review), echo=click.echo)


@cli.command("report")
@click.argument("review", default=".", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Also save the report here: .html (self-contained), .docx (Word) or .md.")
@click.option("-f", "--force", is_flag=True, help="Replace an output file that exists.")
def report_command(review: str, output: str | None, force: bool) -> None:
    """Make the review's report (bringing the review up to date first) and say where it is.

    Does what `review run` does, quietly, then prints the path of output/report.html;
    with -o it also saves the report there (.html, images embedded so it opens offline
    and prints to clean A4 pages with the browser's "Save as PDF"; .docx for Word, same
    content; or .md, whose image links point at the PNG files in output/). Fails, naming what is
    missing, while the review cannot be reported yet (undecided screening rows, an
    empty extraction sheet).

    \b
    Examples:
      review report data/example-review
      review report my-review -o ~/Desktop/review.html
      review report my-review -o review.md
      review report my-review -o review.docx
    """
    from .config import load_config
    from .project import check_report_output, run, save_report

    config = load_config(review)
    if output:
        check_report_output(output, force)

    def notes_only(line: str) -> None:  # quiet, but vanished rows and removed outputs are said
        if line.startswith("note: "):
            click.echo(line, err=True)

    summary = run(config, echo=notes_only)
    if summary.stop is not None:
        raise summary.stop.error(str(config.path), "review report")
    click.echo(str(summary.report))
    if output:
        save_report(config, output, force=force)
        click.echo(f"wrote {output}")


def _byte_size(value: str) -> int:
    """``20G``, ``500M``, ``64k`` or a plain number of bytes."""
    import math

    from .errors import OptionError

    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in units else ""
    try:
        number = float(text[: len(text) - len(unit)])
    except ValueError:
        number = -1
    if not math.isfinite(number) or number <= 0:  # "nan" and "inf" parse as floats
        raise OptionError(f"--max-decompressed {value!r} is not a size", hint="e.g. 500M or 20G")
    return int(number * units[unit])


@cli.command("parse")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", default=None, type=click.Path(allow_dash=True),
              help="Output file: .csv, .jsonl, .xlsx or .parquet; .ris, .bib or .nbib for "
                   "reference managers (default: CSV to stdout); with --dask a folder.")
@click.option("--to", default=None, type=click.Choice(_ARTICLE_OUTPUTS),
              help="Output type, whatever the file name says.")
@click.option("--from", "from_", default=None, metavar="NAME", help=_FROM_HELP)
@click.option("-f", "--force", is_flag=True, help="Replace an output file that exists.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parse this many files at once, in separate processes (at most one per "
                   "CPU: more is cut to the number of CPUs, with a warning); for a table "
                   "output the workers also build and spool the rows, so the run scales "
                   "with N and memory stays flat.")
@click.option("--dask", "dask_scheduler", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]",
              help="Parse on a Dask cluster into a folder of Parquet files (-o names the "
                   "folder; one file per input): a local cluster of --jobs workers (default one "
                   "per core), or the "
                   "scheduler at ADDRESS (write --dask=tcp://host:8786; its workers must see "
                   "the same paths). Needs the dask extra.")
@click.option("--keep-going", is_flag=True,
              help="Report a bad file and go on with the others (exit non-zero at the end). "
                   "Records read from a bad file before its error are kept; the summary "
                   "says how many.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar, no summary.")
@click.option("--max-decompressed", default="20G", show_default=True, metavar="SIZE",
              help="Refuse a .gz input that decompresses to more than this (a gzip bomb).")
@click.option("--raw-csv", is_flag=True, help=_RAW_CSV_HELP)
@_old_name("--format", "--from", "from_")
def parse_command(inputs: tuple[str, ...], output: str | None, to: str | None,
                  from_: str | None, force: bool, jobs: int, dask_scheduler: str | None,
                  keep_going: bool, quiet: bool, max_decompressed: str,
                  raw_csv: bool) -> None:
    """Read article files (PubMed/MEDLINE XML and other exports) into one tidy table.

    INPUTS are files, folders (read recursively), glob patterns (quote them) or `-` for
    stdin; `.gz` files are decompressed on the fly. The format of each file is detected
    from its content. One row per article: the database it came from, ids (PMID, DOI,
    PMC), title, authors ("Last FM; …"), first author, affiliations, journal, year and
    full date, volume, issue, pages, abstract (structured sections as "LABEL: text"),
    keywords, MeSH terms, publication types, history dates; other-language titles and
    abstracts get their own columns. In .jsonl output authors is a list of objects with
    the given names as the source writes them (family, given, initials, suffix,
    collective, orcid, affiliations). PMIDs withdrawn by MEDLINE DeleteCitation entries
    are reported, not output.

    XML is read with entities, DTDs and network access switched off; a malformed file
    stops the run with its file:line:col (exit 65) unless --keep-going is given. Outputs
    are written atomically: a failed run leaves no partial file. In .xlsx output the
    header row is bold and frozen, with filters, and columns are as wide as their
    contents (8 to 60 characters); text that a spreadsheet would run as a formula
    (starting with = + - @) is stored as text; in CSV it gets a leading ' (--raw-csv for
    scripts).

    \b
    Examples:
      review parse pubmed.xml                      CSV on stdout
      review parse pubmed.xml -o records.xlsx      an Excel table
      review parse 'baseline/*.xml.gz' -o records.parquet --jobs 4
      review parse 'baseline/*.xml.gz' -o baseline/ --dask --jobs 8
      review parse 'baseline/*.xml.gz' -o /shared/out/ --dask=tcp://scheduler:8786
      review parse exports/ -o records.csv --keep-going
      review parse pubmed.xml --raw-csv | python my_script.py   text exactly as read
      review parse pubmed.nbib scopus.ris -o refs.bib   BibTeX for Zotero, JabRef
      review parse scopus.ris savedrecs.txt embase.ris citation-export.txt -o all.csv
      review parse export.txt --from wos-plaintext -o records.csv   skip detection
      review parse scopus.csv savedrecs-tab.txt embase.csv works.json library.xml -o all.csv
      curl -s "$EFETCH_URL" | review parse - -o records.jsonl
    """
    import os

    from .articles import STDIN, Withdrawn, expand_paths, read_articles, spool_rows
    from .errors import EX_DATAERR
    from .outputs import write_articles, write_rows, writer_for

    cap = _byte_size(max_decompressed)
    if dask_scheduler is not None:
        _parse_on_dask(inputs, output, dask_scheduler, jobs, from_, cap, force, quiet)
        return
    if output and os.path.isdir(output):
        from .errors import OutputError

        raise OutputError("is a folder", output, "name an output file, e.g. records.csv")
    writer = writer_for(output, to)  # an unknown output type fails before any parsing
    errors: list[ReviewError] = []
    withdrawn = Withdrawn()  # each PMID once, however many files withdraw it
    done = {"files": 0, "records": 0}  # files read whole, and their records

    def on_error(exc: ReviewError) -> None:
        errors.append(exc)
        click.echo(f"review: error: {exc}", err=True)

    found: list[str] = []
    for item in inputs:  # with --keep-going a missing input is one more bad file
        try:
            found.extend(expand_paths([item]))
        except ReviewError as exc:
            if not keep_going:
                raise
            on_error(exc)
    files = list(dict.fromkeys(found))

    progress = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        progress = tqdm(unit=" records", file=sys.stderr, dynamic_ncols=True)
        progress.set_postfix_str(f"file 0/{len(files)}")

    def on_file(path: str, count: int) -> None:
        done["files"] += 1
        done["records"] += count
        if progress is not None:
            progress.set_postfix_str(f"file {done['files']}/{len(files)}")
            if spooled:  # records are counted per file, not one by one
                progress.update(count)

    def articles() -> Any:
        for article in read_articles(
            files, from_, max_decompressed=cap, jobs=jobs, on_file=on_file,
            on_deletion=withdrawn.add,
            on_error=on_error if keep_going else None,
        ):
            if progress is not None:
                progress.update()
            yield article

    # A table from many files: workers parse, flatten and spool the rows themselves
    spooled = jobs > 1 and len(files) > 1 and writer.table and STDIN not in files
    try:
        if spooled:
            with spool_rows(files, from_, max_decompressed=cap, jobs=jobs, on_file=on_file,
                            on_deletion=withdrawn.add,
                            on_error=on_error if keep_going else None,
                            structured=writer.structured) as rows:
                count = write_rows(rows, output, to=to, inputs=files, force=force,
                                   raw_csv=raw_csv)
        else:
            count = write_articles(articles(), output, to=to, inputs=files, force=force,
                                       raw_csv=raw_csv)
    finally:
        if progress is not None:
            progress.close()
    if not quiet:
        read = f"{count:,} records from {done['files']:,} of {len(files):,} files"
        if count > done["records"]:  # --keep-going kept what a bad file gave before its error
            read = (f"{count:,} records: {done['records']:,} from {done['files']:,} of "
                    f"{len(files):,} files, and {count - done['records']:,} read before the "
                    "error from the file(s) that could not be read whole")
        click.echo(f"wrote {output}: {read}" if output not in (None, "-") else read, err=True)
        if withdrawn:
            click.echo(f"{len(withdrawn):,} PMIDs withdrawn by DeleteCitation: "
                       f"{withdrawn.shown()}", err=True)
    if errors:
        click.echo(f"review: {len(errors)} file(s) could not be read (listed above)", err=True)
        raise click.exceptions.Exit(errors[0].exit_code or EX_DATAERR)


def _parse_on_dask(inputs: tuple[str, ...], output: str | None, scheduler: str, jobs: int,
                   from_: str | None, cap: int, force: bool, quiet: bool) -> None:
    import os
    from pathlib import Path

    from .errors import OptionError

    if not output or output == "-":
        raise OptionError("--dask writes a folder of Parquet files", hint="give -o FOLDER")
    if scheduler != "local" and Path(scheduler).exists():
        raise OptionError(f"--dask takes a scheduler address, not the input {scheduler!r}",
                          hint="write --dask=tcp://host:8786, or put --dask after the inputs")
    try:
        from .dask import parse_to_parquet
    except ImportError as exc:
        raise OptionError(f"--dask needs dask and distributed ({exc})",
                          hint="pip install 'metareview[dask]'") from None
    count = parse_to_parquet(inputs, output, scheduler=None if scheduler == "local" else scheduler,
                             workers=jobs if jobs > 1 else os.cpu_count() or 1, format=from_,
                             max_decompressed=cap, force=force)
    if not quiet:
        click.echo(f"wrote {output}: {count:,} records", err=True)


def main() -> None:
    import signal

    # SIGTERM (kill, a CI timeout) unwinds like Ctrl-C: temporary files are removed and
    # no output of earlier inputs stays behind; the exit status is the shell's 128 + 15.
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="review")


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)

