"""The matcher: why each finding matched, dedupe across sources, distro not-affected, warnings."""

from __future__ import annotations

from baseguard.analysis.distro import Distro
from baseguard.matching.findings import FIXED, NOT_FIXED
from baseguard.matching.matcher import match
from tests.matching.helpers import (
    ALPINE_320,
    DEBIAN_12,
    NOW,
    FakeDB,
    advisory,
    analysis,
    apk,
    deb,
    lang,
)


def test_reports_a_cve_whose_fix_is_above_the_installed_version_with_the_range() -> None:
    db = FakeDB([advisory("CVE-2024-1", "Alpine:v3.20", "busybox", fixed="1.36.1-r30")])
    result = match(analysis([apk("busybox", "1.36.1-r29")]), db, now=NOW)
    [finding] = result.findings
    assert finding.id == "CVE-2024-1"
    assert finding.installed_version == "1.36.1-r29"
    assert finding.fixed_versions == ["1.36.1-r30"]
    assert finding.state == FIXED
    assert finding.sources[0].range == "introduced 0, fixed 1.36.1-r30"
    assert finding.sources[0].ecosystem == "Alpine:v3.20"


def test_a_package_at_the_fixed_version_is_not_reported() -> None:
    db = FakeDB([advisory("CVE-2024-1", "Alpine:v3.20", "busybox", fixed="1.36.1-r30")])
    assert match(analysis([apk("busybox", "1.36.1-r30")]), db, now=NOW).findings == []


def test_distro_packages_are_looked_up_by_their_source_package() -> None:
    db = FakeDB([advisory("CVE-2024-2", "Alpine:v3.20", "openssl", fixed="3.3.3-r0")])
    result = match(analysis([apk("libssl3", "3.3.2-r0", origin="openssl")]), db, now=NOW)
    assert [(f.id, f.package.name) for f in result.findings] == [("CVE-2024-2", "libssl3")]
    assert db.calls == [("Alpine:v3.20", ["openssl"])]


def test_deb_packages_compare_the_source_version() -> None:
    # bsdutils 1:2.38.1-5+b1 is built from util-linux 2.38.1-5: the tracker speaks of the latter.
    pkg = deb("bsdutils", "1:2.38.1-5+b1", source="util-linux", source_version="2.38.1-5")
    db = FakeDB([advisory("CVE-2024-3", "Debian:12", "util-linux", fixed="2.38.1-5+deb12u1")])
    [finding] = match(analysis([pkg], DEBIAN_12), db, now=NOW).findings
    assert finding.installed_version == "1:2.38.1-5+b1"
    assert finding.fixed_versions == ["2.38.1-5+deb12u1"]


def test_an_open_issue_without_a_fix_says_no_fix_yet() -> None:
    db = FakeDB([advisory("CVE-2024-4", "Debian:12", "apparmor")])
    [finding] = match(analysis([deb("apparmor", "3.0.8-3")], DEBIAN_12), db, now=NOW).findings
    assert finding.state == NOT_FIXED
    assert finding.fixed_versions == []
    assert finding.sources[0].range == "introduced 0"


def test_the_same_cve_from_two_sources_is_one_finding_listing_both() -> None:
    db = FakeDB(
        [
            advisory("CVE-2024-5", "Alpine:v3.20", "zlib", fixed="1.3.1-r2", source="alpine-secdb"),
            advisory(
                "ALPINE-CVE-2024-5",
                "Alpine:v3.20",
                "zlib",
                fixed="1.3.1-r2",
                aliases=["CVE-2024-5"],
                severity="HIGH",
                score=7.5,
            ),
        ]
    )
    [finding] = match(analysis([apk("zlib", "1.3.1-r1")]), db, now=NOW).findings
    assert finding.id == "CVE-2024-5"
    assert sorted(s.source for s in finding.sources) == ["alpine-secdb", "osv"]
    assert "ALPINE-CVE-2024-5" in finding.aliases
    assert (finding.severity, finding.cvss_score) == ("HIGH", 7.5)


