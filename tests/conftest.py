"""The policy for the browser tests (marker ``browser``), which drive Debian's headless
Chromium (``/usr/bin/chromium``, or the path in ``METAREVIEW_CHROMIUM``) with Playwright.

Where Chromium or Playwright is missing, a browser test
- fails, saying how to install them, when browser tests were asked for (``pytest -m
  browser``) or on CI (``CI`` set: ``.ci/run`` installs Chromium first, so CI always runs them);
- is skipped with the same instruction otherwise (a plain ``pytest`` on a fresh machine),
  and the skip is listed with its reason in pytest's summary (``-ra``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# On CI the property tests draw the same examples every run (derandomize), so a landing that
# passed is not failed later by a new random draw; locally they keep exploring.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

CHROMIUM = Path(os.environ.get("METAREVIEW_CHROMIUM", "/usr/bin/chromium"))
INSTALL = ("the browser tests need Debian's Chromium and Playwright: run `apt-get update && "
           "apt-get install -y chromium` (as root) and `pip install '.[test]'`; CI installs both "
           "(.ci/run) and always runs them; `pytest -m browser` runs only them")


@pytest.fixture(scope="session")
def chromium(request: pytest.FixtureRequest) -> Path:
    """The Chromium executable, or a clear failure/skip (see the module text)."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "Playwright is not installed"
    if problem is None and not CHROMIUM.exists():
        problem = f"{CHROMIUM} does not exist"
    if problem is None:
        return CHROMIUM
    asked = "browser" in (request.config.getoption("markexpr") or "")
    if asked or os.environ.get("CI"):
        pytest.fail(f"{problem}: {INSTALL}", pytrace=False)
    pytest.skip(f"{problem}: {INSTALL}")
