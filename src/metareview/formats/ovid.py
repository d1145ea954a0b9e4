"""Ovid's own tagged format (MEDLINE, Embase, APA PsycInfo …): the "Complete Reference"
export for EndNote (``.cgi``) and Citavi (``.ovd``). Each record opens with ``<1. >`` (or
``<1>``), then ``XX  - value`` lines: ``VN``, ``DB``, ``UI``, ``TI``, ``SO``, ``AU``,
``IN``, ``MH``, ``AB``, ``DO``, ``YR`` …; no ``TY``/``ER`` as in RIS.

Lines without a tag continue the field before them, indented (``IN`` institutions) or
not (long abstracts run over unindented lines). The journal, volume, issue and pages are
read from ``SO`` as Embase (``Journal. 12 (3) (pp 100-110), 2018``) and MEDLINE
(``Journal. 12(3):100-10, 2018 Mar``) print it; ``SO`` itself stays in ``extra`` since it
says more (conference, date of publication). ``DB`` names the database; ``UI`` of a
MEDLINE record is its PMID. Other tags stay in ``extra``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import BinaryIO

from ..records import Abstract, Article, Author, Journal, Section, Text
from . import Format
from ._databases import database_name
from ._plaintext import (
    Fields,
    TaggedRecord,
    decode_lines,
    opened_records,
    pages,
    place_affiliations,
    strip_doi,
    text_date,
)
from ._xmltext import clean

_RECORD = re.compile(r"^<\s*\d+\.?\s*>\s*$")
_LINE = re.compile(r"^([A-Z][A-Z0-9]{1,3}) {1,4}- ?(.*)$")
_DETECT = re.compile(rb"\A<\s*\d+\.?\s*>\s*[\r\n]+[A-Z][A-Z0-9]{1,3} {1,4}- ")
_EMBASE_SOURCE = re.compile(
    r"^(?P<journal>.+?)\.\s+(?:Conference:.*?\.\s+)?(?P<volume>[^\s()]+)\s*"
    r"(?:\((?P<issue>[^)]*)\)\s*)?\((?P<pages>[^)]*)\),\s*(?P<year>\d{4})"
)
_MEDLINE_SOURCE = re.compile(
    r"^(?P<journal>.+?)\.\s+(?P<volume>[^\s():]+)(?:\((?P<issue>[^)]*)\))?:(?P<pages>[^,]+),"
    r"\s*(?P<year>\d{4})"
)
_NAMED = re.compile(r"^\(([^()]+)\)\s*(.+)$")
#: Tags whose continuation lines are further items (institutions), not more text.
_LIST_TAGS = frozenset({"IN"})


def detect(head: bytes) -> bool:
    """``<1. >`` then a tag line such as ``VN  - Ovid Technologies``."""
    return _DETECT.match(head) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of an Ovid tagged export."""
    records = opened_records(decode_lines(stream, source), source, _RECORD, _LINE)
    for index, record in enumerate(records):
        yield _article(record, source, index)


def _article(record: TaggedRecord, source: str, index: int) -> Article:
    f = Fields(record.pairs(" ", items=_LIST_TAGS))
    database = database_name(f.peek("DB"), ovid=True)
    pmid = clean(f.first("UI")) if database == "Ovid MEDLINE" else None
    title = clean(f.first("TI"))
    abstract = clean(f.first("AB"))
    cited = _source(f.peek("SO"))
    first_page, last_page = pages(f.peek("PG") or cited.get("pages"))
    printed = clean(f.first("PG")) or cited.get("pages")
    authors, affiliations = place_affiliations(
        *_institutions(
            tuple(_author(n) for n in map(clean, f.take("FA") or f.take("AU")) if n),
            f.take("IN"),
        )
    )
    return Article(
        source_format=FORMAT.name,
        source_database=database,
        source_file=source,
        record_index=index,
        pmid=pmid,
        doi=strip_doi(f.first("DO")),
        titles=(Text(title),) if title else (),
        abstracts=(Abstract((Section(abstract),)),) if abstract else (),
        journal=Journal(
            title=clean(f.first("JN", "JT")) or cited.get("journal"),
            iso_abbrev=clean(f.first("JA")),
            issn=clean(f.first("IS")),
            publisher=clean(f.first("PB")),
        ),
        volume=clean(f.first("VO", "VI")) or cited.get("volume"),
        issue=clean(f.first("IP")) or cited.get("issue"),
        first_page=first_page,
        last_page=last_page,
        pages=printed if first_page is None else None,
        pub_date=text_date(f.first("YR") or cited.get("year")),
        authors=authors,
        affiliations=affiliations,
        languages=tuple(v for v in map(clean, f.take("LG")) if v),
        keywords=tuple(v for v in map(clean, f.take("KW")) if v),
        mesh_terms=tuple(dict.fromkeys(t for v in f.take("MH") if (t := clean(v.lstrip("*"))))),
        publication_types=tuple(v for v in map(clean, f.take("PT")) if v),
        extra=f.rest(),
    )


def _source(value: str | None) -> dict[str, str]:
    """Journal, volume, issue, pages and year from ``SO`` as Embase or MEDLINE prints it;
    empty when it is neither (books, theses)."""
    value = clean(value) or ""
    found = _EMBASE_SOURCE.match(value) or _MEDLINE_SOURCE.match(value)
    if found is None:
        return {}
    parts = {k: v.strip() for k, v in found.groupdict().items() if v and v.strip()}
    printed = parts.pop("pages", "")
    if printed and printed.lower() != "no pagination":
        parts["pages"] = printed.removeprefix("pp").strip()
    return parts


def _institutions(
    authors: tuple[Author, ...], lines: list[str]
) -> tuple[tuple[Author, ...], list[str]]:
    """``IN  - (Behan, Rubbo, Lucas) NIHR Southampton …``: the institution of the authors
    named in brackets; a line naming no author (or one not in the byline) is the record's."""
    own: dict[int, list[str]] = {}
    record = []
    for line in lines:
        found = _NAMED.match(line)
        names = [n.strip() for n in found.group(1).split(",")] if found else []
        places = [i for i, a in enumerate(authors) if a.last in names]
        if found and len(places) >= len(set(names)):
            for place in places:
                own.setdefault(place, []).append(found.group(2).strip())
        else:
            record.append(line)
    people = tuple(
        dataclasses.replace(a, affiliations=(*a.affiliations, *own.get(i, ())))
        for i, a in enumerate(authors)
    )
    return people, record


def _author(name: str) -> Author:
    """``Lucas J.S.`` (Embase), ``Smith JA`` (MEDLINE ``AU``), ``Smith, John A`` (``FA``)."""
    if "," in name:
        last, _, first = name.partition(",")
        return Author(last=clean(last), first=clean(first))
    last, _, initials = name.rpartition(" ")
    if not last or not re.fullmatch(r"(?:[A-Z]\.?-?)+", initials):
        return Author(last=name)
    return Author(last=last, initials=initials.replace(".", "").replace("-", ""))


FORMAT = Format(
    name="ovid",
    description="Ovid tagged export (<1. > records: EndNote .cgi, Citavi .ovd)",
    xml=False,
    detect=detect,
    read=read,
)
