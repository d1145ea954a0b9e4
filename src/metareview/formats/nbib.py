"""MEDLINE text, the "PubMed format" download (``.nbib``, ``.txt``): ``TAG - value``
lines with a four-character tag, continuation lines indented by six spaces, records
separated by blank lines (a ``PMID-`` line also starts one; in a PubMed Central export,
whose records open with ``PMC -``, that line does).

Fields follow the tag table below; authors are built from the ``FAU``/``AU``/``AUID``/
``AD`` runs in file order. MeSH headings are given in the form the PubMed XML reader
uses (``Descriptor`` or ``Descriptor/Qualifier``, major-topic stars dropped) so the same
article reads the same from either export. Other tags stay in ``extra``.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from ..errors import InputError
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from . import Format
from ._plaintext import Fields, TaggedRecord, decode_lines, pages, strip_doi, text_date
from ._xmltext import clean, orcid_id

_LINE = re.compile(r"^([A-Z][A-Z0-9]{0,3}) {0,3}- ?(.*)$")
_BRACKETED = re.compile(r"^(.*?)\s*\[([^\]]+)\]$")  # "10.1/x [doi]", "2019/01/21 [received]"
_ISSN_LINE = re.compile(r"^(\S+)\s*\((\w+)\)$")  # "1467-5463 (Print)"
# The first line's shape: a tag padded to four characters, then "- " ("TI  - ", "PMID- ").
_DETECT = re.compile(rb"\A(?:[A-Z][A-Z0-9]{3}|[A-Z][A-Z0-9]{2} |[A-Z][A-Z0-9]  )- ")
_RIS_TYPE = re.compile(rb"^TY  - ", re.MULTILINE)

#: Tag → Article field for the tags that hold one plain value.
_SINGLE = {
    "PMID": "pmid",
    "VI": "volume",
    "IP": "issue",
    "PST": "publication_status",
    "PMC": "pmcid",
    "TT": "vernacular_title",
}
#: Tag → Article field for the tags that repeat, one item per line.
_LISTS = {"LA": "languages", "PT": "publication_types", "OT": "keywords"}
#: ISSN medium as printed after the number → Journal field.
_ISSN = {"print": "issn_print", "electronic": "issn_electronic", "linking": "issn"}
_MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def detect(head: bytes) -> bool:
    """The first line is a MEDLINE tag line, and no RIS ``TY  - `` line (same shape)
    follows; records written without a PMID start at another tag."""
    head = head.lstrip()
    return _DETECT.match(head) is not None and _RIS_TYPE.search(head) is None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a MEDLINE text file.

    Records are separated by blank lines; without one, a ``PMID-`` line starts the next
    record, or a ``PMC -`` line in a PubMed Central export, whose records open with it.
    """
    record: TaggedRecord | None = None
    starter: str | None = None  # the tag that opens each record: PMID, or PMC for PMC files
    index = 0
    for number, line in decode_lines(stream, source):
        if not line.strip():
            if record is not None:
                yield _article(record.pairs(" "), source, index, starter)
                index += 1
                record = None
            continue
        if line.startswith(" ") and record is not None:
            record.extend(line.strip(), number)
            continue
        found = _LINE.match(line)
        if found is None:
            raise InputError(
                f"not a MEDLINE line: {line[:40]!r}",
                f"{source}:{number}",
                "lines must start with a tag such as 'TI  - ' or with spaces (a continued "
                "line); download the file again in PubMed format",
            )
        tag, value = found.groups()
        starter = starter or ("PMC" if tag == "PMC" else "PMID")
        if tag == starter and record is not None:  # no blank line between records
            yield _article(record.pairs(" "), source, index, starter)
            index += 1
            record = None
        if record is None:
            record = TaggedRecord(source, number)
        record.add(tag, value.strip(), number)
    if record is not None:
        yield _article(record.pairs(" "), source, index, starter)


def _article(pairs: list[tuple[str, str]], source: str, index: int, starter: str | None) -> Article:
    f = Fields(pairs)
    values: dict[str, object] = {
        field: clean(f.first(tag)) for tag, field in _SINGLE.items() if f.peek(tag)
    }
    for tag, field in _LISTS.items():
        values[field] = tuple(v for v in map(clean, f.take(tag)) if v)
    values.update(_ids(f))
    first_page, last_page = pages(f.peek("PG"))
    title = clean(f.first("TI"))
    abstract = clean(f.first("AB"))
    authors, affiliations = _authors(f)
    values.update(
        titles=(Text(title),) if title else (),
        abstracts=(Abstract((Section(abstract),)),) if abstract else (),
        journal=_journal(f),
        first_page=first_page,
        last_page=last_page,
        pages=clean(f.first("PG")),
        pub_date=text_date(f.first("DP")),
        history=_history(f),
        authors=authors,
        affiliations=affiliations,
        mesh_terms=tuple(dict.fromkeys(t for v in f.take("MH") for t in _mesh(v))),
    )
    return Article(
        source_format=FORMAT.name,
        source_database="PubMed Central" if starter == "PMC" else "PubMed",
        source_file=source,
        record_index=index,
        extra=f.rest(),
        **values,  # type: ignore[arg-type]
    )


