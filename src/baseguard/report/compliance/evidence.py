"""Measured evidence for the compliance report, computed from the store (never from prose).

Each evidence item reads what the store holds (catalog, exceptions, analyses, scans with their
findings, assessments, the audit log and its verification), measures it on the judging time
``now``, and gives a status by the rules in docs/report.md: ``met``, ``partial`` (measured,
with shortfalls) or ``gap`` (the data is missing or shows the control failing). Missing data is
reported as such, with what is missing, never left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from baseguard.catalog.model import (
    STATES,
    Catalog,
    CatalogEntry,
    CatalogException,
    CatalogValidationError,
    format_duration,
)
from baseguard.errors import BaseguardError
from baseguard.refs import parse_reference
from baseguard.report.compliance.frameworks import GAP, MET, PARTIAL
from baseguard.store import AuditReport, ScanInfo, Store
from baseguard.store.models import FindingRow

#: Severity labels of scan summaries, most severe first.
SEVERITIES = ("critical", "high", "medium", "low", "negligible", "unknown")
#: Entry states whose images are allowed (an "approved digest" belongs to one of them).
ALLOWED_STATES = ("approved", "deprecated")
#: Audit event kind that carries a stored verification result (``VerificationResult.to_dict``).
VERIFY_RESULT = "verify.result"
#: Scan ids per findings query.
_CHUNK = 500

FindingKey = tuple[str, str]  # (vulnerability id, package name)


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
#: Evidence ids in report order.
EVIDENCE_IDS = tuple(TITLES)


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


def _days(delta: timedelta) -> float:
    return round(delta.total_seconds() / 86400, 1)


def _repository(reference: str) -> str | None:
    try:
        return parse_reference(reference).name
    except BaseguardError:
        return None


# --------------------------------------------------------------------------- reading the store


@dataclass
class StoreData:
    """What the evidence is computed from, read once from the store."""

    audit: AuditReport
    head: str | None
    head_time: datetime | None
    catalog_changed: datetime | None
    entries: list[CatalogEntry]
    invalid_entries: list[tuple[str, str]]
    exceptions: list[CatalogException]
    invalid_exceptions: list[tuple[str, str]]
    analyses: dict[str, str]  # digest -> reference
    scans: dict[str, list[ScanInfo]]  # digest -> scans, oldest first
    latest_assessment: tuple[int, dict[str, Any]] | None
    latest_catalog_assessment: tuple[int, dict[str, Any]] | None
    pinned_at: dict[tuple[str, str], datetime]  # (entry id, digest) -> first pinned
    analysed_at: dict[str, datetime]  # digest -> first analysis.save
    verifications: dict[str, tuple[datetime | None, dict[str, Any]]]  # digest -> latest result

    @property
    def catalog(self) -> Catalog:
        return Catalog(entries=tuple(self.entries), exceptions=tuple(self.exceptions))


def read_store(store: Store) -> StoreData:
    """Read everything the report needs (catalog and exceptions whole; scans by page)."""
    audit = store.verify_audit()
    head = store.audit_head()
    newest = store.audit_events(limit=1)
    head_time = parse_time(newest[0].time) if newest else None

    entries, invalid_entries = [], []
    for raw in store.catalog_entries():
        try:
            entries.append(CatalogEntry.from_dict(raw))
        except CatalogValidationError as exc:
            invalid_entries.append((str(raw.get("id")), exc.message))
    exceptions, invalid_exceptions = [], []
    for raw in store.exceptions():
        try:
            exceptions.append(CatalogException.from_dict(raw))
        except CatalogValidationError as exc:
            invalid_exceptions.append((str(raw.get("id")), exc.message))

    analyses = {digest: ref for _, digest, ref in store.list_analyses()}
    scans: dict[str, list[ScanInfo]] = defaultdict(list)
    last = 0
    while page := store.list_scans(after_id=last):
        for info in page:
            scans[info.digest].append(info)
        last = page[-1].id

    pinned_at: dict[tuple[str, str], datetime] = {}
    catalog_changed: datetime | None = None
    analysed_at: dict[str, datetime] = {}
    assessment_ids: set[int] = set()
    verifications: dict[str, tuple[datetime | None, dict[str, Any]]] = {}
    kinds = ["catalog.upsert", "analysis.save", "assessment.save", VERIFY_RESULT]
    for record in store.iter_audit(kinds=kinds):
        moment = parse_time(record.time)
        if record.kind == "catalog.upsert" and moment is not None:
            catalog_changed = moment
            data = _json(record.data)
            entry = data.get("entry") if isinstance(data, dict) else None
            for digest in _pinned(entry):
                pinned_at.setdefault((record.subject, digest), moment)
        elif record.kind == "analysis.save" and moment is not None:
            analysed_at.setdefault(record.subject, moment)
        elif record.kind == "assessment.save" and record.subject.isdigit():
            assessment_ids.add(int(record.subject))
        elif record.kind == VERIFY_RESULT:
            data = _json(record.data)
            result = data.get("result", data) if isinstance(data, dict) else None
            if isinstance(result, dict):
                digest = str(result.get("digest") or record.subject)
                when = parse_time(result.get("verified_at")) or moment
                verifications[digest] = (when, result)

    # Assessments: ids named by the audit log, and 1..count (in case audit rows are gone).
    count = store.counts().get("assessments", 0)
    latest: tuple[int, dict[str, Any]] | None = None
    latest_catalog: tuple[int, dict[str, Any]] | None = None
    for assessment_id in sorted(assessment_ids | set(range(1, count + 1)), reverse=True):
        data = store.load_assessment(assessment_id)
        if not isinstance(data, dict):
            continue
        if latest is None:
            latest = (assessment_id, data)
        if isinstance(data.get("catalog"), dict):
            latest_catalog = (assessment_id, data)
            break
    return StoreData(
        audit=audit,
        head=head,
        head_time=head_time,
        catalog_changed=catalog_changed,
        entries=sorted(entries, key=lambda e: e.id),
        invalid_entries=invalid_entries,
        exceptions=sorted(exceptions, key=lambda x: x.id),
        invalid_exceptions=invalid_exceptions,
        analyses=analyses,
        scans=dict(scans),
        latest_assessment=latest,
        latest_catalog_assessment=latest_catalog,
        pinned_at=pinned_at,
        analysed_at=analysed_at,
        verifications=verifications,
    )


def _dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a dict, else an empty one (stored JSON is read defensively)."""
    return value if isinstance(value, dict) else {}


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _pinned(entry: Any) -> Iterator[str]:
    """Digests an entry dict (as stored) pins, its variants' included."""
    if not isinstance(entry, dict):
        return
    for digest in entry.get("digests") or ():
        if isinstance(digest, str):
            yield digest
    for variant in entry.get("variants") or ():
        if isinstance(variant, dict):
            for digest in variant.get("digests") or ():
                if isinstance(digest, str):
                    yield digest


