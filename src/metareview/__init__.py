"""metareview: systematic reviews and meta-analyses, from search exports to pooled estimates.

The engine's main calls are available here, imported on first use so that ``import metareview``
stays light: ``pool``, ``pool_proportions``, ``escalc``, ``metareg``, ``pool_mh``, ``pool_peto``,
``influence`` and ``prediction_interval``.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from .errors import ReviewError

# Public names imported on first use, so `import metareview` stays light: name -> module.
_LAZY = {
    "read_articles": "articles",
    "articles_frame": "articles",
    "pool": "meta",
    "pool_proportions": "meta",
    "escalc": "effects",
    "metareg": "metareg",
    "pool_mh": "mh",
    "pool_peto": "mh",
    "influence": "influence",
    "prediction_interval": "predint",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # importlib.metadata is slow to import: only when asked
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("metareview")
        except PackageNotFoundError:  # running from a source tree that was not installed
            found = "0+unknown"
        globals()["__version__"] = found
        return found
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Package(ModuleType):
    """The package module. Importing a submodule makes it an attribute of the package; where a
    public function shares the submodule's name (``metareg``), the function is kept, so that
    ``metareview.metareg`` is the function however the submodule was first imported."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = ["ReviewError", "__version__", *_LAZY]
