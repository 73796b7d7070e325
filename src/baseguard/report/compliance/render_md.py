"""The compliance report as Markdown (GitHub-flavoured tables)."""

from __future__ import annotations

from baseguard.report.compliance import RULES_NOTE, ComplianceReport, cell
from baseguard.report.compliance.evidence import Evidence

STATUS_MARK = {"met": "MET", "partial": "PARTIAL", "gap": "GAP"}


def _esc(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, one line)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(columns: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(_esc(c) for c in columns) + " |"]
    out.append("|" + "|".join("---" for _ in columns) + "|")
    out += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return out


def _evidence(ev: Evidence) -> list[str]:
    lines = [
        f"### {ev.title} (`{ev.id}`): {STATUS_MARK[ev.status]}",
        "",
        f"{ev.summary}" + (f" (as of {ev.as_of})" if ev.as_of else ""),
        "",
    ]
    if ev.facts:
        lines += _table(["fact", "value"], [[k, cell(v)] for k, v in ev.facts.items()])
        lines.append("")
    for table in ev.tables:
        lines += [f"**{table.title}**", ""]
        lines += _table(
            table.columns, [[cell(r.get(c)) for c in table.columns] for r in table.rows]
        )
        lines.append("")
    if ev.notes:
        lines += ["Not met because:", ""]
        lines += [f"- {note}" for note in ev.notes]
        lines.append("")
    return lines


def render_markdown(report: ComplianceReport) -> str:
    """The whole report: header, article summary, one section per article, the evidence."""
    by_id = report.evidence_by_id()
    lines = [
        f"# {report.title}",
        "",
        f"- Generated: {report.generated}",
        f"- Store: `{report.store}`",
        f"- Audit chain head: `{report.head_text}` ({report.audit_state})",
        f"- Articles: {report.counts_text}",
        f"- baseguard {report.tool_version}",
        "",
        RULES_NOTE,
        "",
        "## Articles",
        "",
    ]
    lines += _table(
        ["act", "article", "title", "status"],
        [
            [r.article.act, r.article.ref, r.article.title, STATUS_MARK[r.status]]
            for r in report.articles
        ],
    )
    lines.append("")
    for result in report.articles:
        art = result.article
        lines += [
            f"## {art.ref}: {art.title} ({STATUS_MARK[result.status]})",
            "",
            f"*{art.act}*",
            "",
            f"- **Requirement:** {art.requirement}",
            f"- **Control:** {art.control}",
            f"- **Status:** {STATUS_MARK[result.status]}"
            + (f" ({'; '.join(result.reasons)})" if result.reasons else ""),
            "",
            "Evidence:",
            "",
        ]
        for item_id in art.evidence:
            ev = by_id[item_id]
            dated = f" (as of {ev.as_of})" if ev.as_of else ""
            lines.append(
                f"- {ev.title} ({art.role(item_id)}): {STATUS_MARK[ev.status]}: {ev.summary}{dated}"
            )
        lines.append("")
    lines += ["## Evidence", ""]
    for ev in report.used_evidence():
        lines += _evidence(ev)
    return "\n".join(lines).rstrip() + "\n"
