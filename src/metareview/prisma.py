"""PRISMA 2020 flow counts for new and updated systematic reviews: build, check, read, write.

The counts follow the flow diagrams of the PRISMA 2020 statement (Page et al. 2021,
BMJ 372:n71, doi:10.1136/bmj.n71): for new reviews, and for updated reviews, which add
the studies and reports of the previous version and their totals. Field names are
those of the CSV template of the PRISMA2020 R package and Shiny app (Haddaway et al.
2022, Campbell Systematic Reviews 18:e1230, doi:10.1002/cl2.1230), so a CSV written here
can be redrawn there and back.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from .csvtext import escape_formula, unescape_formula
from .errors import InputError, MissingInputError, ReviewWarning
from .fileio import atomic_path
from .textcodec import text_codec

COLUMNS = ("data", "node", "box", "description", "boxtext", "tooltips", "url", "n")

# The rows of the package's template (inst/extdata/PRISMA.csv), in its order:
# data, node, box, description, boxtext, tooltips, url, n. Facts of the layout only.
_EXCL_NOTE = "[separate reasons and numbers using ; e.g. Reason1, xxx; Reason2, xxx; Reason3, xxx]"
_REASONS_PLACEHOLDER = "Reason1, xxx; Reason2, xxx; Reason3, xxx"
_DB_PLACEHOLDER = "Database 1, xxx; Database 2, xxx; Database 3, xxx"
_REG_PLACEHOLDER = "Register 1, xxx; Register 2, xxx; Register 3, xxx"
_NEW = "Identification of new studies via databases and registers"
_OTH = "Identification of new studies via other methods"
_DBR = "(databases and registers)"
TEMPLATE: tuple[tuple[str, ...], ...] = (
    ("NA", "node4", "prevstud", "Grey title box; Previous studies", "Previous studies",
     "Grey title box; Previous studies", "prevstud.html", "0"),
    ("previous_studies", "node5", "box1", "Studies included in previous version of review",
     "Studies included in previous version of review",
     "Studies included in previous version of review", "previous_studies.html", "0"),
    ("previous_reports", "NA", "box1",
     "Reports of studies included in previous version of review",
     "Reports of studies included in previous version of review", "NA",
     "previous_reports.html", "0"),
    ("NA", "node6", "newstud", f"Yellow title box; {_NEW}", _NEW, f"Yellow title box; {_NEW}",
     "newstud.html", "0"),
    ("database_results", "node7", "box2", "Records identified from: Databases", "Databases",
     "Records identified from: Databases and Registers", "database_results.html", "0"),
    ("database_specific_results", "NA", "box2", "Records identified from: specific databases",
     "Specific Databases", "NA", "database_results.html", _DB_PLACEHOLDER),
    ("register_results", "NA", "box2", "Records identified from: Registers", "Registers", "NA",
     "NA", "0"),
    ("register_specific_results", "NA", "box2", "Records identified from: specific registers",
     "Specific Registers", "NA", "database_results.html", _REG_PLACEHOLDER),
    ("NA", "node16", "othstud", f"Grey title box; {_OTH}", _OTH, f"Grey title box; {_OTH}",
     "othstud.html", "0"),
    ("website_results", "node17", "box11", "Records identified from: Websites", "Websites",
     "Records identified from: Websites, Organisations and Citation Searching",
     "website_results.html", "0"),
    ("organisation_results", "", "box11", "Records identified from: Organisations",
     "Organisations", "NA", "NA", "0"),
    ("citations_results", "NA", "box11", "Records identified from: Citation searching",
     "Citation searching", "NA", "NA", "0"),
    ("duplicates", "node8", "box3", "Duplicate records", "Duplicate records",
     "Duplicate records", "duplicates.html", "0"),
    ("excluded_automatic", "NA", "box3", "Records marked as ineligible by automation tools",
     "Records marked as ineligible by automation tools", "NA", "NA", "0"),
    ("excluded_other", "NA", "box3", "Records removed for other reasons",
     "Records removed for other reasons", "NA", "NA", "0"),
    ("records_screened", "node9", "box4", f"Records screened {_DBR}", "Records screened",
     f"Records screened {_DBR}", "records_screened.html", "0"),
    ("records_excluded", "node10", "box5", f"Records excluded {_DBR}", "Records excluded",
     f"Records excluded {_DBR}", "records_excluded.html", "0"),
    ("dbr_sought_reports", "node11", "box6", f"Reports sought for retrieval {_DBR}",
     "Reports sought for retrieval", f"Reports sought for retrieval {_DBR}",
     "dbr_sought_reports.html", "0"),
    ("dbr_notretrieved_reports", "node12", "box7", f"Reports not retrieved {_DBR}",
     "Reports not retrieved", f"Reports not retrieved {_DBR}",
     "dbr_notretrieved_reports.html", "0"),
    ("other_sought_reports", "node18", "box12", "Reports sought for retrieval (other)",
     "Reports sought for retrieval", "Reports sought for retrieval (other)",
     "other_sought_reports.html", "0"),
    ("other_notretrieved_reports", "node19", "box13", "Reports not retrieved (other)",
     "Reports not retrieved", "Reports not retrieved (other)",
     "other_notretrieved_reports.html", "0"),
    ("dbr_assessed", "node13", "box8", f"Reports assessed for eligibility {_DBR}",
     "Reports assessed for eligibility", f"Reports assessed for eligibility {_DBR}",
     "dbr_assessed.html", "0"),
    ("dbr_excluded", "node14", "box9", f"Reports excluded {_DBR}: {_EXCL_NOTE}",
     "Reports excluded", f"Reports excluded {_DBR}", "dbrexcludedrecords.html",
     _REASONS_PLACEHOLDER),
    ("other_assessed", "node20", "box14", "Reports assessed for eligibility (other)",
     "Reports assessed for eligibility", "Reports assessed for eligibility (other)",
     "other_assessed.html", "0"),
    ("other_excluded", "node21", "box15", f"Reports excluded (other): {_EXCL_NOTE}",
     "Reports excluded", "Reports excluded (other)", "other_excluded.html",
     _REASONS_PLACEHOLDER),
    ("new_studies", "node15", "box10", "New studies included in review",
     "New studies included in review", "New studies included in review",
     "new_studies.html", "0"),
    ("new_reports", "NA", "box10", "Reports of new included studies",
     "Reports of new included studies", "NA", "NA", "0"),
    ("total_studies", "node22", "box16", "Total studies included in review",
     "Total studies included in review", "Total studies included in review",
     "total_studies.html", "0"),
    ("total_reports", "NA", "box16", "Reports of total included studies",
     "Reports of total included studies", "NA", "NA", "0"),
    ("identification", "node1", "identification", "Blue identification box", "Identification",
     "Blue identification box", "identification.html", "0"),
    ("screening", "node2", "screening", "Blue screening box", "Screening",
     "Blue screening box", "screening.html", "0"),
    ("included", "node3", "included", "Blue included box", "Included", "Blue included box",
     "included.html", "0"),
)  # fmt: skip

_LIST_KEYS = (
    "database_specific_results",
    "register_specific_results",
    "dbr_excluded",
    "other_excluded",
)
# Rows every version of the template has; the others default to 0 as in the package.
_REQUIRED = (
    "database_results",
    "records_screened",
    "records_excluded",
    "dbr_sought_reports",
    "dbr_notretrieved_reports",
    "dbr_assessed",
    "new_studies",
    "new_reports",
)
_TOTAL_KEYS = {"total_studies": ("previous_studies", "new_studies"),
               "total_reports": ("previous_reports", "new_reports")}
#: The kinds of the "other methods" column, as ``review.toml`` names them, and their fields.
OTHER_METHODS = {"websites": "website_results", "organisations": "organisation_results",
                 "citation searching": "citations_results"}
# Full-text exclusion reasons that say the report was not retrieved (after normalising).
_NOT_RETRIEVED = frozenset({"no full text", "full text not available", "full text not retrieved",
                            "not retrieved", "no full text available"})
_TITLE_BOXES = ("prevstud", "newstud", "othstud")
_NA = ("", "NA")


@dataclass(frozen=True)
class NamedCount:
    """A count with its label: records from one database, or reports excluded for one reason.

    ``label`` is empty for a bare total given without reasons.
    """

    label: str
    n: int


@dataclass(frozen=True, kw_only=True)
class PrismaCounts:
    """The numbers of a PRISMA 2020 flow diagram for a new or an updated systematic review.

    Field names are the ``data`` keys of the PRISMA2020 package's CSV template. The
    ``*_specific_results`` fields optionally break ``database_results`` and
    ``register_results`` down by source; ``dbr_excluded`` and ``other_excluded`` give
    each exclusion reason with its count. The ``website``/``organisation``/``citations``
    and ``other_*`` fields are the column "Identification of new studies via other
    methods", drawn only when one of them is non-zero. ``labels`` holds box texts that
    differ from the template's ``boxtext`` (a translated template), keyed by ``data``
    key or, for the title boxes, by ``box`` name. ``previous_studies`` and
    ``previous_reports`` are those of the previous version of an updated review (0 for a
    new review); the totals are derived (:attr:`total_studies`, :attr:`total_reports`).

    Construction checks only that every count is a non-negative integer; call
    :meth:`check` for the PRISMA identities.
    """

    database_results: int
    register_results: int = 0
    database_specific_results: tuple[NamedCount, ...] = ()
    register_specific_results: tuple[NamedCount, ...] = ()
    website_results: int = 0
    organisation_results: int = 0
    citations_results: int = 0
    duplicates: int = 0
    excluded_automatic: int = 0
    excluded_other: int = 0
    records_screened: int
    records_excluded: int
    dbr_sought_reports: int
    dbr_notretrieved_reports: int
    dbr_assessed: int
    dbr_excluded: tuple[NamedCount, ...] = ()
    other_sought_reports: int = 0
    other_notretrieved_reports: int = 0
    other_assessed: int = 0
    other_excluded: tuple[NamedCount, ...] = ()
    new_studies: int
    new_reports: int
    previous_studies: int = 0
    previous_reports: int = 0
    labels: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "labels":
                continue
            items = value if f.name in _LIST_KEYS else (NamedCount(f.name, value),)
            for item in items:
                if not isinstance(item, NamedCount):
                    raise InputError(f"{f.name} holds {item!r}, not a NamedCount")
                if isinstance(item.n, bool) or not isinstance(item.n, int) or item.n < 0:
                    what = f"{f.name} ({item.label})" if f.name in _LIST_KEYS else f.name
                    raise InputError(
                        f"{what} is {item.n!r}, not a count",
                        hint="counts are whole numbers, 0 or more",
                    )

    # -- derived numbers ---------------------------------------------------------------

    @property
    def identified(self) -> int:
        """Records identified from databases and registers."""
        return self.database_results + self.register_results

    @property
    def removed_before_screening(self) -> int:
        return self.duplicates + self.excluded_automatic + self.excluded_other

    @property
    def dbr_excluded_total(self) -> int:
        return sum(item.n for item in self.dbr_excluded)

    @property
    def other_excluded_total(self) -> int:
        return sum(item.n for item in self.other_excluded)

    @property
    def other_identified(self) -> int:
        """Records identified from websites, organisations and citation searching."""
        return self.website_results + self.organisation_results + self.citations_results

    @property
    def has_other_methods(self) -> bool:
        """Whether the "other methods" column holds any number."""
        return any(
            (
                self.other_identified,
                self.other_sought_reports,
                self.other_notretrieved_reports,
                self.other_assessed,
                self.other_excluded,
            )
        )

    @property
    def is_update(self) -> bool:
        """Whether this is an updated review (studies or reports of a previous version)."""
        return bool(self.previous_studies or self.previous_reports)

    @property
    def total_studies(self) -> int:
        """Studies included in the review: previous version plus new."""
        return self.previous_studies + self.new_studies

    @property
    def total_reports(self) -> int:
        """Reports of the studies included: previous version plus new."""
        return self.previous_reports + self.new_reports

    def label(self, key: str) -> str:
        """The box text for a ``data`` key (or title ``box`` name): the override if any,
        else the template's ``boxtext``."""
        for name, text in self.labels:
            if name == key:
                return text
        return _DEFAULT_LABELS[key]

    def summary(self) -> str:
        """One line of the flow, e.g. for a command's output or a methods paragraph."""
        other = (
            f", {self.other_identified:,} from other methods" if self.has_other_methods else ""
        )
        return (
            f"{self.identified:,} records identified{other}; "
            f"{self.removed_before_screening:,} removed before screening; "
            f"{self.records_screened:,} screened; {self.dbr_sought_reports:,} reports sought; "
            f"{self.dbr_notretrieved_reports:,} not retrieved; "
            f"{self.dbr_assessed:,} assessed; {self.new_studies:,} "
            f"{'new ' if self.is_update else ''}studies ({self.new_reports:,} reports) included"
            + (f"; {self.previous_studies:,} studies ({self.previous_reports:,} reports) from "
               f"the previous version; {self.total_studies:,} studies "
               f"({self.total_reports:,} reports) in total" if self.is_update else "")
        )

    # -- identities --------------------------------------------------------------------

    def check(self, location: str | None = None) -> PrismaCounts:
        """Verify the PRISMA 2020 identities; return ``self`` so calls can chain.

        identified − duplicates − automation − other removals = screened;
        screened − excluded = sought; sought − not retrieved = assessed (both columns);
        (assessed − Σ excluded reasons), summed over both columns = reports included;
        studies included ≤ reports included; per-source breakdowns sum to their totals.

        Raises
        ------
        InputError
            naming the two numbers that disagree.
        """

        def agree(left: tuple[str, int], right: tuple[str, int]) -> None:
            if left[1] != right[1]:
                raise InputError(
                    f"{left[0]} = {left[1]:,}, but {right[0]} = {right[1]:,}",
                    location,
                    "the PRISMA 2020 flow counts must add up; correct one of the two",
                )

        if not any(getattr(self, f.name) for f in fields(self) if f.name != "labels"):
            raise InputError(
                "every count is 0", location, "fill in the counts of the review's flow"
            )
        for kind, total, parts in (
            ("database", self.database_results, self.database_specific_results),
            ("register", self.register_results, self.register_specific_results),
        ):
            if parts:
                agree(
                    (f"{kind}_results", total),
                    (f"the sum of {kind}_specific_results", sum(p.n for p in parts)),
                )
        agree(
            (
                "records identified − duplicates − automation − removed for other reasons "
                f"({self.identified:,} − {self.duplicates:,} − {self.excluded_automatic:,}"
                f" − {self.excluded_other:,})",
                self.identified - self.removed_before_screening,
            ),
            ("records screened", self.records_screened),
        )
        agree(
            (
                f"records screened − records excluded ({self.records_screened:,} − "
                f"{self.records_excluded:,})",
                self.records_screened - self.records_excluded,
            ),
            ("reports sought for retrieval", self.dbr_sought_reports),
        )
        agree(
            (
                f"reports sought − reports not retrieved ({self.dbr_sought_reports:,} − "
                f"{self.dbr_notretrieved_reports:,})",
                self.dbr_sought_reports - self.dbr_notretrieved_reports,
            ),
            ("reports assessed for eligibility", self.dbr_assessed),
        )
        agree(
            (
                "other methods: reports sought − reports not retrieved "
                f"({self.other_sought_reports:,} − {self.other_notretrieved_reports:,})",
                self.other_sought_reports - self.other_notretrieved_reports,
            ),
            ("other methods: reports assessed", self.other_assessed),
        )
        dbr_in = self.dbr_assessed - self.dbr_excluded_total
        other_in = self.other_assessed - self.other_excluded_total
        if self.has_other_methods:
            left = (
                "reports assessed − reports excluded, both columns "
                f"({self.dbr_assessed:,} − {self.dbr_excluded_total:,} + "
                f"{self.other_assessed:,} − {self.other_excluded_total:,})",
                dbr_in + other_in,
            )
        else:
            left = (
                f"reports assessed − reports excluded ({self.dbr_assessed:,} − "
                f"{self.dbr_excluded_total:,})",
                dbr_in,
            )
        agree(left, ("reports of included studies", self.new_reports))
        if self.new_studies > self.new_reports:
            raise InputError(
                f"studies included = {self.new_studies:,} exceeds reports of included "
                f"studies = {self.new_reports:,}",
                location,
                "each included study has at least one report; correct one of the two",
            )
        if self.previous_studies > self.previous_reports:
            raise InputError(
                f"previous_studies = {self.previous_studies:,} exceeds previous_reports = "
                f"{self.previous_reports:,}",
                location,
                "each study of the previous version has at least one report; correct one",
            )
        return self

    # -- construction from the pipeline ------------------------------------------------

    @classmethod
    def from_pipeline(
        cls,
        *,
        identified: Mapping[str, int],
        duplicates: int,
        screening: Iterable[str | None],
        full_text: Iterable[ReportOutcome],
        registers: Mapping[str, int] | None = None,
        excluded_automatic: int = 0,
        excluded_other: int = 0,
        other_methods: Mapping[str, int] | None = None,
        other_full_text: Iterable[ReportOutcome] = (),
        previous_studies: int = 0,
        previous_reports: int = 0,
        studies: int | None = None,
    ) -> PrismaCounts:
        """Counts from the review's own steps, checked.

        Parameters
        ----------
        identified
            records found per database, in the order to list them, e.g.
            ``{"PubMed": 120, "Embase": 80}``.
        duplicates
            records from databases and registers removed as duplicates by dedupe.
        screening
            the title/abstract decision of each unique record from databases and
            registers left after dedupe and the other removals: ``include`` and ``maybe``
            go on to full text, ``exclude`` is excluded; an empty decision is an error.
        full_text
            the outcome of each report sought for retrieval: a :class:`FullText`, or any
            object with ``retrieved``, ``decision``, ``reason`` and ``reason_cell`` (the
            full-text screening workbook's rows as read back). A report excluded for a
            reason that says it was not retrieved ("no full text") counts as not
            retrieved; reasons that differ only in case or spacing are counted as one,
            with a :class:`~metareview.errors.ReviewWarning` naming their cells.
        registers
            records found per trial register.
        excluded_automatic, excluded_other
            records removed before screening by automation tools / other reasons.
        other_methods
            records identified by other methods, by kind (keys of :data:`OTHER_METHODS`:
            ``websites``, ``organisations``, ``citation searching``).
        other_full_text
            the outcome of each report sought from the other methods, as ``full_text``.
        previous_studies, previous_reports
            studies and reports included in the previous version of an updated review.
        studies
            new studies included when several reports describe one study; default: one
            study per included report.
        """
        decisions = Counter((d or "").strip().lower() for d in screening)
        unknown = sorted(set(decisions) - {"include", "maybe", "exclude"})
        if unknown:
            undecided = decisions.get("", 0)
            raise InputError(
                f"{undecided} record(s) without a screening decision"
                if unknown == [""]
                else f"unknown screening decision(s): {', '.join(repr(u) for u in unknown)}",
                hint="every record needs include, maybe or exclude",
            )
        reports = list(full_text)
        sought = decisions["include"] + decisions["maybe"]
        if len(reports) != sought:
            raise InputError(
                f"reports with a full-text outcome = {len(reports):,}, but records "
                f"included at title/abstract = {sought:,}",
                hint="bring the full-text workbook up to date with the screening workbook",
            )
        other_reports = list(other_full_text)
        labels = _merge_reasons([*reports, *other_reports])
        main, other = _outcomes(reports, labels), _outcomes(other_reports, labels)
        kinds = dict(other_methods or {})
        unknown_kinds = sorted(set(kinds) - set(OTHER_METHODS))
        if unknown_kinds:
            raise InputError(
                f"unknown other method(s): {', '.join(map(repr, unknown_kinds))}",
                hint=f"choose from: {', '.join(OTHER_METHODS)}",
            )
        registers = dict(registers or {})
        included = main.included + other.included
        return cls(
            database_results=sum(identified.values()),
            database_specific_results=tuple(NamedCount(k, v) for k, v in identified.items()),
            register_results=sum(registers.values()),
            register_specific_results=tuple(NamedCount(k, v) for k, v in registers.items()),
            website_results=kinds.get("websites", 0),
            organisation_results=kinds.get("organisations", 0),
            citations_results=kinds.get("citation searching", 0),
            duplicates=duplicates,
            excluded_automatic=excluded_automatic,
            excluded_other=excluded_other,
            records_screened=sum(decisions.values()),
            records_excluded=decisions["exclude"],
            dbr_sought_reports=sought,
            dbr_notretrieved_reports=main.not_retrieved,
            dbr_assessed=sought - main.not_retrieved,
            dbr_excluded=main.reasons,
            other_sought_reports=len(other_reports),
            other_notretrieved_reports=other.not_retrieved,
            other_assessed=len(other_reports) - other.not_retrieved,
            other_excluded=other.reasons,
            new_studies=included if studies is None else studies,
            new_reports=included,
            previous_studies=previous_studies,
            previous_reports=previous_reports,
        ).check()

    def to_dict(self) -> dict[str, Any]:
        """Plain values: counts as ints, breakdowns as ``{label: n}``."""
        out = asdict(self)
        for key in _LIST_KEYS:
            out[key] = {item.label: item.n for item in getattr(self, key)}
        out["labels"] = dict(self.labels)
        return out


