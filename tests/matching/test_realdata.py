"""Correctness against real feeds and real package databases.

* Alpine 3.10.9 and 3.20.3 minirootfs against the secdb ``main.json`` files: exactly the
  issues whose fixed version is above the installed version of the package's origin, none of
  those listed under "0". The expected set is computed here with a small apk version
  comparison of its own (cross-checked against the versions module for every pair used).
* PyPI: pinned vulnerable packages against the PyPA advisory database's OSV records.
* Debian: the bookworm minbase dpkg status against the security tracker's JSON fixtures.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baseguard.analysis.analyze import Analysis, analyze
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, make_purl
from baseguard.matching.findings import ScanResult
from baseguard.matching.matcher import match
from baseguard.vulndb import versions
from baseguard.vulndb.feeds.base import Source
from baseguard.vulndb.feeds.debian import DebianTrackerFeed
from baseguard.vulndb.feeds.osv import OsvFeed
from baseguard.vulndb.feeds.secdb import AlpineSecdbFeed
from baseguard.vulndb.model import Advisory
from baseguard.vulndb.store import DbBuilder, VulnDB
from tests.conftest import realdata_path
from tests.matching.helpers import analysis, lang

pytestmark = pytest.mark.realdata
BUILT = datetime(2026, 1, 1, tzinfo=UTC)


def build(path: Path, feeds: list[tuple[str, Iterator[Advisory]]]) -> VulnDB:
    with DbBuilder(path) as builder:
        for feed, advisories in feeds:
            builder.add_advisories(feed, advisories)
        builder.commit(BUILT)
    return VulnDB.open(path)


# -- Alpine ----------------------------------------------------------------------------------

_APK = re.compile(
    r"^(?P<main>[0-9][0-9.]*)(?P<letter>[a-z]?)(?:_(?P<suf>[a-z]+)(?P<sufn>\d*))?-r(?P<rel>\d+)$"
)
_SUFFIX_ORDER = {"alpha": -4, "beta": -3, "pre": -2, "rc": -1}


def apk_key(version: str) -> tuple[object, ...]:
    """A sort key for the apk versions in these files (``1.1.1k-r0``, ``1.2.2_pre2-r0``)."""
    m = _APK.match(version)
    assert m, f"the test's own apk comparison does not handle {version!r}"
    numbers = tuple(int(x) for x in m.group("main").split("."))
    suffix = (
        (_SUFFIX_ORDER[m.group("suf")], int(m.group("sufn") or 0)) if m.group("suf") else (0, 0)
    )
    return (numbers, m.group("letter"), suffix, int(m.group("rel")))


def installed_from_tarball(tarball: Path) -> list[tuple[str, str, str]]:
    """(name, version, origin) from lib/apk/db/installed, read straight from the tarball."""
    with tarfile.open(tarball) as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "lib/apk/db/installed")
        fh = tar.extractfile(member)
        assert fh is not None
        text = fh.read().decode()
    out = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        out.append((fields["P"], fields["V"], fields.get("o", fields["P"])))
    return out


def expected_alpine(secdb: Path, installed: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """(binary package, issue id) pairs the scan must report."""
    doc = json.loads(secdb.read_text())
    secfixes = {p["pkg"]["name"]: p["pkg"]["secfixes"] for p in doc["packages"]}
    expected: set[tuple[str, str]] = set()
    for name, version, origin in installed:
        fixes = secfixes.get(origin, {})
        never = set(fixes.get("0", []))
        for fixed, ids in fixes.items():
            if fixed == "0":
                continue
            mine = apk_key(fixed) > apk_key(version)
            theirs = versions.compare("apk", fixed, version) > 0
            assert mine == theirs, f"apk comparison disagrees on {fixed} vs {version}"
            if mine:
                expected.update((name, i) for i in ids if i not in never)
    return expected


@pytest.mark.parametrize(
    ("tarball", "release"),
    [
        ("alpine-minirootfs-3.10.9-x86_64.tar.gz", "v3.10"),
        ("alpine-minirootfs-3.20.3-x86_64.tar.gz", "v3.20"),
    ],
)
def test_alpine_minirootfs_reports_exactly_the_unfixed_secdb_issues(
    tmp_path: Path, tarball: str, release: str
) -> None:
    image = realdata_path("images", "alpine-minirootfs", tarball)
    secdb = realdata_path("feeds", "alpine-secdb-current", release, "main.json")
    installed = installed_from_tarball(image)
    result_analysis = analyze(str(image))
    if not result_analysis.packages:  # the apk cataloger not there yet: packages by hand
        result_analysis.packages = [
            Package(n, v, "apk", make_purl("apk", n, v, namespace="alpine"), o, v)
            for n, v, o in installed
        ]
    assert sorted((p.name, p.version, p.source_name) for p in result_analysis.packages) == sorted(
        installed
    )
    feed = AlpineSecdbFeed()
    db = build(
        tmp_path / "db.sqlite",
        [
            (
                feed.name,
                feed.iter_advisories(Source("alpine", f"alpine/{release}/main", secdb, str(secdb))),
            )
        ],
    )
    with db:
        result = match(result_analysis, db)
    reported = {(f.package.name, f.id) for f in result.findings}
    expected = expected_alpine(secdb, installed)
    assert reported == expected
    assert result.warnings == []
    doc = json.loads(secdb.read_text())
    never = {i for p in doc["packages"] for i in p["pkg"]["secfixes"].get("0", [])}
    assert not {i for _, i in reported} & never
    for finding in result.findings:
        [source] = finding.sources
        assert source.range == f"introduced 0, fixed {finding.fixed_versions[0]}"
    print(
        f"\n{tarball}: expected {len({i for _, i in expected})} issues "
        f"({len(expected)} package findings); reported {len({i for _, i in reported})} "
        f"({len(result.findings)})"
    )


def test_alpine_counts_are_pinned(tmp_path: Path) -> None:
    """The numbers in the project's notes, with the secdb snapshot in ../shared/realdata:
    27 CVEs / 56 package findings on 3.20.3 (openssl, busybox, musl; libssl3 and libcrypto3
    both carry openssl's), 1 / 1 on 3.10.9 (apk-tools CVE-2021-36159; 3.10.9 is the last
    3.10 release, so almost everything listed is fixed in it)."""
    for tarball, release, issues, findings in (
        ("alpine-minirootfs-3.20.3-x86_64.tar.gz", "v3.20", 27, 56),
        ("alpine-minirootfs-3.10.9-x86_64.tar.gz", "v3.10", 1, 1),
    ):
        image = realdata_path("images", "alpine-minirootfs", tarball)
        secdb = realdata_path("feeds", "alpine-secdb-current", release, "main.json")
        expected = expected_alpine(secdb, installed_from_tarball(image))
        assert (len({i for _, i in expected}), len(expected)) == (issues, findings)
        assert all(i.startswith("CVE-") for _, i in expected)


# -- PyPI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pypi_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    root = realdata_path("feeds", "osv-pypi", "sample", "vulns")
    feed = OsvFeed()
    db = build(
        tmp_path_factory.mktemp("pypi") / "db.sqlite",
        [(feed.name, feed.iter_advisories(Source("osv", "osv/PyPI", root, str(root))))],
    )
    yield db
    db.close()


def scan_pypi(db: VulnDB, *pins: tuple[str, str]) -> ScanResult:
    return match(analysis([lang("pypi", n, v) for n, v in pins], Distro(variant="scratch")), db)


def test_pypi_jinja2_2_10_has_the_sandbox_escape_fixed_in_2_10_1(pypi_db: VulnDB) -> None:
    result = scan_pypi(pypi_db, ("Jinja2", "2.10"))
    by_id = {f.id: f for f in result.findings}
    finding = by_id["CVE-2019-10906"]
    assert finding.fixed_versions == ["2.10.1"]
    assert "PYSEC-2019-217" in finding.aliases
    assert finding.sources[0].range == "introduced 0, fixed 2.10.1"
    assert result.warnings == []


def test_pypi_requests_2_19_0_is_affected_by_the_auth_header_leak(pypi_db: VulnDB) -> None:
    result = scan_pypi(pypi_db, ("requests", "2.19.0"))
    ids = {f.id for f in result.findings}
    assert "CVE-2018-18074" in ids  # PYSEC-2018-28, fixed in 2.20.0
    assert all(f.package.name == "requests" for f in result.findings)


def test_pypi_every_reported_record_contains_the_installed_version(pypi_db: VulnDB) -> None:
    root = realdata_path("feeds", "osv-pypi", "sample", "vulns")
    pins = [("jinja2", "2.10"), ("requests", "2.19.0"), ("urllib3", "1.24.1"), ("pyyaml", "5.3")]
    result = scan_pypi(pypi_db, *pins)
    # Independently: the PYSEC ids whose ECOSYSTEM range or versions list holds the pin.
    import yaml

    expected: set[tuple[str, str]] = set()
    for name, version in pins:
        for record in (root / name).glob("*.yaml"):
            doc = yaml.safe_load(record.read_text())
            for aff in doc["affected"]:
                listed = version in (aff.get("versions") or [])
                if listed or any(
                    versions.is_affected("pypi", version, _affected(aff, r))
                    for r in aff.get("ranges") or []
                    if r["type"] == "ECOSYSTEM"
                ):
                    expected.add((name, doc["id"]))
    reported = {(f.package.name, s.advisory_id) for f in result.findings for s in f.sources}
    assert reported == expected
    assert len(expected) >= 10


def _affected(aff: dict[str, object], rng: dict[str, object]) -> object:
    from baseguard.vulndb.model import Affected, Range

    events = [(k, str(v)) for e in rng["events"] for k, v in e.items()]  # type: ignore[attr-defined]
    return Affected("PyPI", "x", ranges=[Range("ECOSYSTEM", events)])


def test_pypi_fixed_pins_report_nothing(pypi_db: VulnDB) -> None:
    result = scan_pypi(pypi_db, ("jinja2", "3.1.4"), ("requests", "2.32.3"))
    assert result.findings == []


# -- Debian ----------------------------------------------------------------------------------


def dpkg_packages(status: Path) -> list[Package]:
    packages = []
    for block in status.read_text().strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        name, version = fields["Package"], fields["Version"]
        source, source_version = name, version
        if "Source" in fields:
            m = re.match(r"(\S+)(?:\s+\((.+)\))?", fields["Source"])
            assert m
            source, source_version = m.group(1), m.group(2) or version
        packages.append(
            Package(
                name,
                version,
                "deb",
                make_purl("deb", name, version, namespace="debian"),
                source,
                source_version,
                locations=["/var/lib/dpkg/status"],
            )
        )
    return packages


@pytest.fixture(scope="module")
def debian_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VulnDB]:
    tracker = realdata_path(
        "feeds",
        "fixtures",
        "osv.dev",
        "vulnfeeds",
        "test_data",
        "debian",
        "debian_security_tracker_mock.json",
    )
    feed = DebianTrackerFeed()
    db = build(
        tmp_path_factory.mktemp("debian") / "db.sqlite",
        [
            (
                feed.name,
                feed.iter_advisories(Source("debian", "debian/tracker", tracker, str(tracker))),
            )
        ],
    )
    yield db
    db.close()


@pytest.fixture(scope="module")
def bookworm_root(tmp_path_factory: pytest.TempPathFactory) -> Analysis:
    """The minbase root's dpkg status and os-release, analysed by the real dpkg cataloger."""
    status = realdata_path("debian", "bookworm-minbase-dpkg-status")
    root = tmp_path_factory.mktemp("bookworm")
    (root / "var" / "lib" / "dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var" / "lib" / "dpkg" / "status").write_bytes(status.read_bytes())
    os_release = realdata_path("debian", "bookworm-os-release")
    (root / "etc" / "os-release").write_bytes(os_release.read_bytes())
    result = analyze(f"dir:{root}")
    assert result.distro.id == "debian" and result.distro.version_id == "12"
    if not result.packages:  # the dpkg cataloger not there yet: packages by hand
        result.packages = dpkg_packages(status)
    assert sorted((p.name, p.source_name, p.source_version) for p in result.packages) == sorted(
        (p.name, p.source_name, p.source_version) for p in dpkg_packages(status)
    )
    return result


