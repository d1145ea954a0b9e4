"""The one place that builds XML parsers: hardened, streaming, with located errors.

Every XML reader goes through :func:`iter_records`. It never resolves entities,
loads a DTD or touches the network, refuses documents whose internal DTD declares
entities (XXE, "billion laughs"), and clears each record after it is handled so
memory stays flat however large the file. Compressed input is decompressed as a
stream with a cap on the decompressed size (a gzip bomb is refused).
"""

from __future__ import annotations

import gzip
import io
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from lxml import etree

from .errors import InputError, MissingInputError

#: Default cap on the decompressed size of one ``.gz`` input (bytes).
DEFAULT_MAX_DECOMPRESSED = 20 * 1024**3
_GZIP_MAGIC = b"\x1f\x8b"


class _RefuseAll(etree.Resolver):
    """Resolver that refuses every external reference with an :class:`InputError`."""

    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # type: ignore[override]
        raise InputError(
            f"the document refers to an external resource ({system_url})",
            hint="external entities and DTDs are never loaded; remove the reference",
        )


def _hardened_options() -> dict[str, Any]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
    }


def make_parser() -> etree.XMLParser:
    """A hardened parser for whole (small) documents, e.g. an XML fragment inside a field."""
    parser = etree.XMLParser(**_hardened_options())
    parser.resolvers.add(_RefuseAll())
    return parser


class _CappedReader(io.RawIOBase):
    """Reads from ``inner`` and fails once more than ``cap`` bytes have come out."""

    def __init__(self, inner: gzip.GzipFile, cap: int, name: str):
        self._inner, self._cap, self._name, self._seen = inner, cap, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        self._seen += len(data)
        if self._seen > self._cap:
            raise InputError(
                f"decompresses to more than {self._cap:,} bytes",
                self._name,
                "this may be a compression bomb; raise the limit with --max-decompressed "
                "if the file is genuine",
            )
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_input(
    path: str | Path, max_decompressed: int = DEFAULT_MAX_DECOMPRESSED
) -> Iterator[BinaryIO]:
    """Open a file (``-`` for stdin) for binary reading, gunzipping by content, not name.

    The stream yielded is buffered and supports ``peek`` (format detection looks at the
    first bytes without consuming them).
    """
    name = str(path)
    if name == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise MissingInputError("no such file", name, "check the path") from None
        except IsADirectoryError:
            raise MissingInputError("is a folder, not a file", name) from None
        except OSError as exc:
            raise MissingInputError(exc.strerror or "cannot open", name) from None
    try:
        buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(_Raw(raw))
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            gz = gzip.GzipFile(fileobj=buffered, mode="rb")
            yield cast(BinaryIO, io.BufferedReader(_CappedReader(gz, max_decompressed, name)))
        else:
            yield cast(BinaryIO, buffered)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(f"broken gzip data ({exc})", name, "download the file again") from None
    finally:
        if name != "-":
            raw.close()


class _Raw(io.RawIOBase):
    """Adapts any binary stream (e.g. a test's ``BytesIO`` standing in for stdin) so it
    can be wrapped in a peekable :class:`io.BufferedReader`."""

    def __init__(self, inner: BinaryIO):
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def located(source: str, exc: etree.XMLSyntaxError) -> InputError:
    """Turn an lxml syntax error into an :class:`InputError` at ``file:line:col``.

    libxml2's own log is preferred: for some errors (an undefined entity) the exception
    itself only says "no element found" at line 0.
    """
    line, col = exc.position if exc.position else (exc.lineno, 0)
    message = exc.msg.split(", line ")[0] if exc.msg else "malformed XML"
    for entry in reversed(cast("list[Any]", exc.error_log)):
        if entry.level_name in ("FATAL", "ERROR"):
            line, col, message = entry.line, entry.column, entry.message
            break
    hint = "the file is damaged or truncated; export or download it again"
    if "encoding" in message:
        hint = "the bytes do not match the encoding the file declares; save it again as UTF-8"
    elif "Excessive depth" in message:
        hint = "no export nests elements this deep; this is a broken or hostile file"
    elif "amplification" in message:
        hint = "the file's entity definitions expand explosively ('billion laughs'); refused"
    elif "Entity" in message:
        hint = "the file uses an entity that is never loaded (no DTD is read); replace it"
    return InputError(f"malformed XML: {message.strip()}", f"{source}:{line}:{col}", hint)


