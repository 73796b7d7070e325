"""Builders for store tests: analyses, scan results with many findings, a stepping clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, make_purl
from baseguard.matching.findings import (
    Finding,
    MatchSource,
    PackageRef,
    ScanResult,
    VexDecision,
)

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")


class StepClock:
    """A clock that starts at :data:`NOW` and moves one second per reading."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        moment = self.now
        self.now += timedelta(seconds=1)
        return moment


def digest_of(n: int) -> str:
    return f"sha256:{n:064x}"


def image_identity(digest: str, reference: str, layer: str = "1" * 64) -> ImageIdentity:
    """A linux/amd64 registry image of one layer, as the store and reports see it."""
    return ImageIdentity(
        reference=reference,
        source="registry",
        name=reference,
        manifest_digest=digest,
        index_digest=None,
        config_digest="sha256:" + "c" * 64,
        layer_digests=["sha256:" + layer],
        platform="linux/amd64",
    )


def make_analysis(
    digest: str = digest_of(1), packages: int = 3, reference: str = "alpine:3.20"
) -> Analysis:
    return Analysis(
        image=image_identity(digest, reference),
        distro=Distro(id="alpine", version_id="3.20.3", source="etc/os-release"),
        facts=None,
        packages=[
            Package(
                name=f"pkg{i}",
                version=f"1.{i}-r0",
                type="apk",
                purl=make_purl("apk", f"pkg{i}", f"1.{i}-r0", namespace="alpine"),
                locations=["/lib/apk/db/installed"],
            )
            for i in range(packages)
        ],
        analyzed_at=NOW,
    )


def make_finding(i: int, *, vex: str | None = None) -> Finding:
    name = f"pkg{i % 97}"
    version = f"1.{i}-r0"
    return Finding(
        id=f"CVE-2025-{10000 + i}",
        package=PackageRef(
            name=name,
            version=version,
            type="apk",
            purl=make_purl("apk", name, version, namespace="alpine"),
            locations=["/lib/apk/db/installed"],
        ),
        installed_version=version,
        aliases=[f"GHSA-{i:04d}-xxxx-yyyy"],
        fixed_versions=[f"1.{i}-r1"] if i % 3 else [],
        severity=SEVERITIES[i % len(SEVERITIES)],
        cvss_score=7.5 if i % 2 else None,
        summary=f"finding {i} — ünïcode kept",
        sources=[MatchSource("alpine", f"CVE-2025-{10000 + i}", "Alpine:v3.20", name, "<2")],
        kev={"dateAdded": "2025-01-01"} if i % 50 == 0 else None,
        epss=(0.5, 0.9) if i % 7 == 0 else None,
        vex=VexDecision(status=vex, justification="component_not_present") if vex else None,
    )


def make_scan(
    findings: int = 3, suppressed: int = 0, *, reference: str = "alpine:3.20"
) -> ScanResult:
    return ScanResult(
        findings=[make_finding(i) for i in range(findings)],
        suppressed=[make_finding(findings + i, vex="not_affected") for i in range(suppressed)],
        warnings=["a warning"],
        packages_scanned=findings + suppressed,
        scanned_at=NOW,
        target={"reference": reference},
        distro={"id": "alpine", "versionId": "3.20.3"},
        ecosystems={"Alpine:v3.20": findings + suppressed},
    )
