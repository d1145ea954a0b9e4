"""DOAJ article XML (the Directory of Open Access Journals upload/export schema).

Root ``<records>``, one ``<record>`` per article. Authors point at the record's
``affiliationsList`` by ``affiliationId``; names are ``Last, First`` (or as typed).
Elements the schema adds later are kept as ``extra`` (tag, text) pairs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..records import Abstract, Article, Author, Journal, Section, Text
from ..xmlsafe import iter_records
from . import Format
from ._xmltext import (
    all_text,
    comma_name,
    find_text,
    iso_date,
    keywords_by_language,
    orcid_id,
    strip_namespaces,
    text,
    unique,
)

#: ``<record>`` child → Article field.
FIELDS = {
    "volume": "volume",
    "issue": "issue",
    "startPage": "first_page",
    "endPage": "last_page",
    "doi": "doi",
    "publisherRecordId": "publisher_id",
    "fullTextUrl": "url",
}
#: ``<record>`` child → Journal field.
JOURNAL_FIELDS = {
    "journalTitle": "title",
    "issn": "issn_print",
    "eissn": "issn_electronic",
    "publisher": "publisher",
}
_STRUCTURED = frozenset(
    {"language", "publicationDate", "documentType", "title", "abstract", "keywords"}
    | {"authors", "affiliationsList"}
)


def detect(root_tag: str) -> bool:
    return root_tag == "records"


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    for index, (_, element) in enumerate(iter_records(stream, source, frozenset({"record"}))):
        strip_namespaces(element)
        yield _article(element, source, index)


def _article(record: etree._Element, source: str, index: int) -> Article:
    fields: dict[str, str | None] = {}
    journal: dict[str, str | None] = {}
    extra: list[tuple[str, str]] = []
    for child in record:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in FIELDS:
            fields[FIELDS[tag]] = text(child)
        elif tag in JOURNAL_FIELDS:
            journal[JOURNAL_FIELDS[tag]] = text(child)
        elif tag not in _STRUCTURED and (value := text(child)):
            extra.append((tag, value))
    languages = unique(all_text(record, "language"))
    keywords, keyword_extra = keywords_by_language(
        [(node.get("language"), all_text(node, "keyword")) for node in record.iterfind("keywords")],
        None,
    )
    return Article(
        source_format=FORMAT.name,
        source_database="DOAJ",
        source_file=source,
        record_index=index,
        **fields,  # type: ignore[arg-type]
        titles=tuple(
            Text(value, node.get("language"))
            for node in record.iterfind("title")
            if (value := text(node))
        ),
        abstracts=tuple(
            Abstract((Section(value),), node.get("language"))
            for node in record.iterfind("abstract")
            if (value := text(node))
        ),
        journal=Journal(**journal),
        pub_date=iso_date(find_text(record, "publicationDate")),
        authors=_authors(record),
        languages=languages,
        keywords=keywords,
        publication_types=unique(all_text(record, "documentType")),
        extra=(*extra, *keyword_extra),
    )


def _authors(record: etree._Element) -> tuple[Author, ...]:
    affiliations = {
        node.get("affiliationId"): text(node)
        for node in record.iterfind("affiliationsList/affiliationName")
    }
    authors = []
    for node in record.iterfind("authors/author"):
        name = comma_name(find_text(node, "name")) or Author()
        authors.append(
            Author(
                last=name.last,
                first=name.first,
                orcid=orcid_id(find_text(node, "orcid_id")),
                affiliations=unique(affiliations.get(a) for a in all_text(node, "affiliationId")),
            )
        )
    return tuple(authors)


FORMAT = Format(
    name="doaj",
    description="DOAJ article XML: <records> of <record>",
    xml=True,
    detect=detect,
    read=read,
)