def bookworm(root: Analysis, extra: list[Package]) -> Analysis:
    return analysis([*root.packages, *extra], root.distro)


def test_debian_tracker_open_issue_is_reported_without_a_fix(
    debian_db: VulnDB, bookworm_root: Analysis
) -> None:
    apparmor = Package(
        "apparmor",
        "3.0.8-3",
        "deb",
        make_purl("deb", "apparmor", "3.0.8-3", namespace="debian"),
        "apparmor",
        "3.0.8-3",
    )
    result = match(bookworm(bookworm_root, [apparmor]), debian_db)
    found = {f.id: f for f in result.findings}
    # CVE-2016-1585: open in bookworm. CVE-2017-6507: fixed in 2.11.0-3 (below 3.0.8-3).
    # CVE-2014-1424: fixed_version "0" (never affected).
    assert set(found) == {"CVE-2016-1585"}
    assert found["CVE-2016-1585"].state == "not-fixed"
    assert found["CVE-2016-1585"].severity == "NEGLIGIBLE"  # tracker urgency "unimportant"
    assert result.ecosystems == {"Debian:12": 89}
    assert result.warnings == []


def test_debian_minbase_alone_has_no_finding_in_the_fixture(
    debian_db: VulnDB, bookworm_root: Analysis
) -> None:
    result = match(bookworm(bookworm_root, []), debian_db)
    assert result.findings == [] and result.warnings == []


