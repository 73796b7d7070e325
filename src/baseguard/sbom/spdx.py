"""SPDX 2.3 JSON: the document DESCRIBES the image package, which CONTAINS the distro and
every package; packages DEPENDS_ON each other where the package database says so.

What SPDX has no field for travels in annotations (type OTHER, annotator ``Tool:
baseguard-<version>``) whose comment is ``<key> <compact JSON>``: on the image package
``baseguard:image``, ``baseguard:distro``, ``baseguard:facts`` and ``baseguard:analysis``;
on each package ``baseguard:package`` (type, exact license list, source, architecture,
layer, locations, cataloger, metadata). docs/sbom.md explains the choice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from baseguard import __version__
from baseguard.sbom.base import (
    TOOL_NAME,
    SbomFormat,
    compact_json,
    dependency_edges,
    document_uuid,
    idstring,
    image_purl,
    license_kind,
    license_refs,
    render_json,
    spdx_expression,
    timestamp,
    unique_id,
)

if TYPE_CHECKING:
    from baseguard.analysis.analyze import Analysis
    from baseguard.analysis.packages import Package

SPDX_VERSION = "SPDX-2.3"
NAMESPACE_BASE = "https://baseguard.dev/spdxdocs/"
IMAGE_ID = "SPDXRef-Image"
OS_ID = "SPDXRef-OperatingSystem"
NOASSERTION = "NOASSERTION"

#: Annotation comment prefixes (followed by one space and compact JSON).
ANN_IMAGE = "baseguard:image"
ANN_DISTRO = "baseguard:distro"
ANN_FACTS = "baseguard:facts"
ANN_ANALYSIS = "baseguard:analysis"
ANN_PACKAGE = "baseguard:package"


def spdx_ids(packages: list[Package]) -> list[str]:
    """``SPDXRef-Package-<type>-<name>-<version>`` sanitised to ``[A-Za-z0-9.-]``, unique
    (``-2``, ``-3``… in package order for the rare clash) and stable for a given analysis."""
    seen: set[str] = set()
    out: list[str] = []
    for p in packages:
        parts = (idstring(part) for part in (p.type, p.name, p.version))
        base = "SPDXRef-Package-" + ("-".join(part for part in parts if part) or "unnamed")
        out.append(unique_id(base, seen, "-"))
    return out


def _annotation(key: str, data: Any, *, date: str) -> dict[str, str]:
    return {
        "annotationDate": date,
        "annotationType": "OTHER",
        "annotator": f"Tool: {TOOL_NAME}-{__version__}",
        "comment": f"{key} {compact_json(data)}",
    }


def _purl_ref(purl: str) -> dict[str, str]:
    return {
        "referenceCategory": "PACKAGE-MANAGER",
        "referenceType": "purl",
        "referenceLocator": purl,
    }


def image_package(analysis: Analysis, *, date: str) -> dict[str, Any]:
    image = analysis.image
    pkg: dict[str, Any] = {
        "SPDXID": IMAGE_ID,
        "name": image.name or image.reference,
    }
    if image.manifest_digest:
        pkg["versionInfo"] = image.manifest_digest
    pkg["downloadLocation"] = NOASSERTION
    pkg["filesAnalyzed"] = False
    algorithm, _, hexdigest = (image.manifest_digest or "").partition(":")
    if algorithm == "sha256" and re.fullmatch(r"[0-9a-f]{64}", hexdigest):
        pkg["checksums"] = [{"algorithm": "SHA256", "checksumValue": hexdigest}]
    pkg["licenseConcluded"] = NOASSERTION
    pkg["licenseDeclared"] = NOASSERTION
    pkg["copyrightText"] = NOASSERTION
    purl = image_purl(image)
    if purl:
        pkg["externalRefs"] = [_purl_ref(purl)]
    pkg["primaryPackagePurpose"] = "CONTAINER"
    annotations = [
        _annotation(ANN_IMAGE, image.to_dict(), date=date),
        _annotation(ANN_DISTRO, analysis.distro.to_dict(), date=date),
    ]
    if analysis.facts is not None:
        annotations.append(_annotation(ANN_FACTS, analysis.facts.to_dict(), date=date))
    annotations.append(
        _annotation(
            ANN_ANALYSIS,
            {
                "analyzedAt": analysis.analyzed_at.isoformat() if analysis.analyzed_at else None,
                "issues": [i.to_dict() for i in analysis.issues],
                "warnings": list(analysis.warnings),
            },
            date=date,
        )
    )
    pkg["annotations"] = annotations
    return pkg


def os_package(analysis: Analysis) -> dict[str, Any] | None:
    distro = analysis.distro
    if distro.id is None:
        return None
    pkg: dict[str, Any] = {"SPDXID": OS_ID, "name": distro.id}
    version = distro.version_id or distro.version
    if version:
        pkg["versionInfo"] = version
    pkg["downloadLocation"] = NOASSERTION
    pkg["filesAnalyzed"] = False
    pkg["licenseConcluded"] = NOASSERTION
    pkg["licenseDeclared"] = NOASSERTION
    pkg["copyrightText"] = NOASSERTION
    if distro.pretty_name:
        pkg["summary"] = distro.pretty_name
    pkg["primaryPackagePurpose"] = "OPERATING-SYSTEM"
    return pkg


def package_entry(
    package: Package, spdx_id: str, refs: dict[str, str], *, date: str
) -> dict[str, Any]:
    pkg: dict[str, Any] = {"SPDXID": spdx_id, "name": package.name}
    if package.version:
        pkg["versionInfo"] = package.version
    pkg["downloadLocation"] = NOASSERTION
    pkg["filesAnalyzed"] = False
    if package.source_name:
        source = " ".join(s for s in (package.source_name, package.source_version) if s)
        pkg["sourceInfo"] = f"built package from: {source}"
    pkg["licenseConcluded"] = NOASSERTION
    pkg["licenseDeclared"] = spdx_expression(package.licenses, refs) or NOASSERTION
    pkg["copyrightText"] = NOASSERTION
    if package.purl:
        pkg["externalRefs"] = [_purl_ref(package.purl)]
    pkg["primaryPackagePurpose"] = "LIBRARY"
    extra: dict[str, Any] = {"type": package.type}
    for key, value in (
        ("licenses", package.licenses),
        ("sourceName", package.source_name),
        ("sourceVersion", package.source_version),
        ("architecture", package.architecture),
        ("layer", package.layer),
        ("locations", package.locations),
        ("cataloger", package.cataloger),
        ("metadata", package.metadata),
    ):
        if value:
            extra[key] = value
    pkg["annotations"] = [_annotation(ANN_PACKAGE, extra, date=date)]
    return pkg


def document_namespace(analysis: Analysis, doc_uuid: str) -> str:
    """``https://baseguard.dev/spdxdocs/<image name>-<uuid>``: unique per document."""
    label = analysis.image.name or analysis.image.reference or "image"
    return f"{NAMESPACE_BASE}{quote(label, safe='')}-{doc_uuid}"


