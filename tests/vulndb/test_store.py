"""The store API the matcher codes against: lookups, merging, enrichment, status."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baseguard.errors import BaseguardError
from baseguard.vulndb.feeds.osv import osv_to_advisory
from baseguard.vulndb.model import Advisory, Affected, Range
from baseguard.vulndb.store import (
    DbBuilder,
    SourceInfo,
    VulnDB,
    VulnDbError,
    VulnDbMissingError,
    default_db_path,
)
from tests.vulndb.feed_builders import osv_record

BUILT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def build(path: Path, advisories: list[Advisory], feed: str = "osv") -> Path:
    with DbBuilder(path) as builder:
        builder.add_advisories(feed, advisories)
        builder.add_kev([("CVE-2021-44228", {"dateAdded": "2021-12-10", "dueDate": "2021-12-24"})])
        builder.add_epss([("CVE-2021-44228", 0.94358, 0.99955)])
        builder.add_source(
            SourceInfo("osv/PyPI", "/mirror/osv/PyPI", BUILT, len(advisories), "ab" * 32, feed)
        )
        builder.commit(BUILT)
    return path


def test_lookup_is_keyed_by_the_names_given_and_normalised_for_pypi(tmp_path: Path) -> None:
    db_path = build(
        tmp_path / "v.sqlite",
        [
            osv_to_advisory(osv_record("PYSEC-1", "Zope.Interface")),
            osv_to_advisory(osv_record("PYSEC-2", "requests")),
        ],
    )
    with VulnDB.open(db_path) as db:
        found = db.advisories_for("pypi", ["zope-interface", "zope_interface", "requests", "nope"])
    assert set(found) == {"zope-interface", "zope_interface", "requests", "nope"}
    assert [a.id for a, _ in found["zope-interface"]] == ["PYSEC-1"]
    assert [a.id for a, _ in found["zope_interface"]] == ["PYSEC-1"]
    ((_, affected),) = found["requests"]
    assert affected.package == "requests" and affected.ranges[0].events[-1] == ("fixed", "2.0.0")
    assert found["nope"] == []


def test_lookup_of_many_names_is_batched(tmp_path: Path) -> None:
    advisories = [osv_to_advisory(osv_record(f"A-{n}", f"pkg{n}")) for n in range(1300)]
    db_path = build(tmp_path / "v.sqlite", advisories)
    names = [f"pkg{n}" for n in range(1300)] + [f"absent{n}" for n in range(700)]
    with VulnDB.open(db_path) as db:
        found = db.advisories_for("PyPI", names)
    assert len(found) == 2000
    assert all(len(found[f"pkg{n}"]) == 1 for n in range(1300))
    assert not any(found[f"absent{n}"] for n in range(700))


def test_only_the_entries_for_the_asked_ecosystem_and_package_are_returned(tmp_path: Path) -> None:
    advisory = Advisory(
        id="CVE-2024-1",
        source="alpine-secdb",
        affected=[
            Affected(
                "Alpine:v3.19",
                "openssl",
                [Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "3.1.5-r0")])],
            ),
            Affected(
                "Alpine:v3.20",
                "openssl",
                [Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "3.3.1-r0")])],
            ),
            Affected("Alpine:v3.20", "libssl3", not_affected=True),
        ],
    )
    db_path = build(tmp_path / "v.sqlite", [advisory], feed="alpine")
    with VulnDB.open(db_path) as db:
        ((found, affected),) = db.advisories_for("Alpine:3.20", ["openssl"])["openssl"]
    assert found.id == "CVE-2024-1"
    assert affected.ecosystem == "Alpine:v3.20" and affected.ranges[0].events[-1][1] == "3.3.1-r0"


def test_two_entries_for_one_package_give_two_pairs(tmp_path: Path) -> None:
    record = osv_record("GHSA-1", "demo")
    record["affected"].append(
        {"package": {"ecosystem": "PyPI", "name": "demo"}, "versions": ["3.0.0"]}
    )
    db_path = build(tmp_path / "v.sqlite", [osv_to_advisory(record)])
    with VulnDB.open(db_path) as db:
        pairs = db.advisories_for("PyPI", ["demo"])["demo"]
    assert [bool(a.versions) for _, a in pairs] == [False, True]


def test_withdrawn_advisories_are_left_out(tmp_path: Path) -> None:
    withdrawn = osv_to_advisory(osv_record("GHSA-W", "demo", withdrawn="2024-06-01T00:00:00Z"))
    live = osv_to_advisory(osv_record("GHSA-L", "demo"))
    db_path = build(tmp_path / "v.sqlite", [withdrawn, live])
    with VulnDB.open(db_path) as db:
        assert [a.id for a, _ in db.advisories_for("PyPI", ["demo"])["demo"]] == ["GHSA-L"]
        assert db.advisory("GHSA-W")[0].withdrawn == "2024-06-01T00:00:00Z"


def test_one_id_from_one_source_is_merged_into_one_row(tmp_path: Path) -> None:
    in_pypi = osv_to_advisory(osv_record("GHSA-X", "lib", aliases=["CVE-2024-9"]))
    in_npm = osv_to_advisory(
        osv_record("GHSA-X", "lib-js", ecosystem="npm", aliases=["CVE-2024-9", "OTHER-1"])
    )
    db_path = build(tmp_path / "v.sqlite", [in_pypi, in_npm, in_pypi])
    with VulnDB.open(db_path) as db:
        (merged,) = db.advisory("GHSA-X")
        assert [(a.ecosystem, a.package) for a in merged.affected] == [
            ("PyPI", "lib"),
            ("npm", "lib-js"),
        ]
        assert merged.aliases == ["CVE-2024-9", "OTHER-1"]
        assert db.advisories_for("npm", ["lib-js"])["lib-js"][0][0].id == "GHSA-X"
        assert db.status().advisories == 1
        assert db.status().counts == {"PyPI": 1, "npm": 1}


def test_kev_epss_status_and_age(tmp_path: Path) -> None:
    db_path = build(tmp_path / "v.sqlite", [osv_to_advisory(osv_record("A-1", "a"))])
    with VulnDB.open(db_path) as db:
        assert db.kev(["CVE-2021-44228", "CVE-2000-1"]) == {
            "CVE-2021-44228": {"dateAdded": "2021-12-10", "dueDate": "2021-12-24"}
        }
        assert db.epss(["CVE-2021-44228", "CVE-2000-1"]) == {"CVE-2021-44228": (0.94358, 0.99955)}
        status = db.status()
        assert status.built_at == BUILT
        assert status.schema_version == 1
        assert status.feeds == {"osv": 1, "kev": 1, "epss": 1}
        assert status.counts == {"PyPI": 1}
        (source,) = status.sources
        assert (source.name, source.records, source.sha256) == ("osv/PyPI", 1, "ab" * 32)
        assert db.age(BUILT + timedelta(days=3)) == timedelta(days=3)
        assert status.is_stale(BUILT + timedelta(days=8))
        assert not status.is_stale(BUILT + timedelta(days=6))
        assert db.ecosystems() == {"PyPI"}


def test_missing_database_names_the_path_and_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(VulnDbMissingError) as caught:
        VulnDB.open(tmp_path / "absent.sqlite")
    assert isinstance(caught.value, BaseguardError)
    assert "absent.sqlite" in caught.value.message
    assert caught.value.hint and "baseguard db update" in caught.value.hint


@pytest.mark.parametrize("content", [b"", b"not sqlite at all" * 100])
def test_corrupt_database_is_reported_as_missing(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "v.sqlite"
    path.write_bytes(content)
    with pytest.raises(VulnDbMissingError, match=r"v\.sqlite"):
        VulnDB.open(path)


def test_database_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = build(tmp_path / "v.sqlite", [])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(VulnDbMissingError, match="schema version 99"):
        VulnDB.open(path)


def test_builder_that_is_not_committed_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "v.sqlite"
    with pytest.raises(RuntimeError), DbBuilder(target) as builder:
        builder.add_advisories("osv", [osv_to_advisory(osv_record("A-1", "a"))])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_default_path_honours_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BASEGUARD_VULNDB", raising=False)
    monkeypatch.setenv("BASEGUARD_CACHE_DIR", str(tmp_path / "cache"))
    assert default_db_path() == tmp_path / "cache" / "vulndb" / "vulndb.sqlite"
    monkeypatch.setenv("BASEGUARD_VULNDB", str(tmp_path / "x.sqlite"))
    assert default_db_path() == tmp_path / "x.sqlite"


def test_database_file_is_readable_like_any_new_file(tmp_path: Path) -> None:
    path = build(tmp_path / "v.sqlite", [])
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644 & ~umask


def test_builder_errors_are_vulndb_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(VulnDbError, match="cannot create"):
        DbBuilder(blocker / "sub" / "v.sqlite")
