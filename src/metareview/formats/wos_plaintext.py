"""Web of Science plain text ("Plain text file", "Full record" or fewer fields): a header
``FN Clarivate Analytics Web of Science`` (older files: ``FN Thomson Reuters Web of
Science™``) and ``VR 1.0``, then records of ``XX value`` lines from ``PT`` to ``ER``,
continuation lines indented by three spaces, ``EF`` at the end (often without a final
newline).

Fields follow the tag table below. A continuation line of a list tag (authors, addresses,
cited references) is the next item; of any other tag, more of the same text. Authors pair
the full names of ``AF`` with the short ones of ``AU`` (``AF`` is missing from reduced
exports); ``C1`` addresses go to the authors named in their brackets and ``OI`` ORCIDs to
the author they name. Tags without a place in :class:`Article` stay in ``extra``.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ..errors import ReviewWarning
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from . import Format
from ._plaintext import (
    Fields,
    TaggedRecord,
    decode_lines,
    place_affiliations,
    split_items,
    strip_doi,
)
from ._xmltext import clean, make_date, month, orcid_id

_LINE = re.compile(r"^([A-Z][A-Z0-9])(?: (.*))?$")
_DETECT = re.compile(rb"\A(?:FN |PT [A-Z]\r?\n)")
_ANONYMOUS = "[Anonymous]"
_BRACKETED = re.compile(r"^\[([^\]]*)\]\s*(.*)$")  # "[Li, Wei; Dou, Z] Univ X, China."

#: Tag → Article field, for tags that hold one plain value.
_SINGLE = {
    "DI": "doi",
    "PM": "pmid",
    "VL": "volume",
    "IS": "issue",
    "AR": "elocation",
}
#: Tag → Journal field.
_JOURNAL = {
    "SO": "title",
    "JI": "iso_abbrev",
    "SN": "issn_print",
    "EI": "issn_electronic",
    "PU": "publisher",
}
#: Tags whose continuation lines are further items, not more text.
LIST_TAGS = frozenset({"AU", "AF", "BA", "BF", "BE", "CA", "GP", "CR", "C1", "C3"})
#: Tags holding several items separated by semicolons → Article field.
_SEMICOLONS = {"LA": "languages", "DT": "publication_types"}


def detect(head: bytes) -> bool:
    """An ``FN`` header line (or a file that starts with a ``PT J`` record)."""
    return _DETECT.match(head) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """Stream the records of a Web of Science plain-text file."""
    record: TaggedRecord | None = None
    index = 0
    stray: list[int] = []
    for number, line in decode_lines(stream, source):
        if not line.strip():
            continue
        if line.startswith("   ") and record is not None and record.fields:
            record.extend(line.strip(), number)
            continue
        found = _LINE.match(line)
        tag, value = (found.group(1), (found.group(2) or "").strip()) if found else (None, "")
        if tag is None:
            stray.append(number)
        elif tag == "ER" and record is not None:
            yield _article(record, source, index)
            index, record = index + 1, None
        elif record is None and tag in ("FN", "VR", "EF"):
            continue
        elif record is None:
            record = TaggedRecord(source, number)
            record.add(tag, value, number)
        else:
            record.add(tag, value, number)
    if record is not None:
        _warn(source, record.start, "the last record has no ER line; is the file complete?")
        yield _article(record, source, index)
    if stray:
        _warn(
            source,
            stray[0],
            f"{len(stray)} line(s) that are neither a tag line nor an "
            "indented continuation were not read",
        )


def _warn(source: str, line: int, message: str) -> None:
    warnings.warn(f"{source}:{line}: {message}", ReviewWarning, stacklevel=3)


def _article(record: TaggedRecord, source: str, index: int) -> Article:
    return tagged_article(record.pairs(" ", items=LIST_TAGS), FORMAT.name, source, index)


def tagged_article(
    pairs: Iterable[tuple[str, str]], format_name: str, source: str, index: int
) -> Article:
    """One record from its ``(tag, value)`` pairs, a pair for each item of a list tag (an
    author, an address); shared with the tab-delimited export, whose columns are these tags."""
    f = Fields(pairs)
    values: dict[str, object] = {
        field: clean(f.first(tag)) for tag, field in _SINGLE.items() if f.peek(tag)
    }
    values["doi"] = strip_doi(values.get("doi"))  # type: ignore[arg-type]
    if isinstance(values.get("elocation"), str):  # "UNSP 1722034": number unspecified
        values["elocation"] = str(values["elocation"]).removeprefix("UNSP ")
    for tag, field in _SEMICOLONS.items():
        values[field] = tuple(split_items(f.take(tag)))
    journal = Journal(**{field: clean(f.first(tag)) for tag, field in _JOURNAL.items()})
    title = clean(f.first("TI"))
    abstract = clean(f.first("AB"))
    first_page, last_page = clean(f.first("BP")), clean(f.first("EP"))
    authors, affiliations = place_affiliations(*_authors(f))
    return Article(
        source_format=format_name,
        source_database="Web of Science",
        source_file=source,
        record_index=index,
        titles=(Text(title),) if title else (),
        abstracts=(Abstract((Section(abstract),)),) if abstract else (),
        journal=journal,
        first_page=first_page,
        last_page=last_page,
        pub_date=_date(f.first("PY"), f.first("PD")),
        authors=authors,
        affiliations=affiliations,
        keywords=tuple(dict.fromkeys(split_items(f.take("DE", "ID")))),
        **values,  # type: ignore[arg-type]
        extra=f.rest(),
    )


def _date(year: str | None, printed: str | None) -> PubDate:
    """``PY 2020`` with ``PD DEC 16 2020``, ``DEC 2020``, ``2020-Dec``, ``2026 FEB 25`` or
    ``JUN``; a ``PD`` that is not a month and day (``FAL``, ``JAN-FEB``) stays in ``raw``."""
    tokens = re.split(r"[\s-]+", clean(printed) or "")
    years = [t for t in tokens if re.fullmatch(r"\d{4}", t)]
    year = clean(year) or (years[0] if years else None)
    rest = [t for t in tokens if t and t not in years]
    months = [t for t in rest if month(t) is not None and not t.isdecimal()]
    days = [t for t in rest if t.isdecimal()]
    if not rest or len(months) != 1 or len(days) > 1 or len(rest) != len(months) + len(days):
        return make_date(year, raw=clean(printed) if rest else None)
    return make_date(year, months[0], days[0] if days else None)


def _authors(f: Fields) -> tuple[tuple[Author, ...], list[str]]:
    """``AF`` full names paired with ``AU`` short ones, then group authors (``CA``/``GP``),
    with their ``C1`` addresses and ``OI`` ORCIDs; and the addresses that name no author."""
    short, full = f.take("AU"), f.take("AF")
    if _ANONYMOUS in (*short, *full):  # WoS's placeholder is no author; kept in extra
        f.give_back((tag, _ANONYMOUS) for tag, names in (("AU", short), ("AF", full)) if names)
        short = [n for n in short if n != _ANONYMOUS]
        full = [n for n in full if n != _ANONYMOUS]
    if full and len(full) != len(short):
        f.give_back(("AU", name) for name in short)
        short = []
    people = [_person(full_name, short_name) for full_name, short_name in _zip(full, short)]
    groups = [Author(collective=c) for c in map(clean, f.take("CA", "GP")) if c]
    addresses, own = _addresses(f.take("C1"), [*full, *short])
    orcids = _orcids(f.peek("OI"))
    authors = []
    for position, author in enumerate(people):
        names = [
            n for n in (full[position] if full else None, short[position] if short else None) if n
        ]
        orcid = next((orcids[_key(n)] for n in names if _key(n) in orcids), None)
        authors.append(
            dataclasses.replace(
                author, orcid=orcid, affiliations=tuple(addresses.get(_key(names[0]), ()))
            )
        )
    return (*authors, *groups), own


def _zip(full: list[str], short: list[str]) -> list[tuple[str | None, str | None]]:
    if full and short:
        return list(zip(full, short, strict=True))
    return [(name, None) for name in full] or [(None, name) for name in short]


def _person(full: str | None, short: str | None) -> Author:
    """``AF Li, Wei`` and ``AU Li, W``; a reduced export has only ``AU``."""
    last, _, first = (full or short or "").partition(",")
    short_last, _, initials_text = (short or "").partition(",")
    initials = clean(initials_text) if short else None
    if full and "," not in full and full.startswith(f"{short_last} "):  # "Zhang Zhi-Wei"
        last, first = short_last, full[len(short_last) :]
    if full is None:
        first_name = clean(first)
        # "Li, W" holds initials; "Higgins, Kathleen Marie" a full given name
        if first_name and re.fullmatch(r"[A-Z]{1,4}", first_name.replace(".", "")):
            return Author(last=clean(last), initials=first_name.replace(".", ""))
        return Author(last=clean(last), first=first_name)
    given = clean(first)
    if given and given == initials and re.fullmatch(r"[A-Z]{1,4}", given):  # "BREVIK, I"
        given = None
    return Author(last=clean(last), first=given, initials=initials or None)


def _key(name: str) -> str:
    return " ".join(name.replace(",", " ").split()).lower()


def _addresses(lines: list[str], names: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """``[Li, Wei; Dou, Zhiguo] Chinese Acad Forestry, …`` → each named author's
    affiliation; an address without brackets (older records) is the record's."""
    known = {_key(n) for n in names}
    found: dict[str, list[str]] = {}
    own = []
    for line in lines:
        match = _BRACKETED.match(line)
        authors = [_key(n) for n in match.group(1).split(";")] if match else []
        if match and authors and all(a in known for a in authors):
            for author in authors:
                found.setdefault(author, []).append(clean(match.group(2)) or "")
        else:
            own.append(line)
    return found, own


def _orcids(value: str | None) -> dict[str, str]:
    """``OI LI, WEI/0000-0002-2133-9287; Dou, Zhiguo/0000-…`` by lower-cased name."""
    found = {}
    for item in (value or "").split(";"):
        name, _, identifier = item.rpartition("/")
        orcid = orcid_id(identifier.strip())
        if name.strip() and orcid:
            found[_key(name)] = orcid
    return found


FORMAT = Format(
    name="wos-plaintext",
    description="Web of Science plain text (FN Clarivate / Thomson Reuters header)",
    xml=False,
    detect=detect,
    read=read,
)