def scan_time(info: ScanInfo) -> datetime:
    """When a scan ran (its ``scannedAt``, else when it was stored)."""
    return info.scanned_at or info.created_at


def scan_findings(store: Store, scan_ids: Iterable[int]) -> dict[int, dict[FindingKey, Any]]:
    """The unsuppressed findings of each scan: (id, package) -> (severity, fixable).

    The store's public API returns findings only for a digest's latest scan; the SLA needs
    older scans too, so this reads the finding rows in the store's own read transaction.
    """
    out: dict[int, dict[FindingKey, Any]] = {}
    ids = sorted(set(scan_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for scan_id in chunk:
            out[scan_id] = {}
        stmt = (
            select(
                FindingRow.scan_id,
                FindingRow.vuln_id,
                FindingRow.package,
                FindingRow.severity,
                FindingRow.fixable,
            )
            .where(FindingRow.scan_id.in_(chunk), FindingRow.suppressed.is_(False))
            .order_by(FindingRow.scan_id, FindingRow.position)
        )
        with store._read("read scan findings") as session:
            for scan_id, vuln, package, severity, fixable in session.execute(stmt):
                key = (vuln, package)
                known = out[int(scan_id)].get(key)
                out[int(scan_id)][key] = (severity, bool(fixable) or bool(known and known[1]))
    return out


# --------------------------------------------------------------------------- the evidence


def collect(store: Store, now: datetime, thresholds: Thresholds | None = None) -> list[Evidence]:
    """Every evidence item, measured from ``store`` on ``now``."""
    data = read_store(store)
    return compute(store, data, now, thresholds or Thresholds())


def compute(store: Store, data: StoreData, now: datetime, thresholds: Thresholds) -> list[Evidence]:
    today = now.astimezone(UTC).date()
    return [
        catalog_evidence(data, today, thresholds),
        coverage_evidence(data, now, thresholds),
        inventory_evidence(data, now, thresholds),
        exposure_evidence(store, data),
        patch_sla_evidence(store, data, now),
        exceptions_evidence(data, today, thresholds),
        attestation_evidence(data),
        recency_evidence(data, now, thresholds),
        audit_evidence(data),
    ]


def _new(item_id: str) -> Evidence:
    return Evidence(id=item_id, title=TITLES[item_id])


def catalog_evidence(data: StoreData, today: date, thresholds: Thresholds) -> Evidence:
    ev = _new("catalog")
    entries = data.entries
    if not entries and not data.invalid_entries:
        ev.summary = "no catalog entries in the store"
        ev.notes.append("no catalog in the store: run `baseguard catalog sync` to mirror it")
        return ev
    by_state: dict[str, int] = defaultdict(int)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        by_state[entry.state] += 1
        rows.append(
            {
                "entry": entry.id,
                "provider": entry.provider,
                "repository": entry.repository,
                "state": entry.state,
                "since": (s.isoformat() if (s := entry.lifecycle.since()) else None),
                "owner": entry.owner.team if entry.owner else None,
                "eol": entry.eol.isoformat() if entry.eol else None,
                "patchSla": ", ".join(f"{k} {v}" for k, v in entry.patch_sla.to_dict().items())
                if entry.patch_sla
                else None,
                "attestations": ", ".join(_required(entry)) or None,
            }
        )
    live = [e for e in entries if e.state in ALLOWED_STATES]
    ev.as_of = iso(data.catalog_changed)
    no_owner = [e.id for e in live if e.owner is None]
    no_sla = [e.id for e in live if e.patch_sla is None]
    past_eol = [e.id for e in live if e.past_eol(today)]
    soon = today + timedelta(days=thresholds.eol_soon)
    eol_soon = [e.id for e in live if e.eol is not None and today <= e.eol <= soon]
    ev.facts = {
        "entries": len(entries),
        "byState": {s: by_state.get(s, 0) for s in STATES},
        "withOwner": sum(1 for e in entries if e.owner),
        "withPatchSla": sum(1 for e in entries if e.patch_sla),
        "withRequiredAttestations": sum(1 for e in entries if _required(e)),
        "allowedWithoutOwner": no_owner,
        "allowedWithoutPatchSla": no_sla,
        "allowedPastEol": past_eol,
        "allowedEolWithinDays": eol_soon,
        "invalidEntries": [i for i, _ in data.invalid_entries],
    }
    ev.tables.append(
        Table(
            "Catalog entries",
            [
                "entry",
                "provider",
                "repository",
                "state",
                "since",
                "owner",
                "eol",
                "patchSla",
                "attestations",
            ],
            rows,
        )
    )
    for entry_id in no_owner:
        ev.notes.append(f"entry {entry_id} is allowed but names no owner")
    for entry_id in no_sla:
        ev.notes.append(f"entry {entry_id} is allowed but has no patch SLA")
    for entry_id in past_eol:
        ev.notes.append(f"entry {entry_id} is allowed but past its end of life")
    for entry_id, message in data.invalid_entries:
        ev.notes.append(f"stored entry {entry_id} is not a valid catalog entry: {message}")
    if not live:
        ev.notes.append("no entry is approved or deprecated: no image may be used")
    ev.status = MET if not ev.notes else (GAP if not live else PARTIAL)
    ev.summary = (
        f"{len(entries)} entries ({by_state.get('approved', 0)} approved); "
        f"{len(no_owner)} allowed without owner, {len(no_sla)} without patch SLA, "
        f"{len(past_eol)} past EOL"
    )
    return ev


def _required(entry: CatalogEntry) -> list[str]:
    req = entry.attestations
    if req is None:
        return []
    out = ["signature"] if req.signature else []
    if req.slsa_level:
        out.append(f"slsa{req.slsa_level}")
    out += [n for n in ("sbom", "vex") if getattr(req, n)]
    return out


def coverage_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = _new("catalog-coverage")
    if data.latest_catalog_assessment is None:
        ev.summary = "no assessment stored"
        ev.notes.append(
            "no assessment with catalog verdicts is stored: coverage cannot be measured "
            "(store one made with `baseguard assess --catalog`)"
        )
        return ev
    assessment_id, assessment = data.latest_catalog_assessment
    judged = assessment["catalog"]
    generated = parse_time(assessment.get("generatedAt"))
    ev.as_of = iso(generated)
    by_verdict = _dict(judged.get("byVerdict"))
    counts = {str(k): int(v.get("uses", 0)) for k, v in by_verdict.items() if isinstance(v, dict)}
    uses = int(judged.get("uses") or sum(counts.values()))
    approved = counts.get("approved", 0)
    allowed = int(judged.get("allowedUses") or 0)
    not_allowed = uses - allowed
    ev.facts = {
        "assessment": assessment_id,
        "generatedAt": ev.as_of,
        "judgedOn": judged.get("date"),
        "uses": uses,
        "approvedUses": approved,
        "approvedPercent": pct(approved, uses),
        "allowedUses": allowed,
        "allowedPercent": pct(allowed, uses),
        "notAllowedUses": not_allowed,
        "byVerdict": dict(sorted(counts.items())),
    }
    ev.tables.append(
        Table(
            "Uses by verdict",
            ["verdict", "uses", "files"],
            [
                {
                    "verdict": k,
                    "uses": counts.get(k, 0),
                    "files": ", ".join(by_verdict[k].get("files") or []),
                }
                for k in sorted(counts)
                if counts.get(k)
            ],
        )
    )
    if uses == 0:
        ev.summary = f"assessment {assessment_id} judged no image use"
        ev.notes.append(f"assessment {assessment_id} has no image uses: nothing was inventoried")
        return ev
    if not_allowed:
        ev.notes.append(
            f"{not_allowed} of {uses} uses are not allowed by the catalog "
            "(not in catalog, retired, past EOL, proposed or dev variant in production)"
        )
    if generated is not None and now - generated > timedelta(days=thresholds.max_assessment_age):
        ev.notes.append(
            f"the assessment is {_days(now - generated)} days old "
            f"(more than {thresholds.max_assessment_age})"
        )
    if generated is None:
        ev.notes.append(f"assessment {assessment_id} carries no generation time")
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{pct(approved, uses)}% of {uses} image uses on approved entries, "
        f"{pct(allowed, uses)}% allowed (assessment {assessment_id}, {ev.as_of})"
    )
    return ev


def inventory_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = _new("inventory")
    if data.latest_assessment is None:
        ev.summary = "no assessment stored"
        ev.notes.append("no assessment is stored: which sources were inventoried is unknown")
        return ev
    assessment_id, assessment = data.latest_assessment
    generated = parse_time(assessment.get("generatedAt"))
    ev.as_of = iso(generated)
    summary = _dict(assessment.get("summary"))
    sources: dict[str, int] = defaultdict(int)
    files: set[str] = set()
    locations = [
        loc
        for image in assessment.get("images") or []
        if isinstance(image, dict)
        for loc in image.get("locations") or []
    ]
    catalog = _dict(assessment.get("catalog"))
    for build in catalog.get("buildOnly") or []:
        if isinstance(build, dict):
            locations.extend(build.get("locations") or [])
    for loc in locations:
        if isinstance(loc, dict):
            sources[str(loc.get("source") or "unknown")] += 1
            where = loc.get("location")
            if isinstance(where, dict) and where.get("file"):
                files.add(str(where["file"]))
    images = [i for i in assessment.get("images") or [] if isinstance(i, dict)]
    failed = [i for i in images if not i.get("assessed")]
    issues = [i for i in assessment.get("inventoryIssues") or [] if isinstance(i, dict)]
    ev.facts = {
        "assessment": assessment_id,
        "generatedAt": ev.as_of,
        "sources": dict(sorted(sources.items())),
        "filesScanned": summary.get("files"),
        "filesWithImageUses": len(files),
        "images": len(images),
        "imagesAssessed": len(images) - len(failed),
        "imagesNotAssessed": len(failed),
        "buildOnlyImages": len(assessment.get("buildOnly") or []),
        "inventoryIssues": len(issues),
    }
    ev.tables.append(
        Table(
            "Uses by source",
            ["source", "uses"],
            [{"source": k, "uses": v} for k, v in sorted(sources.items())],
        )
    )
    if failed:
        ev.tables.append(
            Table(
                "Images not assessed",
                ["reference", "error"],
                [{"reference": i.get("reference"), "error": i.get("error")} for i in failed],
            )
        )
        ev.notes.append(f"{len(failed)} of {len(images)} images could not be assessed")
    if issues:
        ev.tables.append(
            Table(
                "Inventory issues",
                ["path", "line", "message"],
                [
                    {"path": i.get("path"), "line": i.get("line"), "message": i.get("message")}
                    for i in issues
                ],
            )
        )
        ev.notes.append(f"{len(issues)} files or objects could not be read completely")
    if not locations:
        ev.notes.append(f"assessment {assessment_id} found no image use in any source")
        ev.summary = f"assessment {assessment_id} inventoried nothing"
        return ev
    if generated is not None and now - generated > timedelta(days=thresholds.max_assessment_age):
        ev.notes.append(
            f"the inventory is {_days(now - generated)} days old "
            f"(more than {thresholds.max_assessment_age})"
        )
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{sum(sources.values())} uses from {', '.join(sorted(sources))} in "
        f"{summary.get('files')} files on {ev.as_of}; {len(failed)} images not assessed, "
        f"{len(issues)} inventory issues"
    )
    return ev


