"""The raw facts the evidence is computed from, read once from the store: catalog entries and
exceptions, analyses, scans and their findings, assessments, audit events and stored
verification results; and which stored images belong to a catalog entry.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import select

from baseguard.catalog.model import Catalog, CatalogEntry, CatalogException, parse_stored
from baseguard.errors import BaseguardError
from baseguard.refs import parse_reference
from baseguard.report.compliance.model import parse_time
from baseguard.store import AuditReport, ScanInfo, Store
from baseguard.store.models import FindingRow

#: Entry states whose images are allowed (an "approved digest" belongs to one of them).
ALLOWED_STATES = ("approved", "deprecated")
#: Audit event kind that carries a stored verification result (``VerificationResult.to_dict``).
VERIFY_RESULT = "verify.result"
#: Scan ids per findings query.
_CHUNK = 500

FindingKey = tuple[str, str]  # (vulnerability id, package name)


def _repository(reference: str) -> str | None:
    try:
        return parse_reference(reference).name
    except BaseguardError:
        return None


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

    @cached_property
    def analyses_by_repository(self) -> dict[str, dict[str, str]]:
        """The analyses (digest -> reference) of each repository: each reference parsed once,
        not once per catalog entry."""
        out: dict[str, dict[str, str]] = defaultdict(dict)
        for digest, reference in self.analyses.items():
            repository = _repository(reference)
            if repository is not None:
                out[repository][digest] = reference
        return dict(out)


def read_store(store: Store) -> StoreData:
    """Read everything the report needs (catalog and exceptions whole; scans by page)."""
    audit = store.verify_audit()
    newest = store.audit_events(limit=1)  # the last row: the head hash and its time
    head = newest[0].hash if newest else None
    head_time = parse_time(newest[0].time) if newest else None

    entries, invalid_entries = parse_stored(store.catalog_entries(), CatalogEntry.from_dict)
    exceptions, invalid_exceptions = parse_stored(store.exceptions(), CatalogException.from_dict)

    analyses = {digest: ref for _, digest, ref in store.list_analyses()}
    scans: dict[str, list[ScanInfo]] = defaultdict(list)
    for info in store.iter_scans():
        scans[info.digest].append(info)

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


def entry_images(entry: CatalogEntry, data: StoreData) -> tuple[set[str], set[str]]:
    """The entry's images (digests) and its approved digests (see docs/report.md)."""
    pinned = set(entry.digests) | {d for v in entry.variants for d in v.digests}
    images = set(pinned)
    tag_matched = set()
    catalog = Catalog(entries=(entry,))
    for digest, reference in data.analyses_by_repository.get(entry.repository, {}).items():
        images.add(digest)
        if not pinned and catalog.match(reference) is not None:
            tag_matched.add(digest)
    if entry.state not in ALLOWED_STATES:
        return images, set()
    return images, pinned | tag_matched
