"""`db update` end to end: the real feeds in the mirror layout, atomic swaps, a real HTTP
mirror, export and import, and the command line."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from baseguard.errors import UsageError
from baseguard.vulndb import sources
from baseguard.vulndb.feeds.osv import OsvFeed
from baseguard.vulndb.store import VulnDB, VulnDbError
from baseguard.vulndb.update import export_db, import_db, update_db
from tests.cli_runner import run_baseguard
from tests.vulndb.feed_builders import copy_tree, osv_record, real_mirror, serve, write_zip

BUILT = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def content(path: Path, *, locations: bool = True) -> list[Any]:
    """Everything a database holds except build and fetch times (and, optionally, where
    the sources were read from)."""
    with sqlite3.connect(path) as conn:
        rows: list[Any] = []
        rows += conn.execute(
            "SELECT id, source, feed, withdrawn, data FROM advisories ORDER BY id, source"
        ).fetchall()
        rows += conn.execute(
            "SELECT ecosystem, package, a.id, a.source FROM affected_index i "
            "JOIN advisories a ON a.rowid = i.advisory ORDER BY 1, 2, 3, 4"
        ).fetchall()
        rows += conn.execute("SELECT * FROM kev ORDER BY cve").fetchall()
        rows += conn.execute("SELECT * FROM epss ORDER BY cve").fetchall()
        where = "location" if locations else "''"
        rows += conn.execute(
            f"SELECT name, feed, {where}, records, skipped, sha256 FROM sources ORDER BY name"
        ).fetchall()
        rows += conn.execute("SELECT * FROM meta WHERE key != 'built_at' ORDER BY key").fetchall()
    conn.close()
    return rows


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return real_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="module")
def real_db(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("db") / "vulndb.sqlite"
    update_db(db_path=path, from_dir=mirror, now=BUILT)
    return path


@pytest.fixture
def db(real_db: Path) -> Iterator[VulnDB]:
    with VulnDB.open(real_db) as opened:
        yield opened


def test_real_alpine_320_openssl_fix(db: VulnDB) -> None:
    found = db.advisories_for("Alpine:v3.20", ["openssl"])["openssl"]
    fixes = {a.id: af.ranges[0].events[-1][1] for a, af in found if not af.not_affected}
    assert fixes["CVE-2024-5535"] == "3.3.1-r1"
    assert fixes["CVE-2018-0734"] == "1.1.1a-r0"
    never = {a.id for a, af in found if af.not_affected}
    assert "CVE-2022-1292" in never and "CVE-2022-1292" not in fixes


def test_real_alpine_310_musl_and_not_affected_busybox(db: VulnDB) -> None:
    busybox = db.advisories_for("Alpine:v3.20", ["busybox"])["busybox"]
    never = {a.id for a, af in busybox if af.not_affected}
    assert {"CVE-2021-42373", "CVE-2021-42376", "CVE-2021-42377"} <= never
    old = db.advisories_for("Alpine:v3.9", ["xen"])["xen"]
    assert any(a.id == "CVE-2018-3639" and "XSA-263" in a.aliases for a, _ in old)


def test_real_pypi_advisory_with_aliases_and_cvss(db: VulnDB) -> None:
    found = db.advisories_for("PyPI", ["urllib3"])["urllib3"]
    (advisory,) = [a for a, _ in found if a.id == "PYSEC-2023-192"]
    assert advisory.aliases == ["CVE-2023-43804", "GHSA-v845-jxx5-vc9f"]
    assert advisory.cvss_score == 8.1 and advisory.severity_label == "HIGH"
    assert db.advisories_for("PyPI", ["PyYAML"])["PyYAML"]  # stored as "pyyaml"


def test_real_debian_bookworm_open_and_resolved(db: VulnDB) -> None:
    found = db.advisories_for("Debian:12", ["apparmor", "sope"])
    apparmor = {a.id: af for a, af in found["apparmor"]}
    assert apparmor["CVE-2016-1585"].ranges[0].events == [("introduced", "0")]
    assert apparmor["CVE-2014-1424"].not_affected
    ((sope, sope_affected),) = found["sope"]
    assert sope.id == "CVE-2025-53603"
    assert sope_affected.ranges[0].events[-1] == ("fixed", "5.8.0-1+deb12u1")


def test_real_dsa_osv_record_and_wolfi_chainguard(db: VulnDB) -> None:
    ((dsa, affected),) = db.advisories_for("Debian:7", ["nginx"])["nginx"]
    assert dsa.id == "DSA-3029-1" and dsa.aliases == ["CVE-2014-3616"]
    assert affected.ranges[0].events[-1] == ("fixed", "1.2.1-2.2+wheezy3")
    wolfi = db.advisories_for("Wolfi", ["binutils", "coreutils"])
    fixes = {a.id: af.ranges[0].events[-1][1] for a, af in wolfi["binutils"]}
    assert fixes["CVE-2022-38126"] == "2.39-r1"
    ((coreutils, never),) = wolfi["coreutils"]
    assert coreutils.id == "CVE-2016-2781" and never.not_affected
    bind = db.advisories_for("Chainguard", ["bind"])["bind"]
    assert any(a.id == "CVE-2022-2795" for a, _ in bind)


def test_real_kev_and_epss(db: VulnDB) -> None:
    assert db.kev(["CVE-2021-44228"])["CVE-2021-44228"]["knownRansomwareCampaignUse"] == "Known"
    assert db.epss(["CVE-2023-43804"]) == {"CVE-2023-43804": (0.00215, 0.59478)}


def test_real_import_records_provenance_and_counts(db: VulnDB, mirror: Path) -> None:
    status = db.status()
    names = {s.name: s for s in status.sources}
    assert names["osv/PyPI"].records == 2661
    assert names["osv/PyPI"].skipped == 1
    assert names["alpine/v3.20/main"].location == str(
        (mirror / "alpine/v3.20/main.json").absolute()
    )
    real = (mirror / "alpine/v3.20/main.json").resolve().read_bytes()
    assert names["alpine/v3.20/main"].sha256 == hashlib.sha256(real).hexdigest()
    assert names["kev"].records == 3 and names["epss"].records == 5
    assert status.built_at == BUILT
    assert {"Alpine:v3.20", "Alpine:v3.3", "PyPI", "Debian:12", "Wolfi", "Chainguard"} <= set(
        status.counts
    )
    assert status.feeds["osv"] == 2663


def test_update_twice_gives_the_same_content(mirror: Path, real_db: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.sqlite"
    update_db(db_path=again, from_dir=mirror, now=BUILT + timedelta(hours=1))
    update_db(db_path=again, from_dir=mirror, now=BUILT + timedelta(hours=2))
    assert content(again) == content(real_db)


def test_failing_feed_leaves_the_old_database_and_no_temp_files(
    tmp_path: Path, mirror: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_dir = tmp_path / "db"
    target = db_dir / "vulndb.sqlite"
    small = tmp_path / "small"
    (small / "osv" / "PyPI").mkdir(parents=True)
    (small / "osv" / "PyPI" / "A-1.json").write_text(json.dumps(osv_record("A-1", "a")))
    update_db(db_path=target, from_dir=small, now=BUILT)
    before = target.read_bytes()

    original = OsvFeed._record
    calls = {"n": 0}

    def explode(self: OsvFeed, data: bytes, where: str) -> Iterator[Any]:
        calls["n"] += 1
        if calls["n"] > 1000:
            raise RuntimeError("disk on fire")
        yield from original(self, data, where)

    monkeypatch.setattr(OsvFeed, "_record", explode)
    with pytest.raises(RuntimeError, match="disk on fire"):
        update_db(db_path=target, from_dir=mirror)
    assert calls["n"] > 1000  # it failed mid-import, not before
    assert target.read_bytes() == before
    assert sorted(p.name for p in db_dir.iterdir()) == ["vulndb.sqlite"]


def test_broken_source_fails_the_update_and_names_it(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    good = tmp_path / "good"
    (good / "osv" / "PyPI").mkdir(parents=True)
    (good / "osv" / "PyPI" / "A-1.json").write_text(json.dumps(osv_record("A-1", "a")))
    update_db(db_path=db_dir / "vulndb.sqlite", from_dir=good, now=BUILT)
    before = (db_dir / "vulndb.sqlite").read_bytes()
    bad = tmp_path / "bad"
    zip_path = write_zip(bad / "osv" / "npm" / "all.zip", {"B-1.json": osv_record("B-1", "b")})
    zip_path.write_bytes(zip_path.read_bytes()[:40])
    with pytest.raises(VulnDbError, match=r"all\.zip"):
        update_db(db_path=db_dir / "vulndb.sqlite", from_dir=bad)
    assert (db_dir / "vulndb.sqlite").read_bytes() == before
    assert sorted(p.name for p in db_dir.iterdir()) == ["vulndb.sqlite"]


def test_only_rebuilds_the_chosen_feeds_and_keeps_the_rest(tmp_path: Path, real_db: Path) -> None:
    target = tmp_path / "vulndb.sqlite"
    target.write_bytes(real_db.read_bytes())
    newer = tmp_path / "newer"
    newer.mkdir()
    (newer / "kev.json").write_text(
        json.dumps({"vulnerabilities": [{"cveID": "CVE-2099-0001", "dateAdded": "2099-01-01"}]})
    )
    result = update_db(db_path=target, from_dir=newer, only=["kev"], now=BUILT)
    assert "osv" in result.kept and "alpine" in result.kept
    with VulnDB.open(target) as db:
        assert db.kev(["CVE-2099-0001", "CVE-2021-44228"]).keys() == {"CVE-2099-0001"}
        assert db.advisories_for("PyPI", ["urllib3"])["urllib3"]
        assert db.epss(["CVE-2021-44228"])
        assert db.status().advisories == VulnDB.open(real_db).status().advisories


def test_unknown_only_and_conflicting_options_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown source nvd"):
        update_db(db_path=tmp_path / "x", from_dir=tmp_path, only=["osv,nvd"])
    with pytest.raises(UsageError):
        update_db(db_path=tmp_path / "x", from_dir=tmp_path, mirror="http://x")
    with pytest.raises(UsageError, match="http"):
        update_db(db_path=tmp_path / "x", mirror="/srv/mirror")


def test_empty_directory_is_an_error_pointing_at_the_layout(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="no feed files") as caught:
        update_db(db_path=tmp_path / "db" / "v.sqlite", from_dir=tmp_path)
    assert caught.value.hint and "osv/<Ecosystem>/all.zip" in caught.value.hint


def test_stale_temp_files_of_a_killed_build_are_cleaned(tmp_path: Path) -> None:
    db_dir = tmp_path / "db"
    db_dir.mkdir()
    old = db_dir / ".vulndb-build-abc.tmp"
    old.write_text("half a database")
    fresh = db_dir / ".vulndb-build-def.tmp"
    fresh.write_text("a build running now")
    os.utime(old, (0, 0))
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    update_db(db_path=db_dir / "vulndb.sqlite", from_dir=small)
    assert not old.exists() and fresh.exists()


# -- a real HTTP mirror ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_tree(mirror, tmp_path_factory.mktemp("served") / "mirror")
    gz = root / "epss.csv.gz"
    gz.write_bytes(gzip.compress((root / "epss.csv").read_bytes()))
    (root / "epss.csv").unlink()
    return root


def test_mirror_with_index_gives_the_same_database_as_the_directory(
    served: Path, real_db: Path, tmp_path: Path
) -> None:
    sources.write_index(served)
    try:
        with serve(served) as (url, requests):
            result = update_db(db_path=tmp_path / "v.sqlite", mirror=url + "/", now=BUILT)
        assert "/index.txt" in requests
        assert not any("v3.0/" in r for r in requests)  # nothing probed
    finally:
        (served / "index.txt").unlink()
    served_db = content(tmp_path / "v.sqlite", locations=False)
    local_db = content(real_db, locations=False)
    # the mirror serves epss.csv.gz where the directory has epss.csv: same rows, other hash
    assert [r for r in served_db if r[:1] != ("epss",)] == [
        r for r in local_db if r[:1] != ("epss",)
    ]
    with VulnDB.open(tmp_path / "v.sqlite") as db:
        status = db.status()
    names = {s.name: s for s in status.sources}
    assert names["osv/PyPI"].location == f"{url}/osv/PyPI/"
    assert names["alpine/v3.20/main"].location == f"{url}/alpine/v3.20/main.json"
    assert names["epss"].records == 5
    assert result.advisories == status.advisories


def test_mirror_without_index_is_probed(served: Path, real_db: Path, tmp_path: Path) -> None:
    with serve(served) as (url, requests):
        update_db(db_path=tmp_path / "v.sqlite", mirror=url, only=["alpine", "kev"], now=BUILT)
    assert "/alpine/v3.0/main.json" in requests  # probed, 404, skipped
    assert not any(r.startswith("/osv/") for r in requests)  # --only limits the probing
    with VulnDB.open(tmp_path / "v.sqlite") as db:
        status = db.status()
        assert {s.feed for s in status.sources} == {"alpine", "kev"}
        assert db.advisories_for("Alpine:v3.20", ["openssl"])["openssl"]


def test_mirror_file_that_does_not_match_its_index_is_refused(served: Path, tmp_path: Path) -> None:
    target = tmp_path / "db" / "vulndb.sqlite"
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    update_db(db_path=target, from_dir=small, now=BUILT)
    before = target.read_bytes()
    (served / "index.txt").write_text(f"{'0' * 64}  kev.json\n")
    try:
        with (
            serve(served) as (url, _),
            pytest.raises(VulnDbError, match="does not match its sha256"),
        ):
            update_db(db_path=target, mirror=url)
    finally:
        (served / "index.txt").unlink()
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["vulndb.sqlite"]


def test_mirror_index_may_not_point_outside(served: Path, tmp_path: Path) -> None:
    (served / "index.txt").write_text("../../etc/passwd\n")
    try:
        with serve(served) as (url, _), pytest.raises(VulnDbError, match="outside the mirror"):
            update_db(db_path=tmp_path / "v.sqlite", mirror=url)
    finally:
        (served / "index.txt").unlink()


def test_unreachable_mirror_is_a_clear_error(tmp_path: Path) -> None:
    with serve(tmp_path) as (url, _):
        pass  # the server is gone; its port is closed
    with pytest.raises(VulnDbError, match="cannot reach the mirror") as caught:
        update_db(db_path=tmp_path / "db" / "v.sqlite", mirror=url)
    assert caught.value.hint


def test_default_sources_use_the_public_urls() -> None:
    urls = {r.path: r.url for r in sources.default_remotes()}
    assert urls["osv/PyPI/all.zip"] == (
        "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
    )
    assert urls["alpine/v3.20/main.json"] == "https://secdb.alpinelinux.org/v3.20/main.json"
    assert urls["wolfi/security.json"] == "https://packages.wolfi.dev/os/security.json"
    assert urls["chainguard/security.json"] == "https://packages.cgr.dev/chainguard/security.json"
    assert urls["debian/tracker.json"] == "https://security-tracker.debian.org/tracker/data/json"
    assert urls["kev.json"].endswith("/feeds/known_exploited_vulnerabilities.json")
    assert urls["epss.csv.gz"] == "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
    assert {r.path for r in sources.default_remotes({"kev"})} == {"kev.json"}
    assert all(sources.is_layout_path(p) for p in urls)


# -- export / import -------------------------------------------------------------------------


def test_export_import_round_trip(real_db: Path, tmp_path: Path) -> None:
    exported = tmp_path / "vulndb.tar.gz"
    manifest = export_db(exported, db_path=real_db)
    assert manifest["sha256"] == hashlib.sha256(real_db.read_bytes()).hexdigest()
    assert manifest["built_at"] == "2025-06-01T12:00:00Z"
    with tarfile.open(exported) as archive:
        assert archive.getnames() == ["manifest.json", "vulndb.sqlite"]
    target = tmp_path / "elsewhere" / "vulndb.sqlite"
    import_db(exported, db_path=target)
    assert target.read_bytes() == real_db.read_bytes()
    with VulnDB.open(target) as db:
        assert db.status().built_at == BUILT


def _rewrite(src: Path, dest: Path, change: Any) -> Path:
    members: list[tuple[tarfile.TarInfo, bytes]] = []
    with tarfile.open(src) as archive:
        for member in archive:
            stream = archive.extractfile(member)
            assert stream is not None
            members.append((member, stream.read()))
    members = change(members)
    with tarfile.open(dest, "w:gz") as archive:
        for member, data in members:
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return dest


def _flip_byte(members: list[tuple[tarfile.TarInfo, bytes]]) -> list[tuple[tarfile.TarInfo, bytes]]:
    info, data = members[1]
    middle = len(data) // 2
    return [members[0], (info, data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])]


def _extra_member(
    members: list[tuple[tarfile.TarInfo, bytes]],
) -> list[tuple[tarfile.TarInfo, bytes]]:
    return [*members, (tarfile.TarInfo("../evil"), b"x")]


def _no_manifest(
    members: list[tuple[tarfile.TarInfo, bytes]],
) -> list[tuple[tarfile.TarInfo, bytes]]:
    return members[1:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_flip_byte, "checksum mismatch"),
        (_extra_member, "unexpected member"),
        (_no_manifest, "unexpected member 'vulndb.sqlite'"),
    ],
)
def test_tampered_export_is_refused_and_the_database_kept(
    real_db: Path, tmp_path: Path, change: Any, message: str
) -> None:
    exported = tmp_path / "good.tar.gz"
    export_db(exported, db_path=real_db)
    bad = _rewrite(exported, tmp_path / "bad.tar.gz", change)
    target = tmp_path / "db" / "vulndb.sqlite"
    target.parent.mkdir()
    target.write_bytes(b"the current database")
    with pytest.raises(VulnDbError, match=message) as caught:
        import_db(bad, db_path=target)
    assert "bad.tar.gz" in caught.value.message
    assert target.read_bytes() == b"the current database"
    assert sorted(p.name for p in target.parent.iterdir()) == ["vulndb.sqlite"]


def test_import_of_something_else_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.tar.gz"
    other.write_bytes(gzip.compress(b"not a tar at all" * 100))
    with pytest.raises(VulnDbError, match="not a readable export"):
        import_db(other, db_path=tmp_path / "v.sqlite")
    with pytest.raises(VulnDbError, match="does not exist"):
        import_db(tmp_path / "absent.tar.gz", db_path=tmp_path / "v.sqlite")


# -- the command line ----------------------------------------------------------------------


def baseguard(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Builds a database from a mirror: more time than run_baseguard's default."""
    return run_baseguard(*args, env=env, timeout=300)


