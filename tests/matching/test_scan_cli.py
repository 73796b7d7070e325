"""`baseguard scan` as a user runs it: a real process, a real database file, real exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baseguard.analysis.distro import Distro
from tests.cli_runner import run_baseguard
from tests.conftest import realdata_path
from tests.matching.helpers import advisory, analysis, apk, build_db, lang


@pytest.fixture
def sbom(tmp_path: Path) -> Path:
    """baseguard's own JSON of an image with zlib (critical) and busybox (no fix) issues."""
    doc = analysis(
        [apk("zlib", "1.3.1-r1"), apk("busybox", "1.36.1-r29"), lang("pypi", "jinja2", "2.10")],
        Distro(id="alpine", version_id="3.20.3"),
    ).to_dict()
    path = tmp_path / "image.json"
    path.write_text(json.dumps(doc))
    return path


def make_db(tmp_path: Path, built: datetime | None = None) -> Path:
    return build_db(
        tmp_path / "vulndb.sqlite",
        [
            (
                "alpine",
                advisory(
                    "CVE-2024-0001",
                    "Alpine:v3.20",
                    "zlib",
                    fixed="1.3.1-r2",
                    source="alpine-secdb",
                    severity="CRITICAL",
                    score=9.8,
                ),
            ),
            ("alpine", advisory("CVE-2024-0002", "Alpine:v3.20", "busybox", severity="LOW")),
        ],
        built=built or datetime.now(UTC),
    )


def write_vex(tmp_path: Path, status: str = "not_affected") -> Path:
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex",
        "author": "us",
        "timestamp": "2024-06-01T00:00:00Z",
        "version": 1,
        "statements": [
            {
                "vulnerability": {"name": "CVE-2024-0001"},
                "products": [{"@id": "pkg:apk/alpine/zlib"}],
                "status": status,
                "justification": "vulnerable_code_not_in_execute_path",
            }
        ],
    }
    path = tmp_path / "vex.openvex.json"
    path.write_text(json.dumps(doc))
    return path