def _latest_scans(data: StoreData) -> dict[str, ScanInfo]:
    return {digest: scans[-1] for digest, scans in data.scans.items() if scans}


def exposure_evidence(store: Store, data: StoreData) -> Evidence:
    ev = _new("exposure")
    latest = _latest_scans(data)
    if not latest:
        ev.summary = "no scans stored"
        ev.notes.append("no scan is stored: exposure cannot be measured")
        return ev
    totals = dict.fromkeys(SEVERITIES, 0)
    kev = fixable = suppressed = 0
    rows: list[dict[str, Any]] = []
    for digest, info in sorted(latest.items()):
        summary = info.summary or {}
        by_sev = summary.get("bySeverity") or {}
        for sev in SEVERITIES:
            totals[sev] += int(by_sev.get(sev, 0) or 0)
        kev += int(summary.get("kev", 0) or 0)
        fixable += int(summary.get("fixable", 0) or 0)
        suppressed += int(summary.get("suppressed", info.suppressed) or 0)
        rows.append(
            {
                "image": data.analyses.get(digest) or digest,
                "digest": digest,
                "scanned": iso(scan_time(info)),
                **{sev: int(by_sev.get(sev, 0) or 0) for sev in SEVERITIES[:4]},
                "kev": int(summary.get("kev", 0) or 0),
                "fixable": int(summary.get("fixable", 0) or 0),
            }
        )
    kev_rows: list[dict[str, Any]] = []
    for digest, info in sorted(latest.items()):
        if int((info.summary or {}).get("kev", 0) or 0):
            scan = store.latest_scan(digest) or {}
            for finding in scan.get("findings") or []:
                if finding.get("kev"):
                    added = (
                        finding["kev"].get("dateAdded")
                        if isinstance(finding["kev"], dict)
                        else None
                    )
                    kev_rows.append(
                        {
                            "image": data.analyses.get(digest) or digest,
                            "vulnerability": finding.get("id"),
                            "package": (finding.get("package") or {}).get("name"),
                            "severity": finding.get("severity"),
                            "kevAdded": added,
                            "fixedIn": ", ".join(finding.get("fixedVersions") or []) or None,
                        }
                    )
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


