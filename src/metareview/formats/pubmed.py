"""PubMed XML: the publisher submission format and MEDLINE/PubMed citations.

Two formats, detected from the document element:

* ``pubmed`` — what publishers send to PubMed: ``<ArticleSet>`` or ``<Articles>`` of
  ``<Article><Journal>…``. Includes the variant OJS journals emit (``<Articles
  JournalTitle=…>`` with lowercase ``<title locale=…>``, ``<abstract locale=…>``,
  ``<affiliation locale=…>`` and ``<web_url>``): tags are matched case-insensitively.
* ``medline`` — what PubMed gives out: ``<PubmedArticleSet>`` (efetch, baseline and
  update files, with ``<DeleteCitation>``) and the legacy ``<MedlineCitationSet>``.

Each record is read in one pass over its children, dispatching on the tag through the
tables below; inline markup (``<i>``, ``<sup>``) is kept as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, BinaryIO, cast

from lxml import etree

from ..records import Abstract, Article, Author, Deletion, Journal, PubDate, Section, Text
from ..xmlsafe import iter_records
from . import Format
from ._plaintext import strip_doi
from ._xmltext import clean, full_last_page, html_sections, make_date, orcid_id, split_pages, unique

Element = etree._Element
Fields = dict[str, Any]

_LINE_BREAK = re.compile(r"[\r\n]+")
_HTML_BLOCK = re.compile(r"</?(?:p|br|div|h[1-6]|ul|ol|li)\b[^>]*>", re.IGNORECASE)


# ---------------------------------------------------------------- shared pieces


def _name(element: Element) -> str:
    tag = element.tag
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _text(element: Element | None) -> str | None:
    """All text under ``element``, markup flattened, whitespace normalised."""
    if element is None:
        return None
    # clean() inlined: this runs for nearly every element of every record
    value = "".join(element.itertext()) if len(element) else element.text  # type: ignore[arg-type]
    return " ".join(value.split()) or None if value else None


def _paragraphs(element: Element) -> list[str]:
    """The text of ``element`` split at line breaks: publishers (OJS) write one
    paragraph per line in an otherwise unstructured abstract."""
    raw = "".join(cast("Iterator[str]", element.itertext())) if len(element) else element.text
    if not raw:
        return []
    if "\n" not in raw and "\r" not in raw:
        return [" ".join(raw.split())]
    return [p for p in (clean(line) for line in _LINE_BREAK.split(raw)) if p]


def _date(element: Element | None) -> PubDate:
    """``<Year><Month><Day>``, ``<Season>`` or free-text ``<MedlineDate>``."""
    if element is None:
        return PubDate()
    parts = {child.tag: child.text for child in element}
    if parts.get("MedlineDate"):
        return make_date(None, raw=parts["MedlineDate"])
    return _ymd(parts.get("Year"), parts.get("Month") or parts.get("Season"), parts.get("Day"))


@lru_cache(maxsize=8192)
def _ymd(year: str | None, month: str | None, day: str | None) -> PubDate:
    # Dates repeat across a corpus and PubDate is immutable: parse each one once.
    return make_date(year, month, day)


def _abstract_sections(element: Element) -> tuple[Section, ...]:
    """``<AbstractText Label= NlmCategory=>`` children, or the element's own text."""
    parts = [c for c in element if c.tag == "AbstractText" or _name(c).lower() == "abstracttext"]
    if not parts:
        return _plain_abstract(element)
    sections: list[Section] = []
    for part in parts:
        label = clean(part.get("Label"))
        category = clean(part.get("NlmCategory"))
        if label or category:
            body = _text(part)
            if body:
                sections.append(Section(body, label, category))
        else:
            sections.extend(Section(p) for p in _paragraphs(part))
    return tuple(sections)


def _plain_abstract(element: Element) -> tuple[Section, ...]:
    """An abstract given as text (OJS): one section per line, per ``<p>`` element, or
    per paragraph of HTML stored as escaped text (``&lt;p&gt;…``)."""
    if any(_name(child).lower() in ("p", "div") for child in element):
        pieces = [element.text, *(t for c in element for t in (_text(c), c.tail))]
        return tuple(Section(p) for p in (clean(piece) for piece in pieces) if p)
    raw = element.text if not len(element) else None
    if raw and _HTML_BLOCK.search(raw):
        return html_sections(raw)
    return tuple(Section(p) for p in _paragraphs(element))


def _abstract(element: Element, lang: str | None = None, kind: str | None = None) -> Abstract:
    return Abstract(_abstract_sections(element), lang=lang, kind=kind)


