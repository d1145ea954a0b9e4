"""Embase CSV export (embase.com): a ``"SEARCH QUERY"`` line and a row of dashes may
come before the header; ``Author Names`` are ``Last I.`` separated by commas; Emtree
terms are comma-separated with their own commas in parentheses. When the user left
out the DOI, year and journal columns, ``Source`` (``Journal (2014) 3:3 (152-160).
Date of Publication: 2014``) and the OpenURL link still give them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from ._table import (
    Column,
    Table,
    day_month_year,
    digits,
    initials_name,
    pages_of,
    table_format,
    tie_addresses,
)

_COMMA = r",\s*(?![^()]*\))"  # not inside "(diagnosis, surgery)"
_SOURCE = re.compile(
    r"(?P<journal>.+?) \((?P<year>\d{4})\)"
    r"(?: (?P<volume>[^:\s(]+)(?::(?P<issue>[^\s(]+))?)?"
    r"(?: \((?P<pages>[^)]*)\))?"
    r"(?: Article Number: (?P<elocation>[^.\s]+))?"
    r"\.?(?: Date of Publication: (?P<date>.+))?"
)


def source(value: str) -> dict[str, Any] | None:
    """The journal, year, volume, issue, pages and date in Embase's ``Source`` text."""
    found = _SOURCE.fullmatch(value)
    if found is None:
        return None
    parts: dict[str, Any] = found.groupdict()
    parts["pages"] = pages_of(parts["pages"]) if parts["pages"] else None
    parts["date"] = day_month_year(parts["date"]) if parts["date"] else None
    return parts


def openurl_doi(value: str) -> str | None:
    """The DOI in an OpenURL link's ``id=doi:…`` parameter."""
    found = re.search(r"[?&]id=doi:([^&]+)", value)
    return unquote(found.group(1)) if found else None


def first_issn(value: str) -> str | None:
    """``2041-1723 (electronic)`` → ``2041-1723`` (the whole cell stays in ``extra``)."""
    found = re.search(r"\b\d{4}-?\d{3}[\dXx]\b", value)
    return found.group(0) if found else None


def _affiliations(values: dict[str, list[Any]], row: Mapping[str, str]) -> None:
    """``(Yang Z., zyang@ucc.ie; McNamara M.E.) School of …`` names whose address it is."""
    addresses = []
    for text in values.get("affiliations", []):
        found = re.fullmatch(r"\(([^()]*)\)\s*(.+)", text)
        names = [n.partition(",")[0] for n in found.group(1).split(";")] if found else []
        addresses.append((names, found.group(2) if found else text))
    values["affiliations"] = []
    tie_addresses(values, addresses)


TABLE = Table(
    name="embase-csv",
    description="Embase CSV export",
    database="Embase",
    finish=_affiliations,
    signatures=(
        frozenset({"author names", "embase accession id"}),
        frozenset({"author names", "emtree medical index terms"}),
        frozenset({"author names", "emtree drug index terms"}),
        frozenset({"author names", "author addresses"}),
        frozenset({"author names", "embase link"}),
    ),
    columns={
        "Title": Column("title"),
        "Author Names": Column("authors", r",\s+", initials_name),
        "Author Addresses": Column("affiliations", r"\s+,\s+(?=\()", keep=True),
        "Source title": Column("journal"),
        "Publication Year": Column("year"),
        "Volume": Column("volume"),
        "Issue": Column("issue"),
        "First Page": Column("first_page"),
        "Last Page": Column("last_page"),
        "Date of Publication": Column("date", read=day_month_year),
        "Source": Column("citation", read=source, keep=True),
        "Publication Type": Column("publication_types"),
        "ISSN": Column("issn", read=first_issn, keep=True),
        "Book Publisher": Column("publisher"),
        "Abstract": Column("abstract"),
        "Author Keywords": Column("keywords", _COMMA),
        "Emtree Drug Index Terms": Column("keywords", _COMMA),
        "Emtree Medical Index Terms": Column("keywords", _COMMA),
        "keywords": Column("keywords", _COMMA),
        "Article Language": Column("languages", _COMMA),
        "Embase Accession ID": Column("publisher_id"),
        "Medline PMID": Column("pmid", read=digits),
        "DOI": Column("doi"),
        "Open URL Link": Column("doi", read=openurl_doi, keep=True),
        "Full Text Link": Column("url"),
        "Embase Link": Column("url"),
    },
)

FORMAT = table_format(TABLE)
