"""What a scan reports: findings (why each matched), VEX decisions, warnings, DB age.

A :class:`Finding` carries everything a person or a gate needs to act on one vulnerability in
one package: the id and aliases, the package and where it sits in the image, the installed
and fixed versions, severity, KEV and EPSS, each advisory source and the range that matched,
and the VEX decision if one applies. :class:`ScanResult` is the matcher's answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baseguard.vulndb.model import SEVERITY_ORDER, severity_rank

#: Finding states: a fixed version exists, or it does not (yet).
FIXED, NOT_FIXED = "fixed", "not-fixed"

#: Severity labels, highest first (the order findings are sorted and counted in).
SEVERITIES = tuple(reversed(SEVERITY_ORDER))


@dataclass(slots=True)
class PackageRef:
    """The package a finding is about, as the analysis found it."""

    name: str
    version: str
    type: str
    purl: str
    source_name: str | None = None
    source_version: str | None = None
    layer: str | None = None
    locations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "type": self.type,
            "purl": self.purl,
            "sourceName": self.source_name,
            "sourceVersion": self.source_version,
            "layer": self.layer,
            "locations": list(self.locations),
        }

    @property
    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.name, self.version, self.type, self.locations[0] if self.locations else "")


@dataclass(slots=True)
class MatchSource:
    """One advisory that matched: which source said so, and the range that contains the
    installed version (``"introduced 0, fixed 1.36.1-r30"``)."""

    source: str
    advisory_id: str
    ecosystem: str
    package: str
    range: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "advisoryId": self.advisory_id,
            "ecosystem": self.ecosystem,
            "package": self.package,
            "range": self.range,
        }


@dataclass(slots=True)
class VexDecision:
    """The VEX statement that applies to a finding (the latest one, when several do)."""

    status: str
    justification: str | None = None
    impact_statement: str | None = None
    action_statement: str | None = None
    status_notes: str | None = None
    document: str = ""
    timestamp: datetime | None = None

    @property
    def suppresses(self) -> bool:
        return self.status in ("not_affected", "fixed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "justification": self.justification,
            "impactStatement": self.impact_statement,
            "actionStatement": self.action_statement,
            "statusNotes": self.status_notes,
            "document": self.document,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
        }


@dataclass(slots=True)
class Finding:
    """One vulnerability in one installed package, and why we say so."""

    id: str
    package: PackageRef
    installed_version: str
    aliases: list[str] = field(default_factory=list)
    fixed_versions: list[str] = field(default_factory=list)
    severity: str = "UNKNOWN"
    cvss_score: float | None = None
    distro_severity: str | None = None
    summary: str = ""
    references: list[str] = field(default_factory=list)
    sources: list[MatchSource] = field(default_factory=list)
    kev: dict[str, Any] | None = None
    epss: tuple[float, float] | None = None
    vex: VexDecision | None = None

    @property
    def state(self) -> str:
        return FIXED if self.fixed_versions else NOT_FIXED

    @property
    def ids(self) -> set[str]:
        """The id and every alias, upper-cased (what VEX statements are matched against)."""
        return {self.id.upper(), *(a.upper() for a in self.aliases)}

    @property
    def in_kev(self) -> bool:
        return self.kev is not None

    @property
    def severity_rank(self) -> int:
        return severity_rank(self.severity)

    @property
    def sort_key(self) -> tuple[int, str, tuple[str, str, str, str]]:
        """Severity descending, then id, then package."""
        return (-self.severity_rank, self.id, self.package.sort_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "aliases": list(self.aliases),
            "package": self.package.to_dict(),
            "installedVersion": self.installed_version,
            "fixedVersions": list(self.fixed_versions),
            "state": self.state,
            "severity": self.severity,
            "cvssScore": self.cvss_score,
            "distroSeverity": self.distro_severity,
            "summary": self.summary,
            "references": list(self.references),
            "kev": dict(self.kev) if self.kev is not None else None,
            "epss": (
                {"score": self.epss[0], "percentile": self.epss[1]}
                if self.epss is not None
                else None
            ),
            "sources": [s.to_dict() for s in self.sources],
            "vex": self.vex.to_dict() if self.vex is not None else None,
        }


@dataclass
class ScanResult:
    """The matcher's answer for one analysis.

    ``findings`` are what VEX leaves (possibly annotated ``affected`` or
    ``under_investigation``); ``suppressed`` are findings a VEX statement (``not_affected``,
    ``fixed``) or the distro's own not-affected statement took out, each with its decision.
    """

    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    db_age: timedelta | None = None
    db_built: datetime | None = None
    packages_scanned: int = 0
    scanned_at: datetime | None = None
    #: Where the packages came from: image identity and distro, as the analysis said.
    target: dict[str, Any] = field(default_factory=dict)
    distro: dict[str, Any] = field(default_factory=dict)
    #: Ecosystem -> number of packages matched in it.
    ecosystems: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Findings per severity label, highest first (every label present, zeros kept)."""
        out = {label: 0 for label in SEVERITIES}
        for finding in self.findings:
            out[finding.severity if finding.severity in out else "UNKNOWN"] += 1
        return out

    def at_or_above(self, severity: str) -> list[Finding]:
        """Findings (suppressed ones excluded) whose severity is ``severity`` or higher."""
        floor = severity_rank(severity)
        return [f for f in self.findings if f.severity_rank >= floor]

    def only_fixed(self) -> ScanResult:
        """A copy without the findings that have no fixed version."""
        return dataclasses.replace(
            self,
            findings=[f for f in self.findings if f.fixed_versions],
            suppressed=list(self.suppressed),
        )

    def to_dict(self) -> dict[str, Any]:
        from baseguard import __version__

        return {
            "schemaVersion": "1",
            "tool": {"name": "baseguard", "version": __version__},
            "scannedAt": self.scanned_at.isoformat() if self.scanned_at else None,
            "target": dict(self.target),
            "distro": dict(self.distro),
            "database": {
                "builtAt": self.db_built.isoformat() if self.db_built else None,
                "ageSeconds": int(self.db_age.total_seconds()) if self.db_age else None,
            },
            "packagesScanned": self.packages_scanned,
            "ecosystems": dict(sorted(self.ecosystems.items())),
            "summary": {
                "total": len(self.findings),
                "fixable": sum(1 for f in self.findings if f.fixed_versions),
                "suppressed": len(self.suppressed),
                "kev": sum(1 for f in self.findings if f.in_kev),
                "bySeverity": {k.lower(): v for k, v in self.counts().items()},
            },
            "findings": [f.to_dict() for f in self.findings],
            "suppressed": [f.to_dict() for f in self.suppressed],
            "warnings": list(self.warnings),
        }


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: f.sort_key)
