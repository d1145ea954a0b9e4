"""Small helpers shared by the text readers (RIS, MEDLINE/nbib, BibTeX): decoding lines
with located errors, a record's tagged fields with what is left over kept as ``extra``,
dates as the tagged formats print them, DOIs without resolver prefixes."""

from __future__ import annotations

import dataclasses
import io
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ..errors import InputError, ReviewWarning
from ..records import Author, PubDate
from ..textcodec import text_codec
from ._xmltext import clean, iso_date, make_date, split_pages

_BOM = b"\xef\xbb\xbf"
_DOI_PREFIX = re.compile(
    r"^(?:https?://)?(?:dx\.)?doi\.org/|^doi:\s*|^doi\s+(?=10\.)", re.IGNORECASE
)
#: Longest field a text reader accepts (characters): far above any real abstract or
#: reference list, low enough that a damaged file cannot take all memory.
MAX_FIELD_CHARS = 4_000_000
_SLASH_DATE = re.compile(r"^\d{4}/")
_DASH_DATE = re.compile(r"^\d{4}-\d")


def decode_lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line of a UTF-8 stream (BOM dropped, line ends
    stripped, Unicode in composed NFC form so ``u`` + combining diaeresis equals ``ü``).
    A peekable stream that starts with a UTF-16 or UTF-32 byte-order mark is read in that
    encoding. Bytes that are not UTF-8 raise an :class:`InputError` at ``file:line:col``."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    codec = text_codec(head)
    lines = (
        _utf8_lines(stream, source) if codec == "utf-8-sig" else _wide_lines(stream, source, codec)
    )
    for number, line in lines:
        # A lone CR ends a line too (old Mac exports); keep line numbers physical.
        line = unicodedata.normalize("NFC", line)
        for part in line.rstrip("\r\n").split("\r"):
            yield number, part


def _utf8_lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, start=1):
        if number == 1:
            raw = raw.removeprefix(_BOM)
        try:
            yield number, raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"byte 0x{raw[exc.start]:02x} is not UTF-8 text",
                f"{source}:{number}:{exc.start + 1}",
                "export the file again as UTF-8, or convert it "
                "(e.g. iconv -f windows-1252 -t utf-8 in.ris > out.ris)",
            ) from None


def _wide_lines(stream: BinaryIO, source: str, codec: str) -> Iterator[tuple[int, str]]:
    text = io.TextIOWrapper(stream, encoding=codec, newline="\n")
    number = 0
    try:
        for number, line in enumerate(text, start=1):
            yield number, line
    except UnicodeDecodeError:
        raise InputError(
            f"broken {codec.upper()} text",
            f"{source}:{number + 1}",
            "export the file again as UTF-8",
        ) from None
    finally:
        text.detach()  # the caller owns the binary stream


class TaggedRecord:
    """The fields of one record of a tagged text format while its lines are read.

    Each field keeps its lines in a list and they are joined once, when the record is
    done (repeated string concatenation would make long fields quadratic). A field
    longer than :data:`MAX_FIELD_CHARS` raises an :class:`InputError` at its line.
    """

    def __init__(self, source: str, start: int):
        self.source = source
        self.start = start  # line number of the record's first line
        self.fields: list[tuple[str, list[str]]] = []
        self._size = 0

    def add(self, tag: str, value: str, number: int) -> None:
        """A new ``tag`` field starting with ``value``."""
        self.fields.append((tag, [value]))
        self._size = 0
        self._grow(value, number)

    def extend(self, value: str, number: int) -> None:
        """A continuation line of the last field."""
        self.fields[-1][1].append(value)
        self._grow(value, number)

    def _grow(self, value: str, number: int) -> None:
        self._size += len(value) + 1
        if self._size > MAX_FIELD_CHARS:
            raise InputError(
                f"the {self.fields[-1][0]} field is longer than {MAX_FIELD_CHARS:,} characters",
                f"{self.source}:{number}",
                "the file is damaged or is not a bibliographic export; export it again",
            )

    @property
    def last_tag(self) -> str | None:
        return self.fields[-1][0] if self.fields else None

    def pairs(
        self, separator: str = "\n", items: frozenset[str] = frozenset()
    ) -> list[tuple[str, str]]:
        """``(tag, value)`` pairs, each field's lines joined by ``separator``; each line of
        a tag in ``items`` (authors, addresses) is a value of its own."""
        found: list[tuple[str, str]] = []
        for tag, lines in self.fields:
            if tag in items:
                found.extend((tag, line) for line in lines)
            else:
                found.append((tag, separator.join(lines)))
        return found


def opened_records(
    lines: Iterable[tuple[int, str]],
    source: str,
    opener: re.Pattern[str],
    tag_line: re.Pattern[str],
) -> Iterator[TaggedRecord]:
    """The records of a format whose records open with a line of their own (Cochrane's
    ``Record #1 of 9``, Ovid's ``<1. >``) and hold ``tag_line`` lines (tag, value groups);
    other lines continue the field before them. A byte-order mark at the start of a line
    (batches joined into one file) is dropped. Lines before the first field of a record
    are reported, not read."""
    record: TaggedRecord | None = None
    stray: list[int] = []
    for number, raw in lines:
        line = raw.lstrip("\ufeff")
        if opener.match(line):
            if record is not None:
                yield record
            record = TaggedRecord(source, number)
            continue
        if not line.strip():
            continue
        found = tag_line.match(line)
        if record is not None and found is not None:
            record.add(found.group(1), found.group(2).strip(), number)
        elif record is not None and record.fields:
            record.extend(line.strip(), number)
        else:
            stray.append(number)
    if record is not None:
        yield record
    if stray:
        warnings.warn(
            f"{source}:{stray[0]}: {len(stray)} line(s) outside any record or before its "
            "first field were not read",
            ReviewWarning,
            stacklevel=3,
        )


