"""The shapes evidence is measured in: the thresholds, an evidence item and its detail tables,
the items' titles in report order, and the small helpers every item uses (times, percentages,
day counts, stored JSON read defensively).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from baseguard.report.compliance.frameworks import GAP


@dataclass
class Thresholds:
    """The numbers the status rules compare against (all in days)."""

    max_scan_age: int = 7
    max_assessment_age: int = 30
    exceptions_expiring: int = 30
    eol_soon: int = 90

    def to_dict(self) -> dict[str, int]:
        return {
            "maxScanAgeDays": self.max_scan_age,
            "maxAssessmentAgeDays": self.max_assessment_age,
            "exceptionsExpiringDays": self.exceptions_expiring,
            "eolSoonDays": self.eol_soon,
        }


@dataclass
class Table:
    """A detail table of an evidence item: columns (keys of each row) and rows."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Evidence:
    """One measured evidence item: its status, a one-line summary, facts, detail tables, and
    ``notes`` that say why it is not met (missing data included)."""

    id: str
    title: str
    status: str = GAP
    summary: str = ""
    as_of: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "asOf": self.as_of,
            "facts": self.facts,
            "tables": [t.to_dict() for t in self.tables],
            "notes": self.notes,
        }


TITLES = {
    "catalog": "Catalog governance",
    "catalog-coverage": "Catalog coverage",
    "inventory": "Inventory completeness",
    "exposure": "Vulnerability exposure",
    "patch-sla": "Patch-SLA compliance",
    "exceptions": "Exceptions",
    "attestations": "Attestation coverage",
    "scan-recency": "Scan recency",
    "audit": "Audit log verification",
}


def iso(moment: datetime | None) -> str | None:
    """``2026-01-15T12:00:00Z`` (UTC, seconds), or None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z`` allowed; a naive one is taken as UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def pct(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal (None when ``whole`` is 0)."""
    return round(100.0 * part / whole, 1) if whole else None


def days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one (stored JSON is read defensively)."""
    return value if isinstance(value, dict) else {}


def new(item_id: str) -> Evidence:
    return Evidence(id=item_id, title=TITLES[item_id])
