"""``review.toml``: one file that describes a review, validated with its line numbers.

The file names the question, the sources (one export file or folder per database),
the screening and extraction workbooks, the analysis settings and the output folder.
Paths are relative to the folder that holds ``review.toml``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    InputError,
    MissingInputError,
    OptionError,
    OutputError,
    ReviewError,
    ValidationError,
)

if TYPE_CHECKING:
    from .poolrun import PoolOptions

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAME = "review.toml"

TEMPLATE = """\
# review.toml: this review, described in one file. `review run` reads it and
# performs every step whose inputs changed. Paths are relative to this file.

[review]
title = "{title}"
authors = []           # on the report, e.g. ["A. Reviewer", "B. Reviewer"]
# The review question (PICO), used in the report.
question = ""

# One [[sources]] table per database, register or other method searched, in the order
# the PRISMA diagram lists them. `path` is an export file or a folder of them (PubMed/
# MEDLINE XML, JATS, Crossref, RIS, nbib, BibTeX, ...). Without `database`, each record
# is counted under the database its file names (e.g. PubMed), else under `label`.
# Every path must lie inside this folder; a source kept elsewhere is read where it is
# only when its table says `read_only = true` (review never writes there).
[[sources]]
label = "pubmed"
database = "PubMed"
kind = "database"      # database | register | websites | organisations | citation searching
path = "sources/pubmed"
searched = ""          # date of the search, e.g. "2025-01-31"
# Records the search found that were removed before the export was saved here:
# removed_by_automation = 0   # marked ineligible by automation tools
# removed_other = 0           # removed for other reasons

# An update of an earlier review: the studies and reports it included.
# [prisma]
# previous_studies = 0
# previous_reports = 0

[dedupe]
threshold = 90         # fuzzy title score (0-100) above which records are duplicates

[screening]
title_abstract = "screening/title-abstract.xlsx"
full_text = "screening/full-text.xlsx"
reasons = ["wrong population", "wrong outcome", "wrong study design", "no full text"]

[extraction]
workbook = "extraction/extraction.xlsx"
design = "proportion"  # proportion | binary | continuous | rate | correlation | generic
fields = []            # extra columns to code, e.g. ["country", "setting"]

[analysis]
# measure must fit the design: proportion PLO PR PLN PAS PFT | binary OR RR RD |
# continuous SMD MD | rate IRLN IR IRS IRFT | correlation ZCOR COR UCOR |
# generic GEN (or any of these)
measure = "PLO"
method = "REML"        # REML DL ML PM HE SJ EB HS FE GLMM MH Peto
# GLMM: proportions with PLO, test z, no `by`; runs without leave-one-out and small-study tests
# MH, Peto: binary design (Peto: OR), test z; runs without the small-study tests
test = "z"             # z | knha | adhoc
level = 95
# by = "subgroup"      # a column of the extraction sheet for subgroup analysis
# mods = "year + region"  # meta-regression on extraction columns (text columns are factors)
# predict = ["year=2010"] # with mods: the predicted effect at these moderator values
# cluster = "study_id"  # several estimates per study: add a three-level model (REML or ML)
# influence = true      # influence diagnostics (Viechtbauer & Cheung) and a Baujat plot
# common = true         # show the common-effect (inverse-variance) model as well
# cumulative = "year"   # a cumulative meta-analysis, studies added in this column's order
# small-study tests (run with at least bias_min_k studies, default 10 as R meta's k.min):
# bias_model = "rma"     # Egger's test: rma (metafor) | lm (classic Egger, as R meta)
# bias_predictor = "sei" # sei | vi | ninv | sqrtninv (1/sqrt(n), Peters-type)
# bias_min_k = 10
# columns = {{ events = "Events", total = "N" }}  # your own headers for ours (as --columns)

