"""``-o table``: findings for people, coloured by severity, with a counts summary."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from baseguard.humanize import format_age
from baseguard.matching.findings import SEVERITIES
from baseguard.report.base import (
    RenderOptions,
    ScanFormat,
    fixed_text,
    severity_color,
    target_label,
)

if TYPE_CHECKING:
    from baseguard.matching.findings import Finding, ScanResult


def _epss(finding: Finding) -> str:
    if finding.epss is None:
        return ""
    return f"{finding.epss[0] * 100:.1f}%"


def _table(title: str, findings: list[Finding], suppressed: bool) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    table.add_column("Severity", no_wrap=True)
    table.add_column("Vulnerability", no_wrap=True)
    table.add_column("Package", overflow="fold")
    table.add_column("Installed", overflow="fold")
    table.add_column("Fixed in", overflow="fold")
    table.add_column("KEV", no_wrap=True)
    table.add_column("EPSS", justify="right", no_wrap=True)
    notes = suppressed or any(f.vex is not None for f in findings)
    if notes:
        table.add_column("VEX", overflow="fold")
    for f in findings:
        score = f" {f.cvss_score:.1f}" if f.cvss_score is not None else ""
        note = ""
        if f.vex is not None:
            note = f.vex.status + (f": {f.vex.justification}" if f.vex.justification else "")
        cells: list[str | Text] = [
            Text(f.severity.lower() + score, style=severity_color(f.severity)),
            f.id,
            f.package.name,
            f.installed_version,
            fixed_text(f.fixed_versions),
            Text("KEV", style="bold red") if f.in_kev else "",
            _epss(f),
        ]
        table.add_row(*cells, *([note] if notes else []))
    return table


def summary_line(result: ScanResult) -> str:
    counts = result.counts()
    total = len(result.findings)
    parts = [f"{counts[s]} {s.lower()}" for s in SEVERITIES if counts[s]]
    fixable = sum(1 for f in result.findings if f.fixed_versions)
    line = f"{total} vulnerabilit{'y' if total == 1 else 'ies'}"
    if parts:
        line += f" ({', '.join(parts)})"
    line += f"; {fixable} with a fix"
    kev = sum(1 for f in result.findings if f.in_kev)
    if kev:
        line += f"; {kev} known exploited (KEV)"
    if result.suppressed:
        line += f"; {len(result.suppressed)} suppressed by VEX or the distro"
    return line


class TableFormat(ScanFormat):
    name = "table"
    description = "a table for people, coloured by severity, with counts"

    def render(self, result: ScanResult, options: RenderOptions) -> str:
        out = io.StringIO()
        console = Console(
            file=out,
            width=options.width,
            force_terminal=options.color,
            no_color=not options.color,
            highlight=False,
        )
        head = f"baseguard scan {target_label(result)}: {result.packages_scanned} packages"
        if result.db_age is not None:
            head += f", database {format_age(result.db_age)} old"
        console.print(head)
        if result.findings:
            console.print(_table("Vulnerabilities", result.findings, suppressed=False))
        if options.show_suppressed and result.suppressed:
            console.print(_table("Suppressed", result.suppressed, suppressed=True))
        console.print(summary_line(result))
        if result.suppressed and not options.show_suppressed:
            console.print("(--show-suppressed lists the suppressed findings and why)")
        return out.getvalue()
