"""The compliance report as one self-contained, printable HTML page (no scripts, no links out)."""

from __future__ import annotations

from html import escape

from baseguard.report.compliance import RULES_NOTE, ComplianceReport, cell
from baseguard.report.compliance.evidence import Evidence

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #1b1f24; margin: 2rem auto; max-width: 70rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; width: 100%; font-size: 12.5px; }
th, td { border: 1px solid #d0d7de; padding: .25rem .45rem; text-align: left;
         vertical-align: top; word-break: break-word; }
th { background: #f3f5f7; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.meta td:first-child { width: 11rem; font-weight: 600; }
.status { display: inline-block; padding: 0 .5rem; border-radius: .6rem; font-weight: 700;
          font-size: 12px; color: #fff; }
.met { background: #1a7f37; } .partial { background: #9a6700; } .gap { background: #cf222e; }
.act { color: #57606a; font-style: italic; margin-top: 0; }
.notes li { color: #82071e; }
section.article, section.evidence { break-inside: avoid-page; }
footer { margin-top: 2rem; color: #57606a; font-size: 12px; border-top: 1px solid #d0d7de; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; }
  .status { border: 1px solid #000; color: #000; background: none; }
  @page { margin: 16mm 14mm 18mm; }
}
"""


def _badge(status: str) -> str:
    return f'<span class="status {escape(status)}">{escape(status.upper())}</span>'


def _table(columns: list[str], rows: list[list[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    cls = f' class="{css}"' if css else ""
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _evidence(ev: Evidence) -> str:
    parts = [
        f'<section class="evidence" id="ev-{escape(ev.id)}">',
        f"<h3>{escape(ev.title)} <code>{escape(ev.id)}</code> {_badge(ev.status)}</h3>",
        f"<p>{escape(ev.summary)}"
        + (f" <em>(as of {escape(ev.as_of)})</em>" if ev.as_of else "")
        + "</p>",
    ]
    if ev.facts:
        parts.append(_table(["fact", "value"], [[k, cell(v)] for k, v in ev.facts.items()]))
    for table in ev.tables:
        parts.append(f"<h4>{escape(table.title)}</h4>")
        parts.append(
            _table(table.columns, [[cell(r.get(c)) for c in table.columns] for r in table.rows])
        )
    if ev.notes:
        parts.append('<p>Not met because:</p><ul class="notes">')
        parts += [f"<li>{escape(n)}</li>" for n in ev.notes]
        parts.append("</ul>")
    parts.append("</section>")
    return "\n".join(parts)


def render_html(report: ComplianceReport) -> str:
    """The whole report as HTML: styles inline, every value escaped."""
    by_id = report.evidence_by_id()
    meta = _table(["", ""], report.header_rows(), "meta")
    overview = "".join(
        f"<tr><td>{escape(r.article.act)}</td>"
        f'<td><a href="#{escape(r.article.id)}">{escape(r.article.ref)}</a></td>'
        f"<td>{escape(r.article.title)}</td><td>{_badge(r.status)}</td></tr>"
        for r in report.articles
    )
    articles = []
    for result in report.articles:
        art = result.article
        items = "".join(
            f"<tr><td>{escape(by_id[e].title)}</td>"
            f"<td>{art.role(e)}</td>"
            f"<td>{_badge(by_id[e].status)}</td>"
            f"<td>{escape(by_id[e].summary)}</td><td>{escape(by_id[e].as_of or '-')}</td></tr>"
            for e in art.evidence
        )
        reasons = (
            '<ul class="notes">'
            + "".join(f"<li>{escape(r)}</li>" for r in result.reasons)
            + "</ul>"
            if result.reasons
            else ""
        )
        articles.append(
            f'<section class="article" id="{escape(art.id)}">'
            f"<h2>{escape(art.ref)}: {escape(art.title)} {_badge(result.status)}</h2>"
            f'<p class="act">{escape(art.act)}</p>'
            f"<p><strong>Requirement:</strong> {escape(art.requirement)}</p>"
            f"<p><strong>Control:</strong> {escape(art.control)}</p>{reasons}"
            "<table><thead><tr><th>evidence</th><th>role</th><th>status</th>"
            f"<th>measured</th><th>as of</th></tr></thead><tbody>{items}</tbody></table>"
            "</section>"
        )
    evidence = "\n".join(_evidence(e) for e in report.used_evidence())
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head><body>\n"
        f"<h1>{escape(report.title)}</h1>\n{meta}\n"
        f"<p>{RULES_NOTE}</p>\n"
        "<h2>Articles</h2><table><thead><tr><th>act</th><th>article</th><th>title</th>"
        f"<th>status</th></tr></thead><tbody>{overview}</tbody></table>\n"
        + "\n".join(articles)
        + f"\n<h2>Evidence</h2>\n{evidence}\n"
        f"<footer>Generated {escape(report.generated)} · audit chain head "
        f'<span class="mono">{escape(report.head_text)}</span></footer>\n'
        "</body></html>\n"
    )