def _entry_images(entry: CatalogEntry, data: StoreData) -> tuple[set[str], set[str]]:
    """The entry's images (digests) and its approved digests (see docs/report.md)."""
    pinned = set(entry.digests) | {d for v in entry.variants for d in v.digests}
    images = set(pinned)
    tag_matched = set()
    catalog = Catalog(entries=(entry,))
    for digest, reference in data.analyses.items():
        if _repository(reference) != entry.repository:
            continue
        images.add(digest)
        if not pinned and catalog.match(reference) is not None:
            tag_matched.add(digest)
    if entry.state not in ALLOWED_STATES:
        return images, set()
    return images, pinned | tag_matched


def patch_sla_evidence(store: Store, data: StoreData, now: datetime) -> Evidence:
    ev = _new("patch-sla")
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
    for entry in with_sla:
        assert entry.patch_sla is not None
        images, approved = _entry_images(entry, data)
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
            scan_ids = [s.id for d in scanned for s in data.scans[d]]
            found = scan_findings(store, scan_ids)
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
                "daysOver": _days(end - fix.due),
            }
        )
        ev.notes.append(
            f"entry {fix.entry}: {fix.key[0]} in {fix.key[1]} ({fix.severity.lower()}) fix "
            f"available {iso(fix.available)}, due {iso(fix.due)}, "
            + (f"delivered {iso(fix.delivered)} in {fix.via}" if is_late else "not delivered")
            + f": {_days(end - fix.due)} days over the SLA"
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


def exceptions_evidence(data: StoreData, today: date, thresholds: Thresholds) -> Evidence:
    ev = _new("exceptions")
    if not data.entries and not data.exceptions:
        ev.summary = "no catalog and no exceptions in the store"
        ev.notes.append("no catalog in the store: there is nothing to make exceptions to")
        return ev
    soon = today + timedelta(days=thresholds.exceptions_expiring)
    rows: list[dict[str, Any]] = []
    expired, expiring = [], []
    for exc in data.exceptions:
        if exc.expires < today:
            state = "EXPIRED"
            expired.append(exc)
        elif exc.created > today:
            state = "not yet live"
        elif exc.expires <= soon:
            state = "expiring soon"
            expiring.append(exc)
        else:
            state = "live"
        rows.append(
            {
                "exception": exc.id,
                "pattern": exc.pattern,
                "justification": exc.justification,
                "approver": exc.approver,
                "created": exc.created.isoformat(),
                "expires": exc.expires.isoformat(),
                "state": state,
            }
        )
    ev.facts = {
        "exceptions": len(data.exceptions),
        "live": sum(1 for r in rows if r["state"] in ("live", "expiring soon")),
        "expired": [x.id for x in expired],
        "expiringWithinDays": [x.id for x in expiring],
        "invalid": [i for i, _ in data.invalid_exceptions],
    }
    if rows:
        ev.tables.append(
            Table(
                "Exceptions",
                [
                    "exception",
                    "pattern",
                    "justification",
                    "approver",
                    "created",
                    "expires",
                    "state",
                ],
                rows,
            )
        )
    for exc in expired:
        ev.notes.append(
            f"exception {exc.id} ({exc.pattern}, approved by {exc.approver}) expired on "
            f"{exc.expires} and is still on record"
        )
    for exc_id, message in data.invalid_exceptions:
        ev.notes.append(f"stored exception {exc_id} is not valid: {message}")
    ev.as_of = max((x.created.isoformat() for x in data.exceptions), default=None)
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{len(data.exceptions)} exceptions, each with justification, approver and expiry: "
        f"{ev.facts['live']} live ({len(expiring)} expiring within "
        f"{thresholds.exceptions_expiring} days), {len(expired)} expired"
    )
    return ev