def local_name(tag: object) -> str:
    """``{ns}name`` → ``name``; non-element nodes (comments) → ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _refuse_entities(root: etree._Element, source: str) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):  # type: ignore[attr-defined]
        raise InputError(
            "the document declares its own entities",
            source,
            "entity declarations are refused (they enable XXE and 'billion laughs' attacks); "
            "export the file again without a DTD",
        )


def _refuse_entity_references(element: etree._Element, source: str) -> None:
    # An entity declared in an external DTD is never loaded, so its reference would stay
    # in the text as "&name;": refuse rather than pass on a silently altered text.
    for node in element.iter(etree.Entity):
        raise InputError(
            f"the text uses the entity {node.text}, defined outside the file",
            f"{source}:{node.sourceline}",
            "external DTDs are never loaded; replace the entity by the character it stands for",
        )


#: Bytes fed to the parser at a time; finished elements outside records are removed
#: after each, so what the tree holds outside records stays about this size.
_CHUNK = 1 << 16
#: Most elements a file may hold outside its records, and deepest nesting there: an
#: export wraps its records in a few elements, a hostile file in millions.
MAX_OUTSIDE_ELEMENTS = 5_000_000
MAX_OUTSIDE_DEPTH = 32


def iter_records(
    stream: BinaryIO, source: str, record_tags: frozenset[str],
    context: frozenset[str] = frozenset(),
) -> Iterator[tuple[str, etree._Element]]:
    """Stream ``(root_local_name, element)`` for every element whose local name (any
    namespace) is in ``record_tags``, at any depth, clearing each one once the caller is
    done with it, so memory stays flat however large the file.

    The element is only valid until the next item is requested. Only record elements
    (and the document element) are reported by the parser (libxml2 filters the rest),
    which keeps the loop fast. Elements outside records are removed once finished (but
    the children of an element named in ``context``: a reader that looks at a record's
    siblings names their parent), and more than :data:`MAX_OUTSIDE_ELEMENTS` of them, or
    nesting deeper than :data:`MAX_OUTSIDE_DEPTH` outside a record, is refused with an
    :class:`InputError`.
    """
    if not hasattr(stream, "peek"):
        stream = cast(BinaryIO, io.BufferedReader(_Raw(stream)))
    etree.clear_error_log()  # so a located error never shows an earlier file's message
    # the document element is reported too, so that the tree can be pruned from it
    top = local_name(root_tag(stream, source))
    parser = etree.XMLPullParser(
        events=("start", "end"),
        tag=[f"{{*}}{name}" for name in record_tags | {top}],
        **_hardened_options(),
    )
    parser.resolvers.add(_RefuseAll())
    root: etree._Element | None = None
    depth = 0
    outside = 0
    try:
        while True:
            chunk = stream.read(_CHUNK)
            if chunk:
                parser.feed(chunk)
            else:
                parser.close()
            for event, found in parser.read_events():
                element = cast(etree._Element, found)  # start/end events carry elements
                if root is None:
                    root = element.getroottree().getroot()
                    _refuse_entities(root, source)
                if local_name(element.tag) not in record_tags:
                    continue  # the document element, or an element named like it
                if event == "start":
                    depth += 1
                    continue
                depth -= 1
                if depth:
                    continue  # a record tag nested inside a record belongs to its parent
                _refuse_entity_references(element, source)
                yield local_name(root.tag), element
                element.clear()
                parent = element.getparent()
                if parent is not None:
                    while element.getprevious() is not None:
                        del parent[0]
            if root is not None:
                outside += _prune(root, record_tags, context, source)
                if outside > MAX_OUTSIDE_ELEMENTS:
                    raise InputError(
                        f"more than {MAX_OUTSIDE_ELEMENTS:,} elements outside the records",
                        source, "this is not an export of records (or a hostile file); "
                        "export the records again")
            if not chunk:
                break
    except etree.XMLSyntaxError as exc:
        raise located(source, exc) from None


def _prune(root: etree._Element, record_tags: frozenset[str], context: frozenset[str],
           source: str) -> int:
    """Remove the finished elements outside records, walking down the chain of open
    elements from the document element to the record in progress (if any): every child
    but the last of each is finished. Returns how many elements were removed."""
    removed = 0
    node, depth = root, 0
    while local_name(node.tag) not in record_tags | context:
        depth += 1
        if depth > MAX_OUTSIDE_DEPTH:
            raise InputError(
                f"elements nested more than {MAX_OUTSIDE_DEPTH} deep outside the records",
                f"{source}:{node.sourceline}",
                "this is not an export of records (or a hostile file); export them again")
        children = list(node)
        if not children:
            break
        for child in children[:-1]:
            if local_name(child.tag) not in record_tags:
                removed += sum(1 for _ in child.iter())
            node.remove(child)
        node = children[-1]
    return removed


_DECLARATIONS = tuple(word.encode(codec) for word in ("<!DOCTYPE", "<!ENTITY")
                      for codec in ("utf-8", "utf-16-le", "utf-16-be"))


def refuse_dtd(stream: IO[bytes], source: str, chunk: int = 1 << 20) -> None:
    """Refuse, with an :class:`InputError`, an XML stream that holds a document type
    declaration or an entity declaration (in UTF-8 or UTF-16), reading it in chunks.

    For XML read by a parser this module does not build (openpyxl reads the parts of an
    ``.xlsx`` with Python's own): no genuine workbook part has a DTD, and one could
    declare entities that expand silently ("billion laughs") or reach outside the file.
    """
    keep = max(len(d) for d in _DECLARATIONS) - 1
    tail = b""
    while block := stream.read(chunk):
        window = tail + block
        if any(d in window for d in _DECLARATIONS):
            raise InputError(
                "an XML part declares a DTD or entities", source,
                "workbooks never need them (they can hide entity bombs); save the file "
                "again from Excel or LibreOffice")
        tail = window[-keep:]


def root_tag(stream: BinaryIO, source: str) -> str:
    """The document element's tag (``{namespace}name``), read from the start of a peekable stream.

    Only the first bytes are looked at (the stream is not consumed when it supports
    ``peek``).
    """
    head = stream.peek(65536)[:65536] if hasattr(stream, "peek") else b""
    etree.clear_error_log()
    parser = etree.XMLPullParser(events=("start",), **_hardened_options())
    try:
        parser.feed(head)
        for _, element in parser.read_events():
            return str(cast(etree._Element, element).tag)
    except etree.XMLSyntaxError as exc:
        raise located(source, exc) from None
    raise InputError(
        "no XML element in the first 64 KiB", source, "give an article export file"
    )
