"""Evidence from each image's latest scan: vulnerability exposure (KEV included), scan recency."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from baseguard.report.compliance.frameworks import MET, PARTIAL
from baseguard.report.compliance.model import Evidence, Table, Thresholds, days, iso, new
from baseguard.report.compliance.storedata import StoreData, scan_time
from baseguard.store import ScanInfo, Store

#: Severity labels of scan summaries, most severe first.
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")


def _latest_scans(data: StoreData) -> dict[str, ScanInfo]:
    return {digest: scans[-1] for digest, scans in data.scans.items() if scans}


def _kev_rows(store: Store, digest: str, image: str) -> list[dict[str, Any]]:
    """The known exploited findings of ``digest``'s latest scan (read only for images whose
    scan summary counts one)."""
    rows = []
    for finding in (store.latest_scan(digest) or {}).get("findings") or []:
        kev = finding.get("kev")
        if not kev:
            continue
        rows.append(
            {
                "image": image,
                "vulnerability": finding.get("id"),
                "package": (finding.get("package") or {}).get("name"),
                "severity": finding.get("severity"),
                "kevAdded": kev.get("dateAdded") if isinstance(kev, dict) else None,
                "fixedIn": ", ".join(finding.get("fixedVersions") or []) or None,
            }
        )
    return rows


def exposure_evidence(store: Store, data: StoreData) -> Evidence:
    ev = new("exposure")
    latest = _latest_scans(data)
    if not latest:
        ev.summary = "no scans stored"
        ev.notes.append("no scan is stored: exposure cannot be measured")
        return ev
    totals = dict.fromkeys(SEVERITIES, 0)
    kev = fixable = suppressed = 0
    rows: list[dict[str, Any]] = []
    kev_rows: list[dict[str, Any]] = []
    for digest, info in sorted(latest.items()):
        summary = info.summary or {}
        by_sev = summary.get("bySeverity") or {}
        counts = {sev: int(by_sev.get(sev, 0) or 0) for sev in SEVERITIES}
        image_kev = int(summary.get("kev", 0) or 0)
        image_fixable = int(summary.get("fixable", 0) or 0)
        image = data.analyses.get(digest) or digest
        for sev in SEVERITIES:
            totals[sev] += counts[sev]
        kev += image_kev
        fixable += image_fixable
        suppressed += int(summary.get("suppressed", info.suppressed) or 0)
        rows.append(
            {
                "image": image,
                "digest": digest,
                "scanned": iso(scan_time(info)),
                **{sev: counts[sev] for sev in SEVERITIES[:4]},
                "kev": image_kev,
                "fixable": image_fixable,
            }
        )
        if image_kev:
            kev_rows += _kev_rows(store, digest, image)
    times = [scan_time(i) for i in latest.values()]
    ev.as_of = iso(max(times))
    ev.facts = {
        "imagesScanned": len(latest),
        "bySeverity": totals,
        "total": sum(totals.values()),
        "kev": kev,
        "fixable": fixable,
        "suppressedByVex": suppressed,
        "imagesWithKev": len({r["image"] for r in kev_rows}),
        "scansFrom": iso(min(times)),
        "scansTo": iso(max(times)),
    }
    ev.tables.append(
        Table(
            "Latest scan per image",
            ["image", "scanned", "critical", "high", "medium", "low", "kev", "fixable"],
            rows,
        )
    )
    if kev_rows:
        ev.tables.append(
            Table(
                "Known exploited vulnerabilities (KEV)",
                ["image", "vulnerability", "package", "severity", "kevAdded", "fixedIn"],
                kev_rows,
            )
        )
        ev.notes.append(f"{kev} findings are known to be exploited (KEV)")
    if totals["critical"]:
        ev.notes.append(f"{totals['critical']} critical findings in the latest scans")
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{len(latest)} images: {totals['critical']} critical, {totals['high']} high, "
        f"{totals['medium']} medium, {totals['low']} low; {kev} KEV, {fixable} fixable, "
        f"{suppressed} suppressed by VEX (latest scans {ev.facts['scansFrom']} to {ev.as_of})"
    )
    return ev


def recency_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = new("scan-recency")
    latest = _latest_scans(data)
    never = sorted(d for d in data.analyses if d not in latest)
    if not latest:
        ev.summary = "no scans stored"
        ev.notes.append("no scan is stored: scan recency cannot be shown")
        if never:
            ev.facts = {"neverScanned": len(never)}
        return ev
    limit = timedelta(days=thresholds.max_scan_age)
    rows: list[dict[str, Any]] = []
    stale = []
    for digest, info in sorted(latest.items(), key=lambda kv: (scan_time(kv[1]), kv[0])):
        age = now - scan_time(info)
        row = {
            "image": data.analyses.get(digest) or digest,
            "digest": digest,
            "lastScanned": iso(scan_time(info)),
            "ageDays": days(age),
            "stale": age > limit,
        }
        rows.append(row)
        if age > limit:
            stale.append(row)
    times = [scan_time(i) for i in latest.values()]
    ev.as_of = iso(max(times))
    ev.facts = {
        "imagesScanned": len(latest),
        "oldestLatestScan": iso(min(times)),
        "newestLatestScan": iso(max(times)),
        "notScannedWithinDays": len(stale),
        "maxScanAgeDays": thresholds.max_scan_age,
        "neverScanned": len(never),
    }
    ev.tables.append(
        Table("Latest scan per image", ["image", "lastScanned", "ageDays", "stale"], rows)
    )
    if never:
        ev.tables.append(
            Table(
                "Analysed but never scanned",
                ["image", "digest"],
                [{"image": data.analyses[d], "digest": d} for d in never],
            )
        )
        ev.notes.append(f"{len(never)} analysed images were never scanned")
    for row in stale:
        ev.notes.append(
            f"{row['image']} last scanned {row['lastScanned']} ({row['ageDays']} days ago, "
            f"limit {thresholds.max_scan_age})"
        )
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{len(latest)} images; latest scans from {ev.facts['oldestLatestScan']} to "
        f"{ev.as_of}; {len(stale)} not scanned in {thresholds.max_scan_age} days, "
        f"{len(never)} never scanned"
    )
    return ev
