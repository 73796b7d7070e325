"""Read SPDX 2.x (JSON, and tag-value turned into the same dict) into an :class:`Analysis`."""

from __future__ import annotations

import json
import re
from typing import Any

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.hardening import Facts
from baseguard.analysis.packages import Package, sort_packages
from baseguard.image.model import parse_time
from baseguard.sbom.read_common import (
    Malformed,
    as_dict,
    as_list,
    as_str,
    distro_from_os,
    distro_from_purls,
    field_warnings,
    foreign_image,
    foreign_package,
    issue,
    link_depends,
    parse_purl,
    want_dict,
    want_objects,
    want_str,
    want_strs,
    wrong_type,
)
from baseguard.sbom.spdx import ANN_ANALYSIS, ANN_DISTRO, ANN_FACTS, ANN_IMAGE, ANN_PACKAGE

# -- SPDX ------------------------------------------------------------------------------------------

_BUILT_FROM = re.compile(r"built package from:\s*(\S+)(?:\s+(\S+))?")
_NO_LICENSE = ("", "NOASSERTION", "NONE")


def _annotations(element: dict[str, Any]) -> dict[str, Any]:
    """Our ``<key> <json>`` annotations on an SPDX element, by key."""
    out: dict[str, Any] = {}
    for ann in as_list(element.get("annotations")):
        key, _, rest = as_str(as_dict(ann).get("comment")).partition(" ")
        if key.startswith("baseguard:") and key not in out:
            out[key] = json.loads(rest)
    return out


def _spdx_purl(element: dict[str, Any]) -> str:
    for ref in as_list(element.get("externalRefs")):
        ref = as_dict(ref)
        if ref.get("referenceType") == "purl" and ref.get("referenceLocator"):
            return as_str(ref["referenceLocator"])
    return ""


def _attributions(element: dict[str, Any]) -> dict[str, str]:
    """trivy's ``Key: value`` attribution texts under its CycloneDX property names."""
    out: dict[str, str] = {}
    for text in as_list(element.get("attributionTexts")):
        key, sep, value = as_str(text).partition(": ")
        if sep and key.isidentifier():
            out.setdefault(f"aquasecurity:trivy:{key}", value.strip())
    return out


def _spdx_licenses(element: dict[str, Any], extracted: dict[str, str]) -> list[str]:
    for key in ("licenseDeclared", "licenseConcluded"):
        text = as_str(element.get(key)).strip()
        if text not in _NO_LICENSE:
            return [extracted.get(text, text)]
    return []


#: The SPDX versions read (JSON and tag-value).
SPDX_VERSIONS = ("SPDX-2.1", "SPDX-2.2", "SPDX-2.3")

#: Package fields that decide what is read (a wrong type is Malformed) and informational
#: ones (a wrong type is left out, with a warning: nothing matching uses them).
_DECISIVE_STRINGS = ("SPDXID", "name", "versionInfo", "primaryPackagePurpose", "sourceInfo")
_INFORMATIONAL_STRINGS = ("licenseDeclared", "licenseConcluded", "summary", "description")


def check_spdx_version(doc: dict[str, Any]) -> None:
    """Malformed unless ``spdxVersion`` is one of :data:`SPDX_VERSIONS`."""
    version = doc.get("spdxVersion")
    supported = f"supported SPDX versions: {', '.join(SPDX_VERSIONS)}"
    if not isinstance(version, str):
        raise Malformed(f"{wrong_type('spdxVersion', version, 'a string')} ({supported})")
    if version not in SPDX_VERSIONS:
        raise Malformed(f"SPDX version {version!r} is not supported ({supported})")


def _check_document(doc: dict[str, Any]) -> None:
    """Malformed if a document-level member read here has the wrong JSON type."""
    check_spdx_version(doc)
    want_str(doc.get("SPDXID"), "SPDXID")
    want_str(doc.get("name"), "name")
    want_str(
        want_dict(doc.get("creationInfo"), "creationInfo").get("created"), "creationInfo.created"
    )
    want_strs(doc.get("documentDescribes"), "documentDescribes")
    for i, rel in enumerate(want_objects(doc.get("relationships"), "relationships")):
        for key in ("spdxElementId", "relationshipType", "relatedSpdxElement"):
            want_str(rel.get(key), f"relationships[{i}].{key}")
    infos = want_objects(doc.get("hasExtractedLicensingInfos"), "hasExtractedLicensingInfos")
    for i, info in enumerate(infos):
        for key in ("licenseId", "name", "extractedText"):
            want_str(info.get(key), f"hasExtractedLicensingInfos[{i}].{key}")


