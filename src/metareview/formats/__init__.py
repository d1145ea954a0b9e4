"""Source formats: one module per format, each exporting ``FORMAT``.

A format is detected from content, never from the file name: XML formats by the
document element (namespace included), text formats by their first bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import InputError, OptionError
from ..records import Article, Deletion
from ..textcodec import text_codec
from ..xmlsafe import root_tag

Reader = Callable[[BinaryIO, str], Iterator[Article | Deletion]]


@dataclass(frozen=True)
class Format:
    """A source format.

    ``detect`` gets the root tag (``{ns}name``) for XML formats, or the first bytes
    (BOM stripped, up to 64 KiB) for text formats. ``read`` streams records from a
    binary stream; ``source`` is the file name used in records and error locations.
    """

    name: str
    description: str
    xml: bool
    detect: Callable[[str], bool] | Callable[[bytes], bool]
    read: Reader


def _registry() -> list[Format]:
    # Imported here so each format module may import this one for `Format`.
    from . import (
        bibtex,
        cochrane_csv,
        cochrane_txt,
        crossref,
        csl_json,
        doaj,
        ebsco_csv,
        embase_csv,
        endnote_xml,
        europepmc,
        jats,
        lens_csv,
        nbib,
        ojs,
        openalex_csv,
        openalex_json,
        ovid,
        pubmed,
        ris,
        scopus_csv,
        wos_plaintext,
        wos_tabdelim,
    )

    return [
        *pubmed.FORMATS,
        jats.FORMAT,
        crossref.FORMAT,
        ojs.FORMAT,
        doaj.FORMAT,
        europepmc.FORMAT,
        endnote_xml.FORMAT,
        # Tables before the tagged formats: they match only their own header row.
        scopus_csv.FORMAT,
        embase_csv.FORMAT,
        cochrane_csv.FORMAT,
        ebsco_csv.FORMAT,
        lens_csv.FORMAT,
        openalex_csv.FORMAT,
        wos_tabdelim.FORMAT,
        openalex_json.FORMAT,  # before CSL-JSON: an OpenAlex work is no CSL item
        csl_json.FORMAT,
        ris.FORMAT,
        nbib.FORMAT,
        bibtex.FORMAT,
        wos_plaintext.FORMAT,
        cochrane_txt.FORMAT,
        ovid.FORMAT,
    ]


def formats() -> list[Format]:
    """Every known format, in detection order."""
    return _registry()


def by_name(name: str) -> Format:
    for fmt in formats():
        if fmt.name == name:
            return fmt
    known = ", ".join(f.name for f in formats())
    raise OptionError(f"unknown format {name!r}", hint=f"choose one of: {known}")


def detect(stream: BinaryIO, source: str) -> Format:
    """The format of a peekable stream, judged from its content."""
    head = stream.peek(65536)[:65536]  # type: ignore[attr-defined]
    codec = text_codec(head)
    if codec != "utf-8-sig":  # UTF-16/32 text: judge it by its UTF-8 form
        head = head.decode(codec, errors="ignore").encode("utf-8")
    text_head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text_head:
        raise InputError("the file is empty", source,
                         "export the records again; an empty export holds no records")
    # "<1. >" opens an Ovid record: no XML element name starts with a digit.
    if text_head.startswith(b"<") and not text_head[1:].lstrip()[:1].isdigit():
        tag = root_tag(stream, source)
        for fmt in formats():
            if fmt.xml and fmt.detect(tag):  # type: ignore[arg-type]
                return fmt
        what = f"XML with root element <{tag}>"
    else:
        for fmt in formats():
            if not fmt.xml and fmt.detect(text_head):
                return fmt
        what = "a file"
    known = ", ".join(f.name for f in formats())
    raise InputError(
        f"{what} in no format we know",
        source,
        f"name its format with --from (known formats: {known})",
    )
