"""Read CycloneDX (JSON, and XML turned into the same dict) into an :class:`Analysis`.

XML is parsed with expat and any DOCTYPE or entity declaration is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import Distro
from baseguard.analysis.packages import Package, sort_packages
from baseguard.image.model import parse_time
from baseguard.sbom.base import (
    ANALYZED_AT,
    IMAGE_NS,
    ISSUE_NS,
    PACKAGE_NS,
    WARNING_NS,
    distro_from_properties,
    facts_from_properties,
)
from baseguard.sbom.read_common import (
    Malformed,
    distro_from_os,
    distro_from_purls,
    field_warnings,
    foreign_image,
    foreign_package,
    issue,
    link_depends,
    parse_purl,
    want_dict,
    want_list,
    want_objects,
    want_str,
    want_strs,
    wrong_type,
)

#: Deepest nesting of CycloneDX components (envelopes around a document: at most 2, read.py).
MAX_NESTING = 16


# -- CycloneDX ----------------------------------------------------------------------------------


#: The CycloneDX versions read. The JSON form exists from 1.2; XML from 1.0, whose 1.0 and
#: 1.1 components already carry the name, version and purl that matching needs.
CDX_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6")


@dataclass
class _Comp:
    """One CycloneDX component, from JSON or XML."""

    where: str  # JSON path, for messages
    ref: str
    type: str
    name: str
    version: str
    purl: str
    description: str
    licenses: list[str]
    props: dict[str, str]  # first value per name
    locations: list[str]

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str, ignored: list[str]) -> _Comp:
        """Fields that decide the package (name, version, purl, type, bom-ref, properties)
        must have their schema type (else Malformed); informational ones (licenses,
        description, evidence) of the wrong type are left out and noted in ``ignored``."""
        props: dict[str, str] = {}
        for i, prop in enumerate(want_objects(data.get("properties"), f"{where}.properties")):
            at = f"{where}.properties[{i}]"
            if "name" in prop:
                name = want_str(prop["name"], f"{at}.name")
                props.setdefault(name, want_str(prop.get("value"), f"{at}.value"))
        return cls(
            where=where,
            ref=want_str(data.get("bom-ref"), f"{where}.bom-ref"),
            type=want_str(data.get("type"), f"{where}.type"),
            name=want_str(data.get("name"), f"{where}.name"),
            version=want_str(data.get("version"), f"{where}.version"),
            purl=want_str(data.get("purl"), f"{where}.purl"),
            description=_informational_str(
                data.get("description"), f"{where}.description", ignored
            ),
            licenses=_licenses(data.get("licenses"), f"{where}.licenses", ignored),
            props=props,
            locations=_locations(data.get("evidence"), f"{where}.evidence", ignored),
        )


def _informational_str(value: Any, where: str, ignored: list[str]) -> str:
    """An informational string; another type is left out (noted in ``ignored``)."""
    if value is None or isinstance(value, str):
        return value or ""
    ignored.append(str(wrong_type(where, value, "a string")))
    return ""


def _informational_objects(
    value: Any, where: str, ignored: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(JSON path, entry) of the object entries of an informational array; a value that is
    not an array, or an entry that is not an object, is left out (noted in ``ignored``)."""
    if value is None:
        return []
    if not isinstance(value, list):
        ignored.append(str(wrong_type(where, value, "an array")))
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(entry, dict):
            out.append((at, entry))
        else:
            ignored.append(str(wrong_type(at, entry, "an object")))
    return out


def _licenses(value: Any, where: str, ignored: list[str]) -> list[str]:
    """``licenses``: ``{"expression": …}`` or ``{"license": {"id"|"name": …}}`` entries;
    entries of the wrong shape are ignored (noted), the others kept."""
    licenses: list[str] = []
    for at, entry in _informational_objects(value, where, ignored):
        if "expression" in entry:
            text = _informational_str(entry["expression"], f"{at}.expression", ignored)
        else:
            lic = entry.get("license")
            if not isinstance(lic, dict):
                if lic is not None:
                    ignored.append(str(wrong_type(f"{at}.license", lic, "an object")))
                continue
            key = "id" if lic.get("id") else "name"
            text = _informational_str(lic.get(key), f"{at}.license.{key}", ignored)
        if text:
            licenses.append(text)
    return licenses


