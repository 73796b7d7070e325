"""``-o markdown``: a summary for pull requests and job summaries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from baseguard.humanize import format_age
from baseguard.matching.findings import SEVERITIES
from baseguard.report.base import RenderOptions, ScanFormat, fixed_text, target_label

if TYPE_CHECKING:
    from baseguard.matching.findings import Finding, ScanResult


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(findings: list[Finding], suppressed: bool) -> list[str]:
    last = "VEX" if suppressed else "KEV / EPSS"
    lines = [
        f"| Severity | Vulnerability | Package | Installed | Fixed in | {last} |",
        "|---|---|---|---|---|---|",
    ]
    for f in findings:
        if suppressed and f.vex is not None:
            extra = f.vex.status + (f" ({f.vex.justification})" if f.vex.justification else "")
        else:
            marks = ["**KEV**"] if f.in_kev else []
            if f.epss is not None:
                marks.append(f"{f.epss[0] * 100:.1f}%")
            extra = " ".join(marks)
        score = f" {f.cvss_score:.1f}" if f.cvss_score is not None else ""
        lines.append(
            "| "
            + " | ".join(
                _cell(c)
                for c in (
                    f.severity.lower() + score,
                    f.id,
                    f.package.name,
                    f.installed_version,
                    fixed_text(f.fixed_versions),
                    extra,
                )
            )
            + " |"
        )
    return lines


class MarkdownFormat(ScanFormat):
    name = "markdown"
    description = "a Markdown summary for pull requests and CI job summaries"

    def render(self, result: ScanResult, options: RenderOptions) -> str:
        counts = result.counts()
        lines = [f"## baseguard scan: {_cell(target_label(result))}", ""]
        facts = [f"{result.packages_scanned} packages scanned"]
        if result.db_age is not None:
            facts.append(f"vulnerability database {format_age(result.db_age)} old")
        lines += [", ".join(facts) + ".", ""]
        lines += ["| " + " | ".join(s.lower() for s in SEVERITIES) + " | suppressed |"]
        lines += ["|" + "---|" * (len(SEVERITIES) + 1)]
        lines += [
            "| "
            + " | ".join(str(counts[s]) for s in SEVERITIES)
            + f" | {len(result.suppressed)} |",
            "",
        ]
        if result.findings:
            lines += ["### Vulnerabilities", "", *_rows(result.findings, False), ""]
        else:
            lines += ["No vulnerabilities found.", ""]
        if options.show_suppressed and result.suppressed:
            lines += ["### Suppressed", "", *_rows(result.suppressed, True), ""]
        if result.warnings:
            lines += ["### Warnings", "", *(f"- {_cell(w)}" for w in result.warnings), ""]
        return "\n".join(lines)