def test_fail_on_exits_1_when_a_critical_finding_remains(tmp_path: Path, sbom: Path) -> None:
    db = make_db(tmp_path)
    result = run_baseguard(
        "scan", str(sbom), "--db", str(db), "-o", "json", "--fail-on", "critical"
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert [f["id"] for f in doc["findings"]] == ["CVE-2024-0001", "CVE-2024-0002"]
    assert "1 finding(s) at or above critical" in result.stderr


def test_a_vex_suppressed_critical_no_longer_fails_the_gate(tmp_path: Path, sbom: Path) -> None:
    db = make_db(tmp_path)
    vex = write_vex(tmp_path)
    result = run_baseguard(
        "scan", str(sbom), "--db", str(db), "--vex", str(vex), "-o", "json", "--fail-on", "critical"
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [f["id"] for f in doc["findings"]] == ["CVE-2024-0002"]
    assert doc["suppressed"][0]["vex"]["status"] == "not_affected"


def test_an_affected_statement_keeps_the_gate_closed(tmp_path: Path, sbom: Path) -> None:
    db = make_db(tmp_path)
    vex = write_vex(tmp_path, status="affected")
    result = run_baseguard(
        "scan", str(sbom), "--db", str(db), "--vex", str(vex), "-o", "json", "--fail-on", "high"
    )
    assert result.returncode == 1


def test_fail_on_below_the_worst_severity_passes(tmp_path: Path, sbom: Path) -> None:
    db = make_db(tmp_path)
    vex = write_vex(tmp_path)
    result = run_baseguard(
        "scan", str(sbom), "--db", str(db), "--vex", str(vex), "-o", "json", "--fail-on", "medium"
    )
    assert result.returncode == 0


def test_only_fixed_hides_findings_without_a_fix(tmp_path: Path, sbom: Path) -> None:
    result = run_baseguard(
        "scan", str(sbom), "--db", str(make_db(tmp_path)), "-o", "json", "--only-fixed"
    )
    assert [f["id"] for f in json.loads(result.stdout)["findings"]] == ["CVE-2024-0001"]


def test_a_stale_database_warns_with_its_age_and_still_scans(tmp_path: Path, sbom: Path) -> None:
    db = make_db(tmp_path, built=datetime.now(UTC) - timedelta(days=30))
    result = run_baseguard("scan", str(sbom), "--db", str(db), "-o", "json")
    assert result.returncode == 0
    assert "the vulnerability database is 30 days old" in result.stderr
    assert len(json.loads(result.stdout)["findings"]) == 2


def test_missing_pypi_data_is_a_warning_on_stderr(tmp_path: Path, sbom: Path) -> None:
    result = run_baseguard("scan", str(sbom), "--db", str(make_db(tmp_path)), "-o", "json")
    assert "no vulnerability data for PyPI in the database; 1 pypi package was not matched" in (
        result.stderr
    )
    assert json.loads(result.stdout)["warnings"]


def test_a_missing_database_is_exit_2_with_a_hint(tmp_path: Path, sbom: Path) -> None:
    result = run_baseguard("scan", str(sbom), "--db", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2
    assert "no vulnerability database" in result.stderr
    assert "baseguard db update" in result.stderr


def test_a_malformed_vex_is_exit_2_naming_the_file(tmp_path: Path, sbom: Path) -> None:
    bad = tmp_path / "bad.vex.json"
    bad.write_text("{")
    result = run_baseguard("scan", str(sbom), "--db", str(make_db(tmp_path)), "--vex", str(bad))
    assert result.returncode == 2
    assert "bad.vex.json" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_format_is_exit_2(tmp_path: Path, sbom: Path) -> None:
    result = run_baseguard("scan", str(sbom), "--db", str(make_db(tmp_path)), "-o", "xml")
    assert result.returncode == 2
    assert "unknown output format 'xml'" in result.stderr


def test_sarif_is_written_to_a_file(tmp_path: Path, sbom: Path) -> None:
    out = tmp_path / "results.sarif"
    result = run_baseguard(
        "scan", str(sbom), "--db", str(make_db(tmp_path)), "-o", "sarif", "--file", str(out)
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert json.loads(out.read_text())["version"] == "2.1.0"


@pytest.mark.realdata
def test_scanning_a_real_image_archive(tmp_path: Path) -> None:
    from baseguard.vulndb.feeds.base import Source
    from baseguard.vulndb.feeds.secdb import AlpineSecdbFeed
    from baseguard.vulndb.store import DbBuilder

    image = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    secdb = realdata_path("feeds", "alpine-secdb-current", "v3.20", "main.json")
    db = tmp_path / "db.sqlite"
    feed = AlpineSecdbFeed()
    with DbBuilder(db) as builder:
        builder.add_advisories(
            feed.name,
            feed.iter_advisories(Source("alpine", "alpine/v3.20/main", secdb, str(secdb))),
        )
        builder.commit(datetime.now(UTC))
    result = run_baseguard("scan", str(image), "--db", str(db), "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert len(doc["findings"]) == 56
    assert doc["distro"]["id"] == "alpine"


@pytest.mark.realdata
def test_a_third_party_sbom_for_a_release_the_db_lacks_warns_by_name(tmp_path: Path) -> None:
    sbom = realdata_path("sbom", "osv-scanner", "alpine.cdx.xml")  # syft, Alpine 3.17.2
    result = run_baseguard("scan", str(sbom), "--db", str(make_db(tmp_path)), "-o", "json")
    assert result.returncode == 0, result.stderr
    assert (
        "no vulnerability data for alpine 3.17.2 (Alpine:v3.17) in the database; "
        "14 apk packages were not matched"
    ) in result.stderr
    doc = json.loads(result.stdout)
    assert doc["packagesScanned"] == 14 and doc["findings"] == []


@pytest.mark.realdata
def test_end_to_end_mirror_update_then_scan_with_kev_epss_and_vex(tmp_path: Path) -> None:
    """`db update --from` a mirror directory, then `scan` the real minirootfs with a VEX."""
    import shutil

    image = realdata_path("images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-x86_64.tar.gz")
    secdb = realdata_path("feeds", "alpine-secdb-current", "v3.20", "main.json")
    mirror = tmp_path / "mirror"
    (mirror / "alpine" / "v3.20").mkdir(parents=True)
    shutil.copy(secdb, mirror / "alpine" / "v3.20" / "main.json")
    (mirror / "kev.json").write_text(
        json.dumps(
            {
                "title": "CISA Catalog of Known Exploited Vulnerabilities",
                "catalogVersion": "2026.01.01",
                "count": 1,
                "vulnerabilities": [
                    {
                        "cveID": "CVE-2024-58251",
                        "vendorProject": "BusyBox",
                        "product": "BusyBox",
                        "vulnerabilityName": "test entry",
                        "dateAdded": "2025-06-01",
                        "dueDate": "2025-06-22",
                        "knownRansomwareCampaignUse": "Unknown",
                    }
                ],
            }
        )
    )
    (mirror / "epss.csv").write_text(
        "#model_version:v2025.03.14,score_date:2026-01-01T00:00:00Z\n"
        "cve,epss,percentile\nCVE-2024-58251,0.12345,0.95\n"
    )
    db = tmp_path / "vulndb.sqlite"
    update = run_baseguard("-q", "db", "update", "--from", str(mirror), "--db", str(db))
    assert update.returncode == 0, update.stderr

    vex = tmp_path / "busybox.openvex.json"
    vex.write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/busybox",
                "author": "platform team",
                "timestamp": "2026-01-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2025-46394"},
                        "products": [{"@id": "pkg:apk/alpine/busybox"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    result = run_baseguard("scan", str(image), "--db", str(db), "--vex", str(vex), "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    # 56 package findings for 3.20.3; the VEX takes busybox's CVE-2025-46394 (not
    # busybox-binsh's or ssl_client's: the statement names the busybox package only).
    assert len(doc["findings"]) == 55
    assert [(f["id"], f["package"]["name"]) for f in doc["suppressed"]] == [
        ("CVE-2025-46394", "busybox")
    ]
    kev = [f for f in doc["findings"] if f["kev"]]
    assert {f["package"]["name"] for f in kev} == {"busybox", "busybox-binsh", "ssl_client"}
    assert kev[0]["kev"]["dateAdded"] == "2025-06-01"
    assert kev[0]["epss"] == {"score": 0.12345, "percentile": 0.95}
