"""Alpine (and Wolfi/Chainguard) packages from apk's installed database.

``lib/apk/db/installed`` is a text file of stanzas separated by blank lines, one
``K:value`` line per field: ``P`` name, ``V`` version, ``A`` architecture, ``L`` license,
``o`` origin (the source package; its version is ``V``), ``D`` dependencies, ``p``
provides, ``F`` a directory and ``R`` a file in the last ``F`` directory.

Dependencies are resolved to installed package names: version constraints are stripped,
``!conflicts`` dropped, and virtual names (``so:libc.musl-x86_64.so.1``, ``cmd:sh``,
``/bin/sh``) mapped to the package that provides them. The layer that introduced a
package is the lowest layer among its files that are still in the image (every file of a
package is written when it is installed, later layers can only overwrite).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from baseguard.analysis.catalogers.base import (
    MAX_PROBLEMS,
    CatalogContext,
    CatalogResult,
    DatabaseCataloger,
    distro_qualifier,
    earliest_layer,
)
from baseguard.analysis.packages import Package, make_purl
from baseguard.image.fs import ImageFS

DB_PATHS = ("lib/apk/db/installed", "usr/lib/apk/db/installed")

#: Vendors that publish apk packages under their own purl namespace.
_NAMESPACES = {"alpine": "alpine", "wolfi": "wolfi", "chainguard": "chainguard"}
_CONSTRAINT = re.compile(r"[<>=~]")
_SPDX_OPERATOR = re.compile(r"\b(?:AND|OR|WITH)\b|[()]")


@dataclass(slots=True)
class ApkEntry:
    """One stanza of the installed database, as written."""

    name: str = ""
    version: str = ""
    arch: str = ""
    license: str = ""
    origin: str = ""
    url: str = ""
    maintainer: str = ""
    commit: str = ""
    installed_size: int | None = None
    depends: list[str] = field(default_factory=list)
    provides: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    line: int = 0


def parse_installed(text: str) -> tuple[list[ApkEntry], list[str]]:
    """Parse apk's installed database; returns entries and problems (stanzas without a name
    or version are reported and skipped)."""
    entries: list[ApkEntry] = []
    problems: list[str] = []
    current: ApkEntry | None = None
    directory = ""
    bad_lines = 0
    first_bad = 0
    dropped = 0

    def close() -> None:
        nonlocal dropped
        if current is None:
            return
        if not current.name or not current.version:
            missing = "P: (name)" if not current.name else "V: (version)"
            label = f" {current.name}" if current.name else ""
            if len(problems) < MAX_PROBLEMS:
                problems.append(f"stanza{label} at line {current.line} has no {missing}; skipped")
            else:
                dropped += 1
        else:
            entries.append(current)

    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            close()
            current, directory = None, ""
            continue
        if len(line) < 2 or line[1] != ":":
            bad_lines += 1
            first_bad = first_bad or number
            continue
        if current is None:
            current = ApkEntry(line=number)
        key, value = line[0], line[2:]
        if key == "P":
            current.name = value
        elif key == "V":
            current.version = value
        elif key == "A":
            current.arch = value
        elif key == "L":
            current.license = value
        elif key == "o":
            current.origin = value
        elif key == "D":
            current.depends.extend(value.split())
        elif key == "p":
            current.provides.extend(value.split())
        elif key == "F":
            directory = value
        elif key == "R":
            current.files.append(f"{directory}/{value}" if directory else value)
        elif key == "U":
            current.url = value
        elif key == "m":
            current.maintainer = value
        elif key == "c":
            current.commit = value
        elif key == "I":
            current.installed_size = int(value) if value.isdigit() else None
    close()
    if dropped:
        problems.append(f"{dropped} more stanza(s) without name or version not listed")
    if bad_lines:
        problems.append(
            f"{bad_lines} line(s) are not KEY:VALUE (first at line {first_bad}); ignored"
        )
    return entries, problems


def split_licenses(value: str) -> list[str]:
    """An SPDX expression stays whole; an old space-separated list is split."""
    value = value.strip()
    if not value:
        return []
    if _SPDX_OPERATOR.search(value):
        return [value]
    return value.split()


def _dep_name(dep: str) -> str | None:
    if not dep or dep.startswith("!"):
        return None
    match = _CONSTRAINT.search(dep)
    return dep[: match.start()] if match else dep


def resolve_depends(entries: list[ApkEntry]) -> dict[str, list[str]]:
    """Package name -> sorted names of the installed packages it depends on."""
    installed = {e.name for e in entries}
    providers: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        for provided in entry.provides:
            name = _dep_name(provided)
            if name:
                providers.setdefault(name, entry.name)
    out: dict[str, list[str]] = {}
    for entry in entries:
        names: set[str] = set()
        for dep in entry.depends:
            name = _dep_name(dep)
            if not name:
                continue
            target = name if name in installed else providers.get(name)
            if target is None and ":" not in name and not name.startswith("/"):
                target = name  # a plain package name that is not installed
            if target and target != entry.name:
                names.add(target)
        out[entry.name] = sorted(names)
    return out


class ApkCataloger(DatabaseCataloger):
    """apk's installed database: Alpine, Wolfi and Chainguard images."""

    name = "apk"
    capture = DB_PATHS  # ``lib`` may link to ``usr/lib``: the first that exists is read

    def _catalog_db(
        self, fs: ImageFS, ctx: CatalogContext, path: str, data: bytes, result: CatalogResult
    ) -> None:
        text = data.decode("utf-8", "replace")
        entries, problems = parse_installed(text)
        for problem in problems:
            result.issues.append(self.issue(path, problem))
        if not entries and text.strip() and not problems:
            result.issues.append(self.issue(path, "no package stanzas found"))
        depends = resolve_depends(entries)
        distro = ctx.distro
        namespace = _NAMESPACES.get(distro.id or "", distro.id or "alpine")
        qualifier = distro_qualifier(distro)
        db_layer = fs.layer_of(path)
        multi_layer = len(fs.layer_digests) > 1
        location = f"/{path}"
        for e in entries:
            arch = e.arch or ctx.architecture or ""
            layer = (earliest_layer(fs, e.files) if multi_layer else None) or db_layer
            metadata: dict[str, object] = {"origin": e.origin or e.name}
            if e.url:
                metadata["url"] = e.url
            if e.maintainer:
                metadata["maintainer"] = e.maintainer
            if e.commit:
                metadata["commit"] = e.commit
            if e.installed_size is not None:
                metadata["installedSize"] = e.installed_size
            result.packages.append(
                Package(
                    name=e.name,
                    version=e.version,
                    type="apk",
                    purl=make_purl(
                        "apk",
                        e.name,
                        e.version,
                        namespace=namespace,
                        qualifiers={"arch": arch, "distro": qualifier or ""},
                    ),
                    source_name=e.origin or e.name,
                    source_version=e.version,
                    licenses=split_licenses(e.license),
                    architecture=arch or None,
                    layer=layer,
                    locations=[location],
                    cataloger=self.name,
                    depends=depends.get(e.name, []),
                    metadata=metadata,
                )
            )