def _author(element: Element) -> Author:
    parts: Fields = {}
    affiliations: list[str] = []
    for child in element:
        part = _AUTHOR_PARTS.get(child.tag)
        if part is None:
            part = _AUTHOR_PARTS.get(_name(child).lower())
            if part is None:
                continue
        if part in _NAME_PARTS:
            value = child.text  # clean() inlined: names are most of an author
            parts[part] = " ".join(value.split()) or None if value else None
        elif part == "affiliations":  # <AffiliationInfo><Affiliation> or <Affiliation>
            nodes = [n for n in child if n.tag == "Affiliation"] if len(child) else [child]
            for node in nodes:
                if value := _text(node):
                    affiliations.append(value)
        elif part == "orcid":
            if (child.get("Source") or "").upper() == "ORCID":
                parts["orcid"] = orcid_id(child.text)
        else:
            parts[part] = _text(child) if len(child) else clean(child.text)
    if "middle" in parts:  # publisher format: FirstName + MiddleName
        middle = parts.pop("middle")
        parts["first"] = " ".join(p for p in (parts.get("first"), middle) if p) or None
    return Author(affiliations=tuple(affiliations), **parts)


_NAME_PARTS = frozenset(["last", "first", "middle", "initials", "suffix"])
# Tag (as MEDLINE spells it, and in lower case for the OJS variant) -> Author field.
_AUTHOR_PARTS = {
    tag: part
    for name, part in [
        ("LastName", "last"),
        ("ForeName", "first"),
        ("FirstName", "first"),
        ("MiddleName", "middle"),
        ("Initials", "initials"),
        ("Suffix", "suffix"),
        ("CollectiveName", "collective"),
        ("AffiliationInfo", "affiliations"),
        ("Affiliation", "affiliations"),
        ("Identifier", "orcid"),
    ]
    for tag in (name, name.lower())
}


def _authors(element: Element) -> tuple[Author, ...]:
    return tuple(
        _author(a) for a in element if a.tag == "Author" or _name(a).lower() == "author"
    )


def _article_ids(element: Element, f: Fields) -> None:
    """``<ArticleIdList>``: the ids it gives win over ELocationIDs read earlier."""
    for child in element:
        kind = (child.get("IdType") or "").lower()
        field = _ID_FIELDS.get(kind)
        value = clean(child.text)
        if field and value:
            f[field] = strip_doi(value) if field == "doi" else value


_ID_FIELDS = {
    "pubmed": "pmid",
    "doi": "doi",
    "pmc": "pmcid",
    "pmcid": "pmcid",
    "pii": "publisher_id",
}


def _elocation(child: Element, f: Fields) -> None:
    """Any ``<ELocationID EIdType="doi">`` gives the DOI, not only the last one."""
    kind = (child.get("EIdType") or "").lower()
    value = clean(child.text)
    if not value:
        return
    if kind == "doi":
        f.setdefault("doi", strip_doi(value))
    else:
        f.setdefault("elocation", value)
        if kind == "pii":
            f.setdefault("publisher_id", value)


def _history(element: Element) -> list[tuple[str, PubDate]]:
    return [
        ((date.get("PubStatus") or "other").lower(), _date(date))
        for date in element
        if isinstance(date.tag, str)
    ]


def _add_extra(f: Fields, key: str, value: str | None) -> None:
    if value:
        f.setdefault("extra", []).append((key, value))


def _finish(f: Fields, source: str, index: int, fmt: str) -> Article:
    """Turn the collected fields into an :class:`Article` (lists to tuples, pages split)."""
    journal = Journal(**f.pop("journal", {}))
    first, last = f.get("first_page"), f.get("last_page")
    if not first and f.get("pages"):
        first, last = split_pages(f["pages"])
    f["first_page"], f["last_page"] = first, full_last_page(first, last)
    for key in (
        "titles",
        "abstracts",
        "history",
        "authors",
        "languages",
        "keywords",
        "mesh_terms",
        "publication_types",
        "extra",
    ):
        if key in f:
            f[key] = tuple(unique(f[key]) if key in _UNIQUE else f[key])
    database = "PubMed" if fmt == "medline" else None  # publisher files come from journals
    return Article(
        source_format=fmt,
        source_database=database,
        source_file=source,
        record_index=index,
        journal=journal,
        **f,
    )


_UNIQUE = frozenset(["languages", "keywords", "mesh_terms", "publication_types"])


# ---------------------------------------------------------------- MEDLINE
# Handlers take (element, fields) and fill fields; the tables map a child tag to its handler.

Handler = Callable[[Element, Fields], None]


def _dispatch(element: Element, table: dict[str, Handler], f: Fields) -> None:
    for child in element:
        handler = table.get(child.tag)
        if handler is not None:
            handler(child, f)