def _ids(f: Fields) -> dict[str, str | None]:
    """DOI and PII from ``LID``/``AID`` (``value [kind]``); an unbracketed ``LID`` is the
    ELocation. A value repeated under both tags is kept once; any other goes to extra."""
    found: dict[str, str | None] = {"doi": None, "publisher_id": None, "elocation": None}
    leftover = []
    for tag, value in f.take_pairs("LID", "AID"):
        match = _BRACKETED.match(value)
        if match is None:
            field, text = ("elocation" if tag == "LID" else ""), value
        else:
            field = {"doi": "doi", "pii": "publisher_id"}.get(match.group(2), "")
            text = strip_doi(match.group(1)) or "" if field == "doi" else match.group(1)
        if field and found[field] is None:
            found[field] = text
        elif not field or found[field] != text:
            leftover.append((tag, value))
    f.give_back(leftover)
    return found


def _journal(f: Fields) -> Journal:
    issns: dict[str, str] = {}
    leftover = []
    for value in f.take("IS"):
        match = _ISSN_LINE.match(value)
        medium = match.group(2).lower() if match else ""
        field = _ISSN.get(medium)
        if match and field and field not in issns:
            issns[field] = match.group(1)
        else:
            leftover.append(("IS", value))
    if "issn" in issns and issns["issn"] in (issns.get("issn_print"), issns.get("issn_electronic")):
        issns.pop("issn")  # the linking ISSN repeats the print or electronic one
    f.give_back(leftover)
    return Journal(title=clean(f.first("JT")), iso_abbrev=clean(f.first("TA")), **issns)


def _history(f: Fields) -> tuple[tuple[str, PubDate], ...]:
    """``PHST - 2019/01/21 00:00 [received]`` lines, and ``DEP`` as the electronic date."""
    history = []
    for value in f.take("PHST"):
        match = _BRACKETED.match(value)
        if match:
            history.append((match.group(2).lower(), text_date(match.group(1).split()[0])))
        else:
            f.give_back([("PHST", value)])
    electronic = f.first("DEP")
    if electronic:
        history.append(("electronic", _compact_date(electronic)))
    return tuple(history)


def _compact_date(value: str) -> PubDate:
    """``20060110`` → 2006-01-10."""
    if re.fullmatch(r"\d{8}", value):
        return text_date(f"{value[:4]}/{value[4:6]}/{value[6:]}")
    return text_date(value)


@dataclass
class _Person:
    """An author while its ``FAU``/``AU``/``AUID``/``AD`` lines are being read."""

    full: str | None = None  # FAU "Casbon, James A"
    short: str | None = None  # AU "Casbon JA"
    collective: str | None = None  # CN
    orcid: str | None = None
    affiliations: list[str] = dataclasses.field(default_factory=list)

    def author(self) -> Author:
        affiliations = tuple(self.affiliations)
        if self.collective:
            return Author(collective=self.collective, affiliations=affiliations)
        short = self.short or ""
        if self.full:
            last, _, first = self.full.partition(",")
            initials = short[len(last) :].strip() if short.startswith(last) else ""
            return Author(
                last=clean(last),
                first=clean(first),
                initials=initials or None,
                orcid=self.orcid,
                affiliations=affiliations,
            )
        last, _, initials = short.rpartition(" ")  # "Mangalam H"
        if not last:
            last, initials = short, ""
        return Author(
            last=clean(last), initials=clean(initials), orcid=self.orcid, affiliations=affiliations
        )


def _authors(f: Fields) -> tuple[tuple[Author, ...], tuple[str, ...]]:
    """Persons from ``FAU``/``AU`` (+ ``AUID`` ORCID, ``AD`` affiliations after them),
    groups from ``CN``, and the record's own affiliations. One ``AD`` before any author
    (pre-2014 records) belongs to the first author; several (as written for a record whose
    affiliations are not tied to authors) belong to the record."""
    people: list[_Person] = []
    early: list[str] = []
    for tag, value in f.take_pairs("FAU", "AU", "AUID", "AD", "CN"):
        value = clean(value) or ""
        current = people[-1] if people else None
        if tag == "FAU":
            people.append(_Person(full=value))
        elif tag == "AU" and current is not None and current.full and current.short is None:
            current.short = value
        elif tag == "AU":
            people.append(_Person(short=value))
        elif tag == "CN":
            people.append(_Person(collective=value))
        elif tag == "AUID" and current is not None and value.upper().startswith("ORCID"):
            current.orcid = orcid_id(value.partition(":")[2])
        elif tag == "AD" and current is not None:
            current.affiliations.append(value)
        elif tag == "AD":
            early.append(value)
        else:
            f.give_back([(tag, value)])
    if len(early) == 1 and people and not people[0].affiliations:
        people[0].affiliations, early = early, []
    return tuple(person.author() for person in people), tuple(early)


