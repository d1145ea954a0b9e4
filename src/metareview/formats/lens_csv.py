"""Lens.org scholarly works CSV export: ``Lens ID`` first, authors as ``First Last``
separated by semicolons, ISO publication dates."""

from __future__ import annotations

from ._table import Column, Table, digits, display_name, iso_or_year, table_format

_SEMI = r"\s*;\s*"

TABLE = Table(
    name="lens-csv",
    description="Lens.org scholarly works CSV export",
    database="Lens",
    signatures=(frozenset({"lens id"}),),
    columns={
        "Title": Column("title"),
        "Author/s": Column("authors", _SEMI, display_name),
        "Date Published": Column("date", read=iso_or_year),
        "Publication Year": Column("year"),
        "Publication Type": Column("publication_types"),
        "Source Title": Column("journal"),
        "ISSNs": Column("issn"),
        "Publisher": Column("publisher"),
        "Abstract": Column("abstract"),
        "Volume": Column("volume"),
        "Issue Number": Column("issue"),
        "Start Page": Column("first_page"),
        "End Page": Column("last_page"),
        "Keywords": Column("keywords", _SEMI),
        "MeSH Terms": Column("keywords", _SEMI),
        "External URL": Column("url"),
        "PMID": Column("pmid", read=digits),
        "PMCID": Column("pmcid"),
        "DOI": Column("doi"),
        "Lens ID": Column("publisher_id"),
    },
)

FORMAT = table_format(TABLE)