def _checked_package(element: dict[str, Any], where: str, ignored: list[str]) -> dict[str, Any]:
    """``element`` with informational fields of the wrong type left out (noted in
    ``ignored``); Malformed if a field that decides the package has the wrong type."""
    for key in _DECISIVE_STRINGS:
        want_str(element.get(key), f"{where}.{key}")
    for i, ref in enumerate(want_objects(element.get("externalRefs"), f"{where}.externalRefs")):
        for key in ("referenceCategory", "referenceType", "referenceLocator"):
            want_str(ref.get(key), f"{where}.externalRefs[{i}].{key}")
    want_strs(element.get("attributionTexts"), f"{where}.attributionTexts")
    for i, ann in enumerate(want_objects(element.get("annotations"), f"{where}.annotations")):
        at = f"{where}.annotations[{i}].comment"
        key, _, rest = want_str(ann.get("comment"), at).partition(" ")
        if key.startswith("baseguard:"):
            try:
                json.loads(rest)
            except ValueError:
                raise Malformed(f"{at}: {key} is not valid JSON") from None
    bad = [
        key
        for key in _INFORMATIONAL_STRINGS
        if element.get(key) is not None and not isinstance(element[key], str)
    ]
    if not bad:
        return element
    ignored.extend(str(wrong_type(f"{where}.{key}", element[key], "a string")) for key in bad)
    return {k: v for k, v in element.items() if k not in bad}


def from_spdx(doc: dict[str, Any]) -> Analysis:
    _check_document(doc)
    ignored: list[str] = []
    elements = [
        _checked_package(p, f"packages[{i}]", ignored)
        for i, p in enumerate(want_objects(doc.get("packages"), "packages"))
    ]
    relationships = as_list(doc.get("relationships"))
    doc_id = as_str(doc.get("SPDXID")) or "SPDXRef-DOCUMENT"
    described = {as_str(x) for x in as_list(doc.get("documentDescribes"))}
    for rel in relationships:
        kind = rel.get("relationshipType")
        if kind == "DESCRIBES" and rel.get("spdxElementId") == doc_id:
            described.add(as_str(rel.get("relatedSpdxElement")))
        elif kind == "DESCRIBED_BY" and rel.get("relatedSpdxElement") == doc_id:
            described.add(as_str(rel.get("spdxElementId")))
    extracted = {
        as_str(e.get("licenseId")): as_str(e.get("name") or e.get("extractedText"))
        for e in map(as_dict, as_list(doc.get("hasExtractedLicensingInfos")))
        if e.get("licenseId")
    }

    image_el: dict[str, Any] | None = None
    os_el: dict[str, Any] | None = None
    packages: list[Package] = []
    by_id: dict[str, Package] = {}
    skipped = duplicates = 0
    for element in elements:
        spdx_id = as_str(element.get("SPDXID"))
        purpose = as_str(element.get("primaryPackagePurpose"))
        purl_text = _spdx_purl(element)
        if image_el is None and (
            purpose == "CONTAINER"
            or spdx_id.startswith("SPDXRef-ContainerImage")
            or (spdx_id in described and (not purl_text or purl_text.startswith("pkg:oci/")))
        ):
            image_el = element
            continue
        if purpose == "OPERATING-SYSTEM" or spdx_id.startswith("SPDXRef-OperatingSystem"):
            os_el = os_el or element
            continue
        package = _spdx_package(element, purl_text, extracted)
        if package is None:
            skipped += 1
            continue
        if spdx_id in by_id:
            duplicates += 1
            continue
        by_id[spdx_id or f"#{len(packages)}"] = package
        packages.append(package)

    deps: dict[str, list[str]] = {}
    for rel in relationships:
        kind = rel.get("relationshipType")
        a, b = as_str(rel.get("spdxElementId")), as_str(rel.get("relatedSpdxElement"))
        if kind == "DEPENDS_ON":
            deps.setdefault(a, []).append(b)
        elif kind == "DEPENDENCY_OF":
            deps.setdefault(b, []).append(a)
    link_depends(by_id, deps)

    ours = _annotations(image_el) if image_el is not None else {}
    run = as_dict(ours.get(ANN_ANALYSIS))
    warnings = [as_str(w) for w in as_list(run.get("warnings"))]
    if skipped:
        warnings.append(f"{skipped} package(s) without a package URL were not read")
    if duplicates:
        warnings.append(f"{duplicates} duplicate package(s) (same SPDXID) were not read")
    warnings.extend(field_warnings(ignored))

    if ANN_IMAGE in ours:
        image = _image_from_dict(as_dict(ours[ANN_IMAGE]))
    elif image_el is not None:
        image = foreign_image(
            source="spdx",
            name=as_str(image_el.get("name")),
            version=as_str(image_el.get("versionInfo")),
            props=_attributions(image_el),
            is_image=True,
        )
    else:
        image = ImageIdentity(as_str(doc.get("name")), "spdx", None, None, None, None, [], None)

    distro: Distro | None = None
    if ANN_DISTRO in ours:
        distro = Distro.from_dict(as_dict(ours[ANN_DISTRO]))
    elif os_el is not None:
        distro = distro_from_os(
            as_str(os_el.get("name")),
            as_str(os_el.get("versionInfo")),
            as_str(os_el.get("summary") or os_el.get("description")),
            {},
        )
    facts = ours.get(ANN_FACTS)
    created = as_dict(doc.get("creationInfo")).get("created")
    return Analysis(
        image=image,
        distro=distro or distro_from_purls(packages) or Distro(source="none"),
        facts=Facts.from_dict(facts) if isinstance(facts, dict) else None,
        packages=sort_packages(packages),
        issues=[issue(i) for i in as_list(run.get("issues"))],
        warnings=warnings,
        analyzed_at=parse_time(run.get("analyzedAt") if run else created),
    )