def _locations(value: Any, where: str, ignored: list[str]) -> list[str]:
    """``evidence.occurrences[].location``; wrong shapes are ignored (noted)."""
    if value is None:
        return []
    if not isinstance(value, dict):
        ignored.append(str(wrong_type(where, value, "an object")))
        return []
    out: list[str] = []
    occurrences = value.get("occurrences")
    for at, occurrence in _informational_objects(occurrences, f"{where}.occurrences", ignored):
        location = _informational_str(occurrence.get("location"), f"{at}.location", ignored)
        if location:
            out.append(location)
    return out


def _walk(components: list[dict[str, Any]], ignored: list[str]) -> list[_Comp]:
    """Every component, nested ones included (depth-bounded, iterative); an entry that is
    not an object, or ``components`` that is not an array, is Malformed."""
    out: list[_Comp] = []
    stack: list[tuple[list[dict[str, Any]], int, str]] = [(components, 0, "components")]
    while stack:
        items, depth, where = stack.pop()
        if depth > MAX_NESTING:
            raise Malformed(f"components nested more than {MAX_NESTING} deep")
        nested: list[tuple[list[dict[str, Any]], int, str]] = []
        for i, item in enumerate(items):
            at = f"{where}[{i}]"
            out.append(_Comp.from_dict(item, at, ignored))
            inner = want_objects(item.get("components"), f"{at}.components")
            if inner:
                nested.append((inner, depth + 1, f"{at}.components"))
        stack.extend(reversed(nested))
    return out


def check_spec_version(bom: dict[str, Any]) -> None:
    """Malformed unless ``specVersion`` is one of :data:`CDX_VERSIONS`."""
    supported = f"supported CycloneDX versions: {', '.join(CDX_VERSIONS)}"
    if "specVersion" not in bom:
        raise Malformed(f"specVersion is missing ({supported})")
    version = bom["specVersion"]
    if not isinstance(version, str):
        raise Malformed(f"{wrong_type('specVersion', version, 'a string')} ({supported})")
    if version not in CDX_VERSIONS:
        raise Malformed(f"CycloneDX specVersion {version!r} is not supported ({supported})")


def from_cyclonedx(bom: dict[str, Any]) -> Analysis:
    check_spec_version(bom)
    ignored: list[str] = []
    meta = want_dict(bom.get("metadata"), "metadata")
    main_dict = want_dict(meta.get("component"), "metadata.component")
    has_main = isinstance(meta.get("component"), dict)
    main = _Comp.from_dict(main_dict, "metadata.component", ignored) if has_main else None
    main_props = main.props if main else {}
    doc_props = _Comp.from_dict({"properties": meta.get("properties")}, "metadata", ignored).props
    timestamp = want_str(meta.get("timestamp"), "metadata.timestamp")

    deps: dict[str, list[str]] = {}
    for i, dep in enumerate(want_objects(bom.get("dependencies"), "dependencies")):
        at = f"dependencies[{i}]"
        deps.setdefault(want_str(dep.get("ref"), f"{at}.ref"), []).extend(
            want_strs(dep.get("dependsOn"), f"{at}.dependsOn")
        )

    packages: list[Package] = []
    by_ref: dict[str, Package] = {}
    os_comp: _Comp | None = None
    skipped = duplicates = 0
    for comp in _walk(want_objects(bom.get("components"), "components"), ignored):
        if comp.type == "operating-system":
            os_comp = os_comp or comp
            continue
        package = _cdx_package(comp)
        if package is None:
            if comp.type not in ("container", "platform", "file"):
                skipped += 1
            continue
        key = comp.ref or f"#{len(packages)}"
        if key in by_ref:
            duplicates += 1
            continue
        by_ref[key] = package
        packages.append(package)
    link_depends(by_ref, deps)

    warnings = _indexed(doc_props, WARNING_NS)
    if skipped:
        warnings.append(f"{skipped} component(s) without a package URL were not read")
    if duplicates:
        warnings.append(f"{duplicates} duplicate component(s) (same bom-ref) were not read")
    warnings.extend(field_warnings(ignored))

    distro = distro_from_properties(main_props)
    if distro is None and os_comp is not None:
        distro = distro_from_os(os_comp.name, os_comp.version, os_comp.description, os_comp.props)
    ours = IMAGE_NS + "reference" in main_props
    issues = [
        issue(_parse_json(v, f"metadata.properties {ISSUE_NS}*"))
        for v in _indexed(doc_props, ISSUE_NS)
    ]
    return Analysis(
        image=_image_from_props(main_props) if ours else _cdx_image(main),
        distro=distro or distro_from_purls(packages) or Distro(source="none"),
        facts=facts_from_properties(main_props) if ours else None,
        packages=sort_packages(packages),
        issues=issues,
        warnings=warnings,
        analyzed_at=parse_time(doc_props.get(ANALYZED_AT) if ours else timestamp),
    )


