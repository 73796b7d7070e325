"""``-o sarif``: SARIF 2.1.0 as GitHub code scanning accepts it.

One rule per vulnerability (its level the highest severity it has here, its
``security-severity`` the CVSS score GitHub ranks by), one result per vulnerable package,
located at the package's file in the image (``lib/apk/db/installed``,
``usr/lib/python3/dist-packages/…``). Suppressed findings are written only with
``--show-suppressed``, as results with an external ``suppressions`` entry.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from baseguard.report.base import RenderOptions, ScanFormat, fixed_text, target_label
from baseguard.report.sarif_envelope import accepted_suppression, render_document
from baseguard.vulndb.model import severity_rank

if TYPE_CHECKING:
    from baseguard.matching.findings import Finding, ScanResult

LEVELS = {"CRITICAL": "error", "HIGH": "error", "MEDIUM": "warning"}
#: GitHub ranks by ``security-severity`` (a CVSS-like number); used when no score is known.
NOMINAL_SCORE = {"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0"}


def level_of(severity: str) -> str:
    return LEVELS.get(severity.upper(), "note")


def artifact_uri(finding: Finding, fallback: str) -> str:
    """The package's file in the image, relative (``lib/apk/db/installed``)."""
    if finding.package.locations:
        return finding.package.locations[0].lstrip("/") or fallback
    return fallback


def _security_severity(finding: Finding) -> str | None:
    if finding.cvss_score is not None:
        return f"{finding.cvss_score:.1f}"
    return NOMINAL_SCORE.get(finding.severity.upper())


def _help(finding: Finding) -> tuple[str, str]:
    refs = finding.references or [f"https://osv.dev/vulnerability/{finding.id}"]
    text = f"{finding.id}: {finding.summary or 'no description'}\n" + "\n".join(refs)
    lines = [f"**{finding.id}** ({finding.severity.lower()})", "", finding.summary or ""]
    lines += ["", "| Package | Installed | Fixed in |", "|---|---|---|"]
    lines.append(
        f"| {finding.package.name} | {finding.installed_version} | "
        f"{fixed_text(finding.fixed_versions)} |"
    )
    lines += ["", *(f"- <{r}>" for r in refs)]
    return text, "\n".join(lines)


def _rule(finding: Finding, severity: str, score: str | None) -> dict[str, Any]:
    text, markdown = _help(finding)
    summary = finding.summary or f"{finding.id} in {finding.package.name}"
    properties: dict[str, Any] = {
        "tags": ["security", "vulnerability", severity.lower()],
        "precision": "very-high",
    }
    if score is not None:
        properties["security-severity"] = score
    rule: dict[str, Any] = {
        "id": finding.id,
        "name": "PackageVulnerability",
        "shortDescription": {
            "text": f"{finding.id}: {summary.splitlines()[0][:200]}" if finding.summary else summary
        },
        "fullDescription": {"text": summary},
        "defaultConfiguration": {"level": level_of(severity)},
        "help": {"text": text, "markdown": markdown},
        "properties": properties,
    }
    if finding.references:
        rule["helpUri"] = finding.references[0]
    return rule


def _message(finding: Finding, where: str) -> str:
    fix = (
        f"fixed in {', '.join(finding.fixed_versions)}" if finding.fixed_versions else "no fix yet"
    )
    source = finding.sources[0] if finding.sources else None
    why = f" ({source.source} {source.advisory_id}: {source.range})" if source else ""
    kev = " Known exploited (CISA KEV)." if finding.in_kev else ""
    return (
        f"{finding.package.type} package {finding.package.name} {finding.installed_version} "
        f"in {where} is affected by {finding.id} ({finding.severity.lower()}); {fix}{why}.{kev}"
    )


class SarifFormat(ScanFormat):
    name = "sarif"
    description = "SARIF 2.1.0 for GitHub code scanning"

    def render(self, result: ScanResult, options: RenderOptions) -> str:
        where = target_label(result)
        fallback = str(result.target.get("name") or result.target.get("reference") or "image")
        shown: list[tuple[Finding, bool]] = [(f, False) for f in result.findings]
        if options.show_suppressed:
            shown += [(f, True) for f in result.suppressed]

        worst: dict[str, tuple[str, str | None, Finding]] = {}
        for finding, _ in shown:
            score = _security_severity(finding)
            current = worst.get(finding.id)
            if current is None or severity_rank(finding.severity) > severity_rank(current[0]):
                worst[finding.id] = (finding.severity, score, finding)
            elif score is not None and (current[1] is None or float(score) > float(current[1])):
                worst[finding.id] = (current[0], score, current[2])
        rule_ids = sorted(worst)
        index = {rid: i for i, rid in enumerate(rule_ids)}
        rules = [_rule(worst[r][2], worst[r][0], worst[r][1]) for r in rule_ids]

        results: list[dict[str, Any]] = []
        for finding, suppressed in shown:
            uri = artifact_uri(finding, fallback)
            identity = f"{finding.id}|{finding.package.purl}|{uri}".encode()
            item: dict[str, Any] = {
                "ruleId": finding.id,
                "ruleIndex": index[finding.id],
                "level": level_of(finding.severity),
                "message": {"text": _message(finding, where)},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": uri},
                            "region": {
                                "startLine": 1,
                                "startColumn": 1,
                                "endLine": 1,
                                "endColumn": 1,
                            },
                        },
                        "message": {"text": f"{where}: {finding.package.purl}"},
                    }
                ],
                # Several packages share one file (lib/apk/db/installed): keep their alerts
                # apart instead of letting GitHub fingerprint by file line.
                "partialFingerprints": {
                    "packageVulnerability/v1": hashlib.sha256(identity).hexdigest()
                },
                "properties": {
                    "purl": finding.package.purl,
                    "installedVersion": finding.installed_version,
                    "fixedVersions": list(finding.fixed_versions),
                    "severity": finding.severity,
                    "layer": finding.package.layer,
                },
            }
            if suppressed and finding.vex is not None:
                reason = finding.vex.justification or finding.vex.status
                if finding.vex.impact_statement:
                    reason += f": {finding.vex.impact_statement}"
                item["suppressions"] = [accepted_suppression(reason)]
            results.append(item)

        return render_document(
            rules=rules,
            results=results,
            warnings=result.warnings,
            properties={"target": where},
        )
