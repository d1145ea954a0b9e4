"""Scopus CSV export, every header layout from 2019 to now.

The 2019 layout has 23 unquoted columns and an ``Authors`` column of ``Last I.``
names separated by commas; today's is quoted, starts with a BOM, separates authors
by semicolons and adds ``Author full names`` (``Last, First (Scopus ID)``), which is
read in preference. Header names are matched ignoring case and no-break spaces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._table import (
    Column,
    Table,
    comma_person,
    digits,
    initials_name,
    table_format,
    tie_addresses,
)

_SEMI = r"\s*;\s*"
#: ``Authors`` cells: ``;``-separated today, ``,``-separated in the 2019 layout
#: (names are ``Last I.``, which hold no comma).
_AUTHORS = r"\s*;\s*|,\s+"

def _finish(values: dict[str, list[Any]], row: Mapping[str, str]) -> None:
    """A title in two languages, ``English; [Original]``, is two titles; addresses go
    to their authors."""
    both = re.fullmatch(r"(.+?);\s*\[(.+)\]", values.get("title", [""])[0])
    if both:
        values["title"], values["other_titles"] = [both.group(1)], [both.group(2)]
    _affiliations(values, row)


def _affiliations(values: dict[str, list[Any]], row: Mapping[str, str]) -> None:
    """``Authors with affiliations`` (``Wilson L.N., Univ A, City, Country, Dept B, …;
    Gardner J.D., …``) says whose each of the ``Affiliations`` is; an author whose
    text holds none of them gets the text itself."""
    record = values.get("affiliations", [])
    addresses = []
    for part in re.split(r"\s*;\s*", row.get("authors with affiliations", "")):
        name, _, text = part.partition(", ")
        if name and text.strip():
            found = [a for a in record if a in text] or [text.strip()]
            addresses += [([name], a) for a in found]
    tie_addresses(values, addresses)


TABLE = Table(
    name="scopus-csv",
    description="Scopus CSV export",
    database="Scopus",
    signatures=(frozenset({"eid"}), frozenset({"authors", "source title", "art. no."})),
    placeholders=frozenset({"[No abstract available]", "[No author name available]"}),
    finish=_finish,
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
