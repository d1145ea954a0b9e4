"""Cochrane Library plain text ("Export selected citations → Plain text"): records of CENTRAL
trials or Cochrane reviews, each opened by ``Record #1 of 271`` and made of ``TAG: value``
lines (``ID``, ``AU``, ``TI``, ``SO``, ``YR``, ``VL``, ``NO``, ``PG``, ``KY``, ``DOI``,
``AB``, ``US`` …).

The Library writes old-Mac line ends (CR only) and, when two export batches are joined, a
second byte-order mark before a ``Record #`` line; both are read. Untagged lines continue
the field before them. Authors are printed surname first without a comma (``Crowther
Caroline A``, ``Van Ryswyk Emer``, ``Bywater T``). The ``ID`` says the database: ``CN-``
is CENTRAL, ``CD`` a Cochrane review. Tags with no place in :class:`Article` stay in
``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from ..records import Abstract, Article, Author, Journal, Section, Text
from . import Format
from ._databases import cochrane_database
from ._plaintext import (
    Fields,
    TaggedRecord,
    decode_lines,
    opened_records,
    pages,
    split_items,
    strip_doi,
    text_date,
)
from ._xmltext import clean

_RECORD = re.compile(r"^Record #\d+ of \d+\s*$")
_LINE = re.compile(r"^([A-Z][A-Z0-9]{1,3}): ?(.*)$")
_DETECT = re.compile(rb"\ARecord #\d+ of \d+\s*[\r\n]+[A-Z][A-Z0-9]{1,3}: ")
_PUBMED = re.compile(r"^(?:PUBMED|MEDLINE)\s+(\d+)$", re.IGNORECASE)
#: Lower-case words that start a surname ("van Ryswyk", "De Silva").
_PARTICLES = frozenset(
    {"van", "von", "de", "der", "den", "del", "della", "di", "da", "dos", "du", "la", "le", "ten"}
)

#: Tag → Article field, for tags that hold one plain value.
_SINGLE = {"VL": "volume", "NO": "issue", "US": "url"}


def detect(head: bytes) -> bool:
    """``Record #1 of N`` followed by a ``TAG: `` line."""
    return _DETECT.match(head) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a Cochrane Library plain-text export."""
    records = opened_records(decode_lines(stream, source), source, _RECORD, _LINE)
    for index, record in enumerate(records):
        yield _article(record, source, index)


def _article(record: TaggedRecord, source: str, index: int) -> Article:
    f = Fields(record.pairs("\n"))
    values: dict[str, object] = {
        field: clean(f.first(tag)) for tag, field in _SINGLE.items() if f.peek(tag)
    }
    title = clean(f.first("TI"))
    abstract = clean(f.first("AB"))
    first_page, last_page = pages(f.peek("PG"))
    pubmed = _PUBMED.match(clean(f.peek("PM")) or "")
    if pubmed:
        f.first("PM")
    return Article(
        source_format=FORMAT.name,
        source_database=cochrane_database(f.peek("ID")),
        source_file=source,
        record_index=index,
        pmid=pubmed.group(1) if pubmed else None,
        doi=strip_doi(f.first("DOI")),
        titles=(Text(title),) if title else (),
        abstracts=(Abstract((Section(abstract),)),) if abstract else (),
        journal=Journal(title=clean(f.first("SO")), publisher=clean(f.first("PB"))),
        first_page=first_page,
        last_page=last_page,
        pages=clean(f.first("PG")),
        pub_date=text_date(f.first("YR")),
        authors=tuple(_author(name) for name in map(clean, f.take("AU")) if name),
        keywords=tuple(split_items(f.take("KY"))),
        publication_types=tuple(split_items(f.take("PT"))),
        extra=f.rest(),
        **values,  # type: ignore[arg-type]
    )


def _author(name: str) -> Author:
    """``Crowther Caroline A`` → Crowther, Caroline, initials CA; ``Bywater T`` → Bywater
    T; ``Van Ryswyk Emer`` → Van Ryswyk, Emer. A name with a comma is ``Last, First``."""
    if "," in name:
        last, _, first = name.partition(",")
        return Author(last=clean(last), first=clean(first))
    words = name.split()
    cut = 1
    while cut < len(words) - 1 and words[cut - 1].lower() in _PARTICLES:
        cut += 1
    surname, given = words[:cut], words[cut:]
    if not given:
        return Author(last=name)
    initials = given[-1] if re.fullmatch(r"[A-Z]{1,3}", given[-1]) else ""
    names = given[:-1] if initials else given
    letters = "".join(w[0] for w in names if w[0].isalpha()) + initials
    return Author(last=" ".join(surname), first=" ".join(names) or None, initials=letters or None)


FORMAT = Format(
    name="cochrane-txt",
    description="Cochrane Library plain text (Record #1 of N, ID:/AU:/TI: lines)",
    xml=False,
    detect=detect,
    read=read,
)
