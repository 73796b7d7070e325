"""Evidence measured from a populated store (SQLite and PostgreSQL), exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, text

from baseguard.report.compliance import ComplianceReport, build_report
from baseguard.report.compliance.evidence import Evidence, Thresholds
from baseguard.store import Store, open_store
from tests.report.compliance.estate import D1, D2, D3, NOW, PY
from tests.store.builders import StepClock


def report_of(store: Store, **kwargs: Any) -> ComplianceReport:
    return build_report(store, "all", now=kwargs.pop("now", NOW), **kwargs)


def item(report: ComplianceReport, evidence_id: str) -> Evidence:
    return report.evidence_by_id()[evidence_id]


def table(ev: Evidence, title: str) -> list[dict[str, Any]]:
    return next(t.rows for t in ev.tables if t.title == title)


def test_catalog_coverage_is_the_share_of_uses_on_approved_entries(estate: Store) -> None:
    ev = item(report_of(estate), "catalog-coverage")
    assert ev.status == "partial"
    assert ev.as_of == "2026-01-14T13:00:00Z"
    facts = ev.facts
    assert (facts["uses"], facts["approvedUses"], facts["allowedUses"]) == (4, 2, 3)
    assert (facts["approvedPercent"], facts["allowedPercent"]) == (50.0, 75.0)
    assert facts["byVerdict"]["not-in-catalog"] == 1
    assert facts["byVerdict"]["excepted"] == 1
    assert ev.notes == [
        "1 of 4 uses are not allowed by the catalog (not in catalog, retired, past EOL, "
        "proposed or dev variant in production)"
    ]


def test_inventory_names_the_sources_and_when(estate: Store) -> None:
    ev = item(report_of(estate), "inventory")
    assert ev.status == "met"
    assert ev.facts["sources"] == {"compose": 1, "dockerfile": 1, "kubernetes": 2}
    assert ev.facts["generatedAt"] == "2026-01-14T13:00:00Z"
    assert ev.facts["filesScanned"] == 5


def test_exposure_counts_the_latest_scan_of_each_image(estate: Store) -> None:
    ev = item(report_of(estate), "exposure")
    assert ev.status == "partial"
    assert ev.facts["bySeverity"] == {
        "critical": 2,
        "high": 1,
        "medium": 1,
        "low": 1,
        "negligible": 0,
        "unknown": 0,
    }
    assert (ev.facts["kev"], ev.facts["fixable"], ev.facts["suppressedByVex"]) == (1, 4, 1)
    kev = table(ev, "Known exploited vulnerabilities (KEV)")
    assert [(r["image"], r["vulnerability"], r["kevAdded"]) for r in kev] == [
        (f"{PY}:3.12", "CVE-2026-1001", "2026-01-02")
    ]


def test_patch_sla_lists_each_breach_with_its_dates(estate: Store) -> None:
    ev = item(report_of(estate), "patch-sla")
    assert ev.status == "partial"
    facts = ev.facts
    assert (facts["fixes"], facts["withinSla"], facts["late"], facts["overdue"]) == (4, 1, 1, 1)
    assert facts["openWithinSla"] == 1
    assert facts["compliancePercent"] == 33.3
    breaches = table(ev, "SLA breaches")
    assert [
        (
            r["entry"],
            r["vulnerability"],
            r["fixAvailable"],
            r["due"],
            r["delivered"],
            r["status"],
            r["daysOver"],
        )
        for r in breaches
    ] == [
        (
            "node",
            "CVE-2026-3000",
            "2026-01-03T12:00:00Z",
            "2026-01-04T12:00:00Z",
            None,
            "overdue",
            11.0,
        ),
        (
            "python",
            "CVE-2026-1001",
            "2026-01-02T12:00:00Z",
            "2026-01-04T12:00:00Z",
            "2026-01-05T12:00:00Z",
            "late",
            1.0,
        ),
    ]
    assert breaches[1]["deliveredIn"] == D2
    assert breaches[0]["seenIn"] == D3


def test_a_fix_counts_from_when_its_digest_was_approved(estate: Store) -> None:
    # D2 was scanned clean on 5 Jan 12:00 but pinned at 10:00; the high CVE-2026-1000
    # (7 days from 2 Jan) is within its SLA, delivered at the scan.
    rows = table(item(report_of(estate), "patch-sla"), "Per catalog entry")
    python = next(r for r in rows if r["entry"] == "python")
    assert (python["images"], python["approvedDigests"], python["fixes"]) == (2, 1, 3)
    assert (python["withinSla"], python["late"], python["openWithinSla"]) == (1, 1, 1)


def test_patch_sla_names_the_missing_data(estate: Store) -> None:
    entry = {
        "id": "go",
        "provider": "chainguard",
        "repository": "cgr.dev/chainguard/go",
        "tags": ["1.23"],
        "owner": {"team": "build", "contact": "build@example.com"},
        "lifecycle": {"state": "approved", "history": []},
        "patch_sla": {"critical": "3d"},
    }
    estate.upsert_catalog_entry(entry, "alice")
    ev = item(report_of(estate), "patch-sla")
    assert "entry go: no stored analysis or scan of its images" in ev.notes
    go = next(r for r in table(ev, "Per catalog entry") if r["entry"] == "go")
    assert go["missingData"].startswith("no stored analysis or scan of its images")


def test_expired_exception_is_flagged_with_its_approver(estate: Store) -> None:
    ev = item(report_of(estate), "exceptions")
    assert ev.status == "partial"
    assert ev.facts["expired"] == ["legacy-debian"]
    rows = {r["exception"]: r for r in table(ev, "Exceptions")}
    assert rows["legacy-debian"]["state"] == "EXPIRED"
    assert rows["legacy-debian"]["approver"] == "alice"
    assert rows["old-redis"]["state"] == "live"
    assert rows["old-redis"]["justification"].startswith("migration to the hardened redis")
    assert ev.notes == [
        "exception legacy-debian (docker.io/library/debian:*, approved by alice) expired on "
        "2025-12-31 and is still on record"
    ]


def test_attestation_coverage_comes_from_verify_result_events(estate: Store) -> None:
    ev = item(report_of(estate), "attestations")
    assert ev.status == "met"
    assert ev.facts["imagesVerified"] == 2
    assert (ev.facts["signedPercent"], ev.facts["sbomPercent"], ev.facts["vexPercent"]) == (
        100.0,
        50.0,
        0.0,
    )
    assert ev.facts["slsaLevels"] == {"none": 1, "slsa3": 1}
    assert ev.facts["requiredButNotShown"] == []


def test_scan_recency_flags_images_not_scanned_in_n_days(estate: Store) -> None:
    fresh = item(report_of(estate), "scan-recency")
    assert fresh.status == "met"
    assert fresh.facts["oldestLatestScan"] == "2026-01-14T12:00:00Z"
    later = item(report_of(estate, now=NOW + timedelta(days=10)), "scan-recency")
    assert later.status == "partial"
    assert later.facts["notScannedWithinDays"] == 3
    loose = report_of(estate, now=NOW + timedelta(days=10), thresholds=Thresholds(max_scan_age=30))
    assert item(loose, "scan-recency").status == "met"


def test_audit_evidence_is_ok_with_the_chain_head(estate: Store) -> None:
    report = report_of(estate)
    ev = item(report, "audit")
    assert ev.status == "met"
    assert ev.facts["ok"] is True
    assert ev.facts["rows"] == 18
    assert ev.facts["head"] == estate.audit_head() == report.head
    assert len(report.head or "") == 64


def test_article_statuses_follow_their_evidence(estate: Store) -> None:
    report = report_of(estate)
    statuses = {r.article.id: r.status for r in report.articles}
    assert statuses == {
        "dora-art-6": "partial",
        "dora-art-8": "partial",
        "dora-art-9": "partial",
        "dora-art-10": "partial",
        "dora-art-28": "partial",
        "dora-rts-art-10": "partial",
        "nis2-art-21-2-a": "partial",
        "nis2-art-21-2-d": "partial",
        "nis2-art-21-2-e": "partial",
        "nis2-art-21-2-h": "met",
        "nis2-cir-6-6": "partial",
        "nis2-cir-6-10": "partial",
    }
    assert report.counts == {"met": 1, "partial": 11, "gap": 0}


def test_a_tampered_audit_row_turns_the_audit_evidence_into_a_gap(estate: Store) -> None:
    engine = create_engine(estate.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 5"))
    finally:
        engine.dispose()
    report = report_of(estate)
    ev = item(report, "audit")
    assert ev.status == "gap"
    assert ev.summary.startswith("TAMPERED: row 5 edited")
    assert ev.notes[0].startswith("audit log row 5 edited: row 5's hash does not match")
    assert report.audit_ok is False
    statuses = {r.article.id: r.status for r in report.articles}
    assert statuses["dora-art-6"] == statuses["dora-art-10"] == "gap"
    assert statuses["nis2-art-21-2-h"] == "gap"


def test_an_empty_store_gives_gaps_everywhere(store_url: str) -> None:
    with open_store(store_url, clock=StepClock()) as store:
        report = report_of(store)
    assert {e.id: e.status for e in report.evidence} == dict.fromkeys(
        [
            "catalog",
            "catalog-coverage",
            "inventory",
            "exposure",
            "patch-sla",
            "exceptions",
            "attestations",
            "scan-recency",
            "audit",
        ],
        "gap",
    )
    assert {r.status for r in report.articles} == {"gap"}
    assert all(e.notes for e in report.evidence)
    assert report.head is None


def test_unscanned_and_old_digests_do_not_count_as_delivering_a_fix(estate: Store) -> None:
    # D1 (the old python digest) still carries the critical CVE; it is not approved any more,
    # so its clean-looking history cannot deliver anything, and D2's scans decide.
    rows = table(item(report_of(estate), "patch-sla"), "SLA breaches")
    assert all(r["deliveredIn"] in (None, D2) for r in rows)
    assert D1 not in {r["deliveredIn"] for r in rows}
