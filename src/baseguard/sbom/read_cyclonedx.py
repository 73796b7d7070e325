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
    as_dict,
    as_list,
    as_str,
    distro_from_os,
    distro_from_purls,
    foreign_image,
    foreign_package,
    issue,
    link_depends,
    parse_purl,
)

#: Deepest nesting of CycloneDX components (envelopes around a document: at most 2, read.py).
MAX_NESTING = 16


# -- CycloneDX ----------------------------------------------------------------------------------


@dataclass
class _Comp:
    """One CycloneDX component, from JSON or XML."""

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
    def from_dict(cls, data: dict[str, Any]) -> _Comp:
        licenses: list[str] = []
        for entry in as_list(data.get("licenses")):
            entry = as_dict(entry)
            if "expression" in entry:
                licenses.append(as_str(entry["expression"]))
            else:
                lic = as_dict(entry.get("license"))
                text = as_str(lic.get("id") or lic.get("name"))
                if text:
                    licenses.append(text)
        props: dict[str, str] = {}
        for prop in as_list(data.get("properties")):
            prop = as_dict(prop)
            if "name" in prop:
                props.setdefault(as_str(prop["name"]), as_str(prop.get("value")))
        evidence = as_dict(data.get("evidence"))
        locations = [
            as_str(as_dict(o).get("location"))
            for o in as_list(evidence.get("occurrences"))
            if as_dict(o).get("location")
        ]
        return cls(
            ref=as_str(data.get("bom-ref")),
            type=as_str(data.get("type")),
            name=as_str(data.get("name")),
            version=as_str(data.get("version")),
            purl=as_str(data.get("purl")),
            description=as_str(data.get("description")),
            licenses=licenses,
            props=props,
            locations=locations,
        )


def _walk(components: list[Any]) -> list[_Comp]:
    """Every component, nested ones included (depth-bounded, iterative)."""
    out: list[_Comp] = []
    stack: list[tuple[list[Any], int]] = [(components, 0)]
    while stack:
        items, depth = stack.pop()
        if depth > MAX_NESTING:
            raise Malformed(f"components nested more than {MAX_NESTING} deep")
        nested: list[tuple[list[Any], int]] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            out.append(_Comp.from_dict(item))
            if isinstance(item.get("components"), list):
                nested.append((item["components"], depth + 1))
        stack.extend(reversed(nested))
    return out


def from_cyclonedx(bom: dict[str, Any]) -> Analysis:
    meta = as_dict(bom.get("metadata"))
    main = _Comp.from_dict(meta["component"]) if isinstance(meta.get("component"), dict) else None
    main_props = main.props if main else {}
    doc_props = _Comp.from_dict({"properties": meta.get("properties")}).props

    deps: dict[str, list[str]] = {}
    for dep in as_list(bom.get("dependencies")):
        dep = as_dict(dep)
        deps.setdefault(as_str(dep.get("ref")), []).extend(
            as_str(d) for d in as_list(dep.get("dependsOn"))
        )

    packages: list[Package] = []
    by_ref: dict[str, Package] = {}
    os_comp: _Comp | None = None
    skipped = duplicates = 0
    for comp in _walk(as_list(bom.get("components"))):
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

    distro = distro_from_properties(main_props)
    if distro is None and os_comp is not None:
        distro = distro_from_os(os_comp.name, os_comp.version, os_comp.description, os_comp.props)
    ours = IMAGE_NS + "reference" in main_props
    return Analysis(
        image=_image_from_props(main_props) if ours else _cdx_image(main),
        distro=distro or distro_from_purls(packages) or Distro(source="none"),
        facts=facts_from_properties(main_props) if ours else None,
        packages=sort_packages(packages),
        issues=[issue(json.loads(v)) for v in _indexed(doc_props, ISSUE_NS)],
        warnings=warnings,
        analyzed_at=parse_time(doc_props.get(ANALYZED_AT) if ours else meta.get("timestamp")),
    )


def _cdx_package(comp: _Comp) -> Package | None:
    props = comp.props
    ours_type = props.get(PACKAGE_NS + "type")
    if ours_type is not None:  # ours: every field is stated, the purl need not be parsed
        exact = props.get(PACKAGE_NS + "licenses")
        return Package(
            name=comp.name,
            version=comp.version,
            type=ours_type,
            purl=comp.purl,
            source_name=props.get(PACKAGE_NS + "sourceName"),
            source_version=props.get(PACKAGE_NS + "sourceVersion"),
            licenses=[str(x) for x in json.loads(exact)] if exact else list(comp.licenses),
            architecture=props.get(PACKAGE_NS + "architecture"),
            layer=props.get(PACKAGE_NS + "layer"),
            locations=list(comp.locations),
            cataloger=props.get(PACKAGE_NS + "cataloger", ""),
            metadata=as_dict(json.loads(props.get(PACKAGE_NS + "metadata") or "{}")),
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