class ReportOutcome(Protocol):
    """What :meth:`PrismaCounts.from_pipeline` reads of a full-text screening row."""

    @property
    def retrieved(self) -> bool | None: ...

    @property
    def decision(self) -> str | None: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def reason_cell(self) -> str | None: ...


@dataclass(frozen=True)
class FullText:
    """The full-text outcome of one report sought for retrieval.

    ``decision`` is ``include`` or ``exclude`` (with a ``reason``); it is not read when
    the report was not retrieved. ``reason_cell`` locates the reason in messages.
    """

    retrieved: bool
    decision: str | None = None
    reason: str | None = None
    reason_cell: str | None = None


def reason_key(reason: str) -> str:
    """An exclusion reason with case and spacing normalised: the reasons that differ only
    in them are one reason."""
    return " ".join(reason.casefold().split())


def not_retrieved_reason(reason: str | None) -> bool:
    """Whether a full-text exclusion reason says the report was not retrieved
    ("no full text", "full text not available", ...): PRISMA 2020 counts such reports
    under "reports not retrieved", not among the reports excluded."""
    return bool(reason) and reason_key(str(reason).replace("-", " ")) in _NOT_RETRIEVED


@dataclass(frozen=True)
class _Outcomes:
    not_retrieved: int
    included: int
    reasons: tuple[NamedCount, ...]


