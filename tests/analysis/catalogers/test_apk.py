"""apk's installed database: fields, purls, dependencies, layers and broken input."""

from __future__ import annotations

from baseguard.analysis.catalogers import CATALOGERS
from baseguard.analysis.catalogers.apk import (
    ApkCataloger,
    parse_installed,
    split_licenses,
)
from baseguard.analysis.catalogers.base import CatalogContext, CatalogResult
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package
from baseguard.image.fs import ImageFS
from tests.analysis.catalogers.layering import DIGESTS, with_layers
from tests.analysis.fs_builders import build_fs, link

DB = "lib/apk/db/installed"
ALPINE = Distro(id="alpine", version_id="3.20.3")

MUSL = """C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
R:libc.musl-x86_64.so.1
"""
BUSYBOX = """P:busybox
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox
U:https://busybox.net/
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
c:0123abcd
I:946176
D:so:libc.musl-x86_64.so.1
p:cmd:busybox=1.36.1-r29
F:bin
R:busybox
"""
BINSH = """P:busybox-binsh
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox
D:busybox=1.36.1-r29
p:/bin/sh cmd:sh=1.36.1-r29
F:bin
R:sh
"""
SSL_CLIENT = """P:ssl_client
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox
D:so:libc.musl-x86_64.so.1 so:libssl.so.3 !busybox-extras missing-pkg>=2 ssl_client
F:usr/bin
R:ssl_client
"""
SCRIPTS = """P:alpine-baselayout
V:3.6.5-r0
A:x86_64
L:GPL-2.0-only
o:alpine-baselayout
D:/bin/sh cmd:getent
"""


def _db(*stanzas: str) -> str:
    return "\n".join(stanzas)


def _catalog(fs: ImageFS, distro: Distro = ALPINE) -> CatalogResult:
    return ApkCataloger().catalog(fs, CatalogContext(distro=distro, architecture="amd64"))


