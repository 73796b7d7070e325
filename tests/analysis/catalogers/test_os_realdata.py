"""OS package sets of real images and a real Debian root, checked against independent readers.

The expected Alpine sets come from the image's own ``lib/apk/db/installed``, split here
with a few lines of plain string handling (not the cataloger's parser). The bookworm set
is what ``dpkg-query`` prints for the same status file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from baseguard.analysis.analyze import analyze
from baseguard.analysis.catalogers.apk import ApkCataloger
from baseguard.analysis.catalogers.base import CatalogContext
from baseguard.analysis.catalogers.dpkg import DpkgCataloger
from baseguard.analysis.distro import detect_distro
from baseguard.image.fs import ImageFS
from tests.analysis.fs_builders import build_fs
from tests.conftest import realdata_path

pytestmark = pytest.mark.realdata

MINIROOTFS = {
    "3.10.9-x86_64": "alpine-minirootfs-3.10.9-x86_64.tar.gz",
    "3.18.9-x86_64": "alpine-minirootfs-3.18.9-x86_64.tar.gz",
    "3.20.3-x86_64": "alpine-minirootfs-3.20.3-x86_64.tar.gz",
    "3.20.3-aarch64": "alpine-minirootfs-3.20.3-aarch64.tar.gz",
}
DPKG_QUERY_FORMAT = (
    "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${Architecture}\n"
)


def _apk_rows(installed: str) -> set[tuple[str, str, str, str]]:
    """(name, version, origin or name, arch) per stanza, by plain splitting."""
    rows = set()
    for block in installed.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if line[1:2] == ":" and line[0] not in fields:
                fields[line[0]] = line[2:]
        if "P" in fields:
            rows.add((fields["P"], fields["V"], fields.get("o", fields["P"]), fields["A"]))
    return rows


def _member(tar: tarfile.TarFile, suffix: str) -> bytes:
    for member in tar:
        if member.name.lstrip("./") == suffix or member.name.endswith("/" + suffix):
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()
    raise AssertionError(f"{suffix} not in archive")


def _installed_from_rootfs(tarball: Path) -> str:
    with tarfile.open(tarball) as tar:
        return _member(tar, "lib/apk/db/installed").decode()


def _installed_from_docker_save(archive: Path) -> str:
    with tarfile.open(archive) as outer:
        layers = [m for m in outer.getmembers() if m.name.endswith("layer.tar")]
        assert len(layers) == 1, "the alpine docker-save archives have one layer"
        handle = outer.extractfile(layers[0])
        assert handle is not None
        with tarfile.open(fileobj=io.BytesIO(handle.read())) as layer:
            return _member(layer, "lib/apk/db/installed").decode()


@pytest.mark.parametrize("release", sorted(MINIROOTFS))
def test_minirootfs_apk_set_matches_the_installed_database(release: str) -> None:
    tarball = realdata_path("images", "alpine-minirootfs", MINIROOTFS[release])
    installed = _installed_from_rootfs(tarball)
    expected = _apk_rows(installed)
    assert len(expected) == installed.count("\nP:") + installed.startswith("P:")

    result = analyze(str(tarball), catalogers=[ApkCataloger()])

    assert result.issues == []
    got = {(p.name, p.version, p.source_name, p.architecture) for p in result.packages}
    assert got == expected
    assert all(p.layer == result.image.layer_digests[0] for p in result.packages)
    assert all(p.locations == ["/lib/apk/db/installed"] for p in result.packages)
    version, arch = release.split("-")
    assert all(p.purl.endswith(f"?arch={arch}&distro=alpine-{version}") for p in result.packages)


def test_alpine_3_20_3_known_packages() -> None:
    tarball = realdata_path("images", "alpine-minirootfs", MINIROOTFS["3.20.3-x86_64"])
    packages = {p.name: p for p in analyze(str(tarball), catalogers=[ApkCataloger()]).packages}
    busybox = packages["busybox"]
    assert busybox.purl == "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20.3"
    assert (busybox.source_name, busybox.licenses) == ("busybox", ["GPL-2.0-only"])
    assert packages["ssl_client"].source_name == "busybox"
    assert packages["ssl_client"].depends == ["libcrypto3", "libssl3", "musl"]
    assert (packages["musl"].version, packages["musl"].source_name) == ("1.2.5-r0", "musl")
    assert packages["apk-tools"].version == "2.14.4-r0"
    assert packages["apk-tools"].depends == [
        "ca-certificates-bundle",
        "libcrypto3",
        "libssl3",
        "musl",
        "zlib",
    ]
    assert (packages["libssl3"].source_name, packages["libssl3"].version) == ("openssl", "3.3.2-r0")


@pytest.mark.parametrize("name", ["alpine-310.tar.gz", "alpine-311.tar.gz"])
def test_docker_save_archive_apk_set_matches_its_layer(name: str) -> None:
    archive = realdata_path("images", "docker-archive", name)
    expected = _apk_rows(_installed_from_docker_save(archive))

    result = analyze(f"docker-archive:{archive}", catalogers=[ApkCataloger()])

    assert result.issues == []
    got = {(p.name, p.version, p.source_name, p.architecture) for p in result.packages}
    assert got == expected
    assert len(got) == 14
    assert {p.layer for p in result.packages} == set(result.image.layer_digests)


def _bookworm_fs() -> tuple[bytes, CatalogContext, ImageFS]:
    status = realdata_path("debian", "bookworm-minbase-dpkg-status").read_bytes()
    os_release = realdata_path("debian", "bookworm-os-release").read_bytes()
    fs = build_fs({"var/lib/dpkg/status": status, "etc/os-release": os_release})
    return status, CatalogContext(distro=detect_distro(fs), architecture="amd64"), fs


@pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query (Debian)")
def test_bookworm_minbase_matches_dpkg_query(tmp_path: Path) -> None:
    status, ctx, fs = _bookworm_fs()
    admin = tmp_path / "dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    (admin / "status").write_bytes(status)
    (admin / "available").write_bytes(b"")
    out = subprocess.run(
        ["dpkg-query", f"--admindir={admin}", "-W", "-f", DPKG_QUERY_FORMAT],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    expected = {tuple(line.split("\t")) for line in out.splitlines()}
    assert len(expected) == 88

    result = DpkgCataloger().catalog(fs, ctx)

    assert result.issues == []
    got = {
        (p.name, p.version, p.source_name, p.source_version, p.architecture)
        for p in result.packages
    }
    assert got == expected


def test_bookworm_minbase_purls_and_dependencies() -> None:
    _, ctx, fs = _bookworm_fs()
    packages = {p.name: p for p in DpkgCataloger().catalog(fs, ctx).packages}
    assert packages["libc6"].purl.startswith("pkg:deb/debian/libc6@2.36-9%2Bdeb12u")
    assert packages["libc6"].purl.endswith("?arch=amd64&distro=debian-12")
    assert (packages["libc6"].source_name, packages["gcc-12-base"].source_name) == (
        "glibc",
        "gcc-12",
    )
    assert packages["bsdutils"].purl.startswith("pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u")
    # apt: gpgv | gpgv2 | gpgv1 -> gpgv (installed).
    assert "gpgv" in packages["apt"].depends
    # debconf (>= 0.5) | debconf-2.0 -> debconf.
    assert "debconf" in packages["libpam0g"].depends
    installed = set(packages)
    assert all(set(p.depends) <= installed for p in packages.values())


# -- layers, through the real layer pipeline ------------------------------------------------

HELLO_STANZA = (
    "P:hello\nV:2.12.1-r0\nA:x86_64\nL:GPL-3.0-or-later\no:hello\n"
    "D:so:libc.musl-x86_64.so.1\nF:usr/bin\nR:hello\n\n"
)


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def test_apk_package_added_in_a_later_layer_is_attributed_to_it(tmp_path: Path) -> None:
    from baseguard.image.write import write_oci_layout

    tarball = realdata_path("images", "alpine-minirootfs", MINIROOTFS["3.20.3-x86_64"])
    installed = _installed_from_rootfs(tarball)
    top = _tar(
        tmp_path / "top.tar",
        {
            "lib/apk/db/installed": (installed + HELLO_STANZA).encode(),
            "usr/bin/hello": b"\x7fELF",
        },
    )
    write_oci_layout(tmp_path / "oci", [tarball, top])

    result = analyze(f"oci:{tmp_path / 'oci'}", catalogers=[ApkCataloger()])

    bottom_digest, top_digest = result.image.layer_digests
    layers = {p.name: p.layer for p in result.packages}
    assert layers.pop("hello") == top_digest
    assert layers and set(layers.values()) == {bottom_digest}
    hello = next(p for p in result.packages if p.name == "hello")
    assert hello.depends == ["musl"]


def test_dpkg_package_added_in_a_later_layer_is_attributed_to_it(tmp_path: Path) -> None:
    from baseguard.image.write import write_oci_layout

    status = realdata_path("debian", "bookworm-minbase-dpkg-status").read_bytes()
    os_release = realdata_path("debian", "bookworm-os-release").read_bytes()
    names = [
        line.split(b": ", 1)[1].decode()
        for line in status.splitlines()
        if line.startswith(b"Package: ")
    ]
    base_files = {"var/lib/dpkg/status": status, "etc/os-release": os_release}
    base_files.update({f"var/lib/dpkg/info/{n}.list": b"/.\n" for n in names})
    hello = (
        b"\nPackage: hello\nStatus: install ok installed\nArchitecture: amd64\n"
        b"Version: 2.10-3\nDepends: libc6 (>= 2.34)\n"
    )
    top = {
        "var/lib/dpkg/status": status.rstrip(b"\n") + b"\n" + hello,
        "var/lib/dpkg/info/hello.list": b"/.\n/usr/bin/hello\n",
        "usr/share/doc/hello/copyright": b"Files: *\nLicense: GPL-3+\n",
    }
    write_oci_layout(
        tmp_path / "oci", [_tar(tmp_path / "base.tar", base_files), _tar(tmp_path / "top.tar", top)]
    )

    result = analyze(f"oci:{tmp_path / 'oci'}", catalogers=[DpkgCataloger()])

    assert result.issues == []
    assert len(result.packages) == 89
    bottom_digest, top_digest = result.image.layer_digests
    packages = {p.name: p for p in result.packages}
    assert packages["hello"].layer == top_digest
    assert packages["hello"].licenses == ["GPL-3+"]
    assert packages["hello"].depends == ["libc6"]
    assert {p.layer for n, p in packages.items() if n != "hello"} == {bottom_digest}
