"""Web of Science tab-delimited export (``PT AU … UT`` header of two-letter tags):
UTF-8 or UTF-16LE with a BOM, CRLF, LF or lone-CR line ends, a trailing tab that
makes each row one cell longer than the header, the 59-, 68- and 71-column Core
Collection layouts and the WoS-MEDLINE layout. Cells are never quoted, so a ``"``
in a title is text.

The columns are the tags of the plain-text export, so a row is read as that format's
record (:func:`~metareview.formats.wos_plaintext.tagged_article`): the same field
table, ``AF`` paired with ``AU``, ``C1`` addresses tied to the authors in their
brackets, ``OI`` ORCIDs. A list tag's cell holds its items separated by semicolons.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from ..records import Article
from . import Format
from ._table import has_header, read_rows
from .wos_plaintext import LIST_TAGS, tagged_article

#: What splits a list tag's cell into items: semicolons, except those inside the
#: bracketed author names that start a ``C1`` address.
_ITEMS = re.compile(r"\s*;\s*(?![^\[]*\])")
#: The header holds all of one of these tag sets.
SIGNATURES = (frozenset({"pt", "ti", "ut"}), frozenset({"pt", "au", "ti", "so"}))


def detect(head: bytes) -> bool:
    """A tab-separated header row of WoS field tags."""
    return has_header(head, SIGNATURES, "\t")


def read(stream: BinaryIO, source: str) -> Iterator[Article]:
    for index, (_, cells) in enumerate(read_rows(stream, source, "\t")):
        yield tagged_article(_pairs(cells), FORMAT.name, source, index)


def _pairs(cells: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for name, cell in cells:
        tag = name.strip().lstrip("\ufeff").upper()
        if not cell.strip():
            continue
        if tag in LIST_TAGS:
            yield from ((tag, item) for item in _ITEMS.split(cell.strip()) if item)
        else:
            yield tag, cell


FORMAT = Format(
    name="wos-tabdelim",
    description="Web of Science tab-delimited export",
    xml=False,
    detect=detect,
    read=read,
)
