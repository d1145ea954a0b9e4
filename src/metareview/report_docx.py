"""The review report as a Word document (DOCX), written with python-docx.

It renders the same :class:`~metareview.report.Document` as the HTML and Markdown
reports: title and authors, one heading per section, paragraphs, tables with a header
row that repeats on each page and their numbered captions above, figures (PNG) with
their numbered captions below, and the references list. A4 pages. The file's bytes
depend on the content only (fixed dates), so the same report gives the same file.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timezone
from typing import Any

from .report import IMAGES, Figure, Paragraph, References, ReportContent, Subheading, Table, build

# Fixed dates: the document's properties and the ZIP entries would otherwise carry "now".
_EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
_ZIP_TIME = (2000, 1, 1, 0, 0, 0)
_TEXT_WIDTH_IN = 6.3  # A4 with 2.5 cm margins, less a little


def _caption(doc: Any, label: str, text: str) -> None:
    paragraph = doc.add_paragraph(style="Caption")
    paragraph.add_run(f"{label} ").bold = True
    paragraph.add_run(text)


def _repeat_header(row: Any) -> None:
    """Mark a table row as the header row Word repeats on every page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    properties = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    properties.append(flag)


def _table(doc: Any, table: Table) -> None:
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    _caption(doc, f"Table {table.number}.", table.caption)
    grid = doc.add_table(rows=1 + len(table.rows), cols=len(table.head))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.LEFT
    _repeat_header(grid.rows[0])
    for r, cells in enumerate([table.head, *table.rows]):
        for c, text in enumerate(cells):
            paragraph = grid.cell(r, c).paragraphs[0]
            run = paragraph.add_run(text)
            run.font.size = Pt(8.5)
            run.bold = r == 0 or (r - 1) in table.strong
            if table.numeric[c] and r > 0:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.add_paragraph()


def _figure(doc: Any, figure: Figure, content: ReportContent) -> None:
    from docx.shared import Inches

    png = content.pngs.get(figure.name)
    if png is None:  # no PNG to embed: say so rather than leave a silent gap
        doc.add_paragraph(f"[{IMAGES[figure.name]}: see the HTML report]")
    else:
        picture = doc.add_picture(io.BytesIO(png))
        if picture.width > Inches(_TEXT_WIDTH_IN):
            picture.height = int(picture.height * Inches(_TEXT_WIDTH_IN) / picture.width)
            picture.width = Inches(_TEXT_WIDTH_IN)
    _caption(doc, f"Figure {figure.number}.", figure.caption)


def _fixed_zip(data: bytes) -> bytes:
    """The DOCX (a ZIP) with every entry dated :data:`_ZIP_TIME`, in the same order."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, _ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info))
    return out.getvalue()


def to_docx(content: ReportContent) -> bytes:
    """The report as the bytes of a DOCX file (figures from ``content.pngs``)."""
    from docx import Document as new_document
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    report = build(content)
    doc = new_document()
    page = doc.sections[0]
    page.orientation = WD_ORIENT.PORTRAIT
    page.page_width, page.page_height = Cm(21.0), Cm(29.7)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(page, side, Cm(2.5))
    properties = doc.core_properties
    properties.title = report.title
    properties.author = "; ".join(report.authors)
    properties.last_modified_by = "metareview"
    properties.created = properties.modified = _EPOCH
    properties.revision = 1

    doc.add_heading(report.title, level=0)
    if report.authors:
        doc.add_paragraph(", ".join(report.authors))
    for section in report.sections:
        doc.add_heading(section.heading, level=1)
        for block in section.blocks:
            if isinstance(block, Paragraph):
                doc.add_paragraph(block.text)
            elif isinstance(block, Subheading):
                doc.add_heading(block.text, level=2)
            elif isinstance(block, Table):
                _table(doc, block)
            elif isinstance(block, Figure):
                _figure(doc, block, content)
            elif isinstance(block, References):
                for number, item in enumerate(block.items, 1):
                    doc.add_paragraph(f"{number}. {item}")
    doc.add_paragraph(report.footer)
    buffer = io.BytesIO()
    doc.save(buffer)
    return _fixed_zip(buffer.getvalue())
