"""The analysis of one image: identity, distro and attack-surface facts.

:class:`Analysis` is the pivot of baseguard (see docs/architecture.md): what a scan produces
and what later stages (SBOM, matching, store) consume. This module opens the image, builds
the merged file view once, and runs the fact collectors over it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from baseguard import __version__
from baseguard.analysis.catalogers import default_catalogers
from baseguard.analysis.catalogers.base import (
    CatalogContext,
    Cataloger,
    all_capture_patterns,
)
from baseguard.analysis.distro import Distro, detect_distro
from baseguard.analysis.hardening import Facts, collect_facts
from baseguard.analysis.packages import CatalogIssue, Package, sort_packages
from baseguard.errors import AnalysisError
from baseguard.image.fs import ImageFS, Inspector
from baseguard.image.layers import Limits, build_fs
from baseguard.image.model import Image, parse_time
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
    facts: Facts | None
    packages: list[Package] = field(default_factory=list)
    issues: list[CatalogIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    analyzed_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "tool": {"name": "baseguard", "version": __version__},
            "analyzedAt": self.analyzed_at.isoformat() if self.analyzed_at else None,
            "image": self.image.to_dict(),
            "distro": self.distro.to_dict(),
            "facts": self.facts.to_dict() if self.facts else None,
            "packages": [p.to_dict() for p in self.packages],
            "issues": [i.to_dict() for i in self.issues],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Analysis:
        """Read back what :meth:`to_dict` wrote (baseguard's own ``-o json``)."""
        img = data.get("image") or {}
        facts = data.get("facts")
        return cls(
            image=ImageIdentity(
                reference=str(img.get("reference", "")),
                source=str(img.get("source", "")),
                name=img.get("name"),
                manifest_digest=img.get("manifestDigest"),
                index_digest=img.get("indexDigest"),
                config_digest=img.get("configDigest"),
                layer_digests=list(img.get("layers") or []),
                platform=img.get("platform"),
            ),
            distro=Distro.from_dict(data.get("distro") or {}),
            facts=Facts.from_dict(facts) if isinstance(facts, dict) else None,
            packages=[Package.from_dict(p) for p in data.get("packages") or []],
            issues=[
                CatalogIssue(str(i.get("cataloger")), str(i.get("path")), str(i.get("message")))
                for i in data.get("issues") or []
            ],
            warnings=list(data.get("warnings") or []),
            analyzed_at=parse_time(data.get("analyzedAt")),
        )


def identity_of(image: Image) -> ImageIdentity:
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
    capture: tuple[str, ...] = CAPTURE,
    inspectors: Sequence[Inspector] = (),
) -> ImageFS:
    """The merged file view of ``image``, whatever its source."""
    if image.root_dir is not None:
        return build_fs_from_dir(image.root_dir, limits=limits, capture=capture)
    return build_fs(image, limits=limits, capture=capture, progress=progress, inspectors=inspectors)


def run_catalogers(
    fs: ImageFS, ctx: CatalogContext, catalogers: list[Cataloger], *, strict: bool = False
) -> tuple[list[Package], list[CatalogIssue]]:
    """Run every cataloger; one that fails on a file records an issue and the scan goes on."""
    packages: list[Package] = []
    issues: list[CatalogIssue] = []
    for cataloger in catalogers:
        try:
            result = cataloger.catalog(fs, ctx)
        except Exception as exc:  # a cataloger bug must not lose the other catalogers' work
            issues.append(CatalogIssue(cataloger.name, "/", f"{type(exc).__name__}: {exc}"))
            continue
        packages.extend(result.packages)
        issues.extend(result.issues)
    if strict and issues:
        raise AnalysisError(
            f"{len(issues)} file(s) could not be catalogued; first: {issues[0]}",
            hint="drop --strict to record these as issues and go on",
        )
    return sort_packages(packages), issues


def analyze_image(
    image: Image,
    *,
    limits: Limits | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    catalogers: list[Cataloger] | None = None,
    strict: bool = False,
) -> Analysis:
    """Analyse an opened image: distro, facts and packages (all catalogers by default)."""
    moment = now or datetime.now(UTC)
    chosen = default_catalogers() if catalogers is None else catalogers
    capture = CAPTURE + all_capture_patterns(chosen)
    inspectors = [i for i in (c.inspector() for c in chosen) if i is not None]
    fs = open_fs(image, limits, progress, capture, inspectors)
    distro = detect_distro(fs)
    facts = collect_facts(image, fs, now=moment)
    ctx = CatalogContext(distro=distro, architecture=image.config.architecture or None)
    packages, issues = run_catalogers(fs, ctx, chosen, strict=strict)
    return Analysis(
        image=identity_of(image),
        distro=distro,
        facts=facts,
        packages=packages,
        issues=issues,
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
    catalogers: list[Cataloger] | None = None,
    strict: bool = False,
) -> Analysis:
    """Open ``ref`` (any supported source) and analyse it."""
    with open_image(ref, options) as image:
        return analyze_image(
            image,
            limits=limits,
            now=now,
            progress=progress,
            catalogers=catalogers,
            strict=strict,
        )
