"""CycloneDX 1.6 JSON: the image as ``metadata.component``, one component per package.

Mapping (docs/sbom.md has the full table):

* ``metadata.component``: type ``container``, name = registry name or reference, version =
  manifest digest, purl ``pkg:oci/…`` when the registry name is known; properties carry
  the image identity (``baseguard:image:*``), the distro (``baseguard:distro:*``) and the
  attack-surface facts (``baseguard:facts:*``).
* ``components``: an ``operating-system`` component for the distro, then one ``library`` per
  package with ``baseguard:package:*`` properties and its locations as
  ``evidence.occurrences``.
* ``dependencies``: image → top-level packages (and the OS); package → its resolved depends.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from baseguard import __version__
from baseguard.sbom.base import (
    ANALYZED_AT,
    IMAGE_NS,
    ISSUE_NS,
    PACKAGE_NS,
    TOOL_NAME,
    WARNING_NS,
    SbomFormat,
    compact_json,
    dependency_edges,
    distro_properties,
    document_uuid,
    encode_value,
    facts_properties,
    image_purl,
    image_ref,
    license_kind,
    license_refs,
    os_ref,
    package_refs,
    render_json,
    spdx_expression,
    timestamp,
    top_level,
)

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis, ImageIdentity
    from baseguard.analysis.distro import Distro
    from baseguard.analysis.packages import Package

SPEC_VERSION = "1.6"
SCHEMA_URL = "http://cyclonedx.org/schema/bom-1.6.schema.json"


def _props(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def image_properties(image: ImageIdentity) -> list[tuple[str, str]]:
    """``baseguard:image:*``: every field of the identity; layers as ``layer:<index>``."""
    out = [(IMAGE_NS + "reference", image.reference), (IMAGE_NS + "source", image.source)]
    for key, value in (
        ("name", image.name),
        ("manifestDigest", image.manifest_digest),
        ("indexDigest", image.index_digest),
        ("configDigest", image.config_digest),
        ("platform", image.platform),
    ):
        if value is not None:
            out.append((IMAGE_NS + key, value))
    out.extend((f"{IMAGE_NS}layer:{i}", digest) for i, digest in enumerate(image.layer_digests))
    return out


def cdx_licenses(licenses: list[str], refs: dict[str, str]) -> tuple[list[dict[str, Any]], bool]:
    """The ``licenses`` array, and whether it cannot hold the list exactly.

    Each entry becomes ``license.id`` (a listed SPDX id) or ``license.name`` (anything
    else); a compound SPDX expression becomes ``expression``. The schema allows only one
    expression and no mixing, so several entries including an expression are joined with
    AND (free text as ``LicenseRef-``) and the exact list goes in a property.
    """
    if not licenses:
        return [], False
    kinds = [license_kind(text) for text in licenses]
    if len(licenses) == 1 and kinds[0] == "expression":
        return [{"expression": licenses[0]}], False
    if "expression" not in kinds:
        out: list[dict[str, Any]] = []
        for text, kind in zip(licenses, kinds, strict=True):
            out.append({"license": {"id": text} if kind == "id" else {"name": text}})
        return out, False
    expression = spdx_expression(licenses, refs)
    return [{"expression": expression}], True


def os_component(distro: Distro) -> dict[str, Any] | None:
    """The distro as an ``operating-system`` component (as syft and trivy write it)."""
    if distro.id is None:
        return None
    comp: dict[str, Any] = {"type": "operating-system", "bom-ref": os_ref(distro)}
    comp["name"] = distro.id
    version = distro.version_id or distro.version
    if version:
        comp["version"] = version
    if distro.pretty_name:
        comp["description"] = distro.pretty_name
    return comp


def image_component(analysis: Analysis) -> dict[str, Any]:
    image = analysis.image
    comp: dict[str, Any] = {
        "type": "container",
        "bom-ref": image_ref(image),
        "name": image.name or image.reference,
    }
    if image.manifest_digest:
        comp["version"] = image.manifest_digest
    purl = image_purl(image)
    if purl:
        comp["purl"] = purl
    facts = analysis.facts
    if facts is not None and facts.base_image is not None:
        base_name, base_digest = facts.base_image["name"], facts.base_image["digest"]
        ancestor: dict[str, Any] = {"type": "container", "name": base_name or base_digest}
        if base_digest:
            ancestor["version"] = base_digest
        comp["pedigree"] = {"ancestors": [ancestor]}
    props = image_properties(image) + distro_properties(analysis.distro)
    if facts is not None:
        props += facts_properties(facts)
    comp["properties"] = _props(props)
    return comp


def package_component(package: Package, ref: str, refs: dict[str, str]) -> dict[str, Any]:
    comp: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": package.name}
    if package.version:
        comp["version"] = package.version
    licenses, inexact = cdx_licenses(package.licenses, refs)
    if licenses:
        comp["licenses"] = licenses
    if package.purl:
        comp["purl"] = package.purl
    props: list[tuple[str, str]] = [(PACKAGE_NS + "type", package.type)]
    for key, value in (
        ("sourceName", package.source_name),
        ("sourceVersion", package.source_version),
        ("architecture", package.architecture),
        ("layer", package.layer),
        ("cataloger", package.cataloger),
    ):
        if value:
            props.append((PACKAGE_NS + key, value))
    if inexact:
        props.append((PACKAGE_NS + "licenses", compact_json(package.licenses)))
    if package.metadata:
        props.append((PACKAGE_NS + "metadata", encode_value(package.metadata) or "{}"))
    if package.locations:
        comp["evidence"] = {"occurrences": [{"location": loc} for loc in package.locations]}
    comp["properties"] = _props(props)
    return comp


def build_bom(analysis: Analysis, *, now: datetime, serial: str | None = None) -> dict[str, Any]:
    """The CycloneDX 1.6 document as a plain dict (JSON-ready, deterministic)."""
    packages = sorted(analysis.packages, key=lambda p: p.key)
    refs = package_refs(packages)
    free_text = {t for p in packages for t in p.licenses if license_kind(t) == "text"}
    lic_refs = license_refs(free_text)
    edges = dependency_edges(packages)

    image = image_component(analysis)
    osc = os_component(analysis.distro)
    components: list[dict[str, Any]] = [osc] if osc else []
    components += [
        package_component(p, ref, lic_refs) for p, ref in zip(packages, refs, strict=True)
    ]

    top = sorted({refs[i] for i in top_level(edges)} | ({osc["bom-ref"]} if osc else set()))
    dependencies: list[dict[str, Any]] = [{"ref": image["bom-ref"], "dependsOn": top}]
    if osc:
        dependencies.append({"ref": osc["bom-ref"], "dependsOn": []})
    for i, ref in enumerate(refs):
        dependencies.append({"ref": ref, "dependsOn": sorted({refs[j] for j in edges[i]})})

    meta_props: list[tuple[str, str]] = []
    if analysis.analyzed_at is not None:
        meta_props.append((ANALYZED_AT, analysis.analyzed_at.isoformat()))
    meta_props += [
        (f"{ISSUE_NS}{i}", compact_json(issue.to_dict())) for i, issue in enumerate(analysis.issues)
    ]
    meta_props += [(f"{WARNING_NS}{i}", text) for i, text in enumerate(analysis.warnings)]

    metadata: dict[str, Any] = {
        "timestamp": timestamp(now),
        "tools": {
            "components": [{"type": "application", "name": TOOL_NAME, "version": __version__}]
        },
        "component": image,
    }
    if meta_props:
        metadata["properties"] = _props(meta_props)
    return {
        "$schema": SCHEMA_URL,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{document_uuid(serial)}",
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    }


class CycloneDxJson(SbomFormat):
    """CycloneDX 1.6 JSON."""

    name = "cyclonedx-json"
    media_type = "application/vnd.cyclonedx+json; version=1.6"
    suffix = ".cdx.json"

    def write(self, analysis: Analysis, *, now: datetime, serial: str | None = None) -> str:
        bom = build_bom(analysis, now=now, serial=serial)
        return render_json(bom)
