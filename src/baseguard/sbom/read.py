"""Read an SBOM back into an :class:`Analysis`: ours, and third-party CycloneDX and SPDX.

Formats, detected from the content: baseguard's own JSON; CycloneDX JSON and XML
(1.2-1.6); SPDX 2.2/2.3 JSON and tag-value; any of the JSON ones inside an in-toto
statement or a DSSE envelope (one per line in ``.jsonl``; signatures are not checked here).

A component becomes a :class:`Package` when it has a purl (or our own package properties);
the purl gives the type, the document's name and version are kept when they agree with it.
Source package, architecture, layer and locations come from our ``baseguard:package:*``
properties, syft's ``syft:*`` or trivy's ``aquasecurity:trivy:*`` ones, then purl
qualifiers. The distro comes from our properties, the operating-system component, or a
purl's ``distro=`` qualifier. ``facts`` is None unless the document is ours.

SBOMs are untrusted: the file is capped in size (read no further than the cap), XML with
a DOCTYPE is refused (no entity expansion, internal or external), nesting is bounded, and
any malformed input is an :class:`SbomError` that names the file.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat

from packageurl import PackageURL

from baseguard.analysis.analyze import Analysis, ImageIdentity
from baseguard.analysis.distro import DEBIAN_CODENAMES, UBUNTU_CODENAMES, Distro
from baseguard.analysis.hardening import Facts
from baseguard.analysis.packages import CatalogIssue, Package, sort_packages
from baseguard.image.model import parse_time
from baseguard.sbom.base import (
    ANALYZED_AT,
    IMAGE_NS,
    ISSUE_NS,
    PACKAGE_NS,
    WARNING_NS,
    SbomError,
    distro_from_properties,
    facts_from_properties,
)
from baseguard.sbom.spdx import ANN_ANALYSIS, ANN_DISTRO, ANN_FACTS, ANN_IMAGE, ANN_PACKAGE

#: Largest SBOM read (bytes); a 10 000-package CycloneDX document is about 15 MB.
MAX_SBOM_BYTES = 32 << 20
#: Deepest nesting of CycloneDX components, and of envelopes around a document.
MAX_NESTING = 16

_HINT = "pass a CycloneDX (JSON/XML), SPDX 2.x (JSON/tag-value) or baseguard JSON SBOM"


class _Malformed(Exception):
    """Internal: the document breaks a rule; turned into SbomError naming the file."""


def read_sbom(path: Path, *, max_bytes: int = MAX_SBOM_BYTES) -> Analysis:
    """Read the SBOM at ``path`` (format detected from its content) into an Analysis."""
    label = str(path)
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if stat.S_ISREG(info.st_mode):
                if info.st_size > max_bytes:
                    raise _too_large(label, max_bytes, info.st_size)
                data = fh.read(info.st_size + 1)  # +1: notice a file that grew meanwhile
            else:  # a pipe or device: read in chunks, stop past the limit
                chunks: list[bytes] = []
                size = 0
                while size <= max_bytes and (chunk := fh.read(1 << 20)):
                    chunks.append(chunk)
                    size += len(chunk)
                data = b"".join(chunks)
    except OSError as exc:
        raise SbomError(
            f"{label}: cannot read SBOM: {exc.strerror or exc}",
            hint="check the path and its permissions",
        ) from None
    return parse_sbom(data, name=label, max_bytes=max_bytes)


def parse_sbom(data: bytes, *, name: str = "<sbom>", max_bytes: int = MAX_SBOM_BYTES) -> Analysis:
    """Parse SBOM bytes (from a file, stdin or an attestation) into an Analysis."""
    if len(data) > max_bytes:
        raise _too_large(name, max_bytes)
    try:
        return _parse(data)
    except _Malformed as exc:
        raise SbomError(f"{name}: {exc}", hint=_HINT) from None
    except RecursionError:
        raise SbomError(
            f"{name}: the document is nested too deeply to be an SBOM", hint=_HINT
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise SbomError(
            f"{name}: not a readable SBOM ({type(exc).__name__}: {exc})", hint=_HINT
        ) from None


def _too_large(name: str, limit: int, size: int | None = None) -> SbomError:
    return SbomError(
        f"{name}: SBOM is larger than the {limit} bytes allowed"
        + (f" ({size} bytes)" if size is not None else ""),
        hint="raise the limit (max_bytes) if this document is genuine",
    )


# -- detection -------------------------------------------------------------------------------


def _is_tag_value(text: str) -> bool:
    """True if the first line that is not blank or a ``#`` comment is ``SPDXVersion:``."""
    for line in io.StringIO(text):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped.startswith("SPDXVersion:")
    return False


