"""Shared by the JSON readers (OpenAlex, CSL-JSON): loading with located errors, and a
record flattened to dotted names (``primary_location.source.display_name``) so that a
declarative :class:`~metareview.formats._table.Column` table can map it and whatever no
column takes is kept in ``extra``."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

from ..errors import InputError
from ..textcodec import text_codec

_FIRST = re.compile(rb"\A\s*[\[{]")


def looks_like_json(head: bytes) -> bool:
    return _FIRST.match(head) is not None


def load(stream: BinaryIO, source: str) -> Any:
    """The parsed document (the whole file: JSON exports are one value)."""
    codec = text_codec(stream.peek(4)[:4] if hasattr(stream, "peek") else b"")
    text = io.TextIOWrapper(stream, encoding=codec)
    try:
        return json.load(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"broken JSON: {exc.msg}",
            f"{source}:{exc.lineno}:{exc.colno}",
            "export the file again; it may have been cut short",
        ) from None
    except UnicodeDecodeError:
        raise InputError(
            "text that is not UTF-8", source, "export the file again as UTF-8 JSON"
        ) from None
    finally:
        text.detach()  # the caller owns the binary stream


def records(document: Any, source: str, what: str, key: str | None = None) -> list[Any]:
    """The record objects of a document: a list of them, ``{key: [...]}`` (a result
    page) or one record object; anything else is an :class:`InputError`."""
    if isinstance(document, dict) and key is not None and key in document:
        document = document[key]
    elif isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise InputError(f"this JSON is not a list of {what}", source, _hint(what, key))
    for number, item in enumerate(document):
        if not isinstance(item, dict):
            raise InputError(
                f"item {number + 1} is not a JSON object, as {what} are",
                f"{source}: item {number + 1}",
                _hint(what, key),
            )
    return document


def _hint(what: str, key: str | None) -> str:
    page = f", a page with {key!r}" if key else ""
    return f"give a JSON list of {what}{page} or a single {what[:-1]}"


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted.name, text)`` for every leaf: lists of plain values joined by ``"; "``,
    lists of objects kept as compact JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            text = "; ".join(_text(v) for v in value if v is not None)
            if text:
                yield prefix, text
        elif value:
            yield prefix, json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif value is not None and _text(value):
        yield prefix, _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
