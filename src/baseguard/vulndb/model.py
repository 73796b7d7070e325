"""Advisories as baseguard stores and matches them: the OSV schema's shape, trimmed.

Every feed (OSV, Alpine/Wolfi/Chainguard secdb, Debian tracker) is imported into
:class:`Advisory` records so that one matcher serves all of them. Ecosystem names follow OSV
(``Alpine:v3.20``, ``Debian:12``, ``Wolfi``, ``Chainguard``, ``PyPI``, ``npm``, ``Go``,
``Maven``, ``crates.io``, ``RubyGems``, ``NuGet``, ``Ubuntu:22.04``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Range event kinds, in OSV's words.
INTRODUCED, FIXED, LAST_AFFECTED, LIMIT = "introduced", "fixed", "last_affected", "limit"


@dataclass(slots=True)
class Range:
    """An OSV range: ``type`` is ECOSYSTEM or SEMVER (GIT ranges are not stored)."""

    type: str
    events: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "events": [{k: v} for k, v in self.events]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Range:
        events: list[tuple[str, str]] = []
        for event in data.get("events") or []:
            for kind, value in event.items():
                events.append((str(kind), str(value)))
        return cls(str(data.get("type", "ECOSYSTEM")), events)


@dataclass(slots=True)
class Affected:
    """Which versions of one package in one ecosystem an advisory affects.

    ``not_affected`` marks distro statements that the package was never affected (secdb's
    fixed version "0", Debian's "not-affected"): the matcher uses them to suppress other
    sources' claims for that distro release, never to report.
    """

    ecosystem: str
    package: str
    ranges: list[Range] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    not_affected: bool = False
    #: Distro urgency / severity label when the feed gives one per package (Debian urgency).
    severity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "package": self.package,
            "ranges": [r.to_dict() for r in self.ranges],
            "versions": list(self.versions),
            "not_affected": self.not_affected,
            "severity": self.severity,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Affected:
        return cls(
            ecosystem=str(data["ecosystem"]),
            package=str(data["package"]),
            ranges=[Range.from_dict(r) for r in data.get("ranges") or []],
            versions=[str(v) for v in data.get("versions") or []],
            not_affected=bool(data.get("not_affected", False)),
            severity=data.get("severity"),
        )


@dataclass(slots=True)
class Advisory:
    """One vulnerability record from one source."""

    id: str
    source: str
    aliases: list[str] = field(default_factory=list)
    summary: str = ""
    published: str | None = None
    modified: str | None = None
    withdrawn: str | None = None
    #: (type, vector or score) pairs as OSV gives them, e.g. ("CVSS_V3", "CVSS:3.1/AV:N/…").
    severity: list[tuple[str, str]] = field(default_factory=list)
    #: Highest numeric base score computed from the vectors, if any.
    cvss_score: float | None = None
    #: CRITICAL / HIGH / MEDIUM / LOW / NEGLIGIBLE / UNKNOWN.
    severity_label: str = "UNKNOWN"
    affected: list[Affected] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    database_specific: dict[str, Any] = field(default_factory=dict)

    @property
    def cve_ids(self) -> list[str]:
        ids = [self.id, *self.aliases]
        return sorted({i for i in ids if i.startswith("CVE-")})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "aliases": list(self.aliases),
            "summary": self.summary,
            "published": self.published,
            "modified": self.modified,
            "withdrawn": self.withdrawn,
            "severity": [list(s) for s in self.severity],
            "cvss_score": self.cvss_score,
            "severity_label": self.severity_label,
            "affected": [a.to_dict() for a in self.affected],
            "references": list(self.references),
            "database_specific": dict(self.database_specific),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Advisory:
        return cls(
            id=str(data["id"]),
            source=str(data.get("source", "")),
            aliases=[str(a) for a in data.get("aliases") or []],
            summary=str(data.get("summary") or ""),
            published=data.get("published"),
            modified=data.get("modified"),
            withdrawn=data.get("withdrawn"),
            severity=[(str(s[0]), str(s[1])) for s in data.get("severity") or []],
            cvss_score=data.get("cvss_score"),
            severity_label=str(data.get("severity_label") or "UNKNOWN"),
            affected=[Affected.from_dict(a) for a in data.get("affected") or []],
            references=[str(r) for r in data.get("references") or []],
            database_specific=dict(data.get("database_specific") or {}),
        )


SEVERITY_ORDER = ("UNKNOWN", "NEGLIGIBLE", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def severity_rank(label: str) -> int:
    try:
        return SEVERITY_ORDER.index(label.upper())
    except ValueError:
        return 0


#: Words feeds use for severity, mapped to baseguard's labels.
_WORDS = {
    "critical": "CRITICAL",
    "important": "HIGH",
    "high": "HIGH",
    "moderate": "MEDIUM",
    "medium": "MEDIUM",
    "low": "LOW",
    "negligible": "NEGLIGIBLE",
    "unimportant": "NEGLIGIBLE",
    "minimal": "NEGLIGIBLE",
    "none": "NEGLIGIBLE",
    "informational": "NEGLIGIBLE",
}


def label_for_word(word: object) -> str | None:
    """A label for a severity word (GHSA's ``MODERATE`` -> ``MEDIUM``, Debian's urgency
    ``high**`` -> ``HIGH``), or None for a word that says nothing (``not yet assigned``)."""
    if not isinstance(word, str):
        return None
    return _WORDS.get(word.strip().rstrip("*").strip().lower())