def _parse(data: bytes) -> Analysis:
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return _from_cyclonedx(_cdx_xml_to_dict(_parse_xml(data)))
    text = data.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            if not exc.msg.startswith("Extra data"):
                raise _Malformed(f"invalid JSON: {exc}") from None
            return _from_json_lines(text)
        return _from_json(doc, 0)
    if _is_tag_value(text):
        return _from_spdx(_spdx_tag_value(text))
    if stripped.startswith("["):
        raise _Malformed("a JSON array is not an SBOM document")
    raise _Malformed("unrecognised format (not JSON, XML or SPDX tag-value)")


def _from_json_lines(text: str) -> Analysis:
    """JSON Lines (attestation bundles): the first line that holds an SBOM."""
    last: Exception | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            return _from_json(json.loads(line), 0)
        except (_Malformed, ValueError, TypeError, KeyError) as exc:
            last = exc
    raise _Malformed(f"no line holds an SBOM ({last})")


def _from_json(doc: Any, depth: int) -> Analysis:
    if depth > 2:
        raise _Malformed("envelopes nested too deeply")
    if not isinstance(doc, dict):
        raise _Malformed("the JSON document is not an object")
    if doc.get("bomFormat") == "CycloneDX":
        return _from_cyclonedx(doc)
    if "spdxVersion" in doc:
        version = str(doc.get("spdxVersion"))
        if not version.startswith("SPDX-2."):
            raise _Malformed(f"SPDX version {version!r} is not supported (2.2 and 2.3 are)")
        return _from_spdx(doc)
    if "payloadType" in doc and "payload" in doc:  # DSSE envelope
        payload = base64.b64decode(str(doc["payload"]), validate=False)
        return _from_json(json.loads(payload), depth + 1)
    if "_type" in doc and "predicate" in doc:  # in-toto statement
        return _from_json(doc["predicate"], depth + 1)
    if "schemaVersion" in doc and "image" in doc and "packages" in doc:
        return _from_native(doc)
    if "@context" in doc:
        raise _Malformed("JSON-LD documents (SPDX 3) are not supported")
    raise _Malformed("JSON document is neither CycloneDX, SPDX nor baseguard JSON")


def _from_native(doc: dict[str, Any]) -> Analysis:
    tool = doc.get("tool")
    if not isinstance(tool, dict) or tool.get("name") != "baseguard":
        raise _Malformed("JSON document is not baseguard's own format")
    return Analysis.from_dict(doc)