[outputs]
dir = "output"
"""

_DESIGNS = ("proportion", "binary", "continuous", "rate", "correlation", "generic")


#: The kinds of source, as PRISMA 2020 groups them: databases and registers are
#: deduplicated and screened; the other methods have their own column.
SOURCE_KINDS = ("database", "register", "websites", "organisations", "citation searching")


@dataclass(frozen=True)
class Source:
    """One ``[[sources]]`` entry. ``database`` is ``None`` when not given: each record is
    then counted under the database its file names (``Article.source_database``), else
    under ``label``. ``removed_by_automation`` and ``removed_other`` are records the search
    found but that were removed before the export was saved (databases and registers)."""

    label: str
    path: Path
    database: str | None
    searched: str | None = None
    kind: str = "database"
    removed_by_automation: int = 0
    removed_other: int = 0

    @property
    def name(self) -> str:
        """The source's name in the methods and the PRISMA diagram."""
        return self.database or self.label

    @property
    def screened(self) -> bool:
        """A database or register (deduplicated and screened), not an other method."""
        return self.kind in ("database", "register")


@dataclass(frozen=True)
class ReviewConfig:
    """A validated ``review.toml``; every path is absolute."""

    path: Path
    title: str
    question: str
    sources: tuple[Source, ...]
    dedupe_threshold: float
    title_abstract: Path
    full_text: Path
    reasons: tuple[str, ...]
    extraction: Path
    design: str
    fields: tuple[str, ...]
    analysis: PoolOptions  # what `review run` pools with
    output_dir: Path = Path("output")
    authors: tuple[str, ...] = ()  # on the report's title page
    previous_studies: int = 0  # an updated review: the previous version's
    previous_reports: int = 0

    @property
    def root(self) -> Path:
        return self.path.parent


# table -> key -> expected type; a declarative schema so unknown keys are caught.
_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "review": {"title": str, "question": str, "authors": list},
    # a search date may be a TOML date (2025-01-31) or text ("January 2025")
    "sources": {"label": str, "path": str, "database": str, "searched": (str, date),
                "read_only": bool, "kind": str, "removed_by_automation": int,
                "removed_other": int},
    "dedupe": {"threshold": (int, float)},
    "screening": {"title_abstract": str, "full_text": str, "reasons": list},
    "extraction": {"workbook": str, "design": str, "fields": list},
    "analysis": {
        "measure": str,
        "method": str,
        "test": str,
        "level": (int, float),
        "by": str,
        "mods": str,
        "predict": list,
        "cluster": str,
        "influence": bool,
        "common": bool,
        "cumulative": str,
        "bias_model": str,
        "bias_predictor": str,
        "bias_min_k": int,
        "pi_df": str,
        "columns": dict,
    },
    "outputs": {"dir": str},
    "prisma": {"previous_studies": int, "previous_reports": int},
}


