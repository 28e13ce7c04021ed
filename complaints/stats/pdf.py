"""An annual report as a PDF (fpdf2), printed from the same :class:`AnnualReport` as the page.

The PDF uses the standard Helvetica font (Windows-1252), so it embeds no font file; a character
outside that encoding is replaced rather than failing the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from complaints.stats.labels import suppression_note
from complaints.web.i18n import _

if TYPE_CHECKING:
    from complaints.stats.reports import AnnualReport, ReportTable

ENCODING = "cp1252"
WIDTH = 180  # mm of text on A4 with the default margins
COUNT_WIDTH = 30


def _text(value: str) -> str:
    return value.encode(ENCODING, errors="replace").decode(ENCODING)


class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("helvetica", size=8)
        self.cell(0, 10, _text(_("Page %(number)s", number=self.page_no())), align="C")


def report_pdf(report: AnnualReport, *, compress: bool = True) -> bytes:
    """The report as PDF bytes. ``compress=False`` leaves the text readable in the file."""
    pdf = _ReportPDF(format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_compression(compress)
    pdf.set_title(_text(report.title))
    pdf.set_creator("complaints")
    pdf.add_page()
    pdf.set_font("helvetica", style="B", size=16)
    pdf.multi_cell(WIDTH, 8, _text(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("helvetica", size=9)
    pdf.multi_cell(WIDTH, 5, _text(suppression_note(report.k)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in report.sections:
        pdf.ln(4)
        pdf.set_font("helvetica", style="B", size=13)
        pdf.multi_cell(WIDTH, 7, _text(section.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("helvetica", size=10)
        pdf.multi_cell(WIDTH, 5, _text(section.introduction), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for table in section.tables:
            _table(pdf, report, table)
        for fact in section.facts:
            value = fact.value if fact.value is not None else _("too few cases to publish")
            pdf.set_font("helvetica", size=10)
            pdf.multi_cell(
                WIDTH, 6, _text(f"{fact.label}: {value}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT
            )
    return bytes(pdf.output())


def _table(pdf: FPDF, report: AnnualReport, table: ReportTable) -> None:
    pdf.ln(2)
    pdf.set_font("helvetica", style="B", size=10)
    pdf.multi_cell(WIDTH, 6, _text(table.caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(WIDTH - COUNT_WIDTH, 6, _text(table.heading), border="B")
    pdf.cell(COUNT_WIDTH, 6, _text(_("Number")), border="B", align="R")
    pdf.ln()
    pdf.set_font("helvetica", size=10)
    if not table.lines:
        pdf.cell(WIDTH, 6, _text(_("None this year.")), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for line in table.lines:
        pdf.cell(WIDTH - COUNT_WIDTH, 6, _text(line.label))
        pdf.cell(COUNT_WIDTH, 6, _text(report.shown(line.count)), align="R")
        pdf.ln()
    pdf.set_font("helvetica", style="B", size=10)
    pdf.cell(WIDTH - COUNT_WIDTH, 6, _text(_("Total")), border="T")
    pdf.cell(COUNT_WIDTH, 6, _text(report.shown(table.total)), border="T", align="R")
    pdf.ln()
    if table.note:
        pdf.set_font("helvetica", style="I", size=9)
        pdf.multi_cell(WIDTH, 5, _text(table.note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
