"""What deserves a notification, each with a stable key for de-duplication.

- ``sla.breach``: a patch-SLA clock is breached or overdue (:mod:`baseguard.monitor.sla`);
- ``finding.critical`` / ``finding.kev``: a re-match found a new CRITICAL finding, or a
  finding newly in CISA's KEV list, in a stored (so: used) image;
- ``entry.eol``: a catalog entry reaches its end of life within the warning window (or
  has passed it and is not retired);
- ``exception.expiry``: a catalog exception expires within the warning window.

The key names the thing, not the moment (``sla.breach:<entry>|<tag>|<vuln>|<package>``),
so the same alert found again on the next cycle is recognised and not sent twice
(:mod:`baseguard.monitor.notify` keeps the sent keys in the audit log).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from baseguard.humanize import format_days
from baseguard.monitor import events as ev

if TYPE_CHECKING:
    from baseguard.catalog.model import CatalogEntry, CatalogException
    from baseguard.monitor.sla import SlaClock

#: Alert levels, most urgent first.
CRITICAL, WARNING, INFO = "critical", "warning", "info"
LEVELS = (CRITICAL, WARNING, INFO)

SLA_BREACH = "sla.breach"
FINDING_CRITICAL = "finding.critical"
FINDING_KEV = "finding.kev"
ENTRY_EOL = "entry.eol"
EXCEPTION_EXPIRY = "exception.expiry"
KINDS = (SLA_BREACH, FINDING_CRITICAL, FINDING_KEV, ENTRY_EOL, EXCEPTION_EXPIRY)

EOL_WARNING = timedelta(days=30)
EXCEPTION_WARNING = timedelta(days=14)


@dataclass(frozen=True)
class Alert:
    """One thing to tell people about."""

    key: str
    kind: str
    level: str
    title: str
    text: str
    subject: str
    data: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "level": self.level,
            "title": self.title,
            "text": self.text,
            "subject": self.subject,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        return cls(
            key=str(data["key"]),
            kind=str(data["kind"]),
            level=str(data.get("level", INFO)),
            title=str(data.get("title", "")),
            text=str(data.get("text", "")),
            subject=str(data.get("subject", "")),
            data=dict(data.get("data") or {}),
        )


def sla_alerts(clocks: Iterable[SlaClock]) -> list[Alert]:
    """A breach alert for each breached or overdue clock."""
    out: list[Alert] = []
    for clock in clocks:
        if not clock.breached:
            continue
        breach = clock.breach or timedelta(0)
        hours = breach.total_seconds() / 3600
        shipped = (
            f"the fixed digest {clock.resolved_by} appeared {hours:.1f}h after the deadline"
            if clock.resolved_at is not None
            else f"no fixed digest yet, {hours:.1f}h past the deadline"
        )
        out.append(
            Alert(
                key=f"{SLA_BREACH}:{clock.key}",
                kind=SLA_BREACH,
                level=CRITICAL,
                title=(
                    f"Patch SLA breached: {clock.entry_id}:{clock.tag} {clock.vuln_id} "
                    f"({clock.severity.lower()}, {clock.sla.total_seconds() / 3600:g}h)"
                ),
                text=(
                    f"A fix for {clock.vuln_id} in {clock.package} was available from "
                    f"{clock.fix_available_at.isoformat()}; the {clock.severity.lower()} SLA "
                    f"ended {clock.deadline.isoformat()}; {shipped}."
                ),
                subject=f"{clock.entry_id}:{clock.tag}",
                data=clock.to_dict(),
            )
        )
    return out


def finding_alerts(diffs: Iterable[ev.Event]) -> list[Alert]:
    """New CRITICAL findings and findings newly in KEV, from ``monitor.diff`` events
    (written by re-matching, in ``watch`` or on a worker)."""
    out: dict[str, Alert] = {}
    for event in diffs:
        if event.kind != ev.DIFF:
            continue
        digest = event.subject
        reference = str(event.data.get("reference") or digest)
        for item in event.data.get("new") or []:
            if str(item.get("severity", "")).upper() == "CRITICAL":
                key = f"{FINDING_CRITICAL}:{digest}|{item.get('id')}|{item.get('purl')}"
                out.setdefault(key, _finding_alert(key, FINDING_CRITICAL, digest, reference, item))
            if item.get("kev"):
                key = f"{FINDING_KEV}:{digest}|{item.get('id')}|{item.get('purl')}"
                out.setdefault(key, _finding_alert(key, FINDING_KEV, digest, reference, item))
        for item in event.data.get("kevAdded") or []:
            key = f"{FINDING_KEV}:{digest}|{item.get('id')}|{item.get('purl')}"
            out.setdefault(key, _finding_alert(key, FINDING_KEV, digest, reference, item))
    return list(out.values())


def _finding_alert(key: str, kind: str, digest: str, reference: str, item: dict[str, Any]) -> Alert:
    what = "known exploited (CISA KEV)" if kind == FINDING_KEV else "critical"
    fixed = item.get("fixedVersions") or []
    fix = f"fixed in {', '.join(map(str, fixed))}" if fixed else "no fix yet"
    vuln = item.get("id")
    return Alert(
        key=key,
        kind=kind,
        level=CRITICAL,
        title=f"New {what} finding {vuln} in {reference}",
        text=(
            f"{vuln} ({item.get('severity')}) affects {item.get('package')} "
            f"{item.get('version')} in {reference} ({digest}); {fix}."
        ),
        subject=digest,
        data={"digest": digest, "reference": reference, **item},
    )


def eol_alerts(
    entries: Iterable[CatalogEntry], today: date, *, warn: timedelta = EOL_WARNING
) -> list[Alert]:
    """Entries whose end of life is within ``warn`` (or past, while not retired)."""
    out: list[Alert] = []
    for entry in entries:
        if entry.eol is None or entry.state == "retired":
            continue
        left = (entry.eol - today).days
        if left > warn.days:
            continue
        past = left < 0
        out.append(
            Alert(
                key=f"{ENTRY_EOL}:{entry.id}|{entry.eol.isoformat()}|{'past' if past else 'near'}",
                kind=ENTRY_EOL,
                level=CRITICAL if past else WARNING,
                title=(
                    f"{entry.id} is past its end of life ({entry.eol.isoformat()})"
                    if past
                    else f"{entry.id} reaches its end of life in {format_days(left)} "
                    f"({entry.eol.isoformat()})"
                ),
                text=(
                    f"Catalog entry {entry.id} ({entry.repository}, {entry.state}) has end "
                    f"of life {entry.eol.isoformat()}"
                    + (f"; replaced by {entry.replaced_by}." if entry.replaced_by else ".")
                ),
                subject=entry.id,
                data={
                    "entry": entry.id,
                    "repository": entry.repository,
                    "eol": entry.eol.isoformat(),
                    "daysLeft": left,
                    "owner": entry.owner.to_dict() if entry.owner else None,
                },
            )
        )
    return out


def exception_alerts(
    exceptions: Iterable[CatalogException],
    today: date,
    *,
    warn: timedelta = EXCEPTION_WARNING,
) -> list[Alert]:
    """Exceptions that are live and expire within ``warn``."""
    out: list[Alert] = []
    for exc in exceptions:
        left = (exc.expires - today).days
        if left < 0 or left > warn.days or not exc.live(today):
            continue
        out.append(
            Alert(
                key=f"{EXCEPTION_EXPIRY}:{exc.id}|{exc.expires.isoformat()}",
                kind=EXCEPTION_EXPIRY,
                level=WARNING,
                title=(
                    f"Exception {exc.id} expires in {format_days(left)} ({exc.expires.isoformat()})"
                ),
                text=(
                    f"The exception {exc.id} for {exc.pattern} (approved by {exc.approver}: "
                    f"{exc.justification}) expires {exc.expires.isoformat()}; renew it or "
                    "move the images to the catalog."
                ),
                subject=exc.id,
                data={**exc.to_dict(), "daysLeft": left},
            )
        )
    return out


def sort_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Most urgent first, then by kind and key (deterministic)."""
    order = {level: i for i, level in enumerate(LEVELS)}
    return sorted(alerts, key=lambda a: (order.get(a.level, len(LEVELS)), a.kind, a.key))
