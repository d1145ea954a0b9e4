"""Crossref XML: deposits (``doi_batch``) and query results (unixref ``doi_records``,
unixsd ``crossref_result``), whatever schema version the namespace names.

Journal articles and posted content (preprints) become records; other works (books,
conference papers, datasets …) are counted and reported in a warning, not dropped silently.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..errors import ReviewWarning
from ..records import Article, Author, Journal, PubDate, Text
from ..xmlsafe import iter_records, local_name
from . import Format
from ._xmltext import all_text, find_text, make_date, orcid_id, strip_namespaces, text, unique
from .jats import abstract_of

_ROOTS = frozenset({"doi_batch", "doi_records", "crossref_result"})
# doi_record wraps a work in query results; in deposits the works sit in <body>.
_RECORD_TAGS = frozenset(
    {"doi_record", "journal", "posted_content", "book", "conference", "dissertation"}
    | {"report-paper", "standard", "database", "sa_component", "peer_review"}
)
#: Work element → the items in it that become records (``.`` the work itself).
ITEM_TAGS = {"journal": "journal_article", "conference": "conference_paper", "posted_content": "."}
#: Container metadata (journal, proceedings) → Journal field.
CONTAINER_FIELDS = {
    "full_title": "title",
    "proceedings_title": "title",
    "abbrev_title": "iso_abbrev",
    "publisher/publisher_name": "publisher",
}
#: ``publication_date/@media_type`` → history key; print first: it is the citation date.
DATE_KINDS = {"print": "ppub", "online": "epub", "other": "pub"}
#: Element of a work → Article field (text as printed).
SIMPLE_FIELDS = {
    "pages/first_page": "first_page",
    "pages/last_page": "last_page",
    "publisher_item/item_number": "elocation",
    "publisher_item/identifier[@id_type='pii']": "publisher_id",
    "doi_data/doi": "doi",
    "doi_data/resource": "url",
}


def detect(root_tag: str) -> bool:
    namespace, _, name = (
        root_tag[1:].partition("}") if root_tag.startswith("{") else ("", "", root_tag)
    )
    return name in _ROOTS and (not namespace or "crossref.org" in namespace)


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    index = 0
    skipped: Counter[str] = Counter()
    # unixsd keeps a record's publisher in its query, beside it: keep a query's children
    for _, element in iter_records(stream, source, _RECORD_TAGS, context=frozenset({"query"})):
        strip_namespaces(element)
        publisher = None
        if element.tag == "doi_record":  # unixsd keeps the publisher beside the record
            query = element.getparent()
            for item in query if query is not None else ():
                if local_name(item.tag) == "crm-item" and item.get("name") == "publisher-name":
                    publisher = text(item)
            body = query.getparent() if query is not None else None
            while body is not None and query is not None and query.getprevious() is not None:
                del body[0]  # finished queries: keep memory flat on long result files
            works = element.findall("crossref/*")
        else:
            works = [element]
        for work in works:
            items = work.findall(ITEM_TAGS[work.tag]) if work.tag in ITEM_TAGS else []
            if not items:
                skipped[work.tag] += 1
            for item in items:
                yield _article(work, item, source, index, publisher)
                index += 1
    if skipped:
        kinds = ", ".join(f"{count} {kind}" for kind, count in skipped.items())
        warnings.warn(
            f"{source}: skipped works that are not articles, conference papers or preprints "
            f"(or hold none): {kinds}",
            ReviewWarning,
            stacklevel=2,
        )


def _article(
    work: etree._Element, item: etree._Element, source: str, index: int, publisher: str | None
) -> Article:
    container = work.find("journal_metadata")
    if container is None:
        container = work.find("proceedings_metadata")
    issue = work.find("journal_issue")
    dates = _dates(item)
    # the issue's (or proceedings') own dates, kept apart so they do not shadow the item's
    for parent in (issue, container):
        if parent is not None:
            dates += [(f"issue_{kind}", date) for kind, date in _dates(parent)]
    dates += [("accepted", _date(node)) for node in item.iterfind("acceptance_date")]
    dates += [("posted", _date(node)) for node in item.iterfind("posted_date")]
    pub_date = next((d for k, d in dates if k != "accepted"), PubDate())
    lang = item.get("language")
    titles = [Text(t, lang) for t in all_text(item, "titles/title")]
    titles += [
        Text(t, node.get("language"))
        for node in item.iterfind("titles/original_language_title")
        if (t := text(node))
    ]
    abstracts = [abstract_of(node, None) for node in item.iterfind("abstract")]
    extra = [("subtitle", t) for t in all_text(item, "titles/subtitle")]
    extra += [("other_pages", t) for t in all_text(item, "pages/other_pages")]
    extra += [("group_title", t) for t in all_text(item, "group_title")]
    extra += [("conference", t) for t in all_text(work, "event_metadata/conference_name")]
    return Article(
        source_format=FORMAT.name,
        source_database="Crossref",
        source_file=source,
        record_index=index,
        **{field: find_text(item, path) for path, field in SIMPLE_FIELDS.items()},  # type: ignore[arg-type]
        titles=tuple(titles),
        abstracts=tuple(a for a in abstracts if a.sections),
        journal=_journal(container, publisher),
        volume=find_text(issue, "journal_volume/volume") if issue is not None else None,
        issue=find_text(issue, "issue") if issue is not None else None,
        pub_date=pub_date,
        history=tuple(dates),
        authors=_authors(item.find("contributors")),
        languages=(lang,) if lang else (),
        publication_types=unique([item.get("type") or item.tag]),
        extra=tuple(extra),
    )


def _journal(meta: etree._Element | None, publisher: str | None) -> Journal:
    if meta is None:
        return Journal(publisher=publisher)
    fields: dict[str, str | None] = {"publisher": publisher}
    for path, field in CONTAINER_FIELDS.items():
        fields[field] = fields.get(field) or find_text(meta, path)
    for node in meta.iterfind("issn"):
        # the schema's default medium is print
        field = "issn_electronic" if node.get("media_type") == "electronic" else "issn_print"
        fields.setdefault(field, text(node))
    return Journal(**fields)


def _dates(parent: etree._Element) -> list[tuple[str, PubDate]]:
    found = [
        (DATE_KINDS.get(node.get("media_type", "print"), "pub"), _date(node))
        for node in parent.iterfind("publication_date")
    ]
    return sorted(found, key=lambda item: item[0] != "ppub")


def _date(node: etree._Element) -> PubDate:
    return make_date(find_text(node, "year"), find_text(node, "month"), find_text(node, "day"))


def _authors(contributors: etree._Element | None) -> tuple[Author, ...]:
    if contributors is None:
        return ()
    authors = []
    for node in contributors:
        role = node.get("contributor_role")
        if role is None:  # schema 5.4+ may give the role as a child element
            role_node = node.find("role")
            role = role_node.get("type") if role_node is not None else None
        if (role or "author") != "author":
            continue
        if node.tag == "organization":
            authors.append(Author(collective=text(node)))
        elif node.tag == "person_name":
            affiliations = all_text(node, "affiliation")
            affiliations += [
                ", ".join(
                    all_text(inst, "institution_department")
                    + all_text(inst, "institution_name")
                    + all_text(inst, "institution_place")
                )
                for inst in node.iterfind("affiliations/institution")
            ]
            authors.append(
                Author(
                    last=find_text(node, "surname"),
                    first=find_text(node, "given_name"),
                    suffix=find_text(node, "suffix"),
                    orcid=orcid_id(find_text(node, "ORCID")),
                    affiliations=unique(affiliations),
                )
            )
    return tuple(authors)


FORMAT = Format(
    name="crossref",
    description="Crossref XML: doi_batch deposits, unixref/unixsd query results",
    xml=True,
    detect=detect,
    read=read,
)
