"""``review run``: bring a review described by ``review.toml`` up to date, step by step.

The steps, each run only when its inputs changed since the last run:

1. parse every source and find duplicates: ``records.csv`` and ``duplicates.csv`` (a
   reviewer's ``override`` column in the log is read back on the next run);
2. the title/abstract screening workbook, then the full-text workbook for the records
   included at title/abstract, then the extraction workbook for the reports included at
   full text. A workbook is created when absent and never overwritten: new records are
   appended as new rows, records that disappeared are reported and left alone. The run
   stops politely (no error) while a workbook still has undecided rows;
3. the PRISMA 2020 counts (``prisma.csv``) and diagram (``prisma.svg``, ``prisma.png``);
4. once every included row of the extraction sheet holds data (until then the run stops
   politely, listing the rows still to extract; rows filled in part are errors): the
   pooled results (``results.json``, ``results.md``), forest and funnel plots (and the
   Baujat and bubble plots when ``[analysis]`` asks for influence diagnostics or a
   meta-regression), and the report (``report.html``, ``report.md``, ``report.docx``).

Whether a step must run is decided by a fingerprint (SHA-256) of its inputs, kept in
``<outputs>/.review-state.json``; files are only rewritten when their bytes change, so a
second run changes no file.

The state file also holds the fingerprint of every output file the run wrote. An output
whose bytes changed since (edited by hand) is never replaced or removed: the run stops
with an error naming it (or, when removing, keeps it with a note). ``duplicates.csv`` is
the exception: the reviewer edits its override column, and the run writes it again.
A state file that cannot be read is rebuilt, with a note (every step runs again).

A run that stops (politely or with an error) before a step of steps 3-4 removes that
step's outputs and those of the later steps, with a note, so that no file in the outputs
folder describes earlier inputs. ``records.csv`` and ``duplicates.csv`` (which holds the
reviewer's overrides) are kept.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import ReviewConfig
from .errors import InputError, OutputError
from .fileio import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .dedupe import DedupeResult
    from .poolrun import PoolReport
    from .prisma import PrismaCounts
    from .records import Article
    from .sheets.extraction import StudyTable
    from .sheets.screening import Screening

STATE_NAME = ".review-state.json"
#: Output files, by role, in the outputs folder.
OUTPUTS = {
    "records": "records.csv",
    "duplicates": "duplicates.csv",
    "prisma_csv": "prisma.csv",
    "prisma_svg": "prisma.svg",
    "prisma_png": "prisma.png",
    "results_json": "results.json",
    "results_md": "results.md",
    "forest_svg": "forest.svg",
    "forest_png": "forest.png",
    "funnel_svg": "funnel.svg",
    "funnel_png": "funnel.png",
    "bubble_svg": "bubble.svg",
    "bubble_png": "bubble.png",
    "baujat_svg": "baujat.svg",
    "baujat_png": "baujat.png",
    "report_html": "report.html",
    "report_md": "report.md",
    "report_docx": "report.docx",
}
#: The steps after the workbooks and the outputs of each, in run order. Outputs of a step a
#: run does not get through describe earlier inputs, so the run removes them.
DERIVED = {
    "prisma": ("prisma_csv", "prisma_svg", "prisma_png"),
    "pool": ("results_json", "results_md", "forest_svg", "forest_png", "funnel_svg",
             "funnel_png", "bubble_svg", "bubble_png", "baujat_svg", "baujat_png"),
    "report": ("report_html", "report_md", "report_docx"),
}
_SHOWN = 10  # undecided rows listed before "and N more"


@dataclass(frozen=True)
class Stop:
    """Why a run stopped early: ``what`` still waits for the reviewer (with its counts), in
    which workbook (``where``), the ``rows`` still to fill in (``cell  label``), and
    ``todo``, what the reviewer does to them."""

    what: str
    where: str
    rows: tuple[str, ...]
    todo: str

    def text(self) -> str:
        """The stop as ``review run`` prints it: what, the rows, what to do."""
        return "\n".join([f"{self.what} in {self.where}:", *(f"  {row}" for row in self.rows),
                          f"{self.todo[:1].upper()}{self.todo[1:]}, save the workbook, then "
                          "run `review run` again; the run continues from there."])

    def error(self, location: str, command: str) -> InputError:
        """The stop as an error of ``command`` (e.g. ``review report``), rows listed below."""
        return InputError(f"no report yet: {self.what} in {self.where}", location,
                          f"{self.todo}, save the workbook, then run `{command}` again",
                          details=self.rows)


@dataclass(frozen=True)
class RunSummary:
    """What a run did: ``actions`` (one line per file written or step done), ``notes``
    (records that vanished, ...), ``stop`` (why the run stopped early and what to do
    next; ``None`` when it reached the report) and the report's path when there is one."""

    actions: tuple[str, ...]
    notes: tuple[str, ...] = ()
    stop: Stop | None = None
    report: Path | None = None

    @property
    def stopped(self) -> str | None:
        """The stop as ``review run`` prints it (:meth:`Stop.text`)."""
        return self.stop.text() if self.stop else None

    def to_dict(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "notes": list(self.notes),
                "stopped": self.stopped, "report": str(self.report) if self.report else None}


