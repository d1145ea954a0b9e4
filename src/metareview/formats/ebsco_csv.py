"""EBSCOhost CSV export (CINAHL, Academic Search, PsycInfo …): numbers and dates
wrapped as spreadsheet formulas (``="19326203"``), US dates (``4/3/2024``), authors
``Last, First`` separated by semicolons. The database is read from the record's
``PLink`` (``db=cin20`` is CINAHL)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._table import Column, Table, comma_person, table_format, us_date

_SEMI = r"\s*;\s*"

#: EBSCOhost database codes (the ``db=`` of a record link) → database name.
DATABASES = {
    "c8h": "CINAHL", "ccm": "CINAHL", "cin20": "CINAHL", "rzh": "CINAHL",
    "cin21": "CINAHL", "jlh": "CINAHL",
    "aph": "Academic Search Premier", "a9h": "Academic Search Complete",
    "asn": "Academic Search Ultimate", "psyh": "APA PsycInfo", "pdh": "APA PsycArticles",
    "eric": "ERIC", "cmedm": "MEDLINE", "mdc": "MEDLINE", "mnh": "MEDLINE",
    "ecn": "EconLit", "sih": "SocINDEX", "cja": "Criminal Justice Abstracts",
}  # fmt: skip


def database(row: Mapping[str, str]) -> str | None:
    """The database a record's link names (``row`` is keyed by :func:`column_key`)."""
    found = re.search(r"[?&]db=([A-Za-z0-9]+)", row.get("plink", ""))
    return DATABASES.get(found.group(1).lower()) if found else None


TABLE = Table(
    name="ebsco-csv",
    description="EBSCOhost CSV export (CINAHL, Academic Search, PsycInfo…)",
    database="EBSCOhost",
    database_of=database,
    signatures=(frozenset({"plink"}), frozenset({"article title", "accession number", "doctype"})),
    columns={
        "Article Title": Column("title"),
        "Author": Column("authors", _SEMI, comma_person),
        "Journal Title": Column("journal"),
        "ISSN": Column("issn"),
        "Publication Date": Column("date", read=us_date),
        "Volume": Column("volume"),
        "Issue": Column("issue"),
        "First Page": Column("first_page"),
        "DOI": Column("doi"),
        "Publisher": Column("publisher"),
        "Doctype": Column("publication_types"),
        "Subjects": Column("keywords", _SEMI),
        "Keywords": Column("keywords", _SEMI),
        "Abstract": Column("abstract"),
        "Accession Number": Column("publisher_id"),
        "PLink": Column("url"),
    },
)

FORMAT = table_format(TABLE)
