"""The compliance report as PDF (reportlab, pure Python): A4 landscape, a footer on every page
with the generation time and the audit chain's head hash.

The built-in PDF fonts cover Windows-1252 only; other characters are written as ``?``. The
output is byte-for-byte reproducible for a given report (reportlab's invariant mode).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from baseguard.report.compliance import RULES_NOTE, ComplianceReport, cell
from baseguard.report.compliance.evidence import Evidence

PAGE = landscape(A4)
MARGIN = 14 * mm
STATUS_COLOURS = {
    "met": colors.HexColor("#1a7f37"),
    "partial": colors.HexColor("#9a6700"),
    "gap": colors.HexColor("#cf222e"),
}


def safe(text: str) -> str:
    """``text`` limited to what the built-in fonts can show (others become ``?``)."""
    return text.encode("cp1252", "replace").decode("cp1252")


class _Styles:
    def __init__(self) -> None:
        base = getSampleStyleSheet()
        self.title = ParagraphStyle("t", parent=base["Title"], fontSize=17, leading=21)
        self.h2 = ParagraphStyle("h2", parent=base["Heading2"], fontSize=12.5, spaceBefore=10)
        self.h3 = ParagraphStyle("h3", parent=base["Heading3"], fontSize=10.5, spaceBefore=8)
        self.body = ParagraphStyle("b", parent=base["BodyText"], fontSize=9, leading=11.5)
        self.small = ParagraphStyle("s", parent=self.body, fontSize=7.2, leading=8.8)
        self.italic = ParagraphStyle("i", parent=self.body, fontName="Helvetica-Oblique")
        self.note = ParagraphStyle("n", parent=self.small, textColor=colors.HexColor("#82071e"))


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(safe(text)), style)


def _coloured(status: str, *, bold: bool = False) -> str:
    """``status`` in capitals and in its colour, as Paragraph markup."""
    text = f"<b>{status.upper()}</b>" if bold else status.upper()
    return f'<font color="#{STATUS_COLOURS[status].hexval()[2:]}">{text}</font>'


def _status(status: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_coloured(status, bold=True), style)


def _table(
    columns: list[str],
    rows: list[list[Any]],
    styles: _Styles,
    widths: list[float] | None = None,
) -> Table:
    width = PAGE[0] - 2 * MARGIN
    if widths is None:  # by content: the longest text of each column, within bounds
        widths = [
            float(
                min(
                    48,
                    max(
                        6,
                        len(c),
                        *(len(str(r[i])) for r in rows if not isinstance(r[i], Flowable)),
                    ),
                )
            )
            for i, c in enumerate(columns)
        ]
    scale = width / sum(widths)
    widths = [w * scale for w in widths]
    head = [_p(c, styles.small) for c in columns]
    data = [head] + [
        [v if isinstance(v, Flowable) else _p(str(v), styles.small) for v in row] for row in rows
    ]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#b8c0c8")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _evidence(ev: Evidence, styles: _Styles) -> list[Flowable]:
    out: list[Flowable] = [
        KeepTogether(
            [
                Paragraph(
                    f"{escape(safe(ev.title))} ({escape(ev.id)}) {_coloured(ev.status)}", styles.h3
                ),
                _p(ev.summary + (f" (as of {ev.as_of})" if ev.as_of else ""), styles.body),
            ]
        )
    ]
    if ev.facts:
        out.append(
            _table(["fact", "value"], [[k, cell(v)] for k, v in ev.facts.items()], styles, [1, 4])
        )
    for table in ev.tables:
        cells = [[cell(r.get(c)) for c in table.columns] for r in table.rows]
        out.append(
            KeepTogether([_p(table.title, styles.italic), _table(table.columns, cells, styles)])
        )
    if ev.notes:
        out.append(_p("Not met because:", styles.small))
        out += [_p(f"- {note}", styles.note) for note in ev.notes]
    out.append(Spacer(1, 4))
    return out


def render_pdf(report: ComplianceReport) -> bytes:
    """The whole report as PDF bytes."""
    styles = _Styles()
    by_id = report.evidence_by_id()
    footer = safe(
        f"Generated {report.generated} - audit chain head {report.head_text}"
        + ("" if report.audit_ok else " (TAMPERED)")
    )

    def on_page(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#444c56"))
        canvas.drawString(MARGIN, 8 * mm, footer)
        canvas.drawRightString(PAGE[0] - MARGIN, 8 * mm, f"page {doc.page}")
        canvas.restoreState()

    story: list[Flowable] = [
        _p(report.title, styles.title),
        _table(["", ""], report.header_rows(), styles, [1, 5]),
        Spacer(1, 4),
        _p(RULES_NOTE, styles.italic),
        _p("Articles", styles.h2),
        _table(
            ["act", "article", "title", "status"],
            [
                [r.article.act, r.article.ref, r.article.title, _status(r.status, styles.small)]
                for r in report.articles
            ],
            styles,
            [5, 1.3, 3.5, 1],
        ),
    ]
    for result in report.articles:
        art = result.article
        block: list[Flowable] = [
            Paragraph(
                f"{escape(safe(art.ref))}: {escape(safe(art.title))} {_coloured(result.status)}",
                styles.h2,
            ),
            _p(art.act, styles.italic),
            Paragraph(f"<b>Requirement:</b> {escape(safe(art.requirement))}", styles.body),
            Paragraph(f"<b>Control:</b> {escape(safe(art.control))}", styles.body),
        ]
        block += [_p(f"- {r}", styles.note) for r in result.reasons]
        block.append(Spacer(1, 3))
        block.append(
            _table(
                ["evidence", "role", "status", "measured", "as of"],
                [
                    [
                        by_id[e].title,
                        art.role(e),
                        _status(by_id[e].status, styles.small),
                        by_id[e].summary,
                        by_id[e].as_of or "-",
                    ]
                    for e in art.evidence
                ],
                styles,
                [1.6, 0.9, 0.8, 6, 1.6],
            )
        )
        story.append(KeepTogether(block))
    story.append(_p("Evidence", styles.h2))
    for ev in report.used_evidence():
        story += _evidence(ev, styles)

    buffer = BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=safe(report.title),
        author="baseguard",
        subject=safe(f"generated {report.generated}; audit chain head {report.head_text}"),
        creator=f"baseguard {report.tool_version}",
        invariant=1,
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
