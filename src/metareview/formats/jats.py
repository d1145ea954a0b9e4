"""JATS / NLM article XML (PMC ``.nxml``, PLOS, eLife, BMC, SciELO …).

Reads ``front/article-meta`` (and ``journal-meta``) of every ``<article>``, also inside a
``<pmc-articleset>``. Titles and abstracts keep their ``xml:lang`` (the article's own
language when an element does not say, as XML inherits it); every ``pub-date`` variant
is kept in ``history`` and the first of :data:`PUB_DATE_PREFERENCE` becomes the
publication date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from ..errors import InputError
from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from ..xmlsafe import iter_records
from . import Format
from ._xmltext import (
    XML_LANG,
    all_text,
    comma_name,
    find_text,
    iso_date,
    keywords_by_language,
    make_date,
    orcid_id,
    strip_namespaces,
    text,
    unique,
)

#: ``article-id/@pub-id-type`` → Article field.
ID_FIELDS = {
    "doi": "doi",
    "pmid": "pmid",
    "pmc": "pmcid",
    "pmcid": "pmcid",
    "publisher-id": "publisher_id",
}
#: ``article-meta`` child → Article field (text as printed).
SIMPLE_FIELDS = {
    "volume": "volume",
    "issue": "issue",
    "fpage": "first_page",
    "lpage": "last_page",
    "elocation-id": "elocation",
    "page-range": "pages",
}
#: Which ``pub-date`` becomes :attr:`Article.pub_date` (the rest stay in ``history``).
PUB_DATE_PREFERENCE = ("epub-ppub", "ppub", "epub", "collection", "pub")
_ISSN_MEDIA = {"ppub": "issn_print", "print": "issn_print"}
_ISSN_MEDIA |= {"epub": "issn_electronic", "electronic": "issn_electronic"}
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


def detect(root_tag: str) -> bool:
    """A bare ``<article>`` (OJS's is namespaced), a PMC set, or an article in a JATS
    namespace (``https://jats.nlm.nih.gov/ns/…``, used by PMC's OAI service)."""
    if root_tag in ("article", "pmc-articleset"):
        return True
    namespace, _, name = root_tag[1:].partition("}")
    return name == "article" and "jats.nlm.nih.gov" in namespace


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    for index, (_, element) in enumerate(iter_records(stream, source, frozenset({"article"}))):
        strip_namespaces(element)
        yield parse_article(element, source, index)


def parse_article(article: etree._Element, source: str, index: int) -> Article:
    meta = article.find("front/article-meta")
    if meta is None:
        raise InputError(
            f"article {index + 1} has no <front>/<article-meta>",
            source,
            "if it is not JATS, name its format with --from",
        )
    lang = article.get(XML_LANG)
    fields: dict[str, str | None] = {}
    other_ids: list[tuple[str, str]] = []
    for node in meta.iterfind("article-id"):
        kind = (node.get("pub-id-type") or "other").lower()
        value = text(node)
        if kind in ID_FIELDS and not fields.get(ID_FIELDS[kind]):
            fields[ID_FIELDS[kind]] = value
        elif value:
            other_ids.append((f"id_{kind}", value))
    for tag, field in SIMPLE_FIELDS.items():
        fields[field] = find_text(meta, tag)
    pmcid = fields.get("pmcid")
    if pmcid and pmcid.isdecimal():
        fields["pmcid"] = f"PMC{pmcid}"
    dates = _dates(meta)
    keywords, extra = _keywords(meta, lang)
    self_uri = meta.find("self-uri")
    return Article(
        source_format=FORMAT.name,
        source_file=source,
        record_index=index,
        **fields,  # type: ignore[arg-type]
        url=self_uri.get(_XLINK_HREF) if self_uri is not None else None,
        titles=_titles(meta, lang),
        abstracts=_abstracts(meta, lang),
        journal=_journal(article.find("front/journal-meta")),
        pub_date=_pick_date(dates),
        history=dates,
        authors=_authors(meta),
        languages=(lang,) if lang else (),
        keywords=keywords,
        publication_types=unique([article.get("article-type")]),
        extra=(
            *(("subtitle", t) for t in all_text(meta, "title-group/subtitle")),
            *(("alt_title", t) for t in all_text(meta, "title-group/alt-title")),
            *(
                ("subject", t)
                for t in all_text(
                    meta, "article-categories/subj-group[@subj-group-type='heading']/subject"
                )
            ),
            *other_ids,
            *extra,
        ),
    )


def _titles(meta: etree._Element, lang: str | None) -> tuple[Text, ...]:
    titles = []
    for node in meta.iterfind("title-group/article-title"):
        value = text(node)
        if value:
            titles.append(Text(value, node.get(XML_LANG) or lang))
    # JATS puts translations in trans-title-group; NLM 2.x had bare trans-title.
    for node in meta.iterfind("title-group/trans-title-group/trans-title"):
        group = node.getparent()
        value = text(node)
        if value and group is not None:
            titles.append(Text(value, node.get(XML_LANG) or group.get(XML_LANG)))
    for node in meta.iterfind("title-group/trans-title"):
        value = text(node)
        if value:
            titles.append(Text(value, node.get(XML_LANG)))
    return tuple(titles)


def _abstracts(meta: etree._Element, lang: str | None) -> tuple[Abstract, ...]:
    found = [abstract_of(node, lang) for node in meta.iterfind("abstract")]
    found += [abstract_of(node, None) for node in meta.iterfind("trans-abstract")]
    found = [a for a in found if a.sections]
    # the plain abstract first: digests and graphical abstracts may precede it in the file
    return tuple(sorted(found, key=lambda a: a.kind is not None))


def abstract_of(node: etree._Element, lang: str | None) -> Abstract:
    """A JATS ``abstract`` / ``trans-abstract`` (also Crossref's ``jats:abstract``):
    each ``sec`` becomes a labelled section, each loose paragraph a section."""
    sections = []
    if node.text and node.text.strip():
        sections.append(Section(" ".join(node.text.split())))
    for child in node:
        # the abstract's own heading ("Abstract", "Resumo") is not part of its text
        if child.tag not in ("title", "label"):
            if child.tag == "sec":
                label = find_text(child, "title") or find_text(child, "label")
                body = text(child, skip=("title", "label"))
            else:
                label, body = None, text(child)
            if body:
                sections.append(Section(body, label))
        if child.tail and child.tail.strip():
            sections.append(Section(" ".join(child.tail.split())))
    return Abstract(tuple(sections), node.get(XML_LANG) or lang, node.get("abstract-type"))


def _journal(meta: etree._Element | None) -> Journal:
    if meta is None:
        return Journal()
    issns: dict[str, str | None] = {}
    for node in meta.iterfind("issn"):
        medium = node.get("pub-type") or node.get("publication-format") or ""
        issns.setdefault(_ISSN_MEDIA.get(medium.lower(), "issn"), text(node))
    return Journal(
        title=find_text(meta, "journal-title-group/journal-title")
        or find_text(meta, "journal-title"),
        iso_abbrev=find_text(meta, "journal-id[@journal-id-type='iso-abbrev']")
        or find_text(meta, "journal-title-group/abbrev-journal-title[@abbrev-type='iso']"),
        publisher=find_text(meta, "publisher/publisher-name"),
        **issns,
    )


def _dates(meta: etree._Element) -> tuple[tuple[str, PubDate], ...]:
    dates = []
    for node in meta.iterfind("pub-date"):
        kind = node.get("pub-type")
        if kind is None:  # JATS 1.1+: date-type + publication-format
            date_type = node.get("date-type") or "pub"
            medium = {"electronic": "epub", "print": "ppub"}.get(node.get("publication-format", ""))
            kind = date_type if date_type != "pub" or medium is None else medium
        dates.append((kind, _date(node)))
    for node in meta.iterfind("history/date"):
        dates.append((node.get("date-type") or "history", _date(node)))
    return tuple(dates)


def _date(node: etree._Element) -> PubDate:
    if node.find("year") is None and node.get("iso-8601-date"):
        return iso_date(node.get("iso-8601-date"))
    return make_date(
        find_text(node, "year"),
        find_text(node, "month") or find_text(node, "season"),
        find_text(node, "day"),
        find_text(node, "string-date"),
    )


def _pick_date(dates: tuple[tuple[str, PubDate], ...]) -> PubDate:
    found = dict(reversed(dates))  # the first of each kind wins
    for kind in PUB_DATE_PREFERENCE:
        if kind in found:
            return found[kind]
    return PubDate()


def _authors(meta: etree._Element) -> tuple[Author, ...]:
    affiliations: dict[str, list[str]] = {}
    for node in meta.iter("aff", "aff-alternatives"):
        if node.get("id"):
            affs = node.findall("aff") if node.tag == "aff-alternatives" else [node]
            affiliations[node.get("id", "")] = [a for a in map(_aff_text, affs) if a]
    authors = []
    for group in meta.iterfind("contrib-group"):
        # affiliations given once for the whole group apply to contributors without xrefs
        shared = [a for a in map(_aff_text, group.iterfind("aff")) if a]
        for contrib in group.iterfind("contrib"):
            if (contrib.get("contrib-type") or "author").lower() == "author":
                authors.append(_author(contrib, affiliations, shared))
    return tuple(authors)


def _author(contrib: etree._Element, known: dict[str, list[str]], shared: list[str]) -> Author:
    name = contrib.find("name")
    if name is None:
        name = contrib.find("name-alternatives/name")
    if name is None:
        name = contrib.find("string-name")
    affs = [
        aff
        for xref in contrib.iterfind("xref[@ref-type='aff']")
        for rid in (xref.get("rid") or "").split()
        for aff in known.get(rid, [])
    ]
    affs += [a for a in map(_aff_text, contrib.iterfind("aff")) if a]
    orcid = orcid_id(find_text(contrib, "contrib-id[@contrib-id-type='orcid']"))
    affiliations = unique(affs or shared)
    if name is not None and name.tag == "string-name" and not len(name):
        # an untagged name as printed: "Smith, John" or "John Smith"
        person = comma_name(text(name)) or Author()
        return Author(last=person.last, first=person.first, orcid=orcid, affiliations=affiliations)
    given = name.find("given-names") if name is not None else None
    return Author(
        last=find_text(name, "surname") if name is not None else None,
        first=text(given),
        initials=given.get("initials") if given is not None else None,
        suffix=find_text(name, "suffix") if name is not None else None,
        collective=text(contrib.find("collab"), skip=("contrib-group",)),
        orcid=orcid,
        affiliations=affiliations,
    )


def _aff_text(aff: etree._Element) -> str | None:
    # SciELO gives the parsed parts and the original string: the original reads right
    original = aff.find("institution[@content-type='original']")
    value = text(original) if original is not None else text(aff, skip=("label",))
    # parts are tagged apart ("<institution>X</institution>, <country>Y</country>")
    return re.sub(r" ([,;])", r"\1", value) if value else None


def _keywords(
    meta: etree._Element, lang: str | None
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    groups = [
        (group.get(XML_LANG), all_text(group, "kwd") + all_text(group, "compound-kwd"))
        for group in meta.iterfind("kwd-group")
    ]
    return keywords_by_language(groups, lang)


FORMAT = Format(
    name="jats",
    description="JATS/NLM article XML: PMC, PLOS, eLife, BMC, SciELO",
    xml=True,
    detect=detect,
    read=read,
)
