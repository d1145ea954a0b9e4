"""Europe PMC REST search results as XML (root ``<responseWrapper>``).

``format=xml`` gives ``resultList/result`` records (``resultType=lite`` with an
``authorString``; ``core`` with ``authorList``, ``journalInfo`` and ``abstractText``);
``format=dc`` gives Dublin Core ``rdf:Description`` records whose journal, volume, issue
and pages sit in an OpenURL ``dcterms:bibliographicCitation``. Abstracts are HTML
stored as text (``<h4>`` headings become section labels). Flags and counts the model
has no place for (``isOpenAccess``, ``citedByCount`` …) are kept as ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import parse_qs

from lxml import etree

from ..records import Abstract, Article, Author, Journal, PubDate, Section, Text
from ..xmlsafe import iter_records
from . import Format
from ._xmltext import (
    all_text,
    comma_name,
    find_text,
    html_sections,
    html_text,
    iso_date,
    make_date,
    orcid_id,
    split_pages,
    strip_namespaces,
    text,
    unique,
)

#: ``<result>`` child → Article field (text as printed).
FIELDS = {
    "pmid": "pmid",
    "pmcid": "pmcid",
    "doi": "doi",
    "issue": "issue",
    "journalVolume": "volume",
    "pageInfo": "pages",
    "pubModel": "publication_status",
}
#: ``<result>`` child → history key.
DATES = {
    "firstPublicationDate": "first_publication",
    "electronicPublicationDate": "epub",
    "firstIndexDate": "first_index",
    "dateOfCreation": "created",
    "dateOfRevision": "revised",
}
#: OpenURL key in ``dcterms:bibliographicCitation`` → Article field.
OPENURL_FIELDS = {"rft.volume": "volume", "rft.issue": "issue", "rft.pages": "pages"}
_STRUCTURED = frozenset(
    {"title", "authorString", "authorList", "journalTitle", "journalIssn", "journalInfo"}
    | {"pubYear", "pubType", "pubTypeList", "abstractText", "keywordList", "meshHeadingList"}
    | {"language", "bookOrReportDetails"}
)
_VANCOUVER = re.compile(r"^(?P<last>.+?)\s+(?P<initials>[A-Z]{1,4})$")


def detect(root_tag: str) -> bool:
    return root_tag == "responseWrapper"


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    tags = frozenset({"result", "Description"})
    for index, (_, element) in enumerate(iter_records(stream, source, tags)):
        strip_namespaces(element)
        reader = _dublin_core if element.tag == "Description" else _result
        yield reader(element, source, index)


def _result(result: etree._Element, source: str, index: int) -> Article:
    fields: dict[str, str | None] = {}
    history: list[tuple[str, PubDate]] = []
    extra: list[tuple[str, str]] = []
    for child in result:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag in FIELDS:
            fields[FIELDS[tag]] = text(child)
        elif tag in DATES:
            history.append((DATES[tag], iso_date(text(child))))
        elif tag not in _STRUCTURED and (value := text(child)):
            extra.append((tag, value))
    info = result.find("journalInfo")
    issns = [i.strip() for i in (find_text(result, "journalIssn") or "").split(";") if i.strip()]
    journal = Journal(title=find_text(result, "journalTitle"), issn=issns[0] if issns else None)
    pub_date = make_date(find_text(result, "pubYear"))
    if info is not None:  # resultType=core
        fields["volume"] = fields.get("volume") or find_text(info, "volume")
        fields["issue"] = fields.get("issue") or find_text(info, "issue")
        journal = Journal(
            title=find_text(info, "journal/title"),
            iso_abbrev=find_text(info, "journal/ISOAbbreviation"),
            issn_print=find_text(info, "journal/ISSN"),
            issn_electronic=find_text(info, "journal/ESSN"),
        )
        printed = find_text(info, "printPublicationDate")
        pub_date = iso_date(printed) if printed else pub_date
    first_page, last_page = split_pages(fields.get("pages"))
    return Article(
        source_format=FORMAT.name,
        source_database="Europe PMC",
        source_file=source,
        record_index=index,
        **fields,
        affiliations=(),  # Europe PMC ties each affiliation to its author
        first_page=first_page,
        last_page=last_page,
        titles=_titles(result),
        abstracts=_abstracts(result.find("abstractText")),
        journal=journal,
        pub_date=pub_date,
        history=tuple(history),
        authors=_author_list(result.find("authorList"))
        or _author_string(find_text(result, "authorString")),
        languages=tuple(all_text(result, "language")),
        keywords=unique(all_text(result, "keywordList/keyword")),
        mesh_terms=unique(all_text(result, "meshHeadingList/meshHeading/descriptorName")),
        publication_types=unique(
            all_text(result, "pubTypeList/pubType")
            + [t.strip() for t in (find_text(result, "pubType") or "").split(";")]
        ),
        extra=(*(("issn", i) for i in issns[1:]), *extra),
    )


def _titles(record: etree._Element) -> tuple[Text, ...]:
    # titles, of preprints especially, carry <i>…</i> as escaped text
    return tuple(Text(t) for node in record.iterfind("title") if (t := html_text(node.text)))


def _abstracts(node: etree._Element | None) -> tuple[Abstract, ...]:
    if node is None:
        return ()
    # markup may come as escaped text or, in some responses, as child elements
    sections = html_sections(node.text) if not len(node) else (Section(text(node) or ""),)
    return (Abstract(sections),) if sections and sections[0].text else ()


def _author_list(node: etree._Element | None) -> tuple[Author, ...]:
    if node is None:
        return ()
    return tuple(
        Author(
            last=find_text(author, "lastName"),
            first=find_text(author, "firstName"),
            initials=find_text(author, "initials"),
            collective=find_text(author, "collectiveName"),
            orcid=orcid_id(find_text(author, "authorId[@type='ORCID']")),
            affiliations=unique(
                all_text(author, "authorAffiliationDetailsList/authorAffiliation/affiliation")
                + all_text(author, "affiliation")
            ),
        )
        for author in node.iterfind("author")
    )


def _author_string(value: str | None) -> tuple[Author, ...]:
    """``"Schoenfeld JD, Haas-Kogan DA, O'Neill AF."`` → authors; a name not ending in
    initials (a group) is kept whole as a collective name."""
    authors = []
    for name in (value or "").removesuffix(".").split(", "):
        name = name.strip()
        found = _VANCOUVER.match(name)
        if found:
            authors.append(Author(last=found["last"], initials=found["initials"]))
        elif name:
            authors.append(Author(collective=name))
    return tuple(authors)


def _dublin_core(record: etree._Element, source: str, index: int) -> Article:
    fields: dict[str, str | None] = {}
    journal: dict[str, str | None] = {}
    extra: list[tuple[str, str]] = []
    issns: list[str] = []
    about = record.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about") or ""
    if "/MED/" in about:
        fields["pmid"] = about.rpartition("/")[2]
    for child in record:
        tag, value = child.tag, text(child)
        if value is None or tag in ("title", "creator", "subject", "description", "abstract"):
            continue
        if tag == "identifier" and "doi.org/" in value:
            fields["doi"] = value.partition("doi.org/")[2]
        elif tag == "identifier" and "europepmc.org/" in value and "url" not in fields:
            fields["url"] = value
        elif tag == "isVersionOf" and "/PMC" in value:
            fields["pmcid"] = value.rpartition("/")[2]
        elif tag == "isPartOf" and value.startswith("urn:ISSN:"):
            issns.append(value.removeprefix("urn:ISSN:"))
        elif tag == "bibliographicCitation" and value.startswith("&ctx_ver"):
            openurl = {k: v[0] for k, v in parse_qs(value).items()}
            fields |= {f: openurl.get(k) for k, f in OPENURL_FIELDS.items()}
            journal = {"title": openurl.get("rft.jtitle"), "iso_abbrev": openurl.get("rft.stitle")}
        elif tag not in ("date", "created", "available", "language"):
            extra.append((tag, value))
    first_page, last_page = split_pages(fields.get("pages"))
    return Article(
        source_format=FORMAT.name,
        source_database="Europe PMC",
        source_file=source,
        record_index=index,
        **fields,  # type: ignore[arg-type]
        first_page=first_page,
        last_page=last_page,
        titles=_titles(record),
        abstracts=tuple(
            Abstract(s) for n in record.iterfind("abstract") if (s := html_sections(n.text))
        ),
        journal=Journal(**journal, issn=issns[0] if issns else None),
        pub_date=iso_date(find_text(record, "date")),
        history=tuple(
            (tag, iso_date(value))
            for tag in ("created", "available")
            for value in all_text(record, tag)
        ),
        authors=tuple(_dc_creator(name) for name in all_text(record, "creator")),
        languages=tuple(all_text(record, "language")),
        keywords=unique(all_text(record, "subject")),
        publication_types=unique(
            t.strip() for d in all_text(record, "description") for t in d.split(";")
        ),
        extra=(*(("issn", i) for i in issns[1:]), *extra),
    )


def _dc_creator(name: str) -> Author:
    """``"Schoenfeld, JD"``: after the comma come initials when they are all capitals;
    a name without a comma is a group's."""
    if "," not in name:
        return Author(collective=name)
    author = comma_name(name) or Author()
    if author.first and re.fullmatch(r"[A-Z]{1,4}", author.first):
        return Author(last=author.last, initials=author.first)
    return author


FORMAT = Format(
    name="europepmc",
    description="Europe PMC REST search results XML (format=xml or format=dc)",
    xml=True,
    detect=detect,
    read=read,
)
