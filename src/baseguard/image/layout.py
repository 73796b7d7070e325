"""OCI image layouts: a directory (``oci:DIR[:tag]``) or a tar of one (``oci-archive:FILE``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO

from baseguard.errors import ImageError, ImageNotFoundError
from baseguard.image.archive import TarMembers
from baseguard.image.manifest import image_from_manifest, resolve_to_manifest
from baseguard.image.model import (
    OCI_INDEX,
    Descriptor,
    Image,
    Platform,
    load_json,
    validate_digest,
)

MAX_JSON_BLOB = 4 << 20


def blob_path(digest: str) -> str:
    """The layout-relative path of a blob (``blobs/sha256/<hex>``), after validating it."""
    algo, _, hexpart = validate_digest(digest).partition(":")
    return f"blobs/{algo}/{hexpart}"


class LayoutDirBlobs:
    """Blobs of an OCI layout directory. Digests are validated, so no path can escape."""

    def __init__(self, root: Path, what: str) -> None:
        self.root = root
        self.what = what

    def _path(self, digest: str) -> Path:
        path = self.root / blob_path(digest)
        if not path.is_file() or path.is_symlink():
            raise ImageNotFoundError(
                f"{self.what}: blob {digest} is missing from the layout",
                hint="the OCI layout is incomplete; copy it again (skopeo copy … oci:DIR)",
            )
        return path

    def open_blob(self, digest: str) -> IO[bytes]:
        return self._path(digest).open("rb")

    def blob_size(self, digest: str) -> int:
        return self._path(digest).stat().st_size


class LayoutTarBlobs:
    """Blobs of an OCI layout held in a tar (an ``oci-archive``)."""

    def __init__(self, members: TarMembers, what: str) -> None:
        self.members = members
        self.what = what

    def _name(self, digest: str) -> str:
        name = blob_path(digest)
        if not self.members.has(name):
            raise ImageNotFoundError(f"{self.what}: blob {digest} is missing from the archive")
        return name

    def open_blob(self, digest: str) -> IO[bytes]:
        return self.members.open(self._name(digest))

    def blob_size(self, digest: str) -> int:
        return self.members.size(self._name(digest))


def _read_small(fh: IO[bytes], what: str) -> bytes:
    with fh:
        data = fh.read(MAX_JSON_BLOB + 1)
    if len(data) > MAX_JSON_BLOB:
        raise ImageError(f"{what}: larger than {MAX_JSON_BLOB} bytes; refusing to parse it")
    return data


def _open_layout(
    *,
    reference: str,
    source: str,
    index_bytes: bytes,
    blobs: LayoutDirBlobs | LayoutTarBlobs,
    tag: str | None,
    platform: Platform,
) -> Image:
    what = reference

    def fetch(desc: Descriptor) -> bytes:
        return _read_small(blobs.open_blob(desc.digest), f"{what}: blob {desc.digest}")

    index = load_json(index_bytes, f"{what}: index.json")
    if not isinstance(index, dict):
        raise ImageError(f"{what}: index.json is not a JSON object")
    if not index.get("manifests"):
        raise ImageError(
            f"{what}: index.json lists no images",
            hint="this layout is empty or only partly written",
        )
    manifest, digest, index_digest, annotations = resolve_to_manifest(
        index_bytes, None, OCI_INDEX, platform=platform, fetch=fetch, what=what, tag=tag
    )
    # ref.name is usually just a tag ("3.20.3"); only a full reference says which image it is.
    ref_name = annotations.get("org.opencontainers.image.ref.name", "")
    name = annotations.get("io.containerd.image.name") or (
        ref_name if ("/" in ref_name or ":" in ref_name) else None
    )
    return image_from_manifest(
        reference=reference,
        source=source,
        manifest_bytes=manifest,
        manifest_digest=digest,
        fetch=fetch,
        blobs=blobs,
        name=name,
        index_digest=index_digest,
        annotations=annotations,
    )


def open_layout_dir(path: Path, *, tag: str | None, platform: Platform, reference: str) -> Image:
    """Open the image ``tag`` (or the only/platform-matching one) from an OCI layout dir."""
    index_path = path / "index.json"
    if not index_path.is_file():
        raise ImageError(
            f"{reference}: {path} is not an OCI layout (no index.json)",
            hint="an OCI layout has oci-layout, index.json and blobs/; use dir: for a root "
            "filesystem",
        )
    _check_layout_marker(
        (path / "oci-layout").read_bytes() if (path / "oci-layout").is_file() else None, reference
    )
    blobs = LayoutDirBlobs(path, reference)
    with index_path.open("rb") as fh:
        index_bytes = _read_small(fh, f"{reference}: index.json")
    return _open_layout(
        reference=reference,
        source="oci",
        index_bytes=index_bytes,
        blobs=blobs,
        tag=tag,
        platform=platform,
    )


def open_layout_archive(
    members: TarMembers, *, tag: str | None, platform: Platform, reference: str
) -> Image:
    """Open an image from an OCI layout stored in a tar file."""
    if not members.has("index.json"):
        raise ImageError(f"{reference}: not an OCI archive (no index.json in the tar)")
    marker = members.read("oci-layout", MAX_JSON_BLOB) if members.has("oci-layout") else None
    _check_layout_marker(marker, reference)
    index_bytes = members.read("index.json", MAX_JSON_BLOB)
    return _open_layout(
        reference=reference,
        source="oci-archive",
        index_bytes=index_bytes,
        blobs=LayoutTarBlobs(members, reference),
        tag=tag,
        platform=platform,
    )


def _check_layout_marker(data: bytes | None, reference: str) -> None:
    if data is None:
        return
    try:
        version = json.loads(data).get("imageLayoutVersion")
    except (ValueError, AttributeError):
        raise ImageError(f"{reference}: oci-layout file is not valid JSON") from None
    if version != "1.0.0":
        raise ImageError(f"{reference}: unsupported OCI layout version {version!r}")