def _set(field: str) -> Handler:
    def handler(element: Element, f: Fields) -> None:
        f[field] = _text(element)

    return handler


def _append(field: str) -> Handler:
    def handler(element: Element, f: Fields) -> None:
        if value := _text(element):
            f.setdefault(field, []).append(value)

    return handler


def _extend(field: str) -> Handler:
    def handler(element: Element, f: Fields) -> None:
        f.setdefault(field, []).extend(_text(child) for child in element)

    return handler


def _set_journal(field: str) -> Handler:
    def handler(element: Element, f: Fields) -> None:
        f.setdefault("journal", {})[field] = _text(element)

    return handler


def _extra(key: str) -> Handler:
    def handler(element: Element, f: Fields) -> None:
        _add_extra(f, key, _text(element))

    return handler


def _issn(element: Element, f: Fields) -> None:
    medium = (element.get("IssnType") or "").lower()
    key = {"print": "issn_print", "electronic": "issn_electronic"}.get(medium, "issn")
    f.setdefault("journal", {})[key] = clean(element.text)


def _pub_date(element: Element, f: Fields) -> None:
    f["pub_date"] = _date(element)


def _title(element: Element, f: Fields) -> None:
    if title := _text(element):
        f.setdefault("titles", []).append(Text(title))


def _medline_abstract(element: Element, f: Fields) -> None:
    f.setdefault("abstracts", []).insert(0, _abstract(element))
    for note in element:
        if note.tag == "CopyrightInformation":
            _add_extra(f, "copyright", _text(note))


def _other_abstract(element: Element, f: Fields) -> None:
    lang = clean(element.get("Language"))
    kind = clean(element.get("Type"))
    f.setdefault("abstracts", []).append(_abstract(element, lang, kind))


def _author_list(element: Element, f: Fields) -> None:
    if (element.get("Type") or "authors").lower() == "authors":  # not a book's editors
        f["authors"] = list(_authors(element))


def _legacy_affiliation(element: Element, f: Fields) -> None:
    # Before 2014 MEDLINE gave one affiliation per article: that of the first author.
    f["_affiliation"] = _text(element)


def _article_date(element: Element, f: Fields) -> None:
    kind = (element.get("DateType") or "electronic").lower()
    f.setdefault("history", []).append((kind, _date(element)))


def _mesh(element: Element, f: Fields) -> None:
    """``Descriptor`` or, once per qualifier, ``Descriptor/Qualifier``."""
    terms = f.setdefault("mesh_terms", [])
    for heading in element:
        descriptor = None
        qualifiers = []
        for part in heading:  # <DescriptorName> then its <QualifierName>s
            tag = part.tag
            if tag == "QualifierName":
                if value := _text(part):
                    qualifiers.append(value)
            elif tag == "DescriptorName":
                descriptor = _text(part)
        if descriptor:
            if qualifiers:
                terms += [f"{descriptor}/{q}" for q in qualifiers]
            else:
                terms.append(descriptor)


def _history_handler(element: Element, f: Fields) -> None:
    f.setdefault("history", []).extend(_history(element))


def _ids_handler(element: Element, f: Fields) -> None:
    _article_ids(element, f)


def _elocation_handler(element: Element, f: Fields) -> None:
    _elocation(element, f)


def _journal_issue(element: Element, f: Fields) -> None:
    _dispatch(element, _JOURNAL_ISSUE, f)


def _medline_journal(element: Element, f: Fields) -> None:
    _dispatch(element, _MEDLINE_JOURNAL, f)


def _pagination(element: Element, f: Fields) -> None:
    _dispatch(element, _PAGINATION, f)


def _medline_article(element: Element, f: Fields) -> None:
    _dispatch(element, _MEDLINE_ARTICLE, f)


def _journal_info(element: Element, f: Fields) -> None:
    for child in element:
        if child.tag == "MedlineTA":
            _add_extra(f, "medline_ta", _text(child))
        elif child.tag == "ISSNLinking":
            _add_extra(f, "issn_linking", _text(child))


def _book(element: Element, f: Fields) -> None:
    _dispatch(element, _BOOK, f)


