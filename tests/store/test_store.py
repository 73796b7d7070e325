"""The store's records: catalog entries, exceptions, analyses, scans with their findings,
assessments; each write with its audit event, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, text

from baseguard.store import Store, StoreError, open_store
from baseguard.store.audit import canonical_json
from tests.store.builders import NOW, digest_of, make_analysis, make_scan

ENTRY: dict[str, Any] = {
    "id": "python-3.12",
    "provider": "chainguard",
    "repository": "cgr.dev/chainguard/python",
    "lifecycle": {"state": "approved", "since": "2025-06-01"},
    "sla": {"critical": "24h", "high": "7d"},
}


def kinds(store: Store) -> list[str]:
    return [event.kind for event in reversed(store.audit_events(limit=1000))]


# -- catalog and exceptions ------------------------------------------------------------


def test_catalog_entry_is_stored_and_listed_by_id(store: Store) -> None:
    store.upsert_catalog_entry({**ENTRY, "id": "z-last"}, "alice")
    store.upsert_catalog_entry(ENTRY, "alice")
    assert [e["id"] for e in store.catalog_entries()] == ["python-3.12", "z-last"]
    assert store.catalog_entries()[0] == ENTRY


def test_catalog_upsert_replaces_the_entry_and_audits_both_writes(store: Store) -> None:
    store.upsert_catalog_entry(ENTRY, "alice")
    store.upsert_catalog_entry({**ENTRY, "provider": "minimus"}, "bob")
    assert store.catalog_entries() == [{**ENTRY, "provider": "minimus"}]
    events = store.audit_events(limit=10)
    assert [(e.kind, e.subject, e.actor) for e in reversed(events)] == [
        ("catalog.upsert", "python-3.12", "alice"),
        ("catalog.upsert", "python-3.12", "bob"),
    ]
    assert '"created":false' in events[0].data
    assert '"provider":"minimus"' in events[0].data


def test_writing_an_unchanged_entry_records_nothing(store: Store) -> None:
    store.upsert_catalog_entry(ENTRY, "alice")
    store.upsert_catalog_entry(dict(reversed(list(ENTRY.items()))), "alice")
    assert kinds(store) == ["catalog.upsert"]


def test_dates_in_entries_come_back_as_iso_strings(store: Store) -> None:
    store.upsert_catalog_entry({"id": "e", "eol": date(2027, 1, 1)}, "alice")
    assert store.catalog_entries() == [{"id": "e", "eol": "2027-01-01"}]


def test_exceptions_are_kept_apart_from_the_catalog(store: Store) -> None:
    exc = {"id": "ex-1", "pattern": "docker.io/library/*", "expires": "2026-03-01"}
    store.upsert_exception(exc, "carol")
    assert store.exceptions() == [exc]
    assert store.catalog_entries() == []
    assert kinds(store) == ["exception.upsert"]


@pytest.mark.parametrize("bad", [{}, {"id": ""}, {"id": 3}, {"id": "x" * 256}])
def test_entries_without_a_usable_id_are_refused(store: Store, bad: dict[str, Any]) -> None:
    with pytest.raises(StoreError):
        store.upsert_catalog_entry(bad, "alice")
    assert store.counts()["audit_log"] == 0


@pytest.mark.parametrize("actor", ["", "   ", "a" * 256])
def test_every_write_needs_an_actor(store: Store, actor: str) -> None:
    with pytest.raises(StoreError):
        store.upsert_catalog_entry(ENTRY, actor)


def test_a_value_that_is_not_json_is_refused_before_writing(store: Store) -> None:
    with pytest.raises(StoreError, match="JSON"):
        store.upsert_catalog_entry({"id": "e", "bad": object()}, "alice")
    with pytest.raises(StoreError, match="JSON"):
        store.record_event("k", "s", {"nan": float("nan")}, "alice")
    assert store.counts() == dict.fromkeys(store.counts(), 0)


# -- analyses --------------------------------------------------------------------------


def test_analysis_round_trips_by_digest(store: Store) -> None:
    analysis = make_analysis(digest_of(7), packages=5)
    store.save_analysis(analysis, "ci")
    loaded = store.load_analysis(digest_of(7))
    assert loaded is not None
    assert loaded.to_dict() == analysis.to_dict()
    assert store.load_analysis(digest_of(8)) is None


def test_saving_the_same_digest_again_updates_the_same_row(store: Store) -> None:
    first = store.save_analysis(make_analysis(digest_of(1), packages=2), "ci")
    again = store.save_analysis(make_analysis(digest_of(1), packages=2), "ci")
    changed = store.save_analysis(
        make_analysis(digest_of(1), packages=4, reference="alpine:3.20.3"), "ci"
    )
    assert first == again == changed
    assert store.list_analyses() == [(first, digest_of(1), "alpine:3.20.3")]
    loaded = store.load_analysis(digest_of(1))
    assert loaded is not None and len(loaded.packages) == 4
    assert kinds(store) == ["analysis.save", "analysis.save"]  # the unchanged save wrote nothing


def test_analysis_without_digest_is_refused(store: Store) -> None:
    analysis = make_analysis()
    analysis.image.manifest_digest = None
    analysis.image.config_digest = None
    with pytest.raises(StoreError, match="no manifest or config digest"):
        store.save_analysis(analysis, "ci")


def test_analysis_falls_back_to_the_config_digest(store: Store) -> None:
    analysis = make_analysis()
    analysis.image.manifest_digest = None
    store.save_analysis(analysis, "ci")
    assert store.load_analysis("sha256:" + "c" * 64) is not None


def test_list_analyses_pages_by_id(store: Store) -> None:
    ids = [store.save_analysis(make_analysis(digest_of(i)), "ci") for i in range(5)]
    page1 = store.list_analyses(limit=2)
    page2 = store.list_analyses(after_id=page1[-1][0], limit=2)
    page3 = store.list_analyses(after_id=page2[-1][0], limit=2)
    assert [row[0] for row in page1 + page2 + page3] == ids
    assert [row[1] for row in page1] == [digest_of(0), digest_of(1)]
    assert store.list_analyses(after_id=ids[-1]) == []


# -- scans -----------------------------------------------------------------------------


def test_scan_round_trips_with_findings_and_suppressed(store: Store) -> None:
    result = make_scan(findings=40, suppressed=3)
    scan_id = store.save_scan(digest_of(1), result, "ci")
    latest = store.latest_scan(digest_of(1))
    assert latest is not None
    stored = latest.pop("stored")
    assert stored["id"] == scan_id and stored["actor"] == "ci"
    assert stored["digest"] == digest_of(1)
    assert latest == result.to_dict()


def test_finding_rows_carry_the_queryable_columns(store: Store, raw: Engine) -> None:
    scan_id = store.save_scan(digest_of(1), make_scan(findings=3, suppressed=1), "ci")
    with raw.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT position, vuln_id, package, version, severity, fixed_versions, fixable,"
                " kev, vex_status, suppressed FROM findings WHERE scan_id = :s ORDER BY position"
            ),
            {"s": scan_id},
        ).all()
    assert [tuple(r) for r in rows] == [
        (0, "CVE-2025-10000", "pkg0", "1.0-r0", "CRITICAL", "", False, True, None, False),
        (1, "CVE-2025-10001", "pkg1", "1.1-r0", "HIGH", "1.1-r1", True, False, None, False),
        (2, "CVE-2025-10002", "pkg2", "1.2-r0", "MEDIUM", "1.2-r1", True, False, None, False),
        (3, "CVE-2025-10003", "pkg3", "1.3-r0", "LOW", "", False, False, "not_affected", True),
    ]


def test_scan_result_is_audited_with_its_summary(store: Store) -> None:
    scan_id = store.save_scan(digest_of(1), make_scan(findings=5), "ci")
    [event] = store.audit_events(limit=5)
    assert (event.kind, event.subject, event.actor) == ("scan.result", digest_of(1), "ci")
    data = event.to_dict()["data"]
    assert data["scan"] == scan_id
    assert data["summary"]["total"] == 5
    assert data["summary"]["bySeverity"]["critical"] == 1


def test_latest_scan_is_the_newest_of_that_digest(store: Store) -> None:
    store.save_scan(digest_of(1), make_scan(findings=1), "ci")
    newest = store.save_scan(digest_of(1), make_scan(findings=2), "ci")
    store.save_scan(digest_of(2), make_scan(findings=9), "ci")
    latest = store.latest_scan(digest_of(1))
    assert latest is not None
    assert latest["stored"]["id"] == newest
    assert len(latest["findings"]) == 2
    assert store.latest_scan(digest_of(3)) is None


def test_list_scans_pages_and_filters_by_digest(store: Store) -> None:
    ids = [store.save_scan(digest_of(i % 2), make_scan(findings=i), "ci") for i in range(5)]
    assert [s.id for s in store.list_scans(digest_of(0))] == [ids[0], ids[2], ids[4]]
    first = store.list_scans(limit=2)
    rest = store.list_scans(after_id=first[-1].id)
    assert [s.id for s in first + rest] == ids
    assert [s.total for s in rest] == [2, 3, 4]
    assert first[0].created_at.tzinfo is UTC
    assert first[0].scanned_at == NOW


def test_an_empty_scan_is_stored(store: Store) -> None:
    store.save_scan(digest_of(1), make_scan(findings=0), "ci")
    latest = store.latest_scan(digest_of(1))
    assert latest is not None and latest["findings"] == [] and latest["suppressed"] == []


# -- assessments and events ------------------------------------------------------------


def test_assessment_is_stored_and_audited(store: Store) -> None:
    assessment = {
        "schemaVersion": "1",
        "generatedAt": "2026-01-15T12:00:00+00:00",
        "summary": {"images": 3, "assessed": 2},
        "images": [{"reference": "alpine:3.20"}],
    }
    row = store.save_assessment(assessment, "ci")
    assert store.load_assessment(row) == assessment
    [event] = store.audit_events()
    assert (event.kind, event.subject) == ("assessment.save", str(row))
    assert event.to_dict()["data"]["summary"] == {"images": 3, "assessed": 2}


def test_record_event_appends_one_canonical_row(store: Store) -> None:
    store.record_event("catalog.approve", "python-3.12", {"b": 1, "a": [1, "ü"]}, "alice")
    [event] = store.audit_events()
    assert event.data == canonical_json({"a": [1, "ü"], "b": 1}) == '{"a":[1,"ü"],"b":1}'
    assert event.time == "2026-01-15T12:00:00.000000Z"  # the injected clock


# -- failures --------------------------------------------------------------------------


def test_an_error_inside_a_write_leaves_nothing_behind(store: Store) -> None:
    store.save_scan(digest_of(1), make_scan(findings=2), "ci")
    before = store.counts()
    head = store.audit_head()

    def fail(stage: str) -> None:
        if stage == "audit":
            raise RuntimeError("power cut")

    store.fault_hook = fail
    with pytest.raises(RuntimeError, match="power cut"):
        store.save_scan(digest_of(2), make_scan(findings=2500), "ci")
    with pytest.raises(RuntimeError):
        store.upsert_catalog_entry(ENTRY, "alice")
    store.fault_hook = None
    assert store.counts() == before
    assert store.audit_head() == head
    assert store.latest_scan(digest_of(2)) is None
    store.save_scan(digest_of(2), make_scan(findings=1), "ci")  # and the store goes on
    report = store.verify_audit()
    assert report.ok and report.rows == 2


def test_unreachable_postgresql_is_a_store_error_naming_the_url_without_password() -> None:
    with pytest.raises(StoreError) as raised:
        open_store("postgresql://u:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in raised.value.message
    assert "127.0.0.1:1" in raised.value.message
    assert raised.value.exit_code == 2


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Any) -> None:
    path = tmp_path / "s.sqlite"
    with open_store(str(path)) as store:
        store.upsert_catalog_entry(ENTRY, "alice")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("DELETE FROM catalog_entries")
        try:
            assert store.catalog_entries() == [ENTRY]  # the committed snapshot, at once
            assert store.verify_audit().ok
        finally:
            writer.execute("ROLLBACK")
            writer.close()


def test_naive_clock_is_refused(store_url: str) -> None:
    with (
        open_store(store_url, clock=lambda: datetime(2026, 1, 1)) as store,
        pytest.raises(StoreError, match="naive"),
    ):
        store.record_event("k", "s", {}, "alice")