def test_language_records_prefer_the_cve_and_merge_pysec_with_ghsa() -> None:
    db = FakeDB(
        [
            advisory(
                "PYSEC-2019-217",
                "PyPI",
                "jinja2",
                fixed="2.10.1",
                aliases=["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
            ),
            advisory(
                "GHSA-462w-v97r-4m45", "PyPI", "jinja2", fixed="2.10.1", aliases=["CVE-2019-10906"]
            ),
        ]
    )
    [finding] = match(analysis([lang("pypi", "jinja2", "2.10")]), db, now=NOW).findings
    assert finding.id == "CVE-2019-10906"
    assert {"PYSEC-2019-217", "GHSA-462w-v97r-4m45"} <= set(finding.aliases)
    assert len(finding.sources) == 2


def test_a_distro_not_affected_statement_suppresses_other_sources_for_that_package() -> None:
    db = FakeDB(
        [
            advisory(
                "CVE-2023-45853", "Alpine:v3.20", "zlib", not_affected=True, source="alpine-secdb"
            ),
            advisory("ALPINE-X", "Alpine:v3.20", "zlib", aliases=["CVE-2023-45853"], fixed="9"),
        ]
    )
    result = match(analysis([apk("zlib", "1.3.1-r1")]), db, now=NOW)
    assert result.findings == []
    [gone] = result.suppressed
    assert gone.id == "CVE-2023-45853"
    assert gone.vex is not None and gone.vex.status == "not_affected"
    assert "alpine-secdb" in (gone.vex.impact_statement or "")


def test_a_distro_not_affected_statement_does_not_touch_another_package() -> None:
    db = FakeDB(
        [
            advisory("CVE-2024-6", "Alpine:v3.20", "zlib", not_affected=True),
            advisory("CVE-2024-6", "Alpine:v3.20", "busybox", fixed="9"),
        ]
    )
    result = match(analysis([apk("zlib", "1"), apk("busybox", "1")]), db, now=NOW)
    assert [f.package.name for f in result.findings] == ["busybox"]


def test_an_unparsable_version_is_a_warning_naming_the_package_not_a_crash() -> None:
    db = FakeDB(
        [
            advisory("CVE-2024-7", "PyPI", "weird", fixed="2.0"),
            advisory("CVE-2024-8", "PyPI", "jinja2", fixed="2.10.1"),
        ]
    )
    pkgs = [lang("pypi", "weird", "not a version!!"), lang("pypi", "jinja2", "2.10")]
    result = match(analysis(pkgs), db, now=NOW)
    assert [f.id for f in result.findings] == ["CVE-2024-8"]
    assert any("weird" in w and "not a version!!" in w for w in result.warnings)


def test_one_batched_lookup_per_ecosystem() -> None:
    db = FakeDB([advisory("CVE-2024-9", "Alpine:v3.20", "musl", fixed="9")])
    pkgs = [apk("musl", "1.2.5-r0"), apk("musl-utils", "1.2.5-r0", origin="musl"), apk("zlib", "1")]
    pkgs += [lang("pypi", "Jinja2", "2.10"), lang("pypi", "requests", "2.19.0")]
    db.extra_ecosystems = {"PyPI"}
    match(analysis(pkgs), db, now=NOW)
    assert sorted(e for e, _ in db.calls) == ["Alpine:v3.20", "PyPI"]
    names = dict(db.calls)
    assert sorted(names["Alpine:v3.20"]) == ["musl", "zlib"]
    assert "jinja2" in names["PyPI"] and "requests" in names["PyPI"]


def test_a_release_the_database_lacks_is_a_warning_that_names_it() -> None:
    db = FakeDB([advisory("CVE-2024-10", "Alpine:v3.20", "musl", fixed="9")])
    distro = Distro(id="alpine", version_id="3.21.0")
    result = match(analysis([apk("musl", "1"), apk("zlib", "1")], distro), db, now=NOW)
    assert result.findings == []
    assert result.warnings == [
        "no vulnerability data for alpine 3.21.0 (Alpine:v3.21) in the database; "
        "2 apk packages were not matched"
    ]


def test_an_unknown_distro_is_a_warning_not_a_silent_miss() -> None:
    db = FakeDB([advisory("CVE-2024-11", "Alpine:v3.20", "musl", fixed="9")])
    distro = Distro(id="gentoo", version_id="2.15")
    result = match(analysis([deb("musl", "1")], distro), db, now=NOW)
    assert len(result.warnings) == 1 and "gentoo 2.15" in result.warnings[0]


def test_kev_and_epss_are_attached_to_the_finding() -> None:
    db = FakeDB(
        [advisory("CVE-2024-12", "Alpine:v3.20", "musl", fixed="9")],
        kev_entries={"CVE-2024-12": {"dateAdded": "2024-05-01", "dueDate": "2024-05-22"}},
        epss_scores={"CVE-2024-12": (0.91, 0.99)},
    )
    [finding] = match(analysis([apk("musl", "1")]), db, now=NOW).findings
    assert finding.in_kev and finding.kev is not None
    assert finding.kev["dateAdded"] == "2024-05-01"
    assert finding.epss == (0.91, 0.99)


def test_findings_sort_by_severity_then_id_then_package() -> None:
    db = FakeDB(
        [
            advisory("CVE-2024-2", "Alpine:v3.20", "a", fixed="9", severity="LOW"),
            advisory("CVE-2024-1", "Alpine:v3.20", "a", fixed="9", severity="LOW"),
            advisory("CVE-2024-3", "Alpine:v3.20", "a", fixed="9", severity="CRITICAL"),
            advisory("CVE-2024-1", "Alpine:v3.20", "b", fixed="9", severity="LOW"),
        ]
    )
    result = match(analysis([apk("b", "1"), apk("a", "1")]), db, now=NOW)
    assert [(f.id, f.package.name) for f in result.findings] == [
        ("CVE-2024-3", "a"),
        ("CVE-2024-1", "a"),
        ("CVE-2024-1", "b"),
        ("CVE-2024-2", "a"),
    ]


def test_withdrawn_advisories_are_ignored() -> None:
    withdrawn = advisory("CVE-2024-13", "Alpine:v3.20", "musl", fixed="9")
    withdrawn.withdrawn = "2024-01-01T00:00:00Z"
    db = FakeDB([withdrawn])
    db.advisories_for = lambda eco, names: {  # type: ignore[method-assign]
        n: [(withdrawn, withdrawn.affected[0])] for n in names
    }
    assert match(analysis([apk("musl", "1")]), db, now=NOW).findings == []


def test_the_distro_urgency_gives_the_severity_when_no_score_does() -> None:
    db = FakeDB([advisory("CVE-2024-14", "Debian:12", "tar", distro_severity="high**")])
    [finding] = match(analysis([deb("tar", "1.34")], DEBIAN_12), db, now=NOW).findings
    assert (finding.severity, finding.distro_severity) == ("HIGH", "high**")


def test_go_module_versions_drop_the_v_and_devel_builds_are_counted_not_matched() -> None:
    db = FakeDB([advisory("GO-2024-1", "Go", "github.com/x/y", fixed="1.2.4", aliases=[])])
    pkgs = [
        lang("golang", "github.com/x/y", "v1.2.3"),
        lang("golang", "github.com/x/main", "(devel)"),
    ]
    result = match(analysis(pkgs), db, now=NOW)
    assert [f.id for f in result.findings] == ["GO-2024-1"]
    assert any("1 golang package has no release version" in w for w in result.warnings)


def test_a_package_listed_in_versions_only_is_reported() -> None:
    adv = advisory("CVE-2024-15", "PyPI", "pkg", versions=["1.0"])
    adv.affected[0].ranges = []
    [finding] = match(analysis([lang("pypi", "pkg", "1.0")]), FakeDB([adv]), now=NOW).findings
    assert finding.sources[0].range == "listed affected version 1.0"


def test_the_result_records_db_age_and_ecosystem_counts() -> None:
    db = FakeDB([advisory("CVE-2024-16", "Alpine:v3.20", "musl", fixed="9")])
    result = match(analysis([apk("musl", "1"), apk("zlib", "1")], ALPINE_320), db, now=NOW)
    assert result.db_age is not None and result.db_age.days == 1
    assert result.ecosystems == {"Alpine:v3.20": 2}
    assert result.to_dict()["summary"]["bySeverity"]["unknown"] == 1


def test_a_version_listed_outside_the_ranges_is_still_reported() -> None:
    adv = advisory("CVE-2024-17", "PyPI", "pkg", introduced="2.0", fixed="2.5", versions=["1.0"])
    [finding] = match(analysis([lang("pypi", "pkg", "1.0")]), FakeDB([adv]), now=NOW).findings
    assert finding.sources[0].range == "listed affected version 1.0"


def test_the_range_that_holds_the_version_is_named_among_several() -> None:
    from baseguard.vulndb.model import Range

    adv = advisory("CVE-2024-18", "PyPI", "pkg", introduced="1.0", fixed="1.2")
    adv.affected[0].ranges.append(Range("ECOSYSTEM", [("introduced", "2.0"), ("fixed", "2.3")]))
    adv.affected[0].versions = ["1.0", "1.1", "2.0", "2.1", "2.2"]
    [finding] = match(analysis([lang("pypi", "pkg", "2.1")]), FakeDB([adv]), now=NOW).findings
    assert finding.sources[0].range == "introduced 2.0, fixed 2.3"
    assert finding.fixed_versions == ["2.3"]


def test_a_malformed_range_does_not_hide_another_range_that_matches() -> None:
    from baseguard.vulndb.model import Range

    adv = advisory("CVE-2024-19", "PyPI", "pkg", introduced="1.0", fixed="1.2")
    adv.affected[0].ranges.insert(0, Range("ECOSYSTEM", [("introduced", "not a version!!")]))
    result = match(analysis([lang("pypi", "pkg", "1.1")]), FakeDB([adv]), now=NOW)
    assert [f.sources[0].range for f in result.findings] == ["introduced 1.0, fixed 1.2"]


def test_a_malformed_range_alone_is_a_warning() -> None:
    from baseguard.vulndb.model import Range

    adv = advisory("CVE-2024-20", "PyPI", "pkg", introduced="1.0", fixed="1.2")
    adv.affected[0].ranges.insert(0, Range("ECOSYSTEM", [("introduced", "not a version!!")]))
    result = match(analysis([lang("pypi", "pkg", "3.0")]), FakeDB([adv]), now=NOW)
    assert result.findings == []
    assert any("pypi package pkg 3.0" in w for w in result.warnings)
