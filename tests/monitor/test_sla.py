"""Patch-SLA clocks with injected times: when the fix appeared, when the fixed digest did."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from baseguard.catalog.model import CatalogEntry
from baseguard.monitor import events as ev
from baseguard.monitor.alerts import sla_alerts
from baseguard.monitor.rematch import rematch_all
from baseguard.monitor.sla import (
    BREACHED,
    MET,
    OPEN,
    OVERDUE,
    FixSighting,
    compute_clocks,
    record_transitions,
    sla_clocks,
)
from baseguard.monitor.tags import TagObservation, fold_history
from baseguard.store import Store
from baseguard.vulndb.store import VulnDB
from tests.monitor.builders import T0, build_db, osv_record, pypi_analysis, write_mirror
from tests.store.builders import digest_of

T = T0
D1, D2 = digest_of(1), digest_of(2)


def entry(**sla: str) -> CatalogEntry:
    return CatalogEntry.from_dict(
        {
            "id": "python",
            "provider": "internal",
            "repository": "registry.example/base/python",
            "tags": ["stable"],
            "lifecycle": {"state": "approved"},
            "patch_sla": sla or {"critical": "24h", "high": "7d"},
        }
    )


def observation(digest: str, seen: Any) -> TagObservation:
    return TagObservation("python", "registry.example/base/python", "stable", digest, seen)


def clocks_for(resolved_after: timedelta | None, now_after: timedelta) -> list[Any]:
    line = [observation(D1, T - timedelta(days=10))]
    if resolved_after is not None:
        line.append(observation(D2, T + resolved_after))
    sightings = {D1: [FixSighting(D1, "CVE-2026-1", "openssl", "CRITICAL", T, ("3.0.9",))]}
    carried = {D1: {("CVE-2026-1", "openssl")}, D2: set()}
    return compute_clocks([entry()], fold_history(line), sightings, carried.get, now=T + now_after)


def test_fixed_digest_thirty_hours_after_the_fix_breaches_a_24h_sla_by_6h() -> None:
    (clock,) = clocks_for(timedelta(hours=30), timedelta(hours=40))
    assert clock.fix_available_at == T
    assert clock.deadline == T + timedelta(hours=24)
    assert clock.resolved_at == T + timedelta(hours=30)
    assert clock.resolved_by == D2
    assert clock.status == BREACHED
    assert clock.breach == timedelta(hours=6)
    assert clock.to_dict()["breach"] == "6h"


def test_fixed_digest_within_the_sla_meets_it() -> None:
    (clock,) = clocks_for(timedelta(hours=20), timedelta(hours=40))
    assert clock.status == MET
    assert clock.breach is None


def test_unresolved_clock_is_open_then_overdue() -> None:
    (running,) = clocks_for(None, timedelta(hours=10))
    assert running.status == OPEN
    (late,) = clocks_for(None, timedelta(hours=26))
    assert late.status == OVERDUE
    assert late.breach == timedelta(hours=2)


def test_new_digest_still_carrying_the_vulnerability_does_not_stop_the_clock() -> None:
    line = [observation(D1, T - timedelta(days=1)), observation(D2, T + timedelta(hours=3))]
    sightings = {D1: [FixSighting(D1, "CVE-2026-1", "openssl", "CRITICAL", T)]}
    carried = {D1: {("CVE-2026-1", "openssl")}, D2: {("CVE-2026-1", "openssl")}}
    (clock,) = compute_clocks(
        [entry()], fold_history(line), sightings, carried.get, now=T + timedelta(hours=30)
    )
    assert clock.status == OVERDUE


def test_severity_without_an_sla_has_no_clock() -> None:
    line = [observation(D1, T - timedelta(days=1))]
    sightings = {D1: [FixSighting(D1, "CVE-2026-1", "zlib", "LOW", T)]}
    assert compute_clocks([entry()], fold_history(line), sightings, {}.get, now=T) == []


def test_sighting_after_the_tag_moved_on_starts_no_clock() -> None:
    line = [observation(D1, T - timedelta(days=2)), observation(D2, T - timedelta(days=1))]
    sightings = {D1: [FixSighting(D1, "CVE-2026-1", "openssl", "CRITICAL", T)]}
    clocks = compute_clocks(
        [entry()], fold_history(line), sightings, {D2: set()}.get, now=T + timedelta(days=3)
    )
    assert clocks == []


def test_clocks_from_the_store_record_the_breach_and_alert(store: Store, tmp_path: Path) -> None:
    """Fix at T (a feed update makes the finding fixable), fixed digest at T+30h."""
    e = entry()
    store.upsert_catalog_entry(e.to_dict(), "alice")
    store.save_analysis(pypi_analysis(D1, [("requests", "2.25.0")]), "ci")
    mirror = tmp_path / "mirror"
    db_path = tmp_path / "vulndb.sqlite"
    no_fix = osv_record("GHSA-x", "requests", aliases=["CVE-2026-7"])
    build_db(write_mirror(mirror, [no_fix]), db_path, T - timedelta(days=10))
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T - timedelta(days=10))
    store.record_event(
        ev.TAG, "python:stable", observation(D1, T - timedelta(days=10)).to_dict(), "w"
    )

    fixed = osv_record("GHSA-x", "requests", fixed="2.31.0", aliases=["CVE-2026-7"])
    build_db(write_mirror(mirror, [fixed]), db_path, T)
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T)

    store.save_analysis(pypi_analysis(D2, [("requests", "2.31.0")]), "ci")
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T + timedelta(hours=30), after_id=1)
    store.record_event(
        ev.TAG, "python:stable", observation(D2, T + timedelta(hours=30)).to_dict(), "w"
    )

    clocks = sla_clocks(store, [e], now=T + timedelta(hours=40))
    assert [(c.vuln_id, c.package, c.status, c.breach) for c in clocks] == [
        ("CVE-2026-7", "requests", BREACHED, timedelta(hours=6))
    ]
    assert clocks[0].fix_available_at == T
    assert [c.key for c in record_transitions(store, clocks)] == [clocks[0].key]
    assert record_transitions(store, clocks) == []  # recorded once
    (alert,) = sla_alerts(clocks)
    assert alert.kind == "sla.breach"
    assert "6.0h after the deadline" in alert.text
