"""dpkg's status database and distroless status.d: fields, purls, licenses, layers, input."""

from __future__ import annotations

from baseguard.analysis.catalogers import CATALOGERS
from baseguard.analysis.catalogers.base import CatalogContext, CatalogResult
from baseguard.analysis.catalogers.dpkg import (
    DpkgCataloger,
    copyright_licenses,
    dependency_groups,
    is_installed,
    parse_deb822,
    parse_source,
)
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package
from baseguard.image.fs import ImageFS
from tests.analysis.catalogers.layering import DIGESTS, with_layers
from tests.analysis.fs_builders import build_fs

STATUS = "var/lib/dpkg/status"
BOOKWORM = Distro(id="debian", version_id="12", codename="bookworm")

LIBSSL = """Package: libssl3
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.17-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols.
"""
LIBC = """Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u10
Depends: libgcc-s1
"""
BSDUTILS = """Package: bsdutils
Essential: yes
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5+deb12u3)
Version: 1:2.38.1-5+deb12u3
Pre-Depends: libc6 (>= 2.34), libsystemd0
"""
DEBCONF = """Package: debconf
Status: install ok installed
Architecture: all
Version: 1.5.82
Provides: debconf-2.0
Pre-Depends: perl-base (>= 5.20.1-3~)
"""
PASSWD = """Package: passwd
Status: install ok installed
Architecture: amd64
Source: shadow (1:4.13+dfsg1-1)
Version: 1:4.13+dfsg1-1+b1
Depends: libpam-modules, debconf (>= 0.5) | debconf-2.0, cdebconf | debconf-2.0, perl:any, passwd
"""
PERL = """Package: perl-base
Status: hold ok installed
Architecture: amd64
Source: perl
Version: 5.36.0-7+deb12u2
"""


def _status(*stanzas: str) -> str:
    return "\n".join(stanzas)


def _catalog(fs: ImageFS, distro: Distro = BOOKWORM) -> CatalogResult:
    return DpkgCataloger().catalog(fs, CatalogContext(distro=distro, architecture="amd64"))


