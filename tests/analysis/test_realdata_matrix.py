"""Correct facts for every real image, from every local source form.

The same Alpine root read as a rootfs tarball, an OCI layout, an OCI archive and a root
directory must give the same answer; the real `docker save` archives and the Debian bookworm
minbase root (built with debootstrap, cached) must be recognised with their shells and root
user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from baseguard.analysis.analyze import Analysis, analyze
from baseguard.image.model import Platform
from baseguard.image.source import OpenOptions
from baseguard.image.write import write_oci_layout
from tests.conftest import realdata_path

NOW = datetime(2026, 11, 27, tzinfo=UTC)
MINIROOTFS = {
    "3.10.9": ("alpine-minirootfs-3.10.9-x86_64.tar.gz", "amd64"),
    "3.18.9": ("alpine-minirootfs-3.18.9-x86_64.tar.gz", "amd64"),
    "3.20.3": ("alpine-minirootfs-3.20.3-x86_64.tar.gz", "amd64"),
}


def _names(items: list[dict[str, object]]) -> set[str]:
    return {str(i["name"]) for i in items}


def _assert_alpine(result: Analysis, version: str) -> None:
    assert result.distro.id == "alpine"
    assert result.distro.version_id == version
    facts = result.facts
    assert facts.has_shell
    assert {"sh", "busybox"} <= _names(facts.shells)
    assert "apk" in _names(facts.package_managers)
    assert {"wget", "nc"} <= _names(facts.network_tools)
    assert facts.runs_as_root


@pytest.mark.parametrize("version", sorted(MINIROOTFS))
def test_minirootfs_tarball(version: str) -> None:
    tarball = realdata_path("images", "alpine-minirootfs", MINIROOTFS[version][0])
    _assert_alpine(analyze(str(tarball), now=NOW), version)


def test_aarch64_minirootfs_as_arm64_layout(tmp_path: Path) -> None:
    tarball = realdata_path(
        "images", "alpine-minirootfs", "alpine-minirootfs-3.20.3-aarch64.tar.gz"
    )
    write_oci_layout(tmp_path / "oci", [tarball], architecture="arm64")
    result = analyze(
        f"oci:{tmp_path / 'oci'}", OpenOptions(platform=Platform.parse("linux/arm64")), now=NOW
    )
    _assert_alpine(result, "3.20.3")
    assert result.facts.architecture == "arm64"


def test_same_root_gives_same_facts_from_every_local_form(tmp_path: Path) -> None:
    tarball = realdata_path("images", "alpine-minirootfs", MINIROOTFS["3.20.3"][0])
    write_oci_layout(tmp_path / "oci", [tarball], tag="3.20.3")
    archive = tmp_path / "image.oci.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(tmp_path / "oci", arcname=".")
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="tar")
    refs = [str(tarball), f"oci:{tmp_path / 'oci'}:3.20.3", f"oci-archive:{archive}", f"dir:{root}"]
    results = [analyze(ref, now=NOW) for ref in refs]
    for result in results:
        _assert_alpine(result, "3.20.3")
    first = results[0].facts
    for other in results[1:]:
        assert other.facts.shells == first.shells
        assert other.facts.setuid_files == first.setuid_files
        assert other.facts.package_managers == first.package_managers
        assert other.facts.network_tools == first.network_tools
        assert other.facts.file_count == first.file_count


@pytest.mark.parametrize(
    ("name", "version"), [("alpine-310.tar.gz", "3.10"), ("alpine-311.tar.gz", "3.11")]
)
def test_real_docker_archives(name: str, version: str) -> None:
    archive = realdata_path("images", "docker-archive", name)
    result = analyze(f"docker-archive:{archive}", now=NOW)
    assert result.distro.id == "alpine"
    assert (result.distro.version_id or "").startswith(version)
    assert result.facts.has_shell and result.facts.runs_as_root
    assert result.facts.cmd == ["/bin/sh"]
    assert result.facts.created is not None and result.facts.age_days > 365


def test_hello_world_has_no_shell_and_no_distro() -> None:
    archive = realdata_path("images", "docker-archive", "hello-world-v25-arm64.tar")
    result = analyze(str(archive), now=NOW)
    assert result.distro.variant == "scratch"
    assert not result.facts.has_shell
    assert result.facts.package_managers == []
    assert result.facts.cmd == ["/hello"]
    assert result.facts.architecture.startswith("arm64")


def test_multiplatform_layout_contents_per_platform() -> None:
    layout = realdata_path("images", "oci", "multiplatform_oci_dir")
    for plat in ("linux/amd64", "linux/arm64"):
        result = analyze(f"oci:{layout}", OpenOptions(platform=Platform.parse(plat)), now=NOW)
        assert result.facts.architecture == plat.split("/")[1]
        assert result.facts.file_count >= 1
        assert result.image.platform == plat


# -- Debian bookworm minbase ---------------------------------------------------------------

BOOKWORM_CACHE = (
    Path(os.environ.get("BASEGUARD_TEST_CACHE", Path.home() / ".cache" / "baseguard-tests"))
    / "bookworm-minbase"
)


@pytest.fixture(scope="session")
def bookworm_root() -> Path:
    """A real `debootstrap --variant=minbase bookworm` root, built once and cached."""
    marker = BOOKWORM_CACHE / "etc" / "os-release"
    if not marker.exists():
        if shutil.which("debootstrap") is None or os.geteuid() != 0:
            pytest.skip("needs debootstrap run as root to build a bookworm root")
        shutil.rmtree(BOOKWORM_CACHE, ignore_errors=True)
        BOOKWORM_CACHE.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "bookworm", str(BOOKWORM_CACHE)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if done.returncode != 0:
            shutil.rmtree(BOOKWORM_CACHE, ignore_errors=True)
            pytest.skip(f"debootstrap failed (Debian archive unreachable?): {done.stderr[-300:]}")
    return BOOKWORM_CACHE


@pytest.mark.slow
def test_bookworm_minbase_root_dir(bookworm_root: Path) -> None:
    result = analyze(f"dir:{bookworm_root}", now=NOW)
    assert result.distro.id == "debian"
    assert result.distro.version_id == "12"
    assert result.distro.codename == "bookworm"
    facts = result.facts
    assert {"sh", "bash", "dash"} <= _names(facts.shells)
    assert {"apt", "dpkg"} <= _names(facts.package_managers)
    assert {"/usr/bin/su", "/usr/bin/passwd", "/usr/bin/mount"} <= set(facts.setuid_files)
    assert facts.runs_as_root


@pytest.mark.slow
def test_bookworm_minbase_as_oci_layout_matches_dir(bookworm_root: Path, tmp_path: Path) -> None:
    layer = tmp_path / "root.tar.gz"
    with tarfile.open(layer, "w:gz", compresslevel=1) as tar:
        tar.add(bookworm_root, arcname=".")
    write_oci_layout(tmp_path / "oci", [layer], config={"Cmd": ["bash"]})
    from_layout = analyze(f"oci:{tmp_path / 'oci'}", now=NOW)
    from_dir = analyze(f"dir:{bookworm_root}", now=NOW)
    assert from_layout.distro.to_dict() == from_dir.distro.to_dict()
    assert from_layout.facts.shells == from_dir.facts.shells
    assert from_layout.facts.setuid_files == from_dir.facts.setuid_files
    assert from_layout.facts.cmd == ["bash"]
