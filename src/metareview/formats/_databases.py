"""The database a record was exported from (``Article.source_database``), as the tagged
formats say it: a ``DB`` line (RIS, Ovid), EBSCOhost's short database codes, the ``D=``
code in an Ovid link, an accession-number prefix (Cochrane ``CN-``)."""

from __future__ import annotations

import re

#: EBSCOhost database codes (the ``db=`` of its links, ``DB`` of some exports).
EBSCO_CODES = {
    "aph": "Academic Search Premier",
    "a9h": "Academic Search Complete",
    "asn": "Academic Search Ultimate",
    "bth": "Business Source Premier",
    "c8h": "CINAHL",
    "ccm": "CINAHL",
    "rzh": "CINAHL",
    "cin20": "CINAHL",
    "cmedm": "MEDLINE",
    "mdc": "MEDLINE",
    "mnh": "MEDLINE",
    "ecn": "EconLit",
    "eric": "ERIC",
    "i3h": "Criminal Justice Abstracts",
    "psyh": "APA PsycInfo",
    "pdh": "APA PsycArticles",
    "sph": "SPORTDiscus",
}
#: Ovid database codes (``D=`` in its links) by prefix.
_OVID_CODES = (
    ("psyc", "APA PsycInfo"),
    ("emed", "Ovid Embase"),
    ("emez", "Ovid Embase"),
    ("oemez", "Ovid Embase"),
    ("emba", "Ovid Embase"),
    ("med", "Ovid MEDLINE"),
    ("mes", "Ovid MEDLINE"),
    ("prem", "Ovid MEDLINE"),
    ("ppez", "Ovid MEDLINE"),
    ("caba", "CAB Abstracts"),
    ("coch", "Cochrane CENTRAL"),
    ("cctr", "Cochrane CENTRAL"),
)
_OVID_LINK = re.compile(r"ovid\.com/ovidweb\.cgi\?\S*?\bD=([A-Za-z]+)", re.IGNORECASE)
_VERSION = re.compile(r"\s*<[^>]*>\s*$")  # "APA PsycInfo <2021>"


def database_name(value: str | None, *, ovid: bool = False, ebsco: bool = False) -> str | None:
    """A database as a ``DB`` line names it, in the spelling records use.

    ``ovid`` (the file came from Ovid) turns ``Embase`` and ``MEDLINE`` into ``Ovid
    Embase`` and ``Ovid MEDLINE``; ``ebsco`` (``DP  - EBSCOhost``) reads short codes.
    """
    text = _VERSION.sub("", value or "").strip()
    if not text:
        return None
    lower = text.lower()
    ovid = ovid or lower.startswith("ovid")  # "Ovid MEDLINE(R) <1946 to Present>"
    if ebsco and lower in EBSCO_CODES:
        return EBSCO_CODES[lower]
    for word, name, ovid_name in (
        ("scopus", "Scopus", "Scopus"),
        ("embase", "Embase", "Ovid Embase"),
        ("medline", "MEDLINE", "Ovid MEDLINE"),
        ("psycinfo", "APA PsycInfo", "APA PsycInfo"),
        ("cinahl", "CINAHL", "CINAHL"),
        ("web of science", "Web of Science", "Web of Science"),
    ):
        if word in lower:
            return ovid_name if ovid else name
    return text


def ovid_link_database(text: str) -> str | None:
    """The database named by the ``D=`` code of an Ovid link (``D=psyc16``, ``D=medl``)."""
    found = _OVID_LINK.search(text)
    if found is None:
        return None
    code = found.group(1).lower()
    return next((name for prefix, name in _OVID_CODES if code.startswith(prefix)), None)


def cochrane_database(accession: str | None) -> str | None:
    """Cochrane Library accession numbers: ``CN-…`` is CENTRAL, ``CD…`` a Cochrane review."""
    accession = (accession or "").strip().upper()
    if accession.startswith("CN-"):
        return "Cochrane CENTRAL"
    if re.fullmatch(r"CD\d{6}(?:\.PUB\d+)?", accession):
        return "Cochrane Database of Systematic Reviews"
    return None
