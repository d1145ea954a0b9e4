"""Cochrane Library CSV export (CENTRAL trials): ``CENTRAL ID``, ``Author(s)`` as
``Last, I`` separated by semicolons, PubMed IDs printed ``PUBMED 21314913``."""

from __future__ import annotations

from collections.abc import Mapping

from ._table import Column, Table, comma_person, digits, pages_of, table_format

_SEMI = r"\s*;\s*"


def database(row: Mapping[str, str]) -> str | None:
    """``Database Name``: CENTRAL for trials, the CDSR for reviews."""
    name = row.get("database name", "").casefold()
    if "systematic reviews" in name:
        return "Cochrane Database of Systematic Reviews"
    return "Cochrane CENTRAL" if "central" in name else None

TABLE = Table(
    name="cochrane-csv",
    description="Cochrane Library (CENTRAL) CSV export",
    database="Cochrane CENTRAL",
    database_of=database,
    signatures=(frozenset({"central id"}), frozenset({"cochrane review group code"})),
    columns={
        "Title": Column("title"),
        "Author(s)": Column("authors", _SEMI, comma_person),
        "Source": Column("journal"),
        "Year": Column("year"),
        "Abstract": Column("abstract"),
        "Volume": Column("volume"),
        "Issue": Column("issue"),
        "Pages": Column("pages", read=pages_of),
        "PubMed ID": Column("pmid", read=digits),
        "Publication Type": Column("publication_types", _SEMI),
        "Keywords": Column("keywords", _SEMI),
        "DOI": Column("doi"),
        "URL": Column("url"),
        "CENTRAL ID": Column("publisher_id"),
    },
)

FORMAT = table_format(TABLE)