def test_debian_tracker_fixture_of_vunnel_matches_by_release(tmp_path: Path) -> None:
    tracker = realdata_path(
        "feeds",
        "fixtures",
        "vunnel",
        "tests",
        "unit",
        "providers",
        "debian",
        "test-fixtures",
        "input",
        "debian.json",
    )
    feed = DebianTrackerFeed()
    with build(
        tmp_path / "db.sqlite",
        [
            (
                feed.name,
                feed.iter_advisories(Source("debian", "debian/tracker", tracker, str(tracker))),
            )
        ],
    ) as db:
        doc = json.loads(tracker.read_text())
        ecosystems = db.ecosystems()
        pkg = Package(
            "txt2man",
            "1.5.5-4",
            "deb",
            make_purl("deb", "txt2man", "1.5.5-4", namespace="debian"),
            "txt2man",
            "1.5.5-4",
        )
        checked = 0
        for release, number in (("stretch", "9"), ("buster", "10"), ("jessie", "8")):
            if f"Debian:{number}" not in ecosystems:
                continue
            checked += 1
            distro = Distro(id="debian", version_id=number, codename=release)
            result = match(analysis([pkg], distro), db)
            expected = {
                cve
                for cve, issue in doc["txt2man"].items()
                if (info := issue["releases"].get(release))
                and (
                    info.get("status") == "open"
                    or (
                        info.get("fixed_version") not in (None, "0")
                        and versions.compare("deb", info["fixed_version"], "1.5.5-4") > 0
                    )
                )
            }
            assert {f.id for f in result.findings} == expected, release
            assert expected, "the fixture should give txt2man at least one finding"
        assert checked >= 2
