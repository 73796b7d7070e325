"""Open any image the way skopeo and syft users write it.

``registry.example.com/ns/name:tag``, ``name@sha256:…``, ``docker://…``, ``registry:…``,
``oci:DIR[:tag]``, ``oci-archive:FILE[:tag]``, ``docker-archive:FILE[:NAME:TAG|:@N]``,
``dir:ROOTFS``, or a bare path whose kind is detected (OCI layout, image archive, root
directory, root filesystem tarball).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from baseguard.errors import (
    BaseguardError,
    ImageError,
    ImageNotFoundError,
    InvalidReferenceError,
    PlatformError,
    RegistryError,
    UsageError,
)
from baseguard.image.archive import (
    DEFAULT_MAX_ARCHIVE_BYTES,
    TarMembers,
    classify_tar,
    looks_like_tar,
    open_docker_archive,
)
from baseguard.image.layout import open_layout_archive, open_layout_dir
from baseguard.image.model import (
    DEFAULT_PLATFORM,
    Descriptor,
    Image,
    ImageConfig,
    Layer,
    Platform,
    sha256_stream,
)

TRANSPORTS = ("oci:", "oci-archive:", "docker-archive:", "dir:", "docker://", "registry:")

#: Progress callback: (what, bytes done, total bytes or None).
Progress = Callable[[str, int, int | None], None]


@dataclass
class OpenOptions:
    """How to open an image: platform, registry trust, limits and progress."""

    platform: Platform | None = None
    insecure: bool = False
    progress: Progress | None = None
    max_archive_bytes: int = DEFAULT_MAX_ARCHIVE_BYTES
    ca_file: str | None = None

    @property
    def wanted_platform(self) -> Platform:
        return self.platform or DEFAULT_PLATFORM


def split_transport(ref: str) -> tuple[str, str]:
    """``oci:dir:tag`` → (``oci``, ``dir:tag``); a plain reference → (``""``, ref)."""
    for prefix in TRANSPORTS:
        if ref.startswith(prefix):
            return prefix.rstrip(":/").rstrip(":"), ref[len(prefix) :]
    return "", ref


def split_path_and_suffix(rest: str) -> tuple[Path, str | None]:
    """``path:tag`` → (path, tag). A path that exists as written wins over a split."""
    if not rest:
        raise UsageError("an image path is required after the transport prefix")
    if Path(rest).exists() or ":" not in rest:
        return Path(rest), None
    path, _, suffix = rest.partition(":")
    return Path(path), suffix or None


def open_image(ref: str, options: OpenOptions | None = None) -> Image:
    """Open ``ref`` and return an :class:`Image` (a context manager that owns scratch files)."""
    opts = options or OpenOptions()
    transport, rest = split_transport(ref)
    if transport in ("docker", "registry"):
        return _open_registry(rest, ref, opts)
    if transport == "oci":
        path, tag = split_path_and_suffix(rest)
        _must_exist(path, ref, directory=True)
        return open_layout_dir(path, tag=tag, platform=opts.wanted_platform, reference=ref)
    if transport == "dir":
        path = Path(rest)
        _must_exist(path, ref, directory=True)
        return open_root_dir(path, ref)
    if transport in ("oci-archive", "docker-archive"):
        if transport == "docker-archive":
            path, selector = _split_docker_archive(rest)
        else:
            path, selector = split_path_and_suffix(rest)
        _must_exist(path, ref, directory=False)
        return _open_archive(path, transport, selector, ref, opts)
    candidate = Path(ref)
    if candidate.exists():
        return _open_detected(candidate, ref, opts)
    if ref.startswith((".", "/", "~")) or ref.endswith((".tar", ".tar.gz", ".tgz")):
        raise ImageNotFoundError(
            f"{ref}: no such file or directory",
            hint="check the path; registry references look like registry.example.com/ns/name:tag",
        )
    try:
        return _open_registry(ref, ref, opts)
    except (InvalidReferenceError, ImageNotFoundError, RegistryError) as exc:
        if not _is_bare_name(ref):
            raise
        # ``nope`` may be a mistyped path as well as a Docker Hub name: when it could not be
        # found or reached, say both, as typed (an image that was found keeps its own error).
        exc.message = f"{ref}: no such file or directory, and {_as_registry(ref)}: {exc.message}"
        exc.args = (exc.message,)
        raise


def _is_bare_name(ref: str) -> bool:
    """True for ``nope`` or ``team/app``: no registry host, no tag and no digest."""
    if "@" in ref or ":" in ref:
        return False
    first, slash, _ = ref.partition("/")
    return not (slash and ("." in first or first == "localhost"))


def _as_registry(ref: str) -> str:
    from baseguard.refs import parse_reference

    try:
        return f"{parse_reference(ref)} could not be fetched"
    except BaseguardError:
        return "not an image reference either"


def _must_exist(path: Path, ref: str, *, directory: bool) -> None:
    if not path.exists():
        raise ImageNotFoundError(f"{ref}: {path} does not exist")
    if directory and not path.is_dir():
        raise ImageError(f"{ref}: {path} is not a directory")
    if not directory and not path.is_file():
        raise ImageError(f"{ref}: {path} is not a file")


def _split_docker_archive(rest: str) -> tuple[Path, str | None]:
    if Path(rest).exists() or ":" not in rest:
        return Path(rest), None
    path, _, selector = rest.partition(":")
    return Path(path), selector or None


def _open_detected(path: Path, ref: str, opts: OpenOptions) -> Image:
    if path.is_dir():
        if (path / "index.json").is_file() and (path / "oci-layout").is_file():
            return open_layout_dir(path, tag=None, platform=opts.wanted_platform, reference=ref)
        return open_root_dir(path, ref)
    if not looks_like_tar(path):
        raise ImageError(
            f"{ref}: not an image (neither a directory nor a tar archive)",
            hint="give an OCI layout, a docker-archive, an oci-archive, a root directory or "
            "a root filesystem tarball",
        )
    kind = classify_tar(path)
    if kind == "rootfs":
        return open_rootfs_tarball(path, ref)
    return _open_archive(path, kind, None, ref, opts)


def _open_archive(
    path: Path, kind: str, selector: str | None, ref: str, opts: OpenOptions
) -> Image:
    scratch = tempfile.TemporaryDirectory(prefix="baseguard-")
    try:
        members = TarMembers(path, ref, Path(scratch.name), opts.max_archive_bytes)
        if kind == "docker-archive":
            image = open_docker_archive(members, selector=selector, reference=ref)
            _check_platform(image, opts, ref)
        else:
            image = open_layout_archive(
                members, tag=selector, platform=opts.wanted_platform, reference=ref
            )
    except BaseException:
        scratch.cleanup()
        raise
    image.adopt(scratch)
    return image


def _check_platform(image: Image, opts: OpenOptions, ref: str) -> None:
    """A single-platform image only fails an *explicit* --platform that it does not match."""
    if opts.platform is None or image.platform is None:
        return
    if not image.platform.matches(opts.platform):
        raise PlatformError(
            f"{ref}: the image is {image.platform}, not {opts.platform}",
            hint=f"platforms available: {image.platform}",
        )


def _open_registry(name: str, ref: str, opts: OpenOptions) -> Image:
    from baseguard.image.cache import BlobCache
    from baseguard.image.credentials import load_credentials
    from baseguard.image.registry import RegistryClient
    from baseguard.refs import parse_reference

    parsed = parse_reference(name)
    client = RegistryClient(
        insecure=opts.insecure,
        credentials=load_credentials(),
        cache=BlobCache(),
        progress=opts.progress,
        ca_file=opts.ca_file,
    )
    try:
        image = client.open_image(parsed, opts.wanted_platform)
    except BaseException:
        client.close()
        raise
    image.adopt(client)
    return image


class _SingleFileBlobs:
    """A blob store holding one file (a root filesystem tarball used as a layer)."""

    def __init__(self, path: Path, digest: str) -> None:
        self.path = path
        self.digest = digest

    def open_blob(self, digest: str) -> IO[bytes]:
        if digest != self.digest:
            raise ImageError(f"{self.path}: no blob {digest}")
        return self.path.open("rb")

    def blob_size(self, digest: str) -> int:
        return self.path.stat().st_size


def open_rootfs_tarball(path: Path, ref: str) -> Image:
    """A root filesystem tarball (like Alpine's minirootfs) as a one-layer image."""
    with path.open("rb") as fh:
        digest, _ = sha256_stream(fh)
    layer = Layer(
        0, Descriptor("application/vnd.oci.image.layer.v1.tar", digest, path.stat().st_size)
    )
    return Image(
        reference=ref,
        source="rootfs-archive",
        config=ImageConfig(),
        layers=[layer],
        blobs=_SingleFileBlobs(path, digest),
        name=None,
    )


def open_root_dir(path: Path, ref: str) -> Image:
    """A root filesystem directory (``dir:``) as an image without layers."""
    return Image(
        reference=ref,
        source="dir",
        config=ImageConfig(),
        layers=[],
        blobs=None,
        root_dir=path.resolve(),
    )
