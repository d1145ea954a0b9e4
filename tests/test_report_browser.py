"""The report in a real browser: Debian's headless Chromium, driven by Playwright, opens
``report.html`` of the example review offline and checks that every image loads, nothing
is logged as an error, nothing is fetched from the network, nothing overflows the page
width (on screen and in print), the plot footers are readable at the size shown, and
"Save as PDF" gives A4 pages. User text with HTML and ``javascript:`` links stays inert.

Marked ``browser``: see tests/conftest.py for what happens where Chromium is missing."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metareview.config import load_config
from metareview.plots import FOOTER_PT
from metareview.project import run
from metareview.report import to_html
from test_report_document import EVIL, LINK, evil_content

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "data" / "example-review"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
A4_TEXT_PX = 680  # 210 mm less the 15 mm print margins, at 96 px per inch

pytestmark = [pytest.mark.browser,
              pytest.mark.filterwarnings("ignore:3 PMID\\(s\\) withdrawn"),
              pytest.mark.filterwarnings("ignore::metareview.errors.ReviewWarning")]

# The right edge of the widest element, and the width the page has for it.
OVERFLOW_JS = """() => {
  let right = 0, what = "";
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right > right) { right = r.right; what = el.tagName + "#" + (el.id || ""); }
  }
  return {right, what, scroll: document.documentElement.scrollWidth,
          width: document.documentElement.clientWidth};
}"""
IMAGES_JS = """() => Array.from(document.images).map(i => ({
  alt: i.alt, complete: i.complete, natural: i.naturalWidth, shown: i.clientWidth,
  data: i.src.startsWith("data:")}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("browser") / "review"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("output"))
    assert run(load_config(target)).stopped is None
    return target / "output" / "report.html"


class Page:
    """A page and what it said: console messages, page errors, requests, dialogs."""

    def __init__(self, page: Any):
        self.page = page
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def overflow(self, width: int) -> dict[str, Any]:
        self.page.set_viewport_size({"width": width, "height": 900})
        found: dict[str, Any] = self.page.evaluate(OVERFLOW_JS)
        return found


@pytest.fixture
def browser(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, path: Path) -> Page:
    page = Page(browser.new_page(viewport={"width": 1280, "height": 900}))
    page.page.goto(path.as_uri(), wait_until="load")
    return page


def test_report_renders_cleanly(browser: Any, report: Path, tmp_path: Path) -> None:
    page = open_page(browser, report)
    images = page.page.evaluate(IMAGES_JS)
    assert [i["alt"] for i in images] == ["Figure 1. PRISMA 2020 flow diagram",
                                         "Figure 2. Forest plot", "Figure 3. Funnel plot"]
    for image in images:
        assert image["complete"] and image["natural"] > 0 and image["shown"] > 0, image
        assert image["data"], image  # embedded: the file opens offline
    for width in (1280, 800):
        found = page.overflow(width)
        assert found["scroll"] <= found["width"], (width, found)
        assert found["right"] <= found["width"] + 0.5, (width, found)
    page.page.emulate_media(media="print")
    found = page.overflow(A4_TEXT_PX)
    assert found["scroll"] <= found["width"], ("print", found)
    assert found["right"] <= found["width"] + 0.5, ("print", found)
    pdf = tmp_path / "report.pdf"
    page.page.pdf(path=str(pdf), format="A4", print_background=True)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 4
    assert not [m for m in page.console if m.startswith("error")], page.console
    assert not page.errors
    assert all(url.startswith(("file:", "data:")) for url in page.requests), page.requests


def test_plot_footers_are_readable_where_shown(browser: Any, report: Path) -> None:
    page = open_page(browser, report)
    shown = {i["alt"].split(". ")[1]: i["shown"] / i["natural"]
             for i in page.page.evaluate(IMAGES_JS)}
    px_per_pt = 96 / 72
    # on screen: the footers at least 9 px high, like the report's own small print
    assert FOOTER_PT * px_per_pt * shown["Forest plot"] >= 9
    assert (FOOTER_PT - 1) * px_per_pt * shown["Funnel plot"] >= 9
    page.page.emulate_media(media="print")
    page.page.set_viewport_size({"width": A4_TEXT_PX, "height": 900})
    forest = {i["alt"]: i for i in page.page.evaluate(IMAGES_JS)}["Figure 2. Forest plot"]
    assert FOOTER_PT * forest["shown"] / forest["natural"] >= 5  # pt on the printed page


def test_user_text_stays_inert(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "evil.html"
    path.write_text(to_html(evil_content()), encoding="utf-8")
    page = open_page(browser, path)
    assert page.dialogs == []
    assert page.page.evaluate("document.querySelectorAll('script, a, b').length") == 0
    body = page.page.inner_text("body")
    assert EVIL in body and LINK in body
    assert not page.errors and all(u.startswith(("file:", "data:")) for u in page.requests)