_JOURNAL_ISSUE: dict[str, Handler] = {
    "Volume": _set("volume"),
    "Issue": _set("issue"),
    "PubDate": _pub_date,
}
_MEDLINE_JOURNAL: dict[str, Handler] = {
    "ISSN": _issn,
    "Title": _set_journal("title"),
    "ISOAbbreviation": _set_journal("iso_abbrev"),
    "JournalIssue": _journal_issue,
}
_PAGINATION: dict[str, Handler] = {
    "MedlinePgn": _set("pages"),
    "StartPage": _set("first_page"),
    "EndPage": _set("last_page"),
}
_MEDLINE_ARTICLE: dict[str, Handler] = {
    "Journal": _medline_journal,
    "ArticleTitle": _title,
    "VernacularTitle": _set("vernacular_title"),
    "Pagination": _pagination,
    "ELocationID": _elocation_handler,
    "Abstract": _medline_abstract,
    "AuthorList": _author_list,
    "Affiliation": _legacy_affiliation,
    "Language": _append("languages"),
    "PublicationTypeList": _extend("publication_types"),
    "ArticleDate": _article_date,
}
_MEDLINE_CITATION: dict[str, Handler] = {
    "PMID": _set("pmid"),
    "Article": _medline_article,
    "MeshHeadingList": _mesh,
    "KeywordList": _extend("keywords"),
    "OtherAbstract": _other_abstract,
    "CoiStatement": _extra("coi_statement"),
    "MedlineJournalInfo": _journal_info,
}
_PUBMED_DATA: dict[str, Handler] = {
    "History": _history_handler,
    "PublicationStatus": _set("publication_status"),
    "ArticleIdList": _ids_handler,
}
_BOOK: dict[str, Handler] = {
    "BookTitle": _set_journal("title"),
    "Publisher": lambda element, f: f.setdefault("journal", {}).update(
        publisher=_text(element.find("PublisherName"))
    ),
    "PubDate": _pub_date,
    "Volume": _set("volume"),
}
_BOOK_DOCUMENT: dict[str, Handler] = {
    **_MEDLINE_ARTICLE,
    "PMID": _set("pmid"),
    "ArticleIdList": _ids_handler,
    "Book": _book,
    "PublicationType": _append("publication_types"),
    "KeywordList": _extend("keywords"),
}
_PUBMED_ARTICLE: dict[str, Handler] = {
    "MedlineCitation": lambda element, f: _dispatch(element, _MEDLINE_CITATION, f),
    "PubmedData": lambda element, f: _dispatch(element, _PUBMED_DATA, f),
    "BookDocument": lambda element, f: _dispatch(element, _BOOK_DOCUMENT, f),
    "PubmedBookData": lambda element, f: _dispatch(element, _PUBMED_DATA, f),
}

_MEDLINE_ROOTS = frozenset(["PubmedArticleSet", "MedlineCitationSet", "PubmedBookArticleSet"])
_MEDLINE_RECORDS = frozenset(
    ["PubmedArticle", "PubmedBookArticle", "MedlineCitation", "DeleteCitation"]
)


def _with_legacy_affiliation(f: Fields) -> None:
    affiliation = f.pop("_affiliation", None)
    if not affiliation:
        return
    authors = f.get("authors")
    if authors and not authors[0].affiliations:
        first = authors[0]
        authors[0] = Author(
            first.last,
            first.first,
            first.initials,
            first.suffix,
            first.collective,
            first.orcid,
            (affiliation,),
        )
    else:
        _add_extra(f, "affiliation", affiliation)


def read_medline(stream: BinaryIO, source: str) -> Iterator[Article | Deletion]:
    """Stream the articles (and ``DeleteCitation`` PMIDs, as :class:`Deletion`) of a
    ``PubmedArticleSet`` / ``MedlineCitationSet`` file."""
    index = 0
    for _, record in iter_records(stream, source, _MEDLINE_RECORDS):
        tag = _name(record)
        if tag == "DeleteCitation":
            for pmid in record:
                if value := clean(pmid.text):
                    yield Deletion(value, source)
            continue
        f: Fields = {}
        if tag == "MedlineCitation":
            _dispatch(record, _MEDLINE_CITATION, f)
        else:
            _dispatch(record, _PUBMED_ARTICLE, f)
        _with_legacy_affiliation(f)
        yield _finish(f, source, index, "medline")
        index += 1


# ---------------------------------------------------------------- publisher format
# Tags are compared in lower case: the OJS variant writes <title>, <abstract>, <web_url>.


def _lower_dispatch(element: Element, table: dict[str, Handler], f: Fields) -> None:
    for child in element:
        handler = table.get(_name(child).lower())
        if handler is not None:
            handler(child, f)
        elif not len(child) and (value := _text(child)):
            _add_extra(f, _name(child), value)  # an unknown field: kept, not dropped


def _locale_title(element: Element, f: Fields) -> None:
    if title := _text(element):
        lang = clean(element.get("locale") or element.get("Language"))
        f.setdefault("titles", []).append(Text(title, lang))


