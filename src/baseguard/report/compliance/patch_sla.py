"""Evidence of patch-SLA compliance: when each fix became available in a catalog entry's
images, and when an approved digest delivered it, against the entry's SLA.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from baseguard.catalog.model import format_duration
from baseguard.report.compliance.frameworks import GAP, MET, PARTIAL
from baseguard.report.compliance.model import Evidence, Table, days, iso, new, pct
from baseguard.report.compliance.storedata import (
    FindingKey,
    StoreData,
    entry_images,
    scan_findings,
    scan_time,
)
from baseguard.store import Store


@dataclass
class _Fix:
    entry: str
    key: FindingKey
    severity: str
    available: datetime
    seen_in: str
    sla: timedelta
    delivered: datetime | None = None
    via: str | None = None

    @property
    def due(self) -> datetime:
        return self.available + self.sla


def patch_sla_evidence(store: Store, data: StoreData, now: datetime) -> Evidence:
    ev = new("patch-sla")
    if not data.entries:
        ev.summary = "no catalog entries: no patch SLA to measure"
        ev.notes.append("no catalog in the store: patch SLAs cannot be measured")
        return ev
    with_sla = [e for e in data.entries if e.patch_sla is not None]
    if not with_sla:
        ev.summary = "no catalog entry has a patch SLA"
        ev.notes.append("no catalog entry has a patch SLA: there is no deadline to measure")
        return ev
    per_entry: list[dict[str, Any]] = []
    fixes: list[_Fix] = []
    missing: list[str] = []
    measured_entries = 0
    # Findings per scan id, read once: entries of one repository share its analysed images.
    found: dict[int, dict[FindingKey, Any]] = {}
    for entry in with_sla:
        assert entry.patch_sla is not None
        images, approved = entry_images(entry, data)
        scanned = sorted(d for d in images if data.scans.get(d))
        gaps = []
        if not images:
            gaps.append("no stored analysis or scan of its images")
        elif not scanned:
            gaps.append("its images were never scanned")
        if not approved:
            gaps.append(
                "no approved digest (the entry is not approved, or pins no digest and no "
                "analysed image matches its tags)"
            )
        elif not any(data.scans.get(d) for d in approved):
            gaps.append("its approved digests were never scanned")
        entry_fixes: list[_Fix] = []
        unmeasured: dict[str, int] = defaultdict(int)
        if scanned:
            measured_entries += 1
            unread = [s.id for d in scanned for s in data.scans[d] if s.id not in found]
            found.update(scan_findings(store, unread))
            available: dict[FindingKey, tuple[datetime, str, str]] = {}
            for digest in scanned:
                for info in data.scans[digest]:
                    for key, (severity, fixable) in found.get(info.id, {}).items():
                        if not fixable:
                            continue
                        t = scan_time(info)
                        if key not in available or t < available[key][0]:
                            available[key] = (t, str(severity), digest)
            for key, (t, severity, digest) in sorted(available.items()):
                sla = entry.patch_sla.for_severity(severity)
                if sla is None:
                    unmeasured[severity.lower()] += 1
                    continue
                fix = _Fix(entry.id, key, severity, t, digest, sla)
                for candidate in sorted(approved):
                    when = _delivered(entry.id, candidate, fix, data, found)
                    if when is not None and (fix.delivered is None or when < fix.delivered):
                        fix.delivered, fix.via = when, candidate
                entry_fixes.append(fix)
        fixes.extend(entry_fixes)
        late = [f for f in entry_fixes if f.delivered is not None and f.delivered > f.due]
        overdue = [f for f in entry_fixes if f.delivered is None and now > f.due]
        open_ = [f for f in entry_fixes if f.delivered is None and now <= f.due]
        for gap in gaps:
            missing.append(f"entry {entry.id}: {gap}")
        per_entry.append(
            {
                "entry": entry.id,
                "sla": ", ".join(f"{k} {v}" for k, v in entry.patch_sla.to_dict().items()),
                "images": len(images),
                "approvedDigests": len(approved),
                "fixes": len(entry_fixes),
                "withinSla": len(entry_fixes) - len(late) - len(overdue) - len(open_),
                "late": len(late),
                "overdue": len(overdue),
                "openWithinSla": len(open_),
                "noSlaForSeverity": dict(sorted(unmeasured.items())),
                "missingData": "; ".join(gaps) or None,
            }
        )
    breaches = []
    for fix in sorted(fixes, key=lambda f: (f.entry, f.available, f.key)):
        is_late = fix.delivered is not None and fix.delivered > fix.due
        if not is_late and not (fix.delivered is None and now > fix.due):
            continue
        end = fix.delivered or now
        breaches.append(
            {
                "entry": fix.entry,
                "vulnerability": fix.key[0],
                "package": fix.key[1],
                "severity": fix.severity,
                "fixAvailable": iso(fix.available),
                "seenIn": fix.seen_in,
                "sla": format_duration(fix.sla),
                "due": iso(fix.due),
                "delivered": iso(fix.delivered),
                "deliveredIn": fix.via,
                "status": "late" if is_late else "overdue",
                "daysOver": days(end - fix.due),
            }
        )
        ev.notes.append(
            f"entry {fix.entry}: {fix.key[0]} in {fix.key[1]} ({fix.severity.lower()}) fix "
            f"available {iso(fix.available)}, due {iso(fix.due)}, "
            + (f"delivered {iso(fix.delivered)} in {fix.via}" if is_late else "not delivered")
            + f": {days(end - fix.due)} days over the SLA"
        )
    ev.notes.extend(missing)
    within = sum(r["withinSla"] for r in per_entry)
    ev.facts = {
        "entriesWithSla": len(with_sla),
        "entriesMeasured": measured_entries,
        "fixes": len(fixes),
        "withinSla": within,
        "late": sum(r["late"] for r in per_entry),
        "overdue": sum(r["overdue"] for r in per_entry),
        "openWithinSla": sum(r["openWithinSla"] for r in per_entry),
        "compliancePercent": pct(within, within + len(breaches)),
    }
    ev.tables.append(
        Table(
            "Per catalog entry",
            [
                "entry",
                "sla",
                "images",
                "approvedDigests",
                "fixes",
                "withinSla",
                "late",
                "overdue",
                "openWithinSla",
                "missingData",
            ],
            per_entry,
        )
    )
    if breaches:
        ev.tables.append(
            Table(
                "SLA breaches",
                [
                    "entry",
                    "vulnerability",
                    "package",
                    "severity",
                    "fixAvailable",
                    "sla",
                    "due",
                    "delivered",
                    "deliveredIn",
                    "status",
                    "daysOver",
                ],
                breaches,
            )
        )
    times = [f.available for f in fixes] + [f.delivered for f in fixes if f.delivered]
    ev.as_of = iso(max(times)) if times else None
    if measured_entries == 0:
        ev.status = GAP
        ev.summary = (
            f"{len(with_sla)} entries have a patch SLA but none has scanned images to measure"
        )
        return ev
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{len(fixes)} fixes measured on {measured_entries} of {len(with_sla)} entries: "
        f"{within} within SLA, {ev.facts['late']} late, {ev.facts['overdue']} overdue, "
        f"{ev.facts['openWithinSla']} open within SLA"
    )
    return ev


def _delivered(
    entry_id: str,
    digest: str,
    fix: _Fix,
    data: StoreData,
    found: dict[int, dict[FindingKey, Any]],
) -> datetime | None:
    """When ``digest`` (approved) is shown to carry the fix, or None.

    The digest's latest scan must not show the finding, and one of its scans at or after
    the fix became available must not either (an earlier scan may predate the advisory). The
    fix counts from the later of that scan and the time the digest was approved.
    """
    scans = data.scans.get(digest) or []
    if not scans or fix.key in found.get(scans[-1].id, {}):
        return None
    clean = next(
        (
            scan_time(s)
            for s in scans
            if scan_time(s) >= fix.available and fix.key not in found.get(s.id, {})
        ),
        None,
    )
    if clean is None:
        return None
    approved_at = data.pinned_at.get((entry_id, digest)) or data.analysed_at.get(digest)
    return max(clean, approved_at) if approved_at else clean