def _opt(data: dict[str, Any], key: str) -> str | None:
    """``data[key]`` as a string; None when absent or null."""
    value = data.get(key)
    return None if value is None else str(value)


def _spdx_package(
    element: dict[str, Any], purl_text: str, extracted: dict[str, str]
) -> Package | None:
    ours = as_dict(_annotations(element).get(ANN_PACKAGE))
    name = as_str(element.get("name"))
    version = as_str(element.get("versionInfo"))
    if ours.get("type"):
        return Package(
            name=name,
            version=version,
            type=as_str(ours["type"]),
            purl=purl_text,
            source_name=_opt(ours, "sourceName"),
            source_version=_opt(ours, "sourceVersion"),
            licenses=[as_str(x) for x in as_list(ours.get("licenses"))],
            architecture=_opt(ours, "architecture"),
            layer=_opt(ours, "layer"),
            locations=[as_str(x) for x in as_list(ours.get("locations"))],
            cataloger=as_str(ours.get("cataloger")),
            metadata=dict(as_dict(ours.get("metadata"))),
        )
    purl = parse_purl(purl_text)
    if purl is None or purl.type == "oci":
        return None
    props = _attributions(element)
    match = _BUILT_FROM.fullmatch(as_str(element.get("sourceInfo")).strip())
    if match:
        props.setdefault("aquasecurity:trivy:SrcName", match.group(1))
        if match.group(2):
            props.setdefault("aquasecurity:trivy:SrcVersion", match.group(2))
    return foreign_package(
        name, version, purl_text, purl, _spdx_licenses(element, extracted), props, []
    )


def _image_from_dict(data: dict[str, Any]) -> ImageIdentity:
    """:meth:`ImageIdentity.to_dict` read back."""
    return ImageIdentity(
        reference=as_str(data.get("reference")),
        source=as_str(data.get("source")),
        name=_opt(data, "name"),
        manifest_digest=_opt(data, "manifestDigest"),
        index_digest=_opt(data, "indexDigest"),
        config_digest=_opt(data, "configDigest"),
        layer_digests=[as_str(v) for v in as_list(data.get("layers"))],
        platform=_opt(data, "platform"),
    )