def _by_name(result: CatalogResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def test_registered_under_its_name_and_captures_its_files() -> None:
    assert CATALOGERS["dpkg"] is DpkgCataloger
    assert set(DpkgCataloger.capture) == {
        STATUS,
        "var/lib/dpkg/status.d/*",
        "usr/share/doc/*/copyright",
    }


def test_purl_matches_the_issue_example() -> None:
    libssl = _by_name(_catalog(build_fs({STATUS: LIBSSL})))["libssl3"]
    assert libssl.purl == "pkg:deb/debian/libssl3@3.0.17-1~deb12u2?arch=amd64&distro=debian-12"
    assert (libssl.version, libssl.architecture) == ("3.0.17-1~deb12u2", "amd64")
    assert libssl.type == "deb"
    assert libssl.locations == ["/var/lib/dpkg/status"]
    assert libssl.cataloger == "dpkg"


def test_epoch_stays_in_version_and_purl() -> None:
    bsdutils = _by_name(_catalog(build_fs({STATUS: BSDUTILS})))["bsdutils"]
    assert bsdutils.version == "1:2.38.1-5+deb12u3"
    assert bsdutils.purl == (
        "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64&distro=debian-12"
    )


def test_ubuntu_namespace_and_release() -> None:
    noble = Distro(id="ubuntu", version_id="24.04", codename="noble")
    libc = _catalog(build_fs({STATUS: LIBC}), noble).packages[0]
    assert libc.purl == "pkg:deb/ubuntu/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=ubuntu-24.04"


def test_testing_release_without_version_uses_codename() -> None:
    trixie = Distro(id="debian", codename="trixie")
    assert (
        _catalog(build_fs({STATUS: LIBC}), trixie).packages[0].purl.endswith("distro=debian-trixie")
    )


def test_source_with_version_without_version_and_absent() -> None:
    packages = _by_name(_catalog(build_fs({STATUS: _status(BSDUTILS, LIBSSL, DEBCONF)})))
    assert (packages["bsdutils"].source_name, packages["bsdutils"].source_version) == (
        "util-linux",
        "2.38.1-5+deb12u3",
    )
    assert (packages["libssl3"].source_name, packages["libssl3"].source_version) == (
        "openssl",
        "3.0.17-1~deb12u2",
    )
    assert (packages["debconf"].source_name, packages["debconf"].source_version) == (
        "debconf",
        "1.5.82",
    )


def test_parse_source_edge_cases() -> None:
    assert parse_source("", "p", "1") == ("p", "1")
    assert parse_source("src (1:2.0-1)", "p", "1") == ("src", "1:2.0-1")
    assert parse_source("src ()", "p", "1") == ("src", "1")
    assert parse_source("src(2.0)", "p", "1") == ("src", "2.0")


def test_only_installed_states_are_catalogued() -> None:
    assert is_installed("install ok installed")
    assert is_installed("hold ok installed")
    assert is_installed("install ok triggers-pending")
    assert not is_installed("deinstall ok config-files")
    assert not is_installed("install ok half-installed")
    assert not is_installed("install ok unpacked")
    assert not is_installed("install ok half-configured")
    assert not is_installed("install reinstreq installed")
    assert not is_installed("purge ok not-installed")
    removed = LIBC.replace("install ok installed", "deinstall ok config-files")
    half = LIBSSL.replace("install ok installed", "install ok half-installed")
    result = _catalog(build_fs({STATUS: _status(removed, half, PERL)}))
    assert [p.name for p in result.packages] == ["perl-base"]
    assert result.issues == []


def test_dependencies_resolve_alternatives_virtuals_and_arch_qualifiers() -> None:
    status = _status(PASSWD, DEBCONF, PERL, LIBC)
    packages = _by_name(_catalog(build_fs({STATUS: status})))
    # debconf | debconf-2.0 -> debconf; cdebconf | debconf-2.0 -> provider debconf;
    # perl:any -> perl (not installed, kept as named); libpam-modules kept; self dropped.
    assert packages["passwd"].depends == ["debconf", "libpam-modules", "perl"]
    assert packages["debconf"].depends == ["perl-base"]


def test_pre_depends_count_as_dependencies() -> None:
    packages = _by_name(_catalog(build_fs({STATUS: _status(BSDUTILS, LIBC)})))
    assert packages["bsdutils"].depends == ["libc6", "libsystemd0"]


def test_dependency_groups_strip_versions_arch_and_restrictions() -> None:
    assert dependency_groups("a (>= 1:2), b:any | c [amd64], d<!nocheck>") == [
        ["a"],
        ["b", "c"],
        ["d"],
    ]
    assert dependency_groups("") == []


def test_deb822_continuations_comments_and_case() -> None:
    stanzas, problems = parse_deb822(
        "# comment\npackage: a\nDescription: x\n more\n .\n\n\nPackage: b\n"
    )
    assert problems == []
    assert [s.get("package") for s in stanzas] == ["a", "b"]
    assert stanzas[0].get("description") == "x\nmore\n."
    assert stanzas[1].line == 8


def test_dep5_copyright_licenses() -> None:
    text = (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: 1998 X\nLicense: GPL-2+ or Artistic\n\n"
        "Files: lib/*\nLicense: LGPL-2.1+ with OpenSSL exception\n\n"
        "License: GPL-2+\n On Debian systems see /usr/share/common-licenses/GPL-2.\n"
    )
    assert copyright_licenses(text) == ["Artistic", "GPL-2+", "LGPL-2.1+"]


def test_non_dep5_copyright_falls_back_to_common_licenses() -> None:
    text = (
        "Copyright 2004 X.\nSee /usr/share/common-licenses/GPL-2. and\n"
        "/usr/share/common-licenses/BSD\n"
    )
    assert copyright_licenses(text) == ["BSD", "GPL-2"]
    assert copyright_licenses("no license here") == []


def test_licenses_come_from_the_packages_copyright_file() -> None:
    fs = build_fs(
        {
            STATUS: _status(LIBSSL, LIBC),
            "usr/share/doc/libssl3/copyright": "Files: *\nLicense: Apache-2.0\n",
        }
    )
    packages = _by_name(_catalog(fs))
    assert packages["libssl3"].licenses == ["Apache-2.0"]
    assert packages["libc6"].licenses == []


def test_distroless_status_d_files_one_or_more_stanzas_md5sums_skipped() -> None:
    fs = build_fs(
        {
            "var/lib/dpkg/status.d/libssl3": LIBSSL,
            "var/lib/dpkg/status.d/libssl3.md5sums": "d41d8cd98f00b204e9800998ecf8427e  x\n",
            "var/lib/dpkg/status.d/base": _status(LIBC, DEBCONF),
        }
    )
    result = _catalog(fs)
    assert result.issues == []
    assert [(p.name, p.locations) for p in result.packages] == [
        ("debconf", ["/var/lib/dpkg/status.d/base"]),
        ("libc6", ["/var/lib/dpkg/status.d/base"]),
        ("libssl3", ["/var/lib/dpkg/status.d/libssl3"]),
    ]


def test_distroless_stanza_without_status_counts_as_installed() -> None:
    stanza = "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
    fs = build_fs({"var/lib/dpkg/status.d/tzdata": stanza})
    assert [p.name for p in _catalog(fs).packages] == ["tzdata"]


def test_status_wins_over_a_status_d_copy() -> None:
    fs = build_fs({STATUS: LIBC, "var/lib/dpkg/status.d/libc6": LIBC})
    result = _catalog(fs)
    assert [(p.name, p.locations) for p in result.packages] == [("libc6", ["/var/lib/dpkg/status"])]


def test_same_package_for_two_architectures_is_two_packages() -> None:
    i386 = LIBC.replace("Architecture: amd64", "Architecture: i386")
    result = _catalog(build_fs({STATUS: _status(LIBC, i386)}))
    assert sorted(p.purl for p in result.packages) == [
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=i386&distro=debian-12",
    ]


def test_stanza_without_version_is_an_issue_and_others_are_kept() -> None:
    broken = "Package: broken\nStatus: install ok installed\nArchitecture: amd64\n"
    result = _catalog(build_fs({STATUS: _status(LIBC, broken, LIBSSL)}))
    assert sorted(p.name for p in result.packages) == ["libc6", "libssl3"]
    assert len(result.issues) == 1
    issue = result.issues[0]
    assert issue.path == "/var/lib/dpkg/status"
    assert "stanza broken at line 9 has no Version" in issue.message


def test_stanza_without_status_in_the_status_file_is_an_issue() -> None:
    result = _catalog(build_fs({STATUS: "Package: x\nVersion: 1\n"}))
    assert result.packages == []
    assert "stanza x at line 1 has no Status" in result.issues[0].message


def test_junk_lines_are_issues_that_do_not_stop_the_file() -> None:
    result = _catalog(build_fs({STATUS: " orphan continuation\njunk line\n\n" + LIBC}))
    assert [p.name for p in result.packages] == ["libc6"]
    messages = [i.message for i in result.issues]
    assert messages == [
        "line 1: continuation line outside a field",
        "line 2: not a 'Field: value' line",
    ]


def test_binary_junk_does_not_raise() -> None:
    result = _catalog(build_fs({STATUS: bytes(range(256)) * 64}))
    assert result.packages == []


def test_no_database_yields_nothing() -> None:
    result = _catalog(build_fs({"etc/os-release": "ID=debian\n"}))
    assert (result.packages, result.issues) == ([], [])


def test_layer_comes_from_the_packages_list_file() -> None:
    tree = {
        STATUS: _status(LIBC, LIBSSL, DEBCONF),
        "var/lib/dpkg/info/libc6:amd64.list": "/.\n",
        "var/lib/dpkg/info/libssl3:amd64.list": "/.\n",
        "var/lib/dpkg/info/debconf.list": "/.\n",
    }
    layers = {
        STATUS: 2,
        "var/lib/dpkg/info/libssl3:amd64.list": 1,
        "var/lib/dpkg/info/debconf.list": 2,
    }
    packages = _by_name(_catalog(with_layers(build_fs(tree), layers, 3)))
    assert packages["libc6"].layer == DIGESTS[0]
    assert packages["libssl3"].layer == DIGESTS[1]
    assert packages["debconf"].layer == DIGESTS[2]


def test_layer_falls_back_to_the_database_file() -> None:
    fs = with_layers(build_fs({STATUS: LIBC}), {STATUS: 1}, 2)
    assert _catalog(fs).packages[0].layer == DIGESTS[1]


def test_metadata_has_maintainer_and_size() -> None:
    stanza = LIBC + "Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\n"
    stanza += "Installed-Size: 12345\n"
    libc = _catalog(build_fs({STATUS: stanza})).packages[0]
    assert libc.metadata == {
        "maintainer": "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
        "installedSize": 12345,
    }


def test_a_flood_of_junk_lines_and_broken_stanzas_is_capped() -> None:
    junk = "junk\n" * 1000
    broken = "\n".join(f"Package: b{i}\nStatus: install ok installed\n" for i in range(300))
    result = _catalog(build_fs({STATUS: junk + "\n" + broken + "\n" + LIBC}))
    assert [p.name for p in result.packages] == ["libc6"]
    messages = [i.message for i in result.issues]
    assert len(messages) == 42
    assert messages[20] == "980 more malformed line(s) not listed"
    assert messages[-1] == "280 more stanza problem(s) not listed"