def _verified(result: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    evidence = _dict(result.get("evidence"))
    return [
        a
        for a in evidence.get("attestations") or []
        if isinstance(a, dict) and a.get("verified") and a.get("kind") == kind
    ]


def attestation_evidence(data: StoreData) -> Evidence:
    ev = _new("attestations")
    results = data.verifications
    if not results:
        ev.summary = "no verification results stored"
        ev.notes.append(
            f"no `{VERIFY_RESULT}` audit event is stored: signature, provenance, SBOM and VEX "
            "coverage cannot be shown"
        )
        return ev
    rows: list[dict[str, Any]] = []
    signed = sbom = vex = passed = 0
    levels: dict[str, int] = defaultdict(int)
    for digest, (when, result) in sorted(results.items()):
        evidence = _dict(result.get("evidence"))
        has_sig = bool(evidence.get("signatures"))
        level = max(
            (
                int((a.get("provenance") or {}).get("claimed_level") or 0)
                for a in _verified(result, "provenance")
            ),
            default=None,
        )
        has_sbom = bool(_verified(result, "sbom"))
        has_vex = bool(_verified(result, "vex"))
        ok = bool(result.get("passed"))
        signed += has_sig
        sbom += has_sbom
        vex += has_vex
        passed += ok
        levels["none" if level is None else f"slsa{level}"] += 1
        rows.append(
            {
                "image": result.get("reference") or data.analyses.get(digest) or digest,
                "digest": digest,
                "verified": iso(when),
                "signed": has_sig,
                "slsa": level,
                "sbom": has_sbom,
                "vex": has_vex,
                "passed": ok,
                "failed": ", ".join(
                    c.get("name", "?")
                    for c in result.get("checks") or []
                    if isinstance(c, dict) and not c.get("passed")
                )
                or None,
            }
        )
    n = len(results)
    required_missing = []
    for entry in data.entries:
        if not _required(entry):
            continue
        _, approved = _entry_images(entry, data)
        for digest in sorted(approved):
            found = results.get(digest)
            if found is None:
                required_missing.append(f"entry {entry.id}: {digest} has no verification result")
            elif not found[1].get("passed"):
                required_missing.append(f"entry {entry.id}: {digest} failed verification")
    known_levels = [int(k[4:]) for k in levels if k != "none"]
    ev.facts = {
        "imagesVerified": n,
        "imagesStored": len(data.analyses),
        "signedPercent": pct(signed, n),
        "sbomPercent": pct(sbom, n),
        "vexPercent": pct(vex, n),
        "passedPercent": pct(passed, n),
        "slsaLevels": dict(sorted(levels.items())),
        "lowestSlsaLevel": 0 if levels.get("none") else min(known_levels, default=0),
        "requiredButNotShown": required_missing,
    }
    ev.tables.append(
        Table(
            "Latest verification per image",
            ["image", "verified", "signed", "slsa", "sbom", "vex", "passed", "failed"],
            rows,
        )
    )
    ev.as_of = max((str(r["verified"]) for r in rows if r["verified"]), default=None)
    if passed < n:
        ev.notes.append(f"{n - passed} of {n} verified images failed their requirements")
    ev.notes.extend(required_missing)
    ev.status = PARTIAL if ev.notes else MET
    ev.summary = (
        f"{n} images verified: {pct(signed, n)}% signed, {pct(sbom, n)}% with SBOM, "
        f"{pct(vex, n)}% with VEX; SLSA levels "
        + ", ".join(f"{k}: {v}" for k, v in sorted(levels.items()))
    )
    return ev


def recency_evidence(data: StoreData, now: datetime, thresholds: Thresholds) -> Evidence:
    ev = _new("scan-recency")
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
            "ageDays": _days(age),
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


def audit_evidence(data: StoreData) -> Evidence:
    ev = _new("audit")
    report = data.audit
    ev.as_of = iso(data.head_time)
    ev.facts = {
        "ok": report.ok,
        "rows": report.rows,
        "head": data.head,
        "problems": [p.to_dict() for p in report.problems],
        "problemsTruncated": report.truncated,
    }
    if report.problems:
        ev.tables.append(
            Table(
                "Audit problems",
                ["row", "what", "detail"],
                [p.to_dict() for p in report.problems],
            )
        )
    if not report.ok:
        first = report.problems[0]
        for problem in report.problems:
            where = "the head record" if problem.row is None else f"row {problem.row}"
            ev.notes.append(f"audit log {where} {problem.what}: {problem.detail}")
        ev.summary = (
            f"TAMPERED: {'head record' if first.row is None else f'row {first.row}'} "
            f"{first.what} ({len(report.problems)} problems in {report.rows} rows)"
        )
        return ev
    if report.rows == 0 or data.head is None:
        ev.notes.append("the audit log is empty: nothing has been recorded")
        ev.summary = "the audit log is empty"
        return ev
    ev.status = MET
    ev.summary = f"intact: {report.rows} rows, head {data.head}"
    return ev


def statuses(items: Sequence[Evidence]) -> dict[str, str]:
    return {e.id: e.status for e in items}
