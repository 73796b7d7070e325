"""Check the shape of baseguard's own JSON (:meth:`Analysis.to_dict`) before it is read back.

:meth:`Analysis.from_dict` trusts its input (it reads what we wrote); an SBOM file is
untrusted, so every member it reads is checked here first and a wrong JSON type is
:class:`Malformed` naming its JSON path (``packages[2].name is a number, not a string``)
rather than a TypeError from deep inside.
"""

from __future__ import annotations

from typing import Any

from baseguard.analysis.analyze import SCHEMA_VERSION
from baseguard.sbom.read_common import (
    Malformed,
    want_dict,
    want_objects,
    want_opt_str,
    want_str,
    want_strs,
    wrong_type,
)

_IMAGE_STRINGS = ("reference", "source")
_IMAGE_OPTIONAL = ("name", "manifestDigest", "indexDigest", "configDigest", "platform")
_DISTRO_OPTIONAL = (
    "id",
    "version_id",
    "version",
    "codename",
    "name",
    "pretty_name",
    "variant",
    "source",
)
_PACKAGE_REQUIRED = ("name", "type")
_PACKAGE_STRINGS = ("version", "purl", "cataloger")
_PACKAGE_OPTIONAL = ("sourceName", "sourceVersion", "architecture", "layer")
_PACKAGE_LISTS = ("licenses", "locations", "depends")
_FACTS_TOOLS = ("shells", "network_tools", "package_managers")
_FACTS_LISTS = ("setuid_files", "setgid_files", "world_writable", "entrypoint", "cmd")
_FACTS_STRINGS = ("user", "working_dir", "architecture", "os", "created")
_FACTS_INTS = ("uid", "layer_count", "compressed_size", "uncompressed_size", "file_count")
_FACTS_BOOLS = ("has_shell", "runs_as_root")
_FACTS_MAPS = ("env", "labels")


def check_native(doc: dict[str, Any]) -> None:
    """Malformed unless ``doc`` has the shape :meth:`Analysis.to_dict` writes."""
    version = doc.get("schemaVersion")
    if version != SCHEMA_VERSION:
        raise Malformed(
            f"baseguard JSON schemaVersion {version!r} is not supported "
            f"(supported: {SCHEMA_VERSION!r})"
        )
    want_opt_str(doc.get("analyzedAt"), "analyzedAt")
    if not isinstance(doc.get("image"), dict):
        raise wrong_type("image", doc.get("image"), "an object")
    _check_image(doc["image"])
    _check_distro(want_dict(doc.get("distro"), "distro"))
    _check_facts(want_dict(doc.get("facts"), "facts"))
    for i, package in enumerate(want_objects(doc.get("packages"), "packages")):
        _check_package(package, f"packages[{i}]")
    for i, item in enumerate(want_objects(doc.get("issues"), "issues")):
        for key in ("cataloger", "path", "message"):
            want_str(item.get(key), f"issues[{i}].{key}")
    want_strs(doc.get("warnings"), "warnings")


def _check_image(image: dict[str, Any]) -> None:
    for key in _IMAGE_STRINGS:
        want_str(image.get(key), f"image.{key}")
    for key in _IMAGE_OPTIONAL:
        want_opt_str(image.get(key), f"image.{key}")
    want_strs(image.get("layers"), "image.layers")


def _check_distro(distro: dict[str, Any]) -> None:
    for key in _DISTRO_OPTIONAL:
        want_opt_str(distro.get(key), f"distro.{key}")
    want_strs(distro.get("id_like"), "distro.id_like")


def _check_package(package: dict[str, Any], where: str) -> None:
    for key in _PACKAGE_REQUIRED:
        if key not in package:
            raise Malformed(f"{where}.{key} is missing")
        if not isinstance(package[key], str):
            raise wrong_type(f"{where}.{key}", package[key], "a string")
    for key in _PACKAGE_STRINGS:
        want_str(package.get(key), f"{where}.{key}")
    for key in _PACKAGE_OPTIONAL:
        want_opt_str(package.get(key), f"{where}.{key}")
    for key in _PACKAGE_LISTS:
        want_strs(package.get(key), f"{where}.{key}")
    want_dict(package.get("metadata"), f"{where}.metadata")


def _check_facts(facts: dict[str, Any]) -> None:
    for key in _FACTS_TOOLS:
        for i, tool in enumerate(want_objects(facts.get(key), f"facts.{key}")):
            for member in ("name", "path"):
                if not isinstance(tool.get(member), str):
                    raise wrong_type(f"facts.{key}[{i}].{member}", tool.get(member), "a string")
            want_opt_str(tool.get("via"), f"facts.{key}[{i}].via")
    for key in _FACTS_LISTS:
        want_strs(facts.get(key), f"facts.{key}")
    want_strs(facts.get("exposed_ports"), "facts.exposed_ports")
    for key in _FACTS_STRINGS:
        want_opt_str(facts.get(key), f"facts.{key}")
    for key in (*_FACTS_INTS, "age_days"):
        value = facts.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise wrong_type(f"facts.{key}", value, "an integer")
    for key in _FACTS_BOOLS:
        value = facts.get(key)
        if value is not None and not isinstance(value, bool):
            raise wrong_type(f"facts.{key}", value, "a boolean")
    for key in _FACTS_MAPS:
        for name, value in want_dict(facts.get(key), f"facts.{key}").items():
            want_str(value, f"facts.{key}.{name}")
    base = want_dict(facts.get("base_image"), "facts.base_image")
    for key in ("name", "digest"):
        want_opt_str(base.get(key), f"facts.base_image.{key}")
