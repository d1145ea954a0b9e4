"""metareview: systematic reviews and meta-analyses, from search exports to pooled estimates."""

from importlib.metadata import PackageNotFoundError, version

from .errors import ReviewError

try:
    __version__ = version("metareview")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

__all__ = ["ReviewError", "__version__"]