def _by_name(result: CatalogResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def test_registered_under_its_name() -> None:
    assert CATALOGERS["apk"] is ApkCataloger
    assert DB in ApkCataloger.capture


def test_reads_name_version_arch_origin_and_license() -> None:
    result = _catalog(build_fs({DB: _db(MUSL, BUSYBOX)}))
    busybox = _by_name(result)["busybox"]
    assert (busybox.version, busybox.architecture, busybox.type) == ("1.36.1-r29", "x86_64", "apk")
    assert (busybox.source_name, busybox.source_version) == ("busybox", "1.36.1-r29")
    assert busybox.licenses == ["GPL-2.0-only"]
    assert busybox.locations == ["/lib/apk/db/installed"]
    assert busybox.cataloger == "apk"
    assert busybox.metadata == {
        "origin": "busybox",
        "url": "https://busybox.net/",
        "maintainer": "Sören Tempel <soeren+alpine@soeren-tempel.net>",
        "commit": "0123abcd",
        "installedSize": 946176,
    }
    assert result.issues == []


def test_purl_has_vendor_arch_and_distro_release() -> None:
    busybox = _by_name(_catalog(build_fs({DB: BUSYBOX})))["busybox"]
    assert busybox.purl == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"


def test_wolfi_and_chainguard_packages_use_their_own_namespace() -> None:
    wolfi = Distro(id="wolfi", version_id="20230201", variant="wolfi")
    assert _catalog(build_fs({DB: MUSL}), wolfi).packages[0].purl == (
        "pkg:apk/wolfi/musl@1.2.5-r0?arch=x86_64&distro=wolfi-20230201"
    )
    chainguard = Distro(id="chainguard", variant="chainguard")
    assert _catalog(build_fs({DB: MUSL}), chainguard).packages[0].purl == (
        "pkg:apk/chainguard/musl@1.2.5-r0?arch=x86_64&distro=chainguard"
    )


def test_unknown_distro_falls_back_to_alpine_namespace_without_distro_qualifier() -> None:
    assert _catalog(build_fs({DB: MUSL}), Distro()).packages[0].purl == (
        "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"
    )


def test_missing_origin_means_the_package_is_its_own_source() -> None:
    stanza = "P:foo\nV:1.0-r0\nA:x86_64\n"
    foo = _catalog(build_fs({DB: stanza})).packages[0]
    assert (foo.source_name, foo.source_version) == ("foo", "1.0-r0")


def test_missing_arch_falls_back_to_image_architecture() -> None:
    foo = _catalog(build_fs({DB: "P:foo\nV:1.0-r0\n"})).packages[0]
    assert foo.architecture == "amd64"
    assert "arch=amd64" in foo.purl


def test_so_cmd_and_path_dependencies_resolve_to_providers() -> None:
    result = _catalog(build_fs({DB: _db(MUSL, BUSYBOX, BINSH, SCRIPTS)}))
    packages = _by_name(result)
    assert packages["busybox"].depends == ["musl"]
    assert packages["busybox-binsh"].depends == ["busybox"]
    # /bin/sh is provided by busybox-binsh; cmd:getent by nobody installed: dropped.
    assert packages["alpine-baselayout"].depends == ["busybox-binsh"]


def test_unresolved_plain_names_are_kept_virtuals_conflicts_and_self_dropped() -> None:
    ssl_client = _by_name(_catalog(build_fs({DB: _db(MUSL, SSL_CLIENT)})))["ssl_client"]
    assert ssl_client.depends == ["missing-pkg", "musl"]


def test_spdx_expression_is_one_license_old_space_lists_are_split() -> None:
    assert split_licenses("MIT AND BSD-2-Clause AND GPL-2.0-or-later") == [
        "MIT AND BSD-2-Clause AND GPL-2.0-or-later"
    ]
    assert split_licenses("(MIT OR Apache-2.0)") == ["(MIT OR Apache-2.0)"]
    assert split_licenses("MIT BSD GPL2+") == ["MIT", "BSD", "GPL2+"]
    assert split_licenses("  ") == []


def test_files_are_joined_to_their_directory() -> None:
    entries, problems = parse_installed(_db(MUSL, BUSYBOX))
    assert problems == []
    assert entries[0].files == ["lib/ld-musl-x86_64.so.1", "lib/libc.musl-x86_64.so.1"]
    assert entries[1].files == ["bin/busybox"]


def test_stanza_without_name_is_an_issue_and_the_rest_still_catalogued() -> None:
    broken = "V:9.9-r0\nA:x86_64\n"
    result = _catalog(build_fs({DB: _db(MUSL, broken, BUSYBOX)}))
    assert sorted(p.name for p in result.packages) == ["busybox", "musl"]
    assert len(result.issues) == 1
    issue = result.issues[0]
    assert issue.path == "/lib/apk/db/installed"
    assert issue.cataloger == "apk"
    assert "no P: (name)" in issue.message and "line 12" in issue.message


def test_stanza_without_version_is_an_issue() -> None:
    result = _catalog(build_fs({DB: "P:foo\nA:x86_64\n"}))
    assert result.packages == []
    assert "stanza foo at line 1 has no V: (version)" in result.issues[0].message


def test_lines_that_are_not_key_value_are_counted_in_one_issue() -> None:
    result = _catalog(build_fs({DB: "garbage\n" + MUSL + "more garbage\n"}))
    assert [p.name for p in result.packages] == ["musl"]
    assert len(result.issues) == 1
    assert "2 line(s) are not KEY:VALUE (first at line 1)" in result.issues[0].message


def test_binary_junk_does_not_raise() -> None:
    junk = bytes(range(256)) * 64
    result = _catalog(build_fs({DB: junk}))
    assert result.packages == []
    assert result.issues


def test_empty_database_yields_nothing() -> None:
    result = _catalog(build_fs({DB: ""}))
    assert (result.packages, result.issues) == ([], [])


def test_no_database_yields_nothing() -> None:
    result = _catalog(build_fs({"etc/os-release": "ID=alpine\n"}))
    assert (result.packages, result.issues) == ([], [])


def test_usr_lib_database_is_read_when_lib_has_none() -> None:
    result = _catalog(build_fs({"usr/lib/apk/db/installed": MUSL}))
    assert [p.locations for p in result.packages] == [["/usr/lib/apk/db/installed"]]


def test_symlinked_lib_database_is_read_once() -> None:
    fs = build_fs({"usr/lib/apk/db/installed": MUSL, "lib": link("usr/lib")})
    assert [p.name for p in _catalog(fs).packages] == ["musl"]


def test_output_is_sorted_by_name() -> None:
    result = _catalog(build_fs({DB: _db(SSL_CLIENT, BUSYBOX, MUSL)}))
    assert [p.name for p in result.packages] == ["busybox", "musl", "ssl_client"]


def test_single_layer_image_puts_every_package_in_the_database_layer() -> None:
    fs = with_layers(build_fs({DB: _db(MUSL, BUSYBOX)}), {}, 1)
    assert {p.layer for p in _catalog(fs).packages} == {DIGESTS[0]}


def test_layer_is_the_lowest_layer_of_the_packages_files() -> None:
    tree = {
        DB: _db(MUSL, BUSYBOX, SSL_CLIENT, SCRIPTS),
        "lib/ld-musl-x86_64.so.1": "x",
        "lib/libc.musl-x86_64.so.1": "x",
        "bin/busybox": "x",
        "usr/bin/ssl_client": "x",
    }
    layers = {
        DB: 2,  # rewritten by the layer that added ssl_client
        "lib/libc.musl-x86_64.so.1": 1,  # overwritten later; musl still came with layer 0
        "usr/bin/ssl_client": 2,
    }
    packages = _by_name(_catalog(with_layers(build_fs(tree), layers, 3)))
    assert packages["musl"].layer == DIGESTS[0]
    assert packages["busybox"].layer == DIGESTS[0]
    assert packages["ssl_client"].layer == DIGESTS[2]
    # No files: the database's layer.
    assert packages["alpine-baselayout"].layer == DIGESTS[2]


def test_package_whose_files_are_all_gone_gets_the_database_layer() -> None:
    fs = with_layers(build_fs({DB: BUSYBOX}), {DB: 1}, 2)
    assert _catalog(fs).packages[0].layer == DIGESTS[1]


def test_root_directory_images_have_no_layer() -> None:
    assert _catalog(build_fs({DB: MUSL})).packages[0].layer is None


def test_a_flood_of_broken_stanzas_is_capped() -> None:
    broken = "\n".join("V:1\n" for _ in range(500))
    result = _catalog(build_fs({DB: broken + "\n" + MUSL}))
    assert [p.name for p in result.packages] == ["musl"]
    assert len(result.issues) == 21
    assert result.issues[-1].message == "480 more stanza(s) without name or version not listed"