def output_path(config: ReviewConfig, role: str) -> Path:
    """Where ``run`` writes the output named by ``role`` (a key of :data:`OUTPUTS`)."""
    return config.output_dir / OUTPUTS[role]


# --- files, fingerprints and the state file ----------------------------------------------


def _sha(path: Path) -> str:
    return _digest(path.read_bytes()) if path.exists() else "absent"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _plain(value: Any) -> Any:
    """A result's ``to_dict()`` (stable across runs), else its text."""
    return value.to_dict() if hasattr(value, "to_dict") else str(value)


def _fingerprint(*parts: Any) -> str:
    text = json.dumps([__version__, *parts], sort_keys=True, default=_plain, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` atomically unless the file already holds exactly these bytes."""
    if path.exists() and path.read_bytes() == data:
        return False
    with atomic_path(path, force=True) as tmp:
        tmp.write_bytes(data)
    return True


class _State:
    """Fingerprints of the inputs of each step at its last successful run, and the facts
    later steps need from skipped ones (records identified per database, duplicates)."""

    def __init__(self, path: Path):
        self.path = path
        self.broken: str | None = None  # why an unreadable state file was rebuilt
        self.data: dict[str, Any] = {}
        try:
            data = json.loads(path.read_bytes().decode("utf-8"))
        except FileNotFoundError:
            data = {}
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            self.broken, data = str(exc), {}
        if not isinstance(data, dict) or not all(
                isinstance(data.get(key, {}), dict) for key in ("steps", "facts", "files")):
            self.broken, data = self.broken or "not the state of a run", {}
        self.data = data
        self.data.setdefault("steps", {})
        self.data.setdefault("facts", {})
        self.data.setdefault("files", {})

    @property
    def files(self) -> dict[str, str]:
        """SHA-256 of each output file as the run last wrote it, by path under the root."""
        files: dict[str, str] = self.data["files"]
        return files

    def fresh(self, step: str, fingerprint: str, outputs: Iterable[tuple[str, Path]]) -> bool:
        """The step's inputs are unchanged and each output (``(name, path)``) still holds
        the bytes the run wrote: an output edited by hand is not current."""
        return (self.data["steps"].get(step) == fingerprint
                and all(self.files.get(name) == _sha(path) for name, path in outputs))

    def done(self, step: str, fingerprint: str) -> None:
        self.data["steps"][step] = fingerprint

    @property
    def facts(self) -> dict[str, Any]:
        facts: dict[str, Any] = self.data["facts"]
        return facts

    def save(self) -> None:
        text = json.dumps(self.data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        _write_if_changed(self.path, text.encode("utf-8"))


# --- the run -----------------------------------------------------------------------------


class _Run:
    def __init__(self, config: ReviewConfig, echo: Callable[[str], None]):
        self.config = config
        self.echo = echo
        self.actions: list[str] = []
        self.notes: list[str] = []
        self.state = _State(config.output_dir / STATE_NAME)
        self.reached: set[str] = set()  # steps of DERIVED that are current after this run
        if self.state.broken:
            self.note(f"{self.rel(self.state.path)} could not be read ({self.state.broken}); "
                      "rebuilt it, so every step runs again")

    def rel(self, path: Path | str) -> str:
        return os.path.relpath(path, self.config.root)

    def did(self, line: str) -> None:
        self.actions.append(line)
        self.echo(line)

    def note(self, line: str) -> None:
        self.notes.append(line)
        self.echo(f"note: {line}")

    def outputs(self, roles: Iterable[str]) -> list[tuple[str, Path]]:
        """``(name under the root, path)`` of the outputs named by ``roles``."""
        return [(self.rel(path), path) for path in (output_path(self.config, r) for r in roles)]

    def ours(self, name: str, path: Path) -> bool:
        """Whether the file at ``path`` holds exactly what this run's tool wrote there."""
        return self.state.files.get(name) == _sha(path)

    def write(self, role: str, data: bytes, quiet: bool = False) -> None:
        """Write an output, unless it already holds ``data``. A file the run did not
        write, or that changed since it wrote it, is never replaced (an OutputError):
        except duplicates.csv, whose override column the reviewer fills in."""
        [(name, path)] = self.outputs([role])
        current = _sha(path)
        if current not in ("absent", _digest(data)) and not self.ours(name, path) \
                and role != "duplicates":
            raise OutputError(
                "changed since `review run` wrote it (or not written by it); the run would "
                "replace it", name,
                "move your copy elsewhere (or delete the file), then run again")
        written = _write_if_changed(path, data)
        self.state.files[name] = _digest(data)
        if written and not quiet:
            self.did(f"wrote {name}")

    def drop_stale(self) -> None:
        """Remove the outputs (and state entries) of the steps this run did not get
        through: they were made from earlier inputs and must not pass for current ones.
        Only files holding what the run wrote are removed; the others are kept and named."""
        removed, kept = [], []
        for step, roles in DERIVED.items():
            if step in self.reached:
                continue
            self.state.data["steps"].pop(step, None)
            self.state.data["steps"].pop(f"{step} inputs", None)
            for name, path in self.outputs(roles):
                if not path.exists():
                    self.state.files.pop(name, None)
                elif self.ours(name, path):
                    path.unlink()
                    self.state.files.pop(name, None)
                    removed.append(name)
                else:
                    kept.append(name)
        if removed:
            self.note(f"out of date, removed: {', '.join(removed)} — made from earlier "
                      "inputs; the run writes them again once it gets that far")
        if kept:
            self.note(f"out of date but kept: {', '.join(kept)} — changed since `review run` "
                      "wrote them (or not written by it); they describe earlier inputs: "
                      "move or delete them")

    def summary(self, stop: Stop | None = None, report: Path | None = None) -> RunSummary:
        self.drop_stale()
        if stop:
            self.echo(stop.text())
        elif not self.actions:
            self.echo("everything is up to date")
        return RunSummary(tuple(self.actions), tuple(self.notes), stop, report)


def run(config: ReviewConfig, *, echo: Callable[[str], None] = lambda _: None) -> RunSummary:
    """Bring the review up to date: every step whose inputs changed (see the module text).

    ``echo`` receives one line per thing done. Stops early, without an error, while a
    screening workbook has undecided rows or an included row of the extraction sheet has
    no data yet; the summary's ``stopped`` then says what to do next. Raises the library's
    errors for bad inputs (a malformed export, an invalid cell in the extraction sheet, ...).
    """
    config.output_dir.mkdir(parents=True, exist_ok=True)
    for workbook in (config.title_abstract, config.full_text, config.extraction):
        workbook.parent.mkdir(parents=True, exist_ok=True)
    r = _Run(config, echo)
    try:
        return _steps(r)
    except BaseException:  # Ctrl-C too: no output of earlier inputs may stay behind
        r.drop_stale()
        raise
    finally:  # steps done before an error need not run again
        r.state.save()


def _steps(r: _Run) -> RunSummary:
    config = r.config
    rows = _records_step(r)
    ids = {str(row["record_id"]) for row in rows}
    canon = _canon(r.state.facts.get("aliases") or {})

    ta = _sync_screening(r, config.title_abstract, "title-abstract", rows, canon)
    ta_current = _current(r, ta.decisions, ids, canon, config.title_abstract)
    stop = _pending(r, _undecided(ta_current), len(ta_current), config.title_abstract,
                    "title/abstract screening: {} of {} record(s) still to decide",
                    "fill in the decision column (include, exclude or maybe) of these rows")
    if stop:
        return r.summary(stop)

    sought = {canon(d.record_id) for d in ta_current if d.decision in ("include", "maybe")}
    ft = _sync_screening(r, config.full_text, "full-text",
                         [row for row in rows if row["record_id"] in sought], canon)
    gone = [d.record_id for d in ft.decisions if canon(d.record_id) not in sought]
    if gone:
        r.note(f"{len(gone)} record(s) in {r.rel(config.full_text)} are no longer included at "
               f"title/abstract and are not counted: {', '.join(gone)}")
    ft_current = _current(r, ft.decisions, sought, canon, config.full_text)
    stop = _pending(r, _undecided(ft_current), len(ft_current), config.full_text,
                    "full-text screening: {} of {} record(s) still to decide",
                    "fill in the retrieved (yes/no), decision and exclusion_reason columns of "
                    "these rows")
    if stop:
        return r.summary(stop)

    included = {canon(d.record_id) for d in ft_current
                if d.retrieved and d.decision == "include"}
    _sync_extraction(r, [row for row in rows if row["record_id"] in included], canon)
    counts = _prisma_step(r, ta_current, ft_current, canon)

    studies = _read_studies(r, included, canon)
    if isinstance(studies, Stop):
        return r.summary(studies)
    pool_inputs = _fingerprint("pool", repr(studies), repr(r.config.analysis))
    pool = _pool_step(r, studies, pool_inputs)
    report = _report_step(r, counts, studies, pool, pool_inputs)
    return r.summary(report=report)


# --- step 1: parse and dedupe ------------------------------------------------------------


def _records_step(r: _Run) -> list[dict[str, Any]]:
    from .articles import Withdrawn, expand_paths, read_articles
    from .dedupe import dedupe, log_csv, read_overrides, record_key, unique_csv
    from .sheets.extraction import read_record_rows

    config = r.config
    records, log = output_path(config, "records"), output_path(config, "duplicates")
    overrides = read_overrides(log) if log.exists() else ()
    files = [(s.label, s.database, s.kind, s.removed_by_automation, s.removed_other,
              [(r.rel(f), _sha(Path(f))) for f in expand_paths([s.path])])
             for s in config.sources]
    decided = sorted((o.kept, o.removed, o.merge, o.text) for o in overrides)
    fingerprint = _fingerprint("records", files, config.dedupe_threshold, decided)
    if not r.state.fresh("records", fingerprint, r.outputs(("records", "duplicates"))):
        articles: list[Article] = []
        kinds: dict[str, str] = {}  # record key -> kind of its source
        identified: list[list[Any]] = []  # [label, kind, name, n] in config order
        withdrawn = Withdrawn()  # one warning for all sources, each PMID once
        for source in config.sources:
            found = [replace(a, source_file=r.rel(a.source_file))
                     for a in read_articles([str(source.path)], on_deletion=withdrawn.add)]
            names = Counter(source.database or a.source_database or source.label
                            for a in found)
            identified += [[source.label, source.kind, name, n] for name, n in names.items()]
            if not found:
                identified.append([source.label, source.kind, source.name, 0])
            kinds.update((record_key(a), source.kind) for a in found)
            r.did(f"read {len(found):,} records from {source.label} ({r.rel(source.path)})")
            articles += found
        withdrawn.warn()
        result = dedupe(articles, config.dedupe_threshold, overrides)
        r.did(f"found {result.n_removed:,} duplicates; {len(result.records):,} unique records")
        r.write("records", unique_csv(result).encode("utf-8"))
        r.write("duplicates", log_csv(result).encode("utf-8"))
        # PRISMA's databases-and-registers column: its duplicates are its records merged
        # into another; a unique record found by other methods only belongs to theirs.
        other_only = [u.id for u in result.records
                      if all(kinds[m] not in ("database", "register") for m in u.members)]
        screened_records = sum(k in ("database", "register") for k in kinds.values())
        r.state.facts["records"] = {
            "identified": identified, "other_only": other_only,
            "duplicates": screened_records - (len(result.records) - len(other_only)),
            "overrides": len(overrides)}
        r.state.facts["aliases"] = _aliases(result, articles)
        r.state.done("records", fingerprint)
    rows, _ = read_record_rows(records)
    for row in rows:
        year = str(row.get("year") or "")
        if year.isdecimal():
            row["year"] = int(year)
    return rows


def _aliases(result: DedupeResult, articles: Sequence[Article]) -> dict[str, list[str]]:
    """Every other id each unique record could have had: the ``pmid:``, ``doi:`` and
    ``rec:`` ids of its kept record and of each merged duplicate. A new source can give a
    record a PMID (so a new id); workbook rows under an old id still match it."""
    from .dedupe import record_id, record_key

    by_key = {record_key(a): a for a in articles}
    aliases = {}
    for record in result.records:
        found = {record_id(variant)
                 for a in [record.article, *(by_key[k] for k in record.members if k in by_key)]
                 for variant in (a, replace(a, pmid=None), replace(a, pmid=None, doi=None))}
        found.discard(record.id)
        if found:
            aliases[record.id] = sorted(found)
    return aliases


def _canon(aliases: Mapping[str, Sequence[str]]) -> Callable[[str], str]:
    """Map a workbook row's record id to the current id of its record (itself if none)."""
    current: dict[str, str] = {}
    for rid, others in aliases.items():
        for other in others:
            current.setdefault(other, rid)
    current.update((rid, rid) for rid in aliases)  # a record's own id wins
    return lambda rid: current.get(rid, rid)


def _current(r: _Run, decisions: Sequence[Any], wanted: set[str],
             canon: Callable[[str], str], path: Path) -> list[Any]:
    """The decisions on the records in ``wanted``, one per record: a row whose record has
    since merged with that of an earlier row is noted and not counted."""
    chosen: list[Any] = []
    first: dict[str, str] = {}
    twice = []
    for d in decisions:
        rid = canon(d.record_id)
        if rid not in wanted:
            continue
        if rid in first:
            twice.append(f"{d.record_id} (same record as {first[rid]})")
            continue
        first[rid] = d.record_id
        chosen.append(d)
    if twice:
        r.note(f"{len(twice)} row(s) of {r.rel(path)} are now duplicates of an earlier row "
               f"and are not counted: {', '.join(twice)}")
    return chosen


# --- step 2: the workbooks, append-only ----------------------------------------------------


def _sync_screening(r: _Run, path: Path, stage: str, rows: Sequence[Mapping[str, Any]],
                    canon: Callable[[str], str]) -> Screening:
    """Create the screening workbook, or append the records it lacks
    (:func:`~metareview.sheets.screening.update_screening`); read it back. A row matches
    a record when ``canon`` maps its id to the record's: rows keep their ids."""
    from .sheets import screening

    config = r.config
    sources = [r.rel(s.path) for s in config.sources]
    reasons = config.reasons or screening.DEFAULT_REASONS

    def render(chosen: Sequence[Mapping[str, Any]]) -> Callable[[Path], None]:
        return lambda tmp: screening.write_screening(chosen, tmp, stage=stage, reasons=reasons,
                                                     sources=sources)

    if not path.exists():
        with atomic_path(path) as tmp:
            render(rows)(tmp)
        r.did(f"created {r.rel(path)}: {len(rows):,} records for {stage} screening")
        return screening.read_screening(path)
    sheet = screening.read_screening(path)
    known = [d.record_id for d in sheet.decisions]
    seen = {canon(rid) for rid in known}
    new = [row for row in rows if str(row["record_id"]) not in seen]
    if new:
        with atomic_path(path, force=True) as tmp:
            update = screening.update_screening(path, new, tmp)
        r.did(f"added {len(update.added):,} new record(s) to {r.rel(path)}")
        sheet = screening.read_screening(path)
    if stage == "title-abstract":
        wanted = {str(row["record_id"]) for row in rows}
        gone = [rid for rid in known if canon(rid) not in wanted]
        if gone:
            r.note(f"{len(gone)} record(s) in {r.rel(path)} are no longer among the unique "
                   f"records (rows kept, not counted): {', '.join(gone)}")
    return sheet


def _sync_extraction(r: _Run, rows: Sequence[Mapping[str, Any]],
                     canon: Callable[[str], str]) -> None:
    from .sheets.extraction import (
        SheetPlan,
        append_rows,
        known_rows,
        study_label,
        unique_label,
        write_extraction,
    )

    config = r.config
    path = config.extraction
    sources = tuple(r.rel(s.path) for s in config.sources)

    def render(chosen: Sequence[Mapping[str, Any]]) -> Callable[[Path], None]:
        plan = SheetPlan(config.design, tuple(chosen), config.fields, sources)
        return lambda tmp: write_extraction(plan, tmp)

    if not path.exists():
        with atomic_path(path) as tmp:
            render(rows)(tmp)
        r.did(f"created {r.rel(path)}: {len(rows):,} studies to extract ({config.design})")
        return
    sheet = known_rows(path)
    if sheet is None:
        r.note(f"{r.rel(path)} has no record_id column, so included records cannot be "
               "matched to its rows; none were added")
        return
    known, labels = sheet
    matched = {canon(rid) for rid in known}
    new = []
    for row in rows:
        if str(row["record_id"]) in matched:
            continue
        # labels must stay unique; a filled-in row keeps its label, so the new one is "b"
        label = unique_label(study_label(row) or str(row["record_id"]), labels)
        labels.add(label.casefold())
        new.append({**row, "study": label})
    if new:
        append_rows(path, render(new))
        r.did(f"added {len(new):,} new record(s) to {r.rel(path)}")


def _undecided(decisions: Sequence[Any]) -> list[tuple[str, str]]:
    return [(d.pending_cell, d.record_id) for d in decisions if d.pending]


def _pending(r: _Run, pending: Sequence[tuple[str, str]], total: int, path: Path,
             what: str, todo: str) -> Stop | None:
    """The stop when rows still wait for the reviewer: ``what`` (with ``{}`` for the
    counts), their cells and labels, and ``todo``; ``None`` when no row waits."""
    if not pending:
        return None
    rows = [f"{cell}  {label}" for cell, label in pending[:_SHOWN]]
    if len(pending) > _SHOWN:
        rows.append(f"… and {len(pending) - _SHOWN:,} more")
    return Stop(what.format(f"{len(pending):,}", f"{total:,}"), r.rel(path), tuple(rows), todo)


# --- step 3: PRISMA -----------------------------------------------------------------------


def _prisma_step(r: _Run, title_abstract: Sequence[Any], full_text: Sequence[Any],
                 canon: Callable[[str], str]) -> PrismaCounts:
    """The PRISMA counts from the records facts and the current screening decisions: the
    records found by other methods only go to the other-methods column at full text."""
    from . import prisma_diagram
    from .prisma import PrismaCounts

    config = r.config
    facts = r.state.facts.get("records") or {}
    other_only = set(facts.get("other_only", ()))
    kinds = {s.label: s.kind for s in config.sources}
    by_kind: dict[str, dict[str, int]] = {}
    for label, kind, name, n in facts.get("identified", ()):
        counts_of = by_kind.setdefault(kinds.get(label, kind), {})
        counts_of[name] = counts_of.get(name, 0) + n
    for source in config.sources:  # found by the search, removed before the export:
        removed = source.removed_by_automation + source.removed_other
        if removed:  # counted under the source's (first) database
            name = next((n for label, _, n, _ in facts.get("identified", ())
                         if label == source.label), source.name)
            counts_of = by_kind.setdefault(source.kind, {})
            counts_of[name] = counts_of.get(name, 0) + removed
    counts = PrismaCounts.from_pipeline(
        identified=by_kind.get("database", {}), registers=by_kind.get("register", {}),
        other_methods={kind: sum(names.values()) for kind, names in by_kind.items()
                       if kind not in ("database", "register")},
        duplicates=int(facts.get("duplicates", 0)),
        excluded_automatic=sum(s.removed_by_automation for s in config.sources),
        excluded_other=sum(s.removed_other for s in config.sources),
        screening=[d.decision for d in title_abstract if canon(d.record_id) not in other_only],
        full_text=[d for d in full_text if canon(d.record_id) not in other_only],
        other_full_text=[d for d in full_text if canon(d.record_id) in other_only],
        previous_studies=config.previous_studies, previous_reports=config.previous_reports)
    roles = DERIVED["prisma"]
    fingerprint = _fingerprint("prisma", counts.to_dict())
    if not r.state.fresh("prisma", fingerprint, r.outputs(roles)):
        contents = [prisma_diagram.file_bytes(counts, output_path(r.config, role).suffix)
                    for role in roles]  # all rendered (and the counts checked) first
        for role, data in zip(roles, contents, strict=True):
            r.write(role, data, quiet=True)
        r.did(f"PRISMA counts: {counts.summary()}")
        r.did(f"wrote {', '.join(name for name, _ in r.outputs(roles))}")
        r.state.done("prisma", fingerprint)
    r.reached.add("prisma")
    return counts


# --- step 4: pool, plots, report ---------------------------------------------------------


def _read_studies(r: _Run, wanted: set[str],
                  canon: Callable[[str], str]) -> StudyTable | Stop:
    """The validated study table, or the stop message while included rows (include not
    set to no) have every data cell empty: appended rows wait for the reviewer, as
    undecided screening rows do. A row filled in part is left to the validation.

    Rows whose record id names a record not (or no longer) included at full text are
    left out, with a note; rows without a record id (typed in by hand) stay."""
    from .sheets import common
    from .sheets.extraction import HELPER_SHEETS, key, pending_rows, validate

    config = r.config
    table = common.read_table(config.extraction, skip=HELPER_SHEETS)
    names = [key(str(c.value)) for c in table.header]
    if "recordid" in names:
        column = names.index("recordid")
        left_out = [row for row in table.rows if row[column].value is not None
                    and canon(str(row[column].value).strip()) not in wanted]
        if left_out:
            r.note(f"{len(left_out)} row(s) of {r.rel(config.extraction)} are no longer "
                   "included at full text: "
                   + ", ".join(f"{row[column].value} (row {row[column].row})"
                               for row in left_out)
                   + " — left out of the pooling; set include to no, or delete the row")
            table = replace(table, rows=tuple(row for row in table.rows
                                              if row not in left_out))
    waiting, included, data = pending_rows(table, config.design, config.analysis.columns)
    columns = ", ".join(data)
    stop = _pending(r, waiting, included, config.extraction,
                    "extraction: {} of {} included studies still to extract",
                    f"fill in the data columns ({columns}) of these rows (or set include to no "
                    "for a study without usable data)")
    if stop:
        return stop
    from .moderators import moderator_columns

    options = config.analysis
    needed = [c for c in (options.by, options.cluster, options.cumulative) if c]
    needed += moderator_columns(options.mods) if options.mods else []
    return validate(table, design=config.design, required=needed, columns=options.columns)


def _pool_step(r: _Run, studies: StudyTable, inputs: str) -> PoolReport | None:
    """Pool and draw the plots unless the study table and the options (``inputs``, their
    fingerprint) are those of the last run and its outputs are as it wrote them: then
    nothing is computed and None is returned."""
    # a figure the options do not make was not written by the last run either
    made = [out for role, out in zip(DERIVED["pool"], r.outputs(DERIVED["pool"]), strict=True)
            if role not in _OPTIONAL or out[0] in r.state.files]
    if r.state.fresh("pool", inputs, made):
        r.reached.add("pool")
        return None
    from .plots import MAX_FOREST_STUDIES, figure_file, funnel_plot
    from .poolrun import markdown, run_pool

    options = r.config.analysis
    pool = run_pool(studies, options)
    skipped = [what for what, on in (
        ("leave-one-out", options.leave_one_out),
        ("the small-study tests (Egger, Begg, trim-and-fill)", options.bias)) if not on]
    if skipped:
        r.note(f"{' and '.join(skipped)} are not run with method {options.method}: they "
               "need an inverse-variance method such as REML")
    e = pool.fit.summary
    r.did(f"pooled {pool.fit.k} studies ({pool.measure}, {pool.method}): "
          f"{e.estimate:.3f} [{e.ci_lb:.3f}, {e.ci_ub:.3f}]")
    r.write("results_json", (json.dumps(pool.to_dict(), indent=2, ensure_ascii=False)
                             + "\n").encode("utf-8"))
    r.write("results_md", markdown(pool).encode("utf-8"))
    if len(pool.studies) > MAX_FOREST_STUDIES:
        r.note(f"forest plot not drawn: {len(pool.studies):,} studies (at most "
               f"{MAX_FOREST_STUDIES:,}); a notice stands in its place in the report")
    figures = {"forest": _forest, "funnel": funnel_plot, **_optional_figures(pool)}
    for role, draw in figures.items():
        for suffix in ("svg", "png"):
            r.write(f"{role}_{suffix}", figure_file(draw(pool), suffix), quiet=True)
            r.did(f"wrote {r.rel(output_path(r.config, f'{role}_{suffix}'))}")
    for name, path in r.outputs(role for role in _OPTIONAL if role.split("_")[0] not in figures):
        if path.exists() and r.ours(name, path):  # made by an earlier run's options
            path.unlink()
        r.state.files.pop(name, None)
    r.state.done("pool", inputs)
    r.reached.add("pool")
    return pool


#: The outputs of the pool step made only when the options ask for them.
_OPTIONAL = ("bubble_svg", "bubble_png", "baujat_svg", "baujat_png")


def _optional_figures(pool: PoolReport) -> dict[str, Callable[[PoolReport], Figure]]:
    """The Baujat plot of the influence diagnostics and the bubble plot of a meta-regression
    with a numeric moderator, where the options asked for them."""
    from .plots import baujat_plot, bubble_plot, numeric_moderators

    figures: dict[str, Callable[[PoolReport], Figure]] = {}
    if pool.influence is not None:
        figures["baujat"] = baujat_plot
    if numeric_moderators(pool):
        figures["bubble"] = bubble_plot
    return figures


def _forest(pool: PoolReport) -> Figure:
    """The forest plot, or, for more studies than a forest plot holds, a figure saying
    so: the run (and its report) goes on without it."""
    from .errors import OptionError
    from .plots import forest_plot, notice_figure

    try:
        return forest_plot(pool)
    except OptionError as exc:
        return notice_figure(f"Forest plot not drawn: {exc.message}")


def _report_step(r: _Run, counts: PrismaCounts, studies: StudyTable,
                 pool: PoolReport | None, pool_inputs: str) -> Path:
    """Write the report unless its contents are those of the last run. With the pool
    skipped (``pool`` None), the pool's inputs stand in for its results, so a run with
    nothing changed computes no statistics; otherwise the report's own fingerprint rules."""
    from . import report
    from .report_docx import to_docx

    config = r.config
    names = tuple(name for name in report.IMAGES  # the figures this run's options made
                  if r.rel(output_path(config, f"{name}_svg")) in r.state.files)
    parts: dict[str, Any] = {
        "config": config, "prisma": counts,
        "characteristics": report.characteristics(studies, config.fields),
        "dedupe": r.state.facts.get("records") or {},
        "images": {name: output_path(config, f"{name}_svg").read_bytes() for name in names},
        "pngs": {name: output_path(config, f"{name}_png").read_bytes() for name in names}}
    paths = [output_path(config, role) for role in DERIVED["report"]]
    outputs = r.outputs(DERIVED["report"])
    inputs = _fingerprint("report inputs", pool_inputs, parts)
    if pool is None and r.state.fresh("report inputs", inputs, outputs):
        r.reached.add("report")
        return paths[0]
    if pool is None:  # the report is out of date although the pool is not
        from .poolrun import run_pool

        pool = run_pool(studies, config.analysis)
    content = report.ReportContent(pool=pool, **parts)
    fingerprint = _fingerprint("report", content.fingerprint())
    if not r.state.fresh("report", fingerprint, outputs):
        r.write("report_html", report.to_html(content).encode("utf-8"))
        r.write("report_md", report.to_markdown(
            content, {name: f"{name}.png" for name in names}).encode("utf-8"))
        r.write("report_docx", to_docx(content))
        r.state.done("report", fingerprint)
    r.state.done("report inputs", inputs)
    r.reached.add("report")
    return paths[0]


#: The report files ``review report -o`` can save, by suffix.
REPORT_SUFFIXES = {".html": "report_html", ".htm": "report_html", ".md": "report_md",
                   ".docx": "report_docx"}


def check_report_output(output: str | Path, force: bool = False) -> Path:
    """Refuse a report output that is not .html or .md, or that exists unless ``force``
    (:func:`~metareview.fileio.check_output`): before the run, so a bad name costs nothing."""
    from .errors import OptionError
    from .fileio import check_output

    if Path(output).suffix.lower() not in REPORT_SUFFIXES:
        raise OptionError("the report is .html, .md or .docx", str(output),
                          "name the output report.html, report.md or report.docx")
    return check_output(output, force=force)


def save_report(config: ReviewConfig, output: str | Path, *, force: bool = False) -> Path:
    """Copy the report of the last run to ``output``: .html and .docx as they are (their
    images are embedded), .md with its image links pointing at the PNG files in the
    outputs folder from the new place."""
    target = check_report_output(output, force)
    role = REPORT_SUFFIXES[target.suffix.lower()]
    data = output_path(config, role).read_bytes()
    if role == "report_md":
        text = data.decode("utf-8")
        from .report import IMAGES

        for name in IMAGES:
            where = os.path.relpath(output_path(config, f"{name}_png"), target.parent)
            text = text.replace(f"]({name}.png)", f"]({Path(where).as_posix()})")
        data = text.encode("utf-8")
    with atomic_path(target, force=force) as tmp:
        tmp.write_bytes(data)
    return target
