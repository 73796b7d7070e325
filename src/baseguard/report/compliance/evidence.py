"""Measured evidence for the compliance report, computed from the store (never from prose).

Each evidence item reads what the store holds (catalog, exceptions, analyses, scans with their
findings, assessments, the audit log and its verification), measures it on the judging time
``now``, and gives a status by the rules in docs/report.md: ``met``, ``partial`` (measured,
with shortfalls) or ``gap`` (the data is missing or shows the control failing). Missing data is
reported as such, with what is missing, never left out.

This module is the entry point: :func:`collect` reads the store once (:mod:`.storedata`) and
measures every item in report order. The items are built in :mod:`.governance` (catalog,
exceptions), :mod:`.assessment` (catalog coverage, inventory), :mod:`.scans` (exposure, scan
recency), :mod:`.patch_sla` and :mod:`.verification` (attestations, audit log); their shapes
and shared helpers are in :mod:`.model`. The names they define are importable from here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from baseguard.report.compliance.assessment import coverage_evidence, inventory_evidence
from baseguard.report.compliance.governance import catalog_evidence, exceptions_evidence
from baseguard.report.compliance.model import (
    TITLES,
    Evidence,
    Table,
    Thresholds,
    iso,
    parse_time,
    pct,
)
from baseguard.report.compliance.patch_sla import patch_sla_evidence
from baseguard.report.compliance.scans import SEVERITIES, exposure_evidence, recency_evidence
from baseguard.report.compliance.storedata import (
    ALLOWED_STATES,
    VERIFY_RESULT,
    FindingKey,
    StoreData,
    read_store,
    scan_findings,
    scan_time,
)
from baseguard.report.compliance.verification import attestation_evidence, audit_evidence
from baseguard.store import Store


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


__all__ = [
    "ALLOWED_STATES",
    "SEVERITIES",
    "TITLES",
    "VERIFY_RESULT",
    "Evidence",
    "FindingKey",
    "StoreData",
    "Table",
    "Thresholds",
    "attestation_evidence",
    "audit_evidence",
    "catalog_evidence",
    "collect",
    "compute",
    "coverage_evidence",
    "exceptions_evidence",
    "exposure_evidence",
    "inventory_evidence",
    "iso",
    "parse_time",
    "patch_sla_evidence",
    "pct",
    "read_store",
    "recency_evidence",
    "scan_findings",
    "scan_time",
]
