"""BibTeX and biblatex (``@article{key, …}``): exports of Zotero, JabRef, Mendeley,
Google Scholar and DOI content negotiation; written back for the same tools.

:mod:`bibtexparser` (v2) splits the file into entries, resolves ``@string`` macros and
removes the outer braces; names are split with its BibTeX name rules. LaTeX in text
fields (accents, ``\\&``, protection braces such as ``{eLife}``) is decoded to Unicode
with :mod:`pylatexenc`; identifiers and URLs are only unescaped, so a ``%`` in a URL is
not taken for a LaTeX comment. Fields with no place in :class:`Article` stay in
``extra``, with the entry type as ``ENTRYTYPE`` and the citation key as ``ID``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from typing import BinaryIO, TextIO

from bibtexparser.entrypoint import parse_string
from bibtexparser.middlewares import RemoveEnclosingMiddleware
from bibtexparser.middlewares.names import (
    parse_single_name_into_parts,
    split_multiple_persons_names,
)
from bibtexparser.model import (
    DuplicateBlockKeyBlock,
    DuplicateFieldKeyBlock,
    Entry,
    ParsingFailedBlock,
)
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from ..errors import InputError, ReviewWarning
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from . import Format
from ._databases import database_name
from ._plaintext import (
    MAX_FIELD_CHARS,
    Fields,
    decode_lines,
    given_names,
    pages,
    place_affiliations,
    strip_doi,
    text_date,
)
from ._xmltext import clean, make_date
from .ris import RIS_TO_BIBTEX, ris_type

_DETECT = re.compile(rb"^\s*@\s*[A-Za-z]+\s*[{(]", re.MULTILINE)
#: Fields holding identifiers or addresses: unescaped, never read as LaTeX.
_VERBATIM = frozenset(
    ("doi", "url", "eprint", "file", "pdf", "pages", "issn", "isbn", "pmid", "pmcid", "eid")
) | frozenset(("year", "date", "month", "urldate"))
_ESCAPED = re.compile(r"\\([_%&#$])")
_SPECIAL = re.compile(r"[\\{}&%$#_~]")
_LIGATURE = re.compile(r"(?<=-)(?=-)|(?<=`)(?=`)|(?<=')(?=')|(?<=[!?])(?=`)")
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_SUFFIX = re.compile(r"(?:Jr|Sr|II|III|IV)\.?", re.IGNORECASE)
_AND = re.compile(r"\band\b", re.IGNORECASE)
_KEY_CHARS = re.compile(r"[^A-Za-z0-9]+")
#: Letters that Unicode decomposition does not turn into ASCII, for citation keys.
_KEY_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ł": "l", "Ł": "L", "đ": "d", "þ": "th"}
)


def _decoder() -> LatexNodes2Text:
    context = get_default_latex_context_db()
    # \url{…} as its text, not "<…>"
    context.add_context_category(
        "metareview", prepend=True, macros=[MacroTextSpec("url", simplify_repl="%s")]
    )
    return LatexNodes2Text(latex_context=context, math_mode="verbatim")


_LATEX = _decoder()
_UNBRACE = RemoveEnclosingMiddleware()
_LITERAL = re.compile(r"(?<!\\)([%&#])")
#: What LaTeX decoding can change; text without any of it is returned as it is.
_MARKUP = re.compile(r"[\\{}$%&~^_]|--|``|''|[!?]`")
_MACRO_END = re.compile(r"\\(?:[A-Za-z]+|.)$")
#: Deepest brace nesting decoded (pylatexenc recurses once per level).
MAX_BRACE_DEPTH = 100
#: Text decoded in pieces of about this many characters: pylatexenc is slow on long
#: fields, and a piece ends only at a space outside braces and math, after no macro.
_CHUNK = 2000


class _TooDeep(ValueError):
    """Braces nested deeper than :data:`MAX_BRACE_DEPTH`."""


def latex_text(value: str) -> str:
    """LaTeX text as Unicode (accents, ``\\&``, ``--``, protection braces removed), in
    time linear in its length. Raises ``_TooDeep`` past :data:`MAX_BRACE_DEPTH`."""
    if _MARKUP.search(value) is None:
        return value
    # Scopus writes "0.52%" and "Taylor & Francis" unescaped: characters, not markup.
    value = _LITERAL.sub(r"\\\1", value)
    return "".join(str(_LATEX.latex_to_text(piece)) for piece in _pieces(value))


def _pieces(value: str) -> Iterator[str]:
    """``value`` cut at spaces where a piece decodes on its own: outside braces and math,
    and not after a macro name (``\\c c``)."""
    depth, math, start = 0, False, 0
    escaped = False
    for position, char in enumerate(value):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
            if depth > MAX_BRACE_DEPTH:
                raise _TooDeep
        elif char == "}":
            depth = max(depth - 1, 0)
        elif char == "$":
            math = not math
        elif (
            char.isspace()
            and position - start >= _CHUNK
            and depth == 0
            and not math
            and _MACRO_END.search(value, max(start, position - 64), position) is None
        ):
            yield value[start:position]
            start = position
    yield value[start:]


# A damaged entry is reported as an InputError with its line; keep bibtexparser's own
# log line about it off stderr (handlers an application configures still get it).
logging.getLogger("bibtexparser").addHandler(logging.NullHandler())


def detect(head: bytes) -> bool:
    """An ``@type{`` line (comment lines and a JabRef header may come first)."""
    return _DETECT.search(head) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    """The entries of a BibTeX file (``@comment``, ``@preamble``, ``@string`` are not
    records). A damaged entry raises an :class:`InputError` at its line."""
    text = "\n".join(line for _, line in decode_lines(stream, source))
    library = parse_string(text)
    index = 0
    for block in library.blocks:
        entry: object = block
        if isinstance(block, DuplicateBlockKeyBlock):
            entry = block.ignore_error_block
            warnings.warn(
                f"{source}:{_line(block)}: the key {block.key!r} is used twice; "
                "both entries are kept",
                ReviewWarning,
                stacklevel=2,
            )
        elif isinstance(block, DuplicateFieldKeyBlock):
            # Scopus repeats funding_details: keep each. bibtexparser leaves such an entry
            # as it stood: remove the outer braces of its values as for the others.
            if isinstance(block.ignore_error_block, Entry):
                entry = _UNBRACE.transform_entry(block.ignore_error_block, library)
        elif isinstance(block, ParsingFailedBlock):
            reason = getattr(block.error, "abort_reason", None) or str(block.error)
            raise InputError(
                f"damaged BibTeX entry: {reason}",
                f"{source}:{_line(block)}",
                "check the braces and quotes of this entry, or export the file again",
            )
        if isinstance(entry, Entry):
            yield _article(entry, source, index)
            index += 1


def _line(block: object) -> int:
    start = getattr(block, "start_line", None)
    return start + 1 if isinstance(start, int) else 1


def _article(entry: Entry, source: str, index: int) -> Article:
    location = f"{source}:{_line(entry)}"
    try:
        return _decoded(entry, source, index, location)
    except _TooDeep:
        raise InputError(
            f"braces nested more than {MAX_BRACE_DEPTH} deep",
            location,
            "this is not a bibliographic entry as databases export them; remove the braces "
            "or the entry",
        ) from None


def _decoded(entry: Entry, source: str, index: int, location: str) -> Article:
    # "funding_text 1" (Scopus writes a no-break space in the name) → funding_text_1
    pairs = [("_".join(field.key.lower().split()), str(field.value)) for field in entry.fields]
    for key, value in pairs:
        if len(value) > MAX_FIELD_CHARS:
            raise InputError(
                f"the {key} field is longer than {MAX_FIELD_CHARS:,} characters",
                location,
                "the file is damaged or is not a bibliographic export; export it again",
            )
    f = Fields((key, _decode(key, value)) for key, value in pairs if key not in _NAMES)
    names = {key: value for key, value in pairs if key in _NAMES}
    authors, affiliations = place_affiliations(
        tuple(_authors(names.pop("author", ""))),
        (a for v in f.take("affiliations", "affiliation") for a in v.split(";")),
    )
    title = clean(f.first("title"))
    abstract = f.first("abstract")
    first_page, last_page = pages(f.peek("pages"))
    printed = f.first("pages")
    extra = [("ENTRYTYPE", entry.entry_type.lower()), ("ID", entry.key)]
    return Article(
        source_format=FORMAT.name,
        source_database=database_name(f.peek("source")),  # kept in extra too
        source_file=source,
        record_index=index,
        pmid=clean(f.first("pmid")),
        doi=strip_doi(f.first("doi")),
        pmcid=clean(f.first("pmcid")),
        url=clean(f.first("url")),
        titles=(Text(title),) if title else (),
        abstracts=(_abstract(abstract),) if abstract else (),
        journal=Journal(
            title=clean(f.first("journal", "journaltitle", "booktitle")),
            iso_abbrev=clean(f.first("shortjournal", "journalabbrev", "abbrev_source_title")),
            issn=clean(f.first("issn")),
            publisher=clean(f.first("publisher")),
        ),
        volume=clean(f.first("volume")),
        issue=clean(f.first("number", "issue")),
        first_page=first_page,
        last_page=last_page,
        pages=clean(printed) if first_page is None else None,
        elocation=clean(f.first("eid", "art_number")),
        pub_date=_date(f),
        authors=authors,
        affiliations=affiliations,
        languages=tuple(v for v in map(clean, f.take("language", "langid")) if v),
        keywords=tuple(
            dict.fromkeys(k for v in f.take("author_keywords", "keywords") for k in _keywords(v))
        ),
        extra=(*extra, *f.rest(), *((k, latex_text(v)) for k, v in names.items())),
    )


_NAMES = frozenset(["author", "editor"])


def _keywords(value: str | None) -> tuple[str, ...]:
    """biblatex separates keywords with commas; some exports use semicolons."""
    value = value or ""
    return tuple(k for k in map(clean, value.split(";" if ";" in value else ",")) if k)


def _decode(key: str, value: str) -> str:
    if key in _VERBATIM:
        return _ESCAPED.sub(r"\1", value).replace("{", "").replace("}", "")
    return latex_text(value)


def _date(f: Fields) -> PubDate:
    """biblatex ``date`` (ISO), else ``year`` with ``month`` (``feb``, ``2``, ``February``)."""
    date = f.first("date")
    if date:
        return text_date(date)
    year, month = clean(f.first("year")), clean(f.first("month"))
    return make_date(year, month) if year else PubDate()


def _authors(value: str) -> Iterator[Author]:
    """BibTeX names joined by ``and``; a name wholly in braces is a group."""
    for name in split_multiple_persons_names(value):
        name = name.strip()
        if name.lower() == "others":  # "and others" means et al.
            continue
        if name.startswith("{") and name.endswith("}") and _balanced(name[1:-1]):
            yield Author(collective=clean(latex_text(name[1:-1])))
            continue
        parts = parse_single_name_into_parts(name, strict=False)
        if parts.jr and _SUFFIX.fullmatch(" ".join(parts.first)):  # "Fulton, James E., Jr."
            parts.first, parts.jr = parts.jr, parts.first

        def text(words: list[str]) -> str | None:
            return clean(latex_text(" ".join(words)))

        last, first, suffix = text(parts.von + parts.last), text(parts.first), text(parts.jr)
        yield Author(last=last, first=first, suffix=suffix)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _abstract(value: str) -> Abstract:
    """Paragraphs are separated by blank lines, as in LaTeX."""
    return Abstract(tuple(Section(p) for p in map(clean, re.split(r"\n\s*\n", value)) if p))


FORMAT = Format(
    name="bibtex",
    description="BibTeX / biblatex (.bib)",
    xml=False,
    detect=detect,
    read=read,
)


# --------------------------------------------------------------------- writer


def write(articles: Iterable[Article], stream: TextIO) -> int:
    """Write ``articles`` as BibTeX entries (UTF-8 text, LaTeX specials escaped);
    returns the number written. Citation keys are kept for records read from BibTeX
    and made as ``Lastname2014`` otherwise, with ``a``, ``b`` … added to keep them unique.
    """
    used: set[str] = set()
    count = 0
    for article in articles:
        key = _key(article, used)
        lines = [f"{name} = {value}" for name, value in _fields(article)]
        body = ",\n  ".join(lines)
        stream.write(f"@{bibtex_type(article)}{{{key},\n  {body}\n}}\n\n")
        count += 1
    return count


def bibtex_type(article: Article) -> str:
    """The entry type: its own for BibTeX records, else the match of its RIS type."""
    extra = dict(article.extra)
    if article.source_format == FORMAT.name and extra.get("ENTRYTYPE"):
        return extra["ENTRYTYPE"]
    return RIS_TO_BIBTEX.get(ris_type(article), "article")


def _key(article: Article, used: set[str]) -> str:
    extra = dict(article.extra)
    base = extra.get("ID") if article.source_format == FORMAT.name else None
    if not base:
        first = article.authors[0] if article.authors else None
        name = (first.last or first.collective) if first else None
        spelled = unicodedata.normalize("NFKD", (name or "anon").translate(_KEY_LETTERS))
        ascii_name = spelled.encode("ascii", "ignore")
        base = _KEY_CHARS.sub("", ascii_name.decode()) or "anon"
        base += str(article.year or "")
    key, suffix = base, 0
    while key in used:
        key = f"{base}{chr(ord('a') + suffix % 26)}{suffix // 26 or ''}"
        suffix += 1
    used.add(key)
    return key


def _fields(article: Article) -> Iterator[tuple[str, str]]:
    journal = article.journal
    if article.authors:
        yield "author", "{" + " and ".join(_name(a) for a in article.authors) + "}"
    yield from _text("affiliations", "; ".join(article.all_affiliations))  # as Scopus writes it
    yield from _text("title", article.title)
    yield from _text("journal", journal.title)
    yield from _text("shortjournal", journal.iso_abbrev)
    if article.year is not None:
        yield "year", f"{{{article.year}}}"
    if article.pub_date.month is not None:
        yield "month", _MONTHS[article.pub_date.month - 1]
    yield from _text("volume", article.volume)
    yield from _text("number", article.issue)
    if article.first_page and article.last_page:
        yield "pages", f"{{{article.first_page}--{article.last_page}}}"
    else:
        yield from _verbatim("pages", article.first_page or article.pages)
    if article.elocation != article.first_page:
        yield from _verbatim("eid", article.elocation)
    yield from _verbatim("doi", article.doi)
    yield from _verbatim("url", article.url)
    yield from _verbatim("issn", journal.issn_print or journal.issn_electronic or journal.issn)
    yield from _text("publisher", journal.publisher)
    if article.abstract:
        yield "abstract", "{" + _latex(article.abstract) + "}"  # paragraphs: blank lines
    if article.keywords:
        joiner = "; " if any("," in k for k in article.keywords) else ", "
        yield from _text("keywords", joiner.join(article.keywords))
    yield from _text("language", ", ".join(article.languages))
    yield from _verbatim("pmid", article.pmid)
    yield from _verbatim("pmcid", article.pmcid)
    own = article.source_format == FORMAT.name
    if not (own and any(name == "source" for name, _ in article.extra)):
        yield from _text("source", article.source_database)  # as Scopus names itself
    if own:
        for name, value in article.extra:
            if name not in ("ENTRYTYPE", "ID"):
                yield from (_verbatim if name in _VERBATIM else _text)(name, value)


def _name(author: Author) -> str:
    given = given_names(author)
    if author.collective or not (given or author.suffix):
        return "{" + _latex(author.collective or author.last or "") + "}"
    parts = [author.last or "", *([author.suffix] if author.suffix else []), given or ""]
    return ", ".join(_name_part(p) for p in parts)


def _name_part(text: str) -> str:
    """A word "and" or a comma inside a name part would split the name list: brace it."""
    text = " ".join(text.split())
    if _AND.search(text) or "," in text:
        return "{" + _latex(text) + "}"
    return _latex(text)


def _text(name: str, value: str | None) -> Iterator[tuple[str, str]]:
    if value:
        yield name, "{" + _latex(" ".join(value.split())) + "}"


def _verbatim(name: str, value: str | None) -> Iterator[tuple[str, str]]:
    if value:
        yield name, "{" + value.replace("{", "").replace("}", "") + "}"


def _latex(text: str) -> str:
    """Escape what LaTeX or BibTeX would read as markup, so the text reads back as is."""

    def escape(found: re.Match[str]) -> str:
        char = found.group(0)
        return {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}"}.get(char, "\\" + char)

    return _LIGATURE.sub("{}", _SPECIAL.sub(escape, text))