def _outcomes(reports: Sequence[ReportOutcome], labels: Mapping[str, str]) -> _Outcomes:
    """Count one column's full-text outcomes: not retrieved (also when excluded for "no
    full text"), included, and excluded by reason, under ``labels`` (reason key -> label,
    from :func:`_merge_reasons`)."""
    not_retrieved = included = 0
    excluded: list[ReportOutcome] = []
    for report in reports:
        decision = (report.decision or "").strip().lower()
        reason = (report.reason or "").strip()
        if decision == "exclude" and not_retrieved_reason(reason):
            not_retrieved += 1
        elif report.retrieved is None:
            raise InputError(
                f"a report sought without a retrieved yes/no (decision {report.decision!r})",
                report.reason_cell,
                "record for every report sought whether its full text was retrieved",
            )
        elif not report.retrieved:
            not_retrieved += 1
        elif decision == "include":
            included += 1
        elif decision == "exclude" and reason:
            excluded.append(report)
        else:
            raise InputError(
                f"a retrieved report has decision {report.decision!r} and reason "
                f"{report.reason!r}",
                report.reason_cell,
                "decide include, or exclude with a reason, for every retrieved report",
            )
    counts = Counter(labels[reason_key(str(r.reason))] for r in excluded)
    return _Outcomes(not_retrieved, included,
                     tuple(NamedCount(k, v) for k, v in sorted(counts.items())))