class _Lines:
    """Line numbers of tables and keys in the TOML text, for located messages."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")

    def __init__(self, text: str, name: str):
        self.name = name
        self.tables: dict[str, list[int]] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        table, index = "", 0
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                table = header.group(1)
                self.tables.setdefault(table, []).append(number)
                index = len(self.tables[table]) - 1
            elif key := self._KEY.match(line):
                self.keys[(table, index, key.group(1))] = number

    def at(self, table: str, key: str | None = None, index: int = 0) -> str:
        number = self.keys.get((table, index, key)) if key else None
        if number is None:
            starts = self.tables.get(table, [])
            number = starts[index] if index < len(starts) else None
        return f"{self.name}:{number}" if number else self.name


def load_config(path: str | Path) -> ReviewConfig:
    """Read and validate ``review.toml``, reporting every problem with its line."""
    file = Path(path)
    if file.is_dir():
        file = file / CONFIG_NAME
    if not file.exists():
        raise MissingInputError(
            "no review.toml here", str(file), "create one with `review init DIR`"
        )
    text = _read_text(file)
    lines = _Lines(text, str(file))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML ({exc})", str(file), "fix the syntax") from None

    problems: list[ReviewError] = []
    root = file.parent.resolve()

    def inside(path: Path, where: str, what: str, hint: str) -> Path:
        # resolve() follows symlinks: a link inside the folder that leads out is refused too
        if not path.resolve().is_relative_to(root):
            problems.append(OutputError(f"{what} {path.resolve()} lies outside the review "
                                        f"folder {root}", where, hint))
        return path

    def table(name: str, value: Any, index: int = 0) -> dict[str, Any]:
        if not isinstance(value, dict):
            problems.append(InputError(f"[{name}] must be a table", lines.at(name)))
            return {}
        for key, item in value.items():
            expected = _SCHEMA[name].get(key)
            if expected is None:
                known = ", ".join(_SCHEMA[name])
                problems.append(
                    InputError(
                        f"unknown key {key!r} in [{name}]",
                        lines.at(name, key, index),
                        f"known keys: {known}",
                    )
                )
            elif not isinstance(item, expected) or (isinstance(item, bool)
                                                     and expected is not bool):
                problems.append(
                    InputError(
                        f"{name}.{key} has the wrong type ({type(item).__name__})",
                        lines.at(name, key, index),
                        "see the commented template that `review init` writes",
                    )
                )
        return value

    for name in data:
        if name not in _SCHEMA:
            problems.append(
                InputError(
                    f"unknown table [{name}]",
                    lines.at(name),
                    f"known tables: {', '.join(_SCHEMA)}",
                )
            )
    review = table("review", data.get("review", {}))
    dedupe = table("dedupe", data.get("dedupe", {}))
    screening = table("screening", data.get("screening", {}))
    extraction = table("extraction", data.get("extraction", {}))
    analysis = table("analysis", data.get("analysis", {}))
    outputs = table("outputs", data.get("outputs", {}))
    previous = table("prisma", data.get("prisma", {}))
    counts = _counts(previous, "prisma", lines, problems)
    if counts.get("previous_studies", 0) > counts.get("previous_reports", 0):
        problems.append(InputError(
            f"previous_studies ({counts['previous_studies']}) exceeds previous_reports "
            f"({counts.get('previous_reports', 0)})", lines.at("prisma", "previous_reports"),
            "each study of the previous version has at least one report"))

    sources: list[Source] = []
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list) or not raw_sources:
        problems.append(
            InputError("no [[sources]] given", str(file), "add one [[sources]] table per database")
        )
        raw_sources = []
    for index, raw in enumerate(raw_sources):
        entry = table("sources", raw, index)
        label, where = entry.get("label"), entry.get("path")
        if not label or not where:
            problems.append(
                InputError(
                    "a [[sources]] entry needs both `label` and `path`",
                    lines.at("sources", None, index),
                )
            )
            continue
        source_path = root / str(where)
        if entry.get("read_only") is not True:
            inside(source_path, lines.at("sources", "path", index), f"source {label!r}",
                   "move the export into the review folder, or add `read_only = true` to "
                   "this [[sources]] table to read it where it is (it is only ever read)")
        if not source_path.exists():
            problems.append(
                MissingInputError(
                    f"source {label!r}: {where} does not exist",
                    lines.at("sources", "path", index),
                    "put the database's export file there or fix the path",
                )
            )
        searched = str(entry["searched"]) if entry.get("searched") else None
        kind = entry.get("kind", "database")
        if kind not in SOURCE_KINDS:
            problems.append(InputError(
                f"source {label!r}: unknown kind {kind!r}", lines.at("sources", "kind", index),
                f"choose one of: {', '.join(SOURCE_KINDS)}"))
        removed = _counts(entry, "sources", lines, problems, index)
        if removed and kind not in ("database", "register"):
            problems.append(InputError(
                f"source {label!r} ({kind}): records removed before screening are counted "
                "for databases and registers only",
                lines.at("sources", next(iter(removed)), index),
                "PRISMA 2020 has no such box for other methods; remove the key"))
        database = entry.get("database")
        sources.append(Source(str(label), source_path, str(database) if database else None,
                              searched, str(kind), **removed))
    labels = [s.label for s in sources]
    for duplicate in sorted({x for x in labels if labels.count(x) > 1}):
        problems.append(
            InputError(f"source label {duplicate!r} is used twice", str(file), "use unique labels")
        )

    design = str(extraction.get("design", "proportion"))
    if design not in _DESIGNS:
        problems.append(
            InputError(
                f"unknown design {design!r}",
                lines.at("extraction", "design"),
                f"choose one of: {', '.join(_DESIGNS)}",
            )
        )
    choices = _check_analysis(analysis, design, lines, problems)
    given = dedupe.get("threshold", 90)
    threshold = float(given) if isinstance(given, (int, float)) else 90.0  # else reported
    if not 0 <= threshold <= 100:
        problems.append(
            InputError(
                f"dedupe threshold {threshold} is outside 0-100", lines.at("dedupe", "threshold")
            )
        )

    def under_root(table: str, key: str, value: object, default: str) -> Path:
        return inside(root / str(value or default), lines.at(table, key),
                      f"{table}.{key}", "review run writes only inside the review folder: "
                      "give a path relative to it, without .. or a link leading out")

    title_abstract = under_root("screening", "title_abstract", screening.get("title_abstract"),
                                "screening/title-abstract.xlsx")
    full_text = under_root("screening", "full_text", screening.get("full_text"),
                           "screening/full-text.xlsx")
    workbook = under_root("extraction", "workbook", extraction.get("workbook"),
                          "extraction/extraction.xlsx")
    output_dir = under_root("outputs", "dir", outputs.get("dir"), "output")
    _refuse_overlaps(sources, [(title_abstract, lines.at("screening", "title_abstract")),
                               (full_text, lines.at("screening", "full_text")),
                               (workbook, lines.at("extraction", "workbook")),
                               (output_dir, lines.at("outputs", "dir"))], problems)

    if problems:
        raise ValidationError(problems, str(file), what="line")

    return ReviewConfig(
        path=file.resolve(),
        title=str(review.get("title", "")),
        question=str(review.get("question", "")),
        authors=tuple(str(a) for a in review.get("authors", ()) if str(a).strip()),
        sources=tuple(sources),
        dedupe_threshold=threshold,
        title_abstract=title_abstract,
        full_text=full_text,
        reasons=tuple(str(r) for r in screening.get("reasons", ())),
        extraction=workbook,
        design=design,
        fields=tuple(str(f) for f in extraction.get("fields", ())),
        analysis=choices,
        output_dir=output_dir,
        **counts,
    )


def _read_text(file: Path) -> str:
    """review.toml's text: UTF-8, or UTF-16/32 with a byte-order mark (Windows editors)."""
    from .textcodec import text_codec

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise MissingInputError(f"cannot read the file ({exc.strerror})", str(file)) from None
    try:
        return data.decode(text_codec(data))
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", str(file),
                         "save review.toml as UTF-8") from None