def split_items(values: Iterable[str], separator: str = ";") -> Iterator[str]:
    """The items of values that list several (``Article; Early Access``), cleaned."""
    for value in values:
        yield from (item for item in map(clean, value.split(separator)) if item)


class Fields:
    """The ``(tag, value)`` pairs of one record, in file order.

    A reader takes the values it maps to the record model; :meth:`rest` gives the
    pairs nobody took, which become :attr:`Article.extra`, so no text is dropped.
    Empty values (``IS  - `` with nothing after it) count as absent.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]]):
        self._pairs = [(tag, value) for tag, value in pairs if value.strip()]
        self._taken = [False] * len(self._pairs)
        self._returned: list[tuple[str, str]] = []

    def take(self, *tags: str) -> list[str]:
        """Every value of ``tags``, in file order."""
        return [value for _, value in self.take_pairs(*tags)]

    def take_pairs(self, *tags: str) -> list[tuple[str, str]]:
        """Every ``(tag, value)`` of ``tags``, in file order (to follow FAU/AU/AD runs)."""
        found = []
        for index, (tag, value) in enumerate(self._pairs):
            if tag in tags and not self._taken[index]:
                self._taken[index] = True
                found.append((tag, value))
        return found

    def first(self, *tags: str) -> str | None:
        """The first value of any of ``tags``, in the order the tags are given; the
        other values stay for :meth:`rest`."""
        for wanted in tags:
            for index, (tag, value) in enumerate(self._pairs):
                if tag == wanted and not self._taken[index]:
                    self._taken[index] = True
                    return value
        return None

    def peek(self, tag: str) -> str | None:
        """The first value of ``tag`` not yet taken, leaving it for :meth:`rest`."""
        for index, (name, value) in enumerate(self._pairs):
            if name == tag and not self._taken[index]:
                return value
        return None

    def give_back(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Return taken pairs that did not fit the model after all (they go to :meth:`rest`)."""
        self._returned.extend(pairs)

    def rest(self) -> tuple[tuple[str, str], ...]:
        left = [pair for pair, taken in zip(self._pairs, self._taken, strict=True) if not taken]
        return (*left, *self._returned)


def strip_doi(value: str | None) -> str | None:
    """A DOI without ``https://doi.org/``, ``http://dx.doi.org/``, ``doi:`` or ``DOI ``
    (case kept). The one DOI cleaner: every reader uses it, and
    :func:`metareview.dedupe.normalise_doi` builds its match key on it."""
    value = clean(value)
    return clean(_DOI_PREFIX.sub("", value)) if value else None


def text_date(value: str | None) -> PubDate:
    """A date as the text formats print it.

    RIS ``2016/12//`` or ``2014/02/12/other``; MEDLINE ``2002 Sep``, ``2006 Mar 1``;
    ISO ``2009-03`` (biblatex). Anything else (``1998 Dec-1999 Jan``, ``2000 Spring``)
    keeps the whole text in ``raw`` with the first year found.
    """
    value = clean(value)
    if value is None:
        return PubDate()
    if _SLASH_DATE.match(value):
        year, month, day, other = [*value.split("/", 3), "", "", ""][:4]
        date = make_date(year, month or None, day or None)
        if other.strip() or (day and date.day is None) or (month and date.month is None):
            return PubDate(date.year, date.month, date.day, value)
        return date
    if _DASH_DATE.match(value):
        return iso_date(value)
    parts = value.split()
    if 1 <= len(parts) <= 3 and re.fullmatch(r"\d{4}", parts[0]):
        date = make_date(*parts)
        complete = date.month is not None if len(parts) > 1 else True
        if len(parts) == 3 and date.day is None:
            complete = False
        return date if complete else PubDate(date.year, date.month, date.day, value)
    return make_date(None, raw=value)


def pages(value: str | None) -> tuple[str | None, str | None]:
    """First and last page of a printed range (BibTeX's ``--`` too); MEDLINE's shortened
    ``616-7`` → 616, 617."""
    return split_pages(value.replace("--", "-") if value else None)


def given_names(author: Author) -> str | None:
    """First names, or the initials spelled ``J. D.`` so that formats without an initials
    field (RIS, BibTeX) keep every initial."""
    if author.first or not author.initials:
        return author.first
    return " ".join(f"{part}." for part in re.findall(r"[A-Z][a-z]*", author.initials)) or (
        author.initials
    )


def place_affiliations(
    authors: tuple[Author, ...], affiliations: Iterable[str | None]
) -> tuple[tuple[Author, ...], tuple[str, ...]]:
    """Affiliations a file gives for the whole record (RIS ``AD``, BibTeX ``affiliation``):
    a sole person author's own; otherwise the record's, since which author each belongs
    to is not said. Returns the authors and the record-level affiliations."""
    found = tuple(dict.fromkeys(a for a in map(clean, affiliations) if a))
    if found and len(authors) == 1 and not authors[0].collective:
        only = authors[0]
        return (dataclasses.replace(only, affiliations=(*only.affiliations, *found)),), ()
    return authors, found