def _merge_reasons(reports: Sequence[ReportOutcome]) -> dict[str, str]:
    """The label of each reason key: of the spellings that differ only in case or spacing,
    the most frequent (the first met on a tie), with single spaces. A
    :class:`~metareview.errors.ReviewWarning` names each group of spellings merged, with
    their cells."""
    spellings: dict[str, dict[str, list[str]]] = {}  # key -> spelling -> cells
    for report in reports:
        reason = (report.reason or "").strip()
        if reason and not not_retrieved_reason(reason):
            cells = spellings.setdefault(reason_key(reason), {}).setdefault(reason, [])
            cells.append(report.reason_cell or "")
    labels = {}
    for key, found in spellings.items():
        # the most frequent spelling (the first on a tie), its spaces tidied
        labels[key] = " ".join(max(found, key=lambda spelling: len(found[spelling])).split())
        if len(found) > 1:
            named = "; ".join(f"{spelling!r} in {', '.join(c for c in cells if c) or 'a row'}"
                              for spelling, cells in found.items())
            warnings.warn(
                "exclusion reasons that differ only in case or spacing are counted as one, "
                f"{labels[key]!r}: {named}",
                ReviewWarning,
                stacklevel=3,
            )
    return labels


_DEFAULT_LABELS = {row[0] if row[0] != "NA" else row[2]: row[4] for row in TEMPLATE}


