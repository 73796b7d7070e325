"""The analysis of one image: identity, distro and attack-surface facts.

:class:`Analysis` is the pivot of baseguard (see docs/architecture.md): what a scan produces
and what later stages (SBOM, matching, store) consume. This module opens the image, builds
the merged file view once, and runs the fact collectors over it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baseguard import __version__
from baseguard.analysis.distro import Distro, detect_distro
from baseguard.analysis.hardening import Facts, collect_facts
from baseguard.image.fs import ImageFS
from baseguard.image.layers import Limits, build_fs
from baseguard.image.model import Image
from baseguard.image.rootfs import build_fs_from_dir
from baseguard.image.source import OpenOptions, open_image

SCHEMA_VERSION = "1"

#: Small files every analysis reads; captured while the layers are indexed (one pass).
CAPTURE = (
    "etc/os-release",
    "usr/lib/os-release",
    "etc/alpine-release",
    "etc/debian_version",
    "etc/redhat-release",
    "etc/system-release",
    "etc/passwd",
    "etc/group",
)


@dataclass
class ImageIdentity:
    """Which image was analysed, as precisely as its source allows."""

    reference: str
    source: str
    name: str | None
    manifest_digest: str | None
    index_digest: str | None
    config_digest: str | None
    layer_digests: list[str]
    platform: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "source": self.source,
            "name": self.name,
            "manifestDigest": self.manifest_digest,
            "indexDigest": self.index_digest,
            "configDigest": self.config_digest,
            "platform": self.platform,
            "layers": list(self.layer_digests),
        }


@dataclass
class Analysis:
    """Everything baseguard learned about one image."""

    image: ImageIdentity
    distro: Distro
    facts: Facts
    warnings: list[str] = field(default_factory=list)
    analyzed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "baseguard", "version": __version__},
            "analyzedAt": self.analyzed_at.isoformat() if self.analyzed_at else None,
            "image": self.image.to_dict(),
            "distro": self.distro.to_dict(),
            "facts": self.facts.to_dict(),
            "warnings": list(self.warnings),
        }


def identity_of(image: Image, fs: ImageFS) -> ImageIdentity:
    platform = image.platform
    return ImageIdentity(
        reference=image.reference,
        source=image.source,
        name=image.name,
        manifest_digest=image.manifest_digest,
        index_digest=image.index_digest,
        config_digest=image.config_digest,
        layer_digests=[layer.digest for layer in image.layers],
        platform=str(platform) if platform else None,
    )


def open_fs(
    image: Image,
    limits: Limits | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImageFS:
    """The merged file view of ``image``, whatever its source."""
    if image.root_dir is not None:
        return build_fs_from_dir(image.root_dir, limits=limits, capture=CAPTURE)
    return build_fs(image, limits=limits, capture=CAPTURE, progress=progress)


def analyze_image(
    image: Image,
    *,
    limits: Limits | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Analyse an opened image."""
    moment = now or datetime.now(UTC)
    fs = open_fs(image, limits, progress)
    distro = detect_distro(fs)
    facts = collect_facts(image, fs, now=moment)
    return Analysis(
        image=identity_of(image, fs),
        distro=distro,
        facts=facts,
        warnings=list(fs.warnings),
        analyzed_at=moment,
    )


def analyze(
    ref: str,
    options: OpenOptions | None = None,
    *,
    limits: Limits | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Analysis:
    """Open ``ref`` (any supported source) and analyse it."""
    with open_image(ref, options) as image:
        return analyze_image(image, limits=limits, now=now, progress=progress)
