"""The codec of a text file told from its byte-order mark, shared by every text reader.

Windows tools often save "Unicode" text as UTF-16 (or, rarely, UTF-32) with a BOM; without
one, text is read as UTF-8 (a UTF-8 BOM is dropped).
"""

from __future__ import annotations

# UTF-32 LE first: its BOM starts with the UTF-16 LE one.
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def text_codec(head: bytes) -> str:
    """``"utf-16"`` or ``"utf-32"`` (Python's BOM-reading codecs) when ``head`` starts with
    such a byte-order mark, else ``"utf-8-sig"``."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    return "utf-8-sig"
