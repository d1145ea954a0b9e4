"""OpenAlex API JSON: a ``/works`` result page (``{"meta": …, "results": [...]}``) or a
single work. The abstract comes as an inverted index (word → positions) and is put
back in order; authors carry their ORCID and raw affiliation strings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..records import Article, Author
from . import Format
from ._fields import build
from ._json import flatten, load, looks_like_json, records
from ._table import Column, digits, display_name, gather, iso_or_year
from ._xmltext import clean, orcid_id

_WORK = re.compile(rb'"id"\s*:\s*"https://openalex\.org/W\d+"')

#: Dotted work keys → fields; authorships and the abstract are read apart.
COLUMNS = {
    "title": Column("title"),
    "display_name": Column("title"),
    "doi": Column("doi"),
    "ids.pmid": Column("pmid", read=digits),
    "ids.pmcid": Column("pmcid", read=lambda v: v.rstrip("/").rpartition("/")[2]),
    "publication_date": Column("date", read=iso_or_year),
    "publication_year": Column("year"),
    "language": Column("languages"),
    "type": Column("publication_types"),
    "primary_location.source.display_name": Column("journal"),
    "primary_location.source.issn_l": Column("issn"),
    "primary_location.source.host_organization_name": Column("publisher"),
    "primary_location.landing_page_url": Column("url"),
    "biblio.volume": Column("volume"),
    "biblio.issue": Column("issue"),
    "biblio.first_page": Column("first_page"),
    "biblio.last_page": Column("last_page"),
    "id": Column("publisher_id"),
}
_APART = frozenset({"authorships", "abstract_inverted_index", "keywords", "mesh"})


def detect(head: bytes) -> bool:
    """JSON with an OpenAlex work id (``"id": "https://openalex.org/W…"``)."""
    return looks_like_json(head) and _WORK.search(head) is not None


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    works = records(load(stream, source), source, "works", "results")
    for index, work in enumerate(works):
        same_title = work.get("display_name") == work.get("title")
        apart = _APART | ({"display_name"} if same_title else set())
        cells = flatten({k: v for k, v in work.items() if k not in apart})
        values, extra = gather(COLUMNS, cells)
        values["authors"] = _authors(work.get("authorships") or [])
        abstract = abstract_text(work.get("abstract_inverted_index"))
        values["abstract"] = [abstract] if abstract else []
        values["keywords"] = _names(work.get("keywords"), "display_name")
        values["mesh_terms"] = _names(work.get("mesh"), "descriptor_name")
        yield build(FORMAT.name, "OpenAlex", values, extra, source, index)


def abstract_text(index: Any) -> str | None:
    """The abstract from ``{"word": [positions]}``: each word placed at its positions."""
    if not isinstance(index, dict) or not index:
        return None
    placed = {
        position: word
        for word, positions in index.items()
        for position in (positions or [])
        if isinstance(position, int)
    }
    return clean(" ".join(placed[p] for p in sorted(placed)))


def _authors(authorships: list[Any]) -> list[Any]:
    """Each author with ORCID and own affiliations; institutions of an authorship without
    raw affiliation strings are used instead."""
    authors = []
    for authorship in authorships:
        if not isinstance(authorship, dict):
            continue
        person = authorship.get("author") or {}
        name = clean(person.get("display_name") or authorship.get("raw_author_name"))
        if name is None:
            continue
        own = authorship.get("raw_affiliation_strings") or [
            i.get("display_name") for i in authorship.get("institutions") or []
        ]
        base = display_name(name)
        authors.append(
            Author(
                last=base.last,
                first=base.first,
                orcid=orcid_id(person.get("orcid")),
                affiliations=tuple(dict.fromkeys(a for a in map(clean, own) if a)),
            )
        )
    return authors


def _names(items: Any, key: str) -> list[str]:
    return [n for n in (clean(i.get(key)) for i in items or [] if isinstance(i, dict)) if n]


FORMAT = Format(
    name="openalex-json",
    description="OpenAlex API JSON (a /works result page or one work)",
    xml=False,
    detect=detect,
    read=read,
)
