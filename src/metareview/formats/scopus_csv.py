"""Scopus CSV export, every header layout from 2019 to now.

The 2019 layout has 23 unquoted columns and an ``Authors`` column of ``Last I.``
names separated by commas; today's is quoted, starts with a BOM, separates authors
by semicolons and adds ``Author full names`` (``Last, First (Scopus ID)``), which is
read in preference. Header names are matched ignoring case and no-break spaces.
"""

from __future__ import annotations

from ._table import Column, Table, comma_person, digits, initials_name, table_format

_SEMI = r"\s*;\s*"
#: ``Authors`` cells: ``;``-separated today, ``,``-separated in the 2019 layout
#: (names are ``Last I.``, which hold no comma).
_AUTHORS = r"\s*;\s*|,\s+"

TABLE = Table(
    name="scopus-csv",
    description="Scopus CSV export",
    database="Scopus",
    signatures=(frozenset({"eid"}), frozenset({"authors", "source title", "art. no."})),
    placeholders=frozenset({"[No abstract available]", "[No author name available]"}),
    columns={
        "Title": Column("title"),
        "Author full names": Column("authors", _SEMI, comma_person),
        "Authors": Column("authors", _AUTHORS, initials_name),
        "Affiliations": Column("affiliations", _SEMI),
        "Year": Column("year"),
        "Source title": Column("journal"),
        "Abbreviated Source Title": Column("journal_abbrev"),
        "Volume": Column("volume"),
        "Issue": Column("issue"),
        "Art. No.": Column("elocation"),
        "Page start": Column("first_page"),
        "Page end": Column("last_page"),
        "DOI": Column("doi"),
        "Link": Column("url"),
        "Abstract": Column("abstract"),
        "Author Keywords": Column("keywords", _SEMI),
        "Index Keywords": Column("keywords", _SEMI),
        "ISSN": Column("issn"),
        "Publisher": Column("publisher"),
        "PubMed ID": Column("pmid", read=digits),
        "Language of Original Document": Column("languages", _SEMI),
        "Document Type": Column("publication_types"),
        "Publication Stage": Column("publication_status"),
        "EID": Column("publisher_id"),
    },
)

FORMAT = table_format(TABLE)
