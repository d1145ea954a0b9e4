"""CSL-JSON (Citation Style Language data): Zotero's and Mendeley's "CSL JSON" export, a
list of items (or one item). Dates are ``date-parts`` whose year may be a string beside
numeric month and day (``[["2024", 11, 13]]``), or ``raw``/``literal`` text. The
database an item came from is its ``source`` (Zotero's "Library Catalog")."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..records import Article, Author, PubDate
from . import Format
from ._fields import build
from ._json import flatten, load, looks_like_json, records
from ._plaintext import text_date
from ._table import Column, digits, gather
from ._xmltext import clean, make_date

#: CSL 1.0.2 item types.
_TYPES = (
    "article|article-journal|article-magazine|article-newspaper|bill|book|broadcast|chapter|"
    "classic|collection|dataset|document|entry|entry-dictionary|entry-encyclopedia|event|"
    "figure|graphic|hearing|interview|legal_case|legislation|manuscript|map|motion_picture|"
    "musical_score|pamphlet|paper-conference|patent|performance|periodical|"
    "personal_communication|post|post-weblog|regulation|report|review|review-book|software|"
    "song|speech|standard|thesis|treaty|webpage"
)
_ITEM = re.compile(
    rb'"(?:issued|container-title|date-parts|citation-key|citation-label)"\s*:'
    rb'|"type"\s*:\s*"(?:' + _TYPES.encode() + rb')"'
)

#: Item variables → fields; ``author`` and ``issued`` are read apart.
COLUMNS = {
    "title": Column("title"),
    "container-title": Column("journal"),
    "container-title-short": Column("journal_abbrev"),
    "journalAbbreviation": Column("journal_abbrev"),
    "DOI": Column("doi"),
    "URL": Column("url"),
    "ISSN": Column("issn"),
    "publisher": Column("publisher"),
    "volume": Column("volume"),
    "issue": Column("issue"),
    "page": Column("pages"),
    "abstract": Column("abstract"),
    "language": Column("languages"),
    "type": Column("publication_types"),
    "keyword": Column("keywords", r"\s*[;,]\s*"),
    "PMID": Column("pmid", read=digits),
    "PMCID": Column("pmcid"),
}
_APART = frozenset({"author", "issued", "source"})


def detect(head: bytes) -> bool:
    """JSON using CSL variable names (``issued``, ``container-title``, ``date-parts`` …)
    or a CSL item type beside a ``title``."""
    return looks_like_json(head) and _ITEM.search(head) is not None and b'"title"' in head


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    items = records(load(stream, source), source, "items")
    for index, item in enumerate(items):
        values, extra = gather(COLUMNS, flatten({k: v for k, v in item.items() if k not in _APART}))
        values["authors"] = [a for a in map(_author, item.get("author") or []) if a]
        date = issued(item.get("issued"))
        values["date"] = [date] if date.year is not None or date.raw else []
        database = clean(item["source"]) if isinstance(item.get("source"), str) else None
        yield build(FORMAT.name, database, values, extra, source, index)


def issued(value: Any) -> PubDate:
    """A CSL date: ``date-parts`` (numbers or numeric strings), else ``raw``/``literal``."""
    if not isinstance(value, dict):
        return text_date(value) if isinstance(value, str) else PubDate()
    parts = value.get("date-parts")
    if isinstance(parts, list) and parts and isinstance(parts[0], list) and parts[0]:
        first = [str(p) for p in parts[0][:3]]
        date = make_date(*first)
        if len(parts) > 1 or value.get("season"):  # a range or a season: keep as printed
            printed = "/".join("-".join(str(p) for p in part) for part in parts)
            return PubDate(date.year, date.month, date.day, printed)
        return date
    text = value.get("raw") or value.get("literal")
    return text_date(text) if isinstance(text, str) else PubDate()


def _author(name: Any) -> Author | None:
    if not isinstance(name, dict):
        return None
    if name.get("literal"):
        return Author(collective=clean(str(name["literal"])))
    particle = clean(name.get("non-dropping-particle"))
    last = clean(" ".join(p for p in (particle, name.get("family")) if p))
    given = clean(" ".join(p for p in (name.get("given"), name.get("dropping-particle")) if p))
    if not last and not given:
        return None
    return Author(last=last, first=given, suffix=clean(name.get("suffix")))


FORMAT = Format(
    name="csl-json",
    description="CSL-JSON: Zotero and Mendeley 'CSL JSON' exports",
    xml=False,
    detect=detect,
    read=read,
)
