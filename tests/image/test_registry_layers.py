"""A many-layer image pulled from the real registry: its layers are fetched and indexed at once.

The image is made here (layers that add, replace and delete each other's files), written as
an OCI layout, pushed to Debian's docker-registry with skopeo, and indexed through the
registry client with no blob cache (so every layer is downloaded into one scratch directory
by several threads at once). The index must equal the local layout's, read layer by layer.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from baseguard.image import layers
from baseguard.image.layers import build_fs
from baseguard.image.model import OCI_MANIFEST
from baseguard.image.registry import RegistryClient
from baseguard.image.source import open_image
from baseguard.refs import Reference, parse_reference
from tests.image.conftest import RegistryServer, skopeo_copy
from tests.image.layer_builders import TarBuilder, compress

pytestmark = pytest.mark.registry

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def _blob(layout: Path, data: bytes) -> dict[str, object]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
    return {"digest": digest, "size": len(data)}


def write_layout(dest: Path, tars: list[bytes], tag: str) -> Path:
    """An OCI layout of one linux/amd64 image whose layers are ``tars``, bottom first."""
    (dest / "blobs" / "sha256").mkdir(parents=True)
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    layer_descs = [{"mediaType": OCI_LAYER_GZIP, **_blob(dest, compress(t, "gzip"))} for t in tars]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {
            "type": "layers",
            "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars],
        },
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **_blob(dest, json.dumps(config).encode())},
        "layers": layer_descs,
    }
    desc = {"mediaType": OCI_MANIFEST, **_blob(dest, json.dumps(manifest).encode())}
    desc["annotations"] = {"org.opencontainers.image.ref.name": tag}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
    index["manifests"] = [desc]
    (dest / "index.json").write_text(json.dumps(index))
    return dest


def stacked_layers() -> list[bytes]:
    first = TarBuilder().dir("etc").file("etc/os-release", b"ID=test\n")
    for i in range(200):
        first.file(f"usr/lib/{i:03}.so", bytes([i % 256]) * (2000 + i))
    second = (
        TarBuilder().file("etc/os-release", b"ID=test\nVERSION_ID=2\n").whiteout("usr/lib/007.so")
    )
    third = TarBuilder().opaque("usr/lib").file("usr/lib/only.so", b"x" * 5000)
    fourth = TarBuilder().symlink("lib", "usr/lib").hardlink("etc/copy", "etc/os-release")
    return [t.build() for t in (first, second, third, fourth)]


def test_layers_fetched_at_once_index_like_the_local_layout(
    plain_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = write_layout(tmp_path / "layout", stacked_layers(), "4")
    skopeo_copy(f"oci:{layout}:4", f"docker://{plain_registry.host}/stacked:4")

    monkeypatch.setattr(layers, "LAYER_WORKERS", 1)
    local = build_fs(open_image(f"oci:{layout}:4"), capture=["etc/*"])

    monkeypatch.setattr(layers, "LAYER_WORKERS", 4)
    fetched: list[tuple[int, Path]] = []
    client = RegistryClient(cache=None, timeout=20.0)
    fetch_blob = client.fetch_blob

    def spy(ref: Reference, digest: str, size: int | None = None, **kw: Any) -> Path:
        fetched.append((threading.get_ident(), kw["cache"].root))
        return fetch_blob(ref, digest, size, **kw)

    monkeypatch.setattr(client, "fetch_blob", spy)
    with client, client.open_image(parse_reference(f"{plain_registry.host}/stacked:4")) as image:
        assert len(image.layers) == 4
        pulled = build_fs(image, capture=["etc/*"])
        assert sorted(pulled.entries.items()) == sorted(local.entries.items())
        assert pulled.captured == local.captured
        assert pulled.warnings == local.warnings
        assert pulled.read_bytes("lib/only.so") == b"x" * 5000
        assert "usr/lib/001.so" not in pulled.entries  # the opaque directory hid it
    assert len({thread for thread, _ in fetched}) > 1  # fetched from several threads ...
    roots = {root for _, root in fetched}
    assert len(roots) == 1  # ... into the image's one scratch directory ...
    assert not roots.pop().exists()  # ... removed when the image was closed


def test_one_client_scratch_directory_however_many_threads_ask_at_once() -> None:
    client = RegistryClient(cache=None)
    barrier = threading.Barrier(8)
    roots: list[Path] = []

    def ask() -> None:
        barrier.wait()
        roots.append(client._scratch_cache().root)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with client:
        assert len(roots) == 8  # every thread got one (a thread that raised adds none)
        assert len(set(roots)) == 1
        assert roots[0].is_dir()
    assert not roots[0].exists()
