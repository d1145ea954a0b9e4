"""EndNote XML (File › Export › XML): root ``<xml><records><record>``, often all on one
line, every value wrapped in ``<style>`` runs, several values in one element separated
by carriage returns (``&#xD;``), DOIs bare (``10.…``) or as ``https://dx.doi.org/`` links.

Elements are named by their path under ``<record>`` (``titles/title``) and mapped by a
declarative table; elements it does not name stay in ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..records import Article
from ..xmlsafe import iter_records, local_name
from . import Format
from ._fields import build
from ._plaintext import strip_doi
from ._table import Column, comma_person, gather
from ._xmltext import clean

_LINES = r"[\r\n]+"  # EndNote's separator inside one element


def _doi(value: str) -> str | None:
    """A cell that is one DOI, bare or as a resolver link; anything else stays in extra."""
    doi = strip_doi(value)
    return doi if doi and re.fullmatch(r"10\.\d+/\S+", doi) else None


def _first_url(value: str) -> str | None:
    return value.split()[0] if value.split() else None


COLUMNS = {
    "titles/title": Column("title"),
    "contributors/authors/author": Column("authors", _LINES, comma_person),
    "auth-address": Column("affiliations", _LINES),
    "periodical/full-title": Column("journal"),
    "titles/secondary-title": Column("journal"),
    "periodical/abbr-1": Column("journal_abbrev"),
    "titles/alt-title": Column("journal_abbrev"),
    "volume": Column("volume"),
    "number": Column("issue"),
    "issue": Column("issue"),
    "pages": Column("pages"),
    "dates/year": Column("year"),
    "dates/pub-dates/date": Column("month_day"),
    "isbn": Column("issn"),
    "electronic-resource-num": Column("doi", _LINES, _doi),
    "abstract": Column("abstract"),
    "keywords/keyword": Column("keywords", _LINES),
    "language": Column("languages", r"\s*[;\r\n]+\s*"),
    "ref-type": Column("publication_types"),
    "work-type": Column("publication_types", _LINES),
    "urls/related-urls/url": Column("url", read=_first_url, keep=True),
    "accession-num": Column("publisher_id"),
}
_DATABASES = ("remote-database-name", "remote-database-provider")


def detect(root_tag: str) -> bool:
    return root_tag == "xml"


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    for index, (_, record) in enumerate(iter_records(stream, source, frozenset({"record"}))):
        cells = list(_cells(record))
        values, extra = gather(COLUMNS, cells)
        found = dict(cells)
        database = next((clean(found[name]) for name in _DATABASES if name in found), None)
        accession = values.get("publisher_id", [""])[0]
        if accession.isdigit() and re.search(r"pubmed|medline|nlm", database or "", re.I):
            values["pmid"] = [accession]  # EndNote's accession number of a PubMed record
        yield build(FORMAT.name, database, values, extra, source, index)


def _cells(record: etree._Element) -> Iterator[tuple[str, str]]:
    """``(path, text)`` of each value element under ``record``; repeated elements
    (authors, keywords) joined by line breaks; ``ref-type`` by its name."""
    found: dict[str, list[str]] = {}
    for path, value in _leaves(record, ""):
        found.setdefault(path, []).append(value)
    for path, values in found.items():
        yield path, "\n".join(values)


def _leaves(element: etree._Element, prefix: str) -> Iterator[tuple[str, str]]:
    for child in element:
        name = local_name(child.tag) if isinstance(child.tag, str) else ""
        if not name:
            continue  # a comment or processing instruction
        path = f"{prefix}/{name}" if prefix else name
        if name == "ref-type" and child.get("name"):
            yield path, child.get("name") or ""
        elif all(local_name(c.tag) == "style" for c in child if isinstance(c.tag, str)):
            yield path, "".join(str(part) for part in child.itertext())
        else:
            yield from _leaves(child, path)


FORMAT = Format(
    name="endnote-xml",
    description="EndNote XML export: <xml><records><record>",
    xml=True,
    detect=detect,
    read=read,
)
