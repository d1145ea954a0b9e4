"""metareview: systematic reviews and meta-analyses, from search exports to pooled estimates."""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import ReviewError

try:
    __version__ = version("metareview")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

# Public names imported on first use, so `import metareview` stays light: name -> module.
_LAZY = {
    "read_articles": "articles",
    "articles_frame": "articles",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ReviewError", "__version__", *_LAZY]
