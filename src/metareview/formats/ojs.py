"""OJS native XML (the Open Journal Systems "Native XML" import/export plugin).

Roots ``issue``, ``issues``, ``article`` or ``articles`` in the ``http://pkp.sfu.ca``
namespace. OJS 3.1 keeps the metadata on ``<article>``; 3.2+ on its ``<publication>``
versions (the current one is read). Every locale of titles, abstracts, keywords and
affiliations is kept; the submission's own locale comes first. Volume, number and
year come from the enclosing ``<issue>``. Abstracts are HTML stored as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, TypeVar

from lxml import etree

from ..records import Abstract, Article, Author, Text
from ..xmlsafe import iter_records, local_name
from . import Format
from ._xmltext import (
    all_text,
    clean,
    find_text,
    html_sections,
    html_text,
    iso_date,
    keywords_by_language,
    make_date,
    orcid_id,
    split_pages,
    strip_namespaces,
    text,
    unique,
)

T = TypeVar("T")
NAMESPACE = "http://pkp.sfu.ca"
_ROOTS = frozenset(f"{{{NAMESPACE}}}{name}" for name in ("issue", "issues", "article", "articles"))
#: ``<id type=…>`` → Article field; the internal id is the OJS submission id.
ID_FIELDS = {"internal": "publisher_id", "doi": "doi"}


def detect(root_tag: str) -> bool:
    return root_tag in _ROOTS


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    records = iter_records(stream, source, frozenset({"article"}))
    for index, (_, element) in enumerate(records):
        issue = _issue(element)
        strip_namespaces(element)
        yield _article(element, issue, source, index)


def _issue(article: etree._Element) -> dict[str, str | None]:
    """Volume, number, year and date of the ``<issue>`` around an article (if any)."""
    for ancestor in article.iterancestors():
        if local_name(ancestor.tag) == "issue":
            found: dict[str, str | None] = {}
            for child in ancestor:
                name = local_name(child.tag)
                if name == "issue_identification":
                    for part in child:
                        found[local_name(part.tag)] = text(part)
                elif name == "date_published":
                    found["date_published"] = text(child)
            return found
    return {}


def _current_publication(article: etree._Element) -> etree._Element:
    publications = article.findall("publication")
    if not publications:  # OJS 3.1: the article holds its own metadata
        return article
    current = article.get("current_publication_id")
    for publication in publications:
        if current and find_text(publication, "id[@type='internal']") == current:
            return publication
    return publications[-1]


def _article(
    article: etree._Element, issue: dict[str, str | None], source: str, index: int
) -> Article:
    publication = _current_publication(article)
    locale = publication.get("locale") or article.get("locale")
    fields: dict[str, str | None] = {}
    other_ids: list[tuple[str, str]] = []
    ids = [*article.iterfind("id")]
    ids += publication.findall("id") if publication is not article else []
    for node in ids:
        kind, value = node.get("type") or "other", text(node)
        field = ID_FIELDS.get(kind)
        if field == "doi":  # the publication's (3.2+) comes last and wins
            fields["doi"] = value or fields.get("doi")
        elif field:  # the submission's own id, not a publication version's
            fields.setdefault(field, value)
        elif value:
            other_ids.append((f"id_{kind}", value))
    pages = find_text(publication, "pages")
    first_page, last_page = split_pages(pages)
    date = publication.get("date_published") or article.get("date_published")
    pub_date = iso_date(date or issue.get("date_published"))
    if pub_date.year is None:
        pub_date = make_date(issue.get("year"))
    keywords, keyword_extra = keywords_by_language(
        _by_locale(
            [
                (node.get("locale"), all_text(node, "keyword"))
                for node in publication.iterfind("keywords")
            ],
            locale,
        ),
        locale,
    )
    extra = [
        *(
            (f"subtitle_{n.get('locale')}", t)
            for n in publication.iterfind("subtitle")
            if (t := html_text(n.text))
        ),
        *(
            (f"{tag}_{n.get('locale')}", "; ".join(words))
            for tag in ("subjects", "disciplines")
            for n in publication.iterfind(tag)
            if (words := all_text(n, "*"))
        ),
        *keyword_extra,
        *other_ids,
    ]
    return Article(
        source_format=FORMAT.name,
        source_file=source,
        record_index=index,
        **fields,  # type: ignore[arg-type]
        titles=_titles(publication, locale),
        abstracts=tuple(
            Abstract(sections, lang)
            for lang, node in _by_locale(
                [(n.get("locale"), n) for n in publication.iterfind("abstract")], locale
            )
            if (sections := html_sections(node.text))
        ),
        volume=issue.get("volume"),
        issue=issue.get("number"),
        first_page=first_page,
        last_page=last_page,
        pages=pages,
        pub_date=pub_date,
        history=tuple(
            (kind, iso_date(value))
            for kind, value in (("submitted", article.get("date_submitted")), ("published", date))
            if value
        ),
        authors=tuple(_author(node, locale) for node in publication.iterfind("authors/author")),
        languages=(locale,) if locale else (),
        keywords=keywords,
        extra=tuple(extra),
    )


def _by_locale(items: list[tuple[str | None, T]], locale: str | None) -> list[tuple[str | None, T]]:
    """Items with the submission's locale first, the rest in file order."""
    return sorted(items, key=lambda item: item[0] != locale)


def _titles(publication: etree._Element, locale: str | None) -> tuple[Text, ...]:
    prefixes = {n.get("locale"): html_text(n.text) for n in publication.iterfind("prefix")}
    titles = []
    for lang, node in _by_locale(
        [(n.get("locale"), n) for n in publication.iterfind("title")], locale
    ):
        title = clean(" ".join(p for p in (prefixes.get(lang), html_text(node.text)) if p))
        if title:
            titles.append(Text(title, lang))
    return tuple(titles)


def _author(node: etree._Element, locale: str | None) -> Author:
    def localised(tag: str) -> str | None:
        values = _by_locale([(n.get("locale"), text(n)) for n in node.iterfind(tag)], locale)
        return next((value for _, value in values if value), None)

    # OJS 3.5 nests localised names in <affiliations><affiliation><name>
    names = [*node.iterfind("affiliation"), *node.iterfind("affiliations/affiliation/name")]
    affiliations = _by_locale([(n.get("locale"), text(n)) for n in names], locale)
    return Author(
        last=localised("familyname"),
        first=localised("givenname"),
        orcid=orcid_id(find_text(node, "orcid")),
        affiliations=unique(value for _, value in affiliations),
    )


FORMAT = Format(
    name="ojs",
    description="OJS native XML (pkp.sfu.ca): issue/article export of Open Journal Systems",
    xml=True,
    detect=detect,
    read=read,
)
