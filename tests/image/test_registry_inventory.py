"""Registry inventory against the real local registry: repositories, tags and base images."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from baseguard.image.model import DEFAULT_PLATFORM
from baseguard.image.registry import RegistryClient
from baseguard.image.write import write_oci_layout
from baseguard.inventory.sources.registry import inventory_registry, known_bases
from tests.cli_runner import run_baseguard
from tests.conftest import realdata_path
from tests.image.conftest import RegistryServer, skopeo_copy

pytestmark = pytest.mark.registry
ALPINE = "alpine-minirootfs-3.20.3-x86_64.tar.gz"


def _app_layer(path: Path) -> Path:
    with tarfile.open(path, "w") as tar:
        data = b"#!/bin/sh\necho app\n"
        info = tarfile.TarInfo("usr/local/bin/app")
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def built_images(
    plain_registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> RegistryServer:
    """Two images built on Alpine 3.20.3: one says so in an annotation, one does not."""
    work = tmp_path_factory.mktemp("built")
    base = realdata_path("images", "alpine-minirootfs", ALPINE)
    app = _app_layer(work / "app.tar")
    write_oci_layout(
        work / "declared",
        [base, app],
        tag="1.0",
        annotations={"org.opencontainers.image.base.name": "docker.io/library/alpine:3.20.3"},
    )
    write_oci_layout(work / "silent", [base, app], tag="2.0")
    skopeo_copy(f"oci:{work / 'declared'}:1.0", f"docker://{plain_registry.host}/team/declared:1.0")
    skopeo_copy(f"oci:{work / 'silent'}:2.0", f"docker://{plain_registry.host}/team/silent:2.0")
    return plain_registry


def test_repositories_tags_and_declared_base(built_images: RegistryServer) -> None:
    with RegistryClient() as client:
        inv = inventory_registry(client, built_images.host, platform=DEFAULT_PLATFORM)
    images = {u.reference for u in inv.uses if u.role == "image"}
    assert f"{built_images.host}/team/declared:1.0" in images
    assert f"{built_images.host}/alpine:3.20.3" in images
    bases = [(u.location.name, u.reference, u.location.kind) for u in inv.uses if u.role == "base"]
    assert ("team/declared:1.0", "docker.io/library/alpine:3.20.3", "base-by-annotation") in bases
    # Without known bases, the silent image's base stays unknown rather than guessed.
    assert not any(name == "team/silent:2.0" for name, _, _ in bases)


def test_base_found_by_bottom_layers(built_images: RegistryServer) -> None:
    host = built_images.host
    with RegistryClient() as client:
        bases, issues = known_bases(client, [f"{host}/alpine:3.20.3"], DEFAULT_PLATFORM)
        assert issues == []
        inv = inventory_registry(client, f"{host}/team", platform=DEFAULT_PLATFORM, bases=bases)
    found = {(u.location.name, u.reference, u.location.kind) for u in inv.uses if u.role == "base"}
    assert ("team/silent:2.0", f"{host}/alpine:3.20.3", "base-by-layers") in found
    # The namespace filter kept only team/ repositories.
    assert all(u.location.name.startswith("team/") for u in inv.uses if u.location.name)


def test_cli_registry_inventory_json(built_images: RegistryServer, tmp_path: Path) -> None:
    env = {"BASEGUARD_CACHE_DIR": str(tmp_path / "cache"), "DOCKER_CONFIG": str(tmp_path)}
    done = run_baseguard(
        *("inventory", "--registry", f"{built_images.host}/team"),
        *("--base", f"{built_images.host}/alpine:3.20.3", "-o", "json"),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    refs = {i["reference"]: i for i in json.loads(done.stdout)["images"]}
    assert refs[f"{built_images.host}/alpine:3.20.3"]["roles"] == ["base"]
    assert refs["docker.io/library/alpine:3.20.3"]["roles"] == ["base"]