# -- SPDX tag-value ----------------------------------------------------------------------------


#: C0 control characters other than tab, LF and CR, and DEL: never in a text document.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _tag_value_pairs(text: str) -> list[tuple[str, str]]:
    """``Tag: value`` pairs; ``<text>…</text>`` values may span lines. A control character
    (NUL…) is Malformed: tag-value is text, and one could hide or cut a tag."""
    bad = _CONTROL.search(text)
    if bad:
        number = text.count("\n", 0, bad.start()) + 1
        raise Malformed(
            f"line {number}: control character U+{ord(bad.group()):04X} in SPDX tag-value "
            "(a text format)"
        )
    pairs: list[tuple[str, str]] = []
    lines = _LINE_BREAK.split(text)
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tag, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if value.startswith("<text>"):
            parts = [value[len("<text>") :]]
            while "</text>" not in parts[-1] and i < len(lines):
                parts.append(lines[i])
                i += 1
            value = "\n".join(parts).partition("</text>")[0]
        pairs.append((tag.strip(), value))
    return pairs


_TV_PACKAGE_FIELDS = {
    "PackageVersion": "versionInfo",
    "PackageSourceInfo": "sourceInfo",
    "PackageLicenseDeclared": "licenseDeclared",
    "PackageLicenseConcluded": "licenseConcluded",
    "PrimaryPackagePurpose": "primaryPackagePurpose",
    "PackageSummary": "summary",
    "PackageComment": "comment",
}


def spdx_tag_value(text: str) -> dict[str, Any]:
    """An SPDX 2.x tag-value document in the shape of its JSON form (the parts we read)."""
    doc: dict[str, Any] = {
        "packages": [],
        "relationships": [],
        "hasExtractedLicensingInfos": [],
        "creationInfo": {},
    }
    package: dict[str, Any] | None = None
    in_file = False
    license_info: dict[str, Any] | None = None
    annotations: list[dict[str, Any]] = []
    for tag, value in _tag_value_pairs(text):
        if tag == "SPDXVersion":
            doc["spdxVersion"] = value
        elif tag == "DocumentName":
            doc["name"] = value
        elif tag == "Created":
            doc["creationInfo"]["created"] = value
        elif tag == "PackageName":
            package = {"name": value}
            in_file = False
            doc["packages"].append(package)
        elif tag in ("FileName", "SnippetSPDXID"):
            package, in_file = None, True
        elif tag == "SPDXID":
            if package is not None:
                package["SPDXID"] = value
            elif not in_file:
                doc["SPDXID"] = value
        elif package is not None and tag in _TV_PACKAGE_FIELDS:
            package[_TV_PACKAGE_FIELDS[tag]] = value
        elif package is not None and tag == "PackageAttributionText":
            package.setdefault("attributionTexts", []).append(value)
        elif package is not None and tag == "ExternalRef":
            fields = value.split(None, 2)
            if len(fields) == 3:
                package.setdefault("externalRefs", []).append(
                    {
                        "referenceCategory": fields[0],
                        "referenceType": fields[1],
                        "referenceLocator": fields[2],
                    }
                )
        elif tag == "Relationship":
            fields = value.split()
            if len(fields) == 3:
                doc["relationships"].append(
                    {
                        "spdxElementId": fields[0],
                        "relationshipType": fields[1],
                        "relatedSpdxElement": fields[2],
                    }
                )
        elif tag == "LicenseID":
            license_info = {"licenseId": value}
            doc["hasExtractedLicensingInfos"].append(license_info)
        elif license_info is not None and tag in ("ExtractedText", "LicenseName"):
            license_info["extractedText" if tag == "ExtractedText" else "name"] = value
        elif tag == "Annotator":
            annotations.append({"annotator": value})
        elif annotations and tag == "AnnotationComment":
            annotations[-1]["comment"] = value
        elif annotations and tag == "SPDXREF":
            annotations[-1]["ref"] = value
    by_id = {as_str(p.get("SPDXID")): p for p in doc["packages"]}
    for ann in annotations:
        target = by_id.get(as_str(ann.get("ref")))
        if target is not None:
            target.setdefault("annotations", []).append({"comment": ann.get("comment", "")})
    return doc