def _parse_json(text: str, where: str) -> Any:
    """One of our properties that holds JSON text."""
    try:
        return json.loads(text)
    except ValueError:
        raise Malformed(f"{where} is not valid JSON") from None


def _cdx_package(comp: _Comp) -> Package | None:
    props = comp.props
    ours_type = props.get(PACKAGE_NS + "type")
    if ours_type is not None:  # ours: every field is stated, the purl need not be parsed
        at = f"{comp.where} property {PACKAGE_NS}"
        exact = props.get(PACKAGE_NS + "licenses")
        return Package(
            name=comp.name,
            version=comp.version,
            type=ours_type,
            purl=comp.purl,
            source_name=props.get(PACKAGE_NS + "sourceName"),
            source_version=props.get(PACKAGE_NS + "sourceVersion"),
            licenses=(
                [str(x) for x in want_list(_parse_json(exact, at + "licenses"), at + "licenses")]
                if exact
                else list(comp.licenses)
            ),
            architecture=props.get(PACKAGE_NS + "architecture"),
            layer=props.get(PACKAGE_NS + "layer"),
            locations=list(comp.locations),
            cataloger=props.get(PACKAGE_NS + "cataloger", ""),
            metadata=want_dict(
                _parse_json(props.get(PACKAGE_NS + "metadata") or "{}", at + "metadata"),
                at + "metadata",
            ),
        )
    purl = parse_purl(comp.purl)
    if purl is None or purl.type == "oci":
        return None
    locations = comp.locations + _indexed_paths(props)
    return foreign_package(
        comp.name, comp.version, comp.purl, purl, comp.licenses, props, locations
    )


def _indexed(props: dict[str, str], prefix: str) -> list[str]:
    """Values of ``<prefix><n>`` properties in numeric order of ``n``."""
    found: list[tuple[int, str]] = []
    for key, value in props.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            found.append((int(key[len(prefix) :]), value))
    return [value for _, value in sorted(found)]


def _indexed_paths(props: dict[str, str]) -> list[str]:
    """syft's ``syft:location:<n>:path`` properties, in order."""
    found: list[tuple[int, str]] = []
    for key, value in props.items():
        if key.startswith("syft:location:") and key.endswith(":path"):
            index = key[len("syft:location:") : -len(":path")]
            if index.isdigit():
                found.append((int(index), value))
    return [value for _, value in sorted(found)]


# -- image ---------------------------------------------------------------------------------------


def _image_from_props(props: dict[str, str]) -> ImageIdentity:
    """Our own ``baseguard:image:*`` properties."""
    return ImageIdentity(
        reference=props.get(IMAGE_NS + "reference", ""),
        source=props.get(IMAGE_NS + "source", ""),
        name=props.get(IMAGE_NS + "name"),
        manifest_digest=props.get(IMAGE_NS + "manifestDigest"),
        index_digest=props.get(IMAGE_NS + "indexDigest"),
        config_digest=props.get(IMAGE_NS + "configDigest"),
        layer_digests=_indexed(props, IMAGE_NS + "layer:"),
        platform=props.get(IMAGE_NS + "platform"),
    )


