"""Builders for matching tests: analyses, packages, an in-memory advisory source, real DBs."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, make_purl
from baseguard.vulndb.model import Advisory, Affected, Range

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
ALPINE_320 = Distro(id="alpine", version_id="3.20.3")
DEBIAN_12 = Distro(id="debian", version_id="12", codename="bookworm")


def analysis(
    packages: Iterable[Package],
    distro: Distro = ALPINE_320,
    *,
    name: str | None = "registry.example.com/team/app:1.0",
    digest: str | None = "sha256:" + "a" * 64,
) -> Analysis:
    return Analysis(
        image=ImageIdentity(
            reference=name or "test",
            source="test",
            name=name,
            manifest_digest=digest,
            index_digest=None,
            config_digest=None,
            layer_digests=["sha256:" + "1" * 64],
            platform="linux/amd64",
        ),
        distro=distro,
        facts=None,
        packages=list(packages),
        analyzed_at=NOW,
    )


def apk(name: str, version: str, origin: str | None = None) -> Package:
    return Package(
        name=name,
        version=version,
        type="apk",
        purl=make_purl("apk", name, version, namespace="alpine", qualifiers={"arch": "x86_64"}),
        source_name=origin or name,
        source_version=version,
        layer="sha256:" + "1" * 64,
        locations=["/lib/apk/db/installed"],
    )


def deb(
    name: str, version: str, source: str | None = None, source_version: str | None = None
) -> Package:
    return Package(
        name=name,
        version=version,
        type="deb",
        purl=make_purl("deb", name, version, namespace="debian", qualifiers={"arch": "amd64"}),
        source_name=source or name,
        source_version=source_version or version,
        locations=["/var/lib/dpkg/status"],
    )


def lang(ptype: str, name: str, version: str, namespace: str | None = None) -> Package:
    return Package(
        name=name,
        version=version,
        type=ptype,
        purl=make_purl(ptype, name, version, namespace=namespace),
        locations=[f"/app/{name}"],
    )


def advisory(
    vuln_id: str,
    ecosystem: str,
    package: str,
    *,
    fixed: str | None = None,
    introduced: str = "0",
    aliases: Iterable[str] = (),
    source: str = "osv",
    severity: str = "UNKNOWN",
    score: float | None = None,
    not_affected: bool = False,
    distro_severity: str | None = None,
    versions: Iterable[str] = (),
    summary: str = "",
) -> Advisory:
    events = [("introduced", introduced)]
    if fixed is not None:
        events.append(("fixed", fixed))
    return Advisory(
        id=vuln_id,
        source=source,
        aliases=list(aliases),
        summary=summary,
        severity_label=severity,
        cvss_score=score,
        affected=[
            Affected(
                ecosystem=ecosystem,
                package=package,
                ranges=[] if not_affected else [Range("ECOSYSTEM", events)],
                versions=list(versions),
                not_affected=not_affected,
                severity=distro_severity,
            )
        ],
    )


@dataclass
class FakeDB:
    """The read API of :class:`VulnDB` over a list of advisories (exact names, no index)."""

    advisories: list[Advisory]
    kev_entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    epss_scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    built: datetime = NOW - timedelta(days=1)
    extra_ecosystems: set[str] = field(default_factory=set)
    calls: list[tuple[str, list[str]]] = field(default_factory=list)

    def advisories_for(
        self, ecosystem: str, names: Iterable[str]
    ) -> dict[str, list[tuple[Advisory, Affected]]]:
        wanted = list(names)
        self.calls.append((ecosystem, wanted))
        return {
            n: [
                (a, aff)
                for a in self.advisories
                for aff in a.affected
                if aff.ecosystem == ecosystem and aff.package == n and not a.withdrawn
            ]
            for n in wanted
        }

    def ecosystems(self) -> set[str]:
        return {aff.ecosystem for a in self.advisories for aff in a.affected} | set(
            self.extra_ecosystems
        )

    def kev(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        return {i: self.kev_entries[i] for i in ids if i in self.kev_entries}

    def epss(self, ids: Iterable[str]) -> dict[str, tuple[float, float]]:
        return {i: self.epss_scores[i] for i in ids if i in self.epss_scores}

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.built


def build_db(
    path: Path,
    advisories: Iterable[tuple[str, Advisory]] = (),
    *,
    built: datetime = NOW,
    kev: Iterable[tuple[str, dict[str, Any]]] = (),
    epss: Iterable[tuple[str, float, float]] = (),
) -> Path:
    """A real database file with the given (feed, advisory) records."""
    from baseguard.vulndb.store import DbBuilder

    with DbBuilder(path) as builder:
        for feed, adv in advisories:
            builder.add_advisory(feed, adv)
        builder.add_kev(kev)
        builder.add_epss(epss)
        builder.commit(built)
    return path
