"""OpenAlex web-app CSV export: dotted column names (``authorships.author.display_name``),
several values in one cell separated by ``|``, DOIs as ``https://doi.org/`` links."""

from __future__ import annotations

from ._table import Column, Table, digits, display_name, iso_or_year, table_format

_BAR = r"\s*\|\s*"

TABLE = Table(
    name="openalex-csv",
    description="OpenAlex CSV export",
    database="OpenAlex",
    signatures=(
        frozenset({"id", "authorships.author.display_name"}),
        frozenset({"id", "display_name", "publication_year", "cited_by_count"}),
    ),
    columns={
        "display_name": Column("title"),
        "title": Column("title"),
        "authorships.author.display_name": Column("authors", _BAR, display_name),
        "authorships.raw_affiliation_strings": Column("affiliations", _BAR),
        "authorships.institutions.display_name": Column("affiliations", _BAR),
        "abstract": Column("abstract"),
        "doi": Column("doi"),
        "ids.pmid": Column("pmid", read=digits),
        "ids.pmcid": Column("pmcid"),
        "language": Column("languages"),
        "primary_location.source.display_name": Column("journal"),
        "primary_location.source.issn_l": Column("issn"),
        "primary_location.source.host_organization_name": Column("publisher"),
        "primary_location.landing_page_url": Column("url"),
        "publication_date": Column("date", read=iso_or_year),
        "publication_year": Column("year"),
        "biblio.volume": Column("volume"),
        "biblio.issue": Column("issue"),
        "biblio.first_page": Column("first_page"),
        "biblio.last_page": Column("last_page"),
        "keywords.display_name": Column("keywords", _BAR),
        "type": Column("publication_types"),
        "id": Column("publisher_id"),
    },
)

FORMAT = table_format(TABLE)