def _cdx_image(main: _Comp | None) -> ImageIdentity:
    if main is None:
        return ImageIdentity("", "cyclonedx", None, None, None, None, [], None)
    return foreign_image(
        source="cyclonedx",
        name=main.name,
        version=main.version,
        props=main.props,
        is_image=main.type == "container",
    )


# -- XML ------------------------------------------------------------------------------------------


def parse_xml(data: bytes) -> ET.Element:
    """Parse with expat into an ElementTree, refusing any DOCTYPE (so no entity can be
    declared, expanded or fetched: billion laughs and XXE are impossible)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_: Any) -> None:
        raise Malformed(
            "XML with a DOCTYPE or entity declaration is refused "
            "(entity expansion can exhaust memory; SBOMs never need one)"
        )

    def refuse_external(*_: Any) -> int:
        refuse()
        return 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        builder.start("{" + tag if "}" in tag else tag, attrs)

    def end(tag: str) -> None:
        builder.end("{" + tag if "}" in tag else tag)

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse_external
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise Malformed(f"invalid XML: {exc}") from None
    root = builder.close()
    return root


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _kids(el: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in el if _local(child.tag) == name]


def _kid(el: ET.Element, name: str) -> ET.Element | None:
    for child in el:
        if _local(child.tag) == name:
            return child
    return None


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def cdx_xml_to_dict(root: ET.Element) -> dict[str, Any]:
    """A CycloneDX XML document in the shape of its JSON form (the parts we read)."""
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "bom" or not namespace.startswith("http://cyclonedx.org/schema/bom/"):
        raise Malformed("XML document is not a CycloneDX BOM (only CycloneDX XML is read)")
    bom: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": namespace.rpartition("/")[2],
        "serialNumber": root.get("serialNumber", ""),
    }
    meta_el = _kid(root, "metadata")
    if meta_el is not None:
        meta: dict[str, Any] = {"timestamp": _text(_kid(meta_el, "timestamp"))}
        comp = _kid(meta_el, "component")
        if comp is not None:
            meta["component"] = _xml_component(comp, 0)
        props = _kid(meta_el, "properties")
        if props is not None:
            meta["properties"] = _xml_properties(props)
        bom["metadata"] = meta
    comps = _kid(root, "components")
    if comps is not None:
        bom["components"] = [_xml_component(c, 0) for c in _kids(comps, "component")]
    deps = _kid(root, "dependencies")
    if deps is not None:
        bom["dependencies"] = [
            {
                "ref": d.get("ref", ""),
                "dependsOn": [x.get("ref", "") for x in _kids(d, "dependency")],
            }
            for d in _kids(deps, "dependency")
        ]
    return bom


def _xml_properties(el: ET.Element) -> list[dict[str, str]]:
    return [{"name": p.get("name", ""), "value": p.text or ""} for p in _kids(el, "property")]


def _xml_component(el: ET.Element, depth: int) -> dict[str, Any]:
    if depth > MAX_NESTING:
        raise Malformed(f"components nested more than {MAX_NESTING} deep")
    comp: dict[str, Any] = {"type": el.get("type", ""), "bom-ref": el.get("bom-ref", "")}
    for child in el:
        tag = _local(child.tag)
        if tag in ("name", "version", "purl", "description", "group"):
            comp[tag] = _text(child)
        elif tag == "licenses":
            licenses: list[dict[str, Any]] = []
            for entry in child:
                kind = _local(entry.tag)
                if kind == "expression":
                    licenses.append({"expression": _text(entry)})
                elif kind == "license":
                    ident, name = _text(_kid(entry, "id")), _text(_kid(entry, "name"))
                    licenses.append({"license": {"id": ident} if ident else {"name": name}})
            comp["licenses"] = licenses
        elif tag == "properties":
            comp["properties"] = _xml_properties(child)
        elif tag == "components":
            comp["components"] = [_xml_component(c, depth + 1) for c in _kids(child, "component")]
        elif tag == "evidence":
            occurrences = _kid(child, "occurrences")
            if occurrences is not None:
                comp["evidence"] = {
                    "occurrences": [
                        {"location": _text(_kid(o, "location"))}
                        for o in _kids(occurrences, "occurrence")
                    ]
                }
    return comp
