"""Cochrane Library CSV export (CENTRAL trials): ``CENTRAL ID``, ``Author(s)`` as
``Last, I`` separated by semicolons, PubMed IDs printed ``PUBMED 21314913``."""

from __future__ import annotations

from ._table import Column, Table, comma_person, digits, pages_of, table_format

_SEMI = r"\s*;\s*"

TABLE = Table(
    name="cochrane-csv",
    description="Cochrane Library (CENTRAL) CSV export",
    database="Cochrane CENTRAL",
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