def build_document(
    analysis: Analysis, *, now: datetime, serial: str | None = None
) -> dict[str, Any]:
    """The SPDX 2.3 document as a plain dict (JSON-ready, deterministic)."""
    date = timestamp(now)
    packages = sorted(analysis.packages, key=lambda p: p.key)
    ids = spdx_ids(packages)
    free_text = {t for p in packages for t in p.licenses if license_kind(t) == "text"}
    refs = license_refs(free_text)
    edges = dependency_edges(packages)

    entries: list[dict[str, Any]] = [image_package(analysis, date=date)]
    osp = os_package(analysis)
    if osp:
        entries.append(osp)
    entries += [
        package_entry(p, spdx_id, refs, date=date) for p, spdx_id in zip(packages, ids, strict=True)
    ]

    relationships: list[dict[str, str]] = [_rel("SPDXRef-DOCUMENT", "DESCRIBES", IMAGE_ID)]
    if osp:
        relationships.append(_rel(IMAGE_ID, "CONTAINS", OS_ID))
    relationships += [_rel(IMAGE_ID, "CONTAINS", spdx_id) for spdx_id in ids]
    for i, targets in enumerate(edges):
        relationships += [_rel(ids[i], "DEPENDS_ON", ids[j]) for j in targets]

    doc: dict[str, Any] = {
        "spdxVersion": SPDX_VERSION,
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": analysis.image.name or analysis.image.reference or "image",
        "documentNamespace": document_namespace(analysis, document_uuid(serial)),
        "creationInfo": {
            "created": date,
            "creators": [f"Tool: {TOOL_NAME}-{__version__}"],
        },
        "packages": entries,
        "relationships": relationships,
    }
    if refs:
        doc["hasExtractedLicensingInfos"] = [
            {"licenseId": ref, "extractedText": text, "name": text}
            for text, ref in sorted(refs.items(), key=lambda item: item[1])
        ]
    return doc


def _rel(element: str, kind: str, related: str) -> dict[str, str]:
    return {"spdxElementId": element, "relationshipType": kind, "relatedSpdxElement": related}


class SpdxJson(SbomFormat):
    """SPDX 2.3 JSON."""

    name = "spdx-json"
    media_type = "application/spdx+json"
    suffix = ".spdx.json"

    def write(self, analysis: Analysis, *, now: datetime, serial: str | None = None) -> str:
        doc = build_document(analysis, now=now, serial=serial)
        return render_json(doc)
