"""RIS (``TY  - JOUR`` … ``ER  -``): exports of Zotero, EndNote, Mendeley, Scopus,
ScienceDirect and most publisher sites; written back for the same tools.

Lines are split into tag and value by :mod:`rispy`'s line rule. The record loop is our
own so that continuation lines keep their line breaks (abstract paragraphs), a repeated
tag keeps every value, and a record without ``ER`` or text outside any record is
reported instead of skipped. Tags with no place in :class:`Article` stay in ``extra``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

import rispy

from ..errors import ReviewWarning
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from . import Format
from ._plaintext import (
    Fields,
    decode_lines,
    given_names,
    pages,
    place_affiliations,
    strip_doi,
    text_date,
)
from ._xmltext import clean

_PARSER = rispy.RisParser()
_COUNTER = re.compile(r"^\s*\d+\.?\s*$")  # rispy's writer numbers records ("1.")
_DETECT = re.compile(rb"^TY  - ", re.MULTILINE)

#: RIS reference types and the BibTeX entry types that mean the same.
RIS_TO_BIBTEX = {
    "JOUR": "article",
    "EJOUR": "article",
    "MGZN": "article",
    "BOOK": "book",
    "EBOOK": "book",
    "CHAP": "incollection",
    "ECHAP": "incollection",
    "CONF": "inproceedings",
    "CPAPER": "inproceedings",
    "THES": "phdthesis",
    "RPRT": "techreport",
    "ELEC": "misc",
    "GEN": "misc",
    "UNPB": "unpublished",
}


def detect(head: bytes) -> bool:
    """A ``TY  - `` line near the start (some exports put a few header lines first)."""
    return _DETECT.search(head[:4096]) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a RIS file."""
    pairs: list[tuple[str, str]] | None = None
    start = 0
    index = 0
    stray: list[int] = []
    for number, line in decode_lines(stream, source):
        tag, value = _PARSER.parse_line(line)
        if tag == "TY" and pairs is not None:
            _warn(source, start, "this record has no ER line; it ends where the next TY starts")
            yield _article(pairs, source, index)
            index += 1
            pairs = None
        if pairs is None:
            if tag == "TY":
                pairs, start = [(tag, value)], number
            elif line.strip() and not _COUNTER.match(line):
                stray.append(number)
        elif tag == "ER":
            yield _article(pairs, source, index)
            index += 1
            pairs = None
        elif tag is None:  # a continuation line: keeps its line break
            last_tag, last_value = pairs[-1]
            pairs[-1] = (last_tag, f"{last_value}\n{value}")
        else:
            pairs.append((tag, value))
    if pairs is not None:
        _warn(source, start, "the last record has no ER line; is the file complete?")
        yield _article(pairs, source, index)
    if stray:
        _warn(
            source,
            stray[0],
            f"{len(stray)} line(s) outside any TY … ER record were not read",
        )


def _warn(source: str, line: int, message: str) -> None:
    warnings.warn(f"{source}:{line}: {message}", ReviewWarning, stacklevel=3)


def _article(pairs: list[tuple[str, str]], source: str, index: int) -> Article:
    f = Fields(pairs)
    title = clean(f.first("TI", "T1"))
    authors, affiliations = place_affiliations(
        tuple(_author(value) for value in f.take("AU", "A1")), f.take("AD")
    )
    journal = Journal(
        title=clean(f.first("T2", "JF", "JO")),
        iso_abbrev=clean(f.first("J2", "JA", "J1", "JO")),
        issn=clean(f.first("SN")),
        publisher=clean(f.first("PB")),
    )
    first_page, last_page, printed = _pages(f.first("SP"), f.first("EP"))
    abstract = f.first("AB", "N2")
    pmid = None
    database = (f.peek("DB") or "").lower()
    if "pubmed" in database or "medline" in database:
        accession = clean(f.peek("AN"))
        if accession and accession.isdigit():
            pmid = clean(f.first("AN"))
    pub_date, extra_date = _date(f.first("PY", "Y1"), f.first("DA"))
    return Article(
        source_format=FORMAT.name,
        source_file=source,
        record_index=index,
        pmid=pmid,
        doi=strip_doi(f.first("DO")),
        url=clean(f.first("UR")),
        titles=(Text(title),) if title else (),
        abstracts=(_abstract(abstract),) if abstract else (),
        journal=journal,
        volume=clean(f.first("VL")),
        issue=clean(f.first("IS")),
        first_page=first_page,
        last_page=last_page,
        pages=printed,
        pub_date=pub_date,
        authors=authors,
        affiliations=affiliations,
        languages=tuple(v for v in map(clean, f.take("LA")) if v),
        keywords=tuple(v for v in map(clean, f.take("KW")) if v),
        extra=f.rest() + extra_date,
    )


