"""Version ordering per scheme and OSV range evaluation, driven by tests/data/versions/*.json.

Each ``<scheme>.json`` holds comparison cases (``a``, ``b``, ``expected``), invalid versions
(``invalid``) and range cases (``version``, ``affected``, ``expected``); ``osv.json`` holds
the OSV evaluation cases, whose scheme comes from the record's ecosystem. The expected
values are checked against the ecosystems' own tools in test_versions_oracles.py.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from baseguard.errors import BaseguardError
from baseguard.vulndb.model import Affected, Range
from baseguard.vulndb.versions import (
    SCHEMES,
    VersionError,
    compare,
    fixed_versions,
    is_affected,
    scheme_for_ecosystem,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "versions"


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((DATA / f"{name}.json").read_text())
    return cases


SCHEME_FILES = sorted(p.stem for p in DATA.glob("*.json") if p.stem != "osv")


def _cases(kind: str) -> list[Any]:
    params = []
    for scheme in SCHEME_FILES:
        for n, case in enumerate(load(scheme)):
            if kind in case:
                label = case.get("a", case.get("invalid", case.get("version")))
                params.append(pytest.param(scheme, case, id=f"{scheme}-{n}-{label}"))
    return params


def _describe(case: dict[str, Any]) -> str:
    return f" ({case['comment']})" if "comment" in case else ""


def test_every_scheme_has_a_conformance_file_with_thirty_comparisons() -> None:
    assert set(SCHEME_FILES) == SCHEMES
    for scheme in SCHEME_FILES:
        comparisons = [c for c in load(scheme) if "a" in c]
        assert len(comparisons) >= 30, scheme


@pytest.mark.parametrize(("scheme", "case"), _cases("a"))
def test_compare_conformance(scheme: str, case: dict[str, Any]) -> None:
    a, b, expected = case["a"], case["b"], case["expected"]
    assert compare(scheme, a, b) == expected, f"{a} vs {b}{_describe(case)}"
    assert compare(scheme, b, a) == -expected, f"{b} vs {a} (reversed){_describe(case)}"


@pytest.mark.parametrize(("scheme", "case"), _cases("invalid"))
def test_invalid_version_raises_version_error_naming_it(scheme: str, case: dict[str, Any]) -> None:
    bad = case["invalid"]
    with pytest.raises(VersionError) as caught:
        compare(scheme, bad, bad)
    assert bad in caught.value.message and scheme in caught.value.message
    assert (caught.value.version, caught.value.scheme) == (bad, scheme)
    assert isinstance(caught.value, BaseguardError)


@pytest.mark.parametrize(("scheme", "case"), _cases("version"))
def test_range_conformance(scheme: str, case: dict[str, Any]) -> None:
    affected = Affected.from_dict(case["affected"])
    assert scheme_for_ecosystem(affected.ecosystem) == scheme
    assert is_affected(scheme, case["version"], affected) is case["expected"], _describe(case)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=f"{n}-{c.get('comment', c['version'])}")
        for n, c in enumerate(load("osv"))
    ],
)
def test_osv_evaluation(case: dict[str, Any]) -> None:
    affected = Affected.from_dict(case["affected"])
    scheme = scheme_for_ecosystem(affected.ecosystem)
    assert is_affected(scheme, case["version"], affected) is case["expected"], _describe(case)


@pytest.mark.parametrize("scheme", SCHEME_FILES)
def test_order_is_total_and_consistent_over_every_version_of_the_file(scheme: str) -> None:
    """Sorting, then comparing every pair, finds no contradiction (antisymmetry, transitivity)."""
    versions = sorted({v for c in load(scheme) if "a" in c for v in (c["a"], c["b"])})
    ordered = sorted(versions, key=functools.cmp_to_key(functools.partial(compare, scheme)))
    for i, x in enumerate(ordered):
        for y in ordered[i + 1 :]:
            assert compare(scheme, x, y) <= 0 and compare(scheme, y, x) >= 0, (x, y)


@pytest.mark.parametrize(
    ("ecosystem", "scheme"),
    [
        ("Alpine:v3.20", "apk"),
        ("Alpine:v3.10", "apk"),
        ("Wolfi", "apk"),
        ("Chainguard", "apk"),
        ("Debian:12", "deb"),
        ("Debian", "deb"),
        ("Ubuntu:22.04:LTS", "deb"),
        ("Ubuntu:Pro:18.04:LTS", "deb"),
        ("Red Hat:rhel_aus:8.4::appstream", "rpm"),
        ("AlmaLinux:9", "rpm"),
        ("Rocky Linux:8", "rpm"),
        ("openSUSE:Tumbleweed", "rpm"),
        ("SUSE:Linux Enterprise Server 15 SP5", "rpm"),
        ("PyPI", "pypi"),
        ("npm", "npm"),
        ("Go", "golang"),
        ("Maven", "maven"),
        ("Maven:https://maven.google.com", "maven"),
        ("crates.io", "cargo"),
        ("RubyGems", "gem"),
        ("NuGet", "nuget"),
        ("Root:Alpine:3.18", "apk"),
        ("Root:PyPI", "pypi"),
    ],
)
def test_scheme_for_ecosystem(ecosystem: str, scheme: str) -> None:
    assert scheme_for_ecosystem(ecosystem) == scheme


@pytest.mark.parametrize("ecosystem", ["Hackage", "Packagist", "", "Linux"])
def test_unknown_ecosystem_raises_rather_than_guessing(ecosystem: str) -> None:
    with pytest.raises(VersionError, match="no version scheme for ecosystem"):
        scheme_for_ecosystem(ecosystem)


def test_unknown_scheme_raises() -> None:
    with pytest.raises(VersionError, match="unknown version scheme 'dpkg'"):
        compare("dpkg", "1.0", "1.1")


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_version_raises(empty: str) -> None:
    with pytest.raises(VersionError, match="empty deb version"):
        compare("deb", empty, "1.0")


def test_surrounding_whitespace_is_ignored() -> None:
    assert compare("deb", " 1.0-1\n", "1.0-1") == 0


def _affected(*events: tuple[str, str], ecosystem: str = "Alpine:v3.20") -> Affected:
    return Affected(ecosystem, "zlib", ranges=[Range("ECOSYSTEM", list(events))])


def test_is_affected_raises_for_an_invalid_installed_version() -> None:
    affected = _affected(("introduced", "0"), ("fixed", "1.2.12-r4"))
    with pytest.raises(VersionError) as caught:
        is_affected("apk", "1.2.12_foo-r0", affected)
    assert caught.value.version == "1.2.12_foo-r0"


def test_is_affected_names_package_and_event_when_a_range_event_is_invalid() -> None:
    affected = _affected(("introduced", "0"), ("fixed", "not-a-version"))
    with pytest.raises(VersionError) as caught:
        is_affected("apk", "1.2.12-r3", affected)
    message = caught.value.message
    assert "zlib" in message and "fixed 'not-a-version'" in message and "apk" in message


def test_introduced_zero_is_not_parsed() -> None:
    """In SemVer "0" would parse as 0.0.0, which is after 0.0.0-alpha."""
    affected = Affected("npm", "p", ranges=[Range("SEMVER", [("introduced", "0")])])
    assert is_affected("npm", "0.0.0-alpha", affected)


def test_not_affected_flag_does_not_change_range_evaluation() -> None:
    affected = _affected(("introduced", "0"), ("fixed", "1.2.12-r4"))
    affected.not_affected = True
    assert is_affected("apk", "1.2.12-r3", affected)


def test_fixed_versions_are_unique_and_sorted_by_the_ecosystem_order() -> None:
    affected = Affected(
        "Debian:12",
        "glibc",
        ranges=[
            Range("ECOSYSTEM", [("introduced", "2.37-1"), ("fixed", "2.37-12")]),
            Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.36-9+deb12u14")]),
            Range("ECOSYSTEM", [("introduced", "2.37-1"), ("fixed", "2.37-12")]),
            Range("GIT", [("introduced", "0"), ("fixed", "9a4f2b1c")]),
            Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.36-9+deb12u4")]),
        ],
    )
    assert fixed_versions(affected) == ["2.36-9+deb12u4", "2.36-9+deb12u14", "2.37-12"]


def test_fixed_versions_keep_the_advisory_order_when_one_does_not_parse() -> None:
    affected = Affected(
        "PyPI",
        "p",
        ranges=[Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "2.0"), ("fixed", "weird")])],
    )
    affected.ranges.append(Range("ECOSYSTEM", [("introduced", "0"), ("fixed", "1.0")]))
    assert fixed_versions(affected) == ["2.0", "weird", "1.0"]


def test_fixed_versions_of_an_unfixed_or_list_only_record_are_empty() -> None:
    assert fixed_versions(Affected("PyPI", "p", versions=["1.0"])) == []
    assert fixed_versions(_affected(("introduced", "0"), ("last_affected", "1.0-r0"))) == []


def test_parsed_versions_are_cached() -> None:
    from baseguard.vulndb import versions

    versions._parse_cached.cache_clear()
    affected = _affected(("introduced", "0"), ("fixed", "1.2.12-r4"))
    for _ in range(50):
        is_affected("apk", "1.2.12-r3", affected)
    info = versions._parse_cached.cache_info()
    assert info.misses == 2 and info.hits >= 98
