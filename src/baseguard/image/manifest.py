"""Manifests and indexes, shared by every source: pick a platform, read a manifest, build an Image.

Registries, OCI layouts and OCI archives all hand us the same JSON documents; this module
turns them into an :class:`~baseguard.image.model.Image` so each source only has to say how
to fetch a blob.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from baseguard.errors import ImageError, PlatformError
from baseguard.image.model import (
    ANNOTATION_REF_NAME,
    INDEX_TYPES,
    MANIFEST_TYPES,
    BlobStore,
    Descriptor,
    Image,
    ImageConfig,
    Layer,
    Platform,
    load_json,
    verify_bytes,
)

#: Fetches a blob (manifest, index or config) by descriptor, verified against its digest.
FetchJson = Callable[[Descriptor], bytes]

MAX_INDEX_DEPTH = 4


def media_type_of(doc: dict[str, Any], fallback: str = "") -> str:
    """The media type a manifest/index says it is, or a guess from its shape."""
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    if fallback:
        return fallback
    if "manifests" in doc:
        return "application/vnd.oci.image.index.v1+json"
    if "layers" in doc:
        return "application/vnd.oci.image.manifest.v1+json"
    return ""


def is_index(doc: dict[str, Any], media_type: str = "") -> bool:
    return media_type_of(doc, media_type) in INDEX_TYPES or (
        "manifests" in doc and "layers" not in doc
    )


def select_from_index(
    doc: dict[str, Any], platform: Platform, what: str, tag: str | None = None
) -> Descriptor:
    """Choose the manifest descriptor for ``platform`` from an index.

    Entries without a platform (as in single-image OCI layouts) are taken when they are the
    only candidate, or when ``tag`` matches their ``org.opencontainers.image.ref.name``.
    """
    manifests = doc.get("manifests") or []
    if not isinstance(manifests, list):
        raise ImageError(f"{what}: 'manifests' is not a list")
    descs = [Descriptor.from_json(m) for m in manifests if isinstance(m, dict)]
    if tag is not None:
        named = [
            d
            for d in descs
            if d.annotations.get(ANNOTATION_REF_NAME) in (tag, None)
            or d.annotations.get(ANNOTATION_REF_NAME, "").endswith(f":{tag}")
        ]
        tagged = [d for d in named if ANNOTATION_REF_NAME in d.annotations]
        descs = tagged or named
        if not descs:
            names = sorted(
                {str(m.get("annotations", {}).get(ANNOTATION_REF_NAME)) for m in manifests}
            )
            raise ImageError(
                f"{what}: no image tagged {tag!r}",
                hint=f"tags present: {', '.join(names) or 'none'}",
            )
    if not descs:
        raise ImageError(f"{what}: the index lists no manifests")
    with_platform = [d for d in descs if d.platform is not None and d.platform.os != "unknown"]
    matching = [d for d in with_platform if d.platform and d.platform.matches(platform)]
    if matching:
        return matching[0]
    without = [d for d in descs if d.platform is None]
    if len(without) == 1 and not with_platform:
        return without[0]
    if without and not with_platform:
        return without[0]
    if not with_platform and len(descs) == 1:
        return descs[0]
    available = sorted({str(d.platform) for d in with_platform if d.platform})
    raise PlatformError(
        f"{what}: no image for platform {platform}",
        hint=f"platforms available: {', '.join(available) or 'none'}; choose one with --platform",
    )


def image_from_manifest(
    *,
    reference: str,
    source: str,
    manifest_bytes: bytes,
    manifest_digest: str | None,
    fetch: FetchJson,
    blobs: BlobStore,
    name: str | None = None,
    index_digest: str | None = None,
    annotations: dict[str, str] | None = None,
) -> Image:
    """Build an :class:`Image` from an image manifest; ``fetch`` gives verified config bytes."""
    what = f"{reference}: manifest {manifest_digest or ''}".rstrip()
    doc = load_json(manifest_bytes, what)
    if not isinstance(doc, dict):
        raise ImageError(f"{what}: expected a JSON object")
    mt = media_type_of(doc)
    if mt and mt not in MANIFEST_TYPES:
        raise ImageError(
            f"{what}: unsupported manifest type {mt!r}",
            hint="baseguard reads OCI image manifests and Docker schema 2 manifests",
        )
    if doc.get("schemaVersion") == 1:
        raise ImageError(f"{what}: Docker schema 1 manifests are not supported")
    try:
        config_desc = Descriptor.from_json(doc["config"])
        layer_descs = [Descriptor.from_json(x) for x in doc.get("layers") or []]
    except (KeyError, TypeError) as exc:
        raise ImageError(f"{what}: missing field {exc}") from exc
    config_bytes = verify_bytes(fetch(config_desc), config_desc.digest, f"{reference}: config")
    config = ImageConfig.from_json(load_json(config_bytes, f"{reference}: config"))
    diff_ids = config.diff_ids
    layers = [
        Layer(i, d, diff_ids[i] if i < len(diff_ids) else None) for i, d in enumerate(layer_descs)
    ]
    merged = dict(annotations or {})
    merged.update({str(k): str(v) for k, v in (doc.get("annotations") or {}).items()})
    return Image(
        reference=reference,
        source=source,
        config=config,
        layers=layers,
        blobs=blobs,
        name=name,
        manifest_digest=manifest_digest,
        index_digest=index_digest,
        config_digest=config_desc.digest,
        manifest=doc,
        annotations=merged,
    )


def resolve_to_manifest(
    doc_bytes: bytes,
    doc_digest: str | None,
    media_type: str,
    *,
    platform: Platform,
    fetch: FetchJson,
    what: str,
    tag: str | None = None,
) -> tuple[bytes, str | None, str | None, dict[str, str]]:
    """Walk (possibly nested) indexes down to one image manifest.

    Returns the manifest bytes, its digest, the digest of the top index (if any) and the
    annotations of the descriptor that pointed at it.
    """
    top_index: str | None = None
    annotations: dict[str, str] = {}
    depth = 0
    current, current_digest, current_type = doc_bytes, doc_digest, media_type
    while True:
        doc = load_json(current, what)
        if not isinstance(doc, dict):
            raise ImageError(f"{what}: expected a JSON object")
        if not is_index(doc, current_type):
            return current, current_digest, top_index, annotations
        depth += 1
        if depth > MAX_INDEX_DEPTH:
            raise ImageError(f"{what}: indexes nested more than {MAX_INDEX_DEPTH} deep")
        if top_index is None:
            top_index = current_digest
        desc = select_from_index(doc, platform, what, tag=tag if depth == 1 else None)
        annotations.update(desc.annotations)
        current = verify_bytes(fetch(desc), desc.digest, f"{what}: {desc.digest}")
        current_digest, current_type = desc.digest, desc.media_type
