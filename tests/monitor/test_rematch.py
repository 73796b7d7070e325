"""Re-matching stored analyses after a feed update: the diff, the scans and the audit trail."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from baseguard.matching.vex import load_vex
from baseguard.monitor import events as ev
from baseguard.monitor.rematch import diff_scans, rematch_all
from baseguard.store import Store, open_store
from baseguard.vulndb.store import VulnDB
from tests.cli_runner import invoke_baseguard
from tests.monitor.builders import (
    T0,
    build_db,
    osv_record,
    pypi_analysis,
    write_mirror,
)
from tests.store.builders import digest_of

REQUESTS = osv_record("GHSA-aaaa-0001", "requests", fixed="2.31.0", aliases=["CVE-2026-1001"])
URLLIB3 = osv_record(
    "GHSA-aaaa-0002", "urllib3", fixed="1.26.18", severity="HIGH", aliases=["CVE-2026-1002"]
)


def _seed(store: Store) -> None:
    store.save_analysis(
        pypi_analysis(digest_of(1), [("requests", "2.25.0"), ("urllib3", "1.26.0")]), "ci"
    )
    store.save_analysis(
        pypi_analysis(digest_of(2), [("flask", "3.0.0")], reference="registry.example/b:1"), "ci"
    )


def _watch(store_path: Path, vulndb: Path, mirror: Path) -> dict[str, object]:
    result = invoke_baseguard(
        "watch",
        "--once",
        "--db",
        f"sqlite:///{store_path}",
        "--vulndb",
        str(vulndb),
        "--from",
        str(mirror),
        "--no-tags",
        "-o",
        "json",
    )
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


def test_watch_once_records_exactly_the_new_finding(tmp_path: Path) -> None:
    store_path = tmp_path / "store.sqlite"
    with open_store(f"sqlite:///{store_path}") as store:
        _seed(store)
    mirror = write_mirror(tmp_path / "mirror", [REQUESTS])
    vulndb = tmp_path / "vulndb.sqlite"

    first = _watch(store_path, vulndb, mirror)
    assert first["rematch"]["first"] == 2  # type: ignore[index]

    write_mirror(mirror, [REQUESTS, URLLIB3])
    second = _watch(store_path, vulndb, mirror)

    rematch = second["rematch"]
    assert rematch["changes"]["new"] == 1  # type: ignore[index]
    assert rematch["changes"]["fixed"] == 0  # type: ignore[index]
    assert [c["digest"] for c in rematch["changed"]] == [digest_of(1)]  # type: ignore[index]
    with open_store(f"sqlite:///{store_path}") as store:
        diffs = ev.events(store, [ev.DIFF])
        assert len(diffs) == 1
        assert diffs[0].subject == digest_of(1)
        assert [(f["id"], f["package"], f["severity"]) for f in diffs[0].data["new"]] == [
            ("CVE-2026-1002", "urllib3", "HIGH")
        ]
        assert diffs[0].data["fixed"] == []
        # One new scan for the changed image, none for the unchanged one.
        assert len(store.list_scans(digest_of(1))) == 2
        assert len(store.list_scans(digest_of(2))) == 1
        latest = store.latest_scan(digest_of(1))
        assert latest is not None
        assert sorted(f["id"] for f in latest["findings"]) == ["CVE-2026-1001", "CVE-2026-1002"]
        assert store.verify_audit().ok


def test_fixed_finding_disappears_and_is_recorded_as_fixed(store: Store, tmp_path: Path) -> None:
    _seed(store)
    mirror = write_mirror(tmp_path / "mirror", [REQUESTS, URLLIB3])
    db_path = build_db(mirror, tmp_path / "vulndb.sqlite", T0)
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T0)
    # The advisory is corrected: only versions before 2.20 were affected.
    corrected = osv_record("GHSA-aaaa-0001", "requests", fixed="2.20.0", aliases=["CVE-2026-1001"])
    write_mirror(mirror, [corrected, URLLIB3])
    build_db(mirror, db_path, T0 + timedelta(days=1))
    with VulnDB.open(db_path) as db:
        report = rematch_all(store, db, now=T0 + timedelta(days=1))

    assert report.totals()["fixed"] == 1
    assert report.totals()["new"] == 0
    diff = ev.events(store, [ev.DIFF])[-1]
    assert [(f["id"], f["package"]) for f in diff.data["fixed"]] == [("CVE-2026-1001", "requests")]
    latest = store.latest_scan(digest_of(1))
    assert latest is not None
    assert [f["id"] for f in latest["findings"]] == ["CVE-2026-1002"]


def test_rematch_against_the_same_database_saves_nothing(store: Store, tmp_path: Path) -> None:
    _seed(store)
    db_path = build_db(write_mirror(tmp_path / "m", [REQUESTS]), tmp_path / "v.sqlite", T0)
    with VulnDB.open(db_path) as db:
        first = rematch_all(store, db, now=T0)
        second = rematch_all(store, db, now=T0 + timedelta(hours=6))
    assert (first.saved, first.first) == (2, 2)
    assert (second.saved, second.unchanged, second.changed) == (0, 2, [])
    assert store.counts()["scans"] == 2


def test_vex_statement_recorded_as_a_vex_change(store: Store, tmp_path: Path) -> None:
    _seed(store)
    db_path = build_db(write_mirror(tmp_path / "m", [REQUESTS]), tmp_path / "v.sqlite", T0)
    vex_file = tmp_path / "vex.json"
    vex_file.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.org/vex/1",
                "author": "security@example.org",
                "timestamp": "2026-03-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2026-1001"},
                        "products": [{"@id": "pkg:pypi/requests@2.25.0"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    with VulnDB.open(db_path) as db:
        rematch_all(store, db, now=T0)
        report = rematch_all(store, db, vex=[load_vex(vex_file)], now=T0 + timedelta(hours=1))
    assert report.totals()["vex"] == 1
    assert report.totals()["fixed"] == 0  # suppressed by VEX is not "fixed"
    change = ev.events(store, [ev.DIFF])[-1].data["vex"][0]
    assert (change["id"], change["before"], change["vex"]) == (
        "CVE-2026-1001",
        None,
        "not_affected",
    )
    assert change["suppressed"] is True


def _scan(*findings: dict[str, object]) -> dict[str, object]:
    return {"findings": list(findings), "suppressed": []}


def _finding(fixed: list[str], kev: bool = False, severity: str = "HIGH") -> dict[str, object]:
    return {
        "id": "CVE-1",
        "package": {"name": "p", "type": "pypi", "purl": "pkg:pypi/p@1", "locations": ["/x"]},
        "installedVersion": "1",
        "fixedVersions": fixed,
        "severity": severity,
        "kev": {"cve": "CVE-1"} if kev else None,
        "vex": None,
    }


def test_diff_names_a_finding_that_became_fixable() -> None:
    diff = diff_scans(_scan(_finding([])), _scan(_finding(["2"])))
    assert [f.id for f in diff.became_fixable] == ["CVE-1"]
    assert not diff.new and not diff.fixed


def test_diff_names_kev_and_severity_changes() -> None:
    diff = diff_scans(_scan(_finding(["2"])), _scan(_finding(["2"], kev=True, severity="CRITICAL")))
    assert [f.id for f in diff.kev_added] == ["CVE-1"]
    assert [(a.severity, b.severity) for a, b in diff.severity_changed] == [("HIGH", "CRITICAL")]


def test_diff_of_identical_scans_is_empty() -> None:
    assert diff_scans(_scan(_finding(["2"])), _scan(_finding(["2"]))).empty
