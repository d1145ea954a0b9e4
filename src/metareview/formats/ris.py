"""RIS (``TY  - JOUR`` … ``ER  -``): exports of Zotero, EndNote, Mendeley, Scopus, Embase,
Ovid, Cochrane CENTRAL, EBSCOhost, ScienceDirect and most publisher sites; written back
for the same tools.

A tag line is two characters, one to four spaces, a hyphen and the value: ``TY  - JOUR``,
Cochrane's ``TY  -  JOUR``, ``TY -  BOOK``. Untagged lines inside a record continue the
field before them and keep their line breaks (abstract paragraphs, Scopus reference lists
in ``N1``); a repeated tag keeps every value. Outside records the furniture of known
exports is skipped: record counters (``1.``), Cochrane's ``Record #3 of 18`` /
``Provider:`` / ``Content:`` headers. Ovid's ``Link to the Ovid Full Text …`` line and
tag lines after a record's ``ER`` belong to that record. Other text outside records, and a
record without ``ER``, are reported with their line, and no record is dropped.

The database a record came from is read from ``DB`` (``DP  - EBSCOhost`` codes too),
Ovid links and Cochrane's ``CN-`` accession numbers. Tags with no place in
:class:`Article` stay in ``extra``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

from ..errors import ReviewWarning
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from . import Format
from ._databases import cochrane_database, database_name, ovid_link_database
from ._plaintext import (
    Fields,
    TaggedRecord,
    decode_lines,
    given_names,
    pages,
    place_affiliations,
    strip_doi,
    text_date,
)
from ._xmltext import clean

_TAG_LINE = re.compile(r"^([A-Z][A-Z0-9]) {1,4}-[ \t]*(.*?)\s*$")
#: Lines between records that exports print and that hold nothing of a record: record
#: counters ("1.", "6. "), Cochrane's "Record #3 of 18", "Provider: …", "Content: …".
_FURNITURE = re.compile(r"^\s*(?:\d+\.?|Record #\d+ of \d+|Provider: .*|Content: .*)\s*$")
_OVID_LINK = re.compile(r"^\s*Link to the (?:Ovid Full Text|External Link Resolver)")
_DETECT_TYPE = re.compile(rb"^TY {1,4}- ", re.MULTILINE)
_PUBMED = re.compile(r"pubmed|medline", re.IGNORECASE)
_DOI_LIKE = re.compile(r"^\s*(?:https?://(?:dx\.)?doi\.org/|doi:\s*)?10\.\d+/", re.IGNORECASE)

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
    """A ``TY  - `` line near the start (exports may put a few header lines first)."""
    return _DETECT_TYPE.search(head[:4096]) is not None


def split_line(line: str) -> tuple[str | None, str]:
    """``(tag, value)`` of a RIS line, ``(None, text)`` for an untagged line."""
    found = _TAG_LINE.match(line)
    if found is None:
        return None, line.strip()
    return found.group(1), found.group(2) or ""


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a RIS file."""
    reader = _Reader(source)
    for number, line in decode_lines(stream, source):
        yield from reader.line(number, line)
    yield from reader.finish()


class _Reader:
    """The record loop. A record is yielded when the next one starts (or the file ends),
    since Ovid prints lines that belong to it after its ``ER``."""

    def __init__(self, source: str):
        self.source = source
        self.open: TaggedRecord | None = None  # between TY and ER
        self.closed: TaggedRecord | None = None  # after ER, not yet yielded
        self.index = 0
        self.stray: list[int] = []
        self.ovid = False

    def line(self, number: int, line: str) -> Iterator[Article]:
        tag, value = split_line(line)
        record = self.open
        if tag == "TY":
            if record is not None:
                _warn(self.source, record.start, "this record has no ER line; it ends where "
                      "the next TY starts")
                self.closed = record
            yield from self._flush()
            self.open = TaggedRecord(self.source, number)
            self.open.add(tag, value, number)
        elif record is not None:
            if tag == "ER":
                self.closed, self.open = record, None
            elif tag is None:
                record.extend(value, number)
            else:
                record.add(tag, value, number)
        elif not value or _FURNITURE.match(line):
            return
        elif self.closed is not None and (tag is not None or _OVID_LINK.match(line)):
            self.ovid = self.ovid or tag is None
            self.closed.add(tag or "L2", value, number)
        else:
            self.stray.append(number)

    def finish(self) -> Iterator[Article]:
        if self.open is not None:
            _warn(self.source, self.open.start, "the last record has no ER line; is the file "
                  "complete?")
            yield from self._flush()
            self.closed = self.open
        yield from self._flush()
        if self.stray:
            shown = ", ".join(map(str, self.stray[:10])) + (", …" if len(self.stray) > 10 else "")
            _warn(self.source, self.stray[0], f"{len(self.stray)} line(s) outside any TY … ER "
                  f"record were not read (lines {shown})")

    def _flush(self) -> Iterator[Article]:
        if self.closed is not None:
            yield _article(self.closed.pairs(), self.source, self.index, ovid=self.ovid)
            self.index += 1
            self.closed = None


def _warn(source: str, line: int, message: str) -> None:
    warnings.warn(f"{source}:{line}: {message}", ReviewWarning, stacklevel=3)


def _article(pairs: list[tuple[str, str]], source: str, index: int, ovid: bool) -> Article:
    f = Fields(pairs)
    source_database = _database(f, ovid)
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
    if any(_PUBMED.search(value) for tag, value in pairs if tag == "DB"):
        accession = clean(f.peek("AN"))
        if accession and accession.isdigit():
            pmid = clean(f.first("AN"))
    pub_date, extra_date = _date(f.first("PY", "Y1"), f.first("DA"))
    return Article(
        source_format=FORMAT.name,
        source_file=source,
        record_index=index,
        pmid=pmid,
        source_database=source_database,
        doi=_doi(f),
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


def _database(f: Fields, ovid: bool) -> str | None:
    """``DB`` (EBSCOhost codes when ``DP`` says EBSCOhost), else an Ovid link's database,
    else a Cochrane accession number (``AN  - CN-…``). Every record of an Embase.com export
    is Embase's, also those it marks ``DB  - Medline``."""
    links = " ".join(v for tag in ("L2", "UR") for v in [f.peek(tag) or ""])
    if "www.embase.com/" in links:
        return "Embase"
    if "www.scopus.com/" in links and not f.peek("DB"):  # older Scopus files have no DB
        return "Scopus"
    ovid = ovid or "ovid.com/" in links
    ebsco = "ebsco" in (f.peek("DP") or "").lower()
    named = database_name(f.peek("DB"), ovid=ovid, ebsco=ebsco)
    if named:
        return named
    if ovid:
        return ovid_link_database(links) or "Ovid"
    return cochrane_database(f.peek("AN")) or ("EBSCOhost" if ebsco else None)


def _doi(f: Fields) -> str | None:
    """``DO``; EBSCOhost prints the DOI in ``L3`` instead."""
    found = f.first("DO")
    if found is None and _DOI_LIKE.match(f.peek("L3") or ""):
        found = f.first("L3")
    return strip_doi(found)


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
    (as reference managers import them); a PMID as ``AN`` with ``DB  - PubMed``; the
    database a record came from as ``DB``.
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
    if own:
        if article.pmid:
            yield "DB", "PubMed"
    else:  # the database first, as the reader takes the first DB for source_database
        yield from _present("DB", article.source_database)
        if article.pmid and not _PUBMED.search(article.source_database or ""):
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
