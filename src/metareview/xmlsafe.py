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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from lxml import etree

from .errors import InputError, MissingInputError

#: Default cap on the decompressed size of one ``.gz`` input (bytes).
DEFAULT_MAX_DECOMPRESSED = 20 * 1024**3
_GZIP_MAGIC = b"\x1f\x8b"


class _RefuseAll(etree.Resolver):
    """Resolver that answers every external reference with an empty document."""

    def resolve(self, system_url: str, public_id: str, context: object) -> None:  # type: ignore[override]
        raise InputError(
            f"the document refers to an external resource ({system_url})",
            hint="external entities and DTDs are never loaded; remove the reference",
        )


def _hardened_options() -> dict[str, object]:
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
    parser = etree.XMLParser(**_hardened_options())  # type: ignore[arg-type]
    parser.resolvers.add(_RefuseAll())
    return parser


class _CappedReader(io.RawIOBase):
    """Reads from ``inner`` and fails once more than ``cap`` bytes have come out."""

    def __init__(self, inner: BinaryIO, cap: int, name: str):
        self._inner, self._cap, self._name, self._seen = inner, cap, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
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
    """Open a file (``-`` for stdin) for binary reading, gunzipping by content, not name."""
    name = str(path)
    if name == "-":
        raw: BinaryIO = sys.stdin.buffer
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise MissingInputError("no such file", name, "check the path") from None
        except OSError as exc:
            raise MissingInputError(exc.strerror or "cannot open", name) from None
    try:
        buffered = io.BufferedReader(raw) if not isinstance(raw, io.BufferedReader) else raw  # type: ignore[arg-type]
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            gz = gzip.GzipFile(fileobj=buffered, mode="rb")
            yield io.BufferedReader(_CappedReader(gz, max_decompressed, name))  # type: ignore[arg-type]
        else:
            yield buffered  # type: ignore[misc]
    except (gzip.BadGzipFile, EOFError, OSError) as exc:
        raise InputError(f"broken gzip data ({exc})", name, "download the file again") from None
    finally:
        if name != "-":
            raw.close()


def located(source: str, exc: etree.XMLSyntaxError) -> InputError:
    """Turn an lxml syntax error into an :class:`InputError` at ``file:line:col``."""
    line, col = exc.position if exc.position else (exc.lineno, 0)
    message = exc.msg.split(", line ")[0] if exc.msg else "malformed XML"
    return InputError(
        f"malformed XML: {message}",
        f"{source}:{line}:{col}",
        "the file is damaged or truncated; export or download it again",
    )


def local_name(tag: object) -> str:
    """``{ns}name`` → ``name``; non-element nodes (comments) → ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def _refuse_entities(root: etree._Element, source: str) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise InputError(
            "the document declares its own entities",
            source,
            "entity declarations are refused (they enable XXE and 'billion laughs' attacks); "
            "export the file again without a DTD",
        )


def iter_records(
    stream: BinaryIO, source: str, record_tags: frozenset[str]
) -> Iterator[tuple[str, etree._Element]]:
    """Stream ``(root_local_name, element)`` for every element whose local name is in
    ``record_tags``, at any depth, clearing each one once the caller is done with it.

    The element is only valid until the next item is requested.
    """
    events = etree.iterparse(stream, events=("start", "end"), **_hardened_options())  # type: ignore[call-overload]
    events.resolvers.add(_RefuseAll())
    root_name = ""
    depth_in_record = 0
    try:
        for event, element in events:
            name = local_name(element.tag)
            if event == "start":
                if not root_name:
                    root_name = name
                    _refuse_entities(element, source)
                if name in record_tags:
                    depth_in_record += 1
                continue
            if name not in record_tags:
                continue
            depth_in_record -= 1
            if depth_in_record:
                continue  # a record tag nested inside a record belongs to its parent
            yield root_name, element
            element.clear(keep_tail=False)
            parent = element.getparent()
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise located(source, exc) from None


def root_tag(stream: BinaryIO, source: str) -> str:
    """The document element's tag (``{namespace}name``), read from the start of a peekable stream.

    Only the first bytes are looked at (the stream is not consumed when it supports
    ``peek``).
    """
    head = stream.peek(65536)[:65536] if hasattr(stream, "peek") else b""  # type: ignore[attr-defined]
    parser = etree.XMLPullParser(events=("start",), **_hardened_options())  # type: ignore[call-overload]
    try:
        parser.feed(head)
        for _, element in parser.read_events():
            return str(element.tag)
    except etree.XMLSyntaxError as exc:
        raise located(source, exc) from None
    raise InputError(
        "no XML element in the first 64 KiB", source, "is this an article export file?"
    )