def _mesh(value: str) -> Iterator[str]:
    """``Information Storage and Retrieval/*methods/*standards`` →
    ``…/methods``, ``…/standards``; ``*Software`` → ``Software``."""
    descriptor, *qualifiers = (clean(p.lstrip("*")) for p in value.split("/"))
    if not descriptor:
        return
    if not qualifiers:
        yield descriptor
    for qualifier in qualifiers:
        if qualifier:
            yield f"{descriptor}/{qualifier}"


FORMAT = Format(
    name="nbib",
    description="MEDLINE text / PubMed format (.nbib, .txt)",
    xml=False,
    detect=detect,
    read=read,
)


# --------------------------------------------------------------------- writer


def write(articles: Iterable[Article], stream: TextIO) -> int:
    """Write ``articles`` in PubMed (MEDLINE text) format; returns the number written.

    Lines are wrapped at 80 characters with six-space continuation lines, as PubMed
    does. Tags kept in ``extra`` by this reader are written back for nbib records.
    """
    count = 0
    for article in articles:
        if count:
            stream.write("\n")
        for tag, value in _tags(article):
            stream.write(_wrap(tag, value))
        count += 1
    return count


def _tags(article: Article) -> Iterator[tuple[str, str]]:
    journal = article.journal
    yield from _present("PMID", article.pmid)
    for field, medium in (("issn_print", "Print"), ("issn_electronic", "Electronic")):
        issn = getattr(journal, field)
        if issn:
            yield "IS", f"{issn} ({medium})"
    if journal.issn and journal.issn not in (journal.issn_print, journal.issn_electronic):
        yield "IS", f"{journal.issn} (Linking)"
    yield from _present("VI", article.volume)
    yield from _present("IP", article.issue)
    yield from _present("DP", _dp(article.pub_date))
    yield from _present("TI", article.title)
    yield from _present("PG", _pg(article))
    yield from _present("LID", article.elocation)
    if article.doi:
        yield "LID", f"{article.doi} [doi]"
    yield from _present("AB", article.abstract)  # one paragraph, wrapped
    for affiliation in article.affiliations:  # before the authors: tied to none of them
        yield "AD", affiliation
    for author in article.authors:
        yield from _author_tags(author)
    for language in article.languages:
        yield "LA", language
    for kind in article.publication_types:
        yield "PT", kind
    for status, date in article.history:
        if status == "electronic" and date.iso():
            yield "DEP", (date.iso() or "").replace("-", "")
    yield from _present("TA", journal.iso_abbrev)
    yield from _present("JT", journal.title)
    for term in article.mesh_terms:
        yield "MH", term
    yield from _present("PMC", article.pmcid)
    for keyword in article.keywords:
        yield "OT", keyword
    for status, date in article.history:
        if status != "electronic" and date.year is not None:
            yield "PHST", f"{_slash(date)} [{status}]"
    if article.publisher_id:
        yield "AID", f"{article.publisher_id} [pii]"
    yield from _present("PST", article.publication_status)
    yield from _present("TT", article.vernacular_title)
    if article.source_format == FORMAT.name:
        yield from article.extra


def _author_tags(author: Author) -> Iterator[tuple[str, str]]:
    if author.collective:
        yield "CN", author.collective
    else:
        if author.first:
            yield "FAU", f"{author.last}, {author.first}" if author.last else author.first
        elif author.last and not author.initials:  # "Caizhi Shen" as printed: not "Caizhi S"
            yield "FAU", author.last
        yield "AU", author.display
        if author.orcid:
            yield "AUID", f"ORCID: {author.orcid}"
    for affiliation in author.affiliations:
        yield "AD", affiliation


def _dp(date: PubDate) -> str | None:
    if date.raw:
        return date.raw
    if date.year is None:
        return None
    parts = [str(date.year)]
    if date.month:
        parts.append(_MONTH_NAMES[date.month - 1])
        if date.day:
            parts.append(str(date.day))
    return " ".join(parts)


def _slash(date: PubDate) -> str:
    return "/".join(f"{p:02d}" for p in (date.year, date.month, date.day) if p is not None)


def _pg(article: Article) -> str | None:
    if article.pages:
        return article.pages
    if article.first_page and article.last_page:
        return f"{article.first_page}-{article.last_page}"
    return article.first_page


def _present(tag: str, value: str | None) -> Iterator[tuple[str, str]]:
    if value:
        yield tag, value


def _wrap(tag: str, value: str) -> str:
    lines = textwrap.wrap(
        " ".join(value.split()), width=74, break_long_words=False, break_on_hyphens=False
    ) or [""]
    head = f"{tag:<4}- {lines[0]}".rstrip()
    return "\n".join([head, *(f"      {line}" for line in lines[1:])]) + "\n"
