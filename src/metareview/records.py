"""The record model: one frozen :class:`Article` per bibliographic record, whatever its source.

Every reader in :mod:`metareview.formats` yields these. Missing values are ``None``
or an empty tuple, never invented. Texts keep their language (``lang``) as the
source gives it (``en``, ``en_US``, ``eng``, ``fa_IR`` …) so no locale is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Text:
    """A text in one language; ``lang`` is ``None`` when the source does not say."""

    text: str
    lang: str | None = None


@dataclass(frozen=True)
class Section:
    """One section of a (possibly structured) abstract: ``label`` as printed, ``category``
    the normalised kind where the source gives one (MEDLINE ``NlmCategory``)."""

    text: str
    label: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class Abstract:
    """An abstract in one language, as one or more sections (paragraphs)."""

    sections: tuple[Section, ...]
    lang: str | None = None
    kind: str | None = None  # e.g. JATS abstract-type "summary" / eLife digest

    @property
    def text(self) -> str:
        """The abstract as one string: ``LABEL: text`` sections separated by blank lines."""
        return "\n\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in self.sections)


@dataclass(frozen=True)
class PubDate:
    """A (possibly partial) date as given: month and day are ``None`` when absent.

    ``raw`` keeps free-text dates such as MEDLINE's ``MedlineDate`` ("1998 Dec-1999 Jan")
    and season names; ``year`` is then the first four-digit year found in it.
    """

    year: int | None = None
    month: int | None = None
    day: int | None = None
    raw: str | None = None

    def iso(self) -> str | None:
        """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` as far as known; ``None`` without a year."""
        year, month, day = self.year, self.month, self.day
        if year is None:
            return None
        if month is None:
            return f"{year:04d}"
        if day is None:
            return f"{year:04d}-{month:02d}"
        return f"{year:04d}-{month:02d}-{day:02d}"


@dataclass(frozen=True)
class Author:
    """One author (a person, or a group in ``collective``), in byline order."""

    last: str | None = None
    first: str | None = None
    initials: str | None = None
    suffix: str | None = None
    collective: str | None = None
    orcid: str | None = None
    affiliations: tuple[str, ...] = ()

    @property
    def display(self) -> str:
        """``Last FM`` (Vancouver style), or the group name."""
        if self.collective:
            return self.collective
        last, initials = self.last, self.initials or _initials(self.first)
        if last and initials:
            return f"{last} {initials}"
        return last or initials or ""

    def to_dict(self) -> dict[str, Any]:
        """The author as a JSON object, names as in CSL-JSON (``family``, ``given``,
        ``suffix``); given names as the source writes them, ``initials`` as given or else
        taken from the given names (as :attr:`display` does). Every key is always present."""
        return {
            "family": self.last,
            "given": self.first,
            "initials": self.initials or _initials(self.first),
            "suffix": self.suffix,
            "collective": self.collective,
            "orcid": self.orcid,
            "affiliations": list(self.affiliations),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Author:
        """The author of a :meth:`to_dict` object (keys may be missing); a ``ValueError``
        for a value of the wrong kind."""

        def text(key: str) -> str | None:
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{key} is {value!r}, not text")
            return value.strip() or None if value else None

        affiliations = data.get("affiliations") or []
        if not isinstance(affiliations, list) or not all(
                isinstance(a, str) for a in affiliations):
            raise ValueError(f"affiliations is {affiliations!r}, not a list of texts")
        return cls(last=text("family"), first=text("given"), initials=text("initials"),
                   suffix=text("suffix"), collective=text("collective"), orcid=text("orcid"),
                   affiliations=tuple(a.strip() for a in affiliations if a.strip()))


@dataclass(frozen=True)
class Journal:
    title: str | None = None
    iso_abbrev: str | None = None
    issn_print: str | None = None
    issn_electronic: str | None = None
    issn: str | None = None  # an ISSN whose medium the source does not give
    publisher: str | None = None


@dataclass(frozen=True)
class Article:
    """One bibliographic record.

    ``source_format``, ``source_file`` and ``record_index`` (0-based within the file)
    say where it came from; ``source_database`` names the database that exported it
    (``PubMed``, ``Scopus``, ``Web of Science`` …) when the file tells, else ``None``.
    ``titles`` and ``abstracts`` keep every language given;
    :attr:`title` and :attr:`abstract` pick the primary one (the first given).
    ``extra`` keeps source fields that have no place in the model, as (tag, value) pairs.
    ``affiliations`` holds affiliations the source gives for the record, not tied to an
    author (RIS ``AD``, BibTeX ``affiliation``); an author's own are on the author.
    """

    source_format: str
    source_file: str
    record_index: int
    source_database: str | None = None
    pmid: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    publisher_id: str | None = None
    url: str | None = None
    titles: tuple[Text, ...] = ()
    vernacular_title: str | None = None
    abstracts: tuple[Abstract, ...] = ()
    journal: Journal = field(default_factory=Journal)
    volume: str | None = None
    issue: str | None = None
    first_page: str | None = None
    last_page: str | None = None
    pages: str | None = None  # as printed, e.g. MEDLINE "573-8"
    elocation: str | None = None
    pub_date: PubDate = field(default_factory=PubDate)
    history: tuple[tuple[str, PubDate], ...] = ()
    publication_status: str | None = None
    authors: tuple[Author, ...] = ()
    affiliations: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    mesh_terms: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str | None:
        return self.titles[0].text if self.titles else self.vernacular_title

    @property
    def abstract(self) -> str | None:
        return self.abstracts[0].text if self.abstracts else None

    @property
    def year(self) -> int | None:
        return self.pub_date.year

    @property
    def page_range(self) -> str | None:
        """``first–last`` pages (``first-last`` in ASCII), else the printed pages or ELocation."""
        if self.first_page and self.last_page and self.first_page != self.last_page:
            return f"{self.first_page}-{self.last_page}"
        return self.first_page or self.pages or self.elocation

    @property
    def all_affiliations(self) -> tuple[str, ...]:
        """The authors' affiliations then the record's, each once, in order."""
        found = (*(aff for a in self.authors for aff in a.affiliations), *self.affiliations)
        return tuple(dict.fromkeys(found))

    def to_row(self, structured: bool = False) -> dict[str, Any]:
        """The flat form used for CSV/Excel/Parquet tables: one scalar per column.

        Lists are joined with ``"; "``; other-language titles/abstracts get their own
        ``title_<lang>`` / ``abstract_<lang>`` columns so nothing is lost. With
        ``structured`` (the JSON lines form) ``authors`` is a list of
        :meth:`Author.to_dict` objects instead of the ``"Last FM; …"`` text.
        """
        history = {f"date_{status}": date.iso() for status, date in self.history}
        names = [a.display for a in self.authors]
        journal = self.journal
        row: dict[str, Any] = {
            "source_format": self.source_format,
            "source_database": self.source_database,
            "source_file": self.source_file,
            "record_index": self.record_index,
            "pmid": self.pmid,
            "doi": self.doi,
            "pmcid": self.pmcid,
            "publisher_id": self.publisher_id,
            "url": self.url,
            "title": self.title,
            "vernacular_title": self.vernacular_title,
            "first_author": names[0] if names else None,
            "authors": [a.to_dict() for a in self.authors] if structured else _join(names),
            "affiliations": _join(self.all_affiliations),
            "orcids": _join(a.orcid for a in self.authors if a.orcid),
            "year": self.year,
            "pub_date": self.pub_date.iso(),
            "pub_date_raw": self.pub_date.raw,
            "journal": journal.title,
            "journal_abbrev": journal.iso_abbrev,
            "issn_print": journal.issn_print,
            "issn_electronic": journal.issn_electronic,
            "issn": journal.issn,
            "publisher": journal.publisher,
            "volume": self.volume,
            "issue": self.issue,
            "pages": self.page_range,
            "elocation": self.elocation,
            "publication_status": self.publication_status,
            "languages": _join(self.languages),
            "keywords": _join(self.keywords),
            "mesh_terms": _join(self.mesh_terms),
            "publication_types": _join(self.publication_types),
            "abstract": self.abstract,
            **history,
        }
        for text in self.titles[1:]:
            row[f"title_{text.lang or 'other'}"] = text.text
        for abstract in self.abstracts[1:]:
            row[f"abstract_{abstract.lang or abstract.kind or 'other'}"] = abstract.text
        for key, value in self.extra:
            column = f"extra_{key}"
            row[column] = f"{row[column]}; {value}" if column in row else value
        return row


@dataclass(frozen=True)
class Deletion:
    """A MEDLINE ``DeleteCitation`` entry: the PMID is withdrawn, not an article."""

    pmid: str
    source_file: str


def _join(values: Any) -> str | None:
    return "; ".join(filter(None, values)) or None


def _initials(first: str | None) -> str | None:
    if not first:
        return None
    return "".join(part[0] for part in first.replace("-", " ").split() if part[0].isalpha()) or None