# -- small typed accessors for untrusted JSON --------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _indexed(props: dict[str, str], prefix: str) -> list[str]:
    """Values of ``<prefix><n>`` properties in numeric order of ``n``."""
    found: list[tuple[int, str]] = []
    for key, value in props.items():
        if key.startswith(prefix) and key[len(prefix) :].isdigit():
            found.append((int(key[len(prefix) :]), value))
    return [value for _, value in sorted(found)]


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
        for entry in _list(data.get("licenses")):
            entry = _obj(entry)
            if "expression" in entry:
                licenses.append(_str(entry["expression"]))
            else:
                lic = _obj(entry.get("license"))
                text = _str(lic.get("id") or lic.get("name"))
                if text:
                    licenses.append(text)
        props: dict[str, str] = {}
        for prop in _list(data.get("properties")):
            prop = _obj(prop)
            if "name" in prop:
                props.setdefault(_str(prop["name"]), _str(prop.get("value")))
        evidence = _obj(data.get("evidence"))
        locations = [
            _str(_obj(o).get("location"))
            for o in _list(evidence.get("occurrences"))
            if _obj(o).get("location")
        ]
        return cls(
            ref=_str(data.get("bom-ref")),
            type=_str(data.get("type")),
            name=_str(data.get("name")),
            version=_str(data.get("version")),
            purl=_str(data.get("purl")),
            description=_str(data.get("description")),
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
            raise _Malformed(f"components nested more than {MAX_NESTING} deep")
        nested: list[tuple[list[Any], int]] = []
        for item in items:
            if not isinstance(item, dict):
                continue
            out.append(_Comp.from_dict(item))
            if isinstance(item.get("components"), list):
                nested.append((item["components"], depth + 1))
        stack.extend(reversed(nested))
    return out


def _from_cyclonedx(bom: dict[str, Any]) -> Analysis:
    meta = _obj(bom.get("metadata"))
    main = _Comp.from_dict(meta["component"]) if isinstance(meta.get("component"), dict) else None
    main_props = main.props if main else {}
    doc_props = _Comp.from_dict({"properties": meta.get("properties")}).props

    deps: dict[str, list[str]] = {}
    for dep in _list(bom.get("dependencies")):
        dep = _obj(dep)
        deps.setdefault(_str(dep.get("ref")), []).extend(
            _str(d) for d in _list(dep.get("dependsOn"))
        )

    packages: list[Package] = []
    by_ref: dict[str, Package] = {}
    os_comp: _Comp | None = None
    skipped = duplicates = 0
    for comp in _walk(_list(bom.get("components"))):
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
    _link_depends(by_ref, deps)

    warnings = _indexed(doc_props, WARNING_NS)
    if skipped:
        warnings.append(f"{skipped} component(s) without a package URL were not read")
    if duplicates:
        warnings.append(f"{duplicates} duplicate component(s) (same bom-ref) were not read")

    distro = distro_from_properties(main_props)
    if distro is None and os_comp is not None:
        distro = _distro_from_os(os_comp.name, os_comp.version, os_comp.description, os_comp.props)
    ours = IMAGE_NS + "reference" in main_props
    return Analysis(
        image=_image_from_props(main_props) if ours else _cdx_image(main),
        distro=distro or _distro_from_purls(packages) or Distro(source="none"),
        facts=facts_from_properties(main_props) if ours else None,
        packages=sort_packages(packages),
        issues=[_issue(json.loads(v)) for v in _indexed(doc_props, ISSUE_NS)],
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
            metadata=_obj(json.loads(props.get(PACKAGE_NS + "metadata") or "{}")),
        )
    purl = _purl(comp.purl)
    if purl is None or purl.type == "oci":
        return None
    locations = comp.locations + _indexed_paths(props)
    return _foreign_package(
        comp.name, comp.version, comp.purl, purl, comp.licenses, props, locations
    )


def _foreign_package(
    name: str,
    version: str,
    purl_text: str,
    purl: PackageURL,
    licenses: list[str],
    props: dict[str, str],
    locations: list[str],
) -> Package:
    """A package from a syft or trivy document (or any other with purls).

    ``props`` are the component's properties; for SPDX, trivy's attribution texts and
    source info are given under trivy's CycloneDX property names.
    """
    quals = _qualifiers(purl)
    version = _choose_version(version, purl.version)
    name = name or _purl_name(purl)
    if props.get("aquasecurity:trivy:FilePath"):
        locations = [*locations, props["aquasecurity:trivy:FilePath"]]
    kind = props.get("aquasecurity:trivy:PkgType") or props.get("aquasecurity:trivy:Type")
    src_name, src_version = _foreign_source(name, version, purl.type, props, quals)
    return Package(
        name=name,
        version=version,
        type=purl.type,
        purl=purl_text,
        source_name=src_name,
        source_version=src_version,
        licenses=list(licenses),
        architecture=quals.get("arch") or props.get("syft:metadata:architecture"),
        layer=props.get("aquasecurity:trivy:LayerDigest") or props.get("syft:location:0:layerID"),
        locations=_clean_locations(locations),
        cataloger=props.get("syft:package:foundBy") or (f"trivy:{kind}" if kind else ""),
    )


# -- package details -----------------------------------------------------------------------------


def _purl(text: str) -> PackageURL | None:
    if not text:
        return None
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None


def _qualifiers(purl: PackageURL) -> dict[str, str]:
    quals = purl.qualifiers
    if isinstance(quals, dict):
        return {str(k): str(v) for k, v in quals.items()}
    return {}


def _purl_name(purl: PackageURL) -> str:
    if purl.namespace and purl.type in ("golang", "npm"):
        return f"{purl.namespace}/{purl.name}"
    return str(purl.name)


def _choose_version(stated: str, purl_version: str | None) -> str:
    """The document's version when it agrees with the purl's (equal, or the same with an
    ``epoch:`` prefix), else the purl's: the purl is what matching uses."""
    if not purl_version:
        return stated
    if not stated or not (stated == purl_version or stated.endswith(":" + purl_version)):
        return purl_version
    return stated


def _indexed_paths(props: dict[str, str]) -> list[str]:
    """syft's ``syft:location:<n>:path`` properties, in order."""
    found: list[tuple[int, str]] = []
    for key, value in props.items():
        if key.startswith("syft:location:") and key.endswith(":path"):
            index = key[len("syft:location:") : -len(":path")]
            if index.isdigit():
                found.append((int(index), value))
    return [value for _, value in sorted(found)]


def _clean_locations(locations: list[str]) -> list[str]:
    out: list[str] = []
    for loc in locations:
        path = loc if loc.startswith("/") else f"/{loc}"
        if loc and path not in out:
            out.append(path)
    return out


_SRPM_SUFFIXES = (".src.rpm", ".nosrc.rpm")


def _foreign_source(
    name: str, version: str, type_: str, props: dict[str, str], quals: dict[str, str]
) -> tuple[str | None, str | None]:
    """(source name, source version) from trivy's or syft's properties, else the purl's
    ``upstream``/``source``/``origin`` qualifier; for apk and deb the rules of those
    databases fill the gaps (no source = the package itself; no source version = the
    package's version)."""
    src_name: str | None = props.get("aquasecurity:trivy:SrcName")
    src_version: str | None = None
    if src_name:
        src_version = props.get("aquasecurity:trivy:SrcVersion") or None
        release = props.get("aquasecurity:trivy:SrcRelease")
        epoch = props.get("aquasecurity:trivy:SrcEpoch")
        if src_version and release:
            src_version = f"{src_version}-{release}"
        if src_version and epoch and epoch != "0":
            src_version = f"{epoch}:{src_version}"
    else:
        src_name = props.get("syft:metadata:originPackage") or props.get("syft:metadata:source")
        src_version = props.get("syft:metadata:sourceVersion") or None
        srpm = props.get("syft:metadata:sourceRpm", "")
        if not src_name and srpm.endswith(_SRPM_SUFFIXES):
            parts = srpm.rsplit(".", 2)[0].rsplit("-", 2)
            if len(parts) == 3:
                src_name, src_version = parts[0], f"{parts[1]}-{parts[2]}"
    if not src_name:
        for key in ("upstream", "source", "origin"):
            if quals.get(key):
                qname, _, qversion = quals[key].partition("@")
                src_name, src_version = qname, qversion or src_version
                break
    if type_ in ("apk", "deb"):
        src_name = src_name or name
        src_version = src_version or version or None
    return src_name or None, src_version


def _link_depends(by_ref: dict[str, Package], deps: dict[str, list[str]]) -> None:
    """``depends`` from a dependency graph: the names of the packages each one points at."""
    for ref, package in by_ref.items():
        names: list[str] = []
        for target in deps.get(ref, ()):
            dep = by_ref.get(target)
            if dep is not None and dep is not package and dep.name not in names:
                names.append(dep.name)
        package.depends = names


def _issue(data: Any) -> CatalogIssue:
    data = _obj(data)
    return CatalogIssue(
        _str(data.get("cataloger")), _str(data.get("path")), _str(data.get("message"))
    )


# -- image and distro ---------------------------------------------------------------------------


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


def _image_from_dict(data: dict[str, Any]) -> ImageIdentity:
    """:meth:`ImageIdentity.to_dict` read back."""

    def opt(key: str) -> str | None:
        value = data.get(key)
        return None if value is None else str(value)

    return ImageIdentity(
        reference=_str(data.get("reference")),
        source=_str(data.get("source")),
        name=opt("name"),
        manifest_digest=opt("manifestDigest"),
        index_digest=opt("indexDigest"),
        config_digest=opt("configDigest"),
        layer_digests=[_str(v) for v in _list(data.get("layers"))],
        platform=opt("platform"),
    )


def _registry_name(*candidates: str | None) -> str | None:
    """``registry/repository`` of the first candidate that is an image reference."""
    from baseguard.errors import InvalidReferenceError
    from baseguard.refs import parse_reference

    for text in candidates:
        if not text:
            continue
        try:
            return parse_reference(text).name
        except InvalidReferenceError:
            continue
    return None


#: A described "image" named like this is an archive file, not a registry reference.
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz")


def _foreign_image(
    *,
    source: str,
    name: str,
    version: str,
    props: dict[str, str],
    is_image: bool,
) -> ImageIdentity:
    """The image a syft or trivy document describes (trivy's properties by their CycloneDX
    names; syft puts the manifest digest in the component version)."""
    repo_tag = props.get("aquasecurity:trivy:RepoTag")
    reference = props.get("aquasecurity:trivy:Reference") or repo_tag or name
    repo_digest = props.get("aquasecurity:trivy:RepoDigest", "")
    manifest = version if version.startswith("sha256:") else None
    if manifest is None and "@" in repo_digest:
        manifest = repo_digest.rpartition("@")[2]
    return ImageIdentity(
        reference=reference,
        source=source,
        name=_registry_name(
            repo_tag,
            repo_digest.partition("@")[0],
            name if is_image and not name.endswith(_ARCHIVE_SUFFIXES) else None,
        ),
        manifest_digest=manifest,
        index_digest=None,
        config_digest=props.get("aquasecurity:trivy:ImageID"),
        layer_digests=[],
        platform=None,
    )


def _cdx_image(main: _Comp | None) -> ImageIdentity:
    if main is None:
        return ImageIdentity("", "cyclonedx", None, None, None, None, [], None)
    return _foreign_image(
        source="cyclonedx",
        name=main.name,
        version=main.version,
        props=main.props,
        is_image=main.type == "container",
    )


def _distro_from_os(name: str, version: str, pretty: str, props: dict[str, str]) -> Distro:
    """An operating-system component or package (syft's ``syft:distro:*`` when present)."""
    distro_id = (props.get("syft:distro:id") or name).strip().lower() or None
    version_id = props.get("syft:distro:versionID") or version or None
    codename = props.get("syft:distro:versionCodename") or None
    if codename is None and version_id and distro_id == "debian":
        codename = DEBIAN_CODENAMES.get(version_id.split(".")[0])
    if codename is None and version_id and distro_id == "ubuntu":
        codename = UBUNTU_CODENAMES.get(".".join(version_id.split(".")[:2]))
    return Distro(
        id=distro_id,
        version_id=version_id,
        codename=codename,
        pretty_name=props.get("syft:distro:prettyName") or pretty or None,
        id_like=(props.get("syft:distro:idLike") or "").lower().split(),
        source="sbom",
    )


_DISTRO_QUALIFIER = re.compile(r"([a-z][a-z0-9_]*(?:-[a-z][a-z0-9_]*)*)-([0-9][A-Za-z0-9._~+-]*)")


def _distro_from_purls(packages: list[Package]) -> Distro | None:
    """From the first OS package purl with a ``distro=`` qualifier: ``alpine-3.20.3``,
    ``debian-12``, a bare version (namespace = id) or a codename."""
    for package in packages:
        if package.type not in ("apk", "deb", "rpm"):
            continue
        purl = _purl(package.purl)
        value = _qualifiers(purl).get("distro", "") if purl else ""
        if not purl or not value:
            continue
        match = _DISTRO_QUALIFIER.fullmatch(value)
        if match:
            return _distro_from_os(match.group(1), match.group(2), "", {})
        namespace = (purl.namespace or "").lower() or None
        if value[:1].isdigit():
            return _distro_from_os(namespace or "", value, "", {})
        return Distro(id=namespace, codename=value, source="sbom")
    return None


# -- XML ------------------------------------------------------------------------------------------


def _parse_xml(data: bytes) -> ET.Element:
    """Parse with expat into an ElementTree, refusing any DOCTYPE (so no entity can be
    declared, expanded or fetched: billion laughs and XXE are impossible)."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_: Any) -> None:
        raise _Malformed(
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
        raise _Malformed(f"invalid XML: {exc}") from None
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


def _cdx_xml_to_dict(root: ET.Element) -> dict[str, Any]:
    """A CycloneDX XML document in the shape of its JSON form (the parts we read)."""
    namespace = root.tag[1:].partition("}")[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "bom" or not namespace.startswith("http://cyclonedx.org/schema/bom/"):
        raise _Malformed("XML document is not a CycloneDX BOM (only CycloneDX XML is read)")
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
        raise _Malformed(f"components nested more than {MAX_NESTING} deep")
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


# -- SPDX ------------------------------------------------------------------------------------------

_BUILT_FROM = re.compile(r"built package from:\s*(\S+)(?:\s+(\S+))?")
_NO_LICENSE = ("", "NOASSERTION", "NONE")


def _annotations(element: dict[str, Any]) -> dict[str, Any]:
    """Our ``<key> <json>`` annotations on an SPDX element, by key."""
    out: dict[str, Any] = {}
    for ann in _list(element.get("annotations")):
        key, _, rest = _str(_obj(ann).get("comment")).partition(" ")
        if key.startswith("baseguard:") and key not in out:
            out[key] = json.loads(rest)
    return out


def _spdx_purl(element: dict[str, Any]) -> str:
    for ref in _list(element.get("externalRefs")):
        ref = _obj(ref)
        if ref.get("referenceType") == "purl" and ref.get("referenceLocator"):
            return _str(ref["referenceLocator"])
    return ""


def _attributions(element: dict[str, Any]) -> dict[str, str]:
    """trivy's ``Key: value`` attribution texts under its CycloneDX property names."""
    out: dict[str, str] = {}
    for text in _list(element.get("attributionTexts")):
        key, sep, value = _str(text).partition(": ")
        if sep and key.isidentifier():
            out.setdefault(f"aquasecurity:trivy:{key}", value.strip())
    return out


def _spdx_licenses(element: dict[str, Any], extracted: dict[str, str]) -> list[str]:
    for key in ("licenseDeclared", "licenseConcluded"):
        text = _str(element.get(key)).strip()
        if text not in _NO_LICENSE:
            return [extracted.get(text, text)]
    return []


def _from_spdx(doc: dict[str, Any]) -> Analysis:
    elements = [p for p in _list(doc.get("packages")) if isinstance(p, dict)]
    relationships = [r for r in _list(doc.get("relationships")) if isinstance(r, dict)]
    doc_id = _str(doc.get("SPDXID")) or "SPDXRef-DOCUMENT"
    described = {_str(x) for x in _list(doc.get("documentDescribes"))}
    for rel in relationships:
        kind = rel.get("relationshipType")
        if kind == "DESCRIBES" and rel.get("spdxElementId") == doc_id:
            described.add(_str(rel.get("relatedSpdxElement")))
        elif kind == "DESCRIBED_BY" and rel.get("relatedSpdxElement") == doc_id:
            described.add(_str(rel.get("spdxElementId")))
    extracted = {
        _str(e.get("licenseId")): _str(e.get("name") or e.get("extractedText"))
        for e in map(_obj, _list(doc.get("hasExtractedLicensingInfos")))
        if e.get("licenseId")
    }

    image_el: dict[str, Any] | None = None
    os_el: dict[str, Any] | None = None
    packages: list[Package] = []
    by_id: dict[str, Package] = {}
    skipped = duplicates = 0
    for element in elements:
        spdx_id = _str(element.get("SPDXID"))
        purpose = _str(element.get("primaryPackagePurpose"))
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
        a, b = _str(rel.get("spdxElementId")), _str(rel.get("relatedSpdxElement"))
        if kind == "DEPENDS_ON":
            deps.setdefault(a, []).append(b)
        elif kind == "DEPENDENCY_OF":
            deps.setdefault(b, []).append(a)
    _link_depends(by_id, deps)

    ours = _annotations(image_el) if image_el is not None else {}
    run = _obj(ours.get(ANN_ANALYSIS))
    warnings = [_str(w) for w in _list(run.get("warnings"))]
    if skipped:
        warnings.append(f"{skipped} package(s) without a package URL were not read")
    if duplicates:
        warnings.append(f"{duplicates} duplicate package(s) (same SPDXID) were not read")

    if ANN_IMAGE in ours:
        image = _image_from_dict(_obj(ours[ANN_IMAGE]))
    elif image_el is not None:
        image = _foreign_image(
            source="spdx",
            name=_str(image_el.get("name")),
            version=_str(image_el.get("versionInfo")),
            props=_attributions(image_el),
            is_image=True,
        )
    else:
        image = ImageIdentity(_str(doc.get("name")), "spdx", None, None, None, None, [], None)

    distro: Distro | None = None
    if ANN_DISTRO in ours:
        distro = Distro.from_dict(_obj(ours[ANN_DISTRO]))
    elif os_el is not None:
        distro = _distro_from_os(
            _str(os_el.get("name")),
            _str(os_el.get("versionInfo")),
            _str(os_el.get("summary") or os_el.get("description")),
            {},
        )
    facts = ours.get(ANN_FACTS)
    created = _obj(doc.get("creationInfo")).get("created")
    return Analysis(
        image=image,
        distro=distro or _distro_from_purls(packages) or Distro(source="none"),
        facts=Facts.from_dict(facts) if isinstance(facts, dict) else None,
        packages=sort_packages(packages),
        issues=[_issue(i) for i in _list(run.get("issues"))],
        warnings=warnings,
        analyzed_at=parse_time(run.get("analyzedAt") if run else created),
    )


def _spdx_package(
    element: dict[str, Any], purl_text: str, extracted: dict[str, str]
) -> Package | None:
    ours = _obj(_annotations(element).get(ANN_PACKAGE))
    name = _str(element.get("name"))
    version = _str(element.get("versionInfo"))
    if ours.get("type"):

        def opt(key: str) -> str | None:
            value = ours.get(key)
            return None if value is None else str(value)

        return Package(
            name=name,
            version=version,
            type=_str(ours["type"]),
            purl=purl_text,
            source_name=opt("sourceName"),
            source_version=opt("sourceVersion"),
            licenses=[_str(x) for x in _list(ours.get("licenses"))],
            architecture=opt("architecture"),
            layer=opt("layer"),
            locations=[_str(x) for x in _list(ours.get("locations"))],
            cataloger=_str(ours.get("cataloger")),
            metadata=dict(_obj(ours.get("metadata"))),
        )
    purl = _purl(purl_text)
    if purl is None or purl.type == "oci":
        return None
    props = _attributions(element)
    match = _BUILT_FROM.fullmatch(_str(element.get("sourceInfo")).strip())
    if match:
        props.setdefault("aquasecurity:trivy:SrcName", match.group(1))
        if match.group(2):
            props.setdefault("aquasecurity:trivy:SrcVersion", match.group(2))
    return _foreign_package(
        name, version, purl_text, purl, _spdx_licenses(element, extracted), props, []
    )


# -- SPDX tag-value ----------------------------------------------------------------------------


def _tag_value_pairs(text: str) -> list[tuple[str, str]]:
    """``Tag: value`` pairs; ``<text>…</text>`` values may span lines."""
    pairs: list[tuple[str, str]] = []
    lines = text.splitlines()
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


def _spdx_tag_value(text: str) -> dict[str, Any]:
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
    by_id = {_str(p.get("SPDXID")): p for p in doc["packages"]}
    for ann in annotations:
        target = by_id.get(_str(ann.get("ref")))
        if target is not None:
            target.setdefault("annotations", []).append({"comment": ann.get("comment", "")})
    return doc
