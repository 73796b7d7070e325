"""What an opened image is: descriptors, platform, config, layers and where blobs come from.

Every image source (registry, OCI layout, archives, root directory) produces an
:class:`Image`. Blobs are reached through a :class:`BlobStore`, which always gives a
seekable local file so that layers can be indexed once and single files re-read later.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from baseguard.errors import DigestMismatchError, ImageError, PlatformError

# Media types we understand.
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})

ANNOTATION_BASE_NAME = "org.opencontainers.image.base.name"
ANNOTATION_BASE_DIGEST = "org.opencontainers.image.base.digest"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True, order=True)
class Platform:
    """An OS/architecture[/variant] pair, written ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise PlatformError(
                f"invalid platform {text!r}",
                hint="write it as OS/ARCH or OS/ARCH/VARIANT, for example linux/amd64",
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Platform:
        return cls(
            str(data.get("os", "")),
            str(data.get("architecture", "")),
            data.get("variant") or None,
        )

    def matches(self, wanted: Platform) -> bool:
        """True if this platform satisfies ``wanted`` (a missing wanted variant matches any)."""
        if (self.os, self.architecture) != (wanted.os, wanted.architecture):
            return False
        if wanted.variant is None:
            return True
        # arm64 images usually omit "v8"; treat it as the default.
        mine = self.variant or ("v8" if self.architecture == "arm64" else None)
        return mine == wanted.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


DEFAULT_PLATFORM = Platform("linux", "amd64")


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a blob is, its digest and size."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Descriptor:
        try:
            digest = str(data["digest"])
            size = int(data.get("size", -1))
        except (KeyError, TypeError, ValueError) as exc:
            raise ImageError(f"malformed descriptor {data!r}: {exc}") from exc
        validate_digest(digest)
        plat = data.get("platform")
        return cls(
            media_type=str(data.get("mediaType", "")),
            digest=digest,
            size=size,
            annotations=dict(data.get("annotations") or {}),
            platform=Platform.from_json(plat) if isinstance(plat, dict) else None,
        )


_HEX = frozenset("0123456789abcdef")


def validate_digest(digest: str) -> str:
    """Check that ``digest`` is ``sha256:<64 hex>`` (or sha512) and return it."""
    algo, _, hexpart = digest.partition(":")
    lengths = {"sha256": 64, "sha512": 128}
    if algo not in lengths or len(hexpart) != lengths[algo] or not set(hexpart) <= _HEX:
        raise ImageError(
            f"invalid digest {digest!r}",
            hint="digests look like sha256: followed by 64 lowercase hex characters",
        )
    return digest


def hasher_for(digest: str) -> Any:
    """A fresh hashlib object for the algorithm named in ``digest``."""
    return hashlib.new(digest.partition(":")[0])


def verify_bytes(data: bytes, digest: str, what: str) -> bytes:
    """Return ``data`` if it hashes to ``digest``; raise :class:`DigestMismatchError` if not."""
    h = hasher_for(digest)
    h.update(data)
    actual = f"{digest.partition(':')[0]}:{h.hexdigest()}"
    if actual != digest:
        raise DigestMismatchError(
            f"{what}: content does not match its digest (expected {digest}, got {actual})",
            hint="the source is corrupt or has been tampered with; do not trust this image",
        )
    return data


def load_json(data: bytes, what: str) -> Any:
    """Parse JSON bytes, raising :class:`ImageError` naming ``what`` on failure."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{what}: not valid JSON ({exc})") from exc


def _str_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value]
    return []


def parse_time(value: Any) -> datetime | None:
    """Parse an RFC 3339 timestamp as written in image configs (nanoseconds allowed)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Python accepts at most microseconds: trim longer fractions.
    if "." in text:
        head, _, rest = text.partition(".")
        frac = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            frac += rest[i]
            i += 1
        text = f"{head}.{frac[:6]}{rest[i:]}" if frac else f"{head}{rest[i:]}"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


@dataclass
class ImageConfig:
    """The parts of an image config (OCI or Docker) that baseguard uses."""

    architecture: str = ""
    os: str = ""
    variant: str | None = None
    user: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)
    created: datetime | None = None
    diff_ids: list[str] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any, what: str = "image config") -> ImageConfig:
        if not isinstance(data, dict):
            raise ImageError(f"{what}: expected a JSON object")
        inner = data.get("config") or data.get("container_config") or {}
        if not isinstance(inner, dict):
            inner = {}
        rootfs = data.get("rootfs") or {}
        labels = inner.get("Labels") or {}
        return cls(
            architecture=str(data.get("architecture", "")),
            os=str(data.get("os", "")),
            variant=data.get("variant") or None,
            user=str(inner.get("User") or ""),
            entrypoint=_str_list(inner.get("Entrypoint")),
            cmd=_str_list(inner.get("Cmd")),
            env=_str_list(inner.get("Env")),
            working_dir=str(inner.get("WorkingDir") or ""),
            labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
            exposed_ports=sorted(str(p) for p in (inner.get("ExposedPorts") or {})),
            created=parse_time(data.get("created")),
            diff_ids=_str_list(rootfs.get("diff_ids") if isinstance(rootfs, dict) else None),
            history=[h for h in (data.get("history") or []) if isinstance(h, dict)],
        )

    @property
    def platform(self) -> Platform | None:
        if not self.os or not self.architecture:
            return None
        return Platform(self.os, self.architecture, self.variant)


class BlobStore(Protocol):
    """Where an image's blobs live. ``open_blob`` returns a seekable binary file.

    Implementations verify digests as they make blobs available (registry downloads) or
    leave it to the reader that consumes the whole blob (layer indexing, config loading).
    """

    def open_blob(self, digest: str) -> IO[bytes]: ...

    def blob_size(self, digest: str) -> int: ...


@dataclass
class Layer:
    """One filesystem layer of an image, bottom first."""

    index: int
    descriptor: Descriptor
    diff_id: str | None = None

    @property
    def digest(self) -> str:
        return self.descriptor.digest

    @property
    def media_type(self) -> str:
        return self.descriptor.media_type


@dataclass
class Image:
    """An opened image: identity, config, layers, and the blob store to read them from.

    Use as a context manager (or call :meth:`close`) so scratch files are removed.
    """

    reference: str
    source: str
    config: ImageConfig
    layers: list[Layer]
    blobs: BlobStore | None
    name: str | None = None
    manifest_digest: str | None = None
    index_digest: str | None = None
    config_digest: str | None = None
    manifest: dict[str, Any] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    root_dir: Path | None = None
    _resources: ExitStack = field(default_factory=ExitStack, repr=False)

    @property
    def platform(self) -> Platform | None:
        return self.config.platform

    @property
    def compressed_size(self) -> int:
        return sum(max(layer.descriptor.size, 0) for layer in self.layers)

    def adopt(self, resource: AbstractContextManager[Any]) -> None:
        """Keep ``resource`` open until the image is closed."""
        self._resources.enter_context(resource)

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> Image:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_stream(fh: IO[bytes]) -> tuple[str, int]:
    """``sha256:<hex>`` of what ``fh`` still holds, and how many bytes that was."""
    h = hashlib.sha256()
    size = 0
    while chunk := fh.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return f"sha256:{h.hexdigest()}", size
