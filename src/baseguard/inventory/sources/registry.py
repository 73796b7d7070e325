"""Registry inventory: repositories and tags, and the base image of each built image.

The base image comes from the image's own word first (the OCI annotations or labels
``org.opencontainers.image.base.name`` / ``.digest``), and failing that from its layers: an
image whose bottom layers are exactly a known base image's layers is built on it (the longest
such base wins).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from baseguard.errors import BaseguardError
from baseguard.image.model import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, Image, Platform
from baseguard.image.registry import RegistryClient
from baseguard.inventory.model import ImageUse, InventoryIssue, Location
from baseguard.inventory.sources.base import normalise
from baseguard.refs import parse_reference


@dataclass
class KnownBase:
    """A base image and its layer digests, bottom first."""

    reference: str
    layers: tuple[str, ...]


@dataclass
class RegistryInventory:
    uses: list[ImageUse] = field(default_factory=list)
    issues: list[InventoryIssue] = field(default_factory=list)
    images: int = 0


def declared_base(image: Image) -> tuple[str | None, str | None]:
    """(name, digest) the image declares as its base, from annotations or labels."""
    for source in (image.annotations, image.config.labels):
        name = source.get(ANNOTATION_BASE_NAME)
        if name:
            return name, source.get(ANNOTATION_BASE_DIGEST)
    return None, None


def base_by_layers(layers: list[str], known: Iterable[KnownBase]) -> KnownBase | None:
    """The known base whose whole layer list is a proper prefix of ``layers`` (longest wins)."""
    best: KnownBase | None = None
    for base in known:
        n = len(base.layers)
        if (
            0 < n < len(layers)
            and tuple(layers[:n]) == base.layers
            and (best is None or n > len(best.layers))
        ):
            best = base
    return best


def known_bases(
    client: RegistryClient, refs: Iterable[str], platform: Platform
) -> tuple[list[KnownBase], list[InventoryIssue]]:
    """Open each reference (manifest and config only) to learn its layers."""
    bases: list[KnownBase] = []
    issues: list[InventoryIssue] = []
    for raw in refs:
        try:
            ref = parse_reference(raw)
            with client.open_image(ref, platform) as image:
                bases.append(KnownBase(str(ref), tuple(layer.digest for layer in image.layers)))
        except BaseguardError as exc:
            issues.append(InventoryIssue(raw, f"known base image not readable: {exc.message}"))
    return bases, issues


def inventory_registry(
    client: RegistryClient,
    spec: str,
    *,
    platform: Platform,
    bases: list[KnownBase] | None = None,
    max_tags: int | None = None,
) -> RegistryInventory:
    """Every repository (under ``HOST[/NAMESPACE]``) and tag, with its base image when known."""
    host, _, namespace = spec.partition("/")
    prefix = f"{namespace.strip('/')}/" if namespace else ""
    out = RegistryInventory()
    where = f"registry:{host}"
    for repo in client.catalog(host):
        if prefix and not repo.startswith(prefix):
            continue
        try:
            tags = client.list_tags(f"{host}/{repo}")
        except BaseguardError as exc:
            out.issues.append(InventoryIssue(f"{host}/{repo}", exc.message))
            continue
        for tag in sorted(tags)[:max_tags]:
            name = f"{host}/{repo}:{tag}"
            ref = normalise(name)
            if ref is None:
                out.issues.append(InventoryIssue(name, "invalid reference"))
                continue
            try:
                with client.open_image(parse_reference(name), platform) as image:
                    out.images += 1
                    digest = image.manifest_digest
                    out.uses.append(
                        ImageUse(
                            ref,
                            name,
                            "image",
                            "registry",
                            Location(file=where, name=f"{repo}:{tag}"),
                            digest=digest,
                        )
                    )
                    self_layers = [layer.digest for layer in image.layers]
                    base_name, base_digest = declared_base(image)
                    how = "annotation"
                    if base_name is None and bases:
                        match = base_by_layers(self_layers, bases)
                        if match is not None:
                            base_name, how = match.reference, "layers"
            except BaseguardError as exc:
                out.issues.append(InventoryIssue(name, exc.message))
                continue
            if base_name is None:
                continue
            base_ref = normalise(base_name)
            if base_ref is None:
                out.issues.append(InventoryIssue(name, f"invalid base image name {base_name!r}"))
                continue
            out.uses.append(
                ImageUse(
                    base_ref,
                    base_name,
                    "base",
                    "registry",
                    Location(file=where, name=f"{repo}:{tag}", kind=f"base-by-{how}"),
                    digest=base_digest,
                )
            )
    return out