def _refuse_overlaps(sources: list[Source], written: list[tuple[Path, str]],
                     problems: list[ReviewError]) -> None:
    """A workbook or the outputs folder inside a source (or a source among the outputs)
    would be read back as an export, or written over: refuse it at its line."""
    for path, where in written:
        target = path.resolve()
        for source in sources:
            read = source.path.resolve()
            if target.is_relative_to(read) or read.parent == target:
                problems.append(OutputError(
                    f"{target} overlaps source {source.label!r} ({read})", where,
                    "keep sources, workbooks and outputs in separate places"))


def _counts(entry: dict[str, Any], name: str, lines: _Lines, problems: list[ReviewError],
            index: int = 0) -> dict[str, int]:
    """The count keys (whole numbers, 0 or more) of a table, problems noted at their line;
    keys left out or of the wrong type (reported already) are not returned."""
    found = {}
    for key, kind in _SCHEMA[name].items():
        value = entry.get(key)
        if kind is not int or not isinstance(value, int) or isinstance(value, bool):
            continue
        if value < 0:
            problems.append(InputError(f"{name}.{key} is {value}, not a count",
                                       lines.at(name, key, index),
                                       "give a whole number, 0 or more"))
        elif value:
            found[key] = value
    return found


def _check_analysis(analysis: dict[str, Any], design: str, lines: _Lines,
                    problems: list[ReviewError]) -> PoolOptions:
    """Check ``[analysis]`` with :func:`metareview.poolrun.check_options`, so a bad setting
    stops the run here, at its line, not after the screening. Returns the options
    ``review run`` pools with: the choices spelled as poolrun spells them, plus
    leave-one-out and the small-study tests the report shows — except the small-study tests
    with the GLMM, MH and Peto and leave-one-out with the GLMM, which have no
    inverse-variance weights for them (``run`` says so in a note)."""
    from .moderators import parse_point
    from .poolrun import PoolOptions, check_options

    given = {key: analysis[key] for key, kind in (("measure", str), ("method", str),
                                                  ("test", str), ("level", (int, float)))
             if isinstance(analysis.get(key), kind)}  # a wrong type is reported already
    bias = {key: analysis[key] for key, kind in (("bias_model", str), ("bias_predictor", str),
                                                 ("bias_min_k", int), ("pi_df", str))
            if isinstance(analysis.get(key), kind)}
    extra = {key: analysis[key] for key, kind in (("influence", bool), ("common", bool),
                                                  ("cumulative", str))
             if isinstance(analysis.get(key), kind)}
    predict = analysis.get("predict", [])
    if not isinstance(predict, list):  # reported already
        predict = []
    elif not all(isinstance(p, str) for p in predict):
        problems.append(InputError("analysis.predict holds something other than text",
                                   lines.at("analysis", "predict"),
                                   'give moderator=value texts, e.g. predict = ["year=2010"]'))
        predict = []
    found: list[tuple[str, OptionError]] = []
    for point in predict:
        try:
            parse_point(point)
        except OptionError as wrong:
            found.append(("predict", wrong))
    columns = analysis.get("columns")
    checked = check_options(design, PoolOptions(**given, **bias, **extra, by=analysis.get("by"),
                                                mods=analysis.get("mods"),
                                                predict=tuple(predict),
                                                cluster=analysis.get("cluster"),
                                                columns=columns if isinstance(columns, dict)
                                                else {}), found)
    for key, exc in found:
        if key != "design":  # reported already
            # pool's words name options (--level); here they are keys
            problems.append(InputError(exc.message.replace("--", ""), lines.at("analysis", key),
                                       (exc.hint or "").replace("--", "")))
    weights = checked.method not in ("GLMM", "MH", "Peto")  # no inverse-variance weights
    return PoolOptions(measure=checked.measure if "measure" in given else None,
                       method=checked.method, test=checked.test,
                       level=float(analysis.get("level", 95)), by=analysis.get("by"),
                       mods=analysis.get("mods"), predict=tuple(predict),
                       cluster=analysis.get("cluster"), leave_one_out=checked.method != "GLMM",
                       bias=weights, **extra,
                       bias_model=checked.bias_model, bias_predictor=checked.bias_predictor,
                       bias_min_k=checked.bias_min_k, pi_df=checked.pi_df,
                       columns=checked.columns)


def init_project(directory: str | Path, title: str = "") -> Path:
    """Create ``review.toml`` and the folder layout in ``directory``; never overwrites.

    The file is written atomically: an interrupted ``init`` leaves no half-written
    ``review.toml`` that would block the next one.
    """
    from .fileio import atomic_path  # fileio imports the article readers
    root = Path(directory)
    config = root / CONFIG_NAME
    if config.exists():
        raise OutputError(
            "a review.toml exists already", str(config), "edit it, or choose another folder"
        )
    for sub in ("sources/pubmed", "screening", "extraction", "output"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    name = title or root.resolve().name
    with atomic_path(config) as tmp:  # refuses a review.toml made meanwhile, too
        tmp.write_text(TEMPLATE.format(title=name.replace('"', "'")), encoding="utf-8")
    return config