def test_cli_update_status_export_import(mirror: Path, tmp_path: Path) -> None:
    env = {"BASEGUARD_VULNDB": str(tmp_path / "db" / "vulndb.sqlite")}
    result = baseguard("db", "update", "--from", str(mirror), "--only", "alpine,kev", env=env)
    assert result.returncode == 0, result.stderr
    assert "built" in result.stderr and "advisories from" in result.stderr
    assert "warning: alpine/v3.6/main: skipped 1 malformed record" in result.stderr
    status = baseguard("db", "status", "-o", "json", env=env)
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["stale"] is False and doc["feeds"]["kev"] == 3
    assert doc["ecosystems"]["Alpine:v3.20"] > 100
    table = baseguard("db", "status", "-o", "table", env=env)
    assert "Alpine:v3.20" in table.stdout and "advisories" in table.stdout
    exported = tmp_path / "out.tar.gz"
    assert baseguard("-q", "db", "export", str(exported), env=env).returncode == 0
    other = {"BASEGUARD_VULNDB": str(tmp_path / "other" / "vulndb.sqlite")}
    imported = baseguard("db", "import", str(exported), env=other)
    assert imported.returncode == 0, imported.stderr
    assert (
        json.loads(baseguard("db", "status", "-o", "json", env=other).stdout)["advisories"]
        == doc["advisories"]
    )