# -- the PRISMA2020 CSV ----------------------------------------------------------------


def _format_list(key: str, items: tuple[NamedCount, ...]) -> str:
    for item in items:
        if ";" in item.label or "," in item.label:
            raise InputError(
                f"{key} label {item.label!r} holds a comma or semicolon",
                hint="the PRISMA2020 CSV separates labels and counts with them; reword it",
            )
    if len(items) == 1 and not items[0].label:
        return str(items[0].n)
    return "; ".join(f"{item.label}, {item.n}" for item in items)


def to_csv(counts: PrismaCounts) -> str:
    """The counts as the PRISMA2020 package's CSV template, filled in."""
    values = counts.to_dict()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in TEMPLATE:
        key = row[0] if row[0] != "NA" else row[2]
        cells = list(row)
        cells[4] = counts.label(key)
        if key in _TOTAL_KEYS:  # the package's template leaves them 0 for a new review
            cells[7] = str(getattr(counts, key)) if counts.is_update else "0"
        elif key in _LIST_KEYS:
            items = getattr(counts, key)
            # "0", not blank: the package draws "(n = 0)" for a reasons box given so
            empty = "0" if key.endswith("_excluded") else ""
            cells[7] = _format_list(key, items) if items else empty
        elif key in values:
            cells[7] = str(values[key])
        writer.writerow([escape_formula(cell) for cell in cells])
    return out.getvalue()


