"""What the SBOM readers share: the error for a malformed document, typed accessors for
untrusted JSON, packages from purls and foreign properties, and the described image and distro.

Used by :mod:`baseguard.sbom.read_cyclonedx` and :mod:`baseguard.sbom.read_spdx`; imports
neither.
"""

from __future__ import annotations

import re
from typing import Any

from packageurl import PackageURL

from baseguard.analysis.analyze import ImageIdentity
from baseguard.analysis.catalogers.rpm import parse_source_rpm
from baseguard.analysis.distro import DEBIAN_CODENAMES, UBUNTU_CODENAMES, Distro
from baseguard.analysis.packages import CatalogIssue, Package
from baseguard.humanize import json_kind


class Malformed(Exception):
    """Internal: the document breaks a rule; turned into SbomError naming the file."""


# -- small typed accessors for untrusted JSON --------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


# -- checked accessors: a wrong JSON type is Malformed, naming its JSON path ---------------------
#
# A missing member and ``null`` read as absent; any other type than the one the format's
# schema gives is an error, so that a document of the wrong shape cannot read as "no
# packages" (a clean scan). ``where`` is the JSON path, e.g. ``components[3].purl``.


def wrong_type(where: str, value: Any, wanted: str) -> Malformed:
    return Malformed(f"{where} is {json_kind(value)}, not {wanted}")


def want_dict(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise wrong_type(where, value, "an object")


def want_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise wrong_type(where, value, "an array")


def want_str(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise wrong_type(where, value, "a string")


def want_opt_str(value: Any, where: str) -> str | None:
    """A string or null (absent)."""
    return None if value is None else want_str(value, where)


def want_objects(value: Any, where: str) -> list[dict[str, Any]]:
    """An array whose every entry is an object."""
    items = want_list(value, where)
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise wrong_type(f"{where}[{i}]", item, "an object")
    return items


def want_strs(value: Any, where: str) -> list[str]:
    """An array whose every entry is a string."""
    items = want_list(value, where)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise wrong_type(f"{where}[{i}]", item, "a string")
    return items


#: How many ignored-field warnings are listed one by one before they are counted.
MAX_FIELD_WARNINGS = 5


def field_warnings(ignored: list[str]) -> list[str]:
    """Warnings for informational fields of the wrong type that were ignored (licenses,
    descriptions: nothing matching uses), the first few named, the rest counted."""
    out = [f"{text}; ignored" for text in ignored[:MAX_FIELD_WARNINGS]]
    if len(ignored) > MAX_FIELD_WARNINGS:
        out.append(
            f"{len(ignored) - MAX_FIELD_WARNINGS} more field(s) of the wrong type were ignored"
        )
    return out


# -- package details -----------------------------------------------------------------------------


def foreign_package(
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


def parse_purl(text: str) -> PackageURL | None:
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


def _clean_locations(locations: list[str]) -> list[str]:
    out: list[str] = []
    for loc in locations:
        path = loc if loc.startswith("/") else f"/{loc}"
        if loc and path not in out:
            out.append(path)
    return out


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
        srpm = None if src_name else parse_source_rpm(props.get("syft:metadata:sourceRpm", ""))
        if srpm is not None:
            src_name, src_version = srpm
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


def link_depends(by_ref: dict[str, Package], deps: dict[str, list[str]]) -> None:
    """``depends`` from a dependency graph: the names of the packages each one points at."""
    for ref, package in by_ref.items():
        names: list[str] = []
        for target in deps.get(ref, ()):
            dep = by_ref.get(target)
            if dep is not None and dep is not package and dep.name not in names:
                names.append(dep.name)
        package.depends = names


def issue(data: Any) -> CatalogIssue:
    data = as_dict(data)
    return CatalogIssue(
        as_str(data.get("cataloger")), as_str(data.get("path")), as_str(data.get("message"))
    )


# -- image and distro ---------------------------------------------------------------------------


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


def foreign_image(
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


def distro_from_os(name: str, version: str, pretty: str, props: dict[str, str]) -> Distro:
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


def distro_from_purls(packages: list[Package]) -> Distro | None:
    """From the first OS package purl with a ``distro=`` qualifier: ``alpine-3.20.3``,
    ``debian-12``, a bare version (namespace = id) or a codename."""
    for package in packages:
        if package.type not in ("apk", "deb", "rpm"):
            continue
        purl = parse_purl(package.purl)
        value = _qualifiers(purl).get("distro", "") if purl else ""
        if not purl or not value:
            continue
        match = _DISTRO_QUALIFIER.fullmatch(value)
        if match:
            return distro_from_os(match.group(1), match.group(2), "", {})
        namespace = (purl.namespace or "").lower() or None
        if value[:1].isdigit():
            return distro_from_os(namespace or "", value, "", {})
        return Distro(id=namespace, codename=value, source="sbom")
    return None
