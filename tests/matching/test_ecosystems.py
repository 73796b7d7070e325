"""Which ecosystem, name and version each package is matched under."""

from __future__ import annotations

import pytest

from baseguard.analysis.distro import Distro
from baseguard.matching.ecosystems import (
    distro_ecosystems,
    language_name,
    language_version,
    plan,
)
from baseguard.vulndb.names import normalize_pypi
from tests.matching.helpers import apk, deb, lang


@pytest.mark.parametrize(
    ("distro", "expected"),
    [
        (Distro(id="alpine", version_id="3.20.3"), ["Alpine:v3.20"]),
        (Distro(id="alpine", version_id="3.10.9"), ["Alpine:v3.10"]),
        (Distro(id="debian", version_id="12", codename="bookworm"), ["Debian:12"]),
        (Distro(id="debian", version="testing", codename="trixie"), ["Debian:13"]),
        (Distro(id="ubuntu", version_id="22.04"), ["Ubuntu:22.04:LTS", "Ubuntu:22.04"]),
        (Distro(id="ubuntu", version_id="23.10"), ["Ubuntu:23.10"]),
        (Distro(id="wolfi", version_id="20230201", variant="wolfi"), ["Wolfi"]),
        (Distro(id="chainguard", variant="chainguard"), ["Chainguard"]),
        (Distro(id="rocky", version_id="9.3"), ["Rocky Linux:9"]),
        (Distro(id="almalinux", version_id="8.10"), ["AlmaLinux:8"]),
        (Distro(id="gentoo", version_id="2.15"), []),
        (Distro(variant="scratch"), []),
    ],
)
def test_distro_releases_map_to_osv_ecosystem_names(distro: Distro, expected: list[str]) -> None:
    assert distro_ecosystems(distro) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Jinja2", "jinja2"), ("zope.interface", "zope-interface"), ("Foo__Bar-.baz", "foo-bar-baz")],
)
def test_pypi_names_are_normalised_per_pep_503(name: str, expected: str) -> None:
    assert normalize_pypi(name) == expected


def test_language_names_come_from_the_purl() -> None:
    assert language_name(lang("maven", "log4j-core", "2.14.1", "org.apache.logging.log4j")) == (
        "org.apache.logging.log4j:log4j-core"
    )
    assert language_name(lang("npm", "core", "7.0.0", "@babel")) == "@babel/core"
    assert language_name(lang("golang", "y", "v1.0.0", "github.com/x")) == "github.com/x/y"
    assert language_name(lang("golang", "github.com/x/y", "v1.0.0", "github.com/x")) == (
        "github.com/x/y"
    )


def test_go_versions_lose_their_v_and_go_prefixes() -> None:
    assert language_version(lang("golang", "github.com/x/y", "v1.2.3")) == "1.2.3"
    assert language_version(lang("golang", "stdlib", "go1.22.5")) == "1.22.5"
    assert language_version(lang("golang", "github.com/x/y", "(devel)")) is None


def test_ubuntu_uses_whichever_spelling_the_database_holds() -> None:
    result = plan(Distro(id="ubuntu", version_id="22.04"), [deb("bash", "5.1")], {"Ubuntu:22.04"})
    assert list(result.targets) == ["Ubuntu:22.04"]
    assert result.warnings == []


def test_apk_packages_in_a_debian_image_are_reported_not_matched() -> None:
    result = plan(Distro(id="debian", version_id="12"), [apk("musl", "1")], {"Debian:12"})
    assert result.targets == {}
    assert "1 apk package found in an image detected as debian 12" in result.warnings[0]


def test_a_language_ecosystem_missing_from_the_database_is_a_warning() -> None:
    result = plan(Distro(variant="scratch"), [lang("npm", "left-pad", "1.0.0")], set())
    assert result.warnings == [
        "no vulnerability data for npm in the database; 1 npm package was not matched"
    ]
