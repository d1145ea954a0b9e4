"""Small helpers shared by the XML readers: namespace-free tags, text with normalised
whitespace, partial dates, page ranges, names and HTML fragments embedded in fields.
The text readers use the XML-free ones (``clean``, dates, pages, ORCID iDs) too."""

from __future__ import annotations

import html
import html.entities
import re
from collections.abc import Iterable

from lxml import etree

from ..records import Author, PubDate, Section
from ..xmlsafe import make_parser

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Elements that end a run of text: their content must not glue onto the neighbours'.
_BLOCKS = frozenset(
    [
        "p",
        "sec",
        "title",
        "list-item",
        "break",
        "addr-line",
        "institution",
        "country",
        "def-item",
        "tr",
        "td",
        "th",
        "caption",
        "disp-quote",
        "label",
        "br",
        "div",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
    ]
)
_HEADINGS = frozenset(["h1", "h2", "h3", "h4", "h5", "h6"])
_PARAGRAPHS = frozenset(["p", "div", "ul", "ol", "blockquote", "li", "table"])
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_YEAR = re.compile(r"\b(\d{4})\b")
_ISO_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")
_ENTITY = re.compile(r"&(?:([A-Za-z][A-Za-z0-9]*);|(?!#\d+;|#x[0-9A-Fa-f]+;))")
_VOID = re.compile(r"<(br|hr|img|wbr)\b([^>]*?)/?>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_LONE_LT = re.compile(r"<(?![A-Za-z/])")  # "p < .001" in an abstract is text, not a tag
_ORCID = re.compile(r"\d{4}-\d{4}-\d{4}-\d{3}[\dXx]")
_PAGE_DASH = re.compile(r"\s*[-–—]\s*")
_PAGE = re.compile(r"[^,;\s]+")


def strip_namespaces(element: etree._Element) -> None:
    """Drop namespaces from every tag under ``element`` (in place), so readers can use
    plain paths whatever schema version a file declares. Attribute names keep theirs."""
    for node in element.iter():
        tag = node.tag
        if isinstance(tag, str) and tag.startswith("{"):
            node.tag = tag.rpartition("}")[2]


def clean(value: str | None) -> str | None:
    """Collapse runs of whitespace to one space and trim; ``None`` for empty text."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def text(element: etree._Element | None, skip: Iterable[str] = ()) -> str | None:
    """All text under ``element`` with inline markup flattened and whitespace normalised.

    Block elements (paragraphs, titles, institutions…) are kept apart by a space;
    children named in ``skip`` are left out (their tails are kept).
    """
    if element is None:
        return None
    parts: list[str] = []
    _walk(element, frozenset(skip), parts)
    return clean("".join(parts))


def _walk(element: etree._Element, skip: frozenset[str], parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    children = list(element)
    if element.tag == "alternatives":  # MathML and TeX of one formula: keep one
        children = children[:1]
    for child in children:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag not in skip:
            block = tag in _BLOCKS
            parts.append(" " if block else "")
            _walk(child, skip, parts)
            parts.append(" " if block else "")
        if child.tail:
            parts.append(child.tail)


def find_text(element: etree._Element, path: str) -> str | None:
    """Normalised text of the first match of ``path`` (``None`` if absent or empty)."""
    return text(element.find(path))


def all_text(element: etree._Element, path: str) -> list[str]:
    """Normalised, non-empty texts of every match of ``path``."""
    return [t for t in (text(e) for e in element.iterfind(path)) if t]


def unique(values: Iterable[str | None]) -> tuple[str, ...]:
    """Non-empty values, first occurrence kept, in order."""
    return tuple(dict.fromkeys(filter(None, values)))


def month(value: str | None) -> int | None:
    """``"04"``, ``"4"``, ``"Apr"`` or ``"April"`` → 4; anything else → ``None``."""
    value = clean(value)
    if value is None:
        return None
    if value.isdecimal():
        number = int(value)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(value.lower().rstrip("."))


def make_date(
    year: str | None, month_: str | None = None, day: str | None = None, raw: str | None = None
) -> PubDate:
    """A :class:`PubDate` from parts as printed; text that is not a plain number goes to
    ``raw`` (e.g. a season) so nothing is lost."""
    year, month_, day, raw = clean(year), clean(month_), clean(day), clean(raw)
    number = month(month_)
    if month_ is not None and number is None:  # "Spring", "Jan-Feb"
        raw = " ".join(p for p in (year, month_, day) if p)
    match = _YEAR.search(year or raw or "")
    day_number = int(day) if day and day.isdecimal() and 1 <= int(day) <= 31 else None
    return PubDate(
        year=int(match.group(1)) if match else None,
        month=number,
        day=day_number if number else None,
        raw=raw,
    )


def iso_date(value: str | None) -> PubDate:
    """``2016-02-11``, ``2013-05`` or ``2013`` (time part ignored); other text → ``raw``."""
    value = clean(value)
    if value is None:
        return PubDate()
    found = _ISO_DATE.match(value)
    if found is None:
        return make_date(None, raw=value)
    date = make_date(*found.groups())
    if found.end() < len(value) and value[found.end()] not in "T ":
        return PubDate(date.year, date.month, date.day, value)
    return date


def split_pages(pages: str | None) -> tuple[str | None, str | None]:
    """``"573-578"`` → (``"573"``, ``"578"``); MEDLINE's ``"573-8"`` → (``"573"``, ``"578"``);
    a single page → (page, ``None``)."""
    pages = clean(pages)
    if pages is None:
        return None, None
    parts = _PAGE_DASH.split(pages)
    if len(parts) == 2 and all(_PAGE.fullmatch(part) for part in parts):
        first, last = parts
        return first, full_last_page(first, last)
    return (pages, None) if _PAGE.fullmatch(pages) else (None, None)


def full_last_page(first: str | None, last: str | None) -> str | None:
    """The last page written out: MEDLINE prints ``1547-55`` for pages 1547 to 1555."""
    if first and last and first.isdecimal() and last.isdecimal() and len(last) < len(first):
        return first[: len(first) - len(last)] + last
    return last


def orcid_id(value: str | None) -> str | None:
    """The bare ORCID iD (``0000-0002-1825-0097``, check digit ``X`` upper-cased) from a
    URL or text; other text as given."""
    value = clean(value)
    found = _ORCID.search(value or "")
    return found.group(0).upper() if found else value


def comma_name(name: str | None) -> Author | None:
    """``"Last, First"`` (or ``"First Last"`` without a comma) as an :class:`Author`."""
    name = clean(name)
    if name is None:
        return None
    last, comma, first = name.partition(",")
    if not comma:
        first, _, last = name.rpartition(" ")
    return Author(last=clean(last), first=clean(first))


def keywords_by_language(
    groups: Iterable[tuple[str | None, list[str]]], primary: str | None
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Split ``(language, keywords)`` groups: those in the ``primary`` language (or the
    first language seen, or none given) become the keywords, the others
    ``("keywords_<lang>", "a; b")`` extras so no language is lost."""
    keywords: list[str] = []
    extra: list[tuple[str, str]] = []
    for lang, words in groups:
        primary = primary or lang
        if lang is None or lang == primary:
            keywords += words
        elif words:
            extra.append((f"keywords_{lang}", "; ".join(words)))
    return unique(keywords), tuple(extra)


def html_text(markup: str | None) -> str | None:
    """An HTML fragment stored as text (e.g. an OJS title with ``<i>``) as plain text."""
    return clean(
        " ".join(
            s.text if s.label is None else f"{s.label} {s.text}" for s in html_sections(markup)
        )
    )


def html_sections(markup: str | None) -> tuple[Section, ...]:
    """Sections of an HTML fragment stored as text (OJS abstracts, Europe PMC ``<h4>``
    headed abstracts): headings become labels, paragraphs become sections."""
    markup = (markup or "").strip()
    if not markup:
        return ()
    root = _parse_fragment(markup)
    if root is None:  # not well-formed even after repairs: keep the text, lose the layout
        flat = clean(html.unescape(_TAG.sub(" ", markup)))
        return (Section(flat),) if flat else ()
    sections: list[Section] = []
    label: str | None = None
    buffer: list[str] = []

    def flush() -> None:
        nonlocal label
        body = clean("".join(buffer))
        buffer.clear()
        if body:
            sections.append(Section(body, label))
            label = None

    buffer.append(root.text or "")
    for child in root:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in _HEADINGS:
            flush()
            if label:  # a heading with no text under it is kept as text
                sections.append(Section(label))
            label = text(child)
        elif tag in _PARAGRAPHS:
            flush()
            buffer.append(text(child) or "")
            flush()
        else:
            buffer.append(f" {text(child) or ''} " if tag in _BLOCKS else (text(child) or ""))
        buffer.append(child.tail or "")
    flush()
    if label:
        sections.append(Section(label))
    return tuple(sections)


def _parse_fragment(markup: str) -> etree._Element | None:
    def entity(found: re.Match[str]) -> str:
        name = found.group(1)
        if name is None:
            return "&amp;"  # a bare ampersand
        if name in ("lt", "gt", "amp", "quot", "apos"):
            return found.group(0)
        char = html.entities.html5.get(f"{name};")
        return html.escape(char) if char else f"&amp;{name};"

    repaired = _VOID.sub(r"<\1\2/>", _LONE_LT.sub("&lt;", _ENTITY.sub(entity, markup)))
    try:
        root = etree.fromstring(f"<div>{repaired}</div>", make_parser())
    except etree.XMLSyntaxError:
        return None
    for node in root.iter():
        if isinstance(node.tag, str):
            node.tag = node.tag.lower()
    return root