def write_csv(
    counts: PrismaCounts,
    path: str | Path,
    *,
    force: bool = False,
    inputs: Iterable[str | Path] = (),
) -> Path:
    """Write the checked counts as the PRISMA2020 CSV, atomically, to ``path``."""
    text = to_csv(counts.check())
    with atomic_path(path, inputs=inputs, force=force) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def template_csv() -> str:
    """The blank template (zeros and placeholders), for reviews counted by hand."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(TEMPLATE)
    return out.getvalue()


def write_template(path: str | Path, *, force: bool = False) -> Path:
    """Write the blank template atomically to ``path``."""
    with atomic_path(path, force=force) as tmp:
        tmp.write_text(template_csv(), encoding="utf-8")
    return Path(path)


_NUMBER = re.compile(r"\d{1,3}(,\d{3})+|\d+")
_ITEM = re.compile(r"(?P<label>.*?),\s*(?P<n>\d[\d,]*)")


def _parse_count(text: str, where: str, key: str) -> int:
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise InputError(
            f"{key} is {text!r}, not a count", where, "write a whole number such as 42 or 1,234"
        )
    return int(text.replace(",", ""))


def _parse_list(text: str, where: str, key: str) -> tuple[NamedCount, ...]:
    text = text.strip()
    if text in _NA or "xxx" in text:  # blank, or the template's placeholder left in
        return ()
    if _NUMBER.fullmatch(text):
        return (NamedCount("", int(text.replace(",", ""))),) if text != "0" else ()
    items = []
    for part in text.split(";"):
        if not part.strip():
            continue
        # the count is what follows the first comma after which only digits (and
        # thousands separators) remain: "Wrong design, e.g. cohort, 1,234"
        match = _ITEM.fullmatch(part.strip())
        if not match or not match["label"].strip():
            raise InputError(
                f"{key} item {part.strip()!r} is not 'label, n'",
                where,
                "separate items with ';' and each label from its count with ',', "
                "e.g. 'Wrong population, 12; Wrong outcome, 3'",
            )
        items.append(NamedCount(match["label"].strip(), _parse_count(match["n"], where, key)))
    return tuple(items)


_TEMPLATE_HINT = "start from the PRISMA2020 template: review prisma --template -o counts.csv"


def read_csv(source: str | Path, text: str | None = None) -> PrismaCounts:
    """Read counts from a PRISMA2020 CSV (the package's template, filled in; separated by
    commas, semicolons or tabs).

    ``text`` is the CSV content when it does not come from the file ``source``
    (stdin); ``source`` then only names it in errors. Missing optional rows count 0,
    as in the package. The counts are not checked: call :meth:`PrismaCounts.check`.
    """
    name = str(source)
    if text is None:
        try:
            raw = Path(source).read_bytes()
            text = raw.decode(text_codec(raw[:4]))
        except UnicodeDecodeError as exc:
            raise InputError("not UTF-8 text", name, "save the CSV as UTF-8") from exc
        except OSError as exc:
            raise MissingInputError(
                f"cannot read the file ({exc.strerror})", name, "check the path"
            ) from exc
    text = text.removeprefix("\ufeff")
    try:  # spreadsheets in many locales save CSV with semicolons
        dialect: Any = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [[unescape_formula(cell) for cell in row]
            for row in csv.reader(io.StringIO(text), delimiter=dialect.delimiter)]
    header = [cell.strip() for cell in rows[0]] if rows else []
    missing = [c for c in ("data", "box", "boxtext", "n") if c not in header]
    if missing:
        raise InputError(
            f"no column(s) {', '.join(missing)} in the header",
            f"{name}:1",
            _TEMPLATE_HINT,
        )
    col = {c: header.index(c) for c in header}
    template = {(r[0] if r[0] != "NA" else r[2]): r for r in TEMPLATE}
    values: dict[str, Any] = {}
    labels: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{name}:{lineno}"
        row = row + [""] * (len(header) - len(row))
        data, box = row[col["data"]].strip(), row[col["box"]].strip()
        key = data if data not in _NA else box
        if key in seen:
            raise InputError(f"{key} is given twice (line {seen[key]} and here)", where)
        seen[key] = lineno
        if key not in template:
            warnings.warn(
                f"{where}: row {key!r} is not in the PRISMA 2020 template "
                "and is not used",
                ReviewWarning,
                stacklevel=2,
            )
            continue
        boxtext = row[col["boxtext"]].strip()
        if boxtext not in _NA and boxtext != template[key][4]:
            labels.append((key, boxtext))
        if key in _TITLE_BOXES or key in ("identification", "screening", "included"):
            continue
        cell = row[col["n"]].strip()
        if key in _LIST_KEYS:
            values[key] = _parse_list(cell, where, key)
        elif cell in _NA:
            if key in _REQUIRED:
                raise InputError(f"{key} has no count", where, "fill in its n column")
        else:
            values[key] = _parse_count(cell, where, key)
    absent = [key for key in _REQUIRED if key not in seen]
    if absent:
        raise InputError(
            f"no row for {', '.join(absent)}",
            name,
            _TEMPLATE_HINT,
        )
    for key, parts in _TOTAL_KEYS.items():
        total, expected = values.pop(key, 0), sum(values.get(p, 0) for p in parts)
        if total and total != expected:
            raise InputError(
                f"{key} ({total:,}) differs from {parts[0]} + {parts[1]} ({expected:,})",
                f"{name}:{seen[key]}",
                "the total is the previous version's plus the new; correct it, or set it to 0",
            )
    return PrismaCounts(**values, labels=tuple(labels))