def test_cli_status_warns_when_stale_and_errors_when_missing(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    path = tmp_path / "db" / "vulndb.sqlite"
    update_db(db_path=path, from_dir=small, now=datetime.now(UTC) - timedelta(days=10))
    result = baseguard("db", "status", "-o", "json", "--db", str(path))
    assert result.returncode == 0
    assert "warning: the vulnerability database is 10 days old" in result.stderr
    table = baseguard("db", "status", "-o", "table", "--db", str(path)).stdout
    assert "(10 days ago)" in table
    # the same decimal units as the image sizes of `scan` and `assess`
    assert re.search(r"^size +\d+\.\d (kB|MB), schema ", table, re.MULTILINE), table
    missing = baseguard("db", "status", "--db", str(tmp_path / "none.sqlite"))
    assert missing.returncode == 2
    assert "no vulnerability database at" in missing.stderr
    assert "baseguard db update" in missing.stderr


def test_cli_import_of_tampered_file_exits_2(real_db: Path, tmp_path: Path) -> None:
    exported = tmp_path / "good.tar.gz"
    export_db(exported, db_path=real_db)
    bad = _rewrite(exported, tmp_path / "bad.tar.gz", _flip_byte)
    result = baseguard("db", "import", str(bad), "--db", str(tmp_path / "v.sqlite"))
    assert result.returncode == 2
    assert "checksum mismatch" in result.stderr
    assert not (tmp_path / "v.sqlite").exists()


def test_cli_import_into_a_directory_exits_2_and_leaves_nothing(
    real_db: Path, tmp_path: Path
) -> None:
    exported = tmp_path / "good.tar.gz"
    export_db(exported, db_path=real_db)
    target = tmp_path / "dbdir"
    target.mkdir()
    result = baseguard("db", "import", str(exported), "--db", str(target))
    assert result.returncode == 2, result.stderr
    assert "internal error" not in result.stderr
    assert f"cannot install the database at {target}: it is a directory" in result.stderr
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dbdir", "good.tar.gz"]


def test_import_of_a_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(VulnDbError, match="is a directory, not an export file"):
        import_db(tmp_path, db_path=tmp_path / "v.sqlite")


def test_import_that_cannot_be_moved_into_place_is_a_vulndb_error(
    real_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = tmp_path / "good.tar.gz"
    export_db(exported, db_path=real_db)
    target = tmp_path / "db" / "vulndb.sqlite"

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(VulnDbError, match="No space left on device"):
        import_db(exported, db_path=target)
    assert list(target.parent.iterdir()) == []


def test_cli_mirror_index_writes_sha256sums(mirror: Path, tmp_path: Path) -> None:
    root = copy_tree(mirror, tmp_path / "m")
    result = baseguard("db", "mirror-index", str(root))
    assert result.returncode == 0, result.stderr
    lines = (root / "index.txt").read_text().splitlines()
    kev = next(line for line in lines if line.endswith("  kev.json"))
    assert kev.split()[0] == hashlib.sha256((root / "kev.json").read_bytes()).hexdigest()
    assert any(
        line.endswith("osv/PyPI/" + next((root / "osv/PyPI").glob("*.tar.gz")).name)
        for line in lines
    )


def test_default_update_downloads_the_public_layout(
    served: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(served) as (url, requests):

        def local_remotes(only: set[str] | None = None) -> list[sources.Remote]:
            remotes = [
                sources.Remote("alpine/v3.20/main.json", f"{url}/alpine/v3.20/main.json", True),
                sources.Remote("alpine/v3.99/main.json", f"{url}/alpine/v3.99/main.json", True),
                sources.Remote("kev.json", f"{url}/kev.json"),
            ]
            return [r for r in remotes if only is None or sources.feed_of(r.path) in only]

        monkeypatch.setattr(sources, "default_remotes", local_remotes)
        result = update_db(db_path=tmp_path / "db" / "v.sqlite", now=BUILT)
    assert "/alpine/v3.99/main.json" in requests  # optional and absent: skipped
    assert [s.name for s in result.sources] == ["alpine/v3.20/main", "kev"]
    assert result.sources[0].location == f"{url}/alpine/v3.20/main.json"
    assert sorted(p.name for p in (tmp_path / "db").iterdir()) == ["v.sqlite"]  # no downloads left


def test_default_update_fails_on_a_missing_required_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(tmp_path) as (url, _):
        monkeypatch.setattr(
            sources,
            "default_remotes",
            lambda only=None: [sources.Remote("kev.json", f"{url}/kev.json")],
        )
        with pytest.raises(VulnDbError, match="HTTP 404") as caught:
            update_db(db_path=tmp_path / "db" / "v.sqlite")
    assert f"{url}/kev.json" in caught.value.message
    assert sorted(p.name for p in (tmp_path / "db").iterdir()) == []


def test_alpine_yaml_is_read_when_there_is_no_json(tmp_path: Path) -> None:
    from tests.conftest import realdata_path

    yaml_file = realdata_path("feeds", "alpine-secdb", "v3.9", "main.yaml")
    (tmp_path / "m" / "alpine" / "v3.9").mkdir(parents=True)
    (tmp_path / "m" / "alpine" / "v3.9" / "main.yaml").write_bytes(yaml_file.read_bytes())
    found = sources.discover(tmp_path / "m")
    assert [(s.name, s.path.name) for s in found] == [("alpine/v3.9/main", "main.yaml")]
    update_db(db_path=tmp_path / "v.sqlite", from_dir=tmp_path / "m")
    with VulnDB.open(tmp_path / "v.sqlite") as db:
        assert db.advisories_for("Alpine:v3.9", ["xen"])["xen"]


def test_cli_update_from_one_source_says_one_source(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    path = tmp_path / "db" / "vulndb.sqlite"
    result = baseguard("db", "update", "--from", str(small), "--db", str(path))
    assert result.returncode == 0, result.stderr
    assert " from 1 source in " in result.stderr


def test_cli_status_of_a_directory_says_it_is_a_directory(tmp_path: Path) -> None:
    result = baseguard("db", "status", "--db", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} is a directory, not a vulnerability database" in result.stderr
    assert "no vulnerability database at" not in result.stderr


def test_cli_mirror_index_of_a_missing_directory_says_it_does_not_exist(tmp_path: Path) -> None:
    result = baseguard("db", "mirror-index", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert f"{tmp_path / 'nope'} does not exist" in result.stderr
    assert "holds no files" not in result.stderr
    assert not (tmp_path / "nope").exists()


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_export_and_import_write_files_like_update_does(
    real_db: Path, tmp_path: Path, umask: int
) -> None:
    old = os.umask(umask)
    try:
        exported = tmp_path / "vulndb.tar.gz"
        export_db(exported, db_path=real_db)
        target = tmp_path / "db" / "vulndb.sqlite"
        import_db(exported, db_path=target)
        built = tmp_path / "built" / "vulndb.sqlite"
        small = tmp_path / "small"
        small.mkdir()
        (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
        update_db(db_path=built, from_dir=small, now=BUILT)
    finally:
        os.umask(old)
    want = 0o644 & ~umask
    assert built.stat().st_mode & 0o777 == want
    assert exported.stat().st_mode & 0o777 == want
    assert target.stat().st_mode & 0o777 == want


def test_update_without_only_names_the_feeds_it_drops(real_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "vulndb.sqlite"
    target.write_bytes(real_db.read_bytes())
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    result = update_db(db_path=target, from_dir=small, now=BUILT)
    assert {"osv", "alpine", "debian"} <= set(result.dropped)
    assert "kev" not in result.dropped
    again = update_db(db_path=target, from_dir=small, now=BUILT)
    assert again.dropped == []


def test_cli_update_without_only_warns_about_dropped_feeds(real_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "vulndb.sqlite"
    target.write_bytes(real_db.read_bytes())
    small = tmp_path / "small"
    small.mkdir()
    (small / "kev.json").write_text(json.dumps({"vulnerabilities": []}))
    result = baseguard("db", "update", "--from", str(small), "--db", str(target))
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert re.search(r"warning: [a-z, ]*alpine[a-z, ]*: in the previous database but not in", said)
    assert "use --only FEED" in said
    kept = baseguard("db", "update", "--from", str(small), "--db", str(target), "--only", "kev")
    assert "warning" not in kept.stderr
