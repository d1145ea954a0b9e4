"""Web of Science tab-delimited export (``PT AU … UT`` header of two-letter tags):
UTF-8 or UTF-16LE with a BOM, CRLF, LF or lone-CR line ends, a trailing tab that
makes each row one cell longer than the header, the 59-, 68- and 71-column Core
Collection layouts and the WoS-MEDLINE layout. Cells are never quoted, so a ``"``
in a title is text."""

from __future__ import annotations

from ._table import Column, Table, comma_person, digits, table_format

_SEMI = r"\s*;\s*"

TABLE = Table(
    name="wos-tabdelim",
    description="Web of Science tab-delimited export",
    database="Web of Science",
    delimiter="\t",
    signatures=(frozenset({"pt", "ti", "ut"}), frozenset({"pt", "au", "ti", "so"})),
    placeholders=frozenset({"[Anonymous]"}),
    columns={
        "TI": Column("title"),
        "AF": Column("authors", _SEMI, comma_person),
        "AU": Column("authors", _SEMI, comma_person),
        "C1": Column("affiliations", r";\s*(?![^\[]*\])"),  # not inside "[Doe, J; Roe, R]"
        "SO": Column("journal"),
        "JI": Column("journal_abbrev"),
        "J9": Column("journal_abbrev"),
        "LA": Column("languages", _SEMI),
        "DT": Column("publication_types", _SEMI),
        "DE": Column("keywords", _SEMI),
        "ID": Column("keywords", _SEMI),
        "MH": Column("keywords", _SEMI),
        "AB": Column("abstract"),
        "SN": Column("issn_print"),
        "EI": Column("issn_electronic"),
        "PU": Column("publisher"),
        "PY": Column("year"),
        "PD": Column("month_day"),
        "VL": Column("volume"),
        "IS": Column("issue"),
        "BP": Column("first_page"),
        "EP": Column("last_page"),
        "AR": Column("elocation"),
        "DI": Column("doi"),
        "PM": Column("pmid", read=digits),
        "UT": Column("publisher_id"),
    },
)

FORMAT = table_format(TABLE)
