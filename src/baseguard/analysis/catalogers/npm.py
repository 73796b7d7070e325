"""npm packages installed in any ``node_modules`` directory.

Each ``node_modules/<name>/package.json`` and ``node_modules/@<scope>/<name>/package.json``
(at any depth, so nested ``node_modules`` count) is one installed package; package.json
files of a package's own subdirectories (``lib/package.json``) are not read. A package.json
without a name or version is not an installed package and is skipped silently; one that is
not a JSON object is a catalog issue.

purl: ``pkg:npm/%40scope/name@1.0.0`` -- the scope (with its ``@``, percent-encoded in the
string) is the namespace; npm names are lowercase by rule, so both are lowercased.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

from baseguard.analysis.catalogers.base import CatalogContext, Cataloger, CatalogResult
from baseguard.analysis.catalogers.langutil import find_files, image_path
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import ImageFS

_PACKAGE_JSON_RE = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/]+/package\.json$")

MAX_PACKAGE_JSON_BYTES = 8 << 20


def licenses_of(doc: dict[str, Any]) -> list[str]:
    """``license`` as a string or legacy ``{"type": ...}`` object, or legacy ``licenses``."""
    out: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, dict):
            value = value.get("type") or value.get("name")
        if isinstance(value, str) and value.strip() and value.strip() not in out:
            out.append(value.strip())

    lic = doc.get("license")
    if isinstance(lic, list):
        for item in lic:
            add(item)
    else:
        add(lic)
    legacy = doc.get("licenses")
    if not out and isinstance(legacy, list):
        for item in legacy:
            add(item)
    elif not out:
        add(legacy)
    return out


def split_name(name: str) -> tuple[str | None, str]:
    """``@scope/name`` -> (``@scope``, ``name``); ``name`` -> (None, ``name``)."""
    if name.startswith("@") and "/" in name:
        scope, _, rest = name.partition("/")
        return scope, rest
    return None, name


class NpmCataloger(Cataloger):
    """Packages under ``node_modules``, from their ``package.json``."""

    name: ClassVar[str] = "npm"
    #: ``**`` inside a component spans any characters: same files as ``**/node_modules/…``
    #: (give or take a ``xnode_modules`` directory), far cheaper to match on every path.
    capture: ClassVar[tuple[str, ...]] = (
        "**node_modules/*/package.json",
        "**node_modules/@*/*/package.json",
    )

    def catalog(self, fs: ImageFS, ctx: CatalogContext) -> CatalogResult:
        result = CatalogResult()
        paths = find_files(fs, _PACKAGE_JSON_RE, ("node_modules/",))
        if not paths:
            return result
        contents = fs.read_many(paths, MAX_PACKAGE_JSON_BYTES)
        for path in paths:
            data = contents.get(path)
            if data is not None:
                package = self._package(fs, path, data, result)
                if package is not None:
                    result.packages.append(package)
        return result

    def _package(
        self, fs: ImageFS, path: str, data: bytes, result: CatalogResult
    ) -> Package | None:
        try:
            doc = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            result.issues.append(self.issue(path, f"not valid JSON: {exc}"))
            return None
        except RecursionError:
            result.issues.append(self.issue(path, "not valid JSON: nested too deeply"))
            return None
        if not isinstance(doc, dict):
            result.issues.append(
                self.issue(path, f"package.json is a JSON {type(doc).__name__}, not an object")
            )
            return None
        name, version = doc.get("name"), doc.get("version")
        if not name or not version:
            return None
        if not isinstance(name, str) or not isinstance(version, str):
            result.issues.append(self.issue(path, "name and version must be strings"))
            return None
        name, version = name.strip(), version.strip()
        scope, short = split_name(name)
        deps = doc.get("dependencies")
        depends = sorted(k for k in deps if isinstance(k, str)) if isinstance(deps, dict) else []
        return Package(
            name=name,
            version=version,
            type="npm",
            purl=make_purl(
                "npm", short.lower(), version, namespace=scope.lower() if scope else None
            ),
            licenses=licenses_of(doc),
            layer=fs.layer_of(path),
            locations=[image_path(path)],
            cataloger=self.name,
            depends=depends,
        )
