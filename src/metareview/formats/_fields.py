"""Building an :class:`Article` from values gathered by field name: shared by the readers
whose sources are flat names (table columns, JSON keys, EndNote XML elements), so that
each reader only declares which of its names fills which field."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..records import Abstract, Article, Journal, PubDate, Section, Text
from ._plaintext import pages, place_affiliations, strip_doi
from ._xmltext import make_date

#: Fields a source value may fill. ``keywords``, ``affiliations`` and ``publication_types``
#: add up over sources; any other field takes its first value.
FIELDS = frozenset(
    {
        "title", "other_titles", "abstract", "doi", "pmid", "pmcid", "publisher_id", "url",
        "journal", "journal_abbrev", "issn", "issn_print", "issn_electronic", "publisher",
        "volume", "issue", "first_page", "last_page", "pages", "elocation",
        "year", "date", "month_day", "publication_status", "citation",
        "authors", "affiliations", "languages", "keywords", "mesh_terms", "publication_types",
    }
)  # fmt: skip
ADDITIVE = frozenset(
    {"other_titles", "keywords", "mesh_terms", "affiliations", "publication_types"}
)


def build(
    format_name: str,
    database: str | None,
    values: Mapping[str, list[Any]],
    extra: tuple[tuple[str, str], ...],
    source: str,
    index: int,
) -> Article:
    """An :class:`Article` from the values gathered for each of :data:`FIELDS`."""
    citation: dict[str, str] = {}
    for parsed in values.get("citation", []):
        citation.update({k: v for k, v in parsed.items() if v})

    def one(field: str) -> Any:
        found = values.get(field)
        return found[0] if found else citation.get(field)

    first, last = one("first_page"), one("last_page")
    printed = one("pages")
    if printed and not first:
        first, last = pages(printed)
        printed = None if (first and f"{first}-{last}" == printed) else printed
    elif printed:
        extra = (*extra, ("pages", printed))
        printed = None
    authors, affiliations = place_affiliations(
        tuple(values.get("authors", ())), values.get("affiliations", ())
    )
    title, abstract = one("title"), one("abstract")
    return Article(
        source_format=format_name,
        source_database=database,
        source_file=source,
        record_index=index,
        pmid=one("pmid"),
        doi=strip_doi(one("doi")),
        pmcid=one("pmcid"),
        publisher_id=one("publisher_id"),
        url=one("url"),
        titles=tuple(Text(t) for t in (title, *values.get("other_titles", ())) if t),
        abstracts=(Abstract((Section(abstract),)),) if abstract else (),
        journal=Journal(
            title=one("journal"),
            iso_abbrev=one("journal_abbrev"),
            issn=one("issn"),
            issn_print=one("issn_print"),
            issn_electronic=one("issn_electronic"),
            publisher=one("publisher"),
        ),
        volume=one("volume"),
        issue=one("issue"),
        first_page=first,
        last_page=last,
        pages=printed,
        elocation=one("elocation"),
        pub_date=_date(one("date"), one("year"), one("month_day")),
        publication_status=one("publication_status"),
        authors=authors,
        affiliations=affiliations,
        languages=tuple(dict.fromkeys(values.get("languages", ()))),
        keywords=tuple(dict.fromkeys(values.get("keywords", ()))),
        mesh_terms=tuple(dict.fromkeys(values.get("mesh_terms", ()))),
        publication_types=tuple(dict.fromkeys(values.get("publication_types", ()))),
        extra=extra,
    )


def _date(date: PubDate | None, year: str | None, month_day: str | None) -> PubDate:
    """A full date when given and agreeing with the year column; else the year with a
    WoS-style ``PD`` (``NOV 22``, ``SPR``) when there is one."""
    by_year = make_date(year) if year else PubDate()
    if date is not None and date.year is not None and by_year.year in (None, date.year):
        return date
    if month_day and by_year.year is not None:
        parts = month_day.split()
        if len(parts) == 2 and parts[1].isdecimal():
            return make_date(year, parts[0], parts[1])
        return make_date(year, month_day)
    return by_year
