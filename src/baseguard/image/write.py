"""Write a single-platform OCI image layout from layer tarballs (tests, demos, benchmarks).

Deterministic: the same layers and config give the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
from pathlib import Path
from typing import IO, Any, cast

from baseguard.image.archive import compression_of
from baseguard.image.model import sha256_stream


def _digest_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as fh:
        return sha256_stream(fh)


def _diff_id(path: Path) -> str:
    with path.open("rb") as raw:
        head = raw.read(4)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if compression_of(head) == "gzip" else raw
        return sha256_stream(cast(IO[bytes], stream))[0]


def _put(root: Path, data: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def write_oci_layout(
    dest: Path,
    layers: list[Path],
    *,
    config: dict[str, Any] | None = None,
    tag: str = "latest",
    architecture: str = "amd64",
    os_name: str = "linux",
    created: str = "2024-01-01T00:00:00Z",
    annotations: dict[str, str] | None = None,
) -> str:
    """Write an OCI layout at ``dest`` with ``layers`` (tar or tar.gz files, bottom first).

    ``config`` is the inner ``config`` object (User, Cmd, Labels…). Returns the manifest digest.
    """
    if dest.exists():
        shutil.rmtree(dest)
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    layer_descs = []
    diff_ids = []
    for path in layers:
        digest, size = _digest_file(path)
        shutil.copyfile(path, blobs / digest.partition(":")[2])
        gz = compression_of(path.open("rb").read(4)) == "gzip"
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
        layer_descs.append({"mediaType": media, "digest": digest, "size": size})
        diff_ids.append(_diff_id(path))
    config_doc = {
        "created": created,
        "architecture": architecture,
        "os": os_name,
        "config": config or {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    config_desc = _put(dest, json.dumps(config_doc, sort_keys=True).encode())
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_desc},
        "layers": layer_descs,
    }
    if annotations:
        manifest["annotations"] = dict(sorted(annotations.items()))
    manifest_desc = _put(dest, json.dumps(manifest, sort_keys=True).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_desc,
                "platform": {"architecture": architecture, "os": os_name},
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (dest / "index.json").write_text(json.dumps(index, sort_keys=True))
    (dest / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return str(manifest_desc["digest"])