def _publisher_abstract(element: Element, f: Fields) -> None:
    lang = clean(element.get("locale") or element.get("Language"))
    abstract = _abstract(element, lang)
    if abstract.sections:
        f.setdefault("abstracts", []).append(abstract)


def _publisher_other_abstract(element: Element, f: Fields) -> None:
    lang = clean(element.get("Language") or element.get("locale"))
    abstract = _abstract(element, lang, clean(element.get("Type")))
    if abstract.sections:
        f.setdefault("abstracts", []).append(abstract)


def _publisher_journal(element: Element, f: Fields) -> None:
    _lower_dispatch(element, _PUBLISHER_JOURNAL, f)


def _object_list(element: Element, f: Fields) -> None:
    """``<Object Type="keyword"><Param Name="value">``; other objects (grants) go to extra."""
    for obj in element:
        kind = (obj.get("Type") or "").lower()
        values = [v for v in (_text(p) for p in obj) if v]
        if kind == "keyword":
            f.setdefault("keywords", []).extend(values)
        elif values:
            _add_extra(f, kind or "object", " | ".join(values))


def _publisher_history(element: Element, f: Fields) -> None:
    f.setdefault("history", []).extend(_history(element))


def _publisher_pub_date(element: Element, f: Fields) -> None:
    f["pub_date"] = _date(element)
    if status := clean(element.get("PubStatus")):
        f.setdefault("publication_status", status)


def _keywords(element: Element, f: Fields) -> None:
    words = [w for w in (_text(k) for k in element) if w] if len(element) else [_text(element)]
    f.setdefault("keywords", []).extend(words)


_PUBLISHER_JOURNAL: dict[str, Handler] = {
    "publishername": _set_journal("publisher"),
    "journaltitle": _set_journal("title"),
    "issn": _issn,
    "volume": _set("volume"),
    "issue": _set("issue"),
    "pubdate": _publisher_pub_date,
}
_PUBLISHER_ARTICLE: dict[str, Handler] = {
    "journal": _publisher_journal,
    "articletitle": _locale_title,
    "title": _locale_title,
    "vernaculartitle": _set("vernacular_title"),
    "firstpage": _set("first_page"),
    "lastpage": _set("last_page"),
    "elocationid": _elocation_handler,
    "language": _append("languages"),
    "authorlist": _author_list,
    "publicationtype": _append("publication_types"),
    "articleidlist": _ids_handler,
    "history": _publisher_history,
    "abstract": _publisher_abstract,
    "otherabstract": _publisher_other_abstract,
    "objectlist": _object_list,
    "keywords": _keywords,
    "web_url": _set("url"),
    "copyrightinformation": _extra("copyright"),
    "coistatement": _extra("coi_statement"),
    "replaces": _extra("replaces"),
    # references and investigator groups are not part of the record's own metadata
    "referencelist": lambda element, f: None,
    "grouplist": lambda element, f: None,
}

_PUBLISHER_ROOTS = frozenset(["ArticleSet", "Articles"])


def read_publisher(stream: BinaryIO, source: str) -> Iterator[Article | Deletion]:
    """Stream the articles of a publisher ``<ArticleSet>`` / OJS ``<Articles>`` file."""
    for index, (_, record) in enumerate(iter_records(stream, source, frozenset(["Article"]))):
        f: Fields = {}
        _lower_dispatch(record, _PUBLISHER_ARTICLE, f)
        if not f.get("journal", {}).get("title"):  # OJS: <Articles JournalTitle=…>
            root = record.getroottree().getroot()
            if title := clean(root.get("JournalTitle")):
                f.setdefault("journal", {})["title"] = title
        if f.get("titles") and len(f.get("abstracts", ())) > 1:
            # the primary abstract is the one in the primary title's language
            lang = f["titles"][0].lang
            f["abstracts"].sort(key=lambda abstract: abstract.lang != lang)
        yield _finish(f, source, index, "pubmed")


def _root_in(names: frozenset[str]) -> Callable[[str], bool]:
    return lambda tag: tag.rpartition("}")[2] in names


PUBMED_PUBLISHER = Format(
    name="pubmed",
    description="PubMed publisher XML: <ArticleSet>, OJS <Articles>",
    xml=True,
    detect=_root_in(_PUBLISHER_ROOTS),
    read=read_publisher,
)
MEDLINE = Format(
    name="medline",
    description="PubMed/MEDLINE XML: <PubmedArticleSet>, efetch, <MedlineCitationSet>",
    xml=True,
    detect=_root_in(_MEDLINE_ROOTS),
    read=read_medline,
)
FORMATS = [PUBMED_PUBLISHER, MEDLINE]