def _author(value: str) -> Author:
    """``Last, First`` or ``Last, First, Suffix``; a name without a comma is kept whole."""
    parts = [clean(p) for p in value.split(",")]
    if len(parts) == 1:
        return Author(last=parts[0])
    suffix = clean(", ".join(p or "" for p in parts[2:]))
    return Author(last=parts[0], first=parts[1], suffix=suffix)


def _pages(start: str | None, end: str | None) -> tuple[str | None, str | None, str | None]:
    """``SP``/``EP``; a range printed in ``SP`` alone is split and also kept as printed."""
    start, end = clean(start), clean(end)
    if start and not end and re.search(r"\d\s*[-–]\s*\w", start):
        first, last = pages(start)
        return first, last, start
    return start, end, None


def _date(year: str | None, date: str | None) -> tuple[PubDate, tuple[tuple[str, str], ...]]:
    """``PY`` (year) and ``DA`` (full date): the fuller of the two when they agree;
    a ``DA`` that disagrees stays in ``extra``."""
    by_year, by_date = text_date(year), text_date(date)
    if date is None:
        return by_year, ()
    if year is None or (by_date.year == by_year.year and by_date.month is not None):
        return by_date, ()
    return by_year, (("DA", date),)


def _abstract(value: str) -> Abstract:
    """Each line of a (Zotero-style) multi-line ``AB`` is a paragraph."""
    return Abstract(tuple(Section(p) for p in (clean(line) for line in value.split("\n")) if p))


FORMAT = Format(
    name="ris",
    description="RIS: Zotero, EndNote, Mendeley, Scopus, ScienceDirect exports",
    xml=False,
    detect=detect,
    read=read,
)


# --------------------------------------------------------------------- writer


def write(articles: Iterable[Article], stream: TextIO) -> int:
    """Write ``articles`` as RIS to a text stream; returns the number written.

    Tags kept in ``extra`` by the RIS reader are written back for records that came
    from RIS, so a RIS → RIS round trip keeps them. MeSH terms are written as ``KW``
    (as reference managers import them); a PMID as ``AN`` with ``DB  - PubMed``.
    """
    count = 0
    for article in articles:
        for tag, value in _tags(article):
            stream.write(f"{tag}  - {value}\n" if value else f"{tag}  -\n")
        stream.write("ER  - \n\n")
        count += 1
    return count


def _tags(article: Article) -> Iterator[tuple[str, str]]:
    own = article.source_format == FORMAT.name
    extra = list(article.extra) if own else []
    yield "TY", _take_type(extra) if own else ris_type(article)
    yield from _present("TI", article.title)
    for author in article.authors:
        yield "AU", _name(author)
    for affiliation in article.all_affiliations:
        yield "AD", _one_line(affiliation)
    if article.year is not None:
        yield "PY", str(article.year)
    if article.pub_date.month is not None:
        day = f"{article.pub_date.day:02d}" if article.pub_date.day else ""
        yield "DA", f"{article.year:04d}/{article.pub_date.month:02d}/{day}/"
    yield from _present("T2", article.journal.title)
    yield from _present("J2", article.journal.iso_abbrev)
    for issn in dict.fromkeys(
        i
        for i in (article.journal.issn_print, article.journal.issn_electronic, article.journal.issn)
        if i
    ):
        yield "SN", issn
    yield from _present("PB", article.journal.publisher)
    yield from _present("VL", article.volume)
    yield from _present("IS", article.issue)
    if article.first_page:
        yield "SP", article.first_page
        yield from _present("EP", article.last_page)
    else:
        yield from _present("SP", article.pages or article.elocation)
    yield from _present("DO", article.doi)
    yield from _present("UR", article.url)
    if article.abstract:  # one paragraph a line
        yield "AB", "\n".join(_one_line(p) for p in article.abstract.split("\n\n"))
    for keyword in (*article.keywords, *article.mesh_terms):
        yield "KW", _one_line(keyword)
    for language in article.languages:
        yield "LA", language
    if article.pmid:
        yield "AN", article.pmid
        yield "DB", "PubMed"
    for tag, value in extra:
        if tag != "DB" or not article.pmid:
            yield tag, value


def ris_type(article: Article) -> str:
    """The RIS type of a record: its own ``TY``, or the match of its BibTeX entry type."""
    extra = dict(article.extra)
    if article.source_format == FORMAT.name and extra.get("TY"):
        return extra["TY"]
    entry_type = extra.get("ENTRYTYPE", "").lower()
    for ris, bibtex in RIS_TO_BIBTEX.items():
        if bibtex == entry_type:
            return ris
    return "JOUR"


def _take_type(extra: list[tuple[str, str]]) -> str:
    for position, (tag, value) in enumerate(extra):
        if tag == "TY":
            del extra[position]
            return value
    return "JOUR"


def _present(tag: str, value: str | None) -> Iterator[tuple[str, str]]:
    if value:
        yield tag, _one_line(value)


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _name(author: Author) -> str:
    if author.collective:
        return author.collective
    return ", ".join(p for p in (author.last, given_names(author), author.suffix) if p)
